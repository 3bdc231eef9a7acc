"""Crashes: the Lambda process dies between two steps of a decision (``SimulatedCrash`` is a
``BaseException``, so no handler in the guard sees it, as with a killed process), then Lambda
redelivers the event.

Time is modelled explicitly with the ledger's clock (``ManualClock``): the guard's work lease
(``ledger.WORK_LEASE_SECONDS``, 30 s) makes a delivery that arrives while a crashed invocation
"holds" the task leave it alone; Lambda's first retry of the crashed delivery comes about a
minute later, after the lease. Guarantees:
- a crash between the rejection's ledger write and the cancel: the retry cancels the task; no
  other delivery admits it meanwhile, and the caps never move;
- a crash after the cancel but before the ledger notes it: the retry cancels again with the
  same client token (idempotent); the task is cancelled exactly once;
- a crash after the admission's transaction: the retry is a duplicate; the task is charged once;
- a crash in the middle of a ``cancel_queued`` sweep: the retry finishes the sweep.
"""

from __future__ import annotations

import collections
from datetime import timedelta

import pytest

from braket_guard import handler

from .conftest import FORTE, REGION, T0, ManualClock, SimulatedCrash

LAMBDA_FIRST_RETRY = 60  # seconds; the work lease is 30


def crash_once(monkeypatch, owner, name: str, when=lambda *a, **k: True) -> dict:
    """Make ``owner.name`` kill the process the first time ``when(*args)`` holds."""
    original, state = getattr(owner, name), {"crashed": 0}

    def wrapper(*args, **kwargs):
        if not state["crashed"] and when(*args, **kwargs):
            state["crashed"] += 1
            raise SimulatedCrash(f"process died in {name}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return state


def task(rig, shots: int = 100, index: int = 0) -> tuple[str, dict, dict]:
    arn = rig.emu.create_task(REGION, FORTE, shots, created_at=T0 + timedelta(seconds=index))
    rig.emu.advance(arn, "QUEUED")
    created, queued = [e for e in rig.take_events() if e["detail"]["quantumTaskArn"] == arn]
    return arn, created, queued


def invoke(event: dict) -> dict:
    return handler.lambda_handler(event, None)


def cancelled_transitions(rig) -> collections.Counter:
    return collections.Counter(e["detail"]["quantumTaskArn"] for e in rig.emu.events()
                               if e["detail"]["status"] == "CANCELLED")


@pytest.fixture
def two_tasks(rig):
    """A $10 cap: task A ($8.30) fits, task B ($8.30) does not."""
    clock = ManualClock(T0)
    rig.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10}])
    rt = rig.runtime(lease_clock=clock)
    a, a_created, _ = task(rig, index=0)
    b, b_created, b_queued = task(rig, index=1)
    assert invoke(a_created)["decision"] == "admitted"
    return rig, rt, clock, (a, b, b_created, b_queued)


def test_crash_between_the_rejection_write_and_the_cancel(two_tasks, monkeypatch):
    rig, rt, clock, (a, b, b_created, b_queued) = two_tasks
    crash_once(monkeypatch, rt.guard.braket, "cancel", when=lambda arn, region: arn == b)
    with pytest.raises(SimulatedCrash):
        invoke(b_created)
    assert rig.ledger().state(b) == "rejected" and rig.status(b) == "QUEUED"

    clock.advance(5)  # B's QUEUED event, while the dead invocation's lease still runs
    result = invoke(b_queued)
    assert result["decision"] == "duplicate" and "another invocation" in result["reason"]
    assert rig.status(b) == "QUEUED"  # left to the lease holder, which is dead: Lambda retries it

    clock.advance(LAMBDA_FIRST_RETRY - 5)
    result = invoke(b_created)  # Lambda's retry of the crashed delivery
    assert result["decision"] == "rejected" and result["cancelled"] is True
    assert rig.status(b) == "CANCELLED" and rig.status(a) == "QUEUED"
    for event in rig.take_events():  # B's CANCELLING and CANCELLED events only close it
        assert invoke(event)["decision"] in ("duplicate", "closed")
    ledger = rig.ledger()
    ledger.check_within_caps(rig.caps)
    ledger.check_counters_match_admitted()
    assert ledger.state(a) == "admitted" and ledger.state(b) == "cancelled"
    assert cancelled_transitions(rig) == {b: 1}


