"""A model of AWS Lambda's asynchronous invocation, and of time, for the bench and the tests.

``AsyncLambda`` runs a handler on a pool of ``concurrency`` threads (16 concurrent invocations,
like a function with reserved concurrency 16). An invocation that raises is retried
``retries`` times (Lambda's default is 2), each retry scheduled ``retry_delays`` seconds later
(Lambda waits about 1 minute, then about 2) *without* holding a concurrency slot while it
waits; an event that fails every attempt is kept in ``dead_letters`` (where an on-failure
destination would receive it). Events that handlers cause (e.g. the CANCELLED event of a task
they cancel) can be submitted from inside a handler; ``drain()`` returns once nothing is
queued, scheduled or running.

``ScaledClock`` runs time ``speed`` times faster than the wall clock: a test that must respect
a rate of 2 calls/s and retry delays of 60 s can run the same schedule 10 times faster, as long
as *every* party (rate limiter, backoff sleeps, lease clock, retry delays) uses the same clock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable


class ScaledClock:
    """Virtual time = start + speed x elapsed wall time. ``speed=1`` is real time."""

    def __init__(self, speed: float = 1.0, start: float | None = None):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._wall0 = time.monotonic()
        self._virtual0 = time.time() if start is None else float(start)

    def time(self) -> float:
        """Virtual epoch seconds."""
        return self._virtual0 + (time.monotonic() - self._wall0) * self.speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), timezone.utc)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def wall(self, virtual_seconds: float) -> float:
        return virtual_seconds / self.speed


REAL_TIME = ScaledClock(1.0)


@dataclass
class Invocation:
    event: dict
    attempt: int  # 0 = first delivery
    started: float  # virtual time
    duration: float  # wall seconds
    ok: bool
    result: Any = None
    error: str = ""


@dataclass(order=True)
class _Pending:
    ready_at: float
    seq: int
    event: dict = field(compare=False)
    attempt: int = field(compare=False, default=0)


class AsyncLambda:
    def __init__(self, handler: Callable[[dict], Any], concurrency: int = 16, retries: int = 2,
                 retry_delays: tuple[float, ...] = (60.0, 120.0), clock: ScaledClock = REAL_TIME,
                 accept: Callable[[dict], bool] | None = None, keep_results: bool = True):
        self.handler, self.concurrency, self.retries = handler, concurrency, retries
        self.retry_delays, self.clock = retry_delays, clock
        self.accept = accept or (lambda event: True)
        self.keep_results = keep_results
        self.invocations: list[Invocation] = []
        self.dead_letters: list[tuple[dict, str]] = []
        self._heap: list[_Pending] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._running = 0
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"lambda-{i}", daemon=True)
                         for i in range(concurrency)]
        for thread in self._threads:
            thread.start()

    # -- feeding ---------------------------------------------------------------------------------
    def submit(self, event: dict, delay: float = 0.0, force: bool = False) -> bool:
        """Queue one delivery (False when the function's rule does not match the event; ``force``:
        an invocation that comes from elsewhere, e.g. a schedule)."""
        if not force and not self.accept(event):
            return False
        with self._cv:
            heapq.heappush(self._heap, _Pending(self.clock.time() + delay, next(self._seq), event))
            self._cv.notify()
        return True

    def drain(self, timeout: float | None = None) -> None:
        """Wait (wall seconds) until nothing is queued, scheduled for a retry or running."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while self._heap or self._running:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"{len(self._heap)} queued and {self._running} running after {timeout}s")
                self._cv.wait(0.05 if remaining is None else min(0.05, remaining))

    def pending(self) -> int:
        """Deliveries queued or scheduled for a retry, not yet started."""
        with self._cv:
            return len(self._heap)

    def abandon(self, timeout: float = 60.0) -> int:
        """Drop every delivery not yet started (returns how many) and wait (wall seconds) for the
        running invocations to finish: the end of a run that must not leak into the next one."""
        with self._cv:
            dropped = len(self._heap)
            self._heap.clear()
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._running and time.monotonic() < deadline:
                self._cv.wait(0.05)
        return dropped

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> "AsyncLambda":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- running ---------------------------------------------------------------------------------
    def _next(self) -> _Pending | None:
        with self._cv:
            while True:
                if self._closed:
                    return None
                if self._heap:
                    wait = self._heap[0].ready_at - self.clock.time()
                    if wait <= 0:
                        self._running += 1
                        return heapq.heappop(self._heap)
                    self._cv.wait(min(self.clock.wall(wait), 0.05))
                else:
                    self._cv.wait(0.05)

    def _work(self) -> None:
        while True:
            pending = self._next()
            if pending is None:
                return
            started, t0 = self.clock.time(), time.perf_counter()
            try:
                result = self.handler(pending.event)
                record = Invocation(pending.event, pending.attempt, started, time.perf_counter() - t0,
                                    True, result if self.keep_results else None)
            except BaseException as exc:  # noqa: BLE001 - a crash is an outcome of the invocation
                record = Invocation(pending.event, pending.attempt, started, time.perf_counter() - t0,
                                    False, error=f"{type(exc).__name__}: {exc}"[:300])
            with self._cv:
                self.invocations.append(record)
                if not record.ok:
                    if pending.attempt < self.retries:
                        delay = self.retry_delays[min(pending.attempt, len(self.retry_delays) - 1)]
                        heapq.heappush(self._heap, _Pending(self.clock.time() + delay, next(self._seq),
                                                            pending.event, pending.attempt + 1))
                    else:
                        self.dead_letters.append((pending.event, record.error))
                self._running -= 1
                self._cv.notify_all()
