"""Property tests: random caps, tasks and task fates; every event delivered 1-3 times, in random
order, some of them late, by concurrent invocations. Whatever the stream, at the end:

- no counter exceeds its cap (the admitted total never exceeds any cap);
- every counter equals the sum of the admitted, unrefunded tasks charged to it;
- the ledger agrees with Braket: a cancelled or failed task is not held as charged, a completed
  task is charged (admitted, or "overrun" when it ran although it did not fit), every rejected
  task ends cancelled or charged;
- no alert is sent twice (by email or Slack), and each breached counter got exactly one breach alert.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from .conftest import AQUILA, FORTE, REGION, T0, alert_identity, deliver_all

FATES = ("runs", "user_cancel", "fails", "stays")


@dataclass(frozen=True)
class TaskSpec:
    device: str
    shots: int
    hour: int  # hours after T0: two UTC days, two months never
    team: str | None
    fate: str
    late: bool  # every event of phase 1 held back: the guard first hears of it after its fate


@dataclass(frozen=True)
class World:
    caps: list
    tasks: list
    seed: int


@st.composite
def caps_strategy(draw):
    caps = []
    for index in range(draw(st.integers(1, 3))):
        max_shots = draw(st.one_of(st.none(), st.integers(0, 1500)))
        max_cost = draw(st.one_of(st.none(), st.integers(0, 120)))
        if max_shots is None and max_cost is None:
            max_cost = 40
        cap = {"name": f"cap{index}", "window": draw(st.sampled_from(["day", "month", "total"])),
               "group_by": draw(st.sampled_from(["account", "device", "tag:team"])),
               "on_breach": draw(st.sampled_from(["cancel_task", "cancel_queued"]))}
        devices = draw(st.sampled_from([None, ["qpu"], [FORTE]]))
        if devices:
            cap["devices"] = devices
        if max_shots is not None:
            cap["max_shots"] = max_shots
        if max_cost is not None:
            cap["max_cost_usd"] = max_cost
        warn_at = draw(st.sampled_from([[], [0.5], [0.5, 0.8]]))
        if warn_at:
            cap["warn_at"] = warn_at
        caps.append(cap)
    return caps


task_strategy = st.builds(
    TaskSpec, device=st.sampled_from([FORTE, AQUILA]), shots=st.integers(1, 400), hour=st.integers(0, 40),
    team=st.sampled_from(["a", "b", None]), fate=st.sampled_from(FATES), late=st.booleans())

worlds = st.builds(World, caps=caps_strategy(), tasks=st.lists(task_strategy, min_size=1, max_size=9),
                   seed=st.integers(0, 2**31))


def copies(events: list[dict], rng: random.Random) -> list[dict]:
    """Each event 1-3 times (at least once), shuffled: at-least-once, out-of-order delivery."""
    out = [e for e in events for _ in range(rng.choice((1, 1, 2, 3)))]
    rng.shuffle(out)
    return out


def play(rig, world: World) -> tuple[list[str], set[str]]:
    """Run the world; returns the task ARNs and those the guard first heard of after their fate."""
    rig.reset()
    rig.configure(world.caps)
    rng = random.Random(world.seed)
    arns = []
    for index, spec in enumerate(world.tasks):
        tags = {"team": spec.team} if spec.team else None
        arn = rig.emu.create_task(REGION, spec.device, spec.shots, tags=tags,
                                  created_at=T0 + timedelta(hours=spec.hour, seconds=index))
        rig.emu.advance(arn, "QUEUED")
        arns.append(arn)
    late = {arn for arn, spec in zip(arns, world.tasks) if spec.late}
    phase1 = rig.take_events()
    held = [e for e in phase1 if e["detail"]["quantumTaskArn"] in late]
    function = rig.function(concurrency=8, retry_delays=(0.0, 0.0))
    try:
        deliver_all(function, rig, copies([e for e in phase1 if e not in held], rng))
        for arn, spec in zip(arns, world.tasks):  # Braket moves on; the guard may have cancelled some
            if rig.status(arn) != "QUEUED":
                continue
            if spec.fate == "runs":
                rig.emu.advance(arn, "RUNNING")
                rig.emu.advance(arn, "COMPLETED")
            elif spec.fate == "user_cancel":
                rig.emu.cancel_task(arn)
            elif spec.fate == "fails":
                rig.emu.advance(arn, "RUNNING")
                rig.emu.advance(arn, "FAILED")
        deliver_all(function, rig, copies(rig.take_events() + held, rng))
    finally:
        function.close()
    failed = [i.error for i in function.invocations if not i.ok]
    assert not failed, failed  # no fault was injected: no invocation may fail
    return arns, late


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(world=worlds)
def test_caps_ledger_braket_and_alerts_agree_whatever_the_delivery(rig, world):
    arns, late = play(rig, world)
    ledger = rig.ledger()

    ledger.check_within_caps(world.caps)
    ledger.check_counters_match_admitted()

    for arn in arns:
        status, state = rig.status(arn), ledger.state(arn)
        assert state is not None, arn  # every task was decided
        if status in ("CANCELLED", "FAILED"):
            assert state in ("refunded", "closed", "cancelled"), (arn, status, state)
        if status == "COMPLETED":  # spent money counts: it ran, so it is charged
            assert state in ("admitted", "overrun"), (arn, status, state)
        assert state not in ("rejected", "cancel_requested"), (arn, status, state)  # every end was seen

    emails = rig.emails()
    identities = [alert_identity(e) for e in emails]
    assert len(identities) == len(set(identities)), identities  # no alert twice by email
    slack = rig.sink.payloads()
    assert len(slack) == len(emails)  # every alert went to both channels once
    assert len({p["text"] + str(p.get("blocks")) for p in slack}) == len(slack)  # no alert twice on Slack
    breached = ledger.breached_counters()
    states = {ledger.state(arn) for arn in arns}
    event(f"ledger states: {sorted(states)}")
    event(f"alerts: {'some' if emails else 'none'}")
    assert sum(1 for i in identities if i[0] == "breach") == len(breached)  # one per breached counter
