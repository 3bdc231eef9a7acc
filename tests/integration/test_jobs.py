"""Hybrid jobs (issue 11): a job's instance time is charged as it runs, stopped with CancelJob at
its cap, trued up when it ends; its tasks are charged as tasks, exactly once. Real handler, moto,
the Braket emulator's jobs API (CreateJob, GetJob, CancelJob, SearchJobs and their events)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from braket_guard import handler
from braket_guard.ops import operations
from braket_guard.tasks.decision import GuardRetry

from .conftest import ACCOUNT, FORTE, REGION

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
GPU = "ml.p3.8xlarge"
RATE = {GPU: {"per_hour_usd": "12.00"}}  # $12 an instance-hour: $0.20 a minute per instance


def job_cap(usd="10", **extra):
    return {"name": "jobs", "window": "total", "group_by": "account", "max_cost_usd": usd,
            "kinds": ["job"], **extra}


def deliver(harness):
    results = []
    pending = harness.take_events()
    while pending:
        results += [harness.invoke(e) for e in pending]
        pending = harness.take_events()
    return results


def start(harness, arn, minutes_ago: float):
    """RUNNING, with startedAt ``minutes_ago`` before now (the emulator's clock set back)."""
    real = harness.emu.clock
    harness.emu.clock = lambda: datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    try:
        harness.emu.advance_job(arn, "RUNNING")
    finally:
        harness.emu.clock = real


def job_record(harness, arn):
    return harness.item(f"JOB#{arn}", "JOB")


def reconcile(now=None):
    return operations.run_action(handler.runtime().guard, {"braket_guard": "reconcile"},
                                 now=now or datetime.now(timezone.utc))


def test_a_job_is_stopped_at_its_cap_and_told(harness):
    harness.configure([job_cap("10")], prices=RATE)
    arn = harness.emu.create_job(REGION, FORTE, instance_type=GPU, instance_count=2)
    (queued,) = deliver(harness)
    assert queued["decision"] == "job_accrued" and harness.emu.job(arn)["status"] == "QUEUED"
    assert job_record(harness, arn)["state"]["S"] == "open"
    start(harness, arn, minutes_ago=20)  # 2 x 20 min x $0.20 = $8 so far, + $6 in the next 15 min
    results = deliver(harness)
    assert results[0]["decision"] == "job_stopped"
    assert harness.emu.job(arn)["status"] == "CANCELLED"
    record = job_record(harness, arn)
    assert record["state"]["S"] == "settled" and record["breached"]["SS"] == ["jobs"]
    assert record["stop_status"]["S"] == "CANCELLING"  # the guard's CancelJob, recorded before the end
    cost = int(record["cost_micros"]["N"])
    assert 8_000_000 <= cost <= 8_100_000  # the billed duration (about 20 minutes) at 2 x $12/h
    assert harness.counter("jobs", "total", ACCOUNT)["cost_micros"] == cost
    (told,) = [e for e in harness.emails() if "hybrid job" in e["Subject"]]
    assert "reached by a hybrid job: stopped" in told["Subject"] and arn in told["Message"]
    assert "2 x ml.p3.8xlarge" in told["Message"]


def test_a_running_job_under_its_cap_accrues_at_each_reconciliation_and_warns_once(harness):
    harness.configure([job_cap("100", warn_at=[0.05])], prices=RATE)
    arn = harness.emu.create_job(REGION, SV1, instance_type=GPU)
    start(harness, arn, minutes_ago=10)  # $2 so far
    deliver(harness)
    assert harness.counter("jobs", "total", ACCOUNT)["cost_micros"] >= 2_000_000
    now = datetime.now(timezone.utc)
    first = reconcile(now + timedelta(minutes=15))  # 25 minutes: $5 = 5% of $100
    assert first["jobs_open"] == 1
    charged = harness.counter("jobs", "total", ACCOUNT)["cost_micros"]
    assert 5_000_000 <= charged <= 5_100_000
    reconcile(now + timedelta(minutes=15))  # the same moment again: nothing more
    assert harness.counter("jobs", "total", ACCOUNT)["cost_micros"] == charged
    assert harness.emu.job(arn)["status"] == "RUNNING"
    warnings = [e for e in harness.emails() if "passed 5%" in e["Subject"]]
    assert len(warnings) == 1


def test_the_end_trues_up_to_billable_duration(harness):
    harness.configure([job_cap("100")], prices=RATE)
    arn = harness.emu.create_job(REGION, SV1, instance_type=GPU)
    start(harness, arn, minutes_ago=30)
    deliver(harness)  # accrued about 30 minutes: $6
    assert harness.counter("jobs", "total", ACCOUNT)["cost_micros"] >= 6_000_000
    harness.emu.advance_job(arn, "COMPLETED", billable_duration=20 * 60 * 1000)  # billed 20 minutes
    deliver(harness)
    record = job_record(harness, arn)
    assert record["state"]["S"] == "settled" and record["billed_source"]["S"].startswith("billableDuration")
    assert harness.counter("jobs", "total", ACCOUNT)["cost_micros"] == 4_000_000  # given back to $4
    assert harness.item("WORK", f"JOB#{arn}") is None


def test_an_implausible_billable_duration_falls_back_to_the_wall_clock(harness):
    harness.configure([job_cap("100")], prices=RATE)
    arn = harness.emu.create_job(REGION, SV1, instance_type=GPU)
    start(harness, arn, minutes_ago=30)
    harness.emu.advance_job(arn, "COMPLETED", billable_duration=30 * 60)  # looks like seconds
    deliver(harness)
    record = job_record(harness, arn)
    assert record["billed_source"]["S"].startswith("estimate")
    assert 6_000_000 <= int(record["cost_micros"]["N"]) <= 6_100_000


def test_reconciliation_finds_a_job_whose_events_were_all_missed(harness):
    harness.configure([job_cap("100")], prices=RATE)
    arn = harness.emu.create_job(REGION, SV1, instance_type=GPU)
    start(harness, arn, minutes_ago=15)
    harness.emu.advance_job(arn, "COMPLETED")
    harness.take_events()  # lost
    result = reconcile()
    assert result["jobs_found"] == 1
    assert job_record(harness, arn)["state"]["S"] == "settled"
    assert 3_000_000 <= harness.counter("jobs", "total", ACCOUNT)["cost_micros"] <= 3_100_000


def test_an_alert_only_job_cap_alerts_and_never_stops(harness):
    harness.configure([job_cap("1", on_breach="alert_only")], prices=RATE)
    arn = harness.emu.create_job(REGION, SV1, instance_type=GPU)
    start(harness, arn, minutes_ago=10)
    deliver(harness)
    assert harness.emu.job(arn)["status"] == "RUNNING"
    (told,) = [e for e in harness.emails() if "hybrid job" in e["Subject"]]
    assert "alert_only" in told["Subject"]


def test_monitor_mode_reports_a_job_over_its_cap_without_stopping_it(harness):
    harness.configure([job_cap("1")], prices=RATE, mode="monitor")
    arn = harness.emu.create_job(REGION, SV1, instance_type=GPU)
    start(harness, arn, minutes_ago=10)
    deliver(harness)
    assert harness.emu.job(arn)["status"] == "RUNNING"
    assert any("monitor" in e["Subject"] for e in harness.emails())


def test_without_a_cap_that_counts_jobs_a_job_event_calls_braket_not_at_all(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 1}])
    arn = harness.emu.create_job(REGION, SV1, instance_type=GPU)
    start(harness, arn, minutes_ago=600)
    harness.emu.reset_calls()
    results = deliver(harness)
    assert [r["decision"] for r in results] == ["ignored", "ignored"]
    assert sum(harness.emu.calls.values()) == 0 and job_record(harness, arn) is None


