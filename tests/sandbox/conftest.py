"""Fixtures for the sandbox servers' own tests: dummy AWS credentials, fresh servers, clients."""

from __future__ import annotations

from typing import Callable

import boto3
import pytest
from botocore.config import Config

from braket_sandbox.emulator import BraketEmulator
from braket_sandbox.moto_server import start_moto
from braket_sandbox.slack_sink import SlackSink
from sandbox_helpers import NO_RETRY


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    """Dummy credentials only; never a real profile or config file."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials-none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def emu():
    """A fresh emulator per test (starting one costs a few milliseconds)."""
    with BraketEmulator() as emulator:
        yield emulator


@pytest.fixture
def braket(emu) -> Callable[..., object]:
    """``braket(region="us-east-1", config=NO_RETRY)`` -> a real boto3 braket client."""

    def make(region: str = "us-east-1", config: Config = NO_RETRY):
        return boto3.client("braket", region_name=region, endpoint_url=emu.url, config=config)

    return make


@pytest.fixture(scope="session")
def moto_handle():
    handle = start_moto()
    yield handle
    handle.stop()


@pytest.fixture
def moto(moto_handle):
    moto_handle.reset()
    return moto_handle


@pytest.fixture
def sink():
    with SlackSink() as slack:
        yield slack


@pytest.fixture
def sdk(emu, moto, monkeypatch):
    """The Amazon Braket SDK pointed at the sandbox as a user would point it: Braket at the
    emulator, S3 and STS at moto (``AWS_ENDPOINT_URL_<SERVICE>``), dummy credentials. The emulator
    writes results into moto's S3. Returns the emulator."""
    emu.store_results(moto.url)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BRAKET", emu.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto.url)
    for name in ("BRAKET_ENDPOINT", "AMZN_BRAKET_OUT_S3_BUCKET", "AMZN_BRAKET_JOB_TOKEN",
                 "AMZN_BRAKET_TASK_RESULTS_S3_URI", "AMZN_BRAKET_RESERVATION_DEVICE_ARN",
                 "AMZN_BRAKET_RESERVATION_TIME_WINDOW_ARN"):
        monkeypatch.delenv(name, raising=False)
    return emu
