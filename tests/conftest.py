"""Servers shared by the adapter, handler and reliability tests, started once per session on
127.0.0.1: moto in server mode (serialized, see braket_sandbox.moto_server), the Braket API
emulator and the Slack sink."""

from __future__ import annotations

import pytest

from braket_sandbox.emulator import BraketEmulator
from braket_sandbox.moto_server import start_moto
from braket_sandbox.slack_sink import SlackSink


@pytest.fixture(scope="session")
def moto_server():
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def emulator():
    emu = BraketEmulator().start()
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def slack_sink():
    sink = SlackSink().start()
    yield sink
    sink.stop()
