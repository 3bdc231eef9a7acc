"""Slack and SNS failures: timeouts, 5xx, 429, refused connections, SNS errors and throttling.

Guarantees:
- a failing alert channel never changes a decision: the same stream cancels exactly the same
  tasks as with both channels up, and no invocation fails (nothing is redelivered because of it);
- the other channel still delivers every alert, once;
- a failing Slack is tried ``SLACK_ATTEMPTS`` (3) times per send; the alert's claim keeps it owed,
  so a later delivery or reconciliation tries Slack again once the claim's growing lease has run
  out, never more than ``ALERT_MAX_ATTEMPTS`` sends per alert (at least once, spaced out), and
  never the channel that already took it (email is not sent twice).
The stream is delivered in one fixed order (one invocation at a time) so that two runs can be
compared task by task.
"""

from __future__ import annotations

import random
import socket
from datetime import timedelta

import boto3
import pytest

from bench.lambda_sim import ScaledClock
from braket_guard import handler
from braket_guard.alerts import notify
from braket_guard.ledger.markers import ALERT_MAX_ATTEMPTS

from .aws_faults import start_faulty_moto
from .conftest import FORTE, REGION, T0, Rig, alert_identity

CAPS = [{"name": "burst", "window": "day", "group_by": "account", "max_cost_usd": 40, "warn_at": [0.5, 0.8]}]


def run_stream(rig, seed: int = 4, clock: ScaledClock | None = None, fault=lambda: None) -> list[str]:
    """14 tasks on Forte-1, CREATED then QUEUED, each event and its consequences in order."""
    rig.reset()
    fault()
    rig.configure(CAPS)
    rig.runtime(clock=clock or ScaledClock(60.0))
    rng = random.Random(seed)
    arns = []
    for index in range(14):
        arn = rig.emu.create_task(REGION, FORTE, rng.randint(20, 90), created_at=T0 + timedelta(seconds=index))
        rig.emu.advance(arn, "QUEUED")
        arns.append(arn)
    pending = rig.take_events()
    while pending:
        event = pending.pop(0)
        result = handler.lambda_handler(event, None)  # raising here would be a redelivery: a failure
        assert result["decision"] != "dropped"
        pending += rig.take_events()
    return [rig.status(arn) for arn in arns]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SLACK_FAILURES = ["http-500", "http-503", "http-429", "refused", "timeout"]  # timeout last: its slow posts land late


def test_slack_failures_change_no_decision_and_email_still_says_everything(rig, monkeypatch):
    reference = run_stream(rig)
    expected = sorted(alert_identity(e) for e in rig.emails())
    assert "CANCELLED" in reference and "QUEUED" in reference and len(expected) >= 2

    for failure in SLACK_FAILURES:
        def fault():
            if failure.startswith("http-"):
                rig.sink.fail_with(int(failure[5:]))
            elif failure == "timeout":
                monkeypatch.setattr(notify, "SLACK_TIMEOUT", (0.5, 0.5))
                rig.sink.delay(1.0)
            else:
                boto3.client("ssm", endpoint_url=rig.moto_url).put_parameter(
                    Name=rig.parameter, Type="SecureString", Overwrite=True,
                    Value=f"http://127.0.0.1:{closed_port()}/services/T0/B0/refused")

        statuses = run_stream(rig, fault=fault)
        rig.sink.delay(0)
        assert statuses == reference, failure
        assert sorted(alert_identity(e) for e in rig.emails()) == expected, failure
        attempts = len(rig.sink.requests)
        if failure == "refused":
            assert attempts == 0 and not rig.sink.messages
        elif failure == "timeout":
            assert attempts <= notify.SLACK_ATTEMPTS * len(expected)
        else:
            assert (notify.SLACK_ATTEMPTS * len(expected) <= attempts
                    <= ALERT_MAX_ATTEMPTS * notify.SLACK_ATTEMPTS * len(expected)), failure
            assert not rig.sink.messages, failure


@pytest.fixture
def faulty_rig(monkeypatch, moto_server, emulator, slack_sink):
    server, faults = start_faulty_moto(seed=3)
    rig = Rig(monkeypatch, server.url, emulator, slack_sink)
    yield rig, faults
    emulator.on_event = None
    server.stop()


def test_sns_errors_change_no_decision_and_slack_still_says_everything(faulty_rig):
    rig, faults = faulty_rig
    reference = run_stream(rig)
    expected_slack = len(rig.sink.payloads())
    assert expected_slack and len(rig.emails()) == expected_slack

    for kind in ("internal", "throttle"):
        faults.add("sns", kind, rate=1.0, operations=["Publish"])
        statuses = run_stream(rig)
        faults.clear()
        assert statuses == reference, kind
        assert len(rig.sink.payloads()) == expected_slack, kind
        assert rig.emails() == [], kind
        assert faults.injected[(kind, "sns", "Publish")] >= expected_slack  # every publish was refused