def test_the_tasks_of_a_job_are_charged_as_tasks_exactly_once(harness):
    harness.configure([job_cap("100"),
                       {"name": "tasks", "window": "total", "group_by": "account", "max_cost_usd": 100},
                       {"name": "both", "window": "total", "group_by": "account", "max_cost_usd": 100,
                        "kinds": ["task", "job"]}], prices=RATE)
    job = harness.emu.create_job(REGION, FORTE, instance_type=GPU)
    start(harness, job, minutes_ago=5)  # $1 of instance time
    task = harness.emu.create_task(REGION, FORTE, 100, job_arn=job)  # $8.30
    harness.emu.advance_job(job, "COMPLETED", billable_duration=5 * 60 * 1000)
    results = deliver(harness)
    deliver(harness)
    assert harness.task_state(task) == "admitted"
    assert any(r.get("decision") == "admitted" for r in results)
    assert harness.counter("tasks", "total", ACCOUNT)["cost_micros"] == 8_300_000
    assert harness.counter("jobs", "total", ACCOUNT)["cost_micros"] == 1_000_000
    assert harness.counter("both", "total", ACCOUNT)["cost_micros"] == 9_300_000


def test_a_job_on_an_unpriced_instance_type_is_stopped_by_an_enforcing_cost_cap(harness):
    unpriced = "ml.g6e.48xlarge"  # a type CreateJob accepts that no price table here lists
    harness.configure([job_cap("100")], prices=RATE)
    assert handler.runtime().guard.config.prices.job_instance_price(unpriced) is None
    arn = harness.emu.create_job(REGION, SV1, instance_type=unpriced)
    deliver(harness)
    assert harness.emu.job(arn)["status"] == "CANCELLED"
    assert any("no price for this instance type" in e["Message"] for e in harness.emails())


