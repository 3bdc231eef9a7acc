"""What every API family of the emulated Braket shares: its errors and their HTTP statuses, timestamps as Braket writes them, keyset page tokens, the token bucket of a quota, account and region defaults."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

log = logging.getLogger("braket_sandbox.emulator")


DEFAULT_ACCOUNT = "123456789012"


DEFAULT_REGION = "us-east-1"


OUTPUT_BUCKET = "amazon-braket-sandbox"


TASK_STATUSES = ("CREATED", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED")


TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


DEVICE_STATUSES = ("ONLINE", "OFFLINE", "RETIRED")


# HTTP status of each error shape in the botocore model.
ERROR_STATUS = {
    "ValidationException": 400,
    "ServiceQuotaExceededException": 402,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "UnknownOperationException": 404,
    "ConflictException": 409,
    "DeviceRetiredException": 410,
    "DeviceOfflineException": 424,
    "ThrottlingException": 429,
    "InternalServiceException": 500,
}


_TASK_ARN_RE = re.compile(r"^arn:aws:braket:([a-z0-9-]+):(\d{12}):quantum-task/([A-Za-z0-9-]+)$")


_BRAKET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:braket:[a-z0-9-]*:[0-9]{12}:.*$")  # BraketResourceArn


_JOB_ARN_RE = re.compile(r"^arn:aws[a-z-]*:braket:[a-z0-9-]+:\d{12}:job/.+$")


_CRED_SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/[^/,\s]+/aws4_request")


_EPOCH_RE = re.compile(r"^\d+(\.\d+)?$")


class BraketApiError(Exception):
    """An error as Braket would return it: ``code`` (x-amzn-ErrorType), HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int | None = None, extra: dict | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else ERROR_STATUS.get(code, 400)
        self.extra = dict(extra or {})  # more members of the error shape (ValidationException.reason ...)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _to_ms(value: dt.datetime) -> dt.datetime:
    """Aware UTC datetime truncated to milliseconds (naive input is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    value = value.astimezone(dt.timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def iso_ms(value: dt.datetime) -> str:
    """``2026-11-28T01:17:42.898Z``"""
    value = _to_ms(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def iso_s(value: dt.datetime) -> str:
    """``2026-11-28T01:17:45Z``"""
    return _to_ms(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> dt.datetime:
    """ISO-8601 string, epoch seconds/milliseconds or datetime -> aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return _to_ms(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and _EPOCH_RE.match(value.strip()):
        number = float(value.strip())
    else:
        text = str(value).strip()
        try:
            parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise BraketApiError("ValidationException", f"Invalid timestamp value: {value!r}")
        return _to_ms(parsed)
    if number > 1e11:  # milliseconds
        number /= 1000.0
    return _to_ms(dt.datetime.fromtimestamp(number, dt.timezone.utc))


class _TokenBucket:
    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class _Fault:
    rate: float
    rng: random.Random
    code: str


def _encode_token(payload: Any) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> Any:
    try:
        padded = token + "=" * (-len(token) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise BraketApiError("ValidationException", "Invalid nextToken")


def page_size(body: dict, default: int) -> int:
    """``maxResults`` of a Search* call: an integer in [1, 100] (the service model's range)."""
    size = body.get("maxResults", default)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100:
        raise BraketApiError("ValidationException", "maxResults must be an integer in [1, 100]")
    return size


Cursor = tuple[int, str]


def keyset_page(rows: Iterable[Any], key: Callable[[Any], Cursor], body: dict, size: int, *,
                newest_first: bool) -> tuple[list[Any], str | None]:
    """One page of a Search* answer and its ``nextToken``: a keyset cursor (the last row's key),
    so rows created while a caller pages never repeat and never shift a page. Every Search* of the
    emulator pages this way (tasks, jobs, spending limits, devices)."""
    after: Cursor | None = None
    if body.get("nextToken"):
        cursor = _decode_token(body["nextToken"])
        if not (isinstance(cursor, list) and len(cursor) == 2 and isinstance(cursor[0], int)
                and isinstance(cursor[1], str)):
            raise BraketApiError("ValidationException", "Invalid nextToken")
        after = (cursor[0], cursor[1])
    ordered = sorted(rows, key=key, reverse=newest_first)
    if after is not None:
        ordered = [r for r in ordered if (key(r) < after if newest_first else key(r) > after)]
    page = ordered[:size]
    return page, (_encode_token(list(key(page[-1]))) if len(ordered) > size else None)


def _schemas_needed(function: Callable, *args: Any) -> Any:
    """Call ``function``; if amazon-braket-schemas is missing, say so as an API error."""
    try:
        return function(*args)
    except ImportError as exc:
        raise BraketApiError(
            "InternalServiceException",
            f"The sandbox needs amazon-braket-schemas for this call ({exc}); it is pinned in "
            "requirements-dev.txt: run `make venv`",
        ) from None
