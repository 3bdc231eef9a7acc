"""Issue 19, item 7: the job stop projection looks one reconcile period ahead, the period the
module deploys (BRAKET_GUARD_RECONCILE_SECONDS), not a fixed 15 minutes. Real handler, moto, the
Braket emulator's jobs API, as in test_jobs.py."""

from __future__ import annotations

import pytest

from braket_guard.config import ConfigError, load_config

from .conftest import REGION
from .test_jobs import GPU, RATE, SV1, deliver, job_cap, start


def run_job_20_minutes(harness, reconcile_seconds: str | None) -> tuple[str, list]:
    """A $15 job budget and one $12/h instance that has run 20 minutes ($4 so far)."""
    harness.configure([job_cap("15")], prices=RATE)
    if reconcile_seconds is not None:
        harness.monkeypatch.setenv("BRAKET_GUARD_RECONCILE_SECONDS", reconcile_seconds)
    arn = harness.emu.create_job(REGION, SV1, instance_type=GPU)
    deliver(harness)
    start(harness, arn, minutes_ago=20)
    return arn, deliver(harness)


def test_the_default_period_projects_15_minutes(harness):
    """$4 + 15 minutes ($3) = $7 fits the $15 budget: the job runs on."""
    arn, results = run_job_20_minutes(harness, None)
    assert harness.emu.job(arn)["status"] == "RUNNING", results
    assert results[0]["decision"] == "job_accrued", results


def test_an_hourly_reconciliation_projects_an_hour(harness):
    """With reconcile_schedule = rate(1 hour) the next accrual is an hour away: queued, the hour
    ($12) fits the $15 budget; running 20 minutes, $4 + $12 passes it before the next accrual,
    so the guard stops the job now (with 15 minutes it would run on, see above)."""
    arn, results = run_job_20_minutes(harness, "3600")
    assert results[0]["decision"] == "job_stopped", results
    assert harness.emu.job(arn)["status"] == "CANCELLED"


def test_a_short_period_projects_less(harness):
    """rate(5 minutes) and a $5 budget: $4 + 5 minutes ($1) = $5 fits, the job runs on (with the
    fixed 15 minutes it would have been stopped)."""
    harness.configure([job_cap("5")], prices=RATE)
    harness.monkeypatch.setenv("BRAKET_GUARD_RECONCILE_SECONDS", "300")
    arn = harness.emu.create_job(REGION, SV1, instance_type=GPU)
    deliver(harness)
    start(harness, arn, minutes_ago=19.5)
    results = deliver(harness)
    assert harness.emu.job(arn)["status"] == "RUNNING", results


BASE = {"BRAKET_GUARD_TABLE": "braket-guard-ledger"}
# as Terraform renders them: group_by and on_breach defaulted
JOB_CAPS = ('[{"name": "jobs", "window": "month", "group_by": "account", "max_cost_usd": 100, '
            '"on_breach": "cancel_task", "kinds": ["task", "job"]}]')
TASK_CAPS = '[{"name": "tasks", "window": "day", "group_by": "account", "max_shots": 100, "on_breach": "cancel_task"}]'


@pytest.mark.parametrize("text,expected", [(None, 900), ("900", 900), ("300", 300), ("86400", 86400), ("0", None)])
def test_the_loader_reads_the_period(text, expected):
    env = dict(BASE, BRAKET_GUARD_CAPS=TASK_CAPS)
    if text is not None:
        env["BRAKET_GUARD_RECONCILE_SECONDS"] = text
    assert load_config(env).reconcile_seconds == expected


@pytest.mark.parametrize("text", ["-60", "15m", "1.5", " 900"])
def test_the_loader_refuses_what_is_not_a_whole_number_of_seconds(text):
    with pytest.raises(ConfigError, match="BRAKET_GUARD_RECONCILE_SECONDS: must be a whole number"):
        load_config(dict(BASE, BRAKET_GUARD_CAPS=TASK_CAPS, BRAKET_GUARD_RECONCILE_SECONDS=text))


def test_a_cap_counting_jobs_without_reconciliation_is_refused():
    with pytest.raises(ConfigError, match=r"BRAKET_GUARD_RECONCILE_SECONDS: 0 .* the caps jobs count hybrid jobs"):
        load_config(dict(BASE, BRAKET_GUARD_CAPS=JOB_CAPS, BRAKET_GUARD_RECONCILE_SECONDS="0"))
