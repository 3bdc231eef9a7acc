"""The guard's native-limit paths under each uncertain Braket answer (issue 19 item 5): every
``braket_sandbox.braket.spending_knobs.KNOB_VARIANTS`` entry, the real handler and CLI, moto and the
emulator. The design must be right whichever way Braket answers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from braket_guard import handler
from braket_guard.ops.operations import run_action
from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS

from .conftest import AQUILA, FORTE, REGION
from .test_native_limits import configure, create_and_invoke, device_cap, limits_of, refused_at_the_door, run_cli


@pytest.fixture(params=sorted(KNOB_VARIANTS))
def knob(request, harness):
    harness.emu.limit_knobs = KNOB_VARIANTS[request.param]
    yield request.param


def owned(harness):
    return [l for l in limits_of(harness) if l["tags"].get("braket-guard:owner") == harness.table]


def test_a_freeze_refuses_at_the_door_lifts_at_the_window_end_and_uninstall_removes_it(harness, knob):
    theirs = harness.emu.create_spending_limit(REGION, AQUILA, "500.00", tags={"team": "finance"})
    configure(harness, [device_cap()])
    create_and_invoke(harness)
    _b, second = create_and_invoke(harness)
    assert second["decision"] == "rejected" and second["cancelled"] is True
    (freeze,) = owned(harness)
    assert freeze["spendingLimit"] <= Decimal("0.01"), "a freeze leaves no room for any task's fee"
    now = datetime.now(timezone.utc)
    end = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), timezone.utc)
    start, stop = freeze["timePeriod"]
    assert start <= now and stop == end, ("the period sent is read back: to the window's end", start, stop)
    assert refused_at_the_door(harness, FORTE, 1), "a one-shot task is refused"
    guard = handler.runtime().guard
    # the schedule at the window's end removes it; a task at that moment is accepted
    report = run_action(guard, {"braket_guard": "native_limits"}, now=end + timedelta(seconds=5))
    assert report["frozen"] == [] and owned(harness) == [], report
    # back in the window (the clock of this test only): the freeze is made again, the same minute
    run_action(guard, {"braket_guard": "native_limits"}, now=now)
    assert len(owned(harness)) == 1, "still this window: the freeze is repaired"
    done = handler.lambda_handler({"braket_guard": "native_cleanup", "tf": {"action": "delete"}}, None)
    assert done["remaining"] == [] and owned(harness) == []
    assert [l["spendingLimitArn"] for l in limits_of(harness)] == [theirs], "the hand-made limit stays"


def test_a_freeze_replaces_a_mirror_without_an_update_and_unfreeze_makes_it_again(harness, knob):
    """A shot cap's breach on a mirrored device: the mirror (with spend on it) is deleted and a
    freeze created, never updated below its spend; unfreeze makes the mirror again."""
    shots_cap = {"name": "shots", "window": "day", "group_by": "device", "devices": [FORTE], "max_shots": 150}
    configure(harness, [device_cap("100", devices=[FORTE]), shots_cap], native="mirror_and_freeze")
    create_and_invoke(harness)  # $8.30 and 100 shots admitted; the mirror holds $91.70
    (mirror,) = owned(harness)
    assert mirror["spendingLimit"] == Decimal("91.70")
    harness.emu.reset_calls()
    _b, second = create_and_invoke(harness)  # 200 shots > 150: rejected, the device frozen
    assert second["decision"] == "rejected" and second["cancelled"] is True
    (freeze,) = owned(harness)
    assert freeze["spendingLimitArn"] != mirror["spendingLimitArn"] and freeze["spendingLimit"] <= Decimal("0.01")
    assert harness.emu.calls.get("UpdateSpendingLimit", 0) == 0, "never an update below spend"
    assert refused_at_the_door(harness, FORTE, 1)
    code, _out, err = run_cli("unfreeze", "shots", "--region", REGION)
    assert code == 0, err
    (again,) = owned(harness)
    assert again["spendingLimit"] == Decimal("91.70"), "the mirror is made again from the counter"
    assert refused_at_the_door(harness, FORTE, 1) is None


def test_ownership_is_read_even_when_search_returns_no_tags(harness, knob):
    theirs = harness.emu.create_spending_limit(REGION, FORTE, "500.00", tags={"team": "finance"})
    configure(harness, [device_cap()], native="mirror_and_freeze")
    sync = run_action(handler.runtime().guard, {"braket_guard": "native_limits"})
    assert [f["device"] for f in sync["foreign"]] == [FORTE]
    assert [l["spendingLimitArn"] for l in limits_of(harness, FORTE)] == [theirs]
