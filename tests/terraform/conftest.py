"""Fixtures of the Terraform tests: a moto server and a plan of examples/sandbox against it."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import tfharness


@dataclass
class Sandbox:
    moto: tfharness.MotoServer
    env: dict
    workdir: Path
    plan_file: Path
    plan: dict
    timings: dict = field(default_factory=dict)
    recording: Path | None = None
    applied: bool = False
    destroyed: bool = False

    def tf(self, *args: str, check: bool = True):
        return tfharness.terraform(list(args), cwd=tfharness.SANDBOX_EXAMPLE, env=self.env, check=check)

    @property
    def var_args(self) -> list[str]:
        return [f"-var=endpoint={self.moto.url}", f"-state={self.workdir / 'terraform.tfstate'}"]


AFTER_SANDBOX = "after_sandbox_lifecycle"


def pytest_configure(config):
    config.addinivalue_line("markers", f"{AFTER_SANDBOX}: runs after every other test of the session "
                                       "(needs the sandbox applied and destroyed)")


def pytest_collection_modifyitems(items):
    """Tests marked after_sandbox_lifecycle run last, once test_sandbox_apply.py has destroyed."""
    items.sort(key=lambda item: item.get_closest_marker(AFTER_SANDBOX) is not None)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH")
    workdir = tmp_path_factory.mktemp("sandbox")
    env = tfharness.terraform_env(workdir)
    # moto records every request it serves: test_deployer_policy.py checks that each call the
    # provider made over init, plan, apply, re-plan and destroy is allowed by
    # docs/deployer-policy.json.
    recording = workdir / "moto-recording.jsonl"
    moto = tfharness.MotoServer().start(extra_env={"MOTO_ENABLE_RECORDING": "true",
                                                   "MOTO_RECORDER_FILEPATH": str(recording)})
    box = Sandbox(moto=moto, env=env, workdir=workdir, plan_file=workdir / "sandbox.tfplan", plan={},
                  recording=recording)
    try:
        import time

        start = time.monotonic()
        box.tf("init", "-input=false", "-no-color")
        box.tf("plan", "-input=false", "-no-color", *box.var_args, f"-out={box.plan_file}")
        box.plan = json.loads(box.tf("show", "-json", str(box.plan_file)).stdout)
        box.timings["init+plan"] = time.monotonic() - start
        yield box
    finally:
        if box.applied and not box.destroyed:
            box.tf("destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false",
                   *box.var_args, check=False)
        moto.stop()


@dataclass
class ExamplePlans:
    """Plans of every deployable example with its terraform.tfvars.example against moto:
    example name -> plan JSON, or the error that stopped init/plan."""
    plans: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)

    def plan(self, name: str) -> dict:
        if name in self.errors:
            pytest.fail(f"examples/{name}: planning with its {tfharness.EXAMPLE_TFVARS} failed:\n{self.errors[name]}")
        if name not in self.plans:
            pytest.fail(f"examples/{name} has no {tfharness.EXAMPLE_TFVARS}, so it was not planned")
        return self.plans[name]


@pytest.fixture(scope="session")
def example_plans(tmp_path_factory):
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH")
    workdir = tmp_path_factory.mktemp("examples")
    moto = tfharness.MotoServer().start()
    result = ExamplePlans()
    try:
        for example in tfharness.deployable_examples():
            tfvars = example / tfharness.EXAMPLE_TFVARS
            if not tfvars.is_file():
                continue
            try:
                result.plans[example.name] = tfharness.plan_example(example, tfvars, workdir, moto.url)
            except AssertionError as exc:
                result.errors[example.name] = str(exc)
        yield result
    finally:
        moto.stop()
