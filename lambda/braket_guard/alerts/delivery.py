"""Alert delivery for every guard: claim a marker (with a lease), send, settle. What a channel did
not take waits in the outbox, and reconciliation sends it again. At least once, never twice."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from braket_guard.alerts.messages import Alert
from braket_guard.aws.logs import log_event
from braket_guard.ledger.markers import ALERT_MAX_ATTEMPTS

SETTLED_REMEMBERED = 10_000  # alert markers a container remembers as settled


class AlertDelivery:
    """One per container, shared by the task, job and native guards and the scheduled actions."""

    def __init__(self, ledger: Any, notifier: Any):
        self.ledger, self.notifier = ledger, notifier
        # Alert markers this container saw settled (sent or given up): never claimed again, so the
        # rejections after a breach cost no alert call (the call budget, issue 23).
        self._settled: set[tuple[str, str]] = set()

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

    def send_warnings(self, key: tuple[str, str], levels: list, expires: int | None, render) -> tuple[bool, int]:
        """The warnings a counter reached (``levels``, highest first): one message for the highest
        new level, the lower ones settled silently (each level once per cap, group and window).
        ``render(level)`` builds the message. Returns (settled, alerts sent). Both guards use it."""
        settled, sent = True, 0
        for index, level in enumerate(levels):
            if index == 0:
                done, was_sent = self.send_once(key, f"WARN#{level}", expires, lambda lv=level: render(lv))
                settled, sent = settled and done, sent + int(was_sent)
                continue
            marker = self.ledger.claim_alert(key, f"WARN#{level}", expires)
            if marker is not None and self.ledger.settle_alert(marker, (), done=True):
                self._remember_settled(marker.key)
        return settled, sent

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
