"""What the CLI says about native limits: the limits Braket holds, whose they are, the freezes in
force and the drift of mirrored limits (``status``); whether a task's breach closed the door
(``explain``). Read-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from braket_guard.alerts.messages import short_device
from braket_guard.core.money import micros_to_str
from braket_guard.core.text import table
from braket_guard.core.windows import format_timestamp
from braket_guard.native import rules as N
from braket_guard.native.ledger import NATIVE_PK


def _table(headers, rows):
    return table(headers, rows)


def native_status(limiter: Any, now: datetime) -> tuple[dict[str, Any], str]:
    config = limiter.config
    regions = set(config.regions) or {N.device_region(d) for d in limiter.universe()}
    limits = limiter.current_limits(regions)
    freezes = [f for f, _ in limiter.freezes()]
    targets = limiter.targets([l.device_arn for l in limits], now)
    active = {d: f for f in freezes if f.active(now) for d in f.devices}
    rows = []
    for limit in sorted(limits, key=lambda l: l.device_arn):
        ours = limit.owned_by(limiter.owner)
        target = targets.get(limit.device_arn)
        drift = (N.drift_micros(limit, target.baseline_micros)
                 if ours and target is not None and limit.identity == (target.window_tag, target.caps_fingerprint)
                 else None)
        frozen = active.get(limit.device_arn)
        rows.append({
            "device": limit.device_arn, "limit": limit.arn, "limit_usd": micros_to_str(limit.amount_micros),
            "spent_usd": micros_to_str(limit.total_micros), "queued_usd": micros_to_str(limit.queued_micros),
            "owner": "guard" if ours else "other",
            "window": limit.tags.get(N.WINDOW_TAG, "-") if ours else "-",
            "frozen_by": frozen.key if ours and frozen and limit.amount_micros == 0 else None,
            "drift_usd": micros_to_str(drift) if drift is not None else None,
        })
    freeze_rows = [{"cap": f.cap, "window": f.window_key, "group": f.group, "devices": sorted(f.devices),
                    "until": format_timestamp(f.until) if f.until else None, "lifted": f.lifted,
                    "active": f.active(now)} for f in freezes]
    lines = [f"Native spending limits ({config.native_limits}):"]
    if rows:
        lines.append(_table(["DEVICE", "LIMIT", "SPENT + QUEUED", "OWNER", "WINDOW", "DRIFT"], [[
            short_device(r["device"]), "FROZEN ($0)" if r["frozen_by"] else f"${r['limit_usd']}",
            f"${r['spent_usd']} + ${r['queued_usd']}",
            "guard" if r["owner"] == "guard" else "not the guard's: left alone, the guard cancels there",
            r["window"], "-" if r["drift_usd"] is None else f"${r['drift_usd']}"] for r in rows]))
    else:
        lines.append("  none in " + ", ".join(sorted(regions)))
    live = [f for f in freeze_rows if f["active"]]
    lines.append("Freezes in force:" + (" none" if not live else ""))
    for f in live:
        group = short_device(f["group"]) if "::device/" in f["group"] else f["group"]
        lines.append(f"  - {f['cap']} ({f['window']}, {group}): "
                     f"{', '.join(short_device(d) for d in f['devices'])} until {f['until'] or 'unfrozen'}")
    broken = limiter.broken(now)  # one Query: devices Braket refused a limit for good
    if broken:
        lines.append("Refused by Braket (not retried on the task path; the guard cancels there):")
        for device, why in sorted(broken.items()):
            lines.append(f"  - {short_device(device)}: {why['code']} at {why['at']}: {why['error'][:120]}")
    if getattr(limiter, "unavailable", ""):
        lines.append(f"Native limits are off in this runtime: {limiter.unavailable}")
    return ({"mode": config.native_limits, "limits": rows, "freezes": freeze_rows,
             "broken": [{"device": d, **why} for d, why in sorted(broken.items())]}, "\n".join(lines))


def door_lines(ledger: Any, record: Any) -> list[str]:
    """For a task over a cap: whether its breach froze devices, so later tasks were refused by
    Braket at CreateQuantumTask (those never exist: no ARN, no cost, no record here)."""
    lines = []
    for charge in record.charges:
        if charge.cap not in record.breached:
            continue
        window_key = charge.counter_key[0].rsplit("#", 1)[1]
        group = charge.counter_key[1][len("GROUP#"):]
        item = ledger.client.get_item(TableName=ledger.table, ConsistentRead=True, Key={
            "pk": {"S": NATIVE_PK}, "sk": {"S": f"FREEZE#{charge.cap}#{window_key}#{group}"}}).get("Item")
        if not item:
            continue
        frozen = item.get("frozen", {}).get("SS", [])
        foreign = item.get("foreign", {}).get("SS", [])
        until = item.get("until", {}).get("S", "it is unfrozen")
        if frozen:
            lines.append(f"Refused at the door: {charge.cap} froze {', '.join(short_device(d) for d in frozen)} "
                         f"at {item.get('frozen_at', {}).get('S', '?')}; from then until {until}, Braket refused "
                         "new tasks there at CreateQuantumTask (a native spending limit of $0). Tasks refused "
                         "that way never existed: they cost nothing and the guard has no record of them.")
        if item.get("lifted", {}).get("BOOL"):
            lines.append(f"  The freeze was lifted early at {item.get('lifted_at', {}).get('S', '?')} (braket-guard unfreeze).")
        if foreign:
            lines.append(f"  Not frozen (a spending limit the guard does not own): "
                         f"{', '.join(short_device(d) for d in foreign)}; tasks there were cancelled instead.")
    return lines


def digest_lines(limiter: Any, now: datetime) -> list[str]:
    """The digest's native-limit lines: freezes in force, foreign limits, drift of mirrored limits.
    A failure to read Braket is one line, never a failed digest."""
    try:
        data, _text = native_status(limiter, now)
    except Exception as exc:  # noqa: BLE001 - reported in the digest itself
        return [f"could not be read: {type(exc).__name__}: {str(exc)[:150]}"]
    lines = []
    for f in data["freezes"]:
        if f["active"]:
            lines.append(f"FROZEN by {f['cap']} ({f['group'] if '::device/' not in f['group'] else short_device(f['group'])}): "
                         f"{', '.join(short_device(d) for d in f['devices'])} until {f['until'] or 'unfrozen'}")
    for row in data["limits"]:
        if row["owner"] != "guard":
            lines.append(f"{short_device(row['device'])} has a limit the guard does not own (${row['limit_usd']}): "
                         "the guard cancels there")
        elif row["drift_usd"] is not None and row["drift_usd"] not in ("0.00", "0"):
            lines.append(f"{short_device(row['device'])}: Braket counts ${row['drift_usd']} more than the guard "
                         "since the limit was made (negative: less)")
    return lines
