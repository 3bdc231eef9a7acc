"""make deploy / make clean: the prerequisite checks (scripts/preflight.py) and the plan file's
removal on every exit path (scripts/deploy.sh).

Each missing prerequisite is run for real and its message asserted word for word: PATH without
terraform, a fake old terraform, no credentials at all, an expired session (a local STS stub
answering ExpiredToken), credentials AWS rejects. Valid credentials are moto's STS. The deploy
script runs against a real plan of examples/basic on moto (declined), and against a fake
terraform for the apply that fails, the apply that is interrupted and the apply that succeeds.
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import exampleplans
import tfharness

ROOT = tfharness.ROOT
PREFLIGHT = ROOT / "scripts" / "preflight.py"
DEPLOY = ROOT / "scripts" / "deploy.sh"
BASIC = ROOT / "examples" / "basic"
BASIC_TFVARS = BASIC / exampleplans.EXAMPLE_TFVARS
INSTALL_HINT = "install it from https://developer.hashicorp.com/terraform/install or set TF=/path/to/terraform"
CREDENTIALS_HINT = ("configure credentials for the account to deploy to: `aws configure`, `aws sso login "
                    "--profile <name>` and AWS_PROFILE=<name>, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                    "(plus AWS_SESSION_TOKEN for temporary ones)")
NOTHING_CHANGED = "preflight: nothing was planned or changed."

FAKE_TERRAFORM = """#!/bin/sh
# A stand-in for terraform: logs its arguments, answers `version -json` with FAKE_TF_VERSION,
# writes the -out file of `plan`, and `apply` succeeds, fails or hangs (FAKE_TF_APPLY).
echo "$*" >> "$FAKE_TF_LOG"
case "$1" in
  version) echo "{\\"terraform_version\\": \\"${FAKE_TF_VERSION:-1.11.4}\\", \\"platform\\": \\"linux_amd64\\"}" ;;
  plan) for a in "$@"; do case "$a" in -out=*) echo "plan with secrets" > "${a#-out=}" ;; esac; done ;;
  apply)
    for a in "$@"; do last="$a"; done
    [ -f "$last" ] && echo "apply saw the plan file" >> "$FAKE_TF_LOG"
    case "${FAKE_TF_APPLY:-ok}" in
      fail) echo "Error: creating Lambda Function: AccessDeniedException" >&2; exit 1 ;;
      hang) touch "$FAKE_TF_LOG.applying"; sleep 60 ;;
    esac ;;
esac
"""

EXPIRED_RESPONSE = b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error>
  <RequestId>4d1a9f3e-0000-4000-8000-000000000000</RequestId>
</ErrorResponse>"""

REJECTED_RESPONSE = b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error>
  <RequestId>4d1a9f3e-0000-4000-8000-000000000001</RequestId>
