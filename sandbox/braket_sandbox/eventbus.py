"""EventBridge delivering every "Braket Task State Change" event *at least once* (some twice, a few
three times) and *not in order* (a random delay per delivery, a few held back longer)."""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["EventBus"]


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    event: dict = field(compare=False)
    emitted: int = field(compare=False, default=0)


class EventBus:
    """At-least-once, out-of-order delivery of events to ``deliver(event)``.

    Every published event is delivered once, plus a second time with probability
    ``duplicate_rate`` and a third with ``triplicate_rate``. Each delivery waits a random
    ``0..jitter`` seconds, and with probability ``late_rate`` ``late`` seconds more, so events of
    one task (emitted milliseconds apart) often arrive in another order.
    """

    def __init__(self, deliver: Callable[[dict], None], seed: int = 1, duplicate_rate: float = 0.25,
                 triplicate_rate: float = 0.03, jitter: float = 0.3, late_rate: float = 0.05,
                 late: tuple[float, float] = (0.5, 1.2), clock=time.monotonic) -> None:
        self.deliver = deliver
        self.rng = random.Random(seed)
        self.duplicate_rate, self.triplicate_rate = duplicate_rate, triplicate_rate
        self.jitter, self.late_rate, self.late = jitter, late_rate, late
        self.clock = clock
        self.lock = threading.Condition()
        self.heap: list[_Delivery] = []
        self.seq = itertools.count()
        self.emission = itertools.count()
        self.published = 0
        self.deliveries = 0
        self.out_of_order = 0
        self._latest_delivered: dict[str, int] = {}
        self._first_emitted: dict[str, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="eventbridge", daemon=True)
        self.thread.start()

    def publish(self, event: dict) -> None:
        now = self.clock()
        with self.lock:
            emitted = next(self.emission)
            self.published += 1
            arn = event.get("detail", {}).get("quantumTaskArn", "")
            self._first_emitted.setdefault(arn, now)
            copies = 1
            roll = self.rng.random()
            if roll < self.triplicate_rate:
                copies = 3
            elif roll < self.triplicate_rate + self.duplicate_rate:
                copies = 2
            for _ in range(copies):
                delay = self.rng.uniform(0.0, self.jitter)
                if self.rng.random() < self.late_rate:
                    delay += self.rng.uniform(*self.late)
                heapq.heappush(self.heap, _Delivery(now + delay, next(self.seq), event, emitted))
            self.lock.notify()

    def first_emitted(self, task_arn: str) -> float | None:
        with self.lock:
            return self._first_emitted.get(task_arn)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                while not self.heap and not self.stopping.is_set():
                    self.lock.wait(0.2)
                if self.stopping.is_set():
                    return
                wait = self.heap[0].due - self.clock()
                if wait > 0:
                    self.lock.wait(min(wait, 0.2))
                    continue
                item = heapq.heappop(self.heap)
                self.deliveries += 1
                arn = item.event.get("detail", {}).get("quantumTaskArn", "")
                latest = self._latest_delivered.get(arn, -1)
                if item.emitted < latest:
                    self.out_of_order += 1
                else:
                    self._latest_delivered[arn] = item.emitted
            # A copy per delivery: each invocation gets its own event object, as in Lambda.
            self.deliver(_copy_event(item.event))

    def pending(self) -> int:
        with self.lock:
            return len(self.heap)

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            self.lock.notify_all()
        self.thread.join(timeout=2)


def _copy_event(event: dict) -> dict:
    copied = dict(event)
    copied["detail"] = dict(event.get("detail", {}))
    copied["resources"] = list(event.get("resources", []))
    return copied
