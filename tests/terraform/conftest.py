"""Fixtures of the Terraform tests: one moto server for the session, a plan of examples/sandbox
against it, and examples/tokyo applied to the same server side by side (in a thread), so the
two end-to-end runs overlap instead of adding up."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import tfharness

# A recognisable Slack URL: it must appear in SSM and nowhere else (plan, state, logs).
CANARY = f"http://127.0.0.1:9/slack/canary-{uuid.uuid4().hex}"


@dataclass
class Sandbox:
    moto: tfharness.MotoServer
    env: dict
    workdir: Path
    plan_file: Path
    plan: dict
    slack_url: str = CANARY
    timings: dict = field(default_factory=dict)
    logs: list = field(default_factory=list)
    applied: bool = False
    destroyed: bool = False

    def tf(self, *args: str, check: bool = True):
        result = tfharness.terraform(list(args), cwd=tfharness.SANDBOX_EXAMPLE, env=self.env, check=check)
        shown = " ".join(args).replace(self.slack_url, "<slack url>")  # our own command line, not terraform's output
        self.logs.append(f"$ terraform {shown}\n{result.stdout}\n{result.stderr}")
        return result

    @property
    def var_args(self) -> list[str]:
        # native limits on: the plan holds every optional Lambda statement but KMS (IAM contract)
        return [f"-var=endpoint={self.moto.url}", f"-state={self.workdir / 'terraform.tfstate'}",
                "-var=native_limits=mirror_and_freeze"]

    @property
    def secret_args(self) -> list[str]:
        """The ephemeral Slack URL: given at plan time and again when the saved plan is applied."""
        return [f"-var=slack_webhook_url={self.slack_url}"]


@pytest.fixture(scope="session")
def braket_emulator():
    """The Braket API emulator (sandbox/braket_sandbox), where the guard's Lambda, invoked by the
    moto server in-process (destroy-time native_cleanup), finds and deletes spending limits."""
    from braket_sandbox.emulator import start_emulator

    emulator = start_emulator()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def moto_server(braket_emulator):
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH")
    moto = tfharness.MotoServer().start()
    try:
        moto.lambda_endpoints(braket=braket_emulator.url)
        yield moto
    finally:
        moto.stop()


class TokyoRun:
    """examples/tokyo applied to moto in a background thread: init, plan, apply, then (once the
    tests release it) destroy. The example is used as it is; a copy of its directory gets an
    override file that points its three providers at moto, next to symlinks to the module."""

    SLACK_URL = f"http://127.0.0.1:9/slack/tokyo-{uuid.uuid4().hex}"

    def __init__(self, moto: tfharness.MotoServer, workdir: Path) -> None:
        self.moto = moto
        self.workdir = workdir
        self.root = workdir / "module"
        self.example = self.root / "examples" / "tokyo"
        self.env = tfharness.terraform_env(workdir)
        self.state = workdir / "terraform.tfstate"
        self.plan_file = workdir / "tokyo.tfplan"
        self.plan: dict = {}
        self.timings: dict = {}
        self.applied = threading.Event()
        self.release = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.destroyed = False
        self.thread = threading.Thread(target=self._run, name="tokyo-apply", daemon=True)

    def _layout(self) -> None:
        tfharness.scratch_copy(tfharness.TOKYO_EXAMPLE, self.root, self.moto.url, [None, "us_east_1", "eu_north_1"])

    def tf(self, *args: str, check: bool = True):
        return tfharness.terraform(list(args), cwd=self.example, env=self.env, check=check)

    @property
    def var_args(self) -> list[str]:
        # The same name_prefix as examples/sandbox, in another home region of the same (moto)
        # account, both guarding us-east-1: nothing may collide (names carry the home region).
        return [f"-state={self.state}", "-var=name_prefix=bg-sandbox", "-var=alert_emails=[\"ops@example.jp\"]",
                "-var=create_slack_webhook_parameter=true", f"-var=slack_webhook_url={self.SLACK_URL}"]

    def _run(self) -> None:
        try:
            self._layout()
            start = time.monotonic()
            self.tf("init", "-input=false", "-no-color")
            self.tf("plan", "-input=false", "-no-color", *self.var_args, f"-out={self.plan_file}")
            self.plan = json.loads(self.tf("show", "-json", str(self.plan_file)).stdout)
            self.timings["init+plan"] = time.monotonic() - start
            start = time.monotonic()
            self.tf("apply", "-input=false", "-no-color", f"-state={self.state}",
                    f"-var=slack_webhook_url={self.SLACK_URL}", str(self.plan_file))
            self.timings["apply"] = time.monotonic() - start
        except BaseException as exc:  # reported by the tests
            self.error = exc
            self.applied.set()
            self.done.set()
            return
        self.applied.set()
        self.release.wait(timeout=1800)
        try:
            start = time.monotonic()
            self.tf("destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false", *self.var_args)
            self.timings["destroy"] = time.monotonic() - start
            self.destroyed = True
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()

    def wait_applied(self, timeout: float = 900) -> None:
        if not self.applied.wait(timeout):
            pytest.fail(f"examples/tokyo was not applied within {timeout:.0f}s")
        if self.error is not None:
            pytest.fail(f"examples/tokyo did not apply: {self.error}")

    def finish(self, timeout: float = 900) -> None:
        self.release.set()
        if not self.done.wait(timeout):
            pytest.fail(f"examples/tokyo was not destroyed within {timeout:.0f}s")
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def tokyo(moto_server, tmp_path_factory):
    run = TokyoRun(moto_server, tmp_path_factory.mktemp("tokyo"))
    run.thread.start()
    try:
        yield run
    finally:
        run.release.set()
        run.done.wait(timeout=900)


@pytest.fixture(scope="session")
def sandbox(moto_server, tokyo, tmp_path_factory):
    # Requesting tokyo first starts its apply, so it runs while the sandbox is planned and applied.
    workdir = tmp_path_factory.mktemp("sandbox")
    env = tfharness.terraform_env(workdir)
    box = Sandbox(moto=moto_server, env=env, workdir=workdir, plan_file=workdir / "sandbox.tfplan", plan={})
    try:
        start = time.monotonic()
        box.tf("init", "-input=false", "-no-color")
        box.tf("plan", "-input=false", "-no-color", *box.var_args, *box.secret_args, f"-out={box.plan_file}")
        box.plan = json.loads(box.tf("show", "-json", str(box.plan_file)).stdout)
        box.timings["init+plan"] = time.monotonic() - start
        yield box
    finally:
        if box.applied and not box.destroyed:
            box.tf("destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false",
                   *box.var_args, *box.secret_args, check=False)
