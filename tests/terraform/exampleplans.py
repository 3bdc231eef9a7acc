"""The deployable examples planned with their terraform.tfvars.example against moto.

Used by test_example_tfvars.py, test_deployer_policy.py and test_deploy_preflight.py. The
examples have no endpoint settings of their own: every provider block reaches moto through the
AWS SDK's AWS_ENDPOINT_URL, so each file is planned exactly as a user copies it. A plan needs
only STS (the caller identity) from moto; nothing is applied. The plans are made once per
session (`example_plans()`), moto runs only while they are made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
import shutil
import tempfile

import pytest

import tfharness

EXAMPLES = tfharness.ROOT / "examples"
EXAMPLE_TFVARS = "terraform.tfvars.example"
PLUGIN_CACHE = tfharness.ROOT / ".terraform" / "plugin-cache"


def deployable_examples() -> list[Path]:
    """Every example that deploys to AWS: each directory of examples/ with *.tf files, except
    the local sandbox."""
    return sorted(d for d in EXAMPLES.iterdir()
                  if d.is_dir() and d.name != "sandbox" and any(d.glob("*.tf")))


def example_env(workdir: Path, moto_url: str, name: str) -> dict[str, str]:
    """tfharness.terraform_env with every AWS endpoint of every provider block at moto, a
    .terraform data directory private to the test, and a shared plugin cache (as mk/terraform.mk
    configures it) when the CLI configuration is not make's."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = tfharness.terraform_env(workdir)
    config = Path(env["TF_CLI_CONFIG_FILE"])
    if "plugin_cache_dir" not in config.read_text():
        PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
        cached = workdir / "terraformrc-cached"
        cached.write_text(f'plugin_cache_dir = "{PLUGIN_CACHE}"\n'
                          "plugin_cache_may_break_dependency_lock_file = true\n" + config.read_text())
        env["TF_CLI_CONFIG_FILE"] = str(cached)
    for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL")]:
        del env[key]
    env.pop("AWS_SESSION_TOKEN", None)
    env["AWS_ENDPOINT_URL"] = moto_url
    env["TF_DATA_DIR"] = str(workdir / f"tfdata-{name}")
    return env


def plan_example(example: Path, tfvars: Path, workdir: Path, moto_url: str) -> dict:
    """init + plan of an example with a var file against moto; the plan as `terraform show -json`."""
    env = example_env(workdir, moto_url, example.name)
    plan_file = workdir / f"{example.name}.tfplan"
    tfharness.terraform(["init", "-backend=false", "-input=false", "-no-color"], cwd=example, env=env)
    tfharness.terraform(["plan", "-input=false", "-no-color", f"-var-file={tfvars}", f"-out={plan_file}"],
                        cwd=example, env=env)
    return json.loads(tfharness.terraform(["show", "-json", str(plan_file)], cwd=example, env=env).stdout)


def configured_resources(plan: dict) -> list[tuple[str, str, str]]:
    """(module path, mode, type) of every resource and data block in the configuration of a plan,
    whether or not its count/for_each creates any instance."""
    found: list[tuple[str, str, str]] = []

    def walk(module: dict, path: str) -> None:
        for resource in module.get("resources", []):
            found.append((path, resource["mode"], resource["type"]))
        for name, call in module.get("module_calls", {}).items():
            walk(call.get("module", {}), f"{path}module.{name}.")

    walk(plan.get("configuration", {}).get("root_module", {}), "")
    return found


@dataclass
class ExamplePlans:
    """example name -> plan JSON, or the error that stopped its init/plan."""
    plans: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)

    def plan(self, name: str) -> dict:
        if name in self.errors:
            pytest.fail(f"examples/{name}: planning with its {EXAMPLE_TFVARS} failed:\n{self.errors[name]}")
        if name not in self.plans:
            pytest.fail(f"examples/{name} has no {EXAMPLE_TFVARS}, so it was not planned")
        return self.plans[name]


_PLANS: list[ExamplePlans] = []


def example_plans() -> ExamplePlans:
    """Plan every deployable example that has a terraform.tfvars.example, once per session."""
    if _PLANS:
        return _PLANS[0]
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH")
    workdir = Path(tempfile.mkdtemp(prefix="braket-guard-example-plans-"))
    result = ExamplePlans()
    moto = tfharness.MotoServer().start()
    try:
        for example in deployable_examples():
            tfvars = example / EXAMPLE_TFVARS
            if not tfvars.is_file():
                continue
            try:
                result.plans[example.name] = plan_example(example, tfvars, workdir, moto.url)
            except AssertionError as exc:
                result.errors[example.name] = str(exc)
    finally:
        moto.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    _PLANS.append(result)
    return result