</ErrorResponse>"""


class StsStub:
    """An STS endpoint on 127.0.0.1 that answers every call with one fixed error."""

    def __init__(self, body: bytes, status: int = 403) -> None:
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stub.calls += 1
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.calls = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def moto():
    server = tfharness.MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_tf(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    path = bin_dir / "terraform"
    path.write_text(FAKE_TERRAFORM)
    path.chmod(0o755)
    return path


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with no AWS credentials or configuration of the machine's user."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_VAR_"))}
    env.update({
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "FAKE_TF_LOG": str(tmp_path / "terraform.log"),
    })
    env.update(extra)
    return env


def with_keys(env: dict[str, str], sts_url: str) -> dict[str, str]:
    return {**env, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "session", "AWS_ENDPOINT_URL_STS": sts_url}


def preflight(env: dict[str, str], tf_dir: Path = BASIC, tfvars: Path = BASIC_TFVARS,
              terraform: str = "terraform") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PREFLIGHT), "--tf-dir", str(tf_dir), "--tfvars", str(tfvars),
                           "--terraform", terraform], env=env, capture_output=True, text=True, timeout=120)


def missing_lines(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 3, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stderr.splitlines()


def test_no_terraform_on_path(tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = preflight(clean_env(tmp_path, PATH=str(empty)))
    assert missing_lines(result) == [
        "preflight: MISSING: terraform not found: `terraform` is not on PATH. Terraform >= 1.11 is needed; "
        f"{INSTALL_HINT}.",
        NOTHING_CHANGED,
    ]


def test_old_terraform(tmp_path, fake_tf):
    env = clean_env(tmp_path, PATH=f"{fake_tf.parent}{os.pathsep}{os.environ['PATH']}", FAKE_TF_VERSION="1.9.8")
    result = preflight(env)
    assert missing_lines(result) == [
        f"preflight: MISSING: terraform 1.9.8 ({fake_tf}) is too old: this configuration requires Terraform "
        f">= 1.11; {INSTALL_HINT}.",
        NOTHING_CHANGED,
    ]


def test_terraform_given_by_tf_variable(tmp_path, fake_tf):
    """TF=/path/to/terraform (passed on as --terraform) is used instead of PATH."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = preflight(clean_env(tmp_path, PATH=str(empty), FAKE_TF_VERSION="1.10.5"), terraform=str(fake_tf))
    assert missing_lines(result)[0].startswith(f"preflight: MISSING: terraform 1.10.5 ({fake_tf}) is too old")


def test_no_credentials(tmp_path, fake_tf):
    env = clean_env(tmp_path, PATH=f"{fake_tf.parent}{os.pathsep}{os.environ['PATH']}")
    result = preflight(env)
    assert result.stdout.splitlines() == [f"preflight: terraform 1.11.4 ({fake_tf}) satisfies >= 1.11"]
    assert missing_lines(result) == [
        "preflight: MISSING: no AWS credentials found (environment, AWS_PROFILE, ~/.aws/credentials, SSO, "
        f"instance role); {CREDENTIALS_HINT}.",
        NOTHING_CHANGED,
    ]


def test_unknown_profile(tmp_path, fake_tf):
    env = clean_env(tmp_path, PATH=f"{fake_tf.parent}{os.pathsep}{os.environ['PATH']}", AWS_PROFILE="quantum-lab")
    assert missing_lines(preflight(env)) == [
        "preflight: MISSING: AWS_PROFILE names a profile that does not exist (The config profile (quantum-lab) "
        f"could not be found); {CREDENTIALS_HINT}.",
        NOTHING_CHANGED,
    ]


def test_expired_session(tmp_path, fake_tf):
    stub = StsStub(EXPIRED_RESPONSE)
    try:
        env = with_keys(clean_env(tmp_path, PATH=f"{fake_tf.parent}{os.pathsep}{os.environ['PATH']}"), stub.url)
        result = preflight(env)
    finally:
        stub.stop()
    assert stub.calls >= 1, "the STS stub was never called"
    assert missing_lines(result) == [
        "preflight: MISSING: the AWS session has expired (ExpiredToken: The security token included in the "
        "request is expired). Renew it (`aws sso login --profile <name>`, or new temporary credentials from your "
        "identity provider) and run the command again.",
        NOTHING_CHANGED,
    ]


def test_rejected_credentials(tmp_path, fake_tf):
    stub = StsStub(REJECTED_RESPONSE)
    try:
        env = with_keys(clean_env(tmp_path, PATH=f"{fake_tf.parent}{os.pathsep}{os.environ['PATH']}"), stub.url)
        result = preflight(env)
    finally:
        stub.stop()
    assert missing_lines(result) == [
        "preflight: MISSING: AWS rejected the credentials in us-east-1 (InvalidClientTokenId: The security token "
        "included in the request is invalid.): if they work in other regions, us-east-1 is not enabled for this "
        f"account (docs/deploy.md, \"A region is not enabled\"); otherwise {CREDENTIALS_HINT}.",
        NOTHING_CHANGED,
    ]


