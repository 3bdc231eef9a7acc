"""Program sets (issue 11): one CreateQuantumTask carries many executables; ``shots`` is their
total and the per-task fee is charged once. The event carries the total, so the guard prices a
program set exactly like Braket lists it, with no extra call. Real handler, moto, the emulator
validating the program set with the Braket schemas."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .conftest import ACCOUNT, FORTE, REGION

from braket.circuits import Circuit  # the Braket SDK, pinned in requirements-dev.txt
from braket.program_sets import ProgramSet

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
DAY = "2026-11-28"


def program_set(executables: int, shots_each: int) -> tuple[str, int]:
    bell = Circuit().h(0).cnot(0, 1)
    ps = ProgramSet([bell] * executables, shots_per_executable=shots_each)
    return ps.to_ir().json(), ps.total_shots


def test_a_program_set_is_charged_one_task_fee_and_every_shot(harness):
    action, total = program_set(5, 100)
    assert total == 500
    # 0.30 + 500 x 0.08 = 40.30: exactly the cap, so one fits and a second does not
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": "40.30"}])
    first = harness.emu.create_task(REGION, FORTE, total, action=action, created_at=T0)
    second = harness.emu.create_task(REGION, FORTE, total, action=action, created_at=T0 + timedelta(seconds=1))
    for event in harness.take_events():
        harness.invoke(event)
    assert harness.emu.task(first)["status"] == "CREATED"
    assert harness.emu.task(second)["status"] == "CANCELLED"
    counter = harness.counter("daily", DAY, ACCOUNT)
    assert counter["cost_micros"] == 40_300_000 and counter["shots"] == 500
    record = harness.item(f"TASK#{first}", "TASK")
    assert record["cost_micros"]["N"] == "40300000"


def test_a_completed_program_set_keeps_its_charge_whatever_numSuccessfulShots_says(harness):
    """Whether Braket bills a partly failed program set by successful shots is not documented:
    the guard keeps the listed charge (README, "Program sets") and never guesses a refund."""
    action, total = program_set(4, 50)
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 100}])
    arn = harness.emu.create_task(REGION, FORTE, total, action=action, created_at=T0)
    for status in ("QUEUED", "RUNNING", "COMPLETED"):
        harness.emu.advance(arn, status)
    for event in harness.take_events():
        harness.invoke(event)
    assert harness.task_state(arn) == "admitted"
    assert harness.counter("daily", DAY, ACCOUNT)["cost_micros"] == 300_000 + 200 * 80_000
