"""Braket's native spending limits as the guard drives them: a pure planner.

Given the caps, the counters, the clock, the freezes in force and the limits Braket has, decide
which limits to create, update or delete. Nothing here talks to AWS (``spending_limits.py`` does,
``native_guard.py`` wires both to the ledger).

Design, because Braket documents neither a recurring period nor whether ``totalSpend`` restarts
when a limit's time period changes:

- A guard limit is never carried across a window boundary: at the boundary it is deleted and a
  new one created. A new limit counts only tasks created after it existed, so its ``totalSpend``
  starts at zero whatever Braket does with time periods; what the window spent before it existed
  is taken off its amount (the cap's room at creation, rounded down to the cent).
- Every guard limit is created with an explicit ``timePeriod`` (from a minute before its creation
  to the end of its window, or :data:`FAR_END` for ``total``), and the period Braket reports back
  is what counts: a limit whose period has ended is deleted (and made again if still wanted),
  whichever way Braket treats tasks outside a period (refused, or not limited) and whatever
  default it would have assigned.
- A limit is never updated, only deleted and created again: a freeze is a new limit of $0 (or the
  one-cent floor where Braket refuses ``0.00``; a new limit has no spend, so neither relies on an
  update below spend); unfreezing deletes it and creates the mirror again from the counters.
- Ownership is the ``braket-guard:owner`` tag. A limit without our tag is foreign: it is never
  updated or deleted, and its device falls back to cancelling.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from braket_guard.core.caps import Cap
from braket_guard.core.events import DEVICE_ARN
from braket_guard.core.money import usd_to_micros_floor
from braket_guard.core.pricing import QPU, device_kind
from braket_guard.core.windows import TOTAL, Window, window_for

OFF, FREEZE, MIRROR = "off", "freeze", "mirror_and_freeze"
MODES = (OFF, FREEZE, MIRROR)
OWNER_TAG = "braket-guard:owner"
WINDOW_TAG = "braket-guard:window"  # "day:2026-12-02", "month:2026-12", "total:total" or "none"
MIRROR_TAG = "braket-guard:mirror-usd"  # the amount the limit mirrors when not frozen, or "none"
BASELINE_TAG = "braket-guard:baseline-usd"  # the window's counter when the limit was created
CAPS_TAG = "braket-guard:caps"  # fingerprint of the caps the limit mirrors
NONE = "none"
CENT = 10_000  # micro-dollars; Braket's amounts have at most two decimals
FREEZE_FLOOR_MICROS = CENT  # the freeze amount where Braket refuses 0.00: below any task's fee
PERIOD_LEAD = timedelta(minutes=1)  # a period starts before the limit: clocks differ
FAR_END = datetime(2099, 12, 31, tzinfo=timezone.utc)  # the period of a limit with no window end
FREEZE_SCOPES = ("account", "region", "device")


def floor_cents(micros: int) -> int:
    return max(0, micros) // CENT * CENT


def usd_text(micros: int) -> str:
    """A whole-cent amount as Braket's USD string (``\\d+(\\.\\d{1,2})?``)."""
    cents = floor_cents(micros) // CENT
    return f"{cents // 100}.{cents % 100:02d}"


def device_region(device_arn: str) -> str:
    match = DEVICE_ARN.match(device_arn)
    return match.group("region") if match else ""


def is_qpu(device_arn: str) -> bool:
    """Native limits exist for QPUs only (simulators are not supported by Braket)."""
    return bool(DEVICE_ARN.match(device_arn)) and device_kind(device_arn) == QPU and bool(device_region(device_arn))


@dataclass(frozen=True)
class NativeLimit:
    """A spending limit as SearchSpendingLimits returns it (amounts in micro-dollars)."""

    arn: str
    device_arn: str
    amount_micros: int
    total_micros: int = 0
    queued_micros: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)
    period_start: datetime | None = None
    period_end: datetime | None = None

    def ended(self, now: datetime) -> bool:
        """Its period is over (or has not begun): Braket may refuse every task, so it goes."""
        return ((self.period_end is not None and self.period_end <= now)
                or (self.period_start is not None and self.period_start > now + PERIOD_LEAD))

    @property
    def frozen(self) -> bool:
        return self.amount_micros <= FREEZE_FLOOR_MICROS

    def owned_by(self, owner: str) -> bool:
        return self.tags.get(OWNER_TAG) == owner

    @property
    def identity(self) -> tuple[str, str]:
        return self.tags.get(WINDOW_TAG, NONE), self.tags.get(CAPS_TAG, NONE)

    @property
    def mirror_micros(self) -> int | None:
        text = self.tags.get(MIRROR_TAG, NONE)
        if text == NONE:
            return None
        try:
            return usd_to_micros_floor(text)
        except ValueError:
            return None

    @property
    def baseline_micros(self) -> int | None:
        text = self.tags.get(BASELINE_TAG, NONE)
        try:
            return None if text == NONE else usd_to_micros_floor(text)
        except ValueError:
            return None


