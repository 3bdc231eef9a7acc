"""make deploy / make clean keep the user's Terraform CLI configuration (issue 19, item 9).

mk/terraform.mk exports a generated TF_CLI_CONFIG_FILE (provider mirror, plugin cache) for the
checks; deploy and clean must not replace the user's own: their TF_CLI_CONFIG_FILE when set,
else their ~/.terraformrc (Terraform's default, the variable unset), else the generated file.
`make deploy` / `make clean` run here with a stand-in terraform that records the
TF_CLI_CONFIG_FILE it sees (preflight's `terraform version` is the first call; the missing
credentials then stop the run before any plan).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tfharness

FAKE = """#!/bin/sh
echo "cli-config=${TF_CLI_CONFIG_FILE-<unset>} args=$*" >> "$FAKE_TF_LOG"
case "$1" in
  version) echo '{"terraform_version": "1.11.4", "platform": "linux_amd64"}' ;;
esac
"""


def run_make(tmp_path: Path, target: str, home: Path, user_config: str | None,
             sts_url: str | None = None) -> str:
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(FAKE)
    fake.chmod(0o755)
    log = tmp_path / f"{target}.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "TF_VAR_", "MAKE")) and k not in ("TF_CLI_CONFIG_FILE", "MAKEFLAGS")}
    env.update({"HOME": str(home), "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
                "FAKE_TF_LOG": str(log), "PYTHON": sys.executable,
                "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
                "AWS_EC2_METADATA_DISABLED": "true"})
    if user_config is not None:
        env["TF_CLI_CONFIG_FILE"] = user_config
    if sts_url:  # credentials moto accepts: preflight passes and deploy.sh goes on to init and plan
        env.update({"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_ENDPOINT_URL_STS": sts_url, "AUTO_APPROVE": "1", "PLAN_DIR": str(tmp_path / "build")})
    tfvars = tfharness.ROOT / "examples" / "basic" / "terraform.tfvars.example"
    result = subprocess.run(["make", "--no-print-directory", "-C", str(tfharness.ROOT), target, f"TF={fake}",
                             f"TFVARS={tfvars}", "TF_DIR=examples/basic"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert log.is_file(), f"make {target} never ran terraform:\n{result.stdout}\n{result.stderr}"
    lines = log.read_text().splitlines()
    if sts_url:
        assert any(" args=init" in l for l in lines) and any(" args=plan" in l for l in lines), (
            f"make {target} did not reach init and plan:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    seen = {line.split(" ", 1)[0] for line in lines}
    assert len(seen) == 1, f"make {target} ran terraform with different CLI configurations: {seen}"
    return seen.pop().removeprefix("cli-config=")


@pytest.mark.parametrize("target", ["deploy", "clean"])
def test_the_users_cli_config_file_is_kept(tmp_path, target):
    user = tmp_path / "my.terraformrc"
    user.write_text('provider_installation {\n  direct {}\n}\n')
    home = tmp_path / "home"
    home.mkdir()
    assert run_make(tmp_path, target, home, str(user)) == str(user)


@pytest.mark.parametrize("target", ["deploy", "clean"])
def test_the_users_terraformrc_is_used_when_no_file_is_given(tmp_path, target):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".terraformrc").write_text('plugin_cache_dir = "/tmp"\n')
    assert run_make(tmp_path, target, home, None) == "<unset>", "Terraform must read ~/.terraformrc itself"


def test_the_generated_config_only_without_one_of_the_users(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert run_make(tmp_path, "deploy", home, None) == str(tfharness.ROOT / ".terraformrc.generated")


@pytest.mark.parametrize("target", ["deploy", "clean"])
def test_init_and_plan_run_with_the_users_cli_config(tmp_path, target):
    """Past the prerequisite checks (credentials moto accepts): terraform init and plan, the
    calls that install providers, see the user's file too."""
    user = tmp_path / "my.terraformrc"
    user.write_text('provider_installation {\n  direct {}\n}\n')
    home = tmp_path / "home"
    home.mkdir()
    moto = tfharness.MotoServer().start()
    try:
        assert run_make(tmp_path, target, home, str(user), sts_url=moto.url) == str(user)
    finally:
        moto.stop()
