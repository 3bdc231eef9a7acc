"""The scenarios the guard exists for: bursts, duplicates, reordering, throttling, Slack down."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from braket_guard.core.pricing import build_price_book, task_cost_micros

from .conftest import ACCOUNT, FORTE, REGION

DAY = "2026-11-28"
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
PRICE = build_price_book().lookup(FORTE)
CAP_MICROS = 50_000_000


def submit_burst(harness, count: int, seed: int, shots=lambda rng: rng.randint(5, 60)):
    """``count`` tasks on Forte-1; returns {arn: cost} and their CREATED and QUEUED events."""
    rng = random.Random(seed)
    costs, events = {}, []
    for index in range(count):
        task_shots = shots(rng)
        arn = harness.emu.create_task(REGION, FORTE, task_shots, created_at=T0 + timedelta(seconds=index))
        costs[arn] = task_cost_micros(PRICE, task_shots)
        events.append(harness.emu.event_for(arn, "QUEUED"))
    events += harness.take_events()  # the CREATED events
    return costs, events


def check_caps_held(harness, costs, admitted, rejected, cap_micros=CAP_MICROS):
    assert admitted and rejected, "the scenario must both admit and reject"
    assert set(admitted) | set(rejected) == set(costs) and not set(admitted) & set(rejected)
    total = sum(costs[a] for a in admitted)
    assert total <= cap_micros
    counter = harness.counter("burst", DAY, ACCOUNT)
    assert counter["cost_micros"] == total and counter["tasks"] == len(admitted)
    # Counters only grow in a burst, so a task was rejected only if it could not fit in the end.
    for arn in rejected:
        assert costs[arn] > cap_micros - total, arn
    for arn in rejected:
        assert harness.emu.task(arn)["status"] == "CANCELLED", arn
        assert harness.task_state(arn) in ("cancel_requested", "cancelled")
    for arn in admitted:
        assert harness.emu.task(arn)["status"] != "CANCELLED", arn
        assert harness.task_state(arn) == "admitted"


def decisions_by_task(results):
    admitted = {r["task"] for r in results if r["decision"] == "admitted"}
    rejected = {r["task"] for r in results if r["decision"] == "rejected"}
    return admitted, rejected


def test_burst_of_40_on_16_threads_with_duplicates_and_shuffling(harness):
    harness.configure([{"name": "burst", "window": "day", "group_by": "account", "max_cost_usd": 50}])
    costs, events = submit_burst(harness, 40, seed=11)
    results = harness.deliver_concurrently(events, threads=16, seed=3)
    assert len(results) > len(events)  # some events really were delivered more than once
    admitted, rejected = decisions_by_task(results)
    check_caps_held(harness, costs, admitted, rejected)
    # the cancellations' own events, delivered (twice) too, change nothing
    harness.deliver_concurrently(harness.take_events(), threads=16, seed=4)
    assert harness.counter("burst", DAY, ACCOUNT)["cost_micros"] == sum(costs[a] for a in admitted)
    assert len(harness.emails()) == 1 and len(harness.slack()) == 1  # one breach alert
    assert harness.emu.calls["CancelQuantumTask"] == len(rejected)


def test_half_of_cancel_calls_throttled_still_cancels_every_rejected_task(harness):
    harness.configure([{"name": "burst", "window": "day", "group_by": "account", "max_cost_usd": 50}])
    costs, events = submit_burst(harness, 30, seed=5, shots=lambda rng: 100)  # $8.30 each: 6 fit
    harness.emu.set_fault("CancelQuantumTask", throttle_rate=0.5, seed=9)
    results = harness.deliver_concurrently(events, threads=16, seed=8, max_copies=2)
    admitted, rejected = decisions_by_task(results)
    assert len(admitted) == 6 and len(rejected) == 24
    check_caps_held(harness, costs, admitted, rejected)
    assert harness.emu.calls["CancelQuantumTask"] > len(rejected)  # throttled calls were retried


def test_slack_down_cancels_exactly_the_same_tasks(harness, monkeypatch):
    outcomes = []
    for slack_status in (None, 500):
        harness.emu.reset()
        harness.sink.reset()
        harness.take_events()  # drop the previous round's cancellation events
        if slack_status:
            harness.sink.fail_with(slack_status)
        harness.configure([{"name": f"slack-{slack_status}", "window": "day", "group_by": "account",
                            "max_cost_usd": 50}])
        costs, events = submit_burst(harness, 20, seed=21)
        # one thread: the same order both times, so the outcome must be identical
        harness.deliver_concurrently(events, threads=1, seed=2)
        outcomes.append([harness.emu.task(arn)["status"] for arn in costs])
    assert outcomes[0] == outcomes[1]
    assert "CANCELLED" in outcomes[0] and "CREATED" in outcomes[0]
    assert harness.sink.requests and not harness.sink.messages
