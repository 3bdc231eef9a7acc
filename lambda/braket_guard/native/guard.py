"""Wires the native-limit planner (``native_limits.py``) to the ledger and Braket: freezes are
ledger items, limits are read with SearchSpendingLimits, the plan's calls are made here.

Freezes live in the ledger (``NATIVE`` / ``FREEZE#<cap>#<window>#<group>``): the breach that
first writes one (a conditional put) freezes; every other invocation of the same breach finds it
and only repairs what is missing. A freeze is written once per cap, group and window, so an
operator's ``unfreeze`` holds for the rest of the window (the guard goes on cancelling).

Safety (README "The safety rule for native limits"): ``NATIVE`` / ``OWNS`` is written before the
guard's first CreateSpendingLimit and never removed, so a sync in monitor mode or with native
limits off searches Braket only where the guard may own limits and then deletes all of them;
``NATIVE`` / ``BROKEN#<device>`` records a permanent refusal (retired device, denied, invalid)
for a day, so the hot path stops retrying it; a botocore without the API turns native limits off
for the container (:class:`NativeUnavailable`), never the event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from braket_guard.alerts.messages import Alert, _footer, _slack, _subject, short_device
from braket_guard.aws import metrics
from braket_guard.aws.logs import log_event
from braket_guard.aws.retry import error_code
from braket_guard.core.caps import counter_key
from braket_guard.core.money import micros_to_str
from braket_guard.core.windows import format_timestamp, window_for
from braket_guard.ledger.table import MARKER_RETENTION_SECONDS
from braket_guard.native import rules as N
from braket_guard.native.ledger import BROKEN_FOR, NATIVE_PK, OWNS_SK, NativeRecords, _parse_freeze
from braket_guard.native.spending_limits import LimitConflict, NativeUnavailable, SpendingLimits

if TYPE_CHECKING:  # the configuration is handed in; config.py itself reads native.rules, below it
    from braket_guard.config import Config

# Answers that the same call will get again: recorded per device, not retried on the hot path.
PERMANENT_ERRORS = frozenset({"DeviceRetiredException", "AccessDeniedException", "ValidationException",
                              "ResourceNotFoundException", "UnrecognizedClientException"})
NATIVE_ERRORS = (ClientError, BotoCoreError, NativeUnavailable)  # what native work may raise


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    frozen: list[str] = field(default_factory=list)
    foreign: list[dict[str, str]] = field(default_factory=list)
    drift: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "deleted": self.deleted,
                "frozen": sorted(self.frozen), "foreign": self.foreign, "drift": self.drift,
                "errors": self.errors}


@dataclass(frozen=True)
class BreachOutcome:
    """What a breach did to Braket's limits, for the alert and the decision log."""

    freeze: N.Freeze | None
    frozen: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()
    error: str = ""

    def text(self) -> str:
        if self.freeze is None:
            return ""
        parts = []
        until = format_timestamp(self.freeze.until) if self.freeze.until else "it is unfrozen"
        if self.frozen:
            parts.append(f"Braket now refuses new tasks at CreateQuantumTask on "
                         f"{', '.join(short_device(d) for d in self.frozen)} (native spending limit of $0) "
                         f"until {until}; `braket-guard unfreeze {self.freeze.cap}` lifts it early")
        if self.foreign:
            parts.append(f"{', '.join(short_device(d) for d in self.foreign)} already "
                         f"{'has' if len(self.foreign) == 1 else 'have'} a spending limit the guard does "
                         "not own: left alone, the guard keeps cancelling there")
        if self.error:
            parts.append(f"the freeze is not complete ({self.error[:200]}); reconciliation retries it")
        return "; ".join(parts)






