"""`make demo` mostly waits on Terraform (the AWS provider's start-up and its SQS polling), so the
run that test_make_demo.py checks is started in the background as soon as the session knows it
will be needed, and the other end-to-end tests run meanwhile."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE_DEMO_ARGS = ["TASKS=40", "TIMEZONE=Asia/Tokyo"]


class MakeDemo:
    def __init__(self) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix="make-demo-logs-"))
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
        self.output = self.logs / "make-demo.out"
        self.handle = open(self.output, "w")
        self.process = subprocess.Popen(["make", "demo", *MAKE_DEMO_ARGS, f"DEMO_ARGS=--logs {self.logs}"],
                                        cwd=ROOT, env=self.env, stdout=self.handle, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)

    def wait(self, timeout: float = 420) -> tuple[int, str]:
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self.handle.close()
        return code, self.output.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:  # make and the demo under it: one process group
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)
        if not self.handle.closed:
            self.handle.close()
        shutil.rmtree(self.logs, ignore_errors=True)


def pytest_collection_modifyitems(session, config, items):
    if shutil.which("make") and any("make_demo_run" in getattr(item, "fixturenames", ()) for item in items):
        config.stash[_KEY] = MakeDemo()


_KEY = pytest.StashKey[MakeDemo]()


@pytest.fixture(scope="session")
def make_demo_run(request):
    if shutil.which("make") is None:
        pytest.fail("`make` is not on PATH: it is what the README tells newcomers to run")
    run = request.config.stash.get(_KEY, None)
    if run is None:  # not started at collection (e.g. run by node id): start it now
        run = request.config.stash[_KEY] = MakeDemo()
    yield run


def pytest_unconfigure(config):
    run = config.stash.get(_KEY, None)
    if run is not None:
        run.stop()
