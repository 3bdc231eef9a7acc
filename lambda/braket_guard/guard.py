"""The decision workflow for one task state change: admit, reject (and cancel), refund, or
recognise a duplicate. It talks only to the ledger, Braket and notifier adapters it is given.

Every step is safe to repeat: the ledger's conditional writes decide who does what, and work a
crashed or throttled invocation left unfinished (a pending cancel or backlog sweep) is finished
by the next delivery of any event of that task.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .caps import ALERT_ONLY, CANCEL_QUEUED, Charge, needs_tags, plan_charges, warnings_reached
from .config import Config
from .events import CANCELLING, COMPLETED, DEVICE_ARN, TASK_ARN, UNCHARGED_END, TaskEvent
from .ledger import ADMITTED, REJECTED, Ledger, TaskRecord
from .logs import log_event
from .messages import TaskFacts, Usage, render_breach, render_cancel_failed, render_warning
from .money import micros_to_str
from .pricing import SIMULATOR, Price, device_kind, duration_cost_micros, task_cost_micros
from .windows import format_timestamp, parse_timestamp


ALREADY_COMPLETED = "task already COMPLETED before the guard saw it"
CANCEL_FAILED_ALERTS_PER_DAY = 10


class GuardRetry(RuntimeError):
    """Work is left (a throttled cancel); raising lets Lambda redeliver the event to finish it."""


@dataclass
class Decision:
    decision: str  # admitted | rejected | refunded | trued_up | duplicate | ignored
    task: TaskEvent
    cost_micros: int | None = None
    caps: list[str] = field(default_factory=list)
    breached: list[str] = field(default_factory=list)
    cancelled: bool = False
    cancel_failed: bool = False
    backlog_cancelled: int = 0
    alerts: int = 0
    reason: str = ""
    correction_micros: int = 0  # trued_up: new cost minus the cost charged at admission

    def metrics(self) -> list[tuple[dict[str, int], dict[str, str]]]:
        """EMF values per cap for this decision (nothing for duplicates and ignored events)."""
        cost, shots = self.cost_micros or 0, self.task.shots
        if self.decision == "admitted":
            per_cap = {"TasksAdmitted": 1, "ShotsAdmitted": shots, "CostAdmittedMicroUSD": cost}
            return [(dict(per_cap), {"Cap": cap}) for cap in self.caps]
        if self.decision == "refunded":
            per_cap = {"TasksRefunded": 1, "ShotsRefunded": shots, "CostRefundedMicroUSD": cost}
            return [(dict(per_cap), {"Cap": cap}) for cap in self.caps]
        if self.decision == "trued_up":
            return [({"SimulatorTrueUpMicroUSD": self.correction_micros}, {"Cap": cap}) for cap in self.caps]
        if self.decision == "rejected":
            values = {"TasksRejected": 1}
            if self.cancelled:
                values["CostPreventedMicroUSD"] = cost
            if self.cancelled or self.backlog_cancelled:
                values["TasksCancelled"] = int(self.cancelled) + self.backlog_cancelled
            if self.cancel_failed:
                values["CancelFailures"] = 1
            return [(dict(values), {"Cap": cap}) for cap in self.breached]
        return []

    def summary(self, mode: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "decision": self.decision, "task": self.task.task_arn, "status": self.task.status,
            "device": self.task.device_arn, "shots": self.task.shots,
            "cost_usd": micros_to_str(self.cost_micros) if self.cost_micros is not None else None,
            "caps": self.caps, "mode": mode,
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
        return out


class Guard:
    def __init__(self, config: Config, ledger: Ledger, braket: Any, notifier: Any):
        self.config, self.ledger, self.braket, self.notifier = config, ledger, braket, notifier

    # -- entry point -----------------------------------------------------------------------------
    def handle(self, task: TaskEvent) -> Decision:
        record = self.ledger.get_task(task.task_arn)
        if record is None:
            if task.status == CANCELLING:
                return Decision("ignored", task, reason="cancelling: waiting for its final state")
            if task.status not in UNCHARGED_END:
                # The attempt id tells this invocation's own writes from another delivery's, even
                # when a committed write's response was lost and the retry hit its own condition.
                return self._admit(task, uuid.uuid4().hex)
            if self.ledger.record_closed(task):
                return Decision("ignored", task, reason=f"first seen {task.status}: never charged")
            record = self._reread(task)
        return self._existing(task, record)

    # -- known tasks -----------------------------------------------------------------------------
    def _existing(self, task: TaskEvent, record: TaskRecord) -> Decision:
        if record.state == ADMITTED and task.status in UNCHARGED_END:
            if self.ledger.refund(record, task.status):
                return Decision("refunded", task, cost_micros=record.cost_micros,
                                caps=[c.cap for c in record.charges],
                                reason=f"{task.status}: shots and cost given back")
            return Decision("duplicate", task, cost_micros=record.cost_micros, reason="already refunded")
        if (record.state == ADMITTED and task.status == COMPLETED and not record.trued_up
                and device_kind(task.device_arn) == SIMULATOR and task.ended_at is not None):
            return self._true_up(task, record)
        if record.state == ADMITTED and record.warn == "pending":
            alerts = self._after_admission(task, self._charges_of(task, record), record.cost_micros)
            return Decision("duplicate", task, cost_micros=record.cost_micros,
                            caps=[c.cap for c in record.charges], alerts=alerts,
                            reason="already admitted; finished its warnings")
        if record.state == REJECTED and (record.cancel == "pending" or record.sweep == "pending"):
            if self.ledger.claim_work(task.task_arn):
                return self._finish_rejection(task, record)
            return Decision("duplicate", task, cost_micros=record.cost_micros, breached=list(record.breached),
                            reason="another invocation is cancelling it")
        return Decision("duplicate", task, cost_micros=record.cost_micros,
                        caps=[c.cap for c in record.charges], breached=list(record.breached),
                        reason=f"already {record.state}")

    def _true_up(self, task: TaskEvent, record: TaskRecord) -> Decision:
        """Correct a simulator's charge from its run time once it completes.

        The billed duration is not in the event; ``endedAt - createdAt`` bounds it from above
        (it includes time in the queue), so the corrected charge is an estimate, labelled so.
        """
        price = self._device_price(task)
        if price is None or not price.by_duration or record.cost_micros is None:
            return Decision("duplicate", task, cost_micros=record.cost_micros, reason="already admitted")
        ended_at = task.ended_at or task.created_at
        elapsed_ms = max(0, int((ended_at - task.created_at).total_seconds() * 1000))
        new_cost = duration_cost_micros(price, elapsed_ms)
        if not self.ledger.true_up(record, new_cost, "estimate: endedAt - createdAt"):
            return Decision("duplicate", task, cost_micros=record.cost_micros, reason="already trued up")
        return Decision("trued_up", task, cost_micros=new_cost, caps=[c.cap for c in record.charges],
                        correction_micros=new_cost - record.cost_micros,
                        reason=f"simulator ran {elapsed_ms} ms by endedAt - createdAt (an upper-bound estimate)")

    # -- admission -------------------------------------------------------------------------------
    def _device_price(self, task: TaskEvent) -> Price | None:
        price = self.config.prices.lookup(task.device_arn)
        if price is None:
            price = self.braket.device_price(task.device_arn, task.device_region, self.config.prices)
        return price

    def _price(self, task: TaskEvent) -> int | None:
        price = self._device_price(task)
        return None if price is None else task_cost_micros(price, task.shots)

    def _admit(self, task: TaskEvent, attempt: str) -> Decision:
        cost = self._price(task)
        charges = plan_charges(self.config.caps, task, cost, self._tags_if_needed(task), self.config.zone)
        names = [c.cap.name for c in charges]

        over = [c for c in charges if c.over_alone()]
        if over:
            return self._reject(task, charges, over, cost, attempt)
        outcome = self.ledger.admit(task, charges, cost, attempt,
                                    warn_pending=any(c.cap.warn_at for c in charges))
        if outcome.outcome == "duplicate":
            record = self._reread(task)
            if record.attempt != attempt or record.state != ADMITTED:
                return self._existing(task, record)
            # Our own admission: its response was lost and the retry met its own condition.
        if outcome.outcome == "breached":
            return self._reject(task, charges, list(outcome.breached), cost, attempt)
        alerts = self._after_admission(task, charges, cost)
        return Decision("admitted", task, cost_micros=cost, caps=names, alerts=alerts)

    def _charges_of(self, task: TaskEvent, record: TaskRecord) -> list[Charge]:
        """The charges a recorded task was given, rebuilt with today's cap definitions."""
        charged = {c.cap for c in record.charges} | set(record.breached)
        return [c for c in plan_charges(self.config.caps, task, record.cost_micros,
                                        self._tags_if_needed(task), self.config.zone)
                if c.cap.name in charged]

    def _reread(self, task: TaskEvent) -> TaskRecord:
        record = self.ledger.get_task(task.task_arn)
        if record is None:  # pragma: no cover - the condition that failed says it exists
            raise GuardRetry(f"task record of {task.task_arn} vanished")
        return record

    def _after_admission(self, task: TaskEvent, charges: list[Charge], cost: int | None) -> int:
        """Warning alerts: once per cap, group, window and level."""
        watched = [c for c in charges if c.cap.warn_at]
        if not watched:
            return 0
        counters = self.ledger.read_counters(c.counter_key for c in watched)
        sent = 0
        for charge in watched:
            counter = counters[charge.counter_key]
            usage = Usage(counter.shots, counter.cost_micros)
            announced = False
            for level in reversed(warnings_reached(charge.cap, usage.shots, usage.cost_micros)):
                if self.ledger.claim_alert(charge.counter_key, f"WARN#{level}", charge.window.expires_at()):
                    if not announced:  # one message for the highest new level, the rest silently
                        self.send_alert(render_warning(charge.cap, charge.group, charge.window.key, level,
                                                  usage, self.config.mode))
                        sent += 1
                        announced = True
        self.ledger.set_task_fields(task.task_arn, warn="done")
        return sent

    # -- rejection -------------------------------------------------------------------------------
    def _reject(self, task: TaskEvent, charges: list[Charge], breached: list[Charge],
                cost: int | None, attempt: str) -> Decision:
        enforce = self.config.enforcing and any(c.cap.on_breach != ALERT_ONLY for c in breached)
        sweep = enforce and any(c.cap.on_breach == CANCEL_QUEUED for c in breached)
        names = sorted({c.cap.name for c in breached})
        if not self.ledger.record_rejection(task, breached, names, cost,
                                            cancel="pending" if enforce else "not_needed",
                                            sweep="pending" if sweep else "", attempt=attempt):
            record = self._reread(task)
            if record.attempt != attempt:
                return self._existing(task, record)
            # Our own rejection: its response was lost and the retry met its own condition.
        return self._enforce(task, breached, cost, cancel_pending=enforce, sweep_pending=sweep,
                             caps=[c.cap.name for c in charges])

    def _finish_rejection(self, task: TaskEvent, record: TaskRecord) -> Decision:
        """A redelivered event of a rejected task whose cancel or sweep did not finish."""
        return self._enforce(task, self._charges_of(task, record), record.cost_micros,
                             cancel_pending=record.cancel == "pending",
                             sweep_pending=record.sweep == "pending",
                             already_cancelled=record.cancel == "done",
                             reason="finished work left by an earlier delivery")

    def _enforce(self, task: TaskEvent, breached: list[Charge], cost: int | None, *,
                 cancel_pending: bool, sweep_pending: bool, caps: list[str] | None = None,
                 already_cancelled: bool = False, reason: str = "") -> Decision:
        """Cancel the task (and the backlog), then alert: shared by the first delivery and any
        redelivery that finds the work unfinished. Alerts are claimed, so never sent twice."""
        cancelled, cancel_error, retry = already_cancelled, "", False
        if cancel_pending:
            cancelled, cancel_error, retry = self._cancel_offender(task)
        backlog, sweep_retry = self._sweep(task, breached) if sweep_pending else (0, False)

        if not (cancel_pending or already_cancelled):
            action = ("not cancelled (monitor mode)" if not self.config.enforcing
                      else "not cancelled (alert_only cap)")
        elif cancelled:
            action = "cancelled"
        elif retry:
            action = "cancellation requested, still retrying"
        elif cancel_error == ALREADY_COMPLETED:
            action = "not cancelled: it had already completed when the guard saw it"
        else:
            action = f"NOT cancelled: {cancel_error}"
        names = sorted({c.cap.name for c in breached})
        alerts = self._breach_alerts(task, breached, cost, action, backlog)
        failed = cancel_pending and not cancelled and not retry and cancel_error != ALREADY_COMPLETED
        if failed:
            alerts += self._cancel_failed_alert(task, cost, names, cancel_error)
        decision = Decision("rejected", task, cost_micros=cost, caps=caps or [], breached=names,
                            cancelled=cancelled, cancel_failed=failed, backlog_cancelled=backlog,
                            alerts=alerts, reason=reason)
        if retry or sweep_retry:
            log_event("warning", "work_left_for_redelivery", **decision.summary(self.config.mode))
            self.ledger.release_work(task.task_arn)
            raise GuardRetry(f"cancelling {task.task_arn} or its backlog was throttled; "
                             "the redelivered event will finish it")
        return decision

    def _tags_if_needed(self, task: TaskEvent) -> dict[str, str] | None:
        return (self.braket.task_tags(task.task_arn, task.region)
                if needs_tags(self.config.caps, task.device_arn) else None)

    def _cancel_offender(self, task: TaskEvent) -> tuple[bool, str, bool]:
        if task.status == COMPLETED:  # first seen already finished: nothing left to cancel
            self.ledger.set_task_fields(task.task_arn, cancel="not_possible")
            return False, ALREADY_COMPLETED, False
        result = self.braket.cancel(task.task_arn, task.region)
        if result.ok:
            self.ledger.set_task_fields(task.task_arn, cancel="done")
            log_event("info", "task_cancelled", task=task.task_arn, cancellation=result.status)
            return True, "", False
        if not result.retryable:
            self.ledger.set_task_fields(task.task_arn, cancel="failed", cancel_error=result.error)
        log_event("error", "cancel_failed", task=task.task_arn, error=result.error,
                  retryable=result.retryable)
        return False, result.error, result.retryable

    def _sweep(self, task: TaskEvent, breached: list[Charge]) -> tuple[int, bool]:
        """``cancel_queued``: cancel the CREATED/QUEUED backlog of each breached group."""
        cancelled, retry = 0, False
        for charge in breached:
            if charge.cap.on_breach != CANCEL_QUEUED:
                continue
            regions = set(self.ledger.read_counters([charge.counter_key])[charge.counter_key].regions)
            regions.add(task.region)
            device = task.device_arn if charge.cap.group_by == "device" else None
            for region in sorted(regions):
                for summary in self.braket.backlog(region, charge.window.start, charge.window.end, device):
                    other = summary_event(summary, task)
                    if other is None or other.task_arn == task.task_arn:
                        continue
                    if not charge.cap.applies_to(other.device_arn):
                        continue
                    if charge.cap.group_of(other, summary.get("tags") or {}) != charge.group:
                        continue
                    result = self.braket.cancel(other.task_arn, other.region)
                    if result.ok:
                        cancelled += 1
                    else:
                        retry = retry or result.retryable
                        log_event("error", "backlog_cancel_failed", task=other.task_arn, error=result.error)
        if not retry:
            self.ledger.set_task_fields(task.task_arn, sweep="done")
        log_event("info", "backlog_swept", task=task.task_arn, cancelled=cancelled, complete=not retry)
        return cancelled, retry

    # -- alerts ----------------------------------------------------------------------------------
    def _breach_alerts(self, task: TaskEvent, breached: list[Charge], cost: int | None,
                       action: str, backlog: int) -> int:
        sent = 0
        claimed = [c for c in breached
                   if self.ledger.claim_alert(c.counter_key, "BREACH", c.window.expires_at(), task.task_arn)]
        if not claimed:
            return 0
        counters = self.ledger.read_counters(c.counter_key for c in claimed)
        for charge in claimed:
            counter = counters[charge.counter_key]
            self.send_alert(render_breach(charge.cap, charge.group, charge.window.key,
                                     Usage(counter.shots, counter.cost_micros), _facts(task, cost),
                                     action, self.config.mode, backlog))
            sent += 1
        return sent

    def _cancel_failed_alert(self, task: TaskEvent, cost: int | None, caps: list[str], error: str) -> int:
        """One alert per task that could not be cancelled, at most CANCEL_FAILED_ALERTS_PER_DAY a
        day: a device finishing tasks faster than the guard decides must not flood the inboxes."""
        if not self.ledger.claim_alert((f"TASK#{task.task_arn}", "TASK"), "CANCEL_FAILED", None, error):
            return 0
        local_day = self.ledger.clock().astimezone(self.config.zone).date().isoformat()
        sent_today = self.ledger.increment((f"ALERTS#{local_day}", "CANCEL_FAILED"), "sent",
                                           int(self.ledger.clock().timestamp()) + 40 * 86400)
        if sent_today > CANCEL_FAILED_ALERTS_PER_DAY:
            log_event("warning", "cancel_failed_alert_suppressed", task=task.task_arn, sent_today=sent_today)
            return 0
        self.send_alert(render_cancel_failed(_facts(task, cost), caps, error, self.config.mode,
                                             last_today=sent_today == CANCEL_FAILED_ALERTS_PER_DAY))
        return 1

    def send_alert(self, alert) -> None:
        results = self.notifier.send(alert)
        log_event("info", "alert", kind=alert.kind, subject=alert.subject, delivery=results)


def _facts(task: TaskEvent, cost: int | None) -> TaskFacts:
    return TaskFacts(task.task_arn, task.device_arn, task.shots, cost, format_timestamp(task.created_at))


def summary_event(summary: dict[str, Any], offender: TaskEvent | None = None) -> TaskEvent | None:
    """A SearchQuantumTasks summary as a TaskEvent, for grouping; None if it is unusable."""
    arn, device = summary.get("quantumTaskArn", ""), summary.get("deviceArn", "")
    match = TASK_ARN.match(arn or "")
    if not match or not DEVICE_ARN.match(device or ""):
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
    return TaskEvent(task_arn=arn, region=match.group("region"), account=match.group("account"),
                     status=str(summary.get("status", "")), device_arn=device,
                     shots=int(summary.get("shots") or 0), created_at=created_at, ended_at=ended_at)


def _as_utc(value: Any) -> datetime:
    """boto3 parses timestamps into aware datetimes; tolerate strings too."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive timestamp")
        return value.astimezone(timezone.utc)
    return parse_timestamp(value)



