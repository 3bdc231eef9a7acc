"""The handler end to end: real boto3 over HTTP to moto, the Braket emulator and a Slack sink."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from braket_guard import handler
from braket_guard.config import ConfigError

from .conftest import ACCOUNT, AQUILA, FORTE, NOVEL, REGION, SV1

DAY = "2026-11-28"
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


def cost_cap(name="daily", usd=50, **extra):
    return {"name": name, "window": "day", "group_by": "account", "max_cost_usd": usd, **extra}


def created_event(harness, device=FORTE, shots=100, tags=None, created_at=T0, region=REGION):
    arn = harness.emu.create_task(region, device, shots, tags=tags, created_at=created_at)
    events = [e for e in harness.take_events() if e["detail"]["quantumTaskArn"] == arn]
    assert [e["detail"]["status"] for e in events] == ["CREATED"]
    return arn, events[0]


def test_admits_a_priced_task_with_zero_braket_calls(harness):
    harness.configure([cost_cap()])
    arn, event = created_event(harness)
    harness.emu.reset_calls()
    summary = harness.invoke(event)
    assert summary["decision"] == "admitted"
    assert summary["cost_usd"] == "8.30" and summary["caps"] == ["daily"]
    assert sum(harness.emu.calls.values()) == 0
    counter = harness.counter("daily", DAY, ACCOUNT)
    assert (counter["cost_micros"], counter["shots"], counter["tasks"]) == (8_300_000, 100, 1)
    assert harness.task_state(arn) == "admitted"
    json.dumps(summary)


def test_every_later_and_repeated_event_is_a_duplicate(harness):
    harness.configure([cost_cap()])
    arn, created = created_event(harness)
    first = harness.invoke(created)
    harness.emu.advance(arn, "QUEUED")
    harness.emu.advance(arn, "RUNNING")
    harness.emu.advance(arn, "COMPLETED")
    later = harness.take_events()
    decisions = [harness.invoke(e)["decision"] for e in [created, created] + later + later]
    assert first["decision"] == "admitted"
    assert set(decisions) == {"duplicate"}
    assert harness.counter("daily", DAY, ACCOUNT)["cost_micros"] == 8_300_000


def test_out_of_order_queued_first_then_created(harness):
    harness.configure([cost_cap()])
    arn, created = created_event(harness)
    queued = harness.emu.event_for(arn, "QUEUED")
    assert harness.invoke(queued)["decision"] == "admitted"
    assert harness.invoke(created)["decision"] == "duplicate"


def test_cancelled_before_created_is_never_charged(harness):
    harness.configure([cost_cap()])
    arn, created = created_event(harness)
    harness.emu.cancel_task(arn)
    cancelled = [e for e in harness.take_events() if e["detail"]["status"] == "CANCELLED"][0]
    assert harness.invoke(cancelled)["decision"] == "ignored"
    assert harness.invoke(created)["decision"] == "duplicate"
    assert harness.counter("daily", DAY, ACCOUNT) == {}


def test_refund_exactly_once_frees_room(harness):
    harness.configure([cost_cap(usd=10)])
    a, a_created = created_event(harness)            # $8.30
    b, b_created = created_event(harness)            # $8.30: does not fit
    assert harness.invoke(a_created)["decision"] == "admitted"
    rejected = harness.invoke(b_created)
    assert rejected["decision"] == "rejected" and rejected["cancelled"] is True
    assert harness.emu.task(b)["status"] == "CANCELLED"
    harness.take_events()
    harness.emu.cancel_task(a)  # the user cancels A
    a_cancelled = [e for e in harness.take_events() if e["detail"]["status"] == "CANCELLED"][0]
    assert harness.invoke(a_cancelled)["decision"] == "refunded"
    assert harness.invoke(a_cancelled)["decision"] == "duplicate"
    counter = harness.counter("daily", DAY, ACCOUNT)
    assert (counter["cost_micros"], counter["shots"], counter["tasks"]) == (0, 0, 0)
    c, c_created = created_event(harness)
    assert harness.invoke(c_created)["decision"] == "admitted"
    # B stays rejected: its redelivered CREATED never admits it
    assert harness.invoke(b_created)["decision"] == "duplicate"
    assert harness.task_state(b) in ("cancel_requested", "cancelled")


def test_failed_task_is_refunded(harness):
    harness.configure([{"name": "shots", "window": "month", "group_by": "device", "max_shots": 1000}])
    arn, created = created_event(harness, shots=600)
    harness.invoke(created)
    harness.emu.advance(arn, "FAILED")
    failed = harness.take_events()[-1]
    assert harness.invoke(failed)["decision"] == "refunded"
    assert harness.counter("shots", "2026-11", FORTE)["shots"] == 0


def test_same_two_tasks_one_day_in_utc_two_days_in_tokyo(harness):
    for zone, expected in (("UTC", ["admitted", "rejected"]), ("Asia/Tokyo", ["admitted", "admitted"])):
        harness.emu.reset()
        harness.configure([{"name": f"daily-{zone.replace('/', '-')}", "window": "day",
                            "group_by": "account", "max_shots": 150}], timezone=zone)
        _, first = created_event(harness, created_at="2026-11-28T14:30:00Z")
        _, second = created_event(harness, created_at="2026-11-28T15:30:00Z")  # 00:30 in Tokyo
        assert [harness.invoke(e)["decision"] for e in (first, second)] == expected, zone


def test_monitor_mode_cancels_nothing_but_alerts(harness):
    harness.configure([cost_cap(usd=10)], mode="monitor")
    _, a = created_event(harness)
    b, b_event = created_event(harness)
    harness.invoke(a)
    summary = harness.invoke(b_event)
    # monitor mode cancels nothing, so the task will run: it is charged like any task that runs
    assert summary["decision"] == "overrun" and summary["state"] == "overrun"
    assert summary["mode"] == "monitor"
    assert harness.emu.task(b)["status"] == "CREATED"
    assert harness.emu.calls["CancelQuantumTask"] == 0
    assert harness.counter("daily", DAY, ACCOUNT)["cost_micros"] == 2 * 8_300_000
    emails = harness.emails()
    assert len(emails) == 1 and "not cancelled: monitor mode never cancels" in emails[0]["Message"]
    assert len(harness.slack()) == 1


def test_alert_only_cap_does_not_cancel(harness):
    harness.configure([cost_cap(usd=10, on_breach="alert_only")])
    _, a = created_event(harness)
    b, b_event = created_event(harness)
    harness.invoke(a)
    assert harness.invoke(b_event)["decision"] == "admitted"  # alert_only caps never reject
    assert harness.emu.task(b)["status"] == "CREATED"
    assert harness.counter("daily", DAY, ACCOUNT)["cost_micros"] == 2 * 8_300_000  # and never stop counting
    (email,) = harness.emails()
    assert "admitted (alert_only cap: never cancels)" in email["Message"]
    assert "Already used: $16.60 of $10.00" in email["Message"]


def test_one_breach_alert_per_cap_group_and_window(harness):
    harness.configure([cost_cap(usd=10)])
    events = [created_event(harness)[1] for _ in range(5)]
    decisions = [harness.invoke(e)["decision"] for e in events]
    assert decisions == ["admitted"] + ["rejected"] * 4
    emails = harness.emails()
    assert len(emails) == 1
    assert emails[0]["Subject"] == "braket-guard: Braket cap 'daily' reached: task cancelled"
    assert "Already used: $8.30 of $10.00" in emails[0]["Message"]
    assert len(harness.slack()) == 1
    counter = harness.counter("daily", DAY, ACCOUNT)
    assert counter["rejected_tasks"] == 4 and counter["rejected_cost_micros"] == 4 * 8_300_000


def test_warning_once_per_level(harness):
    harness.configure([{"name": "shots", "window": "day", "group_by": "account", "max_shots": 1000,
                        "warn_at": [0.5, 0.8]}])
    events = [created_event(harness, shots=s)[1] for s in (400, 450, 100, 40)]  # 40%, 85%, 95%, 99%
    for event in events:
        harness.invoke(event)
    emails = harness.emails()
    assert [e["Subject"] for e in emails] == ["braket-guard: Braket cap 'shots' passed 80%"]
    assert "Used: 850 of 1,000 shots" in emails[0]["Message"]


def test_task_too_big_alone_is_rejected_without_touching_counters(harness):
    harness.configure([{"name": "shots", "window": "day", "group_by": "account", "max_shots": 1000}])
    arn, event = created_event(harness, shots=5000)
    summary = harness.invoke(event)
    assert summary["decision"] == "rejected" and summary["breached"] == ["shots"]
    assert harness.emu.task(arn)["status"] == "CANCELLED"
    assert harness.counter("shots", DAY, ACCOUNT).get("shots", 0) == 0


def test_cancel_queued_clears_the_backlog(harness):
    harness.configure([{"name": "dev", "window": "day", "group_by": "device", "max_shots": 300,
                        "on_breach": "cancel_queued"},
                       {"name": "sim", "window": "day", "group_by": "account", "devices": ["simulator"],
                        "max_shots": 10**6}])
    admitted = [created_event(harness, shots=100) for _ in range(3)]
    other_device, other_event = created_event(harness, device=AQUILA, shots=100)
    for arn, event in admitted + [(other_device, other_event)]:
        assert harness.invoke(event)["decision"] == "admitted"
    harness.emu.advance(admitted[0][0], "QUEUED")
    harness.emu.advance(admitted[1][0], "RUNNING")  # running: not part of the backlog
    harness.take_events()
    offender, event = created_event(harness, shots=100)
    summary = harness.invoke(event)
    assert summary["decision"] == "rejected" and summary["backlog_cancelled"] == 2
    statuses = {arn: harness.emu.task(arn)["status"] for arn, _ in admitted}
    assert statuses == {admitted[0][0]: "CANCELLED", admitted[1][0]: "RUNNING", admitted[2][0]: "CANCELLED"}
    assert harness.emu.task(offender)["status"] == "CANCELLED"
    assert harness.emu.task(other_device)["status"] == "CREATED"  # another group
    # The backlog's CANCELLED events refund what it had been charged
    results = [harness.invoke(e)["decision"] for e in harness.take_events()]
    assert results.count("refunded") == 2
    assert harness.counter("dev", DAY, FORTE)["shots"] == 100
    assert "Backlog: 2 created or queued task(s)" in harness.emails()[0]["Message"]


def test_unknown_device_priced_from_get_device_once(harness):
    harness.configure([cost_cap(usd=100)])
    _, first = created_event(harness, device=NOVEL, shots=10)
    _, second = created_event(harness, device=NOVEL, shots=20)
    harness.emu.reset_calls()
    assert harness.invoke(first)["cost_usd"] == "0.80"  # 0.30 + 10 x 0.05
    assert harness.invoke(second)["cost_usd"] == "1.30"
    assert harness.emu.calls["GetDevice"] == 1


def test_unpriceable_device_is_over_every_cost_cap_but_not_shot_caps(harness, fast_backoff):
    harness.configure([cost_cap(usd=100), {"name": "shots", "window": "day", "group_by": "account",
                                           "max_shots": 10**6}])
    arn, event = created_event(harness, device=NOVEL, shots=10)
    harness.emu.remove_device(NOVEL)  # a permanent answer: GetDevice says ResourceNotFound
    summary = harness.invoke(event)
    assert summary["decision"] == "rejected" and summary["breached"] == ["daily"]
    assert summary["cost_usd"] is None
    assert harness.emu.task(arn)["status"] == "CANCELLED"
    (email,) = harness.emails()
    assert email["Subject"].startswith("braket-guard: Braket task could not be priced for cap 'daily'")
    assert "cost unknown" in email["Message"]


def test_price_override_beats_builtin(harness):
    harness.configure([cost_cap()], prices={FORTE: {"per_task_usd": "0", "per_shot_usd": "0.01"}})
    _, event = created_event(harness, shots=100)
    assert harness.invoke(event)["cost_usd"] == "1.00"


def test_simulator_charged_minimum_duration(harness):
    harness.configure([cost_cap()])
    _, event = created_event(harness, device=SV1, shots=1000)
    assert harness.invoke(event)["cost_usd"] == "0.00375"


def test_tag_caps_read_tags_once_per_task(harness):
    harness.configure([{"name": "team", "window": "day", "group_by": "tag:team", "max_shots": 150}])
    _, a = created_event(harness, tags={"team": "qml"})
    _, b = created_event(harness, tags={"team": "chem"})
    c_arn, c = created_event(harness, tags={"team": "qml"})
    harness.emu.reset_calls()
    assert [harness.invoke(e)["decision"] for e in (a, b, c)] == ["admitted", "admitted", "rejected"]
    assert harness.invoke(a)["decision"] == "duplicate"
    assert harness.emu.calls["GetQuantumTask"] == 3
    assert harness.counter("team", DAY, "qml")["shots"] == 100
    assert harness.counter("team", DAY, "chem")["shots"] == 100


def test_untagged_tasks_share_one_group(harness):
    harness.configure([{"name": "team", "window": "day", "group_by": "tag:team", "max_shots": 150}])
    _, a = created_event(harness)
    _, b = created_event(harness)
    assert [harness.invoke(e)["decision"] for e in (a, b)] == ["admitted", "rejected"]
    assert harness.counter("team", DAY, "(untagged)")["shots"] == 100


def test_first_seen_completed_over_the_cap_is_charged_and_reported(harness):
    harness.configure([{"name": "shots", "window": "day", "group_by": "account", "max_shots": 150}])
    _, a = created_event(harness)
    harness.invoke(a)
    b, _ = created_event(harness)
    for status in ("QUEUED", "RUNNING", "COMPLETED"):
        harness.emu.advance(b, status)
    completed = harness.take_events()[-1]
    harness.emu.reset_calls()
    summary = harness.invoke(completed)
    assert summary["decision"] == "overrun" and summary["breached"] == ["shots"]
    assert harness.emu.calls["CancelQuantumTask"] == 0  # nothing left to cancel
    assert harness.counter("shots", DAY, ACCOUNT)["shots"] == 200  # spent money counts
    subjects = sorted(e["Subject"] for e in harness.emails())
    assert subjects == ["braket-guard: Braket cap 'shots' reached: task not cancelled: it was already "
                        "running when the guard first saw it"[:100 - 3] + "...",
                        "braket-guard: Braket task ran despite cap shots"]


def test_first_seen_completed_that_fits_is_admitted(harness):
    harness.configure([cost_cap()])
    arn, _ = created_event(harness)
    for status in ("QUEUED", "RUNNING", "COMPLETED"):
        harness.emu.advance(arn, status)
    assert harness.invoke(harness.take_events()[-1])["decision"] == "admitted"


def test_a_task_that_finished_before_its_cancel_is_charged_once_it_is_known_to_have_run(harness):
    harness.configure([{"name": "shots", "window": "day", "group_by": "account", "max_shots": 150}])
    _, a = created_event(harness)
    harness.invoke(a)
    b, b_created = created_event(harness)
    for status in ("QUEUED", "RUNNING", "COMPLETED"):
        harness.emu.advance(b, status)  # it finished before the guard saw it
    completed = harness.take_events()[-1]
    summary = harness.invoke(b_created)  # the cancel meets ConflictException: it had ended
    assert summary["decision"] == "rejected" and summary["cancelled"] is False
    assert summary["state"] == "cancel_requested"
    assert harness.invoke(b_created)["decision"] == "duplicate"
    (breach,) = harness.emails()
    assert "not cancelled: it had already ended when the guard tried" in breach["Message"]
    assert harness.invoke(completed)["decision"] == "overrun"
    assert harness.counter("shots", DAY, ACCOUNT)["shots"] == 200
    subjects = [e["Subject"] for e in harness.emails()]
    assert subjects[1:] == ["braket-guard: Braket task ran despite cap shots"]
    assert "could NOT be cancelled" not in " ".join(subjects)


def test_redelivery_finishes_a_cancel_that_was_throttled(harness, fast_backoff):
    harness.configure([{"name": "shots", "window": "day", "group_by": "account", "max_shots": 150}])
    _, a = created_event(harness)
    harness.invoke(a)
    b, b_created = created_event(harness)
    harness.emu.set_fault("CancelQuantumTask", throttle_rate=1.0)
    with pytest.raises(Exception, match="redeliver"):
        harness.invoke(b_created, lambda_retries=0)
    assert harness.task_state(b) == "rejected"  # its cancel is still owed
    assert harness.emu.task(b)["status"] == "CREATED"
    harness.emu.clear_faults()
    summary = harness.invoke(b_created)
    assert summary["decision"] == "rejected" and summary["cancelled"] is True
    assert harness.emu.task(b)["status"] == "CANCELLED"
    assert len(harness.emails()) == 1  # the breach, sent once


def test_slack_500_changes_nothing_that_is_cancelled(harness):
    harness.configure([cost_cap(usd=10)])
    harness.sink.fail_with(500)
    _, a = created_event(harness)
    b, b_event = created_event(harness)
    harness.invoke(a)
    summary = harness.invoke(b_event)
    assert summary["decision"] == "rejected" and summary["cancelled"] is True
    assert harness.emu.task(b)["status"] == "CANCELLED"
    assert len(harness.sink.requests) == 3  # tried, with retries
    assert harness.slack() == []
    assert len(harness.emails()) == 1  # email still delivered


def test_missing_sns_topic_does_not_block_enforcement(harness, monkeypatch):
    harness.configure([cost_cap(usd=10)])
    monkeypatch.setenv("BRAKET_GUARD_SNS_TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic")
    _, a = created_event(harness)
    b, b_event = created_event(harness)
    harness.invoke(a)
    assert harness.invoke(b_event)["cancelled"] is True
    assert len(harness.slack()) == 1


@pytest.mark.parametrize("event", [
    {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}},
    {"source": "aws.braket", "detail-type": "Braket Task State Change", "detail": {"status": "CREATED"}},
    "not even a dict",
])
def test_malformed_and_foreign_events_are_dropped(harness, event, caplog):
    harness.configure([cost_cap()])
    summary = handler.lambda_handler(event, None)
    assert summary["decision"] == "dropped"
    dropped = [json.loads(r.getMessage()) for r in caplog.records if "event_dropped" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0]["level"] == "WARNING"


def test_bad_configuration_fails_loudly(harness, monkeypatch):
    harness.configure([cost_cap()])
    monkeypatch.setenv("BRAKET_GUARD_CAPS", json.dumps([{**cost_cap(), "window": "fortnight"}]))
    _, event = created_event(harness)
    with pytest.raises(ConfigError, match=r"BRAKET_GUARD_CAPS\[0\]\.window"):
        handler.lambda_handler(event, None)


def test_missing_table_raises_for_lambda_to_retry(harness, monkeypatch):
    harness.configure([cost_cap()])
    monkeypatch.setenv("BRAKET_GUARD_TABLE", "no-such-table")
    _, event = created_event(harness)
    with pytest.raises(Exception, match="ResourceNotFound"):
        handler.lambda_handler(event, None)


def test_one_structured_log_line_per_decision(harness, caplog):
    harness.configure([cost_cap()])
    _, event = created_event(harness)
    caplog.clear()
    harness.invoke(event)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "braket_guard"]
    decisions = [line for line in lines if line["message"] == "decision"]
    assert len(decisions) == 1 and decisions[0]["decision"] == "admitted"


def count_dynamodb_calls(harness):
    """Count the DynamoDB operations the handler's own client sends."""
    calls: list[str] = []
    client = handler.runtime().guard.ledger.client
    client.meta.events.register("before-call.dynamodb.*",
                                lambda model, **_: calls.append(model.name), unique_id=f"count-{id(calls)}")
    return calls


