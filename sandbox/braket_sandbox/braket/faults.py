"""The emulator's knobs for what real Braket may do to a caller: quotas (token buckets per operation and region), injected errors, cancels that do not take."""

from __future__ import annotations

import random

from braket_sandbox.braket.common import ERROR_STATUS, BraketApiError, _Fault, _TokenBucket
from braket_sandbox.braket.jobs import JOB_OPERATIONS
from braket_sandbox.braket.spending_limits import SPENDING_LIMIT_OPERATIONS

OPERATIONS = (
    "CreateQuantumTask",
    "GetQuantumTask",
    "CancelQuantumTask",
    "SearchQuantumTasks",
    "GetDevice",
    "SearchDevices",
) + JOB_OPERATIONS + SPENDING_LIMIT_OPERATIONS


# (rate per second, burst) per account and region, from the Braket quotas page.
DEFAULT_QUOTAS = {
    "CreateQuantumTask": (20, 40),
    "SearchQuantumTasks": (5, 50),
    "GetQuantumTask": (100, 500),
    "CancelQuantumTask": (2, 20),
    "GetDevice": (5, 50),
    "*": (140, 600),
}


class FaultsMixin:
    """Quotas and injected faults, checked before every operation."""

    # ----------------------------------------------------------------------------- faults
    def set_fault(
        self,
        operation: str,
        throttle_rate: float = 0.5,
        seed: int = 1,
        error: str = "ThrottlingException",
    ) -> None:
        """Fail ``throttle_rate`` of the HTTP calls to ``operation`` ("*" = all) with ``error``.

        Deterministic: draw i of ``random.Random(seed)`` decides call i.
        """
        self._check_operation(operation)
        if not 0.0 <= throttle_rate <= 1.0:
            raise ValueError("throttle_rate must be within [0, 1]")
        if error not in ERROR_STATUS:
            raise ValueError(f"unknown error code {error!r}")
        with self._lock:
            self._faults[operation] = _Fault(throttle_rate, random.Random(seed), error)

    def fail_next(self, operation: str, count: int, error: str = "ThrottlingException") -> None:
        """Fail the next ``count`` HTTP calls to ``operation`` ("*" = any) with ``error``, then
        answer normally: a throttle or outage that ends, for tests that need it to end."""
        self._check_operation(operation)
        if error not in ERROR_STATUS:
            raise ValueError(f"unknown error code {error!r}")
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._fail_next[operation] = [int(count), error]

    def ignore_cancels(self, arn: str = "*") -> None:
        """CancelQuantumTask of ``arn`` ("*" = every task) answers CANCELLING and emits the
        CANCELLING event, but the QPU runs the task anyway: it stays CANCELLING until the test
        advances it (RUNNING, COMPLETED ...). Models a best-effort cancel of a QUEUED task that
        the device started first."""
        with self._lock:
            self._ignored_cancels.add(arn)

    def set_rate_limit(self, operation: str, rate_per_s: float, burst: int) -> None:
        """Token bucket per region for ``operation`` ("*" = all calls); excess -> 429."""
        self._check_operation(operation)
        with self._lock:
            self._limits[operation] = (float(rate_per_s), int(burst))
            for key in [k for k in self._buckets if k[0] == operation]:
                del self._buckets[key]

    def apply_default_quotas(self) -> None:
        """Install the documented default Braket quotas as rate limits."""
        for operation, (rate, burst) in DEFAULT_QUOTAS.items():
            self.set_rate_limit(operation, rate, burst)

    def clear_faults(self) -> None:
        """Remove every injected fault and rate limit."""
        with self._lock:
            self._faults.clear()
            self._fail_next.clear()
            self._ignored_cancels.clear()
            self._limits.clear()
            self._buckets.clear()

    @staticmethod
    def _check_operation(operation: str) -> None:
        if operation != "*" and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {OPERATIONS} or '*'")

    def _admit(self, operation: str, region: str) -> None:
        """Count the call, then apply rate limits and faults (raises ThrottlingException)."""
        try:
            self._admit_or_raise(operation, region)
        except BraketApiError as err:
            if err.code == "ThrottlingException":
                with self._lock:
                    self._throttled[operation] += 1
            raise

    def _admit_or_raise(self, operation: str, region: str) -> None:
        with self._lock:
            self._calls[operation] += 1
            for name in (operation, "*"):
                limit = self._limits.get(name)
                if limit is None:
                    continue
                bucket = self._buckets.get((name, region))
                if bucket is None:
                    bucket = self._buckets[(name, region)] = _TokenBucket(*limit, self._monotonic)
                if not bucket.take():
                    raise BraketApiError("ThrottlingException", "Rate exceeded")
            for name in (operation, "*"):
                pending = self._fail_next.get(name)
                if pending is not None and pending[0] > 0:
                    pending[0] -= 1
                    message = "Rate exceeded" if pending[1] == "ThrottlingException" else "Injected fault"
                    raise BraketApiError(pending[1], message)
            for name in (operation, "*"):
                fault = self._faults.get(name)
                if fault is not None and fault.rng.random() < fault.rate:
                    message = "Rate exceeded" if fault.code == "ThrottlingException" else "Injected fault"
                    raise BraketApiError(fault.code, message)
