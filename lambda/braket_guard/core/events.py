"""Turning an EventBridge "Braket Task State Change" event into a validated ``TaskEvent``.

Anything else (other sources, detail types, missing or malformed fields) raises ``EventError``
so the handler can log it once and drop it: a bad event must never be retried forever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from braket_guard.core.strict import brief
from braket_guard.core.windows import TimestampError, format_timestamp, parse_timestamp

SOURCE = "aws.braket"
DETAIL_TYPE = "Braket Task State Change"

CREATED, QUEUED, RUNNING, COMPLETED = "CREATED", "QUEUED", "RUNNING", "COMPLETED"
FAILED, CANCELLING, CANCELLED = "FAILED", "CANCELLING", "CANCELLED"
STATUSES = frozenset({CREATED, QUEUED, RUNNING, COMPLETED, FAILED, CANCELLING, CANCELLED})
# The first of these to arrive charges the task.
CHARGING = frozenset({CREATED, QUEUED, RUNNING, COMPLETED})
# These end a task without a charge: an admitted task is refunded.
UNCHARGED_END = frozenset({FAILED, CANCELLED})

# [0-9], not \d (which matches any Unicode digit), and \Z, not $ (which also matches before a
# trailing newline): an ARN with a newline or an Arabic-Indic digit is not the task's ARN, and
# admitting it under its own key would judge the real task's events a second task.
TASK_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):braket:(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]):"
    r"(?P<account>[0-9]{12}):quantum-task/(?P<id>[A-Za-z0-9][A-Za-z0-9_-]{0,127})\Z")
# The same language as Terraform's RE2 pattern in variables.tf.
DEVICE_ARN = re.compile(
    r"^arn:aws[a-z-]*:braket:(?P<region>(?:[a-z]{2}(?:-[a-z]+)+-[0-9])?)::device/"
    r"(?P<kind>qpu|quantum-simulator)/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
# A hybrid job's ARN (a task's jobArn; jobs.py parses job events with the same pattern).
JOB_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):braket:(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]):"
                     r"(?P<account>[0-9]{12}):job/(?P<name>[A-Za-z0-9][A-Za-z0-9_-]{0,127})\Z")
EVENT_ID = re.compile(r"[A-Za-z0-9-]{1,128}\Z")  # EventBridge ids are UUIDs
MAX_ARN_CHARS = 256  # Braket's ARNs are far shorter; Terraform's validation bounds device ARNs the same
MAX_SHOTS = 10**9
EARLIEST, LATEST = 2019, 2999  # plausible createdAt years


ENDED_BEFORE_CREATED_SLACK = timedelta(minutes=5)  # clocks of Braket's services may differ a little


def is_device_arn(value: Any) -> bool:
    """A Braket device ARN, whole and of bounded length (events, caps, prices, reservations)."""
    return isinstance(value, str) and len(value) <= MAX_ARN_CHARS and bool(DEVICE_ARN.match(value))


class EventError(ValueError):
    """The event is not a well-formed Braket task state change; ``field`` says where."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class TaskEvent:
    """The facts of one task state change that the guard acts on."""

    task_arn: str
    region: str
    account: str
    status: str
    device_arn: str
    shots: int
    created_at: datetime
    event_id: str = ""
    job_arn: str | None = None
    ended_at: datetime | None = None
    reservation_arn: str | None = None  # from GetQuantumTask's associations; never in the event

    @property
    def device_region(self) -> str:
        """The device's own region; simulators (no region in the ARN) run in the task's region."""
        match = DEVICE_ARN.match(self.device_arn)
        return (match.group("region") if match else "") or self.region


def _shots(value: Any) -> int:
    # Braket sends shots as a string ("100"); accept a plain integer too, nothing fuzzier.
    if isinstance(value, bool):
        raise EventError("detail.shots", "must be a non-negative integer")
    if isinstance(value, int):
        shots = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,10}", value):
        shots = int(value)
    else:
        raise EventError("detail.shots", f"must be a non-negative integer, got {brief(value)}")
    if shots < 0 or shots > MAX_SHOTS:
        raise EventError("detail.shots", f"out of range (0 to {MAX_SHOTS:,}): {brief(shots)}")
    return shots


def parse_event(event: Any) -> TaskEvent:
    """Validate and extract; raises ``EventError`` naming the first bad field."""
    if not isinstance(event, dict):
        raise EventError("event", f"must be a JSON object, got {type(event).__name__}")
    if event.get("source") != SOURCE:
        raise EventError("source", f"expected {SOURCE!r}, got {brief(event.get('source'))}")
    if event.get("detail-type") != DETAIL_TYPE:
        raise EventError("detail-type", f"expected {DETAIL_TYPE!r}, got {brief(event.get('detail-type'))}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise EventError("detail", "missing or not an object")

    arn = detail.get("quantumTaskArn")
    match = TASK_ARN.match(arn) if isinstance(arn, str) and len(arn) <= MAX_ARN_CHARS else None
    if not match:
        raise EventError("detail.quantumTaskArn", f"not a quantum task ARN: {brief(arn)}")
    status = detail.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        raise EventError("detail.status", f"unknown status {brief(status)}")
    device = detail.get("deviceArn")
    if not is_device_arn(device):
        raise EventError("detail.deviceArn", f"not a Braket device ARN: {brief(device)}")
    shots = _shots(detail.get("shots"))
    try:
        created_at = parse_timestamp(detail.get("createdAt"))
    except TimestampError as exc:
        raise EventError("detail.createdAt", str(exc)[:200]) from None
    if not EARLIEST <= created_at.year <= LATEST:
        # Braket started in 2019; far dates are garbage and would break window arithmetic.
        raise EventError("detail.createdAt", f"year {created_at.year} is outside {EARLIEST}-{LATEST}")
    job_arn = detail.get("jobArn")
    if job_arn is not None and (not isinstance(job_arn, str) or len(job_arn) > MAX_ARN_CHARS
                                or not JOB_ARN.match(job_arn)):
        raise EventError("detail.jobArn", f"not a hybrid job ARN: {brief(job_arn)}")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
        event_id = ""  # only ever logged: an odd id is not a reason to let the task's spend escape
    ended_at = None
    if detail.get("endedAt") is not None:
        try:
            ended_at = parse_timestamp(detail.get("endedAt"))
        except TimestampError as exc:
            raise EventError("detail.endedAt", str(exc)[:200]) from None
        if not EARLIEST <= ended_at.year <= LATEST or ended_at < created_at - ENDED_BEFORE_CREATED_SLACK:
            # A simulator is trued up from endedAt - createdAt: a far date would charge millions.
            raise EventError("detail.endedAt", f"{format_timestamp(ended_at)} is not a plausible end of a task "
                                               f"created {format_timestamp(created_at)}")
    return TaskEvent(
        task_arn=arn,
        region=match.group("region"),
        account=match.group("account"),
        status=status,
        device_arn=device,
        shots=shots,
        created_at=created_at,
        event_id=event_id,
        job_arn=job_arn,
        ended_at=ended_at,
    )