def test_calls_per_event(harness):
    harness.configure([cost_cap()])
    arn, created = created_event(harness)
    calls = count_dynamodb_calls(harness)
    harness.emu.reset_calls()
    assert harness.invoke(created)["decision"] == "admitted"
    assert calls == ["BatchGetItem", "TransactWriteItems"]  # the admitted event: 2 DynamoDB calls (record and counter read together)
    assert sum(harness.emu.calls.values()) == 0  # and no Braket call
    calls.clear()
    harness.emu.advance(arn, "QUEUED")
    assert harness.invoke(harness.take_events()[-1])["decision"] == "duplicate"
    assert calls == ["BatchGetItem"]  # a later event of the same task: 1


def test_calls_per_event_with_warnings(harness):
    harness.configure([cost_cap(warn_at=[0.8])])
    _, created = created_event(harness)
    calls = count_dynamodb_calls(harness)
    harness.invoke(created)
    # the counter is read with the record (one BatchGetItem); the charge's transaction is bounded
    # below the warning level, so it proves no warning is due: no read after it, no work to finish
    assert calls == ["BatchGetItem", "TransactWriteItems"]


def test_cancel_failure_alerts_are_bounded_per_day(harness, monkeypatch):
    from braket_guard.tasks import alerting
    monkeypatch.setattr(alerting, "UNSTOPPED_ALERTS_PER_DAY", 2)
    harness.configure([{"name": "shots", "window": "day", "group_by": "account", "max_shots": 150}])
    _, a = created_event(harness)
    harness.invoke(a)
    late = [created_event(harness)[1] for _ in range(4)]
    harness.emu.set_fault("CancelQuantumTask", throttle_rate=1.0, error="AccessDeniedException")
    for event in late:
        assert harness.invoke(event)["cancelled"] is False
    failures = [e for e in harness.emails() if "could NOT be cancelled" in e["Subject"]]
    assert len(failures) == 2
    assert "This is the last such alert today" in failures[1]["Message"]
