"""The Slack webhook URL is a secret (whoever has it can post to the channel). Guarantee: it never
appears in a log line (the guard's own at DEBUG, every library's at INFO), on stdout/stderr (EMF
metric lines included), in a handler result, in an error message, or in an environment variable,
whatever happens to Slack: success, 5xx, timeout, refused connection, or an SSM parameter holding
something that is not an https URL. Configuring the URL itself instead of the parameter's name
is refused without echoing it."""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from datetime import timedelta

import boto3
import pytest

from braket_guard import handler
from braket_guard.alerts import notify
from braket_guard.config import ConfigError, load_config

from .conftest import FORTE, REGION, T0, Rig

CAPS = [{"name": "secret-day", "window": "day", "group_by": "account", "max_cost_usd": 20, "warn_at": [0.3]}]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fragments(url: str) -> list[str]:
    """The URL and its secret path: neither may appear anywhere."""
    path = "/" + url.split("/", 3)[3]
    return [url, path, path.rsplit("/", 1)[1]]


def run(rig: Rig, results: list, errors: list, count: int = 5) -> None:
    rig.reset()
    rig.configure(CAPS)
    for index in range(count):
        arn = rig.emu.create_task(REGION, FORTE, 100, created_at=T0 + timedelta(seconds=index))
        rig.emu.advance(arn, "QUEUED")
    pending = rig.take_events()
    while pending:
        try:
            results.append(handler.lambda_handler(pending.pop(0), None))
        except Exception as exc:  # noqa: BLE001 - its message is checked too
            errors.append(f"{type(exc).__name__}: {exc}")
        pending += rig.take_events()


def test_the_webhook_url_never_leaks(rig, caplog, capfd, monkeypatch):
    monkeypatch.setattr(logging.getLogger("braket_guard"), "level", logging.DEBUG)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="braket_guard")
    ssm = boto3.client("ssm", endpoint_url=rig.moto_url)
    secrets = fragments(rig.webhook)
    results: list = []
    errors: list = []

    run(rig, results, errors)  # Slack up: warning and breach alerts posted
    assert rig.sink.messages
    rig.sink.fail_with(500)
    run(rig, results, errors)
    rig.sink.reset()
    monkeypatch.setattr(notify, "SLACK_TIMEOUT", (0.3, 0.3))
    rig.sink.delay(0.6)
    run(rig, results, errors, count=3)
    rig.sink.reset()
    for value in (f"http://127.0.0.1:{closed_port()}/services/T9/B9/{uuid.uuid4().hex}",  # refused
                  f"http://hooks.example.invalid/services/T8/B8/{uuid.uuid4().hex}"):  # not https
        ssm.put_parameter(Name=rig.parameter, Type="SecureString", Overwrite=True, Value=value)
        secrets += fragments(value)
        run(rig, results, errors, count=3)

    assert results and not errors, errors
    out, err = capfd.readouterr()
    texts = {"log records": caplog.text, "stdout": out, "stderr": err,
             "results": json.dumps(results), "errors": "\n".join(errors),
             "environment": "\n".join(f"{k}={v}" for k, v in os.environ.items())}
    assert "alert_delivery_failed" in caplog.text  # the failures were logged, without the URL
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"webhook secret {secret!r} found in {where}"


def test_configuring_the_url_instead_of_its_parameter_is_refused_without_echoing_it():
    url = f"https://hooks.slack.com/services/T0/B0/{uuid.uuid4().hex}"
    with pytest.raises(ConfigError) as raised:
        load_config({"BRAKET_GUARD_TABLE": "ledger", "BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER": url,
                     "BRAKET_GUARD_CAPS": json.dumps(CAPS)})
    assert all(secret not in str(raised.value) for secret in fragments(url))