def run_cli(*argv):
    import io

    from braket_guard import cli
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_status_explain_report_and_digest_show_jobs_next_to_tasks(harness):
    import json
    harness.configure([job_cap("10"), {"name": "tasks", "window": "total", "group_by": "account",
                                       "max_cost_usd": 100}], prices=RATE)
    harness.monkeypatch.setenv("BRAKET_GUARD_PRICES", json.dumps(RATE))
    arn = harness.emu.create_job(REGION, FORTE, instance_type=GPU, instance_count=2)
    harness.emu.create_task(REGION, FORTE, 100, job_arn=arn)
    start(harness, arn, minutes_ago=20)
    deliver(harness)  # stopped at the $10 cap
    code, out, err = run_cli("status")
    assert code == 0, err
    assert "Hybrid jobs created this month or still running:" in out and "2 x ml.p3.8xlarge" in out and "settled" in out
    code, out, _ = run_cli("status", "--json")
    (row,) = json.loads(out)["jobs"]
    assert row["job"] == arn and row["status"] == "CANCELLED" and row["breached"] == ["jobs"]
    code, out, _ = run_cli("explain", arn)
    assert code == 0 and "Instances: 2 x ml.p3.8xlarge" in out and "jobs (total" in out
    code, out, _ = run_cli("explain", arn.replace(arn.rsplit("/", 1)[-1], "never-seen"))
    assert code == 1 and "no record of this hybrid job" in out
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    code, out, err = run_cli("report", "--month", month)
    assert code == 0, err
    assert "Hybrid jobs created in the same period" in out and arn.rsplit("/", 1)[-1] in out
    data = json.loads(run_cli("report", "--month", month, "--json")[1])
    (job,) = data["jobs"]
    assert job["job"] == arn and job["status"] == "CANCELLED"
    digest = operations.run_action(handler.runtime().guard, {"braket_guard": "digest",
                                                             "date": datetime.now(timezone.utc).date().isoformat()})
    assert digest["sent"] is True
    (mail,) = [e for e in harness.emails() if "digest" in e["Subject"]]
    assert "Hybrid jobs (instance time" in mail["Message"] and "stopped by the guard at jobs" in mail["Message"]


def test_a_throttled_stop_is_retried_and_a_stop_that_did_not_take_is_asked_again(harness, monkeypatch):
    harness.configure([job_cap("10")], prices=RATE)
    monkeypatch.setattr(harness.emu, "cancel_completes", False)  # CancelJob leaves it CANCELLING
    arn = harness.emu.create_job(REGION, SV1, instance_type=GPU, instance_count=2)
    harness.take_events()
    start(harness, arn, minutes_ago=20)
    harness.emu.fail_next("CancelJob", 40)  # throttled through every retry of every delivery
    (event,) = harness.take_events()
    with pytest.raises(GuardRetry):  # never a decision: Lambda redelivers the event
        harness.invoke(event)
    assert harness.emu.job(arn)["status"] == "RUNNING"
    assert not [e for e in harness.emails() if "hybrid job" in e["Subject"]]  # told when it is stopped
    harness.emu.fail_next("CancelJob", 0)
    reconcile()  # the next accrual stops it
    assert harness.emu.job(arn)["status"] == "CANCELLING"
    assert job_record(harness, arn)["state"]["S"] == "stopping"
    harness.take_events()
    harness.emu.advance_job(arn, "RUNNING")  # the cancel did not take: it runs on
    harness.take_events()
    harness.emu.reset_calls()
    reconcile()
    assert harness.emu.calls["CancelJob"] == 1  # asked again
    assert len([e for e in harness.emails() if "hybrid job" in e["Subject"]]) == 1  # told once