def test_valid_credentials_name_the_account_and_region(tmp_path, fake_tf, moto):
    env = with_keys(clean_env(tmp_path, PATH=f"{fake_tf.parent}{os.pathsep}{os.environ['PATH']}"), moto.url)
    result = preflight(env, tf_dir=ROOT / "examples" / "multi-region",
                       tfvars=ROOT / "examples" / "multi-region" / exampleplans.EXAMPLE_TFVARS)
    assert result.returncode == 0, result.stderr
    tfvars = ROOT / "examples" / "multi-region" / exampleplans.EXAMPLE_TFVARS
    assert result.stdout.splitlines() == [
        f"preflight: terraform 1.11.4 ({fake_tf}) satisfies >= 1.11",
        "preflight: AWS credentials valid: arn:aws:sts::123456789012:user/moto",
        "preflight: deploy will change AWS account 123456789012 in home region us-east-1 (from the aws provider "
        f"block of {ROOT / 'examples' / 'multi-region'}), with {ROOT / 'examples' / 'multi-region'} and {tfvars}",
    ]


def test_region_from_the_tfvars(tmp_path, fake_tf, moto):
    tfvars = tmp_path / "lab.tfvars"
    tfvars.write_text(BASIC_TFVARS.read_text().replace('region = "us-east-1"', 'region = "eu-north-1"'))
    env = with_keys(clean_env(tmp_path, PATH=f"{fake_tf.parent}{os.pathsep}{os.environ['PATH']}"), moto.url)
    result = preflight(env, tfvars=tfvars)
    assert result.returncode == 0, result.stderr
    assert f"in home region eu-north-1 (from region in {tfvars})" in result.stdout


# --- scripts/deploy.sh --------------------------------------------------------------------------

def deploy(action: str, env: dict[str, str], answer: str = "", tf_dir: Path = BASIC,
           tfvars: Path | str = BASIC_TFVARS) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(DEPLOY), action, str(tf_dir), str(tfvars)], input=answer, env=env,
                          capture_output=True, text=True, timeout=300)


def test_declined_real_plan_leaves_no_plan_file(tmp_path, moto):
    """A real init + plan of examples/basic against moto, then 'no': the plan file, which holds
    every input in clear text, is gone and nothing was applied."""
    plan_dir = tmp_path / "build"
    env = exampleplans.example_env(tmp_path, moto.url, "deploy-declined")
    env.update({"PLAN_DIR": str(plan_dir), "PYTHON": sys.executable})
    env.pop("AUTO_APPROVE", None)
    result = deploy("deploy", env, answer="no\n")
    out = result.stdout
    plan_file = plan_dir / "deploy.tfplan"
    assert result.returncode == 1, f"{out[-3000:]}\n{result.stderr[-3000:]}"
    assert "preflight: make deploy will change AWS account 123456789012 in home region us-east-1" in out
    assert f"deploy: plan saved to {plan_file} (" in out, "the plan was never written"
    assert out.rstrip().endswith("deploy: aborted, nothing was changed; the plan file was removed.")
    assert not plan_file.exists(), "the declined plan file was left behind"
    assert list(plan_dir.iterdir()) == []
    assert not (BASIC / "terraform.tfstate").exists(), "a declined deploy must not write state"


@pytest.mark.parametrize("action", ["deploy", "clean"])
@pytest.mark.parametrize("outcome", ["ok", "fail"])
def test_plan_file_removed_after_apply(tmp_path, fake_tf, moto, action, outcome):
    plan_dir = tmp_path / "build"
    env = with_keys(clean_env(tmp_path, PATH=os.environ["PATH"], FAKE_TF_APPLY=outcome, AUTO_APPROVE="1",
                              PLAN_DIR=str(plan_dir), TF=str(fake_tf), PYTHON=sys.executable), moto.url)
    result = deploy(action, env)
    log = Path(env["FAKE_TF_LOG"]).read_text()
    plan_name = "deploy.tfplan" if action == "deploy" else "destroy.tfplan"
    assert "apply saw the plan file" in log, f"apply did not get the plan file:\n{log}\n{result.stdout}\n{result.stderr}"
    assert ("-destroy -input=false" in log) == (action == "clean")
    assert not (plan_dir / plan_name).exists(), f"{plan_name} left behind after apply {outcome}"
    if outcome == "ok":
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert result.returncode == 1
        assert result.stdout.rstrip().endswith(
            f"{action}: terraform apply failed; the plan file was removed. See docs/deploy.md (When a deploy fails).")


