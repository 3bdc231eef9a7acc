"""The Braket adapter: tags, device prices, cancellation and backlog search, each in the
task's own region, with retries for throttling (CancelQuantumTask allows only 2 calls/s).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from botocore.exceptions import ClientError

from braket_guard.aws.logs import log_event
from braket_guard.aws.retry import Backoff, error_code, is_transient
from braket_guard.core.pricing import Price, PriceBook, PriceError, price_from_device_cost
from braket_guard.core.windows import format_timestamp

PRICE_CACHE_SECONDS = 3600
SEARCH_INTERVAL_SECONDS = 0.2  # SearchQuantumTasks: 5 requests/s per account and region
# CancelQuantumTask allows 2 calls/s per account and region: back off up to 4 s, 8 attempts
# (about 15 s in the worst case), then leave the rest to Lambda's redelivery.
CANCEL_BACKOFF = {"attempts": 8, "base": 0.25, "cap": 4.0}
READ_BACKOFF = {"attempts": 5, "base": 0.1, "cap": 1.0}

_price_cache: dict[str, tuple[float, Price]] = {}
_price_lock = threading.Lock()


def clear_price_cache() -> None:
    with _price_lock:
        _price_cache.clear()


# Answers of GetDevice that say "this device has no price for us", for good: not found, and
# access denied (an IAM or SCP gap does not heal by retrying, and raising forever would let the
# task run uncounted). Anything else (throttling, 5xx, timeouts) raises: never a decision.
PERMANENT_DEVICE_ERRORS = frozenset({"ResourceNotFoundException", "ValidationException",
                                     "AccessDeniedException"})


@dataclass(frozen=True)
class CancelResult:
    ok: bool
    status: str = ""  # CANCELLING / CANCELLED when ok
    error: str = ""
    retryable: bool = False
    code: str = ""  # the error code when not ok

    @property
    def outcome(self) -> str:
        """The CANCEL step's outcome (states.STEPS[CANCEL])."""
        if self.ok:
            return "cancelled" if self.status == "CANCELLED" else "cancelling"
        if self.retryable:
            return "throttled"
        if self.code == "ConflictException":  # COMPLETED or FAILED already: its end decides
            return "ended"
        return "refused"


def cancel_token(task_arn: str) -> str:
    """The same clientToken for every attempt at one task, so retries are idempotent."""
    return "braket-guard-" + hashlib.sha256(task_arn.encode()).hexdigest()[:40]


