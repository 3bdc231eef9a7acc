"""Retrying transient AWS errors with capped, jittered exponential backoff.

Throttling is expected (CancelQuantumTask allows 2 calls/s); a persisting failure is re-raised so
that Lambda redelivers the event, which the ledger makes safe.
"""

from __future__ import annotations

import random
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

T = TypeVar("T")

TRANSIENT_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "ProvisionedThroughputExceededException", "InternalServerError",
    "InternalServiceException", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
    "TransactionConflictException", "TransactionInProgressException", "LimitExceededException",
})
TRANSIENT_EXCEPTIONS = (ConnectionClosedError, EndpointConnectionError, ReadTimeoutError,
                        ConnectTimeoutError)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT_EXCEPTIONS):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in TRANSIENT_CODES or status == 429 or status >= 500
    return False


_budget = threading.local()
# Keep this much time in hand past the last attempt we start: the handler still logs and answers.
DEADLINE_MARGIN_SECONDS = 1.0


class DeadlineExceeded(RuntimeError):
    """The time budget of this invocation or CLI run cannot hold another attempt."""


@contextmanager
def deadline(seconds: float | None, worst_attempt: float = 0.0) -> Iterator[None]:
    """Within this block (this thread), ``Backoff`` starts no attempt that could end past
    ``seconds`` from now, taking ``worst_attempt`` as the longest one attempt may last.

    ``seconds`` None: no budget beyond each client's own timeouts. Nested blocks keep the
    earlier end.
    """
    previous = getattr(_budget, "end", None)
    end = None if seconds is None else time.monotonic() + seconds
    if previous is not None and (end is None or previous < end):
        end = previous
    _budget.end, prior_worst = end, getattr(_budget, "worst", 0.0)
    _budget.worst = max(worst_attempt, prior_worst)
    try:
        yield
    finally:
        _budget.end, _budget.worst = previous, prior_worst


def remaining_seconds() -> float | None:
    """Seconds left in the current budget (None: no budget)."""
    end = getattr(_budget, "end", None)
    return None if end is None else end - time.monotonic()


def renew(seconds: float) -> None:
    """Restart the current budget (this thread) at ``seconds`` from now; no budget: no-op. The
    CLI's budget bounds the wait for an endpoint that does not answer, so every answer renews it."""
    if getattr(_budget, "end", None) is not None:
        _budget.end = time.monotonic() + seconds


def _room_for(delay: float) -> bool:
    left = remaining_seconds()
    if left is None:
        return True
    return left - delay - getattr(_budget, "worst", 0.0) > DEADLINE_MARGIN_SECONDS


def room_for_a_call() -> bool:
    """Whether one more worst-case AWS call fits the current budget (always, without one): for
    callers outside ``Backoff.call`` (alert channels), which then give up for now instead."""
    return _room_for(0.0)


class Backoff:
    """Full-jitter exponential backoff; ``sleep`` and ``rand`` are injectable for tests."""

    def __init__(self, attempts: int = 8, base: float = 0.05, cap: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep,
                 rand: Callable[[], float] = random.random):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.attempts, self.base, self.cap, self.sleep, self.rand = attempts, base, cap, sleep, rand

    def delay(self, attempt: int) -> float:
        return self.rand() * min(self.cap, self.base * (2 ** attempt))

    def call(self, fn: Callable[[], T], retryable: Callable[[BaseException], bool] = is_transient) -> T:
        for attempt in range(self.attempts):
            if attempt == 0 and not _room_for(0.0):
                raise DeadlineExceeded(f"no time left for another AWS call ({remaining_seconds():.1f} s left "
                                       "in this run's budget)")
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified just below
                if attempt + 1 >= self.attempts or not retryable(exc):
                    raise
                pause = self.delay(attempt)
                if not _room_for(pause):
                    raise  # the budget cannot hold another attempt: the caller redelivers or reports
                self.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover
