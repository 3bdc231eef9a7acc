"""Turning an EventBridge "Braket Task State Change" event into a validated ``TaskEvent``.

Anything else (other sources, detail types, missing or malformed fields) raises ``EventError``
so the handler can log it once and drop it: a bad event must never be retried forever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .windows import TimestampError, parse_timestamp

SOURCE = "aws.braket"
DETAIL_TYPE = "Braket Task State Change"

CREATED, QUEUED, RUNNING, COMPLETED = "CREATED", "QUEUED", "RUNNING", "COMPLETED"
FAILED, CANCELLING, CANCELLED = "FAILED", "CANCELLING", "CANCELLED"
STATUSES = frozenset({CREATED, QUEUED, RUNNING, COMPLETED, FAILED, CANCELLING, CANCELLED})
# The first of these to arrive charges the task.
CHARGING = frozenset({CREATED, QUEUED, RUNNING, COMPLETED})
# These end a task without a charge: an admitted task is refunded.
UNCHARGED_END = frozenset({FAILED, CANCELLED})

TASK_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):braket:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):"
    r"(?P<account>\d{12}):quantum-task/(?P<id>[A-Za-z0-9][A-Za-z0-9_-]{0,127})$")
# [0-9], not \d (which matches any Unicode digit), and \Z, not $ (which also matches before a
# trailing newline): the same language as Terraform's RE2 pattern in variables.tf.
DEVICE_ARN = re.compile(
    r"^arn:aws[a-z-]*:braket:(?P<region>(?:[a-z]{2}(?:-[a-z]+)+-[0-9])?)::device/"
    r"(?P<kind>qpu|quantum-simulator)/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
MAX_SHOTS = 10**9
EARLIEST, LATEST = 2019, 2999  # plausible createdAt years


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
        raise EventError("detail.shots", f"must be a non-negative integer, got {value!r}"[:200])
    if shots < 0 or shots > MAX_SHOTS:
        raise EventError("detail.shots", f"out of range: {shots}")
    return shots


def parse_event(event: Any) -> TaskEvent:
    """Validate and extract; raises ``EventError`` naming the first bad field."""
    if not isinstance(event, dict):
        raise EventError("event", f"must be a JSON object, got {type(event).__name__}")
    if event.get("source") != SOURCE:
        raise EventError("source", f"expected {SOURCE!r}, got {event.get('source')!r}"[:200])
    if event.get("detail-type") != DETAIL_TYPE:
        raise EventError("detail-type", f"expected {DETAIL_TYPE!r}, got {event.get('detail-type')!r}"[:200])
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise EventError("detail", "missing or not an object")

    arn = detail.get("quantumTaskArn")
    match = TASK_ARN.match(arn) if isinstance(arn, str) else None
    if not match:
        raise EventError("detail.quantumTaskArn", f"not a quantum task ARN: {arn!r}"[:200])
    status = detail.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        raise EventError("detail.status", f"unknown status {status!r}"[:200])
    device = detail.get("deviceArn")
    if not isinstance(device, str) or not DEVICE_ARN.match(device):
        raise EventError("detail.deviceArn", f"not a Braket device ARN: {device!r}"[:200])
    shots = _shots(detail.get("shots"))
    try:
        created_at = parse_timestamp(detail.get("createdAt"))
    except TimestampError as exc:
        raise EventError("detail.createdAt", str(exc)[:200]) from None
    if not EARLIEST <= created_at.year <= LATEST:
        # Braket started in 2019; far dates are garbage and would break window arithmetic.
        raise EventError("detail.createdAt", f"year {created_at.year} is outside {EARLIEST}-{LATEST}")
    job_arn = detail.get("jobArn")
    event_id = event.get("id")
    ended_at = None
    if detail.get("endedAt") is not None:
        try:
            ended_at = parse_timestamp(detail.get("endedAt"))
        except TimestampError as exc:
            raise EventError("detail.endedAt", str(exc)[:200]) from None
    return TaskEvent(
        task_arn=arn,
        region=match.group("region"),
        account=match.group("account"),
        status=status,
        device_arn=device,
        shots=shots,
        created_at=created_at,
        event_id=event_id if isinstance(event_id, str) else "",
        job_arn=job_arn if isinstance(job_arn, str) else None,
        ended_at=ended_at,
    )
