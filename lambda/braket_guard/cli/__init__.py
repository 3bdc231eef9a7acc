"""``braket-guard``: status, report, explain, check-config, prices and unfreeze, for operators
and scripts.

Uses the same package as the Lambda (caps, pricing, ledger) against real AWS with the usual
credentials, or against the sandbox through AWS_ENDPOINT_URL_<SERVICE>. ``--json`` everywhere.

The boundary: every argv value is parsed once, strictly, in ``parse_argv`` (identifiers matched
whole, ASCII classes); every AWS client is built by ``clients.make_client`` with a CLI budget, and
``main`` runs under ``retry.deadline(clients.CLI_SECONDS)``, so an endpoint that never answers ends
the run in well under 30 s with one line naming it. Errors are one line on stderr, never a
traceback: exit 2 for an error, 1 for an incomplete answer, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable, Sequence, TextIO

import boto3
from botocore.exceptions import (BotoCoreError, ClientError, ConnectionClosedError, ConnectTimeoutError,
                                 EndpointConnectionError, NoCredentialsError, NoRegionError,
                                 PartialCredentialsError, ReadTimeoutError)

from braket_guard.aws.braket_api import BraketGateway
from braket_guard.core import states as S
from braket_guard.core.caps import Cap, CapError, parse_caps, used_fraction
from braket_guard.config import BRAKET_REGIONS, ConfigError, _regions
from braket_guard.ops.digest import percent_text
from braket_guard.core.events import STATUSES
from braket_guard.tasks.guard import summary_event
from braket_guard.jobs.ledger import JobLedger
from braket_guard.jobs.rules import billed_ms, job_from_api
from braket_guard.tasks.ledger import Ledger
from braket_guard.alerts.messages import short_device
from braket_guard.core.money import format_usd, micros_to_str
from braket_guard.aws import clients
from braket_guard.cli import pricelist
from braket_guard.aws import retry
from braket_guard.core.pricing import PriceError, build_price_book, instance_cost_micros, task_cost_micros
from braket_guard.core.windows import DAY, MONTH, load_zone, window_for

STATUS_ORDER = ["CREATED", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED"]
CHARGED = {"CREATED", "QUEUED", "RUNNING", "COMPLETED"}


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


# -- output ------------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


class Progress:
    """A one-line progress bar on stderr (only on a terminal, or when asked with --progress)."""

    def __init__(self, label: str, stream: TextIO, enabled: bool):
        self.label, self.stream, self.enabled, self.count = label, stream, enabled, 0
        self.drawn = False

    def advance(self, n: int) -> None:
        self.count += n
        if self.enabled:
            self.drawn = True
            filled = min(30, self.count // 100 + 1)
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self.count} tasks")
            self.stream.flush()

    def done(self) -> None:
        if self.drawn:  # nothing drawn (the first page failed): no empty line
            self.drawn = False
            self.stream.write("\n")
            self.stream.flush()


# -- argv: every identifier parsed once, whole, ASCII only ---------------------------------------
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]")
ACCOUNT_ID = re.compile(r"[0-9]{12}")
TASK_ARN = re.compile(r"arn:aws[a-z-]*:braket:[a-z]{2}(?:-[a-z]+)+-[0-9]:[0-9]{12}:"
                      r"quantum-task/[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
JOB_ARN_WHOLE = re.compile(r"arn:aws[a-z-]*:braket:[a-z]{2}(?:-[a-z]+)+-[0-9]:[0-9]{12}:"
                           r"job/[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
DEVICE_ARN_WHOLE = re.compile(r"arn:aws[a-z-]*:braket:(?:[a-z]{2}(?:-[a-z]+)+-[0-9])?::device/"
                              r"(?:qpu|quantum-simulator)/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
FUNCTION = re.compile(r"[A-Za-z0-9_-]{1,64}|arn:aws[a-z-]*:lambda:[a-z]{2}(?:-[a-z]+)+-[0-9]:[0-9]{12}:"
                      r"function:[A-Za-z0-9_-]{1,64}(?::[A-Za-z0-9_$-]{1,128})?")
CAP_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # caps.NAME
ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,31}(?:/[A-Za-z0-9][A-Za-z0-9_+-]{0,31}){0,2}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MONTH_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}")
MAX_FILE_BYTES = 16 * 1024 * 1024  # a caps or GetProducts file; the whole Price List is ~1 MB


def _whole(pattern: re.Pattern[str], value: str, flag: str, expected: str) -> str:
    if not pattern.fullmatch(value):
        raise CliError(f"{flag}: expected {expected}, got {value[:100]!r}")
    return value


def _zone_name(value: str, where: str) -> str:
    _whole(ZONE, value, where, "an IANA time zone such as UTC or Asia/Tokyo")
    try:
        load_zone(value)
    except ValueError:
        raise CliError(f"{where}: unknown IANA time zone {value!r}") from None
    return value


def parse_argv(args: argparse.Namespace) -> argparse.Namespace:
    """The CLI's boundary: check every identifier on argv whole; dedupe repeated regions."""
    region_text = "an AWS region name such as us-east-1"
    if getattr(args, "region", None) is not None and isinstance(args.region, list):
        args.region = list(dict.fromkeys(_whole(REGION, r, "--region", region_text) for r in args.region))
    elif getattr(args, "region", None) is not None:  # prices: the Price List endpoint's region
        _whole(REGION, args.region, "--region", region_text)
    if getattr(args, "price_region", None) is not None:
        _whole(REGION, args.price_region, "--price-region", region_text)
    if getattr(args, "table", None) is not None:
        _whole(TABLE_NAME, args.table, "--table", "a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)")
    if getattr(args, "function", None) is not None:
        _whole(FUNCTION, args.function, "--function", "a Lambda function name or ARN")
    if getattr(args, "timezone", None) is not None:
        _zone_name(args.timezone, "--timezone")
    if getattr(args, "device", None) is not None:
        _whole(DEVICE_ARN_WHOLE, args.device, "--device", "a Braket device ARN")
    for arn in getattr(args, "device_arn", None) or []:
        if not DEVICE_ARN_WHOLE.fullmatch(arn):
            raise CliError(f"--device-arn: not a Braket device ARN: {arn[:100]}")
    if args.command == "explain" and not (TASK_ARN.fullmatch(args.task_arn) or JOB_ARN_WHOLE.fullmatch(args.task_arn)):
        raise CliError(f"TASK_OR_JOB_ARN: expected a Braket quantum-task or job ARN, got {args.task_arn[:100]!r}")
    if args.command == "unfreeze":
        _whole(CAP_NAME, args.cap, "CAP", "a cap name (1-64 of A-Z a-z 0-9 _ -)")
        if args.group is not None and not (ACCOUNT_ID.fullmatch(args.group) or REGION.fullmatch(args.group)
                                           or DEVICE_ARN_WHOLE.fullmatch(args.group)):
            raise CliError(f"GROUP: expected an account id, a region or a device ARN, got {args.group[:100]!r}")
    if args.command == "report":
        args.day = args.window_month = None
        if args.date is not None:
            _whole(DATE, args.date, "--date", "YYYY-MM-DD")
            args.day = _parse(lambda: date.fromisoformat(args.date), f"--date: expected YYYY-MM-DD, got {args.date!r}")
        else:
            _whole(MONTH_TEXT, args.month, "--month", "YYYY-MM")
            args.window_month = _parse(lambda: datetime.strptime(args.month, "%Y-%m").date(),
                                       f"--month: expected YYYY-MM, got {args.month!r}")
    return args


