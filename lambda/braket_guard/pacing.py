"""One CancelQuantumTask budget shared by every invocation: a token bucket on a ledger item.

Why: Braket allows 2 cancels a second per account and region (burst 20). Sixteen concurrent
invocations that each back off on their own mostly collect ThrottlingExceptions and spend their
Lambda time in retries; taking a token first means each call that is made is one Braket accepts.

The bucket is one item per region (``PACE`` / ``CANCEL#<region>``) holding milli-tokens, the
time it was last taken from and a version; a take is a write conditional on the version it read,
so two invocations never take the same token. A caller that finds the bucket empty sleeps until the next token is due.
The write is made from the bucket as last seen (``_seen``, per container): when that is still
current a take is ONE call; when another invocation wrote meanwhile, the refused write returns the
current item (``ReturnValuesOnConditionCheckFailure``) and the take is computed again from it. Within
one invocation (a backlog sweep) the most expensive tasks are cancelled first (``by_cost``); across
invocations tokens go in the order they are asked for: each rejected task has its own invocation,
and the freeze (native limits) is what stops the flow at its source.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from decimal import Decimal
from typing import Any, Callable, Iterable

from botocore.exceptions import ClientError

from . import metrics
from .braket_api import CancelResult
from .pricing import PriceBook, task_cost_micros
from .retry import Backoff, error_code

PACE_PK = "PACE"
BURST_SECONDS = 10  # Braket's published burst is 10 s of its rate (2/s, burst 20)
MAX_WAIT_SECONDS = 20.0  # then the cancel is tried anyway; the gateway's own backoff takes over


class TokenBucket:
    """Shared tokens in DynamoDB: ``rate`` per second, at most ``burst`` banked."""

    def __init__(self, client: Any, table: str, rate: Decimal, burst: int | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 max_wait: float = MAX_WAIT_SECONDS, rand: Callable[[], float] = random.random):
        if rate <= 0:
            raise ValueError("a token bucket needs a positive rate")
        self.client, self.table, self.clock, self.sleep, self.max_wait = client, table, clock, sleep, max_wait
        self.rand = rand  # jitter only: waiters that woke together do not all read at once
        self.milli_per_ms = Decimal(rate)  # 1 token/s = 1 milli-token/ms
        self.capacity = int(1000 * (burst if burst is not None else max(1, int(rate * BURST_SECONDS))))
        self.reads = Backoff(attempts=5, base=0.05, cap=0.5)
        self._seen: dict[str, dict[str, Any]] = {}  # the bucket's item as this container last saw it
        self._lock = threading.Lock()

    def _key(self, name: str) -> dict[str, Any]:
        return {"pk": {"S": PACE_PK}, "sk": {"S": name}}

    def take(self, name: str) -> tuple[bool, float]:
        """Take one token; (True, seconds waited), or (False, seconds waited) after ``max_wait``."""
        started = self.clock()
        item = self._seen.get(name)
        while True:
            now_ms = int(self.clock() * 1000)
            if item is None:
                tokens, seq = self.capacity, None
            else:
                seq = int(item["seq"]["N"])
                elapsed = max(0, now_ms - int(item["at_ms"]["N"]))
                tokens = min(self.capacity, int(item["milli"]["N"]) + int(self.milli_per_ms * elapsed))
            if tokens >= 1000:
                written, current = self._write(name, tokens - 1000, now_ms, seq)
                if written:
                    return True, self.clock() - started
                item = current  # another invocation took from the bucket first: its item, as it is now
                continue
            waited = self.clock() - started
            if waited >= self.max_wait:
                return False, waited
            due = float((1000 - tokens) / self.milli_per_ms) / 1000
            self.sleep(min(self.max_wait - waited, due + self.rand() * due * 0.2 + 0.001))
            item = self._read(name)  # the bucket may have been taken from while we slept

    def _read(self, name: str) -> dict[str, Any] | None:
        item = self.reads.call(lambda: self.client.get_item(
            TableName=self.table, Key=self._key(name), ConsistentRead=True)).get("Item")
        self._remember(name, item)
        return item

    def _remember(self, name: str, item: dict[str, Any] | None) -> None:
        with self._lock:
            if item is None:
                self._seen.pop(name, None)
            else:
                self._seen[name] = item

    def _write(self, name: str, milli: int, now_ms: int, seq: int | None) -> tuple[bool, dict[str, Any] | None]:
        """Conditional on the version read (not the time: two takes can share a millisecond).
        (True, None) when written; (False, the item as it is now) when the version moved."""
        condition = "attribute_not_exists(pk)" if seq is None else "seq = :seq"
        values = {} if seq is None else {":seq": {"N": str(seq)}}
        item = {**self._key(name), "milli": {"N": str(milli)}, "at_ms": {"N": str(now_ms)},
                "seq": {"N": str((seq or 0) + 1)}, "taker": {"S": uuid.uuid4().hex}}
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": item, "ConditionExpression": condition,
                                  "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            self.reads.call(lambda: self.client.put_item(**kwargs))
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            current = exc.response.get("Item")
            if current is not None and current.get("taker") == item["taker"]:
                # our own write: its response was lost and the retry met it
                self._remember(name, current)
                return True, None
            if current is None:  # no item returned (none there, or an endpoint that omits it)
                current = self._read(name)
            else:
                self._remember(name, current)
            return False, current
        self._remember(name, item)
        return True, None


class CountingSleep:
    """The cancel backoff's sleep, counted: each call is one retry after a throttle or error."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep):
        self.inner, self.lock, self.count = sleep, threading.Lock(), 0

    def __call__(self, seconds: float) -> None:
        with self.lock:
            self.count += 1
        self.inner(seconds)

    def take(self) -> int:
        with self.lock:
            count, self.count = self.count, 0
        return count


class PacedBraket:
    """The Braket gateway with every cancel taking a token of its region's bucket first."""

    def __init__(self, inner: Any, bucket: TokenBucket | None, retries: CountingSleep | None = None):
        self.inner, self.bucket, self.retries = inner, bucket, retries

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def cancel(self, task_arn: str, region: str) -> CancelResult:
        waited_ms = 0
        if self.bucket is not None:
            _got, waited = self.bucket.take(f"CANCEL#{region}")
            waited_ms = int(waited * 1000)
        result = self.inner.cancel(task_arn, region)
        retries = self.retries.take() if self.retries is not None else 0
        metrics.emit({"CancelCalls": 1, "CancelRetries": retries, "CancelPaceWaitMs": waited_ms,
                      "CancelThrottled": int(result.outcome == "throttled")}, {"Operation": "cancel"})
        return result


def by_cost(summaries: Iterable[dict[str, Any]], prices: PriceBook) -> list[dict[str, Any]]:
    """Task summaries, most expensive first (unpriced devices by shots, after the priced ones)."""
    def key(summary: dict[str, Any]) -> tuple[int, int, str]:
        try:
            shots = int(summary.get("shots") or 0)
        except (TypeError, ValueError):
            shots = 0
        price = prices.lookup(str(summary.get("deviceArn", "")))
        cost = task_cost_micros(price, shots) if price is not None and not price.by_duration else -1
        return (-cost, -shots, str(summary.get("quantumTaskArn", "")))
    return sorted(summaries, key=key)
