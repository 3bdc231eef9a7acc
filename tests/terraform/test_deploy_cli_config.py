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


def run_make(tmp_path: Path, target: str, home: Path, user_config: str | None) -> str:
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
    tfvars = tfharness.ROOT / "examples" / "basic" / "terraform.tfvars.example"
    result = subprocess.run(["make", "--no-print-directory", "-C", str(tfharness.ROOT), target, f"TF={fake}",
                             f"TFVARS={tfvars}", "TF_DIR=examples/basic"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert log.is_file(), f"make {target} never ran terraform:\n{result.stdout}\n{result.stderr}"
    seen = {line.split(" ", 1)[0] for line in log.read_text().splitlines()}
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