# -- settings ------------------------------------------------------------------------------------
@dataclass
class Settings:
    table: str | None
    caps_json: str | None
    timezone: str
    regions: list[str]
    prices_json: str | None = None
    native_limits: str = "off"  # BRAKET_GUARD_NATIVE_LIMITS of the deployment

    @property
    def zone(self):
        return load_zone(_zone_name(self.timezone, "--timezone / BRAKET_GUARD_TIMEZONE"))

    def prices(self):
        try:
            return build_price_book(self.prices_json)
        except PriceError as exc:
            raise CliError(str(exc)) from None


_SESSION: list[boto3.session.Session] = []
# The last AWS call this run started (service, endpoint): what a deadline message names.
_LAST_CALL: dict[str, str] = {}


def session() -> boto3.session.Session:
    """One fresh session per CLI run (credentials are resolved anew each time). Its region is
    AWS_REGION, then boto3's own (AWS_DEFAULT_REGION, the profile), as the AWS CLI does."""
    if not _SESSION:
        made = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
        if made.region_name and not REGION.fullmatch(made.region_name):
            source = "AWS_REGION" if os.environ.get("AWS_REGION") else "AWS_DEFAULT_REGION or the profile's region"
            raise CliError(f"{source}: expected an AWS region name such as us-east-1, got {made.region_name[:100]!r}")
        _SESSION.append(made)
    return _SESSION[0]


