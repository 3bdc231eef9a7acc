"""Runs the task state machine (``states.py``) for one task state change: each step is a ledger
write, a cancel or a sweep; its outcome picks the next state from the table, and the walk goes
on until a step leaves the state as it is. Then the record's pending work (sweep, alerts,
warnings) is finished. It talks only to the ledger, Braket and notifier adapters it is given.

Every step is safe to repeat: the ledger's conditional writes decide who does what, and work a
crashed or throttled invocation left (listed in the ledger's open-work index) is finished by the
next delivery of any event of that task, or by reconciliation.
"""

from __future__ import annotations

import time
import uuid
from decimal import ROUND_CEILING, Decimal
from dataclasses import dataclass, field, replace

from botocore.exceptions import BotoCoreError, ClientError
from datetime import datetime, timezone
from typing import Any

from . import states as S
from .caps import CANCEL_QUEUED, Charge, needs_tags, plan_charges, warnings_reached
from .config import Config
from .events import DEVICE_ARN, TASK_ARN, TaskEvent, is_device_arn
from .ledger import (MARKER_RETENTION_SECONDS, WORK_ALERTS, WORK_AWAIT_END, WORK_CANCEL, WORK_SWEEP,
                     WORK_THRESHOLDS, ALERT_MAX_ATTEMPTS, Ledger, TaskRecord, charge_record)
from .logs import log_event
from .messages import (Alert, TaskFacts, render_unguarded_region, Usage, render_breach, render_cancel_failed, render_oversize,
                       render_overrun, render_warning)
from .money import micros_to_str
from .pacing import by_cost
from .reservations import may_be_reserved, reservation_of
from .retry import error_code
from .pricing import SIMULATOR, Price, device_kind, duration_cost_micros, task_cost_micros
from .windows import Window, format_timestamp, parse_timestamp, window_for

UNSTOPPED_ALERTS_PER_DAY = 10  # "ran despite cap" and "could not cancel" alerts, together
CANCEL_FAILED_ALERTS_PER_DAY = UNSTOPPED_ALERTS_PER_DAY
PERMANENT_TASK_ERRORS = frozenset({"AccessDeniedException", "ResourceNotFoundException", "ValidationException"})
SETTLED_REMEMBERED = 10_000  # alert markers a container remembers as settled
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