class NativeLimiter(NativeRecords):
    """The guard's side of Braket's native spending limits for one deployment (owner = table)."""

    def __init__(self, config: Config, ledger: Any, limits: SpendingLimits):
        self.config, self.ledger, self.limits = config, ledger, limits
        self.owner = config.table
        self._ensured: set[tuple[str, str]] = set()  # (device, window) mirrored by this container
        self._marked = False  # NATIVE / OWNS written (or read) by this container
        self.unavailable = ""  # why this container cannot drive native limits ("" if it can)
        self.broken_found: list[dict[str, str]] = []  # permanent refusals recorded by the last calls
        self.unavailable_alerted = ""  # the local day this container last claimed that alert

    @property
    def enabled(self) -> bool:
        """Native limits are enforcement: monitor mode never freezes or mirrors."""
        return self.config.native_limits != N.OFF and self.config.enforcing and not self.unavailable

    @property
    def mode(self) -> str:
        """The planner's mode: OFF (delete all of ours) unless native limits drive enforcement."""
        return self.config.native_limits if self.enabled else N.OFF

    def disable(self, exc: BaseException) -> None:
        """The runtime cannot call the API: native limits are off for this container."""
        if not self.unavailable:
            self.unavailable = str(exc)[:300] or type(exc).__name__
            log_event("error", "native_limits_unavailable", error=self.unavailable)
            metrics.emit({"NativeLimitsUnavailable": 1}, {"Operation": "native_limits"})

    # -- ownership marker and broken devices ----------------------------------------------------------
    def may_own(self) -> bool:
        """Whether the guard ever created a limit (NATIVE / OWNS): if not, there is nothing to remove."""
        if self._marked:
            return True
        item = self.ledger.backoff.call(lambda: self.ledger.client.get_item(
            TableName=self.ledger.table, Key={"pk": {"S": NATIVE_PK}, "sk": {"S": OWNS_SK}},
            ConsistentRead=True)).get("Item")
        self._marked = item is not None
        return self._marked








    def universe(self, extra: Iterable[str] = ()) -> set[str]:
        priced = [arn for arn in self.config.prices.prices]
        return N.known_qpus(self.config.caps, priced, self.config.regions, extra)

    # -- hooks -----------------------------------------------------------------------------------
    def on_breach(self, cap: Any, group: str, window: Any, device_arn: str,
                  now: datetime | None = None) -> BreachOutcome:
        """An enforcing cap's group is full: freeze the QPUs of its scope (once per window)."""
        if not self.enabled:
            return BreachOutcome(None)
        now = now or datetime.now(timezone.utc)
        freeze = N.freeze_for_breach(cap, group, window, self.universe([device_arn]))
        if freeze is None:
            return BreachOutcome(None)
        # Read first: in a runaway every rejected task lands here, and a read is cheaper than a
        # conditional write that fails.
        stored = self._get_freeze(freeze)
        new = not stored and self._put_freeze(freeze)
        if not new and not stored:
            stored = self._get_freeze(freeze)
        if stored:
            freeze = _parse_freeze(stored)
            if freeze.lifted:  # unfrozen by an operator: it stays lifted for the window
                return BreachOutcome(freeze)
            if stored.get("freeze_state", {}).get("S") == "applied":
                return BreachOutcome(freeze, tuple(stored.get("frozen", {}).get("SS", [])),
                                     tuple(stored.get("foreign", {}).get("SS", [])))
        broken = set(self.broken(now)) & freeze.devices
        report = self.sync(now, devices=freeze.devices - broken) if freeze.devices - broken else SyncReport()
        frozen = tuple(sorted(set(report.frozen) & freeze.devices))
        foreign = tuple(sorted({f["device"] for f in report.foreign} & freeze.devices))
        if not report.errors:
            values: dict[str, Any] = {"freeze_state": {"S": "applied"}}
            if frozen:
                values["frozen"] = {"SS": list(frozen)}
            if foreign:
                values["foreign"] = {"SS": list(foreign)}
            if broken:
                values["broken"] = {"SS": sorted(broken)}
            self._set_freeze(freeze, **values)
        log_event("warning", "native_freeze", cap=freeze.cap, group=freeze.group, frozen=list(frozen),
                  foreign=list(foreign), until=format_timestamp(freeze.until) if freeze.until else None,
                  errors=report.errors)
        errors = report.errors + [f"{d}: permanently refused, not retried before "
                                  f"{format_timestamp(now + BROKEN_FOR)}" for d in sorted(broken)]
        return BreachOutcome(freeze, frozen, foreign, "; ".join(errors))

    def ensure_mirror(self, device_arn: str, now: datetime | None = None) -> None:
        """The first task this container sees on a mirrored QPU in a window makes sure the device
        has its limit, so a limit exists within one event of deploying or of a boundary whose
        schedule was missed. One search per container, device and window; never fails the event."""
        if not self.enabled or self.config.native_limits != N.MIRROR or not N.is_qpu(device_arn):
            return
        now = now or datetime.now(timezone.utc)
        caps = [c for c in N.mirror_caps(self.config.caps) if c.applies_to(device_arn)]
        if not caps:
            return
        key = (device_arn, "|".join(sorted(window_for(c.window, now, self.config.zone).key for c in caps)))
        if key in self._ensured:
            return
        try:
            if device_arn in self.broken(now):  # a permanent refusal: the schedule retries it
                self._ensured.add(key)
                return
            report = self.sync(now, devices=[device_arn])
        except NativeUnavailable:
            raise
        except (ClientError, BotoCoreError) as exc:
            log_event("warning", "native_mirror_not_ensured", device=device_arn, error=str(exc)[:300])
            return
        if not report.errors:
            self._ensured.add(key)

    def unfreeze(self, cap_name: str, group: str | None = None, now: datetime | None = None) -> list[N.Freeze]:
        """Lift the active freezes of a cap (one group, or all) and give the devices their room back."""
        now = now or datetime.now(timezone.utc)
        lifted = []
        for freeze, _item in self.freezes():
            if freeze.cap != cap_name or (group is not None and freeze.group != group) or not freeze.active(now):
                continue
            self._set_freeze(freeze, lifted={"BOOL": True},
                             lifted_at={"S": format_timestamp(now)})
            lifted.append(freeze)
        if lifted:
            devices = set().union(*(f.devices for f in lifted))
            self.sync(now, devices=devices)
        return lifted

    # -- the sync --------------------------------------------------------------------------------
    def targets(self, devices: Iterable[str], now: datetime) -> dict[str, N.MirrorTarget]:
        if self.config.native_limits != N.MIRROR:
            return {}
        caps = N.mirror_caps(self.config.caps)
        devices = [d for d in devices if N.is_qpu(d)]
        keys = {}
        for cap in caps:
            window = window_for(cap.window, now, self.config.zone)
            for device in devices:
                if cap.applies_to(device):
                    keys[(cap.name, window.key, device)] = counter_key(cap.name, window.key, device)
        counters = self.ledger.read_counters(keys.values()) if keys else {}
        amounts = {k: counters[key].cost_micros for k, key in keys.items()}
        return N.mirror_targets(self.config.caps, devices, amounts, now, self.config.zone)

    def current_limits(self, regions: Iterable[str], devices: Iterable[str] | None = None) -> list[N.NativeLimit]:
        out: list[N.NativeLimit] = []
        wanted = sorted(set(devices)) if devices is not None else None
        for region in sorted(set(regions)):
            in_region = None if wanted is None else [d for d in wanted if N.device_region(d) == region]
            if in_region == []:
                continue
            out += self.limits.search(region, in_region)
        if not self._marked and any(l.owned_by(self.owner) for l in out):
            self._mark_owner()  # limits of an earlier version, made before the marker existed
        return out

    def guarded_regions(self) -> set[str]:
        return set(self.config.regions) or {N.device_region(d) for d in self.universe()}

    def cleanup(self) -> dict[str, Any]:
        """Delete every limit this guard owns in every guarded region, whatever the mode or the
        native-limits setting (uninstall, or by hand); then search again: what is left is listed."""
        regions = self.guarded_regions()
        errors: list[str] = []
        deleted = 0
        for limit in self.current_limits(regions):
            if not limit.owned_by(self.owner):
                continue
            try:
                self.limits.delete(limit.arn, limit.device_arn)
                deleted += 1
            except (ClientError, BotoCoreError) as exc:
                errors.append(f"DeleteSpendingLimit {limit.arn}: {exc}"[:300])
        remaining = sorted(l.arn for l in self.current_limits(regions) if l.owned_by(self.owner))
        return {"deleted": deleted, "remaining": remaining, "errors": errors}

    def sync(self, now: datetime | None = None, devices: Iterable[str] | None = None) -> SyncReport:
        """Bring Braket's limits to the plan: the whole deployment, or only ``devices``."""
        now = now or datetime.now(timezone.utc)
        report = SyncReport()
        mode = self.mode
        if mode == N.OFF and not self.may_own():  # never created a limit: nothing to remove
            return report
        freezes = [f for f, _ in self.freezes()]
        scope = set(devices) if devices is not None else None
        universe = self.universe(scope or ())
        regions = self.guarded_regions()
        if scope is not None:
            regions = {N.device_region(d) for d in scope if N.is_qpu(d)}
        limits = self.current_limits(regions, scope)
        targets = self.targets(scope if scope is not None else universe, now) if mode != N.OFF else {}
        for attempt in range(3):
            result = N.plan(mode, self.owner, targets, freezes, limits, now, devices=scope)
            conflict = self._execute(result, report, now)
            if not conflict:
                break
            limits = self.current_limits(regions, scope)  # another invocation created one: plan again
        report.frozen = sorted(result.frozen)
        report.foreign = [{"device": f.device_arn, "limit": f.arn, "limit_usd": micros_to_str(f.amount_micros)}
                          for f in result.foreign]
        self._drift(targets, limits, report)
        if report.created or report.updated or report.deleted or report.errors:
            log_event("info", "native_limits_synced", **report.to_dict())
        return report

    def _execute(self, result: N.Plan, report: SyncReport, now: datetime) -> bool:
        """Make the plan's calls; True when a create met a limit made meanwhile (plan again)."""
        conflict = False
        skip: set[str] = set()
        for action in result.actions:
            if action.device_arn in skip:
                continue
            try:
                if isinstance(action, N.Delete):
                    self.limits.delete(action.arn, action.device_arn)
                    report.deleted += 1
                elif isinstance(action, N.Update):  # pragma: no cover - the planner makes none
                    raise AssertionError("the planner never updates a limit")
                else:
                    self._mark_owner()
                    # A fresh token per call: Braket silently ignores a repeated one, so a limit
                    # deleted since (window end, unfreeze) would never be made again. One limit per
                    # device already makes a second create impossible (a conflict, then a search).
                    self.limits.create(action.device_arn, action.amount_micros, dict(action.tags),
                                       f"{action.token[:36]}-{uuid.uuid4().hex[:24]}", action.period)
                    report.created += 1
            except LimitConflict:
                conflict = True
            except NativeUnavailable:
                raise
            except (ClientError, BotoCoreError) as exc:  # the next sync (schedule, breach) retries
                skip.add(action.device_arn)  # never create after a delete that failed
                report.errors.append(f"{type(action).__name__} {action.device_arn}: {exc}"[:300])
                log_event("error", "native_limit_call_failed", action=type(action).__name__,
                          device=action.device_arn, error=str(exc)[:300])
                if isinstance(action, N.Create) and error_code(exc) in PERMANENT_ERRORS:
                    self._record_broken(action.device_arn, error_code(exc), str(exc), now)
        return conflict

    def _drift(self, targets: dict[str, N.MirrorTarget], limits: list[N.NativeLimit], report: SyncReport) -> None:
        """Braket's spend since each mirrored limit existed against the guard's counter since then."""
        for limit in limits:
            target = targets.get(limit.device_arn)
            if target is None or not limit.owned_by(self.owner) or limit.identity != (
                    target.window_tag, target.caps_fingerprint):
                continue
            drift = N.drift_micros(limit, target.baseline_micros)  # the counter now
            if drift is None:
                continue
            report.drift.append({"device": limit.device_arn, "drift_usd": micros_to_str(drift),
                                 "braket_usd": micros_to_str(limit.total_micros + limit.queued_micros)})
            metrics.emit({"NativeLimitDriftMicroUSD": abs(drift)}, {"Device": limit.device_arn})


