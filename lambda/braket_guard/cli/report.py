"""``report``: what ran and what it cost over a window, from Braket's own records."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Any, Sequence, TextIO

from braket_guard.alerts.messages import short_device
from braket_guard.aws.braket_api import BraketGateway
from braket_guard.cli.context import (
    REGION_ERRORS,
    UNANSWERED,
    _aws_error_text,
    _gateway,
    _ledger,
    _raise_if_account_wide,
    resolve_settings,
)
from braket_guard.cli.format import CHARGED, STATUS_ORDER, CliError, Progress
from braket_guard.core.money import format_usd, micros_to_str
from braket_guard.core.pricing import instance_cost_micros, task_cost_micros
from braket_guard.core.text import table
from braket_guard.core.windows import DAY, MONTH, format_timestamp, window_for
from braket_guard.jobs.ledger import JobLedger
from braket_guard.jobs.rules import billed_ms, job_from_api
from braket_guard.tasks.decision import summary_event


def _job_rows(jobs: JobLedger, since: datetime) -> list[dict[str, Any]]:
    """Hybrid jobs the guard charged, created since ``since``, newest first."""
    found = {r.job_arn: r for r in jobs.jobs_since(format_timestamp(since))}
    # a job created earlier that still runs charges this month too
    found.update(jobs.get_many(arn for arn in jobs.open_jobs() if arn not in found))
    records = sorted(found.values(), key=lambda r: r.created_at, reverse=True)
    return [{"job": r.job_arn, "status": r.status, "state": r.state,
             "instances": f"{r.instance_count} x {r.instance_type}", "created_at": r.created_at,
             "cost_usd": micros_to_str(r.cost_micros) if r.cost_micros is not None else None,
             "breached": list(r.breached), "stop_error": r.stop_error or None} for r in records]


def cmd_report(args: argparse.Namespace, out: TextIO) -> tuple[int, Any]:
    settings = resolve_settings(args)
    zone = settings.zone
    window = _report_window(args, zone, settings.timezone)
    prices = settings.prices()  # the deployed function's BRAKET_GUARD_PRICES with --function
    gateway = _gateway()
    devices: dict[str, dict[str, Any]] = {}
    charged: list[tuple[Any, dict[str, Any], int]] = []
    region_errors: dict[str, str] = {}
    unanswered: set[str] = set()  # regions whose endpoint did not answer: not asked again
    for region in settings.regions:
        progress = Progress(f"Searching {region}", sys.stderr, args.progress or sys.stderr.isatty())
        try:
            summaries = gateway.search(region, window.start, window.end, device_arn=args.device,
                                       on_page=lambda page: progress.advance(len(page)))
        except REGION_ERRORS as exc:  # one failing region never fails the report
            progress.done()
            _raise_if_account_wide(exc)
            region_errors[region] = _aws_error_text(exc)
            if isinstance(exc, UNANSWERED):
                unanswered.add(region)
            continue
        progress.done()
        for summary in summaries:
            task = summary_event(summary)
            if task is None:
                continue
            row = devices.setdefault(task.device_arn, {
                "device": task.device_arn, "tasks": 0, "shots": 0,
                "by_status": {s: {"tasks": 0, "shots": 0} for s in STATUS_ORDER}, "cost_micros": 0,
                "priced": True})
            row["tasks"] += 1
            row["shots"] += task.shots
            row["by_status"][task.status]["tasks"] += 1
            row["by_status"][task.status]["shots"] += task.shots
            if task.status in CHARGED:
                price = prices.lookup(task.device_arn) or gateway.device_price(task.device_arn, task.device_region, prices)
                if price is None:
                    row["priced"] = False
                else:
                    row["cost_micros"] += task_cost_micros(price, task.shots)
                    charged.append((task, row, task_cost_micros(price, task.shots)))
    if len(region_errors) == len(settings.regions):  # nothing was searched: no report, no $0.00 total
        raise CliError("Braket could not be searched in any region: " + "; ".join(
            f"{region}: {error}" for region, error in region_errors.items()))
    if settings.table and charged:  # tasks the guard found in a reservation cost nothing
        records = _ledger(settings).get_tasks(task.task_arn for task, _row, _cost in charged)
        for task, row, cost in charged:
            record = records.get(task.task_arn)
            if record is not None and record.reservation_arn:
                row["cost_micros"] -= cost
                row["reserved_tasks"] = row.get("reserved_tasks", 0) + 1
    jobs = _report_jobs(gateway, [r for r in settings.regions if r not in unanswered], window, prices,
                        region_errors)
    ordered = sorted(devices.values(), key=lambda r: (-r["cost_micros"], r["device"]))
    used_statuses = [s for s in STATUS_ORDER if any(r["by_status"][s]["tasks"] for r in ordered)] or ["COMPLETED"]
    text_rows = [[short_device(r["device"])] + [
        f"{r['by_status'][s]['tasks']} ({r['by_status'][s]['shots']:,})" for s in used_statuses] +
        [r["tasks"], f"{r['shots']:,}", format_usd(r["cost_micros"]) + ("" if r["priced"] else " + unpriced")]
        for r in ordered]
    job_total = sum(j["cost_micros"] or 0 for j in jobs)
    total = sum(r["cost_micros"] for r in ordered) + job_total
    text = (f"Tasks created {window.key} ({settings.timezone}) in {', '.join(settings.regions)}\n"
            f"Counts are tasks (shots) by status; cost is estimated for tasks not cancelled or failed "
            f"(tasks the guard found in a reservation at $0).\n\n"
            + table(["DEVICE"] + used_statuses + ["TASKS", "SHOTS", "EST. COST"], text_rows))
    if jobs:
        text += ("\n\nHybrid jobs created in the same period (instance time; their tasks are counted above):\n"
                 + table(["JOB", "STATUS", "INSTANCES", "MINUTES", "EST. COST"],
                         [[j["job"].rsplit("/", 1)[-1], j["status"], j["instances"], f"{j['billed_ms'] / 60000:.1f}",
                           ("not read: " + j["error"] if j.get("error") else "unpriced") if j["cost_micros"] is None
                           else format_usd(j["cost_micros"])] for j in jobs]))
    text += f"\n\nEstimated total: {format_usd(total)}"
    for region, error in sorted(region_errors.items()):
        text += f"\nRegion {region} could not be searched ({error}): its tasks are missing above."
    data = {"window": window.key, "timezone": settings.timezone, "regions": settings.regions,
            "devices": [{**{k: v for k, v in r.items() if k != "cost_micros"},
                         "estimated_cost_usd": micros_to_str(r["cost_micros"])} for r in ordered],
            "jobs": [{**{k: v for k, v in j.items() if k != "cost_micros"},
                      "estimated_cost_usd": None if j["cost_micros"] is None else micros_to_str(j["cost_micros"])}
                     for j in jobs],
            "estimated_total_usd": micros_to_str(total), "region_errors": region_errors}
    if region_errors:  # the answer is incomplete: say so once on stderr too (exit 1)
        args.warning = "report incomplete: " + "; ".join(
            f"{region}: {error}" for region, error in sorted(region_errors.items()))
    return (1 if region_errors else 0), (data, text)


def _report_window(args: argparse.Namespace, zone: Any, zone_name: str) -> Any:
    """The day or month asked for, in the zone; a day at the very ends of the calendar whose
    bounds do not exist in UTC is refused with one line."""
    try:
        if args.day is not None:
            day = args.day
            return window_for(DAY, datetime(day.year, day.month, day.day, 12, tzinfo=zone), zone)
        month = args.window_month
        return window_for(MONTH, datetime(month.year, month.month, 15, tzinfo=zone), zone)
    except (OverflowError, ValueError):
        flag, text = ("--date", args.date) if args.day is not None else ("--month", args.month)
        works = "0001-01-02 to 9999-12-30" if flag == "--date" else "0001-02 to 9999-11"
        raise CliError(f"{flag}: {text} in {zone_name} is at the end of the calendar: its window has no "
                       f"UTC bounds ({works} work in every zone)") from None


def _report_jobs(gateway: BraketGateway, regions: Sequence[str], window: Any, prices: Any,
                 region_errors: dict[str, str]) -> list[dict[str, Any]]:
    """Hybrid jobs created in the window (SearchJobs, then GetJob each for its instances and
    billed time), priced from the job instance rates."""
    now = datetime.now(timezone.utc)
    out = []
    for region in regions:
        try:
            summaries = gateway.search_jobs(region, window.start) if window.start else []
        except REGION_ERRORS as exc:
            _raise_if_account_wide(exc)
            region_errors.setdefault(region, "jobs: " + _aws_error_text(exc))
            continue
        for summary in summaries:
            created = summary.get("createdAt")
            if window.end is not None and isinstance(created, datetime) and created >= window.end:
                continue
            try:  # one job that cannot be read is shown as such; the others stay in the report
                job = job_from_api(gateway.get_job(summary["jobArn"], region))
            except (*REGION_ERRORS, ValueError) as exc:
                out.append({"job": summary["jobArn"], "status": str(summary.get("status", "")), "region": region,
                            "instances": "?", "billed_ms": 0, "cost_micros": None,
                            "error": _aws_error_text(exc)})
                continue
            ms, _source = billed_ms(job, now)
            rate = prices.job_instance_price(job.instance_type)
            out.append({"job": job.job_arn, "status": job.status, "region": region,
                        "instances": f"{job.instance_count} x {job.instance_type}", "billed_ms": ms,
                        "cost_micros": None if rate is None else instance_cost_micros(rate, job.instance_count, ms)})
    return sorted(out, key=lambda j: (-(j["cost_micros"] or 0), j["job"]))
