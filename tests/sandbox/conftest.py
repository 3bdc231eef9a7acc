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
