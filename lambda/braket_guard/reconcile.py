"""Reconciliation: find the tasks no event announced (a guard deployed mid-day, an event lost)
and the ones the ledger saw in an older status, and feed them through the same decision path
as events. Runs on a schedule (every 15 minutes by default); safe to run at any time, as often
as wanted: the ledger makes every step idempotent, so nothing is counted twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable

from .caps import Cap
from .events import CHARGING, COMPLETED, UNCHARGED_END, TaskEvent
from .guard import Guard, GuardRetry, summary_event
from .ledger import ADMITTED, REJECTED, TaskRecord
from .logs import log_event
from .money import micros_to_str
from .pricing import SIMULATOR, device_kind
from .windows import MONTH, TOTAL, format_timestamp, window_for

SEARCHED_STATUSES = sorted(CHARGING | UNCHARGED_END)  # CANCELLING resolves to CANCELLED later


def lookback_start(caps: tuple[Cap, ...], now: datetime, zone) -> datetime:
    """The earliest start of any cap's current window. ``total`` caps look back to the start of
    the current month: older tasks were either seen then or are beyond what a search should scan."""
    starts = [window_for(cap.window if cap.window != TOTAL else MONTH, now, zone).start for cap in caps]
    return min(s for s in starts if s is not None)


def needs_attention(record: TaskRecord | None, task: TaskEvent) -> bool:
    """Whether the ledger is behind what Braket says about this task."""
    if record is None:
        return task.status in CHARGING or task.status in UNCHARGED_END
    if record.state == ADMITTED and task.status in UNCHARGED_END:
        return True
    if (record.state == ADMITTED and task.status == COMPLETED and not record.trued_up
            and device_kind(task.device_arn) == SIMULATOR and task.ended_at is not None):
        return True
    return record.state == REJECTED and "pending" in (record.cancel, record.sweep)


@dataclass
class ReconcileReport:
    since: str
    regions: list[str]
    tasks_seen: int = 0
    admitted: int = 0
    rejected: int = 0
    refunded: int = 0
    trued_up: int = 0
    closed: int = 0
    left_for_next_run: int = 0
    correction_micros: int = 0  # sum of the absolute changes made to the counters
    corrected_tasks: list[str] = field(default_factory=list)

    @property
    def corrections(self) -> int:
        return self.admitted + self.rejected + self.refunded + self.trued_up

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["corrected_tasks"] = self.corrected_tasks[:20]
        out["corrections"] = self.corrections
        out["correction_usd"] = micros_to_str(self.correction_micros)
        del out["correction_micros"]
        return out


def reconcile(guard: Guard, now: datetime,
              progress: Callable[[int], None] | None = None) -> ReconcileReport:
    config = guard.config
    since = lookback_start(config.caps, now, config.zone)
    report = ReconcileReport(since=format_timestamp(since), regions=list(config.regions))
    summaries: list[dict[str, Any]] = []
    for region in config.regions:
        summaries += guard.braket.search(region, since, None, SEARCHED_STATUSES,
                                         on_page=(lambda page: progress(len(page))) if progress else None)
    tasks = [t for t in (summary_event(s) for s in summaries) if t is not None]
    tasks.sort(key=lambda t: (t.created_at, t.task_arn))  # oldest first: first come, first admitted
    report.tasks_seen = len(tasks)
    for start in range(0, len(tasks), 100):
        batch = tasks[start:start + 100]
        records = guard.ledger.get_tasks(t.task_arn for t in batch)
        for task in batch:
            if needs_attention(records.get(task.task_arn), task):
                _apply(guard, task, report)
    log_event("info", "reconciled", **report.to_dict())
    return report


def _apply(guard: Guard, task: TaskEvent, report: ReconcileReport) -> None:
    try:
        decision = guard.handle(task)
    except GuardRetry:
        report.left_for_next_run += 1
        return
    kind = decision.decision
    if kind == "ignored":
        report.closed += 1
        return
    if kind not in ("admitted", "rejected", "refunded", "trued_up"):
        return
    setattr(report, kind, getattr(report, kind) + 1)
    report.corrected_tasks.append(task.task_arn)
    if kind in ("admitted", "refunded"):
        report.correction_micros += decision.cost_micros or 0
    elif kind == "trued_up":
        report.correction_micros += abs(decision.correction_micros)
    log_event("info", "reconcile_correction", **decision.summary(guard.config.mode))