def test_plan_file_removed_when_interrupted(tmp_path, fake_tf, moto):
    plan_dir = tmp_path / "build"
    env = with_keys(clean_env(tmp_path, PATH=os.environ["PATH"], FAKE_TF_APPLY="hang", AUTO_APPROVE="1",
                              PLAN_DIR=str(plan_dir), TF=str(fake_tf), PYTHON=sys.executable), moto.url)
    process = subprocess.Popen(["bash", str(DEPLOY), "deploy", str(BASIC), str(BASIC_TFVARS)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    applying = Path(env["FAKE_TF_LOG"] + ".applying")
    deadline = time.monotonic() + 60
    while not applying.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"apply never started:\n{out}\n{err}")
        time.sleep(0.1)
    assert (plan_dir / "deploy.tfplan").exists(), "the plan file should exist while apply runs"
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, f"exit {process.returncode}\n{out}\n{err}"
    assert "deploy: interrupted; the plan file was removed." in out
    assert not (plan_dir / "deploy.tfplan").exists(), "the plan file was left behind after Ctrl-C"


def test_missing_prerequisite_stops_before_any_plan(tmp_path, fake_tf):
    plan_dir = tmp_path / "build"
    env = clean_env(tmp_path, PATH=os.environ["PATH"], AUTO_APPROVE="1", PLAN_DIR=str(plan_dir), TF=str(fake_tf),
                    PYTHON=sys.executable)
    result = deploy("deploy", env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "preflight: MISSING: no AWS credentials found" in result.stderr
    assert Path(env["FAKE_TF_LOG"]).read_text().splitlines() == ["version -json"], "terraform ran beyond `version`"
    assert list(plan_dir.iterdir()) == []


def test_usage_without_tfvars(tmp_path):
    result = deploy("deploy", clean_env(tmp_path), tfvars="")
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        f"usage: make deploy TFVARS=path/to/file.tfvars [TF_DIR={BASIC}]",
        f"  start from {BASIC}/terraform.tfvars.example: cp {BASIC}/terraform.tfvars.example my.tfvars",
    ]


EPHEMERAL_CONFIG = """
variable "name" {
  type = string
}

variable "secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

output "name" {
  value = var.name
}
"""


def test_apply_of_the_saved_plan_gets_the_ephemeral_variables(tmp_path, moto):
    """A real plan and apply of a configuration with an ephemeral variable (as the Slack URL is):
    the saved plan does not hold it, so the apply needs the var file again; it succeeds, and the
    value is in neither the plan file (removed) nor the state."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "main.tf").write_text(EPHEMERAL_CONFIG)
    tfvars = tmp_path / "lab.tfvars"
    tfvars.write_text('name   = "quantum-lab"\nsecret = "https://hooks.slack.com/services/T0/B0/EPHEMERAL-MARKER"\n')
    plan_dir = tmp_path / "build"
    env = exampleplans.example_env(tmp_path, moto.url, "ephemeral")
    env.update({"PLAN_DIR": str(plan_dir), "PYTHON": sys.executable, "AUTO_APPROVE": "1", "AWS_REGION": "eu-north-1"})
    result = deploy("deploy", env, tf_dir=config, tfvars=tfvars)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "in home region eu-north-1 (from AWS_REGION)" in result.stdout
    assert "Apply complete!" in result.stdout
    assert not (plan_dir / "deploy.tfplan").exists()
    state = (config / "terraform.tfstate").read_text()
    assert "quantum-lab" in state and "EPHEMERAL-MARKER" not in state
