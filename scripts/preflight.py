#!/usr/bin/env python3
"""Prerequisites of `make deploy` / `make clean`, checked before Terraform plans anything.

    python3 scripts/preflight.py --tf-dir examples/multi-region --tfvars lab.tfvars [--terraform terraform]

Checks, in order, and stops at the first that fails with one message saying what is missing:
  1. the Terraform CLI is on PATH (or where TF points);
  2. its version satisfies every `required_version` of the configuration and of the module;
  3. AWS credentials are found and valid (STS GetCallerIdentity: boto3 when importable, else the
     aws CLI), the session has not expired;
  4. the home region of the configuration is known (provider block, variable, tfvars, or
     AWS_REGION).
Then it prints the account, identity and region the command is about to change. Exit status
0 when everything is there, 3 when something is missing, 2 on a usage error. With
--summary-file it also writes `account=...` and `region=...` lines for scripts/deploy.sh.

Standard library only (boto3 is optional), so it runs before `make venv`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MISSING = 3
INSTALL_HINT = "install it from https://developer.hashicorp.com/terraform/install or set TF=/path/to/terraform"
CREDENTIALS_HINT = ("configure credentials for the account to deploy to: `aws configure`, `aws sso login "
                    "--profile <name>` and AWS_PROFILE=<name>, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                    "(plus AWS_SESSION_TOKEN for temporary ones)")
EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
REJECTED_CODES = {"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
                  "AccessDenied", "InvalidAccessKeyId"}


class Missing(Exception):
    """A prerequisite is missing; the message says which and how to fix it."""


# --- Terraform ----------------------------------------------------------------------------------

def find_terraform(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Missing(f"terraform not found: `{name}` is not on PATH. Terraform >= {minimum_version_text()} is "
                      f"needed; {INSTALL_HINT}.")
    return path


def terraform_version(path: str) -> str:
    try:
        out = subprocess.run([path, "version", "-json"], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise Missing(f"terraform at {path} cannot be run ({exc}); {INSTALL_HINT}.") from exc
    try:
        return json.loads(out.stdout)["terraform_version"]
    except (ValueError, KeyError):
        # Very old releases have no -json: "Terraform v0.12.31".
        match = re.search(r"Terraform v(\d+\.\d+\.\d+)", out.stdout + out.stderr)
        if match:
            return match.group(1)
        raise Missing(f"terraform at {path} did not report its version (`terraform version -json` printed "
                      f"{(out.stdout + out.stderr).strip()[:200]!r}); {INSTALL_HINT}.")


def required_versions(tf_dir: Path) -> list[str]:
    """Every required_version of the configuration in tf_dir and of the root module."""
    found: list[str] = []
    for directory in dict.fromkeys([tf_dir.resolve(), ROOT]):
        for path in sorted(directory.glob("*.tf")):
            found += re.findall(r'^\s*required_version\s*=\s*"([^"]+)"', path.read_text(), re.M)
    return list(dict.fromkeys(found))


def parse_version(text: str) -> tuple[int, ...]:
    numbers = re.match(r"(\d+(?:\.\d+)*)", text.strip().lstrip("v"))
    if not numbers:
        raise ValueError(text)
    return tuple(int(n) for n in numbers.group(1).split("."))


def _padded(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)), b + (0,) * (width - len(b))


def satisfies(version: str, constraint: str) -> bool:
    """Terraform version-constraint syntax: comma-separated `op version` (=, !=, >, >=, <, <=, ~>)."""
    have = parse_version(version)
    for part in constraint.split(","):
        match = re.match(r"\s*(>=|<=|!=|~>|=|>|<)?\s*(\S+)\s*$", part)
        if not match:
            continue
        op, wanted_text = match.group(1) or "=", match.group(2)
        wanted = parse_version(wanted_text)
        a, b = _padded(have, wanted)
        ok = {"=": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}.get(op)
        if op == "~>":
            upper = wanted[:-1] if len(wanted) > 1 else wanted
            upper = upper[:-1] + (upper[-1] + 1,)
            ok = a >= b and _padded(have, upper)[0] < _padded(have, upper)[1]
        if not ok:
            return False
    return True


def minimum_version_text() -> str:
    for constraint in required_versions(ROOT):
        match = re.search(r">=\s*([\d.]+)", constraint)
        if match:
            return match.group(1)
    return "1.11"


def check_terraform(name: str, tf_dir: Path) -> tuple[str, str]:
    path = find_terraform(name)
    version = terraform_version(path)
    for constraint in required_versions(tf_dir):
        if not satisfies(version, constraint):
            lower = [p for p in constraint.split(",") if re.match(r"\s*(>=|>|~>)", p)]
            verdict = "too old" if any(not satisfies(version, p) for p in lower) else "not supported"
            raise Missing(f"terraform {version} ({path}) is {verdict}: this configuration requires Terraform "
                          f"{constraint}; {INSTALL_HINT}.")
    return path, version


# --- Region -------------------------------------------------------------------------------------

def _blocks(text: str, keyword: str, label: str) -> list[str]:
    """Bodies of top-level `keyword "label" { ... }` blocks (brace matching, strings respected)."""
    bodies = []
    for match in re.finditer(rf'^{keyword}\s+"{re.escape(label)}"\s*\{{', text, re.M):
        depth, i, in_string = 1, match.end(), False
        while i < len(text) and depth:
            ch = text[i]
            if ch == '"' and text[i - 1] != "\\":
                in_string = not in_string
            elif not in_string:
                depth += {"{": 1, "}": -1}.get(ch, 0)
            i += 1
        bodies.append(text[match.end():i - 1])
    return bodies


def tfvars_string(tfvars: Path, name: str) -> str | None:
    match = re.search(rf'^{re.escape(name)}\s*=\s*"([^"]*)"', tfvars.read_text(), re.M)
    return match.group(1) if match else None


def home_region(tf_dir: Path, tfvars: Path) -> tuple[str | None, str]:
    """(region, where it came from) of the configuration's default (unaliased) aws provider."""
    texts = [p.read_text() for p in sorted(tf_dir.glob("*.tf"))]
    for text in texts:
        for body in _blocks(text, "provider", "aws"):
            if re.search(r"^\s*alias\s*=", body, re.M):
                continue
            literal = re.search(r'^\s*region\s*=\s*"([^"]+)"', body, re.M)
            if literal:
                return literal.group(1), f"the aws provider block of {tf_dir}"
            variable = re.search(r"^\s*region\s*=\s*var\.([A-Za-z0-9_]+)", body, re.M)
            if variable:
                name = variable.group(1)
                value = tfvars_string(tfvars, name) or os.environ.get(f"TF_VAR_{name}")
                if value:
                    return value, f"{name} in {tfvars}"
                for other in texts:
                    for var_body in _blocks(other, "variable", name):
                        default = re.search(r'^\s*default\s*=\s*"([^"]+)"', var_body, re.M)
                        if default:
                            return default.group(1), f"the default of variable {name} in {tf_dir}"
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(key):
            return os.environ[key], key
    return None, ""


