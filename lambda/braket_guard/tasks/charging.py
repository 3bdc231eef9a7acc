"""The steps of the task state machine that book money: admission against every cap, overruns, refunds, true-ups."""

from __future__ import annotations

import uuid
from dataclasses import replace

from botocore.exceptions import ClientError

from braket_guard.aws.logs import log_event
from braket_guard.aws.retry import error_code
from braket_guard.core import states as S
from braket_guard.core.caps import CANCEL_QUEUED, Charge, needs_tags, plan_charges
from braket_guard.core.events import TaskEvent
from braket_guard.core.money import micros_to_str
from braket_guard.core.pricing import SIMULATOR, Price, device_kind, duration_cost_micros, task_cost_micros
from braket_guard.core.reservations import may_be_reserved, reservation_of
from braket_guard.core.windows import Window
from braket_guard.tasks.decision import (
    PERMANENT_TASK_ERRORS,
    _level_thresholds,
    _new_record,
    _overrun_metrics,
    _RecordedCharge,
    _refused_by_read,
    _required,
    _Walk,
    _watched,
    _watched_records,
)
from braket_guard.tasks.records import TaskRecord
from braket_guard.tasks.work import WORK_ALERTS, WORK_AWAIT_END, WORK_CANCEL, WORK_SWEEP, WORK_THRESHOLDS


class Charging:
    """The steps of the task state machine that book money: admission against every cap, overruns, refunds, true-ups."""

    # -- pricing and planning --------------------------------------------------------------------
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
                if any(t <= used and self.ledger.marker_key(charge.counter_key, name) not in self.alerts._settled
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

    def _reserved(self, task: TaskEvent) -> bool:
        """Whether a backlog task runs in a reservation (asked only on declared devices)."""
        if not may_be_reserved(self.config.reservations, task.device_arn, task.created_at):
            return False
        return reservation_of(self.braket.get_task(task.task_arn, task.region)) is not None

    # -- steps -----------------------------------------------------------------------------------
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
