"""The devices of the emulated Braket: each works through its queue, CREATED -> QUEUED -> RUNNING ->
COMPLETED, unless the task was cancelled first.

:class:`DeviceSimulator` watches the emulator's task events and moves each task on with
``emulator.advance``; results land in S3 when the emulator stores results (``results_s3=``), before
the task becomes COMPLETED. Every knob is deterministic: a seeded random generator picks each run
time from the device's ``run_seconds`` range, the rest are fixed delays.

Who runs it: the demo and the benchmark create one with their own knobs;
:meth:`BraketEmulator.run_devices` attaches one to an emulator (the standalone CLI does so unless
``--no-devices``, and so does ``python -m braket_sandbox.sandbox``). Tests that drive time
themselves call ``advance`` and never start one (the emulator's constructor does not).
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from braket_sandbox.braket.common import TERMINAL_STATUSES


__all__ = ["AQUILA", "DEFAULT_DEVICES", "DeviceSimulator", "FORTE", "NotebookDevice", "SV1"]

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
AQUILA = "arn:aws:braket:us-east-1::device/qpu/quera/Aquila"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"



@dataclass(frozen=True)
class NotebookDevice:
    """A device the notebook submits to: its ARN, the regions it submits from, its weight in the
    mix and the shot counts it picks from; and how the device works its queue: ``capacity`` tasks
    at a time (1 on a QPU), each running ``run_seconds``."""

    name: str
    arn: str
    regions: tuple[str, ...]
    weight: int
    shots: tuple[int, ...]
    capacity: int
    run_seconds: tuple[float, float]


DEFAULT_DEVICES = (
    NotebookDevice("ionq/Forte-1 (expensive QPU)", FORTE, ("us-east-1",), 3, (50, 100, 200),
                   capacity=1, run_seconds=(1.0, 1.5)),
    NotebookDevice("quera/Aquila (cheap QPU)", AQUILA, ("us-east-1",), 4, (100, 500, 1000),
                   capacity=1, run_seconds=(0.7, 1.0)),
    NotebookDevice("amazon/sv1 (simulator)", SV1, ("us-east-1", "us-west-2"), 3, (100, 1000, 10000),
                   capacity=2, run_seconds=(0.5, 1.0)),
)




class DeviceSimulator:
    """The devices working through their queues, first in, first out.

    A new task becomes QUEUED a moment after CREATED. Each device (per region) is first busy with
    other users' tasks for ``queue_ahead_seconds`` and for as long as ``hold()`` says so (the demo
    holds while its single-process Lambda still has a backlog of deliveries): real QPU queues hold
    minutes to hours of work and real Lambda scales out, so the guard decides long before a queued
    task starts; the sandbox compresses time but keeps that order. Then it runs up to ``capacity`` tasks at a time, oldest first,
    each for ``run_seconds``: RUNNING, then COMPLETED. A task cancelled meanwhile (by the guard)
    is skipped, as a QPU skips a cancelled task.

    ``start_delay_seconds``: no task starts sooner than this after it became QUEUED (a QPU with a
    short queue: the time a cancel has to arrive before the task runs; the benchmark's runaway at
    the quota sets it, with a large ``capacity`` so that every task starts exactly then).
    """

    def __init__(self, emulator: Any,  # the BraketEmulator whose tasks it moves (it imports this module)
                 devices: tuple[NotebookDevice, ...] = DEFAULT_DEVICES,
                 queue_ahead_seconds: float = 3.0, seed: int = 2, clock=time.monotonic,
                 tick: float = 0.02, hold: Callable[[], bool] | None = None,
                 start_delay_seconds: float = 0.0) -> None:
        self.emulator = emulator
        self.start_delay_seconds = start_delay_seconds
        self.queued_at: dict[str, float] = {}
        self.devices = {d.arn: d for d in devices}
        self.queue_ahead_seconds = queue_ahead_seconds
        self.hold = hold or (lambda: False)
        self.released: set[tuple[str, str]] = set()
        self.rng = random.Random(seed)
        self.clock = clock
        self.tick = tick
        self.lock = threading.Lock()
        self.created: list[tuple[float, str, tuple[str, str]]] = []  # (queue at, arn, device key)
        self.queues: dict[tuple[str, str], collections.deque] = collections.defaultdict(collections.deque)
        self.running: dict[tuple[str, str], list[tuple[float, str]]] = collections.defaultdict(list)
        self.busy_until: dict[tuple[str, str], float] = {}
        self.status: dict[str, str] = {}
        self.started_late: set[str] = set()
        self.stopping = threading.Event()
        self.completed = 0
        self.thread = threading.Thread(target=self._loop, name="devices", daemon=True)
        self.thread.start()

    def on_event(self, event: dict) -> None:
        """Emulator callback: track each task's status; a new task joins its device's queue."""
        detail = event.get("detail", {})
        arn, status = detail.get("quantumTaskArn"), detail.get("status")
        if not arn or not status:
            return
        key = (detail.get("deviceArn", ""), event.get("region", ""))
        with self.lock:
            known = arn in self.status
            if self.status.get(arn) not in TERMINAL_STATUSES:  # a terminal status is final
                self.status[arn] = status
            if status == "CREATED" and not known:
                now = self.clock()
                self.busy_until.setdefault(key, now + self.queue_ahead_seconds)
                self.created.append((now + self.rng.uniform(0.05, 0.2), arn, key))

    def counts(self) -> collections.Counter:
        with self.lock:
            return collections.Counter(self.status.values())

    def _device(self, key: tuple[str, str]) -> NotebookDevice:
        return self.devices.get(key[0]) or NotebookDevice("other", key[0], (key[1],), 1, (1,), 1, (0.5, 1.0))

    def _advance(self, arn: str, status: str) -> bool:
        with self.lock:
            if self.status.get(arn) in TERMINAL_STATUSES | {"CANCELLING"}:
                return False  # cancelled (by the guard) before the device got to it
        try:
            self.emulator.advance(arn, status)
            return True
        except (KeyError, ValueError):
            return False  # cancelled between the look and the move

    def _step(self) -> None:
        now = self.clock()
        with self.lock:
            due = [c for c in self.created if c[0] <= now]
            self.created = [c for c in self.created if c[0] > now]
        for _, arn, key in due:
            if self._advance(arn, "QUEUED"):
                with self.lock:
                    self.queues[key].append(arn)
                    self.queued_at[arn] = now
        with self.lock:
            keys = list(set(self.queues) | set(self.running))
        for key in keys:
            device = self._device(key)
            with self.lock:
                finished = [r for r in self.running[key] if r[0] <= now]
                self.running[key] = [r for r in self.running[key] if r[0] > now]
            for _, arn in finished:
                if self._advance(arn, "COMPLETED"):
                    with self.lock:
                        self.completed += 1
            while True:
                if key not in self.released:
                    if now < self.busy_until.get(key, 0.0) or self.hold():
                        break
                    self.released.add(key)
                with self.lock:
                    queue = self.queues[key]
                    if len(self.running[key]) >= device.capacity:
                        break
                    if not queue:
                        break
                    if self.status.get(queue[0]) != "QUEUED":  # cancelled while waiting: skipped
                        queue.popleft()
                        continue
                    if now < self.queued_at.get(queue[0], 0.0) + self.start_delay_seconds:
                        break  # first in, first out: the ones behind it are not due either
                    arn = queue.popleft()
                if self._advance(arn, "RUNNING"):
                    with self.lock:
                        self.running[key].append((now + self.rng.uniform(*device.run_seconds), arn))

    def _loop(self) -> None:
        while not self.stopping.wait(self.tick):
            try:
                self._step()
            except Exception:  # noqa: BLE001 - keep the devices running; the summary shows the effect
                logging.getLogger("braket_sandbox.braket.runner").exception("device simulator step failed")

    def pending(self) -> int:
        with self.lock:
            return (len(self.created) + sum(len(q) for q in self.queues.values())
                    + sum(len(r) for r in self.running.values()))

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)


