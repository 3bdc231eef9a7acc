"""Helpers for the Terraform tests: run terraform, start a local moto server.

Used by conftest.py (fixtures) and by nothing outside tests/terraform.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_EXAMPLE = ROOT / "examples" / "sandbox"
TOKYO_EXAMPLE = ROOT / "examples" / "tokyo"
HERE = Path(__file__).resolve().parent
MIRROR_LAYOUT = "registry.terraform.io"


def terraform_env(workdir: Path) -> dict[str, str]:
    """Environment for terraform: the CLI config from mk/terraform.mk when exported, else one
    written here (filesystem mirror when TF_PROVIDER_MIRROR or /opt/tf-plugins exists)."""
    env = dict(os.environ)
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    config = env.get("TF_CLI_CONFIG_FILE")
    if not config or not Path(config).is_file():
        mirror = env.get("TF_PROVIDER_MIRROR") or ("/opt/tf-plugins" if Path("/opt/tf-plugins").is_dir() else "")
        path = workdir / "terraformrc"
        if mirror:
            path.write_text(
                "provider_installation {\n"
                f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["{MIRROR_LAYOUT}/*/*"]\n  }}\n'
                f'  direct {{\n    exclude = ["{MIRROR_LAYOUT}/*/*"]\n  }}\n}}\n'
            )
        else:
            path.write_text("")
        env["TF_CLI_CONFIG_FILE"] = str(path)
    # Dummy credentials: the sandbox provider blocks carry their own, this only keeps the SDK
    # from looking for real ones.
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
    env.pop("AWS_PROFILE", None)
    return env


def terraform(args: list[str], cwd: Path, env: dict[str, str], check: bool = True,
              timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = ["terraform", *args]
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}) in {cwd}:\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


class MotoServer:
    """moto in server mode on 127.0.0.1: the project's serializing launcher (sandbox/braket_sandbox)
    with EventBridge -> SNS targets added (moto_server_sns.py). Without it the tests fail: the
    alarm route of the forwarders cannot be checked on plain moto."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 60) -> "MotoServer":
        env = dict(os.environ)
        sandbox = ROOT / "sandbox"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), str(sandbox), env.get("PYTHONPATH")]))
        if not (sandbox / "braket_sandbox" / "moto_server.py").is_file():
            raise RuntimeError("sandbox/braket_sandbox/moto_server.py is missing: the Terraform end-to-end tests "
                               "need the project's moto launcher")
        if importlib.util.find_spec("moto") is None:
            raise RuntimeError("moto is not installed: run `make venv`")
        cmd = [sys.executable, "-m", "moto_server_sns", "--port", "0"]
        self.process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True)
        deadline = time.monotonic() + timeout
        line = self.process.stdout.readline().strip()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"moto launcher did not report READY: {line!r}")
        self.url = line.split(" ", 1)[1]
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", int(self.url.rsplit(":", 1)[1])), timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("moto server exited at start-up")
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("moto server did not start in time")

    def lambda_endpoints(self, **endpoints: str) -> dict:
        """Register endpoints (e.g. braket=<emulator url>) for the guard's handler, which the
        launcher runs in-process for a synchronous Invoke of its function (moto_server.py);
        returns them and every invocation so far."""
        request = urllib.request.Request(f"{self.url}/_braket_sandbox/lambda-endpoints",
                                         data=json.dumps(endpoints).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def planned_resources(plan: dict) -> dict[str, dict]:
    """address -> planned values of every resource in a `terraform show -json` plan."""
    found: dict[str, dict] = {}

    def walk(module: dict) -> None:
        for resource in module.get("resources", []):
            found[resource["address"]] = resource.get("values", {})
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan.get("planned_values", {}).get("root_module", {}))
    return found


def lambda_policy_from_plan(plan: dict) -> dict:
    for address, values in planned_resources(plan).items():
        if address.endswith("aws_iam_role_policy.lambda"):
            policy = values.get("policy")
            if not policy:
                raise AssertionError(f"{address} has no known policy in the plan")
            return json.loads(policy)
    raise AssertionError("no aws_iam_role_policy.lambda in the plan")


def all_resources(plan: dict) -> dict[str, dict]:
    """address -> the `resources` entry of every resource of a plan's planned_values."""
    found: dict[str, dict] = {}

    def walk(module: dict) -> None:
        for resource in module.get("resources", []):
            found[resource["address"]] = resource
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan.get("planned_values", {}).get("root_module", {}))
    return found


def _moto_override(endpoint: str, aliases: list[str | None]) -> str:
    services = ["cloudwatch", "dynamodb", "events", "iam", "lambda", "scheduler", "logs", "sns", "sqs", "ssm", "sts"]
    blocks = []
    for alias in aliases:
        lines = ['provider "aws" {']
        if alias:
            lines.append(f'  alias = "{alias}"')
        lines += ['  access_key = "testing"', '  secret_key = "testing"', "  skip_credentials_validation = true",
                  "  skip_requesting_account_id = true", "  skip_metadata_api_check = true",
                  "  skip_region_validation = true", "  endpoints {"]
        lines += [f'    {s} = "{endpoint}"' for s in services]
        lines += ["  }", "}"]
        blocks.append("\n".join(lines))
    return "# Written by tests/terraform/conftest.py: the example's providers pointed at moto.\n" + "\n\n".join(blocks) + "\n"


def scratch_copy(example: Path, root: Path, endpoint: str, aliases: list[str | None]) -> Path:
    """examples/<name> copied under root/examples/<name>, next to symlinks to the module (so its
    "../.." sources resolve), with an override file pointing its providers at moto."""
    target = root / "examples" / example.name
    target.mkdir(parents=True)
    for item in ROOT.iterdir():
        if item.suffix == ".tf" or item.name in ("modules", "dist"):
            (root / item.name).symlink_to(item)
    for tf in example.glob("*.tf"):
        shutil.copy(tf, target / tf.name)
    (target / "moto_override.tf").write_text(_moto_override(endpoint, aliases))
    return target