def test_crash_after_the_cancel_before_the_ledger_notes_it(two_tasks, monkeypatch):
    rig, rt, clock, (a, b, b_created, b_queued) = two_tasks
    crash_once(monkeypatch, rt.guard.ledger, "transition",
               when=lambda record, to_state, **_: to_state in ("cancel_requested", "cancelled"))
    with pytest.raises(SimulatedCrash):
        invoke(b_created)
    assert rig.status(b) == "CANCELLED"  # Braket did it; the ledger does not know yet

    clock.advance(LAMBDA_FIRST_RETRY)
    result = invoke(b_created)
    assert result["decision"] == "rejected" and result["cancelled"] is True
    for event in rig.take_events() + [b_queued]:
        assert invoke(event)["decision"] in ("duplicate", "closed")
    assert rig.emu.calls["CancelQuantumTask"] == 2  # same client token: the second is a no-op
    assert cancelled_transitions(rig) == {b: 1}
    rig.ledger().check_counters_match_admitted()


def test_crash_after_the_admission_transaction(rig, monkeypatch):
    clock = ManualClock(T0)
    rig.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 10,
                    "warn_at": [0.5]}])
    rt = rig.runtime(lease_clock=clock)
    arn, created, queued = task(rig)
    crash_once(monkeypatch, rt.guard.ledger, "read_counters")  # the warning check after admission
    with pytest.raises(SimulatedCrash):
        invoke(created)
    clock.advance(LAMBDA_FIRST_RETRY)
    assert invoke(created)["decision"] == "duplicate"
    assert invoke(queued)["decision"] == "duplicate"
    ledger = rig.ledger()
    assert ledger.state(arn) == "admitted"
    ledger.check_counters_match_admitted()  # charged exactly once
    assert [ledger.num(c, "tasks") for c in ledger.counters.values()] == [1]


def test_crash_in_the_middle_of_a_cancel_queued_sweep(rig, monkeypatch):
    clock = ManualClock(T0)
    rig.configure([{"name": "device-day", "window": "day", "group_by": "device", "max_cost_usd": 20,
                    "on_breach": "cancel_queued"}])
    rt = rig.runtime(lease_clock=clock)
    admitted = []
    for index in range(2):  # $16.60 admitted
        arn, created, _ = task(rig, index=index)
        assert invoke(created)["decision"] == "admitted"
        admitted.append(arn)
    backlog = [task(rig, index=10 + i)[0] for i in range(4)]  # queued, not yet seen by the guard
    offender, offender_created, _ = task(rig, index=20)
    rig.take_events()
    calls = {"n": 0}

    def third_cancel(arn, region):
        calls["n"] += 1
        return calls["n"] == 3

    crash_once(monkeypatch, rt.guard.braket, "cancel", when=third_cancel)
    with pytest.raises(SimulatedCrash):  # offender cancelled, one backlog task cancelled, then death
        invoke(offender_created)
    swept_before = [arn for arn in admitted + backlog if rig.status(arn) == "CANCELLED"]
    assert rig.status(offender) == "CANCELLED" and len(swept_before) == 1

    clock.advance(LAMBDA_FIRST_RETRY)
    result = invoke(offender_created)  # the offender is cancelled already: the retry finishes the sweep
    assert result["decision"] == "duplicate" and result["backlog_cancelled"] >= 1
    assert all(rig.status(arn) == "CANCELLED" for arn in admitted + backlog + [offender])
    for event in rig.take_events():  # the swept tasks' CANCELLED events refund the admitted ones
        invoke(event)
    ledger = rig.ledger()
    ledger.check_counters_match_admitted()
    assert all(ledger.state(arn) == "refunded" for arn in admitted)
    assert set(cancelled_transitions(rig).values()) == {1}