# -- degrading loudly ----------------------------------------------------------------------------
def _alert(title: str, lines: list[str], mode: str) -> Any:
    text = "\n".join([title, ""] + lines + ["", _footer(mode)])
    return Alert("warning", _subject(f"braket-guard: {title}"), text, _slack(title, lines, title, _footer(mode)))


def alert_degraded(guard: Any, limiter: NativeLimiter, now: datetime | None = None,
                   from_ledger: bool = False) -> None:
    """The alerts native work owes, through the guard's once-only machinery: one a day while the
    runtime lacks the API; one per device and day for a permanent refusal (``from_ledger``: for
    every device recorded, so a refusal whose alert a crash lost is told by the next schedule
    run). Never raises."""
    now = now or datetime.now(timezone.utc)
    day = now.astimezone(guard.config.zone).date().isoformat()
    expires = int(now.timestamp()) + MARKER_RETENTION_SECONDS
    mode = guard.config.mode
    planned = []
    if limiter.unavailable and limiter.unavailable_alerted != day:
        limiter.unavailable_alerted = day  # this container asks the ledger once a day, not per event
        planned.append(((NATIVE_PK, f"UNAVAILABLE#{day}"), lambda: _alert(
            "Native spending limits are off: this runtime cannot call them", [
                f"The Lambda's botocore lacks Braket's spending-limit API ({limiter.unavailable}).",
                "The guard goes on counting and cancelling; it makes no native limit and cannot remove any.",
                "Limits it made before stay on Braket: remove them with `aws braket delete-spending-limit` "
                f"(tag braket-guard:owner = {limiter.owner}) or a runtime with a newer boto3."], mode)))
    found = list(limiter.broken_found)
    if from_ledger:
        try:
            found = [{"device": d, **why} for d, why in limiter.broken(now).items()]
        except (ClientError, BotoCoreError) as exc:
            log_event("error", "native_alert_failed", key="BROKEN", error=f"{type(exc).__name__}: {exc}"[:300])
    for entry in found:
        planned.append(((NATIVE_PK, f"BROKEN#{entry['device']}#{day}"), lambda e=entry: _alert(
            f"Braket refuses a native limit on {e['device'].split('/')[-1]}", [
                f"Device: {e['device']}", f"Answer: {e['code']}: {e['error'][:200]}",
                f"Not retried on the task path for {BROKEN_FOR}; reconciliation tries again.",
                "The guard keeps cancelling tasks over a cap on this device."], mode)))
    limiter.broken_found = []
    for key, render in planned:
        try:
            guard.alerts.send_once(key, "SENT", expires, render)
        except Exception as exc:  # noqa: BLE001 - an alert must not fail the event or the schedule
            log_event("error", "native_alert_failed", key=key[1], error=f"{type(exc).__name__}: {exc}"[:300])