class Guard:
    def __init__(self, config: Config, ledger: Ledger, braket: Any, notifier: Any, native: Any = None):
        self.config, self.ledger, self.braket, self.notifier = config, ledger, braket, notifier
        self.native = native  # native_guard.NativeLimiter, or None: the guard only cancels
        self._unguarded_told: dict[tuple[str, str], float] = {}  # (region, day) -> next look (monotonic)
        # Alert markers this container saw settled (sent or given up): never claimed again, so the
        # rejections after a breach cost no alert call (the call budget, issue 23).
        self._settled: set[tuple[str, str]] = set()

    # -- entry point -----------------------------------------------------------------------------
    def handle(self, task: TaskEvent) -> Decision:
        unguarded = self.is_unguarded(task.region)
        if unguarded:
            self.note_unguarded(task.region)
        decision = self._handle(task)
        if unguarded:
            decision.emitted.append(({"UnguardedRegionEvents": 1}, {"Region": task.region}))
        return decision

    def is_unguarded(self, region: str) -> bool:
        """A region outside BRAKET_GUARD_REGIONS (every region when none is guarded). Its events
        are guarded all the same (an event that reached us proves a forwarder sends it); only
        the scheduled work misses it."""
        return region not in self.config.regions

    def note_unguarded(self, region: str) -> None:
        """Alert once per region and local day that this region is not reconciled. Remembered per
        container once settled, so a runaway there costs no extra call per event."""
        day = self.ledger.clock().astimezone(self.config.zone).date().isoformat()
        if self._unguarded_told.get((region, day), 0.0) > time.monotonic():
            return
        log_event("warning", "unguarded_region_event", region=region, guarded=list(self.config.regions))
        try:
            settled, _sent = self.send_once(
                (f"{UNGUARDED_PK}#{day}", f"REGION#{region}"), "ALERT",
                self.ledger.now() + MARKER_RETENTION_SECONDS,
                lambda: render_unguarded_region(region, list(self.config.regions), day, self.config.mode),
                detail=region)
        except (ClientError, BotoCoreError) as exc:  # the next event of the region tries again
            log_event("warning", "unguarded_region_alert_failed", region=region, error=str(exc)[:300])
            return
        # Settled: not again today in this container. Claimed by another sender: look again in
        # a minute, so the region's events meanwhile cost no extra ledger call.
        self._unguarded_told[(region, day)] = time.monotonic() + (86_400 if settled else UNGUARDED_RECHECK_SECONDS)

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

    # -- pricing and planning --------------------------------------------------------------------
    def _counter_keys(self, task: TaskEvent) -> list[tuple[str, str]]:
        """The counters a new task would charge, when the event alone names them (no tag, no
        reservation, a listed price). Read with the task record (one call), they let a task the
        counters already refuse skip the admission's transaction, and an admission under a
        ``warn_at`` cap that crosses no level skip the read after its charge."""
        if S.step_for(S.NEW, task.status).name not in (S.ADMIT, S.ADMIT_RAN):
            return []
        caps = self.config.caps
        if needs_tags(caps, task.device_arn):
            return []
        if may_be_reserved(self.config.reservations, task.device_arn, task.created_at):
            return []
        price = self.config.prices.lookup(task.device_arn)
        if price is None:
            return []
        return [c.counter_key for c in plan_charges(caps, task, task_cost_micros(price, task.shots), None,
                                                    self.config.zone)]

    def _below(self, charges: list[Charge], counters: dict | None) -> dict | None:
        """Bounds that make a charge's transaction prove it crosses no warning level (and no
        alert_only limit) not yet reached, or None when a crossing is possible or unknown.

        Exact under concurrency: the transaction is conditional on each watched counter staying
        below its next level after the charge, so a charge that would cross one is refused (and
        made again the old way, with the read after it). A level at or under the counter as read
        was reached by an earlier charge; the fast way is taken only when this container saw that
        level's marker settled (sent or given up), so a level added by a new configuration, or one
        whose sender has not settled it yet, still goes the old way and is sent."""
        if counters is None:
            return None
        below = {}
        for charge in charges:
            if not (charge.cap.warn_at or not charge.cap.enforcing):
                continue
            counter = counters.get(charge.counter_key)
            if counter is None:
                return None
            bounds: list[int | None] = []
            for used, amount, limit in ((counter.shots, charge.shots, charge.cap.max_shots),
                                        (counter.cost_micros, charge.cost_micros, charge.cap.max_cost_micros)):
                if limit is None:
                    bounds.append(None)
                    continue
                levels = _level_thresholds(charge.cap, limit)
                if any(t <= used and self.ledger.marker_key(charge.counter_key, name) not in self._settled
                       for t, name in levels):
                    return None  # reached, not known settled here: the thresholds step looks
                ahead = [t for t, _ in levels if t > used]
                if not ahead or amount == 0:
                    bounds.append(None)
                    continue
                if used + amount >= min(ahead):
                    return None  # this charge may cross a level: the old way
                bounds.append(min(ahead))
            if any(b is not None for b in bounds):
                below[charge.counter_key] = (bounds[0], bounds[1])
        return below

    def _device_price(self, task: TaskEvent) -> Price | None:
        price = self.config.prices.lookup(task.device_arn)
        if price is None:  # raises on a transient error: never a decision
            price = self.braket.device_price(task.device_arn, task.device_region, self.config.prices)
        return price

    def _plan(self, task: TaskEvent) -> tuple[TaskEvent, int | None, list[Charge]]:
        """Price the task and list its charges. One GetQuantumTask at most, and only when a cap
        groups by a tag or the task may run in a declared reservation: it answers both."""
        tagged = needs_tags(self.config.caps, task.device_arn)
        maybe_reserved = may_be_reserved(self.config.reservations, task.device_arn, task.created_at)
        details = None
        if tagged or maybe_reserved:
            try:
                details = self.braket.get_task(task.task_arn, task.region)
            except ClientError as exc:
                # Denied or not found is a permanent answer: a reservation that cannot be read is
                # not assumed (the task is priced on demand, so its cost and shots count); tags
                # that cannot be read still raise in a guarded region (their group cannot be
                # known, and the role should allow it). In a region outside BRAKET_GUARD_REGIONS
                # the module's role is denied for certain: the task counts as untagged there
                # rather than being redelivered until it dead-letters with its spend uncounted.
                permanent = error_code(exc) in PERMANENT_TASK_ERRORS
                if not permanent or (tagged and not self.is_unguarded(task.region)):
                    raise
                log_event("warning", "tags_unreadable" if tagged else "reservation_unreadable",
                          task=task.task_arn, error=str(exc)[:300])
        reservation = reservation_of(details) if maybe_reserved else None
        if reservation:  # paid for by the hour: no per-task or per-shot charge, shots still count
            task, cost = replace(task, reservation_arn=reservation), 0
        else:
            price = self._device_price(task)
            cost = None if price is None else task_cost_micros(price, task.shots)
        tags = dict((details or {}).get("tags") or {}) if tagged else None
        return task, cost, plan_charges(self.config.caps, task, cost, tags, self.config.zone)

    def _charges_by_cap(self, record: TaskRecord) -> dict[str, Charge]:
        """The record's charges as Charge objects of today's caps (caps since removed are skipped)."""
        caps = {cap.name: cap for cap in self.config.caps}
        out = {}
        for c in record.charges:
            cap = caps.get(c.cap)
            if cap is None:
                continue
            window_key = c.counter_key[0].rsplit("#", 1)[1]
            window = Window(cap.window, window_key, None, None)
            out[c.cap] = _RecordedCharge(cap, c.counter_key[1][len("GROUP#"):], window, c.shots, c.cost_micros,
                                         c.counter_key, c.expires_at)
        return out

    # -- steps -----------------------------------------------------------------------------------
    def _admit(self, step: S.Step, walk: _Walk) -> str:
        monitor = not self.config.enforcing
        task, cost, charges = self._plan(walk.task)
        walk.task = task
        attempt = uuid.uuid4().hex
        enforcing = [c for c in charges if c.cap.enforcing]
        oversize = [c for c in enforcing if c.over_alone()]
        names = [c.cap.name for c in charges]
        breached: list[Charge] = []
        known, walk.counters = walk.counters, None
        refused = [] if oversize else _refused_by_read(enforcing, known)
        if refused:
            # The counters read with the record (consistent, a moment ago) already refuse it: the
            # admission's transaction would be refused too, so it is not made. Decided as of that
            # read: a rejection charges nothing, and the rejection's record is still written only
            # if no other delivery recorded the task meanwhile.
            breached = refused
        elif not oversize:
            below = self._below(charges, known) if _watched(charges) else None
            work = {WORK_THRESHOLDS} if _watched(charges) and below is None else set()
            outcome = self.ledger.admit(task, charges, cost, attempt, work=work, below=below)
            if outcome.outcome == "breached" and below:  # a limit, or a level after all: the old way
                work = {WORK_THRESHOLDS}
                outcome = self.ledger.admit(task, charges, cost, attempt, work=work)
            if outcome.outcome == "duplicate":
                record = self._reread(task)
                if record.attempt != attempt:
                    walk.record = record
                    return "raced"
                outcome = replace(outcome, outcome="admitted")  # our own write; its response was lost
            if outcome.outcome == "admitted":
                if self.native is not None and not self.is_unguarded(task.device_region):
                    # mirror mode: the device's native limit exists (not outside the guarded
                    # regions: the role may not set limits there, and the region's alert says so)
                    self._native_work(lambda: self.native.ensure_mirror(task.device_arn))
                walk.record = _new_record(task, S.ADMITTED, cost, charges, attempt, work)
                walk.decide("admitted", cost_micros=cost, caps=names,
                            emitted=[({"TasksAdmitted": 1, "ShotsAdmitted": task.shots,
                                       "CostAdmittedMicroUSD": cost or 0}, {"Cap": n}) for n in names])
                return "fits"
            breached = list(outcome.breached)
        full = [c.cap.name for c in breached]
        too_big = [c.cap.name for c in oversize]
        over_names = sorted(set(full) | set(too_big))
        outcome = S.admission_outcome(False, monitor)
        target = S.next_state(S.NEW, step, outcome)
        # A cap that really filled sweeps its group's backlog; a task too big alone never does.
        sweep = [] if monitor else sorted(c.cap.name for c in breached if c.cap.on_breach == CANCEL_QUEUED)
        if target == S.REJECTED:
            # Freeze first (issue 23): in a runaway every call before the native limit exists lets
            # ~20 more tasks a second in, so the rejection's own record waits until after it. The
            # freeze is safe to repeat and needs no record: a crash before the rejection is written
            # is redelivered and refused the same way. One try per call and never for a device
            # Braket refused for good; the alerts step (after the cancel) and reconciliation retry it.
            owed = self._alerts_owed(breached, oversize)  # before the freeze: one that turns native limits off still owes its alert
            self._native_breach(breached, task, quick=True)
            work = {WORK_CANCEL} | ({WORK_ALERTS} if owed else set()) | ({WORK_SWEEP} if sweep else set())
            if not self.ledger.reject(task, charges, cost, attempt, breached=full, oversize=too_big,
                                      sweep_caps=sweep, work=work):
                record = self._reread(task)
                if record.attempt != attempt:
                    walk.record = record
                    return "raced"
            walk.record = replace(_new_record(task, S.REJECTED, cost, charges, attempt, work),
                                  breached=tuple(full), oversize=tuple(too_big), sweep_caps=tuple(sweep))
            walk.holds_lease = True
            walk.decide("rejected", cost_micros=cost, caps=names, breached=over_names,
                        emitted=[({"TasksRejected": 1}, {"Cap": n}) for n in over_names])
            return outcome
        reason = "monitor" if monitor else "first_seen_running"
        work = ({WORK_ALERTS} | ({WORK_THRESHOLDS} if _watched(charges) else set())
                | ({WORK_SWEEP} if sweep else set()))
        if not self.ledger.overrun_new(task, charges, cost, attempt, reason=reason, breached=full,
                                       oversize=too_big, sweep_caps=sweep, work=work):
            record = self._reread(task)
            if record.attempt != attempt:
                walk.record = record
                return "raced"
        walk.record = replace(_new_record(task, S.OVERRUN, cost, charges, attempt, work),
                              breached=tuple(full), oversize=tuple(too_big), sweep_caps=tuple(sweep),
                              overrun_reason=reason)
        walk.holds_lease = True
        walk.decide("overrun", cost_micros=cost, caps=names, breached=over_names,
                    reason=f"charged although over {', '.join(over_names)}: {S.OVERRUN_REASONS[reason]}",
                    emitted=_overrun_metrics(task.shots, cost, names, over_names))
        return outcome

    def _alerts_owed(self, breached: list[Charge], oversize: list[Charge]) -> bool:
        """Whether a rejection owes alerts: not when every breach and oversize alert it would send
        is already settled (known to this container) and no native freeze is to be repeated. The
        cancel step adds the alerts back when the cancel is refused."""
        if self.native is not None and self.native.enabled:
            return True
        keys = ([self.ledger.marker_key(c.counter_key, "BREACH") for c in breached]
                + [self.ledger.marker_key(c.counter_key, "OVERSIZE") for c in oversize])
        return not keys or any(key not in self._settled for key in keys)

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

    def _charge_overrun(self, step: S.Step, walk: _Walk) -> str:
        record, task = walk.record, walk.task
        record = _required(record)
        reason = S.overrun_reason(record.state, task.status, record.cancel_error)
        work = (set(record.work) - {WORK_CANCEL, WORK_AWAIT_END}) | {WORK_ALERTS}
        if _watched_records(record, self.config):
            work.add(WORK_THRESHOLDS)
        if not self.ledger.charge_overrun(record, reason, work):
            return "raced"
        walk.record = replace(record, state=S.OVERRUN, work=frozenset(work), overrun_reason=reason)
        names = [c.cap for c in record.charges]
        over = sorted(set(record.breached) | set(record.oversize))
        walk.decide("overrun", cost_micros=record.cost_micros, caps=names, breached=over,
                    reason=f"ran despite {', '.join(over)}: {S.OVERRUN_REASONS[reason]}",
                    emitted=_overrun_metrics(record.shots, record.cost_micros, names, over))
        log_event("warning", "task_ran_despite_cap", task=task.task_arn, status=task.status, reason=reason,
                  caps=over, cost_usd=micros_to_str(record.cost_micros or 0))
        return "done"

    def _end_uncharged(self, step: S.Step, walk: _Walk) -> str:
        record = walk.record
        record = _required(record)
        work = set(record.work) - {WORK_CANCEL, WORK_AWAIT_END}
        if not self.ledger.transition(record, S.CANCELLED, work=work,
                                      sets={"ended_status": {"S": walk.task.status}}):
            return "raced"
        walk.record = replace(record, state=S.CANCELLED, work=frozenset(work))
        over = sorted(set(record.breached) | set(record.oversize))
        # spend prevented only when the guard's own cancel took: a task that failed by itself
        # while the cancel was throttled was not prevented by anyone
        prevented = (record.cost_micros or 0) if record.cancel_status and walk.task.status == "CANCELLED" else 0
        walk.decide("closed", cost_micros=record.cost_micros, breached=over,
                    reason=f"rejected task ended {walk.task.status}: nothing spent",
                    emitted=[({"CostPreventedMicroUSD": prevented}, {"Cap": n}) for n in over if prevented])
        return "done"

    def _refund(self, step: S.Step, walk: _Walk) -> str:
        record = walk.record
        record = _required(record)
        if not self.ledger.refund(record, walk.task.status):
            return "raced"
        walk.record = replace(record, state=S.REFUNDED, work=record.work - {WORK_THRESHOLDS})
        names = [c.cap for c in record.charges]
        walk.decide("refunded", cost_micros=record.cost_micros, caps=names,
                    reason=f"{walk.task.status}: shots and cost given back",
                    emitted=[({"TasksRefunded": 1, "ShotsRefunded": record.shots,
                               "CostRefundedMicroUSD": record.cost_micros or 0}, {"Cap": n}) for n in names])
        return "done"

    def _true_up(self, step: S.Step, walk: _Walk) -> str:
        """Correct a simulator's charge from its run time once it completes.

        The billed duration is not in the event; ``endedAt - createdAt`` bounds it from above
        (it includes time in the queue), so the corrected charge is an estimate, labelled so.
        """
        record, task = walk.record, walk.task
        record = _required(record)
        if record.trued_up or device_kind(task.device_arn) != SIMULATOR or task.ended_at is None:
            return self._duplicate(step, walk)
        price = self._device_price(task)
        if price is None or not price.by_duration or record.cost_micros is None:
            return self._duplicate(step, walk)
        elapsed_ms = max(0, int((task.ended_at - task.created_at).total_seconds() * 1000))
        new_cost = duration_cost_micros(price, elapsed_ms)
        work = set(record.work) | ({WORK_THRESHOLDS} if _watched_records(record, self.config) else set())
        if not self.ledger.true_up(record, new_cost, "estimate: endedAt - createdAt", work=work):
            return "raced"
        walk.record = replace(record, trued_up=True, cost_micros=new_cost, work=frozenset(work),
                              charges=tuple(replace(c, cost_micros=new_cost) for c in record.charges))
        names = [c.cap for c in record.charges]
        correction = new_cost - record.cost_micros
        emitted = [({"SimulatorTrueUpMicroUSD": correction}, {"Cap": n}) for n in names]
        if walk.decision is not None and walk.decision.decision in ("admitted", "overrun"):
            walk.decision.emitted += emitted
            walk.decision.cost_micros = new_cost
            return "done"
        walk.decide("trued_up", cost_micros=new_cost, caps=names, correction_micros=correction,
                    reason=f"simulator ran {elapsed_ms} ms by endedAt - createdAt (an upper-bound estimate)",
                    emitted=emitted)
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

    def _reserved(self, task: TaskEvent) -> bool:
        """Whether a backlog task runs in a reservation (asked only on declared devices)."""
        if not may_be_reserved(self.config.reservations, task.device_arn, task.created_at):
            return False
        return reservation_of(self.braket.get_task(task.task_arn, task.region)) is not None

    def _facts(self, record: TaskRecord) -> TaskFacts:
        return TaskFacts(record.task_arn, record.device_arn, record.shots, record.cost_micros, record.created_at)

    def _action_text(self, record: TaskRecord) -> str:
        if record.state == S.OVERRUN:
            return f"not cancelled: {S.OVERRUN_REASONS.get(record.overrun_reason, record.overrun_reason)}"
        if record.state == S.CANCELLED:
            return "cancelled"
        if record.state == S.CANCEL_REQUESTED:
            if record.cancel_error.startswith("ended"):
                return "not cancelled: it had already ended when the guard tried"
            return "cancelled"
        if record.state == S.CANCEL_FAILED:
            return f"NOT cancelled: {record.cancel_error}"
        return "cancellation requested, still retrying"

    def _task_alerts(self, walk: _Walk) -> bool:
        """The alerts a rejection or overrun owes: breach (once per cap, group, window), oversize
        (once per cap, group, window) and one per task that was not stopped. True when settled."""
        record = walk.record
        record = _required(record)
        charges = self._charges_by_cap(record)
        action, facts, settled = self._action_text(record), self._facts(record), True
        planned: list[tuple[tuple[str, str], str, int | None, Any]] = []
        full = [charges[n] for n in record.breached if n in charges]
        if full:
            native = self._native_breach(full, summary_event(
                {"quantumTaskArn": record.task_arn, "deviceArn": record.device_arn, "status": "CREATED",
                 "createdAt": record.created_at, "shots": record.shots}))
            action = f"{action}. {native}" if native else action
            counters: dict = {}

            def usage(charge) -> Usage:  # read once, and only when an alert is claimed to be sent
                if not counters:
                    counters.update(self.ledger.read_counters(c.counter_key for c in full))
                counter = counters[charge.counter_key]
                return Usage(counter.shots, counter.cost_micros)

            for charge in full:
                planned.append((charge.counter_key, "BREACH", charge.expires_at, lambda c=charge:
                                render_breach(c.cap, c.group, c.window.key, usage(c), facts,
                                              action, self.config.mode, walk.backlog)))
        for name in record.oversize:
            charge = charges.get(name)
            if charge is not None:
                planned.append((charge.counter_key, "OVERSIZE", charge.expires_at, lambda c=charge:
                                render_oversize(c.cap, c.group, c.window.key, facts, action, self.config.mode)))
        for key, marker, expires, render in planned:
            settled = self._send_once(walk, key, marker, expires, render, detail=record.task_arn) and settled
        unstopped = (record.state if record.state == S.CANCEL_FAILED
                     or (record.state == S.OVERRUN and record.overrun_reason not in ("", "monitor")) else "")
        if not unstopped and (record.cancel_error or record.overrun_reason):
            # The task was not stopped once (and is now cancelled or refunded): an alert about it
            # whose sender died between two channels is still owed to the channel that missed it
            # (found by the model-based test: an email went out, Slack never heard).
            owed = self.ledger.get_marker((f"TASK#{record.task_arn}", "TASK"), "UNSTOPPED")
            if owed is not None and owed.state == "claimed" and owed.detail in (S.CANCEL_FAILED, S.OVERRUN):
                unstopped = owed.detail
        if unstopped:
            over = sorted(set(record.breached) | set(record.oversize))
            if unstopped == S.CANCEL_FAILED:
                def render(last: bool) -> Alert:
                    return render_cancel_failed(facts, over, record.cancel_error, self.config.mode, last_today=last)
            else:
                def render(last: bool) -> Alert:
                    return render_overrun(facts, over, S.OVERRUN_REASONS.get(record.overrun_reason,
                                                                             record.overrun_reason),
                                          self.config.mode, last_today=last)
            settled = self._send_unstopped(walk, record, render) and settled
        return settled

    def _send_unstopped(self, walk: _Walk, record: TaskRecord, render) -> bool:
        """One alert per task that was not stopped, at most UNSTOPPED_ALERTS_PER_DAY a day: a
        device finishing tasks faster than the guard decides must not flood the inboxes."""
        key = (f"TASK#{record.task_arn}", "TASK")
        expires = self.ledger.now() + MARKER_RETENTION_SECONDS
        marker = self.ledger.claim_alert(key, "UNSTOPPED", expires, record.state)
        if marker is None:
            existing = self.ledger.get_marker(key, "UNSTOPPED")
            return existing is None or existing.state in ("sent", "failed")
        if marker.attempts == 1:
            local_day = self.ledger.clock().astimezone(self.config.zone).date().isoformat()
            sent_today = self.ledger.increment((f"ALERTS#{local_day}", "UNSTOPPED"), "sent",
                                               self.ledger.now() + MARKER_RETENTION_SECONDS)
            if sent_today > UNSTOPPED_ALERTS_PER_DAY:
                log_event("warning", "unstopped_alert_suppressed", task=record.task_arn, sent_today=sent_today)
                self.ledger.settle_alert(marker, (), done=True)
                return True
            last = sent_today == UNSTOPPED_ALERTS_PER_DAY
        else:  # a resend of a claim whose sender died
            last = False
        settled, sent = self._deliver(marker, render(last))
        walk.alerts += int(sent)
        return settled

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
        from .native_guard import NativeUnavailable, alert_degraded
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

    def _thresholds(self, walk: _Walk) -> bool:
        """After a charge: warnings (once per cap, group, window and level) and the breach alert
        of an ``alert_only`` cap whose limit the counter now passes. True when settled."""
        record = walk.record
        record = _required(record)
        charges = [c for c in self._charges_by_cap(record).values() if c.cap.warn_at or not c.cap.enforcing]
        if not charges:
            return True
        counters = self.ledger.read_counters(c.counter_key for c in charges)
        settled, facts = True, self._facts(record)
        for charge in charges:
            counter = counters[charge.counter_key]
            usage = Usage(counter.shots, counter.cost_micros)
            if not charge.cap.enforcing and _over_limit(charge.cap, usage):
                settled = self._send_once(walk, charge.counter_key, "BREACH", charge.expires_at,
                                          lambda c=charge, u=usage: render_breach(
                                              c.cap, c.group, c.window.key, u, facts,
                                              "admitted (alert_only cap: never cancels)", self.config.mode),
                                          detail=record.task_arn) and settled
            levels = list(reversed(warnings_reached(charge.cap, usage.shots, usage.cost_micros)))
            for index, level in enumerate(levels):
                if index == 0:  # one message for the highest new level, the lower ones silently
                    settled = self._send_once(walk, charge.counter_key, f"WARN#{level}", charge.expires_at,
                                              lambda c=charge, lv=level, u=usage: render_warning(
                                                  c.cap, c.group, c.window.key, lv, u, self.config.mode)) and settled
                else:
                    marker = self.ledger.claim_alert(charge.counter_key, f"WARN#{level}", charge.expires_at)
                    if marker is not None and self.ledger.settle_alert(marker, (), done=True):
                        self._remember_settled(marker.key)
        return settled

    def _send_once(self, walk: _Walk, key: tuple[str, str], name: str, expires: int | None, render,
                   detail: str = "") -> bool:
        settled, sent = self.send_once(key, name, expires, render, detail)
        walk.alerts += int(sent)
        return settled

    def send_once(self, key: tuple[str, str], name: str, expires: int | None, render,
                  detail: str = "") -> tuple[bool, bool]:
        """Claim an alert (with a lease), send it, settle it: at least once, never twice.

        Returns (settled, sent by this call). Not settled: another sender holds the claim, or a
        channel failed; the claim's owner (a redelivery, reconciliation) sends it again later."""
        marker_key = self.ledger.marker_key(key, name)
        if marker_key in self._settled:
            return True, False
        marker, existing = self.ledger.claim_or_read(marker_key, expires, detail)
        if marker is None:
            done = existing is not None and existing.state in ("sent", "failed")
            if done:
                self._remember_settled(marker_key)
            return existing is None or done, False
        return self._deliver(marker, render())

    def _remember_settled(self, marker_key: tuple[str, str]) -> None:
        if len(self._settled) >= SETTLED_REMEMBERED:  # a long-lived container: start afresh
            self._settled.clear()
        self._settled.add(marker_key)

    def _deliver(self, marker, alert: Alert) -> tuple[bool, bool]:
        """Send a claimed alert and settle it. A channel that failed leaves the alert in the
        outbox (the open-work partition): from then on reconciliation owns it, whatever becomes of
        the task that raised it. Returns (settled for the caller, sent to some channel)."""
        results = self.send_alert(alert, skip=marker.channels_sent)
        sent = [channel for channel, result in results.items() if result in ("sent", "uncertain")]
        failed = [channel for channel, result in results.items() if result == "failed"]
        done = not failed
        give_up = not done and marker.attempts >= ALERT_MAX_ATTEMPTS
        # settle first: the channels that took it are recorded before anything else can fail
        recorded = self.ledger.settle_alert(marker, sent, done=done or give_up, failed=give_up)
        if recorded and (done or give_up):
            self._remember_settled(marker.key)
        if give_up:
            log_event("error", "alert_given_up", kind=alert.kind, subject=alert.subject, channels=failed,
                      attempts=marker.attempts)
        if done or give_up:
            if marker.attempts > 1:
                self.ledger.delete_outbox(marker.key)
            return True, bool(sent)
        try:
            self.ledger.put_outbox(marker.key, {"kind": alert.kind, "subject": alert.subject,
                                                "text": alert.text, "slack": alert.slack})
        except (ClientError, BotoCoreError) as exc:  # the record that raised it keeps it owed
            log_event("warning", "outbox_write_failed", subject=alert.subject, error=str(exc)[:300])
            return False, bool(sent)
        return True, bool(sent)

    def resend_outbox(self) -> tuple[int, int]:
        """Send again every alert a channel did not take, once its retry delay is over.
        Returns (alerts waiting, alerts sent now)."""
        waiting, sent_now = 0, 0
        for marker_key, stored in self.ledger.outbox():
            waiting += 1
            marker = self.ledger.claim_marker(marker_key, None)
            if marker is None:
                existing = self.ledger.get_marker_key(marker_key)
                if existing is not None and existing.state != "claimed":
                    self.ledger.delete_outbox(marker_key)  # settled meanwhile by someone else
                continue
            alert = Alert(stored["kind"], stored["subject"], stored["text"], stored["slack"])
            _settled, sent = self._deliver(marker, alert)
            sent_now += int(sent)
        return waiting, sent_now

    def send_alert(self, alert: Alert, skip=frozenset()) -> dict[str, str]:
        results = self.notifier.send(alert, skip=skip)
        log_event("info", "alert", kind=alert.kind, subject=alert.subject, delivery=results)
        return results


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