# --- AWS credentials ----------------------------------------------------------------------------

def _explain_error(code: str, message: str, region: str | None) -> str:
    if code in EXPIRED_CODES:
        return (f"the AWS session has expired ({code}: {message}). Renew it (`aws sso login --profile <name>`, or "
                f"new temporary credentials from your identity provider) and run the command again.")
    if code in REJECTED_CODES:
        return (f"AWS rejected the credentials in {region} ({code}: {message}): if they work in other regions, "
                f"{region} is not enabled for this account (docs/deploy.md, \"A region is not enabled\"); "
                f"otherwise {CREDENTIALS_HINT}.")
    return f"AWS STS GetCallerIdentity failed ({code}: {message}); {CREDENTIALS_HINT}."


def caller_identity_boto3(region: str | None) -> dict:
    import boto3
    import botocore.exceptions as bx

    try:
        session = boto3.session.Session(region_name=region)
        return session.client("sts").get_caller_identity()
    except bx.ProfileNotFound as exc:
        raise Missing(f"AWS_PROFILE names a profile that does not exist ({exc}); {CREDENTIALS_HINT}.") from exc
    except bx.NoCredentialsError as exc:
        raise Missing(f"no AWS credentials found (environment, AWS_PROFILE, ~/.aws/credentials, SSO, instance "
                      f"role); {CREDENTIALS_HINT}.") from exc
    except (bx.SSOTokenLoadError, bx.UnauthorizedSSOTokenError, bx.TokenRetrievalError) as exc:
        raise Missing(f"the AWS SSO session has expired or was never started ({exc}). Run "
                      f"`aws sso login --profile <name>` and run the command again.") from exc
    except bx.ClientError as exc:
        error = exc.response.get("Error", {})
        raise Missing(_explain_error(error.get("Code", "?"), error.get("Message", ""), region)) from exc
    except bx.EndpointConnectionError as exc:
        raise Missing(f"cannot reach AWS STS ({exc}): check the network, proxy settings and the region.") from exc
    except bx.BotoCoreError as exc:
        raise Missing(f"the AWS credentials could not be used ({exc}); {CREDENTIALS_HINT}.") from exc


