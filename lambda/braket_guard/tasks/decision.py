"""What one task event decided, and the walk through the state machine that decided it: the value the guard returns, logs and counts, and the small pure helpers its steps share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_CEILING, Decimal
from typing import Any

from braket_guard.alerts.messages import Usage
from braket_guard.config import Config
from braket_guard.core.caps import Charge
from braket_guard.core.events import TASK_ARN, TaskEvent, is_device_arn
from braket_guard.core.money import micros_to_str
from braket_guard.core.windows import format_timestamp, parse_timestamp
from braket_guard.tasks.records import TaskRecord, charge_record

UNSTOPPED_ALERTS_PER_DAY = 10  # "ran despite cap" and "could not cancel" alerts, together


CANCEL_FAILED_ALERTS_PER_DAY = UNSTOPPED_ALERTS_PER_DAY


PERMANENT_TASK_ERRORS = frozenset({"AccessDeniedException", "ResourceNotFoundException", "ValidationException"})


MAX_WALK = 6  # longest path through the table is three steps; more means a bug


class GuardRetry(RuntimeError):
    """Work is left (a throttled cancel or sweep); raising lets Lambda redeliver the event."""


@dataclass
class Decision:
    """What one event did: the first significant step decides the name."""

    decision: str  # admitted | rejected | overrun | refunded | trued_up | closed | duplicate | ignored
    task: TaskEvent
    cost_micros: int | None = None
    caps: list[str] = field(default_factory=list)
    breached: list[str] = field(default_factory=list)
    cancelled: bool = False
    cancel_failed: bool = False
    backlog_cancelled: int = 0
    alerts: int = 0
    reason: str = ""
    correction_micros: int = 0  # trued_up: new cost minus the cost charged before
    state: str = ""
    trail: list[str] = field(default_factory=list)  # state -step:outcome-> state, for the log
    emitted: list[tuple[dict[str, int], dict[str, str]]] = field(default_factory=list)

    def metrics(self) -> list[tuple[dict[str, int], dict[str, str]]]:
        """EMF values per cap for what this event did (nothing for duplicates and ignored), one
        entry per dimension set."""
        merged: dict[tuple, dict[str, int]] = {}
        for values, dimensions in self.emitted:
            bucket = merged.setdefault(tuple(sorted(dimensions.items())), {})
            for name, value in values.items():
                bucket[name] = bucket.get(name, 0) + value
        return [(values, dict(key)) for key, values in merged.items() if values]

    def summary(self, mode: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "decision": self.decision, "task": self.task.task_arn, "status": self.task.status,
            "device": self.task.device_arn, "shots": self.task.shots,
            "cost_usd": micros_to_str(self.cost_micros) if self.cost_micros is not None else None,
            "caps": self.caps, "mode": mode, "state": self.state,
        }
        if self.breached:
            out["breached"] = self.breached
        if self.decision == "rejected":
            out["cancelled"] = self.cancelled
        if self.backlog_cancelled:
            out["backlog_cancelled"] = self.backlog_cancelled
        if self.alerts:
            out["alerts"] = self.alerts
        if self.decision == "trued_up":
            out["correction_usd"] = micros_to_str(self.correction_micros)
        if self.reason:
            out["reason"] = self.reason
        if self.trail:
            out["trail"] = self.trail
        return out


@dataclass
class _Walk:
    """What one handle() call learns on its way through the table."""

    task: TaskEvent
    record: TaskRecord | None
    holds_lease: bool = False
    retry: str = ""  # why work is left for Lambda's redelivery
    decision: Decision | None = None
    alerts: int = 0
    backlog: int = 0
    counters: dict | None = None  # watched counters read with the record (a new task's admission)

    def decide(self, name: str, **fields: Any) -> Decision:
        if self.decision is None or self.decision.decision in ("duplicate", "ignored"):
            self.decision = Decision(name, self.task, **fields)
        return self.decision


UNGUARDED_PK = "UNGUARDED"  # UNGUARDED#<local day> / ALERT#REGION#<region>#ALERT: once a day


UNGUARDED_RECHECK_SECONDS = 60


@dataclass(frozen=True)
class _RecordedCharge:
    """A charge rebuilt from a task record (its window known by key only)."""

    cap: Any
    group: str
    window: Any
    shots: int
    cost_micros: int
    counter_key: tuple[str, str]
    expires_at: int | None


def _required(record: TaskRecord | None) -> TaskRecord:
    """The steps after NEW always have a record; a missing one is a bug worth an alarm."""
    if record is None:  # pragma: no cover - the table never runs these steps without a record
        raise RuntimeError("state machine step without a task record")
    return record


def _watched(charges: list[Charge]) -> bool:
    """Whether a charge needs the thresholds step (warnings, alert_only breaches)."""
    return any(c.cap.warn_at or not c.cap.enforcing for c in charges)


def _watched_records(record: TaskRecord, config: Config) -> bool:
    caps = {cap.name: cap for cap in config.caps}
    return any(caps[c.cap].warn_at or not caps[c.cap].enforcing for c in record.charges if c.cap in caps)


def _over_limit(cap: Any, usage: Usage) -> bool:
    return ((cap.max_shots is not None and usage.shots > cap.max_shots)
            or (cap.max_cost_micros is not None and usage.cost_micros > cap.max_cost_micros))


def _overrun_metrics(shots: int, cost: int | None, names: list[str], over: list[str]):
    metrics = [({"TasksOverrun": 1, "ShotsOverrun": shots, "CostOverrunMicroUSD": cost or 0}, {"Cap": n})
               for n in names]
    return metrics + [({"TasksRejected": 1}, {"Cap": n}) for n in over if n not in names]


def _new_record(task: TaskEvent, state: str, cost: int | None, charges: list[Charge], attempt: str,
                work: set[str]) -> TaskRecord:
    return TaskRecord(task_arn=task.task_arn, state=state, status=task.status, device_arn=task.device_arn,
                      region=task.region, shots=task.shots, cost_micros=cost,
                      created_at=format_timestamp(task.created_at), account=task.account,
                      charges=tuple(charge_record(c) for c in charges), work=frozenset(work), attempt=attempt)


def summary_event(summary: dict[str, Any], offender: TaskEvent | None = None) -> TaskEvent | None:
    """A SearchQuantumTasks summary (or GetQuantumTask answer) as a TaskEvent; None if unusable."""
    arn, device = summary.get("quantumTaskArn", ""), summary.get("deviceArn", "")
    match = TASK_ARN.match(arn or "")
    if not match or not is_device_arn(device):
        return None
    try:
        created_at = _as_utc(summary.get("createdAt"))
    except ValueError:
        if offender is None:
            return None
        created_at = offender.created_at
    try:
        ended_at = _as_utc(summary["endedAt"]) if summary.get("endedAt") else None
    except ValueError:
        ended_at = None
    status = str(summary.get("status", ""))
    if status not in ("CREATED", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED"):
        return None
    try:
        shots = int(summary.get("shots") or 0)
    except (TypeError, ValueError):
        return None
    return TaskEvent(task_arn=arn, region=match.group("region"), account=match.group("account"),
                     status=status, device_arn=device, shots=shots, created_at=created_at, ended_at=ended_at)


def _as_utc(value: Any) -> datetime:
    """boto3 parses timestamps into aware datetimes; tolerate strings too."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive timestamp")
        return value.astimezone(timezone.utc)
    return parse_timestamp(value)


