"""The daily digest: one email and one Slack message about a day, instead of an alert per task.

``build_digest`` and ``render_digest`` are pure (snapshot-tested); ``gather_digest`` reads the
ledger and SearchQuantumTasks. A digest that runs before noon (in the guard's zone) covers the
previous day, later ones the current day so far. Nothing is sent for a day where nothing
happened unless BRAKET_GUARD_DIGEST_ALWAYS=true (or the invocation asks with "always": true).
"""

from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from braket_guard.alerts.messages import Alert, _slack, short_device
from braket_guard.aws import metrics
from braket_guard.aws.logs import log_event
from braket_guard.core import states as S
from braket_guard.core.caps import Cap, used_fraction
from braket_guard.core.events import TaskEvent
from braket_guard.core.money import format_usd
from braket_guard.core.pricing import PriceBook, task_cost_micros
from braket_guard.core.windows import DAY, MONTH, TOTAL, Window, format_timestamp, window_for
from braket_guard.jobs.ledger import JobLedger
from braket_guard.ledger.counters import Counter
from braket_guard.native.status import digest_lines
from braket_guard.tasks.decision import summary_event
from braket_guard.tasks.records import TaskRecord

TOP = 5


@dataclass(frozen=True)
class CapUsage:
    cap: Cap
    window: Window
    counters: tuple[Counter, ...]


@dataclass(frozen=True)
class DayTask:
    task: TaskEvent
    tags: dict[str, str]
    record: TaskRecord | None
    estimated_cost_micros: int | None  # price-book estimate, for tasks the ledger never saw


@dataclass
class Digest:
    day: str
    zone: str
    mode: str
    caps: list[CapUsage]
    admitted: int = 0
    rejected: int = 0
    cancelled: int = 0
    refunded: int = 0
    admitted_cost_micros: int = 0
    prevented_micros: int = 0
    unseen: int = 0  # tasks Braket knows and the ledger does not: missed events
    cancel_failures: int = 0
    pending_cancels: int = 0
    overrun: int = 0  # ran although over an enforcing cap (charged)
    overrun_cost_micros: int = 0
    open_work: dict[str, int] = field(default_factory=dict)  # work kind -> tasks, any window
    region_errors: dict[str, str] = field(default_factory=dict)
    top_devices: list[tuple[str, int, int]] = field(default_factory=list)  # device, tasks, cost
    top_tags: list[tuple[str, int, int]] = field(default_factory=list)  # key=value, tasks, cost
    jobs: list[dict[str, Any]] = field(default_factory=list)  # hybrid jobs active that day
    native: list[str] = field(default_factory=list)  # native limits: freezes, foreign limits, drift
    unguarded: list[str] = field(default_factory=list)  # regions outside BRAKET_GUARD_REGIONS that sent events

    @property
    def quiet(self) -> bool:
        """Nothing happened: no task activity that day, nothing left open, no region failing.
        (A month or total counter with usage from earlier days does not make a day busy.)"""
        return (self.admitted + self.rejected + self.refunded + self.unseen + self.overrun == 0
                and not self.open_work and not self.region_errors and not self.jobs and not self.unguarded)


def digest_day(now_local: datetime) -> date:
    """Before noon: yesterday (a morning digest); from noon: today so far."""
    return now_local.date() - timedelta(days=1) if now_local.hour < 12 else now_local.date()


def build_digest(day: str, zone: str, mode: str, caps: Iterable[CapUsage],
                 tasks: Iterable[DayTask], open_work: dict[str, int] | None = None,
                 region_errors: dict[str, str] | None = None,
                 jobs: Iterable[dict[str, Any]] = ()) -> Digest:
    digest = Digest(day=day, zone=zone, mode=mode, caps=list(caps), open_work=dict(open_work or {}),
                    region_errors=dict(region_errors or {}), jobs=list(jobs))
    device_tasks, device_cost = Tally(), Tally()
    tag_tasks, tag_cost = Tally(), Tally()
    for item in tasks:
        record = item.record
        if record is None:
            digest.unseen += 1
            cost = item.estimated_cost_micros or 0
        elif record.state == S.ADMITTED:
            digest.admitted += 1
            cost = record.cost_micros or 0
            digest.admitted_cost_micros += cost
        elif record.state == S.OVERRUN:
            digest.overrun += 1
            cost = record.cost_micros or 0
            digest.overrun_cost_micros += cost
        elif record.state == S.REFUNDED:
            digest.refunded += 1
            continue
        elif record.state in S.UNSTOPPED_STATES or record.state == S.CANCELLED:
            digest.rejected += 1
            if record.state == S.CANCELLED and record.cancel_status:  # the guard's cancel took
                digest.cancelled += 1
                digest.prevented_micros += record.cost_micros or 0
            elif record.state == S.CANCELLED:
                pass  # it ended by itself (FAILED, or cancelled by its user) before the guard's cancel
            elif record.state == S.CANCEL_FAILED:
                digest.cancel_failures += 1
            else:
                digest.pending_cancels += 1
            continue
        else:
            continue
        device_tasks[item.task.device_arn] += 1
        device_cost[item.task.device_arn] += cost
        for key, value in sorted(item.tags.items()):
            tag_tasks[f"{key}={value}"] += 1
            tag_cost[f"{key}={value}"] += cost
    digest.top_devices = sorted(((d, device_tasks[d], device_cost[d]) for d in device_cost),
                                key=lambda row: (-row[2], row[0]))[:TOP]
    digest.top_tags = sorted(((t, tag_tasks[t], tag_cost[t]) for t in tag_cost),
                             key=lambda row: (-row[2], row[0]))[:TOP]
    return digest


