"""The sandbox's device simulator: the QPU start delay (a queued task starts only that long after it
was queued, so a cancel that arrives later is too late)."""

from __future__ import annotations

import time

from braket_sandbox.emulator import BraketEmulator
from braket_sandbox.runaway import DeviceSimulator, NotebookDevice
from sandbox_helpers import FORTE


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_for(predicate, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_queued_tasks_start_after_the_start_delay_and_cancelled_ones_never():
    clock = FakeClock()
    emu = BraketEmulator()
    qpu = NotebookDevice("forte", FORTE, ("us-east-1",), 1, (100,), capacity=100, run_seconds=(1.0, 1.0))
    devices = DeviceSimulator(emu, devices=(qpu,), queue_ahead_seconds=0.0, start_delay_seconds=10.0, clock=clock)
    emu.on_event = devices.on_event
    try:
        first = emu.create_task("us-east-1", FORTE, 100)
        second = emu.create_task("us-east-1", FORTE, 100)
        clock.now += 0.3
        wait_for(lambda: emu.task(first)["status"] == "QUEUED" and emu.task(second)["status"] == "QUEUED", "QUEUED")
        queued_at = clock.now
        clock.now = queued_at + 9.9
        time.sleep(0.2)  # ten ticks of the simulator: nothing may start yet
        assert emu.task(first)["status"] == "QUEUED" and emu.task(second)["status"] == "QUEUED"
        emu.cancel_task(second)  # in time: before its start delay ran out
        clock.now = queued_at + 10.0
        wait_for(lambda: emu.task(first)["status"] == "RUNNING", "RUNNING after the start delay")
        clock.now = queued_at + 11.5
        wait_for(lambda: emu.task(first)["status"] == "COMPLETED", "COMPLETED after run_seconds")
        assert emu.task(second)["status"] == "CANCELLED"
        late = emu.create_task("us-east-1", FORTE, 100)
        clock.now += 0.3
        wait_for(lambda: emu.task(late)["status"] == "QUEUED", "QUEUED")
        clock.now += 10.0
        wait_for(lambda: emu.task(late)["status"] == "RUNNING", "RUNNING")
    finally:
        devices.stop()
