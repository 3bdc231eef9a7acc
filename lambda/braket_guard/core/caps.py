"""Caps: parsing the cap JSON, deciding which caps and groups a task counts against, and what
fraction of a cap is used. Pure functions; the ledger applies the resulting charges atomically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from braket_guard.core import strict
from braket_guard.core.events import TaskEvent, is_device_arn
from braket_guard.core.money import format_usd
from braket_guard.core.pricing import QPU, SIMULATOR, device_kind
from braket_guard.core.strict import brief
from braket_guard.core.windows import WINDOWS, Window, window_for

CANCEL_TASK, CANCEL_QUEUED, ALERT_ONLY = "cancel_task", "cancel_queued", "alert_only"
ON_BREACH = (CANCEL_TASK, CANCEL_QUEUED, ALERT_ONLY)
GROUP_BY_FIXED = ("account", "region", "device")
DEFAULT_GROUP_BY = "account"
UNTAGGED = "(untagged)"
# \Z, not $: "$" also matches before a trailing newline. Terraform's validation (variables.tf)
# uses the same patterns (in RE2, \w written as [\p{L}\p{N}_]); tests/contract checks both.
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
TAG_KEY = re.compile(r"^tag:(?P<key>[\w.:/=+@ -]{1,128})\Z")
# TransactWriteItems takes 100 items: the task record, its open-work entry and one counter per cap.
MAX_CAPS = 98
CAP_FIELDS = {"name", "window", "group_by", "devices", "kinds", "max_shots", "max_cost_usd", "warn_at",
              "on_breach"}
# What a cap counts: quantum tasks (their shots and list price) and/or hybrid jobs (the
# instance time they bill; the tasks a job creates are tasks). Caps count tasks by default.
TASK, JOB = "task", "job"
KINDS = (TASK, JOB)


class CapError(ValueError):
    """A cap definition that cannot be enforced; the message names the field."""


@dataclass(frozen=True)
class Cap:
    name: str
    window: str
    group_by: str
    devices: frozenset[str] = frozenset()  # ARNs and/or "qpu"/"simulator"; empty = all devices
    max_shots: int | None = None
    max_cost_micros: int | None = None
    warn_at: tuple[Decimal, ...] = ()
    on_breach: str = CANCEL_TASK
    kinds: frozenset[str] = frozenset({TASK})

    @property
    def counts_tasks(self) -> bool:
        return TASK in self.kinds

    @property
    def counts_jobs(self) -> bool:
        return JOB in self.kinds

    @property
    def enforcing(self) -> bool:
        """Whether admission is conditioned on this cap (``alert_only`` caps always count)."""
        return self.on_breach != ALERT_ONLY

    @property
    def tag_key(self) -> str | None:
        match = TAG_KEY.match(self.group_by)
        return match.group("key") if match else None

    def applies_to(self, device_arn: str) -> bool:
        if not self.devices:
            return True
        return device_arn in self.devices or device_kind(device_arn) in self.devices

    def group_of(self, task: TaskEvent, tags: Mapping[str, str] | None) -> str:
        """The group a task counts in: account id, region, device ARN or the tag's value."""
        if self.group_by == "account":
            return task.account
        if self.group_by == "region":
            return task.region
        if self.group_by == "device":
            return task.device_arn
        value = (tags or {}).get(self.tag_key or "")
        # Untagged tasks share one group, so leaving the tag off never escapes the cap.
        return value if value else UNTAGGED

    def limits_text(self) -> str:
        parts = []
        if self.max_shots is not None:
            parts.append(f"{self.max_shots:,} shots")
        if self.max_cost_micros is not None:
            parts.append(format_usd(self.max_cost_micros))
        return " / ".join(parts)


def _fail(index: int, field: str, problem: str) -> CapError:
    return CapError(f"BRAKET_GUARD_CAPS[{index}].{field}: {problem}")


def _whole(value: Any) -> bool:
    return not isinstance(value, bool) and (isinstance(value, int) or (
        isinstance(value, Decimal) and value == value.to_integral_value()))


