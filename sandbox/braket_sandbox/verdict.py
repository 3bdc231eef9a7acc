"""Did the caps hold? Judged from the Braket emulator's ground truth, not from the guard's ledger.

For every cap and every (window, group) any task fell in, the tasks that actually ran (not
cancelled in the emulator) are summed, each priced with the deployed price table, and compared
with the cap's limits. Windows and groups are computed here, independently of the guard's code:
calendar day / month of ``createdAt`` in the configured zone, or ``total``; account, region,
device or tag value (``(untagged)`` without the tag). The ledger's counters and the alerts are
then checked against that truth.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal
from typing import Any, Iterable
from zoneinfo import ZoneInfo

__all__ = ["CapSpec", "Row", "Check", "Verdict", "parse_cap_specs", "judge", "alert_key",
           "task_cost_micros_independent", "window_key", "group_value", "short_device"]

BREACH_RE = re.compile(r"Braket cap '([^']+)' reached")
WARNING_RE = re.compile(r"Braket cap '([^']+)' passed")
CANCEL_FAILED_RE = re.compile(r"could NOT be cancelled")
CAP_LINE_RE = re.compile(r"Cap:\*? (\S+) \((day|month|total) ([^,]+), per (.+)\)")


@dataclass(frozen=True)
class CapSpec:
    name: str
    window: str
    group_by: str
    devices: frozenset[str]
    max_shots: int | None
    max_cost_micros: int | None
    on_breach: str = "cancel_task"
    enforced: bool = True  # False for alert_only caps and in monitor mode: reported, not held

    def applies_to(self, device_arn: str) -> bool:
        if not self.devices:
            return True
        kind = "simulator" if "/quantum-simulator/" in device_arn else "qpu"
        return device_arn in self.devices or kind in self.devices

    def limit_text(self) -> str:
        parts = []
        if self.max_shots is not None:
            parts.append(f"{self.max_shots:,} shots")
        if self.max_cost_micros is not None:
            parts.append(usd(self.max_cost_micros))
        return " / ".join(parts)


def parse_cap_specs(caps_json: str, mode: str = "enforce") -> list[CapSpec]:
    """The deployed BRAKET_GUARD_CAPS, read here with plain json (limits floored to micro-dollars)."""
    specs = []
    for raw in json.loads(caps_json, parse_float=Decimal):
        cost = raw.get("max_cost_usd")
        on_breach = raw.get("on_breach") or "cancel_task"
        specs.append(CapSpec(
            name=raw["name"], window=raw["window"], group_by=raw.get("group_by") or "account",
            devices=frozenset(raw.get("devices") or []),
            max_shots=None if raw.get("max_shots") is None else int(raw["max_shots"]),
            max_cost_micros=None if cost is None else int(Decimal(str(cost)) * 1_000_000 // 1),
            on_breach=on_breach, enforced=(mode or "enforce") == "enforce" and on_breach != "alert_only"))
    return specs


def usd(micros: int) -> str:
    return f"${Decimal(micros) / 1_000_000:,.2f}"


def short_device(device_arn: str) -> str:
    return "/".join(device_arn.split("/")[-2:])


def window_key(kind: str, created_at: datetime, zone: ZoneInfo) -> str:
    if kind == "total":
        return "total"
    local = created_at.astimezone(zone)
    return local.strftime("%Y-%m-%d") if kind == "day" else local.strftime("%Y-%m")


def group_value(spec: CapSpec, task: dict) -> str:
    arn = task["quantumTaskArn"]
    parts = arn.split(":")
    if spec.group_by == "account":
        return parts[4]
    if spec.group_by == "region":
        return parts[3]
    if spec.group_by == "device":
        return task["deviceArn"]
    key = spec.group_by[len("tag:"):]
    return (task.get("tags") or {}).get(key) or "(untagged)"


def group_text(spec: CapSpec, group: str) -> str:
    """How the alerts name a group (``device ionq/Forte-1``, ``tag project=x``, ``account 1234``)."""
    if spec.group_by == "device":
        return f"device {short_device(group)}"
    if spec.group_by.startswith("tag:"):
        return f"tag {spec.group_by[4:]}={group}"
    return f"{spec.group_by} {group}"


def task_cost_micros_independent(price: Any, shots: int, duration_ms: int | None = None) -> int | None:
    """QPU: per-task fee + per-shot fee x shots. Simulator: per minute for ``duration_ms``
    (``endedAt - createdAt`` of a completed task, the guard's documented true-up rule, an upper
    bound of the billed time), never less than the minimum billed duration; rounded up.

    ``price`` is an entry of the deployed price table (fields per_task_micros, per_shot_micros,
    per_minute_micros, minimum_ms); None when the device is not in the table.
    """
    if price is None:
        return None
    if price.per_minute_micros:
        billed = max(price.minimum_ms, duration_ms or 0)
        return -(-price.per_minute_micros * billed // 60_000)
    return price.per_task_micros + price.per_shot_micros * shots


@dataclass
class Row:
    """One cap in one window for one group."""

    cap: CapSpec
    window: str
    group: str
    ran_tasks: int = 0
    ran_shots: int = 0
    ran_cost: int = 0
    cancelled_tasks: int = 0
    cancelled_shots: int = 0
    cancelled_cost: int = 0
    rejected_for_this_cap: int = 0
    ledger_shots: int | None = None
    ledger_cost: int | None = None
    ledger_tasks: int | None = None

    @property
    def held(self) -> bool:
        if self.cap.max_shots is not None and self.ran_shots > self.cap.max_shots:
            return False
        if self.cap.max_cost_micros is not None and self.ran_cost > self.cap.max_cost_micros:
            return False
        return True

    @property
    def ledger_matches(self) -> bool:
        return ((self.ledger_shots or 0), (self.ledger_cost or 0), (self.ledger_tasks or 0)) == (
            self.ran_shots, self.ran_cost, self.ran_tasks)

    @property
    def counter_id(self) -> tuple[str, str, str]:
        return (self.cap.name, self.window, self.group)

    @property
    def alert_key(self) -> tuple[str, str, str]:
        return (self.cap.name, self.window, group_text(self.cap, self.group))

    def fits(self, shots: int, cost: int | None) -> bool:
        """Would a task of this size have fit on top of what finally ran?"""
        if self.cap.max_shots is not None and self.ran_shots + shots > self.cap.max_shots:
            return False
        if self.cap.max_cost_micros is not None and (cost is None or self.ran_cost + cost > self.cap.max_cost_micros):
            return False
        return True


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Verdict:
    rows: list[Row]
    checks: list[Check]
    tasks: int
    ran: int
    cancelled: int
    prevented_micros: int
    spent_micros: int
    breach_alerts: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)

    @property
    def caps_held(self) -> bool:
        """Every enforced cap held (alert_only caps and monitor mode only report). Never true when
        no cap covered a single task: nothing was guarded, so nothing "held"."""
        return bool(self.rows) and all(row.held for row in self.rows if row.cap.enforced)

    @property
    def ok(self) -> bool:
        return self.caps_held and all(check.ok for check in self.checks)


def alert_key(text: str) -> tuple[str, tuple[str, str, str] | None]:
    """(kind, (cap, window, group text)) of an alert's plain text (Slack rendering or email)."""
    kind = ("breach" if BREACH_RE.search(text) else "warning" if WARNING_RE.search(text)
            else "cancel_failed" if CANCEL_FAILED_RE.search(text) else "other")
    match = CAP_LINE_RE.search(text)
    return kind, ((match.group(1), match.group(3).strip(), match.group(4).strip()) if match else None)


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(dt_timezone.utc)


