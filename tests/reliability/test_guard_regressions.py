"""Regression tests for bugs the reliability suite found in the guard (all fixed): malformed
statuses and timestamps, a crash before the cancel, a lost transaction response, a slow Slack,
a crash after admission, DEBUG logging of secrets, non-ASCII digits in shots."""

from __future__ import annotations

import copy
import logging
from datetime import timedelta

import pytest

from bench.lambda_sim import ScaledClock
from braket_guard import handler
from braket_guard.alerts import notify
from braket_guard.core.events import EventError, parse_event

from .aws_faults import start_faulty_moto
from .conftest import FORTE, REGION, T0, ManualClock, Rig, SimulatedCrash, alert_identity
from .test_crash import LAMBDA_FIRST_RETRY, crash_once, invoke, task
from .test_fuzz_events import VALID


# 1. parse_event: an object or a list as detail.status raises TypeError (unhashable), not EventError
@pytest.mark.parametrize("status", [["CREATED"], {"x": 1}])
def test_bug1_unhashable_status_is_an_event_error(status):
    event = copy.deepcopy(VALID)
    event["detail"]["status"] = status
    with pytest.raises(EventError):
        parse_event(event)


# 2. parse_event: createdAt whose conversion to UTC leaves datetime's range raises OverflowError
@pytest.mark.parametrize("created_at", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_bug2_created_at_out_of_range_is_an_event_error(created_at):
    event = copy.deepcopy(VALID)
    event["detail"]["createdAt"] = created_at
    with pytest.raises(EventError):
        parse_event(event)


# 3. a well-formed event created on 9999-12-31 (UTC) crashes the window arithmetic: the handler
#    raises OverflowError (not logged as guard_error, retried by Lambda, then dead-lettered)
def test_bug3_last_day_of_year_9999_does_not_crash_the_handler(rig):
    rig.configure([{"name": "day", "window": "day", "group_by": "account", "max_cost_usd": 50}])
    event = copy.deepcopy(VALID)
    event["detail"]["createdAt"] = "9999-12-31T12:00:00Z"
    result = handler.lambda_handler(event, None)
    assert result["decision"] in ("admitted", "rejected", "dropped")


# 4. crash between the rejection's ledger write and the cancel: Lambda's retry cancels the task,
#    but nobody ever sends the breach alert (_finish_rejection sends only cancel-failed alerts)
def test_bug4_breach_alert_survives_a_crash_before_the_cancel(rig, monkeypatch):
    clock = ManualClock(T0)
    rig.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10}])
    rt = rig.runtime(lease_clock=clock)
    a, a_created, _ = task(rig, index=0)
    b, b_created, _ = task(rig, index=1)
    assert invoke(a_created)["decision"] == "admitted"
    crash_once(monkeypatch, rt.guard.braket, "cancel", when=lambda arn, region: arn == b)
    with pytest.raises(SimulatedCrash):
        invoke(b_created)
    clock.advance(LAMBDA_FIRST_RETRY)
    assert invoke(b_created)["cancelled"] is True
    assert [alert_identity(e)[0] for e in rig.emails()] == ["breach"]


# 5. the rejection's transaction commits, its response is lost and botocore's retries (same
#    ClientRequestToken) also fail; the guard's own retry (a new token) meets ConditionalCheckFailed
#    on the task record, takes its own fresh lease for "another invocation" and returns success:
#    the rejected task is not cancelled by this delivery (nor by any other within 30 s).
def test_bug5_lost_response_on_the_rejection_write_still_cancels(monkeypatch, moto_server, emulator, slack_sink):
    server, faults = start_faulty_moto(seed=1)
    try:
        rig = Rig(monkeypatch, server.url, emulator, slack_sink)
        rig.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10}])
        rig.runtime(clock=ScaledClock(60.0))
        a, a_created, _ = task(rig, index=0)
        b, b_created, _ = task(rig, index=1)
        assert invoke(a_created)["decision"] == "admitted"
        faults.add("dynamodb", "lost", operations=["TransactWriteItems"], times=1, match=b'"rejected"')
        faults.add("dynamodb", "internal", operations=["TransactWriteItems"], times=3, match=b'"rejected"')
        result = invoke(b_created)
        assert rig.status(b) == "CANCELLED", result
    finally:
        emulator.on_event = None
        server.stop()


# 6. Slack answers after the guard's read timeout (but does post): the guard retries, and the
#    channel shows the same alert up to SLACK_ATTEMPTS (3) times
def test_bug6_a_slow_slack_does_not_get_the_same_alert_three_times(rig, monkeypatch):
    rig.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10}])
    rig.runtime(clock=ScaledClock(60.0))
    monkeypatch.setattr(notify, "SLACK_TIMEOUT", (0.5, 0.5))
    rig.sink.delay(1.0)
    a, a_created, _ = task(rig, index=0)
    b, b_created, _ = task(rig, index=1)
    invoke(a_created)
    invoke(b_created)
    rig.sink.wait_for(1, timeout=5)
    import time
    time.sleep(1.5)  # let the slow posts land
    texts = [p["text"] for p in rig.sink.payloads()]
    assert len(texts) == len(set(texts)), texts


# 7. crash after the admission's transaction, before the warning alert: the retry is a
#    duplicate and the warning is never sent (unless a later admission in the group sends it)
def test_bug7_warning_survives_a_crash_after_admission(rig, monkeypatch):
    clock = ManualClock(T0)
    rig.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10,
                    "warn_at": [0.5]}])
    rt = rig.runtime(lease_clock=clock)
    arn, created, _ = task(rig)
    crash_once(monkeypatch, rt.guard.ledger, "read_counters")
    with pytest.raises(SimulatedCrash):
        invoke(created)
    clock.advance(LAMBDA_FIRST_RETRY)
    invoke(created)
    assert [alert_identity(e)[0] for e in rig.emails()] == ["warning"]


# 8. with the root logger at DEBUG (Lambda's application log level DEBUG), botocore logs the SSM
#    response (the webhook URL) and urllib3 the request line (its secret path)
def test_bug8_debug_logging_does_not_reveal_the_webhook(rig, caplog):
    caplog.set_level(logging.DEBUG)
    rig.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10}])
    a, a_created, _ = task(rig, index=0)
    b, b_created, _ = task(rig, index=1)
    invoke(a_created)
    invoke(b_created)
    secret_path = "/" + rig.webhook.split("/", 3)[3]
    assert secret_path not in caplog.text


# 9. shots written with non-ASCII digits or padded with spaces are accepted ("nothing fuzzier")
@pytest.mark.parametrize("shots", ["１００", "١٠٠", " 100 "])
def test_bug9_shots_accepts_only_ascii_digits(shots):
    event = copy.deepcopy(VALID)
    event["detail"]["shots"] = shots
    with pytest.raises(EventError):
        parse_event(event)