def parse_cap(raw: Any, index: int = 0) -> Cap:
    if not isinstance(raw, dict):
        raise CapError(f"BRAKET_GUARD_CAPS[{index}]: must be an object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - CAP_FIELDS)
    if unknown:
        raise _fail(index, unknown[0], f"unknown field; allowed: {', '.join(sorted(CAP_FIELDS))}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise _fail(index, "name", f"must be 1-64 letters, digits, '-' or '_', got {brief(name)}")
    window = raw.get("window")
    if not isinstance(window, str) or window not in WINDOWS:
        raise _fail(index, "window", f"must be one of {', '.join(WINDOWS)}, got {brief(window)}")
    group_by = raw.get("group_by", DEFAULT_GROUP_BY)  # Terraform's default too (variables.tf)
    if not isinstance(group_by, str) or not (group_by in GROUP_BY_FIXED or TAG_KEY.match(group_by)):
        raise _fail(index, "group_by", f"must be account, region, device or tag:<key>, got {brief(group_by)}")

    devices = raw.get("devices", [])
    if devices is None:
        devices = []
    if not isinstance(devices, list):
        raise _fail(index, "devices", "must be a list of device ARNs or the words 'qpu'/'simulator'")
    if "devices" in raw and raw["devices"] == []:
        raise _fail(index, "devices", "is empty; leave devices out to match every device")
    for position, device in enumerate(devices):
        if not isinstance(device, str) or not (device in (QPU, SIMULATOR) or is_device_arn(device)):
            raise _fail(index, f"devices[{position}]", f"not a device ARN, 'qpu' or 'simulator': {brief(device)}")

    max_shots = raw.get("max_shots")
    if max_shots is not None:
        try:
            max_shots = strict.whole(max_shots, strict.MAX_CAP_SHOTS)
        except ValueError as exc:
            raise _fail(index, "max_shots", str(exc)) from None
    max_cost = raw.get("max_cost_usd")
    max_cost_micros = None
    if max_cost is not None:
        try:
            max_cost_micros = strict.limit_micros(max_cost)
        except ValueError as exc:
            raise _fail(index, "max_cost_usd", str(exc)) from None
    if max_shots is None and max_cost is None:
        raise _fail(index, "max_shots", "a cap needs max_shots, max_cost_usd or both")

    warn_at = raw.get("warn_at", [])
    if warn_at is None:
        warn_at = []
    if not isinstance(warn_at, list):
        raise _fail(index, "warn_at", "must be a list of fractions between 0 and 1, e.g. [0.8]")
    levels = []
    for position, level in enumerate(warn_at):
        if (isinstance(level, bool) or not isinstance(level, (int, Decimal))
                or (isinstance(level, Decimal) and not level.is_finite()) or not 0 < level < 1):
            raise _fail(index, f"warn_at[{position}]", f"must be a fraction strictly between 0 and 1, got {brief(level)}")
        levels.append(Decimal(level))
    on_breach = raw.get("on_breach", CANCEL_TASK)
    if not isinstance(on_breach, str) or on_breach not in ON_BREACH:
        raise _fail(index, "on_breach", f"must be one of {', '.join(ON_BREACH)}, got {brief(on_breach)}")
    kinds = raw.get("kinds", [TASK])
    if (not isinstance(kinds, list) or not kinds or any(not isinstance(k, str) or k not in KINDS for k in kinds)
            or len(set(kinds)) != len(kinds)):
        raise _fail(index, "kinds", f"must be a non-empty list of distinct 'task' and 'job', got {brief(kinds)}")
    if kinds == [JOB] and max_cost is None:
        raise _fail(index, "max_cost_usd", "a cap that counts only hybrid jobs needs max_cost_usd: jobs "
                                           "have no shots, so max_shots alone would guard nothing")
    return Cap(name=name, window=window, group_by=group_by, devices=frozenset(devices),
               max_shots=int(max_shots) if max_shots is not None else None,
               max_cost_micros=max_cost_micros, warn_at=tuple(sorted(set(levels))),
               on_breach=on_breach, kinds=frozenset(kinds))


def parse_caps(text: str | None) -> tuple[Cap, ...]:
    """Parse ``BRAKET_GUARD_CAPS``; every problem raises ``CapError`` naming the field."""
    if text is None or not text.strip():
        raise CapError("BRAKET_GUARD_CAPS: not set; give a JSON list of caps")
    try:
        raw = strict.loads_json(text)
    except ValueError as exc:
        raise CapError(f"BRAKET_GUARD_CAPS: {exc}") from None
    if not isinstance(raw, list):
        raise CapError("BRAKET_GUARD_CAPS: must be a JSON list of cap objects")
    if not raw:
        # Terraform refuses an empty list too: a guard with no cap guards nothing.
        raise CapError("BRAKET_GUARD_CAPS: is empty; give at least one cap, e.g. "
                       '[{"name": "daily-qpu", "window": "day", "group_by": "device", "max_shots": 10000}]')
    if len(raw) > MAX_CAPS:
        raise CapError(f"BRAKET_GUARD_CAPS: at most {MAX_CAPS} caps (one DynamoDB transaction holds "
                       f"the task and every counter it falls in), got {len(raw)}")
    caps = tuple(parse_cap(item, index) for index, item in enumerate(raw))
    seen: set[str] = set()
    for index, cap in enumerate(caps):
        if cap.name in seen:
            raise _fail(index, "name", f"duplicate cap name {cap.name!r}; names must be unique")
        seen.add(cap.name)
    return caps


@dataclass(frozen=True)
class Charge:
    """One counter a task is charged to: (cap, group, window) and the amounts."""

    cap: Cap
    group: str
    window: Window
    shots: int
    cost_micros: int | None  # None: the device could not be priced

    @property
    def counter_key(self) -> tuple[str, str]:
        """(pk, sk) of the counter: one partition per cap and window, one item per group."""
        return counter_key(self.cap.name, self.window.key, self.group)

    def over_alone(self) -> bool:
        """True when this task alone cannot fit the cap (or cannot be priced against a cost cap)."""
        if self.cap.max_shots is not None and self.shots > self.cap.max_shots:
            return True
        if self.cap.max_cost_micros is not None:
            return self.cost_micros is None or self.cost_micros > self.cap.max_cost_micros
        return False


def counter_key(cap_name: str, window_key: str, group: str) -> tuple[str, str]:
    return f"CAP#{cap_name}#{window_key}", f"GROUP#{group}"


def needs_tags(caps: Iterable[Cap], device_arn: str) -> bool:
    return any(cap.tag_key is not None and cap.counts_tasks and cap.applies_to(device_arn) for cap in caps)


def plan_charges(caps: Iterable[Cap], task: TaskEvent, cost_micros: int | None,
                 tags: Mapping[str, str] | None, zone: ZoneInfo) -> list[Charge]:
    """Every counter the task must fit in, in cap order."""
    return [Charge(cap, cap.group_of(task, tags), window_for(cap.window, task.created_at, zone),
                   task.shots, cost_micros)
            for cap in caps if cap.counts_tasks and cap.applies_to(task.device_arn)]


def used_fraction(cap: Cap, shots: int, cost_micros: int) -> Decimal:
    """The larger of shots/max_shots and cost/max_cost (a zero limit counts as full once used)."""
    fractions = []
    for used, limit in ((shots, cap.max_shots), (cost_micros, cap.max_cost_micros)):
        if limit is None:
            continue
        fractions.append(Decimal(used) / Decimal(limit) if limit else Decimal(1 if used else 0))
    return max(fractions, default=Decimal(0))


def warnings_reached(cap: Cap, shots: int, cost_micros: int) -> list[Decimal]:
    """Warning levels at or below the current usage (each alerted once by the ledger's markers)."""
    fraction = used_fraction(cap, shots, cost_micros)
    return [level for level in cap.warn_at if fraction >= level]
