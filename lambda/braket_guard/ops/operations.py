"""Scheduled work, invoked with ``{"braket_guard": "reconcile"}``, ``"digest"``, ``"native_limits"``
or ``"native_cleanup"`` (EventBridge schedules with a constant input, Terraform's
``aws_lambda_invocation``, or ``aws lambda invoke``). Wiring only."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from braket_guard.alerts.messages import render_reconcile
from braket_guard.aws import metrics
from braket_guard.aws.logs import log_event
from braket_guard.core.events import EARLIEST, LATEST
from braket_guard.core.money import micros_to_str
from braket_guard.core.strict import brief
from braket_guard.jobs.guard import JobGuard
from braket_guard.ledger.table import MARKER_RETENTION_SECONDS
from braket_guard.native.guard import alert_degraded
from braket_guard.native.spending_limits import NativeUnavailable
from braket_guard.ops.digest import digest_day, gather_digest, render_digest
from braket_guard.ops.reconcile import reconcile
from braket_guard.tasks.guard import Guard

ACTIONS = ("reconcile", "digest", "native_limits", "native_cleanup")
TF_ACTIONS = ("create", "update", "delete")  # aws_lambda_invocation with lifecycle_scope = "CRUD"
DIGEST_RETRY_DAYS = 3  # a digest a channel did not take is retried by the next runs
RECONCILE_ALERT_FACTS = ("correction_usd", "tasks_seen", "regions", "since", "admitted", "rejected",
                         "refunded", "trued_up")


class ActionError(ValueError):
    """A scheduled invocation with an unusable payload."""


# The fields each action takes besides "braket_guard": anything else is refused, not ignored.
ACTION_FIELDS: dict[str, frozenset[str]] = {
    "reconcile": frozenset(), "native_limits": frozenset(),
    "digest": frozenset({"date", "always", "force"}),
    "native_cleanup": frozenset({"tf"}),  # tf: what Terraform's aws_lambda_invocation adds (CRUD scope)
}
DIGEST_YEARS = (EARLIEST, LATEST)  # a digest day is a day Braket could have run tasks on
DAY_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


class CleanupIncomplete(RuntimeError):
    """Limits of the guard are still on Braket after native_cleanup: the invoke must fail, so
    that ``terraform destroy`` stops with the Lambda and its permission to delete still there."""


def flag(event: dict[str, Any], name: str) -> bool:
    """A boolean of the payload, parsed strictly: true/false (JSON) or "true"/"false"."""
    value = event.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise ActionError(f"{name}: expected true or false, got {brief(value)}")


def parse_day(value: Any) -> date:
    """A digest's ``date``: YYYY-MM-DD (ASCII digits), in the years Braket could have run."""
    if not isinstance(value, str) or not DAY_TEXT.match(value):
        raise ActionError(f"date: expected YYYY-MM-DD, got {brief(value)}")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ActionError(f"date: not a calendar day: {brief(value)}") from None
    if not DIGEST_YEARS[0] <= day.year <= DIGEST_YEARS[1]:
        raise ActionError(f"date: year {day.year} is outside {DIGEST_YEARS[0]}-{DIGEST_YEARS[1]}")
    return day


def check_action(event: dict[str, Any]) -> str:
    """The action's name, once its payload has only the fields that action takes."""
    action = event.get("braket_guard")
    if not isinstance(action, str) or action not in ACTIONS:
        raise ActionError(f"braket_guard: unknown action {brief(action)}; expected one of {', '.join(ACTIONS)}")
    unknown = sorted(str(key) for key in event if key != "braket_guard" and key not in ACTION_FIELDS.get(action, ()))
    if unknown:
        allowed = ", ".join(sorted(ACTION_FIELDS.get(action, ()))) or "none"
        raise ActionError(f"{action}: unknown field {brief(unknown[0])}; allowed: {allowed}")
    return action