def home_region() -> str:
    """The region of the ledger table and the Lambda (not a Braket region: --region picks those)."""
    region = session().region_name
    if not region:
        raise CliError("No AWS region for the ledger table and the Lambda: set AWS_REGION or AWS_DEFAULT_REGION "
                       "(--region picks the Braket regions to search, not this one)")
    return region


def client(service: str, budget: clients.ClientBudget, region: str | None = None) -> Any:
    """A client with the CLI's time budget; each call records its endpoint and refuses to start
    when the budget cannot hold it (paginators and single calls have no Backoff).

    The budget (clients.CLI_SECONDS) bounds the wait on an endpoint that does not answer, so
    every answer starts it again: a report paging through 60,000 tasks takes as long as it takes,
    and a run gives up within 25 s of the last answer."""
    made = clients.make_client(session(), service, budget, region=region)
    endpoint = made.meta.endpoint_url

    def before_call(**_kwargs: Any) -> None:
        _LAST_CALL.update(service=service, endpoint=endpoint)
        left = retry.remaining_seconds()
        if left is not None and left < budget.worst_call_seconds:
            raise retry.DeadlineExceeded(f"no time left for another call ({left:.1f} s left)")

    def after_call(**_kwargs: Any) -> None:  # an answer (an AWS error too): the endpoint is alive
        retry.renew(clients.CLI_SECONDS)

    made.meta.events.register("before-call", before_call)  # this client's own emitter
    made.meta.events.register("after-call", after_call)
    return made


