"""Window arithmetic: which day, month or all-time bucket a task's ``createdAt`` falls in.

Windows are calendar days and months in the configured IANA zone (DST-aware via zoneinfo), so a
research group in Tokyo gets Tokyo days. The clock of the event or the Lambda never matters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from braket_guard.core.strict import brief

DAY = "day"
MONTH = "month"
TOTAL = "total"
WINDOWS = (DAY, MONTH, TOTAL)

# Counters stay readable (status, digest) this long after their window closes.
_RETENTION_AFTER_END = {DAY: timedelta(days=40), MONTH: timedelta(days=400)}


class TimestampError(ValueError):
    """A timestamp that is not ISO-8601 with an explicit offset."""


# The same language as Terraform's validation of var.timezone (variables.tf).
ZONE_NAME = re.compile(r"(UTC|GMT|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2})\Z")


def load_zone(name: str) -> ZoneInfo:
    """An IANA zone by name (``Asia/Tokyo``); anything else, paths included, is a ValueError."""
    if not isinstance(name, str) or len(name) > 64 or not ZONE_NAME.match(name):
        raise ValueError(f"unknown IANA time zone {brief(name)}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown IANA time zone {brief(name)}") from exc


def parse_timestamp(text: object) -> datetime:
    """ISO-8601 with an offset or ``Z`` (Braket sends ``2026-11-28T01:17:42.898Z``), as UTC."""
    if not isinstance(text, str) or not text:
        raise TimestampError(f"timestamp must be a non-empty string, got {brief(text)}")
    if len(text) > 64:
        raise TimestampError(f"not an ISO-8601 timestamp: {brief(text)}")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TimestampError(f"not an ISO-8601 timestamp: {text!r}"[:200]) from None
    if parsed.tzinfo is None:
        raise TimestampError(f"timestamp has no time zone: {text!r}"[:200])
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise TimestampError(f"timestamp out of range: {text!r}"[:200]) from None


def format_timestamp(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and ``Z``, the form Braket uses."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Window:
    """One bucket: its key (``2026-11-28``, ``2026-11`` or ``total``) and UTC bounds."""

    kind: str
    key: str
    start: datetime | None  # inclusive, UTC; None for total
    end: datetime | None  # exclusive, UTC; None for total

    def expires_at(self) -> int | None:
        """Epoch seconds after which the counter may be dropped (DynamoDB TTL); None keeps it."""
        if self.end is None:
            return None
        return int((self.end + _RETENTION_AFTER_END[self.kind]).timestamp())


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(timezone.utc)


def window_for(kind: str, created_at: datetime, zone: ZoneInfo) -> Window:
    """The window of ``kind`` holding ``created_at`` (aware) in ``zone``."""
    if kind == TOTAL:
        return Window(TOTAL, TOTAL, None, None)
    local = created_at.astimezone(zone).date()
    if kind == DAY:
        return Window(DAY, local.isoformat(), _local_midnight(local, zone),
                      _local_midnight(local + timedelta(days=1), zone))
    if kind == MONTH:
        first = local.replace(day=1)
        following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        return Window(MONTH, f"{first.year:04d}-{first.month:02d}", _local_midnight(first, zone),
                      _local_midnight(following, zone))
    raise ValueError(f"unknown window {kind!r}; expected one of {', '.join(WINDOWS)}")