def run_action(guard: Guard, event: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    action = check_action(event)
    now = now or datetime.now(timezone.utc)
    if action == "reconcile":
        return _reconcile(guard, now)
    if action == "native_limits":  # the schedule at every window boundary (schedules.tf)
        return {"action": "native_limits", **native_sync(guard, now)}
    if action == "native_cleanup":  # uninstall (destroy-time invocation), or by hand
        return native_cleanup(guard, event)
    return _digest(guard, event, now)


def native_cleanup(guard: Guard, event: dict[str, Any]) -> dict[str, Any]:
    """Delete every limit the guard owns, whatever the mode and BRAKET_GUARD_NATIVE_LIMITS say;
    raise when any is left, so the caller (terraform destroy) fails loudly and can run it again."""
    tf = event.get("tf")
    if tf is not None:
        if not isinstance(tf, dict) or tf.get("action") not in TF_ACTIONS:
            raise ActionError(f"tf.action: expected one of {', '.join(TF_ACTIONS)}, got "
                              f"{(tf.get('action') if isinstance(tf, dict) else tf)!r}"[:200])
        if tf["action"] != "delete":  # apply-time calls of the same resource: nothing to do
            return {"action": "native_cleanup", "skipped": tf["action"]}
    if guard.native is None:
        raise CleanupIncomplete("native_cleanup: this runtime has no native limiter")
    try:
        result = guard.native.cleanup()
    except (ClientError, BotoCoreError, NativeUnavailable) as exc:
        if not guard.native.may_own():
            # The ledger says this guard never created a limit (NATIVE/OWNS is written before
            # the first create): nothing of ours can be on Braket, so a runtime without the API
            # or a denied search must not block the uninstall.
            log_event("warning", "native_cleanup_nothing_owned", error=f"{type(exc).__name__}: {exc}"[:300])
            return {"action": "native_cleanup", "deleted": 0, "remaining": [], "errors": [],
                    "skipped": "this guard never created a native limit"}
        log_event("error", "native_cleanup_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        raise CleanupIncomplete(f"native_cleanup could not read or delete the guard's limits: "
                                f"{type(exc).__name__}: {exc}"[:500]) from exc
    summary = {"action": "native_cleanup", **result}
    if result["remaining"]:
        log_event("error", "native_cleanup_incomplete", **summary)
        raise CleanupIncomplete(f"native_cleanup: {len(result['remaining'])} limit(s) of the guard remain: "
                                f"{', '.join(result['remaining'])[:300]}; errors: {'; '.join(result['errors'])[:300]}")
    log_event("info", "native_cleanup", **summary)
    return summary


def native_sync(guard: Guard, now: datetime) -> dict[str, Any]:
    """Roll the mirrored limits into the current window, lift freezes whose window ended, repair
    what a breach left undone. In monitor mode, with native limits off or without the API in the
    runtime: remove every limit the guard owns (only if it ever made one). Never raises."""
    native = guard.native
    if native is None:
        return {"native_limits": "off"}
    try:
        report = native.sync(now)
    except NativeUnavailable as exc:
        native.disable(exc)
        alert_degraded(guard, native, now)
        return {"native_limits": "unavailable", "error": native.unavailable}
    except (ClientError, BotoCoreError) as exc:  # the next run tries again
        log_event("error", "native_sync_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        return {"native_limits": "failed", "error": f"{type(exc).__name__}: {exc}"[:300]}
    alert_degraded(guard, native, now, from_ledger=True)
    if native.mode == "off" and not (report.deleted or report.errors):
        return {"native_limits": "off"}
    metrics.emit({"DevicesFrozen": len(report.frozen), "NativeLimitForeign": len(report.foreign),
                  "NativeLimitChanges": report.created + report.updated + report.deleted},
                 {"Operation": "native_limits"})
    return report.to_dict()


def _reconcile(guard: Guard, now: datetime) -> dict[str, Any]:
    report = reconcile(guard, now)
    summary = {"action": "reconcile", **report.to_dict()}
    if any(cap.counts_jobs for cap in guard.config.caps):  # no cap counts jobs: no job calls
        summary.update(JobGuard(guard).reconcile(now))
    summary["native_limits"] = native_sync(guard, now)  # after the job accrual: it can never stop it
    metrics.emit({"ReconcileTasksSeen": report.tasks_seen, "ReconcileCorrections": report.corrections,
                  "ReconcileCorrectionMicroUSD": report.correction_micros}, {"Operation": "reconcile"})
    config = guard.config
    local_day = now.astimezone(config.zone).date().isoformat()
    key, threshold = (f"RECONCILE#{local_day}", "RUN"), micros_to_str(config.reconcile_alert_micros)
    expires = int(now.timestamp()) + MARKER_RETENTION_SECONDS
    if report.correction_micros > config.reconcile_alert_micros:
        facts = {k: summary[k] for k in RECONCILE_ALERT_FACTS}
        _settled, sent = guard.alerts.send_once(key, "CORRECTION", expires,
                                         lambda: render_reconcile(facts, threshold, config.mode),
                                         detail=json.dumps(facts))
        if sent:
            summary["alerted"] = True
    else:  # a correction alert of an earlier run today that a channel did not take: send it now
        marker = guard.ledger.get_marker(key, "CORRECTION")
        if marker is not None and marker.state == "claimed" and marker.detail:
            facts = json.loads(marker.detail)
            _settled, sent = guard.alerts.send_once(key, "CORRECTION", expires,
                                             lambda: render_reconcile(facts, threshold, config.mode))
            if sent:
                summary["alerted"] = True
    return summary


def _digest(guard: Guard, event: dict[str, Any], now: datetime) -> dict[str, Any]:
    config = guard.config
    requested = event.get("date")
    always, force = flag(event, "always"), flag(event, "force")
    if requested is not None:
        day = parse_day(requested)
    else:
        day = digest_day(now.astimezone(config.zone))
    digest, send = gather_digest(guard, day, always=always)
    summary: dict[str, Any] = {"action": "digest", "day": day.isoformat(), "sent": False,
                               "admitted": digest.admitted, "cancelled": digest.cancelled,
                               "prevented_usd": micros_to_str(digest.prevented_micros)}
    if digest.region_errors:
        summary["region_errors"] = digest.region_errors
    if not send:
        summary["reason"] = "nothing happened"
    elif force:
        results = guard.alerts.send_alert(render_digest(digest))
        summary["sent"] = any(r in ("sent", "uncertain") for r in results.values())
    else:
        settled, sent = guard.alerts.send_once((f"DIGEST#{day.isoformat()}", "RUN"), "SENT",
                                        int(now.timestamp()) + MARKER_RETENTION_SECONDS,
                                        lambda: render_digest(digest))
        summary["sent"] = sent
        if not sent:
            summary["reason"] = ("already sent for this day" if settled else
                                 f"a channel did not take it; the digest runs of the next {DIGEST_RETRY_DAYS} days retry it")
    resent = []
    for back in range(1, DIGEST_RETRY_DAYS + 1):  # digests of earlier days a channel did not take
        earlier = day - timedelta(days=back)
        key = (f"DIGEST#{earlier.isoformat()}", "RUN")
        marker = guard.ledger.get_marker(key, "SENT")
        if marker is None or marker.state != "claimed":
            continue
        old, _ = gather_digest(guard, earlier, always=True)
        _settled, sent = guard.alerts.send_once(key, "SENT", int(now.timestamp()) + MARKER_RETENTION_SECONDS,
                                         lambda old=old: render_digest(old))
        if sent:
            resent.append(earlier.isoformat())
    if resent:
        summary["resent_days"] = resent
    log_event("info", "digest", **summary)
    return summary