@dataclass(frozen=True)
class Freeze:
    """A breached cap group whose QPUs Braket is told to refuse until ``until`` (None: until lifted)."""

    cap: str
    window_key: str
    group: str
    devices: frozenset[str]
    until: datetime | None
    lifted: bool = False

    @property
    def key(self) -> str:
        return f"{self.cap}#{self.window_key}#{self.group}"

    def active(self, now: datetime) -> bool:
        return not self.lifted and (self.until is None or now < self.until)


@dataclass(frozen=True)
class MirrorTarget:
    """The limit a mirrored device should have in the current window."""

    device_arn: str
    window_tag: str
    amount_micros: int
    baseline_micros: int
    caps_fingerprint: str
    window_end: datetime | None


@dataclass(frozen=True)
class Create:
    device_arn: str
    amount_micros: int
    tags: Mapping[str, str]
    token: str
    period: tuple[datetime, datetime] | None = None


@dataclass(frozen=True)
class Update:  # no longer planned (a limit is deleted and made again); kept for ``apply``
    arn: str
    device_arn: str
    amount_micros: int
    token: str


@dataclass(frozen=True)
class Delete:
    arn: str
    device_arn: str


@dataclass(frozen=True)
class Foreign:
    """A device the guard wanted to limit that already has a limit it does not own."""

    device_arn: str
    arn: str
    amount_micros: int


@dataclass
class Plan:
    actions: list = field(default_factory=list)  # Delete before Create for one device
    foreign: list[Foreign] = field(default_factory=list)
    frozen: set[str] = field(default_factory=set)  # devices that end the plan with no room

    @property
    def empty(self) -> bool:
        return not self.actions


# -- what the caps ask for ----------------------------------------------------------------------
def mirror_caps(caps: Iterable[Cap]) -> list[Cap]:
    """Enforcing cost caps grouped by device that count tasks: each device's group is what a native
    limit is (a native limit counts QPU tasks; a cap of hybrid-job instance time alone has no
    native counterpart)."""
    return [c for c in caps if c.enforcing and c.group_by == "device" and c.max_cost_micros is not None
            and c.counts_tasks]


def known_qpus(caps: Iterable[Cap], priced: Iterable[str], regions: Iterable[str], extra: Iterable[str] = ()) -> set[str]:
    """The QPUs the guard knows of: named by a cap, in the price book, or seen in a task; only in
    the guarded regions (empty: any)."""
    wanted = set(regions)
    names = {d for cap in caps for d in cap.devices} | set(priced) | set(extra)
    return {d for d in names if is_qpu(d) and (not wanted or device_region(d) in wanted)}


def caps_fingerprint(caps: Iterable[Cap]) -> str:
    text = "|".join(sorted(f"{c.name}:{c.window}:{c.max_cost_micros}" for c in caps))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _rolling(windows: list[Window]) -> Window:
    """The window that ends first (a limit rolls at the earliest boundary of the caps it mirrors)."""
    ending = [w for w in windows if w.end is not None]
    return min(ending, key=lambda w: w.end) if ending else windows[0]


def mirror_targets(caps: Iterable[Cap], devices: Iterable[str], counters: Mapping[tuple[str, str, str], int],
                   now: datetime, zone: ZoneInfo) -> dict[str, MirrorTarget]:
    """Per QPU: the room left by every mirrored cap now, rounded down to the cent.

    ``counters`` maps (cap name, window key, device ARN) to the micro-dollars the guard counted."""
    mirrored = mirror_caps(caps)
    out: dict[str, MirrorTarget] = {}
    for device in sorted(set(devices)):
        if not is_qpu(device):
            continue
        applying = [c for c in mirrored if c.applies_to(device)]
        if not applying:
            continue
        windows = [window_for(c.window, now, zone) for c in applying]
        rooms = [(c.max_cost_micros or 0) - counters.get((c.name, w.key, device), 0)
                 for c, w in zip(applying, windows)]
        rolling = _rolling(windows)
        rolling_cap = applying[windows.index(rolling)]
        out[device] = MirrorTarget(
            device, f"{rolling.kind}:{rolling.key}", floor_cents(min(rooms)),
            counters.get((rolling_cap.name, rolling.key, device), 0), caps_fingerprint(applying),
            rolling.end if rolling.kind != TOTAL else None)
    return out


def freeze_for_breach(cap: Cap, group: str, window: Window, universe: Iterable[str]) -> Freeze | None:
    """The freeze an enforcing cap's breach calls for, or None (tag groups keep cancelling: a native
    limit is per device and would stop every other team using it)."""
    if not cap.enforcing or cap.group_by not in FREEZE_SCOPES:
        return None
    if cap.group_by == "device":
        devices = {group} if is_qpu(group) and cap.applies_to(group) else set()
    else:
        devices = {d for d in universe if is_qpu(d) and cap.applies_to(d)
                   and (cap.group_by == "account" or device_region(d) == group)}
    if not devices:
        return None
    return Freeze(cap.name, window.key, group, frozenset(devices), window.end)


# -- the plan ------------------------------------------------------------------------------------
def _token(*parts: str) -> str:
    return "braket-guard-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:48]