def _function_environment(name: str) -> dict[str, str]:
    lam = client("lambda", clients.CLI, region=name.split(":")[3] if name.startswith("arn:") else home_region())
    try:
        response = lam.get_function_configuration(FunctionName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise CliError(f"Lambda function not found: {name} in {lam.meta.region_name}. Check --function "
                           "and AWS_REGION.") from None
        raise
    variables = response.get("Environment", {}).get("Variables", {})
    return {k: v for k, v in variables.items() if isinstance(k, str) and isinstance(v, str)}


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Flags win, then BRAKET_GUARD_* variables, then the deployed function's environment."""
    session()  # the home region (AWS_REGION, AWS_DEFAULT_REGION, the profile) is checked first
    deployed: dict[str, str] = _function_environment(args.function) if args.function else {}

    def pick(flag: str | None, name: str) -> str | None:
        return flag or os.environ.get(name) or deployed.get(name)

    caps_json = None
    if args.caps:
        caps_json = _read(args.caps)
    else:
        caps_json = os.environ.get("BRAKET_GUARD_CAPS") or deployed.get("BRAKET_GUARD_CAPS")
    regions = list(args.region or [])
    if not regions:
        text = pick(None, "BRAKET_GUARD_REGIONS")
        if text:
            regions = list(_regions(text, None))  # ConfigError: one line, exit 2
    if not regions:
        session_region = session().region_name
        if not session_region:
            raise CliError("No Braket region: pass --region, set BRAKET_GUARD_REGIONS, or set AWS_REGION "
                           "(or AWS_DEFAULT_REGION) to the region the guard runs in")
        if session_region not in BRAKET_REGIONS:
            raise CliError(f"No guarded region: {session_region} has no Braket; pass --region (one of "
                           f"{', '.join(BRAKET_REGIONS)}), set BRAKET_GUARD_REGIONS or name the Lambda with --function")
        regions = [session_region]
    table_name = pick(args.table, "BRAKET_GUARD_TABLE")
    if table_name is not None and not TABLE_NAME.fullmatch(table_name):
        raise CliError(f"BRAKET_GUARD_TABLE: expected a DynamoDB table name, got {table_name[:100]!r}")
    zone_name = _zone_name(pick(args.timezone, "BRAKET_GUARD_TIMEZONE") or "UTC", "--timezone / BRAKET_GUARD_TIMEZONE")
    return Settings(table_name, caps_json, zone_name, list(dict.fromkeys(regions)),
                    pick(None, "BRAKET_GUARD_PRICES"), pick(None, "BRAKET_GUARD_NATIVE_LIMITS") or "off")


def _read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CliError(f"File not found: {path}") from None
    except OSError as exc:
        raise CliError(f"Cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_FILE_BYTES:
        raise CliError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _ledger(settings: Settings) -> Ledger:
    if not settings.table:
        raise CliError("No ledger table: pass --table, set BRAKET_GUARD_TABLE, or name the Lambda with --function")
    return Ledger(client("dynamodb", clients.CLI, region=home_region()), settings.table)


def _caps(settings: Settings) -> tuple[Cap, ...]:
    if not settings.caps_json:
        raise CliError("No caps: pass --caps FILE, set BRAKET_GUARD_CAPS, or name the Lambda with --function")
    return parse_caps(settings.caps_json)


def _gateway() -> BraketGateway:
    made: dict[str, Any] = {}

    def client_for(region: str) -> Any:
        if region not in made:
            made[region] = client("braket", clients.CLI_BRAKET, region=region)
        return made[region]

    return BraketGateway(client_for)


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
    from braket_guard.ops.digest import unguarded_regions
    unguarded = unguarded_regions(ledger, now.astimezone(zone).date())
    data["unguarded_regions_today"] = unguarded
    if unguarded:
        text += (f"\n\nEvents today from regions outside the guarded ones: {', '.join(unguarded)} "
                 "(charged and enforced, not reconciled: add them to BRAKET_GUARD_REGIONS)")
    if settings.native_limits != "off":
        from braket_guard.native.status import native_status
        native_data, native_text = native_status(_limiter(settings), now)
        data["native_limits"] = native_data
        text += "\n\n" + native_text
    return 0, (data, text)

def _job_rows(jobs: JobLedger, since: datetime) -> list[dict[str, Any]]:
    """Hybrid jobs the guard charged, created since ``since``, newest first."""
    from braket_guard.core.windows import format_timestamp
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


# A region that cannot be searched leaves the others' results standing (exit 1).
REGION_ERRORS = (ClientError, BotoCoreError, retry.DeadlineExceeded)
UNANSWERED = (ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError, ConnectionClosedError,
              retry.DeadlineExceeded)


def _raise_if_account_wide(exc: BaseException) -> None:
    """No credentials: every region would fail the same way; one line says so (exit 2). (Refused
    credentials fail every region too, and the report is then an error naming each.)"""
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        raise exc


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
        from braket_guard.native.status import door_lines
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


def _price_list_items(region: str) -> list[str]:
    """Every AmazonBraket product from pricing:GetProducts (the operator's credentials)."""
    pricing = client("pricing", clients.CLI, region=region)
    items: list[str] = []
    pages = pricing.get_paginator("get_products").paginate(
        ServiceCode=pricelist.SERVICE_CODE, FormatVersion="aws_v1", PaginationConfig={"PageSize": 100})
    for page in pages:
        items.extend(page.get("PriceList", []))
    return items


def cmd_prices(args: argparse.Namespace, out: TextIO) -> tuple[int, Any]:
    if args.from_file:
        try:
            items, origin = pricelist.load_items(_read(args.from_file)), args.from_file
        except pricelist.PriceListError as exc:
            raise CliError(f"{args.from_file}: {exc}") from None
    else:
        items, origin = _price_list_items(args.region), f"pricing:GetProducts in {args.region}"
    table_data = pricelist.builtin_table()
    try:
        reading = pricelist.read_price_list(items, list(table_data["devices"]) + list(args.device_arn or []),
                                            args.price_region)
    except pricelist.PriceListError as exc:
        raise CliError(f"{origin}: {exc}") from None
    result = pricelist.compare(reading, table_data)
    shown = [c for c in result.changes if c.status in ("changed", "added")]
    missing = [c.key for c in result.changes if c.status == "missing"]
    same = len({c.key for c in result.changes if c.status == "same"} - {c.key for c in shown})
    lines = [f"{origin}: {len(items)} product(s), {len(reading.rates)} priced by the guard's rules",
             ""]
    if shown:
        lines.append(table(["", "DEVICE / INSTANCE TYPE", "FIELD", "BUILT-IN", "PRICE LIST"],
                           [[c.status, c.key, c.field, c.old or "-", c.new] for c in shown]))
    else:
        lines.append("No price differs from the built-in table.")
    lines.append(f"Unchanged: {same} entr{'y' if same == 1 else 'ies'}.")
    if missing:
        lines.append(f"In the built-in table but not in the Price List ({len(missing)}): {', '.join(missing)}")
    if any(c.status == "added" for c in shown):
        lines.append("Added entries can be retired devices the Price List still lists: check GetDevice.")
    for title, rows in (("Notes", result.notes), ("Not tied to a device ARN or instance type "
                                                  "(a new QPU: pass --device-arn ARN)", reading.unmapped),
                        ("Unusable (price or unit not understood)", reading.unusable)):
        if rows:
            lines += ["", f"{title}:"] + [f"  - {row}" for row in rows]
    skipped = {**reading.not_priced, **reading.unknown_families}
    if skipped:
        lines += ["", "Not priced by the guard: " + ", ".join(
            f"{name} ({count})" + (" [unknown family]" if name in reading.unknown_families else "")
            for name, count in sorted(skipped.items()))]
    lines += ["", "Overrides for the guard (Terraform `prices`, or BRAKET_GUARD_PRICES):",
              json.dumps(result.overrides, indent=2) if result.overrides else "{} (nothing to override)"]
    code = 1 if reading.unmapped or reading.unusable else 0
    return code, (result.overrides, "\n".join(lines))


def _limiter(settings: Settings):
    """The deployment's NativeLimiter, built from the same settings the Lambda reads."""
    from braket_guard.config import load_config
    from braket_guard.native.guard import NativeLimiter
    from braket_guard.native.spending_limits import SpendingLimits
    env = {"BRAKET_GUARD_TABLE": settings.table or "", "BRAKET_GUARD_CAPS": settings.caps_json or "",
           "BRAKET_GUARD_TIMEZONE": settings.timezone, "BRAKET_GUARD_REGIONS": json.dumps(settings.regions),
           "BRAKET_GUARD_NATIVE_LIMITS": settings.native_limits}
    if settings.prices_json:
        env["BRAKET_GUARD_PRICES"] = settings.prices_json
    _ledger(settings)  # the same "no table" message as the other commands
    _caps(settings)
    config = load_config(env)
    return NativeLimiter(config, _ledger(settings), SpendingLimits(_gateway().client_for_region))


def cmd_unfreeze(args: argparse.Namespace, out: TextIO) -> tuple[int, Any]:
    settings = resolve_settings(args)
    if settings.native_limits == "off":
        raise CliError("Native limits are off for this deployment (BRAKET_GUARD_NATIVE_LIMITS): nothing is frozen")
    limiter = _limiter(settings)
    if args.cap not in {c.name for c in limiter.config.caps}:
        raise CliError(f"No cap named {args.cap!r}")
    lifted = limiter.unfreeze(args.cap, args.group)
    devices = sorted(set().union(*(f.devices for f in lifted))) if lifted else []
    if not lifted:
        text = f"No active freeze of {args.cap}" + (f" for {args.group}" if args.group else "") + ": nothing to lift."
    else:
        text = (f"Lifted {len(lifted)} freeze(s) of {args.cap}: Braket accepts tasks again on "
                f"{', '.join(short_device(d) for d in devices)}. The guard keeps cancelling tasks over the cap, "
                "and does not freeze this cap's group again before its window ends.")
    return 0, ({"cap": args.cap, "group": args.group, "lifted": [f.key for f in lifted], "devices": devices}, text)


def _aws_error_text(exc: Exception) -> str:
    if isinstance(exc, UNANSWERED):
        return _unanswered(exc)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '')}: {error.get('Message', '')}"[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


