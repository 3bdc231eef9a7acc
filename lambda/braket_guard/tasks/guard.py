"""Runs the task state machine (``states.py``) for one task state change: each step is a ledger
write, a cancel or a sweep; its outcome picks the next state from the table, and the walk goes
on until a step leaves the state as it is. Then the record's pending work (sweep, alerts,
warnings) is finished. It talks only to the ledger, Braket and notifier adapters it is given.

Every step is safe to repeat: the ledger's conditional writes decide who does what, and work a
crashed or throttled invocation left (listed in the ledger's open-work index) is finished by the
next delivery of any event of that task, or by reconciliation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from braket_guard.alerts.delivery import AlertDelivery
from braket_guard.aws.logs import log_event
from braket_guard.config import Config
from braket_guard.core import states as S
from braket_guard.core.events import TaskEvent
from braket_guard.tasks.alerting import TaskAlerts
from braket_guard.tasks.charging import Charging
from braket_guard.tasks.decision import MAX_WALK, Decision, GuardRetry, _new_record, _required, _Walk
from braket_guard.tasks.enforcing import Enforcing
from braket_guard.tasks.ledger import Ledger
from braket_guard.tasks.records import TaskRecord
from braket_guard.tasks.unguarded import UnguardedRegions
from braket_guard.tasks.work import WORK_ALERTS, WORK_CANCEL, WORK_SWEEP, WORK_THRESHOLDS


class Guard(UnguardedRegions, Charging, Enforcing, TaskAlerts):
    def __init__(self, config: Config, ledger: Ledger, braket: Any, notifier: Any, native: Any = None):
        self.config, self.ledger, self.braket, self.notifier = config, ledger, braket, notifier
        self.native = native  # native_guard.NativeLimiter, or None: the guard only cancels
        self._unguarded_told: dict[tuple[str, str], float] = {}  # (region, day) -> next look (monotonic)
        self.alerts = AlertDelivery(ledger, notifier)  # shared with the job and native guards

    # -- entry point -----------------------------------------------------------------------------
    def handle(self, task: TaskEvent) -> Decision:
        unguarded = self.is_unguarded(task.region)
        if unguarded:
            self.note_unguarded(task.region)
        decision = self._handle(task)
        if unguarded:
            decision.emitted.append(({"UnguardedRegionEvents": 1}, {"Region": task.region}))
        return decision


    def _handle(self, task: TaskEvent) -> Decision:
        keys = self._counter_keys(task)
        if keys:
            record, counters = self.ledger.get_task_and_counters(task.task_arn, keys)
            walk = _Walk(task, record, counters=counters if record is None else None)
        else:
            walk = _Walk(task, self.ledger.get_task(task.task_arn))
        state = walk.record.state if walk.record else S.NEW
        trail: list[str] = []
        for _ in range(MAX_WALK):
            step = S.step_for(state, task.status)
            outcome = self._run(step, walk)
            if outcome == "raced":  # a concurrent delivery moved the record: follow it from there
                walk.record = self._reread(task)
                trail.append(f"{state} -{step.name}:raced-> {walk.record.state}")
                state = walk.record.state
                continue
            new = S.next_state(state, step, outcome)
            if not (trail and step.name == S.DUPLICATE):  # the walk's final no-op says nothing
                trail.append(f"{state} -{step.name}:{outcome}-> {new}")
            if new == state:
                break
            state = new
        else:  # pragma: no cover - the table has no cycle; a loop here is a bug worth an alarm
            raise RuntimeError(f"state machine did not settle for {task.task_arn}: {trail}")
        if walk.record is not None and walk.record.work:
            self._finish_work(walk)
        decision = walk.decision or Decision("duplicate", task, reason=f"already {state}")
        decision.state, decision.trail = state, trail
        decision.alerts += walk.alerts
        decision.backlog_cancelled = walk.backlog
        if walk.record is not None and decision.cost_micros is None:
            decision.cost_micros = walk.record.cost_micros
        if walk.retry:
            log_event("warning", "work_left_for_redelivery", why=walk.retry, **decision.summary(self.config.mode))
            if walk.holds_lease:
                self.ledger.release_work(task.task_arn)
            raise GuardRetry(f"{task.task_arn}: {walk.retry}; the redelivered event will finish it")
        return decision

    def _run(self, step: S.Step, walk: _Walk) -> str:
        runner = {
            S.ADMIT: self._admit, S.ADMIT_RAN: self._admit, S.CLOSE: self._close, S.WAIT: self._wait,
            S.CANCEL: self._cancel, S.NOTE_CANCELLING: self._note_cancelling,
            S.CHARGE_OVERRUN: self._charge_overrun, S.END_UNCHARGED: self._end_uncharged,
            S.REFUND: self._refund, S.TRUE_UP: self._true_up, S.DUPLICATE: self._duplicate,
        }[step.name]
        return runner(step, walk)

    def _reread(self, task: TaskEvent) -> TaskRecord:
        record = self.ledger.get_task(task.task_arn)
        if record is None:  # pragma: no cover - the condition that failed says it exists
            raise GuardRetry(f"task record of {task.task_arn} vanished")
        return record


    def _close(self, step: S.Step, walk: _Walk) -> str:
        if not self.ledger.close(walk.task):
            walk.record = self._reread(walk.task)
            return "raced"
        walk.record = _new_record(walk.task, S.CLOSED, None, [], "", set())
        walk.decide("ignored", reason=f"first seen {walk.task.status}: never charged")
        return "done"

    def _wait(self, step: S.Step, walk: _Walk) -> str:
        walk.decide("ignored", reason="cancelling: waiting for its final state")
        return "done"


    def _duplicate(self, step: S.Step, walk: _Walk) -> str:
        record = walk.record
        if walk.decision is None and record is not None:
            walk.decide("duplicate", cost_micros=record.cost_micros, caps=[c.cap for c in record.charges],
                        breached=sorted(set(record.breached) | set(record.oversize)),
                        reason=f"already {record.state}")
        return "done"

    # -- pending work ----------------------------------------------------------------------------
    def _finish_work(self, walk: _Walk) -> None:
        """Sweep, alerts and warnings a record still owes (the cancel is a table step)."""
        record = walk.record
        record = _required(record)
        if record.state == S.REJECTED and WORK_CANCEL in record.work and not walk.holds_lease:
            return  # the lease holder is cancelling: its alerts will say what became of the cancel
        done: set[str] = set()
        if WORK_SWEEP in record.work and not self.config.enforcing:
            done.add(WORK_SWEEP)  # monitor mode never cancels, not even a backlog left by enforce
        elif WORK_SWEEP in record.work and self._claim(walk) and self._sweep(walk):
            done.add(WORK_SWEEP)
        if WORK_ALERTS in record.work and self._task_alerts(walk):
            done.add(WORK_ALERTS)
        if WORK_THRESHOLDS in record.work:
            if walk.record.charged:
                if self._thresholds(walk):
                    done.add(WORK_THRESHOLDS)
            else:
                done.add(WORK_THRESHOLDS)
        if done:
            current = walk.record
            if self.ledger.finish_work(current, done):
                walk.record = replace(current, work=current.work - done)


