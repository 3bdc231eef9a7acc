"""`make demo NATIVE_LIMITS=...` reaches the deployment: through examples/sandbox's own
``native_limits`` variable on the Terraform path, in the rendered Lambda environment on the boto3
path (where it must equal what lambda.tf renders)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from braket_sandbox import deploy

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mode", ["off", "freeze", "mirror_and_freeze"])
def test_terraform_inputs_carry_native_limits_through_the_example_variable(tmp_path, mode):
    deployer = deploy.TerraformDeployer(tmp_path, "http://127.0.0.1:1", "http://127.0.0.1:2/slack", [], "UTC",
                                        tmp_path / "terraform.log", native_limits=mode)
    overridden = deployer.prepare()
    assert "native_limits" not in overridden  # examples/sandbox declares it: no override file needed for it
    tfvars = json.loads((deployer.tfdir / "demo.tfvars.json").read_text())
    assert tfvars["native_limits"] == mode
    main = (deployer.tfdir / "main.tf").read_text()
    assert re.search(r"^\s*native_limits\s*=\s*var\.native_limits\s*$", main, re.M)
    assert deploy.example_variables()["native_limits"] == "off"  # off unless the demo asks


def test_boto3_environment_renders_what_lambda_tf_renders():
    """lambda.tf sets each variable only when not its default; the boto3 path does the same."""
    lambda_tf = (ROOT / "lambda.tf").read_text()
    assert re.search(r'var\.native_limits == "off" \? \{\} : \{\s*BRAKET_GUARD_NATIVE_LIMITS = var\.native_limits\s*\}',
                     lambda_tf), "lambda.tf no longer renders BRAKET_GUARD_NATIVE_LIMITS only when not off"
    assert re.search(r'var\.cancels_per_second == "2" \? \{\} :', lambda_tf)
    freeze = deploy.render_environment("t", [], "UTC", "arn:aws:sns:us-east-1:123456789012:x", None, "freeze")
    assert freeze["BRAKET_GUARD_NATIVE_LIMITS"] == "freeze"
    assert "BRAKET_GUARD_CANCELS_PER_SECOND" not in freeze  # the sandbox keeps the default 2/s
    off = deploy.render_environment("t", [], "UTC", "x", None)
    assert "BRAKET_GUARD_NATIVE_LIMITS" not in off and "BRAKET_GUARD_CANCELS_PER_SECOND" not in off
