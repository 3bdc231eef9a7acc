"""Braket throttling: a 500-task runaway against CancelQuantumTask's real quota (2 calls/s, burst 20).

Real time: the emulator enforces the documented default quotas (``DEFAULT_QUOTAS``), the
guard's backoff sleeps for real, 16 invocations run at once. The 500 tasks' events all arrive at
once (harsher than one loop held to CreateQuantumTask's 20/s: more invocations compete for the
cancel tokens); the cap admits the first 440 and the last 60 must be cancelled within a few
seconds, far more than the quota serves. Lambda's two retries are scheduled
10 s and 20 s after a failure instead of about 1 and 2 minutes: a harsher schedule (a retry finds
fewer tokens in the bucket the sooner it comes) that keeps the test short.

Guarantees under the quota:
- no task is admitted beyond the cap, however late its cancel succeeds;
- every rejected task ends CANCELLED, within Lambda's two retries of its events;
- each task is cancelled once (one CANCELLED transition); the ledger matches the admitted tasks;
- one breach alert; a throttled cancel never produces a "could NOT be cancelled" alert.
"""

from __future__ import annotations

import collections
from datetime import timedelta

import pytest

from bench.lambda_sim import ScaledClock
from bench.run import moto_process

from .conftest import FORTE, REGION, T0, Rig, alert_identity

RUNAWAY = 500
FIT = 440
CAP_USD = FIT * 8.30  # $8.30 per task (100 shots on Forte-1)


@pytest.fixture
def rig_own_moto(monkeypatch, emulator, slack_sink):
    """A guard whose AWS services are the benchmark's moto process (bench/moto_proc.py: the
    sandbox's locked moto on the other core, with braket_sandbox.moto_speedups' cheaper rollback, since a
    ledger of 1,000+ items costs moto ~0.1 s per transaction otherwise, which is moto, not the guard)."""
    with moto_process() as url:
        made = Rig(monkeypatch, url, emulator, slack_sink)
        yield made
        emulator.on_event = None
        emulator.clear_faults()


def test_runaway_of_500_tasks_under_the_real_cancel_quota(rig_own_moto):
    rig = rig_own_moto
    clock = ScaledClock(1.0)
    rig.configure([{"name": "runaway", "window": "day", "group_by": "account", "max_cost_usd": f"{CAP_USD:.2f}"}])
    rig.runtime(clock=clock)
    rig.emu.apply_default_quotas()  # CancelQuantumTask: 2/s, burst 20
    function = rig.function(concurrency=16, clock=clock, retry_delays=(10.0, 20.0))
    rig.emu.on_event = function.submit  # every event, the guard's own cancellations' too, goes to it
    arns = []
    try:
        for index in range(RUNAWAY):
            arn = rig.emu.create_task(REGION, FORTE, 100, created_at=T0 + timedelta(seconds=index))
            rig.emu.advance(arn, "QUEUED")
            arns.append(arn)
        function.drain(timeout=600)
    finally:
        rig.emu.on_event = None
        function.close()

    assert not function.dead_letters, function.dead_letters[:3]
    ledger = rig.ledger()
    admitted = [a for a in arns if ledger.state(a) == "admitted"]
    rejected = [a for a in arns if ledger.state(a) == "cancelled"]  # rejected, and its end was seen
    assert len(admitted) == FIT and len(rejected) == RUNAWAY - FIT
    ledger.check_within_caps(rig.caps)
    ledger.check_counters_match_admitted()
    assert all(rig.status(a) == "CANCELLED" for a in rejected)
    assert all(rig.status(a) == "QUEUED" for a in admitted)
    cancelled_events = collections.Counter(e["detail"]["quantumTaskArn"] for e in rig.emu.events()
                                           if e["detail"]["status"] == "CANCELLED")
    assert set(cancelled_events) == set(rejected) and set(cancelled_events.values()) == {1}
    calls = rig.emu.calls["CancelQuantumTask"]
    assert calls > len(rejected)  # the quota really throttled: cancels were retried
    attempts = collections.Counter((i.attempt, i.ok) for i in function.invocations)
    print(f"\n{calls} CancelQuantumTask calls for {len(rejected)} cancels; invocations by (attempt, ok): "
          f"{dict(attempts)}")
    kinds = [alert_identity(e)[0] for e in rig.emails()]
    assert kinds == ["breach"], kinds
    assert len(rig.sink.payloads()) == 1
