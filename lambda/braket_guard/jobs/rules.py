"""Hybrid jobs: their events, their facts from ``GetJob``, what their instance time costs, and the
table that decides what the guard does with each job state change. Pure.

A job bills instance time (instance type x count x duration) on top of the tasks it creates; the
tasks are charged as tasks, by their own events. The job's instance cost accrues while it runs:
every event and every reconciliation charge the time elapsed since the last charge, to the window
of the moment of charging (a day cap covers what was spent that day), and the terminal state
trues the total up to what Braket bills. A job is stopped (CancelJob) when an enforcing cap it
counts against is full, or would be before the next accrual (the reconcile schedule's period,
``Config.reconcile_seconds``; ``ACCRUAL_HORIZON_SECONDS`` by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from braket_guard.core.events import DEVICE_ARN, EARLIEST, LATEST
from braket_guard.core.events import JOB_ARN as EVENTS_JOB_ARN
from braket_guard.core.reservations import reservation_of
from braket_guard.core.strict import brief
from braket_guard.core.windows import TimestampError, parse_timestamp

SOURCE = "aws.braket"
DETAIL_TYPE = "Braket Job State Change"
JOB_ARN = EVENTS_JOB_ARN  # one pattern for job ARNs everywhere
QUEUED, RUNNING, COMPLETED, FAILED, CANCELLING, CANCELLED = (
    "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED")
STATUSES = frozenset({QUEUED, RUNNING, COMPLETED, FAILED, CANCELLING, CANCELLED})
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})
# How far ahead a running job's cost is projected by default: the default reconciliation interval
# (15 minutes), the longest a running job goes between two accruals when no event arrives. The
# deployed period comes from BRAKET_GUARD_RECONCILE_SECONDS (Config.reconcile_seconds).
ACCRUAL_HORIZON_SECONDS = 900
# billableDuration's unit is not documented (botocore: "Integer"). The guard reads it as
# milliseconds and trusts it only where it is plausible against endedAt - startedAt.
PLAUSIBLE_SLACK_MS = 60_000
DEFAULT_INSTANCE_COUNT = 1


class JobEventError(ValueError):
    """Not a usable "Braket Job State Change" event; ``field`` says where."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


@dataclass(frozen=True)
class JobEvent:
    job_arn: str
    region: str
    account: str
    status: str
    event_id: str = ""


def is_job_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get("detail-type") == DETAIL_TYPE


