"""Reconciliation: finish every task's open work whatever its window (the ledger's open-work
index), then find the tasks no event announced (a guard deployed mid-day, an event lost) and the
ones the ledger saw in an older status, and feed them through the same state machine as events.
Runs on a schedule (every 15 minutes by default); safe to run at any time, as often as wanted: the ledger makes every step idempotent, so nothing is counted twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from braket_guard.aws import metrics
from braket_guard.aws.logs import log_event
from braket_guard.aws.retry import DeadlineExceeded
from braket_guard.core import states as S
from braket_guard.core.caps import Cap
from braket_guard.core.events import CHARGING, TASK_ARN, UNCHARGED_END, TaskEvent
from braket_guard.core.money import micros_to_str
from braket_guard.core.pricing import SIMULATOR, device_kind
from braket_guard.core.windows import MONTH, TOTAL, format_timestamp, window_for
from braket_guard.ledger.table import TransientLedgerError
from braket_guard.tasks.decision import GuardRetry, summary_event
from braket_guard.tasks.guard import Guard
from braket_guard.tasks.records import TaskRecord

SEARCHED_STATUSES = sorted(CHARGING | UNCHARGED_END)  # CANCELLING resolves to CANCELLED later


def lookback_start(caps: tuple[Cap, ...], now: datetime, zone) -> datetime:
    """The earliest start of any cap's current window. ``total`` caps look back to the start of
    the current month: older tasks were either seen then or are beyond what a search should scan."""
    starts = [window_for(cap.window if cap.window != TOTAL else MONTH, now, zone).start for cap in caps]
    return min(s for s in starts if s is not None)


def needs_attention(record: TaskRecord | None, task: TaskEvent) -> bool:
    """Whether the ledger is behind what Braket says about this task: the table would do
    something with this status, or the record still owes work."""
    if record is None:
        return task.status != "CANCELLING"
    if record.work:
        return True
    step = S.step_for(record.state, task.status).name
    if step == S.TRUE_UP:
        return (not record.trued_up and device_kind(task.device_arn) == SIMULATOR
                and task.ended_at is not None)
    return step != S.DUPLICATE


@dataclass
class ReconcileReport:
    since: str
    regions: list[str]
    tasks_seen: int = 0
    admitted: int = 0
    rejected: int = 0
    overrun: int = 0
    refunded: int = 0
    trued_up: int = 0
    closed: int = 0
    open_work_seen: int = 0
    open_work_finished: int = 0
    left_for_next_run: int = 0
    alerts_waiting: int = 0  # in the outbox: a channel had not taken them
    alerts_resent: int = 0
    correction_micros: int = 0  # sum of the absolute changes made to the counters
    corrected_tasks: list[str] = field(default_factory=list)
    region_errors: dict[str, str] = field(default_factory=dict)
    out_of_time: bool = False  # the invocation's budget ended first: the next run goes on

    @property
    def corrections(self) -> int:
        return self.admitted + self.rejected + self.overrun + self.refunded + self.trued_up

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
    try:
        _reconcile(guard, since, report, progress)
    except DeadlineExceeded as exc:  # what was done stays done and is reported; the rest waits
        report.out_of_time = True
        log_event("warning", "reconcile_out_of_time", error=str(exc)[:300])
    log_event("info", "reconciled", **report.to_dict())
    return report


def _reconcile(guard: Guard, since: datetime, report: ReconcileReport,
               progress: Callable[[int], None] | None) -> None:
    config = guard.config
    _finish_open_work(guard, report)
    try:  # alerts a channel did not take: sent again once their retry delay is over
        report.alerts_waiting, report.alerts_resent = guard.alerts.resend_outbox()
    except (ClientError, BotoCoreError, TransientLedgerError) as exc:
        log_event("warning", "outbox_unreadable", error=f"{type(exc).__name__}: {exc}"[:300])
    summaries: list[dict[str, Any]] = []
    for region in config.regions:  # one failing region never fails the others
        try:
            summaries += guard.braket.search(region, since, None, SEARCHED_STATUSES,
                                             on_page=(lambda page: progress(len(page))) if progress else None)
        except DeadlineExceeded:
            raise
        except Exception as exc:  # noqa: BLE001 - reported per region, the run goes on
            report.region_errors[region] = f"{type(exc).__name__}: {exc}"[:300]
            log_event("error", "region_failed", operation="reconcile", region=region,
                      error=report.region_errors[region])
            metrics.emit({"RegionFailures": 1}, {"Operation": "reconcile"})
    tasks = [t for t in (summary_event(s) for s in summaries) if t is not None]
    tasks.sort(key=lambda t: (t.created_at, t.task_arn))  # oldest first: first come, first admitted
    report.tasks_seen = len(tasks)
    for start in range(0, len(tasks), 100):
        batch = tasks[start:start + 100]
        records = guard.ledger.get_tasks(t.task_arn for t in batch)
        for task in batch:
            if needs_attention(records.get(task.task_arn), task):
                _apply(guard, task, report)


def _finish_open_work(guard: Guard, report: ReconcileReport) -> None:
    """Every task the open-work index lists, whatever its window: read its status from Braket and
    run it through the table, which finishes the cancel, sweep, alerts or warnings it owes."""
    for task_arn, _kinds in guard.ledger.open_work():
        report.open_work_seen += 1
        match = TASK_ARN.match(task_arn)
        if not match or (guard.config.regions and match.group("region") not in guard.config.regions):
            report.left_for_next_run += 1
            log_event("warning", "open_work_outside_guarded_regions", task=task_arn)
            continue
        try:
            task = summary_event(guard.braket.get_task(task_arn, match.group("region")))
        except Exception as exc:  # noqa: BLE001 - this task waits for the next run
            report.left_for_next_run += 1
            log_event("warning", "open_work_unreadable", task=task_arn, error=f"{type(exc).__name__}: {exc}"[:300])
            continue
        if task is None:
            report.left_for_next_run += 1
            continue
        if _apply(guard, task, report):
            record = guard.ledger.get_task(task_arn)
            if record is None or not record.work:
                report.open_work_finished += 1


def _apply(guard: Guard, task: TaskEvent, report: ReconcileReport) -> bool:
    try:
        decision = guard.handle(task)
    except GuardRetry:
        report.left_for_next_run += 1
        return False
    except (ClientError, BotoCoreError, TransientLedgerError) as exc:
        report.left_for_next_run += 1
        log_event("warning", "reconcile_task_failed", task=task.task_arn, error=f"{type(exc).__name__}: {exc}"[:300])
        return False
    for values, dimensions in decision.metrics():  # the same per-cap metrics as event decisions
        metrics.emit(values, dimensions)
    kind = decision.decision
    if kind == "ignored" or kind == "closed":
        report.closed += 1
        return True
    if kind not in ("admitted", "rejected", "overrun", "refunded", "trued_up"):
        return True
    setattr(report, kind, getattr(report, kind) + 1)
    report.corrected_tasks.append(task.task_arn)
    if kind in ("admitted", "refunded", "overrun"):
        report.correction_micros += decision.cost_micros or 0
    elif kind == "trued_up":
        report.correction_micros += abs(decision.correction_micros)
    log_event("info", "reconcile_correction", **decision.summary(guard.config.mode))
    return True