def period_for(now: datetime, end: datetime | None) -> tuple[datetime, datetime]:
    """The ``timePeriod`` a new limit is sent with: from a minute ago to its window's end."""
    start = now.replace(microsecond=0) - PERIOD_LEAD
    return start, (end if end is not None and end > now else FAR_END)


def plan(mode: str, owner: str, targets: Mapping[str, MirrorTarget], freezes: Iterable[Freeze],
         limits: Iterable[NativeLimit], now: datetime, devices: Iterable[str] | None = None) -> Plan:
    """The calls that bring Braket's limits to what the guard wants.

    ``mode`` OFF (native limits off, or the guard only monitors) deletes every limit of ours.
    ``devices``: only these devices are planned (a breach plans its own scope); None plans every
    device that is mirrored, frozen or carries one of our limits."""
    active = [f for f in freezes if f.active(now)] if mode != OFF else []
    frozen_ids: dict[str, list[str]] = {}
    ends: dict[str, list[datetime | None]] = {}
    for f in active:
        for d in f.devices:
            frozen_ids.setdefault(d, []).append(f.key)
            ends.setdefault(d, []).append(f.until)
    by_device: dict[str, list[NativeLimit]] = {}
    for limit in limits:
        by_device.setdefault(limit.device_arn, []).append(limit)
    mirrored = dict(targets) if mode == MIRROR else {}
    scope = set(mirrored) | set(frozen_ids) | {d for d, ls in by_device.items() if any(l.owned_by(owner) for l in ls)}
    if devices is not None:
        scope &= set(devices)
    result = Plan()
    # The token names the intent; native_guard adds a fresh suffix per call (Braket ignores a
    # repeated clientToken without an error, which would swallow a create after a delete).
    minute = now.strftime("%Y%m%d%H%M")
    for device in sorted(scope):
        frozen = mode != OFF and is_qpu(device) and device in frozen_ids
        target = mirrored.get(device) if mode != OFF and is_qpu(device) else None
        if frozen:
            want, amount = (NONE, NONE), 0
            # several freezes: the one that lasts longest decides the period (None: until lifted)
            end = None if None in ends[device] else max(e for e in ends[device] if e is not None)
        elif target is not None:
            want, amount = (target.window_tag, target.caps_fingerprint), target.amount_micros
            end = target.window_end
        else:
            want, amount, end = None, 0, None
        present = by_device.get(device, [])
        foreign = [l for l in present if not l.owned_by(owner)]
        ours = [l for l in present if l.owned_by(owner)]
        if foreign and want is not None:
            result.foreign += [Foreign(device, l.arn, l.amount_micros) for l in foreign]
            # Braket keeps one limit per device: the foreign one stays and ours (if any) goes.
            result.actions += [Delete(l.arn, device) for l in ours]
            continue
        keep = None
        for limit in ours:
            # a mirror keeps the amount it was made with (its mirror tag): Braket counts from there
            made = 0 if frozen else (limit.mirror_micros or 0)
            fits = (want is not None and limit.identity == want and not limit.ended(now)
                    and (limit.frozen if made < FREEZE_FLOOR_MICROS else limit.amount_micros == made))
            if fits and keep is None:
                keep = limit
            else:
                result.actions.append(Delete(limit.arn, device))
        if want is None:
            continue
        if keep is None:
            tags = {OWNER_TAG: owner, WINDOW_TAG: want[0], CAPS_TAG: want[1],
                    MIRROR_TAG: usd_text(target.amount_micros) if target else NONE,
                    BASELINE_TAG: usd_text(target.baseline_micros) if target else NONE}
            result.actions.append(Create(device, amount, tags,
                                         _token(owner, device, *[f"{k}={v}" for k, v in sorted(tags.items())],
                                                str(amount), minute, *sorted(frozen_ids.get(device, []))),
                                         period_for(now, end)))
        if frozen:
            result.frozen.add(device)
    return result


def apply(plan_: Plan, limits: Iterable[NativeLimit], arn_for=lambda c: f"created:{c.token}") -> list[NativeLimit]:
    """The limits after the plan's calls succeed (a model of Braket, for tests and dry runs)."""
    out = {l.arn: l for l in limits}
    for action in plan_.actions:
        if isinstance(action, Delete):
            out.pop(action.arn, None)
        elif isinstance(action, Update):
            old = out[action.arn]
            out[action.arn] = NativeLimit(old.arn, old.device_arn, action.amount_micros, old.total_micros,
                                          old.queued_micros, old.tags, old.period_start, old.period_end)
        elif isinstance(action, Create):
            arn = arn_for(action)
            start, end = action.period or (None, None)
            out[arn] = NativeLimit(arn, action.device_arn, action.amount_micros, 0, 0, dict(action.tags), start, end)
    return list(out.values())


def drift_micros(limit: NativeLimit, counter_micros: int) -> int | None:
    """Braket's ``totalSpend + queuedSpend`` minus what the guard counted since the limit existed
    (positive: Braket saw more). None when the limit mirrors nothing."""
    baseline = limit.baseline_micros
    if baseline is None:
        return None
    return limit.total_micros + limit.queued_micros - (counter_micros - baseline)