def parse_job_event(event: Any) -> JobEvent:
    """Only the job's ARN and status are used: everything else is read from GetJob, since no
    official field list of the event exists."""
    if not isinstance(event, dict) or event.get("source") != SOURCE:
        raise JobEventError("source", f"expected {SOURCE!r}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise JobEventError("detail", "missing or not an object")
    arn = detail.get("jobArn")
    match = JOB_ARN.match(arn) if isinstance(arn, str) and len(arn) <= 256 else None
    if not match:
        raise JobEventError("detail.jobArn", f"not a hybrid job ARN: {brief(arn)}")
    status = detail.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        raise JobEventError("detail.status", f"unknown job status {brief(status)}")
    event_id = event.get("id")
    return JobEvent(arn, match.group("region"), match.group("account"), status,
                    event_id if isinstance(event_id, str) else "")


@dataclass(frozen=True)
class Job:
    """What the guard needs of a ``GetJob`` answer."""

    job_arn: str
    region: str
    account: str
    status: str
    device: str  # deviceConfig.device: a device ARN, or "local:..." for an embedded simulator
    instance_type: str
    instance_count: int
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    billable_duration: int | None = None
    max_runtime_seconds: int | None = None
    tags: Mapping[str, str] | None = None
    reservation_arn: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    @property
    def device_kind(self) -> str:
        """``qpu`` or ``simulator`` (local simulators and managed ones), for a cap's devices filter."""
        match = DEVICE_ARN.match(self.device)
        return match.group("kind").replace("quantum-", "") if match else "simulator"


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else None
    try:
        return parse_timestamp(value)
    except TimestampError:
        return None


def job_from_api(response: Mapping[str, Any]) -> Job:
    """A ``GetJob`` answer as a Job; raises ValueError naming what is missing."""
    arn = response.get("jobArn")
    match = JOB_ARN.match(arn) if isinstance(arn, str) else None
    if not match:
        raise ValueError(f"GetJob: not a job ARN: {brief(arn)}")
    instance = response.get("instanceConfig") or {}
    instance_type = instance.get("instanceType")
    if not isinstance(instance_type, str) or not instance_type:
        raise ValueError(f"GetJob {arn}: no instanceConfig.instanceType")
    count = instance.get("instanceCount", DEFAULT_INSTANCE_COUNT)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        count = DEFAULT_INSTANCE_COUNT
    created = _time(response.get("createdAt"))
    if created is None or not EARLIEST <= created.year <= LATEST:
        raise ValueError(f"GetJob {arn}: no usable createdAt")
    billable = response.get("billableDuration")
    stopping = response.get("stoppingCondition") or {}
    runtime = stopping.get("maxRuntimeInSeconds")
    return Job(job_arn=arn, region=match.group("region"), account=match.group("account"),
               status=str(response.get("status", "")), device=str((response.get("deviceConfig") or {}).get("device", "")),
               instance_type=instance_type, instance_count=count, created_at=created,
               started_at=_time(response.get("startedAt")), ended_at=_time(response.get("endedAt")),
               billable_duration=billable if isinstance(billable, int) and not isinstance(billable, bool)
               and billable >= 0 else None,
               max_runtime_seconds=runtime if isinstance(runtime, int) and runtime > 0 else None,
               tags=dict(response.get("tags") or {}), reservation_arn=reservation_of(response))


def run_ms(job: Job, now: datetime) -> int:
    """Instance time so far: from startedAt to endedAt (or now); 0 before it starts."""
    if job.started_at is None:
        return 0
    end = job.ended_at or now
    return max(0, int((end - job.started_at).total_seconds() * 1000))


def billed_ms(job: Job, now: datetime) -> tuple[int, str]:
    """The duration to charge an ended job for, and where the figure comes from.

    ``billableDuration`` read as milliseconds, when it is plausible against the wall clock
    (not more than a minute above it, not a hundredth of it: a value in seconds would be);
    otherwise the wall clock, an upper-bound estimate."""
    wall = run_ms(job, now)
    value = job.billable_duration
    if value is not None and (job.started_at is None or (value <= wall + PLAUSIBLE_SLACK_MS
                                                         and value * 100 >= wall)):
        return value, "billableDuration (milliseconds)"
    return wall, "estimate: endedAt - startedAt"


def horizon_ms(job: Job, now: datetime, horizon_seconds: int = ACCRUAL_HORIZON_SECONDS) -> int:
    """How much more instance time a running job can use before the next accrual (one reconcile
    period, ``horizon_seconds``)."""
    if job.ended:
        return 0
    ahead = horizon_seconds * 1000
    if job.max_runtime_seconds is not None:  # a job never runs longer than its maxRuntimeInSeconds
        ahead = min(ahead, max(0, job.max_runtime_seconds * 1000 - run_ms(job, now)))
    return ahead


# -- the job table ---------------------------------------------------------------------------
# A job record is open while the job can still cost more, stopping once the guard's CancelJob was
# taken, settled when its final cost is charged. Each state change of the job runs one step.
NEW, OPEN, STOPPING, SETTLED = "new", "open", "stopping", "settled"
JOB_STATES = (NEW, OPEN, STOPPING, SETTLED)
ACCRUE, SETTLE, NOTHING = "accrue", "settle", "nothing"
JOB_STEPS = {
    ACCRUE: "charge the instance time since the last charge to the current window; stop the job "
            "(CancelJob) if an enforcing cap is full or would be within the horizon",
    SETTLE: "true the job's total up to its billed duration and close the record",
    NOTHING: "the job's cost is final: nothing to do",
}
JOB_TABLE = {
    # state:     (status QUEUED/RUNNING/CANCELLING, status COMPLETED/FAILED/CANCELLED)
    NEW: (ACCRUE, SETTLE),
    OPEN: (ACCRUE, SETTLE),
    STOPPING: (ACCRUE, SETTLE),
    SETTLED: (NOTHING, NOTHING),
}


def job_step(state: str, status: str) -> str:
    """The step a job state change runs, from the table."""
    return JOB_TABLE[state][1 if status in TERMINAL else 0]


def job_markdown_table() -> str:
    lines = ["| job record \\ job status | QUEUED, RUNNING, CANCELLING | COMPLETED, FAILED, CANCELLED |",
             "|---|---|---|"]
    lines += [f"| {state} | {live} | {end} |" for state, (live, end) in JOB_TABLE.items()]
    lines += ["", *[f"- **{name}**: {text}." for name, text in JOB_STEPS.items()]]
    return "\n".join(lines)