class BraketGateway:
    def __init__(self, client_for_region: Callable[[str], Any], backoff: Backoff | None = None,
                 cancel_backoff: Backoff | None = None):
        self.client_for_region = client_for_region
        self.backoff = backoff or Backoff(**READ_BACKOFF)
        self.cancel_backoff = cancel_backoff or Backoff(**CANCEL_BACKOFF)
        self._pace_lock = threading.Lock()
        self._next_search: dict[str, float] = {}

    def get_task(self, task_arn: str, region: str) -> dict[str, Any]:
        """GetQuantumTask: the task as Braket sees it now (status, shots, tags, associations, times)."""
        client = self.client_for_region(region)
        return self.backoff.call(lambda: client.get_quantum_task(quantumTaskArn=task_arn))

    def get_job(self, job_arn: str, region: str) -> dict[str, Any]:
        """GetJob: instance configuration, times, billableDuration, tags, associations."""
        client = self.client_for_region(region)
        return self.backoff.call(lambda: client.get_job(jobArn=job_arn))

    def cancel_job(self, job_arn: str, region: str) -> CancelResult:
        """CancelJob (idempotent by the model); outcomes as for tasks."""
        client = self.client_for_region(region)
        try:
            response = self.backoff.call(lambda: client.cancel_job(jobArn=job_arn))
        except ClientError as exc:
            return CancelResult(False, error=f"{error_code(exc)}: {exc}"[:500], retryable=is_transient(exc),
                                code=error_code(exc))
        return CancelResult(True, status=str(response.get("cancellationStatus", "")))

    def search_jobs(self, region: str, since: datetime) -> list[dict[str, Any]]:
        """Job summaries created since ``since`` (SearchJobs filters by createdAt or jobArn only)."""
        client = self.client_for_region(region)
        jobs: list[dict[str, Any]] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {"filters": [{"name": "createdAt", "operator": "GTE",
                                                   "values": [format_timestamp(since)]}], "maxResults": 100}
            if token:
                kwargs["nextToken"] = token
            self._pace(region)
            response = self.backoff.call(lambda: client.search_jobs(**kwargs))
            jobs.extend(response.get("jobs", []))
            token = response.get("nextToken")
            if not token:
                return jobs

    def device_price(self, device_arn: str, region: str, book: PriceBook) -> Price | None:
        """Price an unknown device from GetDevice (cached per container).

        None only for a permanent answer (the device does not exist here, or its capabilities
        carry no usable price); a transient error (throttling, 5xx, timeout) or a refusal of
        access raises, so that the event is redelivered instead of the task being judged unpriced.
        """
        now = time.monotonic()
        with _price_lock:
            cached = _price_cache.get(device_arn)
            if cached and cached[0] > now:
                return cached[1]
        client = self.client_for_region(region)
        try:
            response = self.backoff.call(lambda: client.get_device(deviceArn=device_arn))
            price = price_from_device_cost(book, device_arn, response.get("deviceCapabilities", ""))
        except PriceError as exc:
            log_event("warning", "device_price_unavailable", device=device_arn, error=str(exc)[:300],
                      permanent=True)
            return None
        except ClientError as exc:
            if error_code(exc) not in PERMANENT_DEVICE_ERRORS:
                log_event("warning", "device_price_transient", device=device_arn, error=str(exc)[:300],
                          permanent=False)
                raise
            log_event("warning", "device_price_unavailable", device=device_arn, error=str(exc)[:300],
                      permanent=True)
            return None
        with _price_lock:
            _price_cache[device_arn] = (now + PRICE_CACHE_SECONDS, price)
        return price

    def cancel(self, task_arn: str, region: str) -> CancelResult:
        client = self.client_for_region(region)
        try:
            response = self.cancel_backoff.call(lambda: client.cancel_quantum_task(
                quantumTaskArn=task_arn, clientToken=cancel_token(task_arn)))
        except ClientError as exc:
            return CancelResult(False, error=f"{error_code(exc)}: {exc}"[:500], retryable=is_transient(exc),
                                code=error_code(exc))
        except Exception as exc:  # noqa: BLE001 - connection errors and the like
            return CancelResult(False, error=f"{type(exc).__name__}: {exc}"[:500],
                                retryable=is_transient(exc) or not isinstance(exc, ValueError),
                                code=type(exc).__name__)
        return CancelResult(True, status=str(response.get("cancellationStatus", "")))

    def search(self, region: str, start: datetime | None, end: datetime | None,
               statuses: list[str] | None = None, device_arn: str | None = None,
               on_page: Callable[[list[dict[str, Any]]], None] | None = None) -> list[dict[str, Any]]:
        """Task summaries created in [start, end) (SearchQuantumTasks, 100 a page, paced to the
        5 requests/s quota). ``on_page`` sees each page as it arrives (progress, batching)."""
        client = self.client_for_region(region)
        filters: list[dict[str, Any]] = []
        if statuses:
            filters.append({"name": "status", "operator": "EQUAL", "values": list(statuses)})
        if start is not None and end is not None:
            filters.append({"name": "createdAt", "operator": "BETWEEN",
                            "values": [format_timestamp(start), format_timestamp(end)]})
        elif start is not None:
            filters.append({"name": "createdAt", "operator": "GTE", "values": [format_timestamp(start)]})
        if device_arn:
            filters.append({"name": "deviceArn", "operator": "EQUAL", "values": [device_arn]})
        tasks: list[dict[str, Any]] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {"filters": filters, "maxResults": 100}
            if token:
                kwargs["nextToken"] = token
            self._pace(region)
            response = self.backoff.call(lambda: client.search_quantum_tasks(**kwargs))
            page = [t for t in response.get("quantumTasks", [])
                    if end is None or _before(t.get("createdAt"), end)]
            tasks.extend(page)
            if on_page is not None:
                on_page(page)
            token = response.get("nextToken")
            if not token:
                return tasks

    def _pace(self, region: str) -> None:
        with self._pace_lock:
            wait = self._next_search.get(region, 0.0) - time.monotonic()
            self._next_search[region] = max(time.monotonic(), self._next_search.get(region, 0.0)) \
                + SEARCH_INTERVAL_SECONDS
        if wait > 0:
            time.sleep(wait)

    def backlog(self, region: str, start: datetime | None, end: datetime | None,
                device_arn: str | None) -> list[dict[str, Any]]:
        """CREATED and QUEUED tasks created in [start, end) in one region."""
        return self.search(region, start, end, ["CREATED", "QUEUED"], device_arn)


def _before(created: Any, end: datetime) -> bool:
    """BETWEEN is inclusive; windows end exclusively."""
    return not isinstance(created, datetime) or created < end