def caller_identity_cli(region: str | None) -> dict:
    aws = shutil.which("aws")
    if aws is None:
        raise Missing("cannot check the AWS credentials: neither boto3 (run `make venv`, or pip install boto3) nor "
                      "the aws CLI is available.")
    cmd = [aws, "sts", "get-caller-identity", "--output", "json"] + (["--region", region] if region else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode == 0:
        return json.loads(out.stdout)
    text = out.stderr.strip()
    if "Unable to locate credentials" in text:
        raise Missing(f"no AWS credentials found (environment, AWS_PROFILE, ~/.aws/credentials, SSO, instance "
                      f"role); {CREDENTIALS_HINT}.")
    code = re.search(r"\(([A-Za-z]+)\)", text)
    if code:
        raise Missing(_explain_error(code.group(1), text.rsplit(":", 1)[-1].strip(), region))
    if "sso" in text.lower() or "token" in text.lower():
        raise Missing(f"the AWS SSO session has expired or was never started ({text}). Run "
                      f"`aws sso login --profile <name>` and run the command again.")
    raise Missing(f"`aws sts get-caller-identity` failed: {text}; {CREDENTIALS_HINT}.")


def caller_identity(region: str | None) -> dict:
    try:
        import boto3  # noqa: F401
    except ImportError:
        return caller_identity_cli(region)
    return caller_identity_boto3(region)


# --- main ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tf-dir", required=True, type=Path, help="the configuration to deploy (TF_DIR)")
    parser.add_argument("--tfvars", required=True, type=Path, help="its variables file (TFVARS)")
    parser.add_argument("--terraform", default=os.environ.get("TF", "terraform"), help="Terraform CLI (TF)")
    parser.add_argument("--action", default="deploy", help="what the caller is about to do (for the summary)")
    parser.add_argument("--summary-file", type=Path, help="write account= and region= lines here")
    args = parser.parse_args(argv)

    if not args.tf_dir.is_dir() or not list(args.tf_dir.glob("*.tf")):
        print(f"preflight: {args.tf_dir} is not a Terraform configuration (no *.tf files); set TF_DIR to one of "
              f"examples/basic, examples/multi-region or your own root module.", file=sys.stderr)
        return 2
    if not args.tfvars.is_file():
        print(f"preflight: no such file: {args.tfvars} (TFVARS); copy {args.tf_dir}/terraform.tfvars.example "
              f"and edit it.", file=sys.stderr)
        return 2

    try:
        path, version = check_terraform(args.terraform, args.tf_dir)
        print(f"preflight: terraform {version} ({path}) satisfies {', '.join(required_versions(args.tf_dir))}")
        region, source = home_region(args.tf_dir, args.tfvars)
        if not region:
            raise Missing(f"no home region: {args.tf_dir} sets none in its aws provider block and AWS_REGION is "
                          f"not set; set the region in {args.tfvars} or export AWS_REGION.")
        identity = caller_identity(region)
    except Missing as exc:
        print(f"preflight: MISSING: {exc}", file=sys.stderr)
        print("preflight: nothing was planned or changed.", file=sys.stderr)
        return MISSING

    account, arn = identity.get("Account", "?"), identity.get("Arn", "?")
    print(f"preflight: AWS credentials valid: {arn}")
    print(f"preflight: {args.action} will change AWS account {account} in home region {region} (from {source}), "
          f"with {args.tf_dir} and {args.tfvars}")
    if args.summary_file:
        args.summary_file.write_text(f"account={account}\nregion={region}\narn={arn}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
