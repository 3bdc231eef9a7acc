"""DynamoDB faults: throttling, transaction conflicts, 5xx, lost responses and an outage.

The guard's ledger retries throttling and conflicts with backoff (botocore's standard retries
first, then ``Ledger._transact``) and raises when they persist; Lambda then redelivers the event.
Guarantees:
- under any mix of these faults the ledger stays exact: no cap is exceeded, no task is charged
  twice (not even when a write committed and its response was lost), every counter equals the
  sum of its admitted tasks;
- a delivery that failed leaves nothing half-done that a later delivery cannot finish: once the
  events are delivered again (Lambda's retries, or a redrive of what they gave up on), every task
  is decided, every rejected task is cancelled, and exactly one breach alert was sent;
- an outage shorter than Lambda's retry schedule (about 3 minutes) loses nothing.

Time runs 60 times faster than the wall clock for the guard's backoff, its lease clock and
Lambda's retry delays (``ScaledClock``), so the 1- and 2-minute retries take 1 and 2 seconds.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from bench.lambda_sim import ScaledClock

from .aws_faults import start_faulty_moto
from .conftest import FORTE, REGION, T0, Rig, alert_identity, deliver_all

SPEED = 60.0
CAPS = [{"name": "burst", "window": "day", "group_by": "account", "max_cost_usd": 60, "warn_at": [0.5]}]


@pytest.fixture
def faulty(monkeypatch, moto_server, emulator, slack_sink):
    """A rig whose every AWS call goes through one fault-injecting front of this process's moto."""
    clock = ScaledClock(SPEED)
    server, faults = start_faulty_moto(seed=11, clock=clock.time)
    rig = Rig(monkeypatch, server.url, emulator, slack_sink)
    yield rig, faults, clock
    emulator.on_event = None
    server.stop()


def burst(rig, count: int, seed: int) -> tuple[list[str], list[dict]]:
    rng = random.Random(seed)
    arns = []
    for index in range(count):
        arn = rig.emu.create_task(REGION, FORTE, rng.randint(20, 120), created_at=T0 + timedelta(seconds=index))
        rig.emu.advance(arn, "QUEUED")
        arns.append(arn)
    events = rig.take_events()
    deliveries = [e for e in events for _ in range(rng.choice((1, 2)))]
    rng.shuffle(deliveries)
    return arns, deliveries


def converged(rig, arns: list[str]) -> None:
    ledger = rig.ledger()
    ledger.check_within_caps(CAPS)
    ledger.check_counters_match_admitted()
    states = {arn: ledger.state(arn) for arn in arns}
    assert set(states.values()) == {"admitted", "cancelled"}, states
    for arn, state in states.items():
        assert (rig.status(arn) == "CANCELLED") == (state == "cancelled"), (arn, state)
    kinds = sorted(alert_identity(e)[0] for e in rig.emails())
    assert kinds.count("breach") == 1 and "cancel_failed" not in kinds, kinds
    assert len(kinds) == len(set(alert_identity(e) for e in rig.emails()))


def test_throttling_conflicts_5xx_and_lost_responses_keep_the_ledger_exact(faulty):
    rig, faults, clock = faulty
    rig.configure(CAPS)
    rig.runtime(clock=clock)
    arns, deliveries = burst(rig, 40, seed=3)
    faults.add("dynamodb", "throttle", rate=0.15)
    faults.add("dynamodb", "conflict", rate=0.25, operations=["TransactWriteItems"])
    faults.add("dynamodb", "internal", rate=0.05)
    faults.add("dynamodb", "lost", rate=0.08, operations=["TransactWriteItems", "PutItem", "UpdateItem"])
    function = rig.function(concurrency=16, clock=clock)
    try:
        deliver_all(function, rig, deliveries)
        faults.clear()
        # whatever the storm did, the ledger is exact before anything is redelivered
        ledger = rig.ledger()
        ledger.check_within_caps(CAPS)
        ledger.check_counters_match_admitted()
        # an operator redrives what Lambda gave up on (its on-failure destination)
        gave_up = [event for event, _ in function.dead_letters]
        function.dead_letters.clear()
        deliver_all(function, rig, gave_up)
    finally:
        function.close()
    injected = sum(faults.injected.values())
    assert injected > 100, faults.injected  # the storm was real
    assert any(kind == "lost" for kind, _, _ in faults.injected)
    assert not function.dead_letters
    converged(rig, arns)


def test_an_outage_shorter_than_lambdas_retries_loses_nothing(faulty):
    rig, faults, clock = faulty
    rig.configure(CAPS)
    rig.runtime(clock=clock)
    arns, deliveries = burst(rig, 24, seed=5)
    now = clock.time()
    faults.add("dynamodb", "throttle", rate=1.0, start=now, end=now + 90)  # 90 s of nothing but throttling
    function = rig.function(concurrency=16, clock=clock)
    try:
        deliver_all(function, rig, deliveries)
    finally:
        function.close()
    failed_first = [i for i in function.invocations if not i.ok]
    assert failed_first and all("Throughput" in i.error or "throttl" in i.error.lower() or
                                "TransientLedgerError" in i.error for i in failed_first), failed_first[:3]
    assert not function.dead_letters  # Lambda's retries (1 and 2 minutes later) found DynamoDB back
    converged(rig, arns)