def _limit_lines(usage: CapUsage) -> list[str]:
    cap = usage.cap
    label = {DAY: "day", MONTH: "month", TOTAL: "all time"}[cap.window]
    if not usage.counters:
        return [f"- {cap.name} ({label} {usage.window.key}): nothing used of {cap.limits_text()}"]
    lines = []
    for counter in sorted(usage.counters, key=lambda c: c.group):
        parts = []
        if cap.max_shots is not None:
            parts.append(f"{counter.shots:,}/{cap.max_shots:,} shots")
        if cap.max_cost_micros is not None:
            parts.append(f"{format_usd(counter.cost_micros)}/{format_usd(cap.max_cost_micros)}")
        percent = _percent(cap, counter)
        group = short_device(counter.group) if cap.group_by == "device" else counter.group
        rejected = f", {counter.rejected_tasks} rejected" if counter.rejected_tasks else ""
        lines.append(f"- {cap.name} ({label} {usage.window.key}, {group}): {', '.join(parts)} "
                     f"({percent}%){rejected}")
    return lines


def _percent(cap: Cap, counter: Counter) -> str:
    return percent_text(used_fraction(cap, counter.shots, counter.cost_micros))


def percent_text(fraction) -> str:
    """A fraction as an exact percentage: 0.875 -> "87.5", 0.005 -> "0.5", 1 -> "100"."""
    from decimal import Decimal
    value = (Decimal(fraction) * 100).quantize(Decimal("0.01")).normalize()
    return f"{value:f}"


def render_digest(digest: Digest) -> Alert:
    title = f"Braket daily digest for {digest.day} ({digest.zone})"
    lines = ["Caps:"]
    for usage in digest.caps:
        lines += _limit_lines(usage)
    lines += [
        "",
        f"Tasks: {digest.admitted} admitted ({format_usd(digest.admitted_cost_micros)}), "
        f"{digest.rejected} rejected, {digest.cancelled} cancelled by the guard, {digest.refunded} refunded",
        f"Spend prevented: {format_usd(digest.prevented_micros)}",
    ]
    if digest.overrun:
        lines.append(f"Ran despite a cap: {digest.overrun} task(s), {format_usd(digest.overrun_cost_micros)} "
                     "(charged to the caps: the counters say what was spent)")
    if digest.top_devices:
        lines += ["", "Top devices by cost:"]
        lines += [f"- {short_device(d)}: {n} task(s), {format_usd(c)}" for d, n, c in digest.top_devices]
    if digest.top_tags:
        lines += ["", "Top tags by cost:"]
        lines += [f"- {t}: {n} task(s), {format_usd(c)}" for t, n, c in digest.top_tags]
    if digest.jobs:
        lines += ["", "Hybrid jobs (instance time; their tasks are counted above):"]
        lines += [f"- {j['name']}: {j['status']}, {j['instances']}, "
                  f"{'unpriced' if j['cost_micros'] is None else format_usd(j['cost_micros'])}"
                  + (f", stopped by the guard at {', '.join(j['breached'])}" if j["state"] == "stopping"
                     or (j["breached"] and j["status"] == "CANCELLED") else "")
                  for j in digest.jobs]
    if digest.native:
        lines += ["", "Native spending limits:"] + [f"- {line}" for line in digest.native]
    problems = []
    if digest.cancel_failures:
        problems.append(f"{digest.cancel_failures} task(s) over a cap could not be cancelled")
    if digest.pending_cancels:
        problems.append(f"{digest.pending_cancels} cancellation(s) still being retried")
    if digest.unseen:
        problems.append(f"{digest.unseen} task(s) Braket reports that the guard has not seen yet "
                        "(reconciliation picks them up)")
    if digest.open_work:
        problems.append("still open (any day): " + ", ".join(
            f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(digest.open_work.items())))
    for region, error in sorted(digest.region_errors.items()):
        problems.append(f"region {region} could not be read: {error}")
    if digest.unguarded:
        problems.append(f"tasks came from {', '.join(digest.unguarded)}, outside the guarded regions: they "
                        "were charged and enforced, but are not reconciled or counted above (add the "
                        "region to BRAKET_GUARD_REGIONS)")
    lines += ["", "Guard errors: " + ("; ".join(problems) if problems else "none")]
    footer = f"braket-guard ({digest.mode} mode)"
    text = "\n".join([title, ""] + lines + ["", footer])
    fallback = (f"{title}: {digest.admitted} admitted, {digest.cancelled} cancelled, "
                f"{format_usd(digest.prevented_micros)} prevented")
    slack_lines = [f"*{line}*" if line.endswith(":") and not line.startswith("-") else line for line in lines]
    return Alert("digest", f"braket-guard: {title}"[:100], text, _slack(title, slack_lines, fallback, footer))


