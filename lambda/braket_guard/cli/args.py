"""The CLI's boundary: every argv value parsed once, strictly (identifiers matched whole, ASCII classes)."""

from __future__ import annotations

import argparse
import re
from datetime import date, datetime

from braket_guard.cli.format import CliError, _parse
from braket_guard.core.windows import load_zone

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