def _created(task: dict) -> datetime:
    return _as_utc(task["createdAt"])


def judge(*, tasks: list[dict], specs: list[CapSpec], price_of: Any, zone: ZoneInfo,
          admitted: set[str], rejected: dict[str, list[str]], counters: dict[str, dict[str, int]],
          slack_texts: Iterable[str], email_texts: Iterable[str], dead_letters: int,
          submitted: int, submit_errors: int, refused_at_door: int = 0) -> Verdict:
    """Everything the demo promises, checked against the emulator's tasks.

    ``admitted``: task ARNs the guard admitted; ``rejected``: ARN -> caps it said were breached;
    ``counters``: ledger counter id -> {shots, cost_micros, tasks}; ``price_of(device_arn)``:
    entry of the deployed price table. ``refused_at_door``: CreateQuantumTask calls Braket refused
    for a native spending limit (native_limits on): expected errors, each ending a notebook thread.
    """
    by_arn = {t["quantumTaskArn"]: t for t in tasks}
    rows: dict[tuple[str, str, str], Row] = {}
    cost_of: dict[str, int | None] = {}
    for task in tasks:
        duration_ms = None
        if task["status"] == "COMPLETED" and task.get("endedAt") is not None:
            duration_ms = int((_as_utc(task["endedAt"]) - _created(task)).total_seconds() * 1000)
        cost = task_cost_micros_independent(price_of(task["deviceArn"]), int(task["shots"]), duration_ms)
        cost_of[task["quantumTaskArn"]] = cost
        created = _created(task)
        for spec in specs:
            if not spec.applies_to(task["deviceArn"]):
                continue
            key = (spec.name, window_key(spec.window, created, zone), group_value(spec, task))
            row = rows.setdefault(key, Row(spec, key[1], key[2]))
            if task["status"] == "CANCELLED":
                row.cancelled_tasks += 1
                row.cancelled_shots += int(task["shots"])
                row.cancelled_cost += cost or 0
            else:
                row.ran_tasks += 1
                row.ran_shots += int(task["shots"])
                row.ran_cost += cost or 0
            if spec.name in rejected.get(task["quantumTaskArn"], []):
                row.rejected_for_this_cap += 1
    for row in rows.values():
        counter = counters.get(row.counter_id, {})
        row.ledger_shots = counter.get("shots", 0)
        row.ledger_cost = counter.get("cost_micros", 0)
        row.ledger_tasks = counter.get("tasks", 0)

    checks: list[Check] = []
    names = [s.name for s in specs]
    ordered = sorted(rows.values(), key=lambda r: (names.index(r.cap.name), r.window, r.group))
    over = [r for r in ordered if not r.held and r.cap.enforced]
    checks.append(Check("at least one cap covered the tasks (otherwise nothing was guarded)", bool(ordered),
                        "" if ordered else f"no cap of {names} applies to any of the {len(by_arn)} tasks"))
    checks.append(Check("every cap held (emulator ground truth)", not over,
                        "; ".join(f"{r.cap.name} {r.window} {r.group}: ran {r.ran_shots} shots, "
                                  f"{usd(r.ran_cost)} > {r.cap.limit_text()}" for r in over)))

    decided_twice = sorted(admitted & set(rejected))
    undecided = sorted(set(by_arn) - admitted - set(rejected))
    unknown = sorted((admitted | set(rejected)) - set(by_arn))
    checks.append(Check("every task decided exactly once (admitted or rejected)",
                        not decided_twice and not undecided and not unknown,
                        "" if not (decided_twice or undecided or unknown) else
                        f"both: {len(decided_twice)}, neither: {len(undecided)}, "
                        f"not in the emulator: {len(unknown)}"))

    spec_by_name = {s.name: s for s in specs}

    def row_of(spec: CapSpec, task: dict) -> Row | None:
        return rows.get((spec.name, window_key(spec.window, _created(task), zone), group_value(spec, task)))

    enforced_rejections = {a: caps for a, caps in rejected.items()
                           if any(spec_by_name[c].enforced for c in caps if c in spec_by_name)}
    not_cancelled = sorted(a for a in enforced_rejections if a in by_arn and by_arn[a]["status"] != "CANCELLED")
    checks.append(Check("every rejected task cancelled in the emulator", not not_cancelled,
                        ", ".join(f"{a.rsplit('/', 1)[-1]} is {by_arn[a]['status']}" for a in not_cancelled[:5])))

    def swept(task: dict) -> bool:
        """Cancelled as backlog of a breached cancel_queued cap (by design, and refunded)."""
        for spec in specs:
            if spec.enforced and spec.on_breach == "cancel_queued" and spec.applies_to(task["deviceArn"]):
                row = row_of(spec, task)
                if row is not None and row.rejected_for_this_cap:
                    return True
        return False

    cancelled_admitted = sorted(a for a in admitted if a in by_arn and by_arn[a]["status"] == "CANCELLED")
    wrongly = [a for a in cancelled_admitted if not swept(by_arn[a])]
    checks.append(Check("no admitted task cancelled" + (" (except cancel_queued backlog)" if cancelled_admitted else ""),
                        not wrongly, ", ".join(a.rsplit("/", 1)[-1] for a in wrongly[:5])))

    # Tight: a task was rejected only if it did not fit, even on top of what finally ran. (When a
    # cancel_queued sweep refunded admitted tasks, capacity came back later: not applicable.)
    if cancelled_admitted:
        checks.append(Check("no task rejected that would have fit", True,
                            "not applicable: cancel_queued sweeps gave capacity back"))
    else:
        loose = []
        for arn, caps in rejected.items():
            task = by_arn.get(arn)
            if task is None:
                continue
            rows_hit = [row_of(spec_by_name[c], task) for c in caps if c in spec_by_name]
            if rows_hit and all(r is not None and r.fits(int(task["shots"]), cost_of[arn]) for r in rows_hit):
                loose.append(arn)
        checks.append(Check("no task rejected that would have fit", not loose,
                            ", ".join(a.rsplit("/", 1)[-1] for a in loose[:5])))

    mismatched = [r for r in ordered if not r.ledger_matches]
    checks.append(Check("ledger counters equal the ground truth", not mismatched,
                        "; ".join(f"{'/'.join(r.counter_id)}: ledger {r.ledger_shots} shots {usd(r.ledger_cost or 0)} "
                                  f"{r.ledger_tasks} tasks, truth {r.ran_shots} shots {usd(r.ran_cost)} "
                                  f"{r.ran_tasks} tasks" for r in mismatched[:3])))

    breach_alerts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: {"slack": 0, "email": 0})
    failed_alerts = 0
    for channel, texts in (("slack", slack_texts), ("email", email_texts)):
        for text in texts:
            kind, key = alert_key(text)
            if kind == "breach" and key is not None:
                breach_alerts[key][channel] += 1
            elif kind == "cancel_failed":
                failed_alerts += 1
    expected = {r.alert_key for r in ordered if r.rejected_for_this_cap}
    wrong = []
    for key in sorted(expected | set(breach_alerts)):
        counts = breach_alerts.get(key, {"slack": 0, "email": 0})
        want = 1 if key in expected else 0
        if counts["slack"] != want or counts["email"] != want:
            wrong.append(f"{' '.join(key)}: {counts['slack']} Slack, {counts['email']} email, expected {want}")
    checks.append(Check("one breach alert per breached cap, window and group (Slack and email)",
                        not wrong, "; ".join(wrong[:4])))
    checks.append(Check("no 'could NOT be cancelled' alert", failed_alerts == 0,
                        f"{failed_alerts} such alert(s)" if failed_alerts else ""))
    checks.append(Check("every delivery handled (none dead-lettered)", dead_letters == 0,
                        f"{dead_letters} invocation(s) failed after retries" if dead_letters else ""))
    if refused_at_door:
        others = submit_errors - refused_at_door
        checks.append(Check("every task of the notebook submitted until Braket refused one at the door "
                            "(native spending limit)", others == 0 and submitted == len(tasks) + refused_at_door,
                            f"{others} other CreateQuantumTask error(s), {submitted} submissions, "
                            f"{len(tasks)} tasks in the emulator" if others or submitted != len(tasks) + refused_at_door
                            else f"{refused_at_door} refusal(s), each ended a notebook thread"))
    else:
        checks.append(Check("every task of the notebook submitted", submit_errors == 0 and submitted == len(tasks),
                            f"{submit_errors} CreateQuantumTask error(s), {len(tasks)} tasks in the emulator"
                            if submit_errors or submitted != len(tasks) else ""))

    ran = [a for a, t in by_arn.items() if t["status"] != "CANCELLED"]
    cancelled = [a for a, t in by_arn.items() if t["status"] == "CANCELLED"]
    return Verdict(rows=ordered, checks=checks, tasks=len(tasks), ran=len(ran), cancelled=len(cancelled),
                   prevented_micros=sum(cost_of[a] or 0 for a in cancelled),
                   spent_micros=sum(cost_of[a] or 0 for a in ran), breach_alerts=dict(breach_alerts))
