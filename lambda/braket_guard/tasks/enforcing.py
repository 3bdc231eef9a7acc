"""The steps that stop tasks: cancelling one, sweeping a breached cap's queued tasks, and the native-limit freeze on a breach."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from braket_guard.aws.logs import log_event
from braket_guard.aws.pacing import by_cost
from braket_guard.aws.retry import error_code
from braket_guard.core import states as S
from braket_guard.core.events import TaskEvent
from braket_guard.core.windows import window_for
from braket_guard.native.guard import NativeUnavailable, alert_degraded
from braket_guard.tasks.decision import PERMANENT_TASK_ERRORS, _overrun_metrics, _required, _Walk, summary_event
from braket_guard.tasks.work import WORK_ALERTS, WORK_AWAIT_END, WORK_CANCEL, WORK_SWEEP


class Enforcing:
    """The steps that stop tasks: cancelling one, sweeping a breached cap's queued tasks, and the native-limit freeze on a breach."""

    def _claim(self, walk: _Walk) -> bool:
        if walk.holds_lease:
            return True
        walk.holds_lease = self.ledger.claim_work(walk.task.task_arn)
        return walk.holds_lease

    def _cancel(self, step: S.Step, walk: _Walk) -> str:
        record, task = walk.record, walk.task
        record = _required(record)
        if not self.config.enforcing:  # switched to monitor with this cancel still owed
            work = (set(record.work) - {WORK_CANCEL, WORK_SWEEP}) | {WORK_ALERTS}
            if not self.ledger.charge_overrun(record, "monitor", work):
                return "raced"
            walk.record = replace(record, state=S.OVERRUN, work=frozenset(work), overrun_reason="monitor")
            over = sorted(set(record.breached) | set(record.oversize))
            walk.decide("overrun", cost_micros=record.cost_micros, caps=[c.cap for c in record.charges],
                        breached=over, reason="monitor mode: a cancel left by enforce mode is not made",
                        emitted=_overrun_metrics(record.shots, record.cost_micros,
                                                 [c.cap for c in record.charges], over))
            return "monitor"
        if not self._claim(walk):
            walk.decide("duplicate", breached=list(record.breached) + list(record.oversize),
                        reason="another invocation is cancelling it")
            return "busy"
        result = self.braket.cancel(task.task_arn, task.region)
        outcome = result.outcome
        if outcome == "throttled":
            walk.retry = f"cancel throttled: {result.error}"
            log_event("warning", "cancel_throttled", task=task.task_arn, error=result.error)
            return outcome
        work = set(record.work) - {WORK_CANCEL}
        sets: dict[str, Any] = {}
        if outcome == "cancelled":
            pass
        elif outcome in ("cancelling", "ended"):
            work.add(WORK_AWAIT_END)
        else:  # refused for good: tell the user to cancel it by hand
            work |= {WORK_AWAIT_END, WORK_ALERTS}
        if result.ok:
            sets["cancel_status"] = {"S": result.status or "CANCELLING"}
            log_event("info", "task_cancelled", task=task.task_arn, cancellation=result.status)
        else:
            sets["cancel_error"] = {"S": (("ended: " if outcome == "ended" else "") + result.error)[:1000]}
            log_event("error" if outcome == "refused" else "info", "cancel_not_done", task=task.task_arn,
                      outcome=outcome, error=result.error)
        target = S.next_state(record.state, step, outcome)
        if not self.ledger.transition(record, target, work=work, sets=sets):
            return "raced"
        walk.record = replace(record, state=target, work=frozenset(work),
                              cancel_error=sets.get("cancel_error", {}).get("S", record.cancel_error),
                              cancel_status=sets.get("cancel_status", {}).get("S", record.cancel_status))
        names = sorted(set(record.breached) | set(record.oversize))
        d = walk.decide("rejected", cost_micros=record.cost_micros, caps=[c.cap for c in record.charges],
                        breached=names, reason="" if walk.decision else "finished work left by an earlier delivery")
        d.cancelled = result.ok
        d.cancel_failed = outcome == "refused"
        values = {"TasksCancelled": 1} if result.ok else ({"CancelFailures": 1} if outcome == "refused" else {})
        d.emitted += [(dict(values), {"Cap": n}) for n in names if values]
        return outcome

    def _note_cancelling(self, step: S.Step, walk: _Walk) -> str:
        record = walk.record
        record = _required(record)
        work = (set(record.work) - {WORK_CANCEL}) | {WORK_AWAIT_END}
        if not self.ledger.transition(record, S.CANCEL_REQUESTED, work=work):
            return "raced"
        walk.record = replace(record, state=S.CANCEL_REQUESTED, work=frozenset(work))
        walk.decide("duplicate", reason="a cancel is under way: waiting for its end")
        return "done"

    def _sweep(self, walk: _Walk) -> bool:
        """``cancel_queued``: cancel the CREATED/QUEUED backlog of each group whose cap filled."""
        record, task = walk.record, walk.task
        record = _required(record)
        caps = {cap.name: cap for cap in self.config.caps}
        charges = self._charges_by_cap(record)
        cancelled, complete = 0, True
        for name in record.sweep_caps:
            charge, cap = charges.get(name), caps.get(name)
            if charge is None or cap is None:
                continue
            window = window_for(cap.window, task.created_at, self.config.zone)
            counter = self.ledger.read_counters([charge.counter_key])[charge.counter_key]
            regions = set(counter.regions)
            # reserved tasks cost nothing: only a cap whose shots filled may sweep them
            shots_full = cap.max_shots is not None and counter.shots + task.shots > cap.max_shots
            # The guarded regions the group has used, and the task's own (its event proves it is
            # watched, guarded or not); other unguarded regions are not searched.
            regions = (regions & set(self.config.regions)) | {task.region}
            device = task.device_arn if cap.group_by == "device" else None
            for region in sorted(regions):
                try:
                    backlog = self.braket.backlog(region, window.start, window.end, device)
                except ClientError as exc:
                    if not (self.is_unguarded(region) and error_code(exc) in PERMANENT_TASK_ERRORS):
                        raise
                    log_event("warning", "backlog_unreadable", region=region, task=task.task_arn,
                              error=str(exc)[:300])  # the role may not search there: no retry loop
                    continue
                for summary in by_cost(backlog, self.config.prices):  # most expensive first: the budget is 2/s
                    other = summary_event(summary, task)
                    if other is None or other.task_arn == task.task_arn or not cap.applies_to(other.device_arn):
                        continue
                    if cap.group_of(other, summary.get("tags") or {}) != charge.group:
                        continue
                    if not shots_full and self._reserved(other):
                        continue  # paid for by the hour: cost never cancels it
                    result = self.braket.cancel(other.task_arn, other.region)
                    if result.ok:
                        cancelled += 1
                    else:
                        complete = complete and not result.retryable
                        log_event("error", "backlog_cancel_failed", task=other.task_arn, error=result.error)
        walk.backlog += cancelled
        log_event("info", "backlog_swept", task=task.task_arn, cancelled=cancelled, complete=complete)
        if not complete:
            walk.retry = walk.retry or "backlog sweep throttled"
        return complete

    def _native_breach(self, charges: list, task: TaskEvent | None, quick: bool = False) -> str:
        """Freeze the QPUs of each full cap's group (native_guard.py); what it did, for the alert.
        Never fails the event: a freeze that did not take is retried by reconciliation."""
        if self.native is None or task is None:
            return ""
        if not self.native.enabled:
            if self.native.unavailable and not quick:  # the alert this container owes, after the cancel
                self._native_work(lambda: None)
            return ""
        texts = []
        for charge in charges:
            window = window_for(charge.cap.window, task.created_at, self.config.zone)
            outcome = self._native_work(lambda: self.native.on_breach(charge.cap, charge.group, window,
                                                                      task.device_arn), quick=quick)
            if outcome is None:
                texts.append("the native freeze failed; reconciliation retries it")
            elif outcome.text():
                texts.append(outcome.text())
        return "; ".join(dict.fromkeys(texts))

    def _native_work(self, work, quick: bool = False) -> Any:
        """Run native-limit work so that it can never fail or stop the event: None when it failed
        (a runtime without the API turns native limits off for the container, alerted once)."""
        try:
            with self.native.limits.quick(quick):
                return work()
        except NativeUnavailable as exc:
            self.native.disable(exc)
        except (ClientError, BotoCoreError) as exc:
            log_event("error", "native_freeze_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        finally:
            if not quick:  # before a cancel nothing is sent; the alerts step after it sends
                alert_degraded(self, self.native)
        return None
