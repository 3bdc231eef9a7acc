"""``explain``: one task's or job's story in the ledger, and why the guard did what it did."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from braket_guard.alerts.messages import short_device
from braket_guard.cli.args import JOB_ARN_WHOLE
from braket_guard.cli.context import _ledger, resolve_settings
from braket_guard.core import states as S
from braket_guard.core.money import format_usd, micros_to_str
from braket_guard.jobs.ledger import JobLedger
from braket_guard.native.status import door_lines


def cmd_explain(args: argparse.Namespace, out: TextIO) -> tuple[int, Any]:
    settings = resolve_settings(args)
    ledger = _ledger(settings)
    if JOB_ARN_WHOLE.fullmatch(args.task_arn):
        return _explain_job(JobLedger(ledger), args.task_arn)
    record = ledger.get_task(args.task_arn)
    if record is None:
        message = ("The guard has no record of this task: no event of it has reached the guard and "
                   "reconciliation has not seen it yet (or it is older than the ledger keeps).")
        return 1, ({"task": args.task_arn, "known": False, "explanation": message}, message)
    raw = record.raw
    decided = raw.get("decided_at", {}).get("S", "")
    lines = [f"Task {record.task_arn}",
             f"Device: {short_device(record.device_arn)}, {record.shots:,} shots, created {record.created_at}",
             f"Charged cost: {format_usd(record.cost_micros) if record.cost_micros is not None else 'unknown'}"
             + (f" ({raw['cost_source']['S']})" if "cost_source" in raw else "")
             + (f" (it ran in reservation {record.reservation_arn}: no per-task or per-shot charge; "
                "its shots count)" if record.reservation_arn else "")]
    data: dict[str, Any] = {"task": record.task_arn, "known": True, "state": record.state,
                            "decided_at": decided, "first_status": record.status,
                            "cost_usd": micros_to_str(record.cost_micros) if record.cost_micros is not None else None,
                            "reservation": record.reservation_arn or None}
    counters = ledger.read_counters(c.counter_key for c in record.charges)
    over = sorted(set(record.breached) | set(record.oversize))
    if record.state in (S.ADMITTED, S.REFUNDED) or (record.state == S.OVERRUN):
        if record.state == S.OVERRUN:
            reason = S.OVERRUN_REASONS.get(record.overrun_reason, record.overrun_reason)
            lines.append(f"Ran over its cap: first seen {record.status} at {decided}; it did not fit "
                         f"{', '.join(over)}, but it was not stopped: {reason}. It is charged to every cap:")
        else:
            verb = "Admitted" if record.state == S.ADMITTED else "Admitted, then refunded"
            lines.append(f"{verb}: first seen {record.status} at {decided}; it fitted every cap that applies:")
        for charge in record.charges:
            counter = counters[charge.counter_key]
            window_key = charge.counter_key[0].rsplit("#", 1)[1]
            group = short_device(counter.group) if "::device/" in counter.group else counter.group
            lines.append(f"  - {charge.cap} ({window_key}, {group}): +{charge.shots:,} shots, "
                         f"+{format_usd(charge.cost_micros)}; the counter now holds {counter.shots:,} shots, "
                         f"{format_usd(counter.cost_micros)}")
        if record.state == S.REFUNDED:
            lines.append(f"Refunded at {raw.get('refunded_at', {}).get('S', '?')} when it ended "
                         f"{raw.get('ended_status', {}).get('S', '')}: its shots and cost were given back.")
        if not record.charges:
            lines.append("  (no cap applies to this device)")
        data["charges"] = [{"cap": c.cap, "shots": c.shots, "cost_usd": micros_to_str(c.cost_micros)}
                           for c in record.charges]
        if record.state == S.OVERRUN:
            data.update(breached=over, overrun_reason=record.overrun_reason)
    elif record.state in S.UNSTOPPED_STATES or record.state == S.CANCELLED:
        lines.append(f"Rejected: first seen {record.status} at {decided}; it did not fit: {', '.join(over)}")
        if record.oversize:
            lines.append(f"  (on its own it is bigger than {', '.join(record.oversize)}, or could not be priced)")
        cancellation = {S.REJECTED: "pending (the guard is still trying)",
                        S.CANCEL_REQUESTED: "requested (Braket answered CANCELLING); waiting for the task to end",
                        S.CANCEL_FAILED: "refused by Braket; cancel it by hand",
                        S.CANCELLED: "done: the task ended without running"}[record.state]
        if record.cancel_error.startswith("ended"):
            cancellation = "too late: the task had already ended"
        lines.append(f"Cancellation: {cancellation}" + (f" ({record.cancel_error})" if record.cancel_error else ""))
        data.update(breached=over, cancellation=record.state)
    else:
        lines.append(f"Never charged: the first event seen was {record.status} (it ended before it was charged).")
    if over and record.state != S.ADMITTED:
        door = door_lines(ledger, record)
        lines += door
        if door:
            data["refused_at_the_door"] = door
    if record.work:
        lines.append(f"Open work: {', '.join(sorted(k.replace('_', ' ') for k in record.work))}")
        data["open_work"] = sorted(record.work)
    text = "\n".join(lines)
    data["explanation"] = text
    return 0, (data, text)


def _explain_job(jobs: JobLedger, job_arn: str) -> tuple[int, Any]:
    record = jobs.get(job_arn)
    if record is None:
        message = ("The guard has no record of this hybrid job: no cap counts jobs (kinds), or no event "
                   "of it has reached the guard and reconciliation has not found it yet.")
        return 1, ({"job": job_arn, "known": False, "explanation": message}, message)
    cost = "unknown (no price for this instance type)" if record.cost_micros is None else format_usd(record.cost_micros)
    minutes = record.charged_ms / 60_000
    lines = [f"Hybrid job {job_arn}",
             f"Instances: {record.instance_count} x {record.instance_type}, device {short_device(record.device)}, "
             f"created {record.created_at}, last seen {record.status}",
             f"Instance cost charged: {cost} for {minutes:.1f} minutes ({record.billed_source or 'accrued'})"]
    counters = jobs.ledger.read_counters(c.counter_key for c in record.charges)
    for charge in record.charges:
        counter = counters[charge.counter_key]
        window_key = charge.counter_key[0].rsplit("#", 1)[1]
        lines.append(f"  - {charge.cap} ({window_key}, {counter.group}): +{format_usd(charge.cost_micros)}; "
                     f"the counter now holds {format_usd(counter.cost_micros)}")
    verdict = {"open": "running (or queued): its cost accrues at every event and reconciliation",
               "stopping": f"stopped by the guard at {', '.join(record.breached)} (CancelJob: {record.stop_status})",
               "settled": "ended: its cost is final"}.get(record.state, record.state)
    lines.append(f"Guard: {verdict}")
    if record.stop_error:
        lines.append(f"Could not stop it: {record.stop_error}")
    text = "\n".join(lines)
    data = {"job": job_arn, "known": True, "state": record.state, "status": record.status,
            "instances": f"{record.instance_count} x {record.instance_type}",
            "cost_usd": micros_to_str(record.cost_micros) if record.cost_micros is not None else None,
            "billed_ms": record.charged_ms, "billed_source": record.billed_source,
            "breached": list(record.breached),
            "charges": [{"cap": c.cap, "cost_usd": micros_to_str(c.cost_micros)} for c in record.charges],
            "explanation": text}
    return 0, (data, text)
