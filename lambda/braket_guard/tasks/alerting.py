"""The alerts a task's record owes: breach, oversize, could-not-cancel, ran-despite-cap, and warnings when a charge crosses a level."""

from __future__ import annotations

from typing import Any

from braket_guard.alerts.messages import (
    Alert,
    TaskFacts,
    Usage,
    render_breach,
    render_cancel_failed,
    render_overrun,
    render_oversize,
    render_warning,
)
from braket_guard.aws.logs import log_event
from braket_guard.core import states as S
from braket_guard.core.caps import Charge, warnings_reached
from braket_guard.ledger.table import MARKER_RETENTION_SECONDS
from braket_guard.tasks.decision import UNSTOPPED_ALERTS_PER_DAY, _over_limit, _required, _Walk, summary_event
from braket_guard.tasks.records import TaskRecord


class TaskAlerts:
    """The alerts a task's record owes: breach, oversize, could-not-cancel, ran-despite-cap, and warnings when a charge crosses a level."""

    def _alerts_owed(self, breached: list[Charge], oversize: list[Charge]) -> bool:
        """Whether a rejection owes alerts: not when every breach and oversize alert it would send
        is already settled (known to this container) and no native freeze is to be repeated. The
        cancel step adds the alerts back when the cancel is refused."""
        if self.native is not None and self.native.enabled:
            return True
        keys = ([self.ledger.marker_key(c.counter_key, "BREACH") for c in breached]
                + [self.ledger.marker_key(c.counter_key, "OVERSIZE") for c in oversize])
        return not keys or any(key not in self.alerts._settled for key in keys)

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
        settled, sent = self.alerts._deliver(marker, render(last))
        walk.alerts += int(sent)
        return settled

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
            done, sent = self.alerts.send_warnings(
                charge.counter_key, levels, charge.expires_at,
                lambda lv, c=charge, u=usage: render_warning(c.cap, c.group, c.window.key, lv, u, self.config.mode))
            settled, walk.alerts = settled and done, walk.alerts + sent
        return settled

    def _send_once(self, walk: _Walk, key: tuple[str, str], name: str, expires: int | None, render,
                   detail: str = "") -> bool:
        settled, sent = self.alerts.send_once(key, name, expires, render, detail)
        walk.alerts += int(sent)
        return settled
