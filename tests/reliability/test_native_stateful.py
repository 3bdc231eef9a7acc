"""Native spending limits, searched (issue 19): a hypothesis ``RuleBasedStateMachine`` over the
real handler, moto (DynamoDB, SNS, SQS, SSM) and the Braket emulator, under every emulator knob
(``braket_sandbox.braket.spending_knobs.KNOB_VARIANTS``: each uncertain Braket answer, one at a time).

Each example draws a knob, a native mode (freeze, mirror_and_freeze) and the group of the cap that
freezes (device, account, region), seeds a hand-made limit on Aquila, then runs random rules:
tasks (breaches), the schedule run now, the schedule run at the window's end, mode switches
(enforce, monitor, native limits off), ``unfreeze``, the process dying inside any native call
(Search, Create, Delete, ListTagsForResource, the ledger writes of freezes and of the ownership
marker) and Lambda's retry, the next Braket calls refused for good or throttled
(``emulator.fail_next``), and uninstall (``native_cleanup`` as ``terraform destroy`` sends it).

Invariants:
- the hand-made limit is never touched (same ARN, amount, tags);
- every task the guard rejected is cancelled in Braket (native work never skips the cancel);
- after uninstall, or a schedule run in monitor mode or with native limits off, no limit of the
  guard's remains;
- after the schedule run at a window's end, no limit of the guard's refuses a one-shot task
  created at that moment;
- after a schedule run that Braket answered, enforcing, every freeze in force is on Braket (on
  each of its devices but the one with the hand-made limit).

The test runs once per knob, ``NATIVE_EXAMPLES`` examples each (default 4: 32 examples of 30 steps
in CI, about a minute); a fixed seed per knob gives CI the same programs every run and different
programs under each knob; ``NATIVE_RANDOM=1`` draws new ones.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from braket_guard import handler
from braket_guard.native import guard as native_guard
from braket_guard.native import rules as N
from braket_guard.native import spending_limits
from braket_guard.ops.operations import run_action
from braket_sandbox.braket.common import BraketApiError
from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS

from .conftest import AQUILA, FORTE, REGION, ManualClock, Rig, SimulatedCrash

FORTE_ENT = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1"
QPUS = (FORTE, FORTE_ENT, AQUILA)
EXAMPLES = int(os.environ.get("NATIVE_EXAMPLES", "4"))
RANDOM = os.environ.get("NATIVE_RANDOM") == "1"
RUNS: Counter = Counter()
LAMBDA_RETRY = 61  # seconds: Lambda's first retry comes after the guard's 30 s work lease

# Where the process may die: every call native work makes to Braket or to the ledger.
CRASH_POINTS = {
    "search": (spending_limits.SpendingLimits, "search"),
    "create": (spending_limits.SpendingLimits, "create"),
    "delete": (spending_limits.SpendingLimits, "delete"),
    "list_tags": (spending_limits.SpendingLimits, "_tags"),
    "put_freeze": (native_guard.NativeLimiter, "_put_freeze"),
    "set_freeze": (native_guard.NativeLimiter, "_set_freeze"),
    "mark_owner": (native_guard.NativeLimiter, "_mark_owner"),
}
ARMED: dict[str, int] = {}  # crash point -> calls left before the process dies there


def install_crash_points(monkeypatch) -> None:
    for name, (owner, attr) in CRASH_POINTS.items():
        original = getattr(owner, attr)

        def wrapper(*args, _name=name, _original=original, **kwargs):
            left = ARMED.get(_name)
            if left is not None:
                if left <= 0:
                    del ARMED[_name]
                    RUNS[f"crash:{_name}"] += 1
                    raise SimulatedCrash(f"process died in {_name}")
                ARMED[_name] = left - 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, attr, wrapper)


def owner_limits(emu, owner: str) -> list[dict]:
    return [l for l in emu.spending_limits(REGION) if l["tags"].get(N.OWNER_TAG) == owner]


class NativeMachine(RuleBasedStateMachine):
    rig: Rig

    def __init__(self):
        super().__init__()
        ARMED.clear()
        self.rig.reset()
        self.clock = ManualClock(datetime.now(timezone.utc))
        self.tasks: list[str] = []
        self.mode, self.native = "enforce", "freeze"

    # -- set-up --------------------------------------------------------------------------------
    knob = "documented"

    @initialize(native=st.sampled_from([N.FREEZE, N.MIRROR]), group=st.sampled_from(["device", "account", "region"]))
    def deploy(self, native, group):
        knob = self.knob
        RUNS["examples"] += 1
        RUNS[f"knob:{knob}"] += 1
        self.rig.emu.limit_knobs = KNOB_VARIANTS[knob]
        self.foreign = self.rig.emu.create_spending_limit(REGION, AQUILA, "500.00", tags={"team": "finance"})
        self.foreign_before = self._foreign()
        self.native = native
        caps = [{"name": "c", "window": "day", "group_by": group, "max_cost_usd": "10"},
                {"name": "m", "window": "day", "group_by": "device", "devices": [FORTE], "max_cost_usd": "20"}]
        self.rig.configure(caps, native_limits=native, regions=REGION)
        self._runtime()

    def _runtime(self):
        self.rig.monkeypatch.setenv("BRAKET_GUARD_MODE", self.mode)
        self.rig.monkeypatch.setenv("BRAKET_GUARD_NATIVE_LIMITS", self.native)
        return self.rig.runtime(lease_clock=self.clock)

    def _foreign(self) -> tuple:
        limit = self.rig.emu.spending_limit(self.foreign)
        return limit["spendingLimitArn"], limit["deviceArn"], limit["spendingLimit"], dict(limit["tags"])

    def _invoke(self, event: dict, retries: int = 2):
        """One asynchronous invocation and Lambda's retries (a crash or an error fails it)."""
        for attempt in range(retries + 1):
            try:
                self._runtime()
                return handler.lambda_handler(event, None)
            except (SimulatedCrash, Exception) as exc:  # noqa: BLE001 - Lambda retries any failure
                RUNS["failed_invocations"] += 1
                RUNS[f"failed:{type(exc).__name__}"] += 1
                if attempt == retries:
                    return exc
                self.clock.advance(LAMBDA_RETRY)
        return None

    # -- rules ---------------------------------------------------------------------------------
    @rule(device=st.sampled_from(QPUS), shots=st.sampled_from([1, 100, 100, 200]), count=st.integers(1, 3))
    def tasks_created(self, device, shots, count):
        """A user's loop: one to three tasks (two of 100 shots pass a $10 cap)."""
        for _ in range(count):
            self._task(device, shots)

    def _task(self, device, shots):
        try:
            arn = self.rig.emu.create_task(REGION, device, shots, created_at=datetime.now(timezone.utc))
        except BraketApiError:  # refused at the door by a native limit
            RUNS["refused_at_the_door"] += 1
            self.rig.take_events()
            return
        events = [e for e in self.rig.take_events() if e["detail"]["quantumTaskArn"] == arn]
        self.tasks.append(arn)
        RUNS["tasks"] += 1
        if isinstance(self._invoke(events[0]), BaseException):
            ARMED.clear()  # three deliveries failed: reconciliation (or a later delivery) finishes it
            self.clock.advance(LAMBDA_RETRY)
            self._invoke(events[0], retries=0)

    def _recover(self, recovered: bool) -> None:
        """Braket answers again and no crash is armed: the next run's promise is checked."""
        if recovered:
            ARMED.clear()
            self.rig.emu.clear_faults()

    @rule(recovered=st.booleans())
    def scheduled(self, recovered):
        self.schedule(recovered)

    def schedule(self, recovered):
        """The native-limits schedule (and reconciliation's native sync) now."""
        self._recover(recovered)
        clean = self._clean()
        self._invoke({"braket_guard": "native_limits"}, retries=0)
        if clean and (self.mode == "monitor" or self.native == N.OFF):
            RUNS["checked_off_or_monitor"] += 1
            assert owner_limits(self.rig.emu, self.rig.table) == [], \
                f"{self.mode}/{self.native}: a schedule run left limits of the guard"
        elif clean:  # enforcing: every freeze in force is on Braket (but where a hand-made limit is)
            RUNS["checked_enforce"] += 1
            now = datetime.now(timezone.utc)
            frozen = {l["deviceArn"] for l in owner_limits(self.rig.emu, self.rig.table)
                      if l["spendingLimit"] <= N.FREEZE_FLOOR_MICROS / 1_000_000}
            for freeze, _item in self._runtime().guard.native.freezes():
                if freeze.active(now):
                    assert freeze.devices - {AQUILA} <= frozen, (freeze, frozen)

    @rule(recovered=st.booleans())
    def window_ends(self, recovered):
        """The schedule at the day's end: afterwards no limit of the guard's refuses a task."""
        self._recover(recovered)
        now = datetime.now(timezone.utc)
        boundary = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), timezone.utc)
        moment = boundary + timedelta(seconds=5)
        clean = self._clean()
        try:
            run_action(self._runtime().guard, {"braket_guard": "native_limits"}, now=moment)
        except SimulatedCrash:
            RUNS["failed_invocations"] += 1
            return  # the next schedule run is the one that must hold; none here
        if not clean:
            return
        RUNS["boundaries"] += 1
        ours = {l["deviceArn"]: l["spendingLimitArn"] for l in owner_limits(self.rig.emu, self.rig.table)}
        for device, arn in ours.items():
            try:
                probe = self.rig.emu.create_task(REGION, device, 1, created_at=moment)
            except BraketApiError as exc:
                raise AssertionError(f"after the window ended, the guard's limit {arn} refuses a "
                                     f"one-shot task on {device}: {exc}") from None
            self.rig.emu.cancel_task(probe)
        self.rig.take_events()

    @rule(mode=st.sampled_from(["enforce", "monitor", "off"]), recovered=st.booleans())
    def switch(self, mode, recovered):
        """A new setting deployed, then the next schedule run (which must hold if Braket answers)."""
        RUNS[f"switch:{mode}"] += 1
        if mode == "off":
            self.native = N.OFF
        else:
            self.mode = mode
            if self.native == N.OFF:
                self.native = N.FREEZE
        self.schedule(recovered)

    @rule()
    def unfreeze(self):
        try:
            self._runtime().guard.native.unfreeze("c")
        except (SimulatedCrash, Exception):  # noqa: BLE001 - the operator runs it again later
            RUNS["failed_unfreeze"] += 1

    @rule(point=st.sampled_from(sorted(CRASH_POINTS)), after=st.integers(0, 2))
    def arm_crash(self, point, after):
        ARMED[point] = after

    @rule(operation=st.sampled_from(["SearchSpendingLimits", "CreateSpendingLimit", "DeleteSpendingLimit",
                                     "ListTagsForResource"]),
          error=st.sampled_from(["ThrottlingException", "AccessDeniedException", "ValidationException",
                                 "InternalServiceException", "DeviceRetiredException"]),
          count=st.integers(1, 6))
    def braket_fails(self, operation, error, count):
        RUNS[f"fault:{error}"] += 1
        self.rig.emu.fail_next(operation, count, error)

    @rule()
    def uninstall(self):
        """terraform destroy: native_cleanup with tf.action = delete; a failure stops the destroy,
        and the user runs it again once Braket answers."""
        event = {"braket_guard": "native_cleanup", "tf": {"action": "delete", "prev_input": {}}}
        result = self._invoke(event, retries=0)
        if isinstance(result, BaseException):
            ARMED.clear()
            self.rig.emu.clear_faults()
            result = self._invoke(event, retries=0)
        assert isinstance(result, dict) and result["remaining"] == [], result
        assert owner_limits(self.rig.emu, self.rig.table) == [], "uninstall left limits of the guard"
        RUNS["uninstalls"] += 1

    def _clean(self) -> bool:
        """No crash armed and no Braket fault pending: the next run's promise is checked."""
        with self.rig.emu._lock:
            pending = any(left > 0 for left, _error in self.rig.emu._fail_next.values())
        return not ARMED and not pending

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def the_hand_made_limit_is_never_touched(self):
        if hasattr(self, "foreign"):
            assert self._foreign() == self.foreign_before

    @invariant()
    def every_rejected_task_is_cancelled(self):
        for arn, item in self.rig.ledger().tasks.items():
            if item["state"]["S"] in ("rejected", "cancel_requested", "cancelled"):
                assert self.rig.status(arn) in ("CANCELLING", "CANCELLED"), (arn, item["state"]["S"])


@pytest.fixture
def native_rig(rig, monkeypatch):
    install_crash_points(monkeypatch)
    yield rig
    ARMED.clear()


@pytest.mark.parametrize("knob", sorted(KNOB_VARIANTS))
def test_native_limits_never_lock_a_qpu_out(native_rig, capsys, knob):
    NativeMachine.rig = native_rig
    machine = type(f"NativeMachine_{knob}", (NativeMachine,), {"knob": knob})
    if not RANDOM:  # CI: the same programs each run, different ones under each knob
        machine = seed(19_000 + sorted(KNOB_VARIANTS).index(knob))(machine)
    before = RUNS["examples"]
    run_state_machine_as_test(machine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=30, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    with capsys.disabled():
        print(f"\nnative stateful test ({knob}): {RUNS['examples'] - before} examples; {dict(sorted(RUNS.items()))}")
    ran = RUNS["examples"] - before
    assert ran >= EXAMPLES, f"the stateful test ran {ran} of {EXAMPLES} examples under {knob}"