def _parse(fn: Callable[[], Any], message: str) -> Any:
    try:
        return fn()
    except ValueError:
        raise CliError(message) from None


# -- entry point ---------------------------------------------------------------------------------
DESCRIPTION = """\
Operate a braket-guard deployment: see what its caps used, what Braket tasks and hybrid jobs
cost, why the guard admitted or cancelled a task, check a caps file, refresh prices from the AWS
Price List, and lift a native-limit freeze.

Settings come from flags, then BRAKET_GUARD_* variables (TABLE, CAPS, TIMEZONE, REGIONS, PRICES,
NATIVE_LIMITS), then the deployed Lambda named with --function. AWS credentials and the home
region (AWS_REGION or AWS_DEFAULT_REGION) are the usual ones; AWS_ENDPOINT_URL_<SERVICE> points a
service elsewhere (the sandbox)."""
EPILOG = """\
exit status: 0 done; 1 the answer is incomplete (a region could not be searched, a product
could not be priced, the task or job is unknown); 2 an error, printed as one line on stderr
(a JSON object with --json); 130 interrupted. Every AWS call has connect and read timeouts, and
a run gives up %d s after the last answer from AWS, with one line naming the endpoint that did
not answer.""" % clients.CLI_SECONDS


class _ParseExit(Exception):
    def __init__(self, code: int, message: str = ""):
        super().__init__(message)
        self.code, self.message = code, message


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block) and nothing calls sys.exit."""

    def error(self, message: str):  # type: ignore[override]
        raise _ParseExit(2, f"{message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None):  # type: ignore[override]
        if message:
            sys.stderr.write(message)
        raise _ParseExit(status)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description as written; every command's help on its own line (argparse measures the
    commands' names one indent short, which pushed ``check-config``'s help onto the next line)."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        for choice in getattr(action, "_choices_actions", []):
            self._action_max_length = max(self._action_max_length,
                                          len(choice.metavar or choice.dest) + self._current_indent + 4)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="braket-guard", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=_HelpFormatter)
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--table", help="ledger table (default: BRAKET_GUARD_TABLE)")
    common.add_argument("--caps", help="caps JSON file (default: BRAKET_GUARD_CAPS)")
    common.add_argument("--timezone", help="IANA zone (default: BRAKET_GUARD_TIMEZONE or UTC)")
    common.add_argument("--function", help="read table, caps and zone from this deployed Lambda")
    common.add_argument("--region", action="append",
                        help="Braket region to search (repeatable; default: BRAKET_GUARD_REGIONS or AWS_REGION)")
    common.add_argument("--progress", action="store_true", help="show progress even when not on a terminal")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub.add_parser("status", parents=[common], help="every cap's usage, limit and percentage per group")
    report = sub.add_parser("report", parents=[common], help="per device: tasks and shots by status, cost")
    when = report.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", help="YYYY-MM-DD")
    when.add_argument("--month", help="YYYY-MM")
    report.add_argument("--device", help="only this device ARN")
    explain = sub.add_parser("explain", parents=[common],
                             help="why the guard admitted, rejected or refunded a task, or what it did with a hybrid job")
    explain.add_argument("task_arn", metavar="TASK_OR_JOB_ARN")
    check = sub.add_parser("check-config", parents=[common], help="validate a caps file offline")
    check.add_argument("file")
    prices = sub.add_parser("prices", help="price overrides from the AWS Price List, and what differs "
                                           "from the built-in table")
    prices.add_argument("--json", action="store_true", help="print only the overrides JSON object")
    prices.add_argument("--region", default="us-east-1",
                        help="Price List endpoint region (default us-east-1; it lists every region)")
    prices.add_argument("--from-file", metavar="PATH", help="a saved GetProducts response instead of AWS")
    prices.add_argument("--price-region", metavar="REGION",
                        help="price simulators and job instance types from this region's products only "
                             "(default: the dearest region)")
    prices.add_argument("--device-arn", action="append", metavar="ARN",
                        help="a device ARN the built-in table lacks, to tie its Price List name to (repeatable)")
    unfreeze = sub.add_parser("unfreeze", parents=[common],
                              help="lift a cap's native freeze early (the guard keeps cancelling)")
    unfreeze.add_argument("cap")
    unfreeze.add_argument("group", nargs="?", help="only this group (account id, region or device ARN)")
    return parser


COMMANDS = {"status": cmd_status, "report": cmd_report, "explain": cmd_explain, "check-config": cmd_check_config,
            "prices": cmd_prices, "unfreeze": cmd_unfreeze}


def _unanswered(exc: BaseException) -> str:
    """One line for an endpoint that did not answer in time (or could not be reached)."""
    endpoint = clients.endpoint_of(exc) or _LAST_CALL.get("endpoint", "") or "the AWS endpoint"
    service = _LAST_CALL.get("service", "")  # one thread: the last call started is the one that hung
    named = f"{service} at {endpoint}" if service else endpoint
    if isinstance(exc, retry.DeadlineExceeded):
        return (f"Out of time: the CLI waits at most {clients.CLI_SECONDS} s for an answer from AWS and another "
                f"call could not end inside it (the last one went to {named})")
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        kind = "read" if isinstance(exc, ReadTimeoutError) else "connect"
        return f"No answer from {named} ({kind} timeout): check the network, the region or AWS_ENDPOINT_URL"
    return f"Cannot reach {named}: check the network or AWS_ENDPOINT_URL"


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    for stream in {id(s): s for s in (out, err, sys.stdout, sys.stderr)}.values():
        # a terminal or pipe that cannot encode an echoed argument (LANG=C, latin-1) gets an
        # escape, not a UnicodeEncodeError
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        return _main(argv, out, err)
    except KeyboardInterrupt:
        err.write("braket-guard: interrupted\n")
        return 130
    except BrokenPipeError:  # `braket-guard report ... | head`: the reader left; say nothing more
        if out is sys.stdout:  # Python flushes stdout at exit: point it at /dev/null (Python's docs)
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
        return 1


def _main(argv: Sequence[str] | None, out: TextIO, err: TextIO) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise _ParseExit(2, f"a command is required: one of {', '.join(COMMANDS)} (see braket-guard --help)")
    except _ParseExit as exc:
        if exc.message:  # --json asked for (it may be the very flag argparse refused): JSON
            wants_json = "--json" in (sys.argv[1:] if argv is None else list(argv))
            _fail(err, argparse.Namespace(json=wants_json), exc.message, exc.code)
        return exc.code
    _SESSION.clear()
    _LAST_CALL.clear()
    args.warning = None
    try:
        with retry.deadline(clients.CLI_SECONDS, clients.CLI.worst_call_seconds):
            code, (data, text) = COMMANDS[args.command](parse_argv(args), out)
    except (CliError, CapError, ConfigError, PriceError) as exc:
        return _fail(err, args, str(exc), 2)
    except (NoCredentialsError, PartialCredentialsError):
        return _fail(err, args, "No AWS credentials found: run `aws configure`, set AWS_PROFILE, or export "
                                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.", 2)
    except NoRegionError:
        return _fail(err, args, "No AWS region: set AWS_REGION or AWS_DEFAULT_REGION.", 2)
    except UNANSWERED as exc:
        return _fail(err, args, _unanswered(exc), 2)
    except ClientError as exc:
        code_name = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code_name == "ResourceNotFoundException" and _LAST_CALL.get("service") == "dynamodb":
            return _fail(err, args, f"Ledger table not found: {message or code_name}. Check --table or "
                                    "BRAKET_GUARD_TABLE and AWS_REGION.", 2)
        return _fail(err, args, f"AWS said {code_name}: {message}", 2)
    except BotoCoreError as exc:
        return _fail(err, args, f"AWS client error: {exc}", 2)
    except ValueError as exc:  # bad input anywhere else: one line, never a traceback
        return _fail(err, args, str(exc), 2)
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, and it says so
        return _fail(err, args, f"internal error: {type(exc).__name__}: {exc} (please report)", 1)
    if args.json:
        out.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        out.write(text + "\n")
    if args.warning:
        err.write(f"braket-guard: warning: {_one_line(args.warning)}\n")
    return code


def _one_line(message: str) -> str:
    """The message on one line: a newline, tab or other unprintable character (an echoed
    argument may hold any) is shown escaped, as repr shows it."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message.strip())[:1000]


def _fail(err: TextIO, args: argparse.Namespace, message: str, code: int) -> int:
    message = _one_line(message)
    if getattr(args, "json", False):
        err.write(json.dumps({"error": message}) + "\n")
    else:
        err.write(f"braket-guard: error: {message}\n")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
