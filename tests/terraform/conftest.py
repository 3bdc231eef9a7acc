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
    applied: bool = False
    destroyed: bool = False

    def tf(self, *args: str, check: bool = True):
        return tfharness.terraform(list(args), cwd=tfharness.SANDBOX_EXAMPLE, env=self.env, check=check)

    @property
    def var_args(self) -> list[str]:
        return [f"-var=endpoint={self.moto.url}", f"-state={self.workdir / 'terraform.tfstate'}"]


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH")
    workdir = tmp_path_factory.mktemp("sandbox")
    env = tfharness.terraform_env(workdir)
    moto = tfharness.MotoServer().start()
    box = Sandbox(moto=moto, env=env, workdir=workdir, plan_file=workdir / "sandbox.tfplan", plan={})
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