def _refused_by_read(enforcing: list[Charge], counters: dict | None) -> list[Charge]:
    """The enforcing charges the counters as read refuse (the admission's own conditions,
    ``Ledger._counter_add``); none when a counter was not read."""
    if counters is None or any(c.counter_key not in counters for c in enforcing):
        return []
    refused = []
    for charge in enforcing:
        counter = counters[charge.counter_key]
        cap = charge.cap
        if ((cap.max_shots is not None and charge.shots and counter.shots > cap.max_shots - charge.shots)
                or (cap.max_cost_micros is not None and charge.cost_micros
                    and counter.cost_micros > cap.max_cost_micros - charge.cost_micros)):
            refused.append(charge)
    return refused


def _level_thresholds(cap: Any, limit: int) -> list[tuple[int, str]]:
    """(the least usage that reaches it, its marker name) of each level of one dimension of a cap:
    each warning (``warnings_reached``: used / limit >= level, computed the same way; a zero
    limit is reached by any use) and an alert_only cap's breach (``_over_limit``: used > limit)."""
    out = []
    for level in cap.warn_at:
        if not limit:
            out.append((1, f"WARN#{level}"))
            continue
        least = int((level * limit).to_integral_value(rounding=ROUND_CEILING))
        while least > 0 and Decimal(least - 1) / Decimal(limit) >= level:  # the same test as warnings_reached
            least -= 1
        while Decimal(least) / Decimal(limit) < level:
            least += 1
        out.append((least, f"WARN#{level}"))
    if not cap.enforcing:
        out.append((limit + 1, "BREACH"))
    return out
