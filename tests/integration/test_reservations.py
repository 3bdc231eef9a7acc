"""Braket Direct reservations (issue 11): reserved work is never charged or cancelled for cost,
its shots still count, and a deployment without declared reservations makes no Braket call per
admitted event. Real handler, moto, the Braket emulator (associations on CreateQuantumTask)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from braket_guard import handler
from braket_guard.ops import operations
from braket_guard.config import ConfigError, load_config

from .conftest import ACCOUNT, FORTE, REGION

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
DAY = "2026-11-28"
RESERVATION = f"arn:aws:braket:{REGION}:{ACCOUNT}:reservation/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
RESERVED = [{"arn": RESERVATION, "type": "RESERVATION_TIME_WINDOW_ARN"}]
FORTE_ENTERPRISE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1"
COST = 8_300_000  # Forte-1, 100 shots on demand


def declare(harness, reservations):
    harness.monkeypatch.setenv("BRAKET_GUARD_RESERVATIONS", json.dumps(reservations))


def deliver(harness):
    pending = harness.take_events()
    while pending:
        for event in pending:
            harness.invoke(event)
        pending = harness.take_events()


def create(harness, n, *, reserved=False, shots=100, start=T0, device=FORTE, tags=None):
    return [harness.emu.create_task(REGION, device, shots, created_at=start + timedelta(seconds=i),
                                    associations=RESERVED if reserved else None, tags=tags)
            for i in range(n)]


def test_a_reserved_task_costs_nothing_and_is_left_alone_beside_a_cancelled_on_demand_task(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "device", "max_cost_usd": 10}])
    declare(harness, [{"device_arn": FORTE}])
    (first,) = create(harness, 1)  # $8.30 on demand: fits
    (reserved,) = create(harness, 1, reserved=True, start=T0 + timedelta(minutes=1))
    (second,) = create(harness, 1, start=T0 + timedelta(minutes=2))  # $8.30 more: over $10
    deliver(harness)
    assert harness.emu.task(first)["status"] == "CREATED"
    assert harness.emu.task(second)["status"] == "CANCELLED"  # on demand, over the cap
    assert harness.emu.task(reserved)["status"] == "CREATED"  # paid for by the hour: left alone
    assert harness.counter("daily", DAY, FORTE)["cost_micros"] == COST
    assert harness.counter("daily", DAY, FORTE)["shots"] == 200  # the reserved shots count
    record = harness.item(f"TASK#{reserved}", "TASK")
    assert record["reservation"]["S"] == RESERVATION and record["cost_micros"]["N"] == "0"


def test_a_full_cost_cap_never_cancels_reserved_work(harness):
    """Even a counter already past its limit (an overrun) admits reserved tasks at $0."""
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 5}])
    declare(harness, [{"device_arn": FORTE}])
    (ran,) = create(harness, 1)
    harness.emu.advance(ran, "RUNNING")  # first seen running: charged although over ($8.30 > $5)
    harness.take_events()
    harness.invoke(harness.emu.events()[-1])
    assert harness.task_state(ran) == "overrun"
    reserved = create(harness, 3, reserved=True, start=T0 + timedelta(minutes=5))
    deliver(harness)
    assert [harness.emu.task(a)["status"] for a in reserved] == ["CREATED"] * 3
    assert [harness.task_state(a) for a in reserved] == ["admitted"] * 3


def test_reserved_shots_still_count_against_a_shot_cap(harness):
    harness.configure([{"name": "shots", "window": "day", "group_by": "account", "max_shots": 250}])
    declare(harness, [{"device_arn": FORTE}])
    arns = create(harness, 3, reserved=True)
    deliver(harness)
    assert [harness.emu.task(a)["status"] for a in arns] == ["CREATED", "CREATED", "CANCELLED"]


def test_a_cancel_queued_sweep_for_cost_skips_reserved_backlog(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 20,
                        "on_breach": "cancel_queued"}])
    declare(harness, [{"device_arn": FORTE}])
    on_demand = create(harness, 2)  # $16.60: fits
    reserved = create(harness, 2, reserved=True, start=T0 + timedelta(minutes=1))
    deliver(harness)
    (breaker,) = create(harness, 1, start=T0 + timedelta(minutes=2))  # over: sweep the backlog
    deliver(harness)
    assert harness.emu.task(breaker)["status"] == "CANCELLED"
    assert [harness.emu.task(a)["status"] for a in on_demand] == ["CANCELLED"] * 2
    assert [harness.emu.task(a)["status"] for a in reserved] == ["CREATED"] * 2


def test_without_declared_reservations_an_admitted_event_calls_braket_not_at_all(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 100}])
    create(harness, 3, reserved=True)  # undeclared: priced on demand, as documented
    harness.emu.reset_calls()
    deliver(harness)
    assert sum(harness.emu.calls.values()) == 0
    assert harness.counter("daily", DAY, ACCOUNT)["cost_micros"] == 3 * COST


def test_with_reservations_declared_one_get_quantum_task_per_task_on_the_reserved_device_only(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "tag:team", "max_cost_usd": 100}])
    declare(harness, [{"device_arn": FORTE, "ends_at": "2026-11-29T00:00:00Z"}])
    create(harness, 2, reserved=True, tags={"team": "a"})
    harness.emu.reset_calls()
    events = harness.take_events()
    for event in events:
        harness.invoke(event)
    # tags and associations come from one GetQuantumTask per task, not two
    assert harness.emu.calls == {"GetQuantumTask": 2}
    harness.emu.reset_calls()
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 100}])
    create(harness, 1, device=FORTE_ENTERPRISE)
    after_end = create(harness, 1, start=datetime(2026, 11, 29, 1, 0, tzinfo=timezone.utc))
    deliver(harness)
    assert sum(harness.emu.calls.values()) == 0  # another device, and a task after the declared end
    assert harness.task_state(after_end[0]) == "admitted"


@pytest.mark.parametrize("value, message", [
    ('{"device_arn": "x"}', "must be a JSON list"),
    ('[{"device_arn": "arn:aws:braket:::device/quantum-simulator/amazon/sv1"}]', "must be a QPU device ARN"),
    (f'[{{"device_arn": "{FORTE}", "ends_at": "tomorrow"}}]', "BRAKET_GUARD_RESERVATIONS[0].ends_at"),
    (f'[{{"device_arn": "{FORTE}", "start": "2026-12-01T00:00:00Z"}}]', "unknown field"),
])
def test_bad_reservations_are_refused_naming_the_field(value, message):
    env = {"BRAKET_GUARD_TABLE": "t-1", "BRAKET_GUARD_CAPS": '[{"name":"a","window":"day",'
           '"group_by":"account","max_shots":1}]', "BRAKET_GUARD_RESERVATIONS": value}
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(env)


def test_reconciliation_prices_a_missed_reserved_task_at_zero(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": 100}])
    declare(harness, [{"device_arn": FORTE}])
    (arn,) = create(harness, 1, reserved=True)
    harness.take_events()  # the event was lost
    result = operations.run_action(handler.runtime().guard, {"braket_guard": "reconcile"},
                                   now=T0 + timedelta(hours=1))
    assert result["corrections"] >= 1
    assert harness.task_state(arn) == "admitted"
    assert harness.counter("daily", DAY, ACCOUNT)["cost_micros"] == 0
