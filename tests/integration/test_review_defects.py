"""The defects an adversarial review of the state machine found (after issue 9's first cut), one
test each, written by the reviewer against the real handler, moto, the emulator and the Slack sink."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from braket_guard.aws import braket_api
from braket_guard import handler
from braket_guard.ops import operations

from .conftest import ACCOUNT, FORTE, NOVEL, REGION, SV1

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
DAY = "2026-11-28"
NOW = datetime(2026, 11, 28, 18, 0, tzinfo=timezone.utc)


def submit(harness, count=1, shots=100, device=FORTE, start=T0):
    arns = [harness.emu.create_task(REGION, device, shots, created_at=start + timedelta(seconds=i))
            for i in range(count)]
    return arns, [e for e in harness.take_events() if e["detail"]["status"] == "CREATED"]


def reconcile(now=NOW):
    return operations.run_action(handler.runtime().guard, {"braket_guard": "reconcile"}, now=now)


def test_review_true_up_past_an_alert_only_limit_or_warn_level_is_never_alerted(harness):
    """A simulator admitted at its 3 s minimum and trued up to 10 minutes crosses an alert_only
    limit and a warn_at level: neither alert is ever sent (not by the event, not by reconcile)."""
    harness.configure([
        {"name": "simday", "window": "day", "group_by": "account", "max_cost_usd": 1, "warn_at": [0.5]},
        {"name": "simwatch", "window": "day", "group_by": "account", "max_cost_usd": 0.5,
         "on_breach": "alert_only"},
    ])
    (arn,), (created,) = submit(harness, device=SV1, shots=100)
    assert harness.invoke(created)["decision"] == "admitted"
    harness.emu.advance(arn, "QUEUED")
    harness.emu.advance(arn, "RUNNING")
    harness.emu.advance(arn, "COMPLETED", ended_at=T0 + timedelta(minutes=10))
    for event in harness.take_events():
        harness.invoke(event)
    assert harness.task_state(arn) == "admitted"
    used = harness.counter("simwatch", DAY, ACCOUNT)["cost_micros"]
    assert used > 500_000, used  # the counters say $0.75 was spent: over $0.50, over 50% of $1
    reconcile()
    subjects = [e["Subject"] for e in harness.emails()]
    assert any("'simwatch' reached" in s for s in subjects), subjects
    assert any("simday" in s and "50%" in s for s in subjects), subjects


def test_review_monitor_mode_still_cancels_a_rejection_left_by_enforce_mode(harness, fast_backoff):
    """README: monitor mode "makes the same admission decisions and cancels nothing". A rejection
    recorded in enforce mode whose cancel was still pending is cancelled after the switch."""
    caps = [{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10}]
    harness.configure(caps)
    (a, b), events = submit(harness, 2)
    harness.invoke(events[0])
    harness.emu.set_fault("CancelQuantumTask", throttle_rate=1.0)
    with pytest.raises(Exception):
        harness.invoke(events[1])
    harness.emu.clear_faults()
    assert harness.task_state(b) == "rejected"
    harness.configure(caps, mode="monitor")  # the operator switches to monitor mode
    reconcile()
    assert harness.emu.task(b)["status"] != "CANCELLED", "monitor mode cancelled a task"


def test_review_a_digest_slack_could_not_take_is_never_sent_again(harness):
    """operations._digest answers "delivery failed; retried on the next run", but the next
    scheduled run (cron(0 8 * * ? *)) covers the next day, and reconciliation does not look at
    DIGEST markers: Slack never gets the day's digest ("alerts at least once")."""
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 50}])
    harness.emu.create_task(REGION, FORTE, 100, created_at=T0)
    for event in harness.take_events():
        harness.invoke(event)
    guard = handler.runtime().guard
    harness.sink.fail_with(500)
    morning = datetime(2026, 11, 29, 8, 0, tzinfo=timezone.utc)  # the schedule: digest of the 28th
    first = operations.run_action(guard, {"braket_guard": "digest"}, now=morning)
    assert first["day"] == DAY
    assert harness.slack() == []
    harness.sink.fail_with(None)
    later = datetime.now(timezone.utc) + timedelta(days=1)  # every lease and retry delay is over
    guard.ledger.clock = lambda: later
    try:
        operations.run_action(guard, {"braket_guard": "reconcile"}, now=morning + timedelta(minutes=15))
        operations.run_action(guard, {"braket_guard": "digest", "always": True},
                              now=morning + timedelta(days=1))  # the next scheduled run
    finally:
        guard.ledger.clock = lambda: datetime.now(timezone.utc)
    texts = [str(p) for p in harness.slack()]
    assert any(DAY in t for t in texts), texts


def test_review_digest_calls_a_task_that_failed_on_its_own_cancelled_and_prevented(harness, fast_backoff):
    """A rejected task whose cancel never went through (throttled) and which then FAILED on its
    own is reported as "1 cancelled by the guard" and "Spend prevented: $8.30"."""
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10}])
    a = harness.emu.create_task(REGION, FORTE, 100, created_at=T0)
    b = harness.emu.create_task(REGION, FORTE, 100, created_at=T0 + timedelta(seconds=1))
    events = [e for e in harness.take_events() if e["detail"]["status"] == "CREATED"]
    harness.invoke(events[0])
    harness.emu.set_fault("CancelQuantumTask", throttle_rate=1.0)
    with pytest.raises(Exception):
        harness.invoke(events[1], lambda_retries=0)
    harness.emu.clear_faults()
    harness.emu.advance(b, "FAILED")
    for event in harness.take_events():
        harness.invoke(event)
    day = operations.run_action(handler.runtime().guard, {"braket_guard": "digest", "date": DAY}, now=NOW)
    assert day["cancelled"] == 0 and day["prevented_usd"] == "0.00", day