def estimate_cost(prices: PriceBook, task: TaskEvent) -> int | None:
    price = prices.lookup(task.device_arn)
    return None if price is None else task_cost_micros(price, task.shots)


def gather_digest(guard: Any, day: date, always: bool = False) -> tuple[Digest, bool]:
    """Read the day's caps and tasks; returns the digest and whether it should be sent."""
    config = guard.config
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=config.zone)
    caps = [CapUsage(cap, window_for(cap.window, moment, config.zone),
                     tuple(guard.ledger.window_counters(cap.name, window_for(cap.window, moment, config.zone).key)))
            for cap in config.caps]
    day_window = window_for(DAY, moment, config.zone)
    summaries, region_errors = [], {}
    for region in config.regions:  # one failing region never fails the digest
        try:
            summaries += guard.braket.search(region, day_window.start, day_window.end)
        except Exception as exc:  # noqa: BLE001 - reported in the digest itself
            region_errors[region] = f"{type(exc).__name__}: {exc}"[:200]
            log_event("error", "region_failed", operation="digest", region=region, error=region_errors[region])
            metrics.emit({"RegionFailures": 1}, {"Operation": "digest"})
    open_work: dict[str, int] = {}
    for _arn, kinds in guard.ledger.open_work():
        for kind in kinds:
            open_work[kind] = open_work.get(kind, 0) + 1
    undelivered = len(guard.ledger.outbox())
    if undelivered:
        open_work["undelivered_alerts"] = undelivered
    pairs = [(summary_event(s), s) for s in summaries]
    events = [(t, s) for t, s in pairs if t is not None]
    records = guard.ledger.get_tasks(t.task_arn for t, _ in events)
    tasks = [DayTask(t, dict(s.get("tags") or {}), records.get(t.task_arn),
                     estimate_cost(config.prices, t)) for t, s in events]
    digest = build_digest(day.isoformat(), str(config.zone), config.mode, caps, tasks, open_work, region_errors,
                          _day_jobs(guard, day_window))
    digest.unguarded = unguarded_regions(guard.ledger, day)
    if getattr(guard, "native", None) is not None and guard.native.enabled:
        digest.native = digest_lines(guard.native, datetime.now(timezone.utc))
    return digest, always or config.digest_always or not digest.quiet


def unguarded_regions(ledger: Any, day: date) -> list[str]:
    """Regions outside BRAKET_GUARD_REGIONS whose events reached the guard on ``day`` (the
    once-a-day alert markers of guard.note_unguarded)."""
    prefix = "ALERT#REGION#"
    items = ledger.alert_markers(f"UNGUARDED#{day.isoformat()}", prefix)
    return sorted({item["sk"]["S"][len(prefix):].rsplit("#", 1)[0] for item in items})


def _day_jobs(guard: Any, day_window: Window) -> list[dict[str, Any]]:
    """Hybrid jobs the guard charged that were active during the day (created before its end,
    still open or last charged after its start). Read only when a cap counts jobs."""
    if not any(cap.counts_jobs for cap in guard.config.caps):
        return []
    start, end = format_timestamp(day_window.start), format_timestamp(day_window.end)
    since = format_timestamp(day_window.start - timedelta(days=7))
    out = []
    for record in JobLedger(guard.ledger).jobs_since(since):
        updated = record.raw.get("updated_at", {}).get("S", "")
        if record.created_at >= end or (record.state == "settled" and updated < start):
            continue
        out.append({"name": record.job_arn.rsplit("/", 1)[-1], "status": record.status, "state": record.state,
                    "instances": f"{record.instance_count} x {record.instance_type}",
                    "cost_micros": record.cost_micros, "breached": list(record.breached)})
    return sorted(out, key=lambda j: (-(j["cost_micros"] or 0), j["name"]))
