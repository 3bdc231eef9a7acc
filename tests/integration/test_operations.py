"""Reconciliation, simulator true-up, the daily digest and EMF metrics, against the emulator and moto."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from braket_guard import handler

from .conftest import ACCOUNT, FORTE, REGION, SV1

DAY = "2026-11-28"
NOW = datetime(2026, 11, 28, 18, 0, tzinfo=timezone.utc)


def reconcile(harness, now=NOW):
    from braket_guard.ops import operations
    return operations.run_action(handler.runtime().guard, {"braket_guard": "reconcile"}, now=now)


def digest(harness, now=NOW, **extra):
    from braket_guard.ops import operations
    return operations.run_action(handler.runtime().guard, {"braket_guard": "digest", **extra}, now=now)


def make_tasks(harness, count, shots=10, device=FORTE, start=datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)):
    arns = [harness.emu.create_task(REGION, device, shots, created_at=start + timedelta(seconds=i))
            for i in range(count)]
    return arns, harness.take_events()


def test_reconcile_admits_tasks_no_event_announced_and_never_twice(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_shots": 10**6}])
    arns, events = make_tasks(harness, 120)  # created before the guard saw anything
    harness.emu.reset_calls()
    report = reconcile(harness)
    assert (report["tasks_seen"], report["admitted"], report["corrections"]) == (120, 120, 120)
    assert report["correction_usd"] == "132.00"  # 120 x (0.30 + 10 x 0.08)
    assert harness.emu.calls == {"SearchQuantumTasks": 2}  # 100 a page
    assert harness.counter("daily", DAY, ACCOUNT)["shots"] == 1200
    again = reconcile(harness)
    assert (again["tasks_seen"], again["corrections"]) == (120, 0)
    assert {harness.invoke(e)["decision"] for e in events} == {"duplicate"}
    assert harness.counter("daily", DAY, ACCOUNT)["shots"] == 1200


def test_reconcile_after_events_changes_nothing(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_shots": 10**6}])
    _, events = make_tasks(harness, 20)
    for event in events:
        harness.invoke(event)
    report = reconcile(harness)
    assert (report["tasks_seen"], report["corrections"], report["correction_usd"]) == (20, 0, "0.00")
    assert harness.counter("daily", DAY, ACCOUNT)["tasks"] == 20


def test_reconcile_refunds_a_cancellation_whose_event_was_lost(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_shots": 100}])
    (arn,), events = make_tasks(harness, 1, shots=60)
    harness.invoke(events[0])
    harness.emu.cancel_task(arn)
    harness.take_events()  # lost
    report = reconcile(harness)
    assert report["refunded"] == 1
    assert harness.counter("daily", DAY, ACCOUNT)["shots"] == 0


def test_reconcile_rejects_and_cancels_unseen_tasks_over_the_cap(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_shots": 25}])
    arns, _ = make_tasks(harness, 4, shots=10)
    report = reconcile(harness)
    assert (report["admitted"], report["rejected"]) == (2, 2)
    statuses = [harness.emu.task(a)["status"] for a in arns]
    assert statuses == ["CREATED", "CREATED", "CANCELLED", "CANCELLED"]  # oldest admitted first


def test_large_correction_alerts_once_a_day(harness, monkeypatch):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_shots": 10**6}])
    monkeypatch.setenv("BRAKET_GUARD_RECONCILE_ALERT_USD", "1")
    make_tasks(harness, 2)
    assert reconcile(harness)["alerted"] is True
    make_tasks(harness, 2)
    second = reconcile(harness)
    assert second["corrections"] == 2 and "alerted" not in second
    subjects = [e["Subject"] for e in harness.emails()]
    assert subjects == ["braket-guard: braket-guard reconciliation corrected the ledger"]


def test_simulator_charge_trued_up_from_its_run_time(harness):
    harness.configure([{"name": "sims", "window": "day", "group_by": "account", "max_cost_usd": 10}])
    arn = harness.emu.create_task(REGION, SV1, 100, created_at="2026-11-28T08:00:00Z")
    created = harness.take_events()[0]
    assert harness.invoke(created)["cost_usd"] == "0.00375"
    for status in ("QUEUED", "RUNNING"):
        harness.emu.advance(arn, status)
    harness.emu.advance(arn, "COMPLETED", ended_at="2026-11-28T08:02:00Z")
    completed = harness.take_events()[-1]
    summary = harness.invoke(completed)
    assert summary["decision"] == "trued_up"
    assert (summary["cost_usd"], summary["correction_usd"]) == ("0.15", "0.14625")  # 2 min x 0.075
    assert "estimate" in summary["reason"]
    assert harness.invoke(completed)["decision"] == "duplicate"
    assert harness.counter("sims", DAY, ACCOUNT)["cost_micros"] == 150_000
    assert reconcile(harness)["trued_up"] == 0


def test_reconcile_trues_up_a_simulator_whose_completion_was_lost(harness):
    harness.configure([{"name": "sims", "window": "day", "group_by": "account", "max_cost_usd": 10}])
    arn = harness.emu.create_task(REGION, SV1, 100, created_at="2026-11-28T08:00:00Z")
    harness.invoke(harness.take_events()[0])
    harness.emu.advance(arn, "COMPLETED", ended_at="2026-11-28T08:01:00Z")
    harness.take_events()
    report = reconcile(harness)
    assert report["trued_up"] == 1
    assert harness.counter("sims", DAY, ACCOUNT)["cost_micros"] == 75_000


def test_digest_reports_the_day_once(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "device", "max_cost_usd": 20,
                        "devices": ["qpu"]}])
    arns = [harness.emu.create_task(REGION, FORTE, 100, tags={"team": "qml"},
                                    created_at=f"2026-11-28T{8 + i:02d}:00:00Z") for i in range(3)]
    while events := harness.take_events():  # the cancel's CANCELLED event too
        for event in events:
            harness.invoke(event)
    result = digest(harness)  # 18:00 UTC: today so far
    assert result["sent"] is True and (result["admitted"], result["cancelled"]) == (2, 1)
    (email,) = [e for e in harness.emails() if "digest" in e["Subject"]]
    text = email["Message"]
    assert "Braket daily digest for 2026-11-28 (UTC)" in text
    assert "- daily (day 2026-11-28, ionq/Forte-1): $16.60/$20.00 (83%), 1 rejected" in text
    assert "Tasks: 2 admitted ($16.60), 1 rejected, 1 cancelled by the guard, 0 refunded" in text
    assert "Spend prevented: $8.30" in text
    assert "- team=qml: 2 task(s), $16.60" in text
    assert harness.slack()[-1]["text"].startswith("Braket daily digest for 2026-11-28")
    assert digest(harness)["reason"] == "already sent for this day"
    assert len([e for e in harness.emails() if "digest" in e["Subject"]]) == 1  # no second one


def test_morning_digest_covers_yesterday_and_quiet_days_send_nothing(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_shots": 100}])
    morning = datetime(2026, 11, 29, 7, 0, tzinfo=timezone.utc)
    quiet = digest(harness, now=morning)
    assert (quiet["day"], quiet["sent"], quiet["reason"]) == ("2026-11-28", False, "nothing happened")
    forced = digest(harness, now=morning, always=True)
    assert forced["sent"] is True
    assert "Guard errors: none" in harness.emails()[-1]["Message"]


def test_digest_counts_tasks_the_guard_missed(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_shots": 100}])
    make_tasks(harness, 2)  # events lost
    result = digest(harness, date="2026-11-28")
    assert result["sent"] is True
    assert "2 task(s) Braket reports that the guard has not seen yet" in harness.emails()[-1]["Message"]


def test_unknown_action_is_dropped(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_shots": 100}])
    assert handler.lambda_handler({"braket_guard": "explode"}, None)["decision"] == "dropped"
    assert handler.lambda_handler({"braket_guard": "digest", "date": "yesterday"}, None)["decision"] == "dropped"


def test_scheduled_invocation_through_the_handler(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_shots": 10**6}])
    harness.emu.create_task(REGION, FORTE, 10)  # created now: inside the current window
    harness.take_events()
    summary = handler.lambda_handler({"braket_guard": "reconcile"}, None)
    assert summary["action"] == "reconcile" and summary["admitted"] == 1


def test_emf_lines_for_decisions(harness, capsys):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10}])
    _, events = make_tasks(harness, 2, shots=100)
    capsys.readouterr()
    for event in events:
        harness.invoke(event)
    for event in harness.take_events():  # CANCELLING and CANCELLED of the rejected task
        harness.invoke(event)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    admitted = [l for l in lines if "TasksAdmitted" in l]
    rejected = [l for l in lines if "TasksRejected" in l]
    prevented = [l for l in lines if "CostPreventedMicroUSD" in l]
    assert len(admitted) == 1 and len(rejected) == 1 and len(prevented) == 1
    assert admitted[0]["Cap"] == "daily" and admitted[0]["CostAdmittedMicroUSD"] == 8_300_000
    assert rejected[0]["TasksCancelled"] == 1  # the cancel was accepted ...
    assert prevented[0]["Cap"] == "daily" and prevented[0]["CostPreventedMicroUSD"] == 8_300_000  # ... and took
    for line in lines:
        directive = line["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "BraketGuard"
        for metric in directive["Metrics"]:
            assert isinstance(line[metric["Name"]], int)
        for dimension in directive["Dimensions"][0]:
            assert isinstance(line[dimension], str)