def test_review_access_denied_on_get_device_lets_a_task_run_uncounted(harness, fast_backoff):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 1}])
    harness.emu.set_fault("GetDevice", throttle_rate=1.0, error="AccessDeniedException")
    arn = harness.emu.create_task(REGION, NOVEL, 1000, created_at=T0)
    for status in ("QUEUED", "RUNNING", "COMPLETED"):
        harness.emu.advance(arn, status)
    for event in harness.take_events():  # access denied is a permanent answer: decided, not retried
        harness.invoke(event)  # Lambda's retries run out; the events are dropped
    for minutes in (15, 30, 45):
        operations.run_action(handler.runtime().guard, {"braket_guard": "reconcile"},
                              now=NOW + timedelta(minutes=minutes))
    state = harness.task_state(arn)
    emails = [e["Subject"] for e in harness.emails()]
    assert state is not None or emails, ("a COMPLETED task on a $1 cap: no record, no charge, no alert",
                                         harness.counter("daily", DAY, ACCOUNT))


def test_review_breach_alert_says_still_retrying_for_a_task_that_was_cancelled(harness, monkeypatch):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10}])
    a = harness.emu.create_task(REGION, FORTE, 100, created_at=T0)
    harness.invoke([e for e in harness.take_events() if e["detail"]["status"] == "CREATED"][0])
    b = harness.emu.create_task(REGION, FORTE, 100, created_at=T0)
    created = [e for e in harness.take_events() if e["detail"]["status"] == "CREATED"][0]
    harness.emu.advance(b, "QUEUED")
    queued = [e for e in harness.take_events() if e["detail"]["status"] == "QUEUED"][0]
    real_cancel = braket_api.BraketGateway.cancel
    calls = []

    def cancel(self, task_arn, region):  # the QUEUED delivery runs while the cancel is in flight
        if not calls:
            calls.append(task_arn)
            handler.lambda_handler(queued, None)
        return real_cancel(self, task_arn, region)

    monkeypatch.setattr(braket_api.BraketGateway, "cancel", cancel)
    assert harness.invoke(created, lambda_retries=0)["decision"] == "rejected"
    for event in harness.take_events():
        harness.invoke(event)
    assert harness.emu.task(b)["status"] == "CANCELLED"
    messages = [e["Subject"] + "\n" + e["Message"] for e in harness.emails()]
    assert len(messages) == 1
    assert "still retrying" not in messages[0], messages[0]


class _Died(BaseException):
    """The process dies mid-send (not an error the guard could catch)."""


def test_an_unstopped_alert_cut_off_between_email_and_slack_reaches_slack_after_the_task_is_cancelled(harness, monkeypatch):
    """Found by the model-based test: a "could NOT be cancelled" alert went out by email, the
    process died before Slack, the user then cancelled the task by hand, and Slack never heard."""
    from datetime import datetime, timedelta, timezone

    from braket_guard import handler
    from braket_guard.alerts import notify
    from braket_guard.ops import operations
    from .conftest import FORTE, REGION

    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10}])
    now = datetime.now(timezone.utc)
    first = harness.emu.create_task(REGION, FORTE, 100, created_at=now)
    second = harness.emu.create_task(REGION, FORTE, 100, created_at=now + timedelta(seconds=1))
    created = harness.take_events()
    harness.invoke(created[0])  # the first fits
    harness.emu.fail_next("CancelQuantumTask", 1, error="AccessDeniedException")  # refused for good
    real_send = notify.SlackChannel.send

    def dying_send(self, alert):
        if "could NOT be cancelled" in alert.subject:
            raise _Died()
        return real_send(self, alert)

    monkeypatch.setattr(notify.SlackChannel, "send", dying_send)
    event = created[1]
    try:
        handler.lambda_handler(event, None)
    except _Died:
        pass
    assert harness.task_state(second) == "cancel_failed"
    assert any("could NOT be cancelled" in e["Subject"] for e in harness.emails())
    monkeypatch.setattr(notify.SlackChannel, "send", real_send)
    harness.emu.cancel_task(second)  # the user cancels it by hand, as the email said
    for e in harness.take_events():
        harness.invoke(e)
    assert harness.task_state(second) == "cancelled" and harness.emu.task(first)["status"] == "CREATED"
    guard = handler.runtime().guard
    monkeypatch.setattr(guard.ledger, "clock", lambda: datetime.now(timezone.utc) + timedelta(hours=1))
    operations.run_action(guard, {"braket_guard": "reconcile"}, now=now + timedelta(hours=1))
    assert any("could NOT be cancelled" in p.get("text", "") for p in harness.slack())
    # the documented window of a duplicate: the process died between a send and its settle
    assert 1 <= sum("could NOT be cancelled" in e["Subject"] for e in harness.emails()) <= 2
