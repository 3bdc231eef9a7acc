"""``status`` and ``check-config``: the caps, their use in the current windows, the open work."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any, TextIO

from braket_guard.alerts.messages import short_device
from braket_guard.cli.context import _caps, _ledger, _limiter, _read, resolve_settings
from braket_guard.cli.report import _job_rows
from braket_guard.core.caps import parse_caps, used_fraction
from braket_guard.core.money import micros_to_str
from braket_guard.core.text import table
from braket_guard.core.windows import MONTH, window_for
from braket_guard.jobs.ledger import JobLedger
from braket_guard.native.status import native_status
from braket_guard.ops.digest import percent_text, unguarded_regions


# -- commands ------------------------------------------------------------------------------------
def cmd_check_config(args: argparse.Namespace, out: TextIO) -> tuple[int, Any]:
    caps = parse_caps(_read(args.file))
    rows = [{"name": c.name, "window": c.window, "group_by": c.group_by,
             "devices": sorted(c.devices) or ["all"], "max_shots": c.max_shots,
             "max_cost_usd": micros_to_str(c.max_cost_micros) if c.max_cost_micros is not None else None,
             "warn_at": [str(w) for w in c.warn_at], "on_breach": c.on_breach} for c in caps]
    text = table(["CAP", "WINDOW", "GROUP BY", "DEVICES", "LIMITS", "WARN AT", "ON BREACH"],
                 [[c.name, c.window, c.group_by, ",".join(short_device(d) for d in sorted(c.devices)) or "all",
                   c.limits_text(), ",".join(f"{percent_text(w)}%" for w in c.warn_at) or "-", c.on_breach]
                  for c in caps])
    return 0, ({"valid": True, "caps": rows}, f"{args.file}: {len(caps)} cap(s), valid\n\n{text}")


def cmd_status(args: argparse.Namespace, out: TextIO) -> tuple[int, Any]:
    settings = resolve_settings(args)
    caps, ledger, zone = _caps(settings), _ledger(settings), settings.zone
    now = datetime.now(timezone.utc)
    rows = []
    for cap in caps:
        window = window_for(cap.window, now, zone)
        counters = ledger.window_counters(cap.name, window.key)
        for counter in sorted(counters, key=lambda c: c.group) or [None]:
            shots = counter.shots if counter else 0
            cost = counter.cost_micros if counter else 0
            rows.append({
                "cap": cap.name, "window": window.key,
                "group": counter.group if counter else None,
                "shots": shots, "max_shots": cap.max_shots,
                "cost_usd": micros_to_str(cost),
                "max_cost_usd": micros_to_str(cap.max_cost_micros) if cap.max_cost_micros is not None else None,
                "percent": percent_text(used_fraction(cap, shots, cost)),
                "rejected_tasks": counter.rejected_tasks if counter else 0,
                "overrun_tasks": counter.overrun_tasks if counter else 0,
            })
    open_work = ledger.open_work()
    text = table(["CAP", "WINDOW", "GROUP", "SHOTS", "COST", "USED", "REJECTED", "RAN OVER"], [[
        r["cap"], r["window"],
        "-" if r["group"] is None else (short_device(r["group"]) if "::device/" in r["group"] else r["group"]),
        f"{r['shots']:,} / {r['max_shots']:,}" if r["max_shots"] is not None else f"{r['shots']:,}",
        f"${r['cost_usd']} / ${r['max_cost_usd']}" if r["max_cost_usd"] is not None else f"${r['cost_usd']}",
        f"{r['percent']}%", r["rejected_tasks"], r["overrun_tasks"]] for r in rows])
    kinds: dict[str, int] = {}
    for _arn, work in open_work:
        for kind in work:
            kinds[kind] = kinds.get(kind, 0) + 1
    text += "\n\nOpen work: " + (", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(kinds.items()))
                                 if kinds else "none")
    jobs = _job_rows(JobLedger(ledger), window_for(MONTH, now, zone).start)
    if jobs:
        text += "\n\nHybrid jobs created this month or still running:\n" + table(
            ["JOB", "STATUS", "INSTANCES", "INSTANCE COST", "GUARD"],
            [[r["job"].rsplit("/", 1)[-1], r["status"], r["instances"],
              "unpriced" if r["cost_usd"] is None else f"${r['cost_usd']}", r["state"]] for r in jobs])
    data = {"timezone": settings.timezone, "caps": rows,
            "open_work": {"tasks": len(open_work), "by_kind": kinds}, "jobs": jobs}
    unguarded = unguarded_regions(ledger, now.astimezone(zone).date())
    data["unguarded_regions_today"] = unguarded
    if unguarded:
        text += (f"\n\nEvents today from regions outside the guarded ones: {', '.join(unguarded)} "
                 "(charged and enforced, not reconciled: add them to BRAKET_GUARD_REGIONS)")
    if settings.native_limits != "off":
        native_data, native_text = native_status(_limiter(settings), now)
        data["native_limits"] = native_data
        text += "\n\n" + native_text
    return 0, (data, text)
