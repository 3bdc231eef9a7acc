"""Retrying transient AWS errors with capped, jittered exponential backoff.

Throttling is expected (CancelQuantumTask allows 2 calls/s); a persisting failure is re-raised so
that Lambda redelivers the event, which the ledger makes safe.
"""

from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

from botocore.exceptions import (ClientError, ConnectionClosedError, EndpointConnectionError,
                                 ReadTimeoutError, ConnectTimeoutError)

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
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified just below
                if attempt + 1 >= self.attempts or not retryable(exc):
                    raise
                self.sleep(self.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover
