"""The native-limit planner, searched: random caps, counters, windows, freezes and limits Braket
already has (ours from an earlier run, foreign ones, garbage with our tag), the clock moved across
window boundaries; then the invariants that make it safe to let the guard drive Braket's limits."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from braket_guard.native import rules as N
from braket_guard.core.caps import parse_caps
from braket_guard.core.windows import load_zone, window_for

OWNER = "guard-ledger"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
AQUILA = "arn:aws:braket:us-east-1::device/qpu/quera/Aquila"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
CEPHEUS = "arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
QPUS = [FORTE, AQUILA, GARNET, CEPHEUS]
DEVICES = QPUS + [SV1]
ZONES = ["UTC", "Asia/Tokyo", "America/New_York"]
START = datetime(2026, 11, 28, tzinfo=timezone.utc)


def caps_of(*items):
    return parse_caps(json.dumps(list(items))) if items else ()  # the Lambda refuses an empty list


@st.composite
def cap_dicts(draw, index):
    cap = {"name": f"c{index}", "window": draw(st.sampled_from(["day", "month", "total"])),
           "group_by": draw(st.sampled_from(["device", "device", "device", "account", "region", "tag:team"]))}
    devices = draw(st.sampled_from([None, ["qpu"], ["simulator"], "subset"]))
    if devices == "subset":
        devices = draw(st.lists(st.sampled_from(DEVICES), min_size=1, max_size=3, unique=True))
    if devices:
        cap["devices"] = devices
    if draw(st.booleans()):
        cap["max_shots"] = draw(st.integers(0, 10_000))
    if "max_shots" not in cap or draw(st.booleans()):
        cap["max_cost_usd"] = f"{draw(st.integers(0, 500))}.{draw(st.integers(0, 999999)):06d}"
    cap["on_breach"] = draw(st.sampled_from(["cancel_task", "cancel_queued", "alert_only"]))
    return cap


@st.composite
def worlds(draw):
    caps = caps_of(*[draw(cap_dicts(i)) for i in range(draw(st.integers(0, 3)))])
    zone = load_zone(draw(st.sampled_from(ZONES)))
    t0 = START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 40)))
    t1 = t0 + timedelta(minutes=draw(st.sampled_from([0, 1, 59, 60 * 6, 60 * 24, 60 * 24 * 31])))
    mode = draw(st.sampled_from(N.MODES))

    def counters(now):
        out = {}
        for cap in caps:
            window = window_for(cap.window, now, zone)
            for device in QPUS:
                if draw(st.booleans()):
                    out[(cap.name, window.key, device)] = draw(st.integers(0, 300_000_000))
        return out

    def freezes(now):
        out = []
        for i in range(draw(st.integers(0, 3))):
            until = now + timedelta(minutes=draw(st.integers(-600, 3000)))
            out.append(N.Freeze(f"f{i}", "k", "g", frozenset(draw(st.lists(st.sampled_from(DEVICES), max_size=3))),
                                draw(st.sampled_from([until, None])), lifted=draw(st.booleans())))
        return out

    return {"caps": caps, "zone": zone, "t0": t0, "t1": t1, "mode": mode, "c0": counters(t0),
            "c1": counters(t1), "f0": freezes(t0), "f1": freezes(t1),
            "foreign": draw(st.lists(st.sampled_from(QPUS), unique=True, max_size=2)),
            "garbage": draw(st.lists(st.sampled_from(QPUS), unique=True, max_size=2)),
            "mode0": draw(st.sampled_from([mode, mode, *N.MODES]))}


def targets(world, counters, now):
    return N.mirror_targets(world["caps"], QPUS + [SV1], counters, now, world["zone"])


def prior_state(world):
    """What Braket holds before the run under test: an earlier run's limits (in some mode), plus
    foreign limits and limits with our tag but tags we never wrote."""
    t0 = targets(world, world["c0"], world["t0"])
    first = N.plan(world["mode0"], OWNER, t0, world["f0"], [], world["t0"])
    limits = N.apply(first, [])
    taken = {l.device_arn for l in limits}
    for i, device in enumerate(world["foreign"]):
        if device not in taken:
            limits.append(N.NativeLimit(f"arn:foreign:{i}", device, 100 * N.CENT, 5 * N.CENT, 0,
                                        {"owner": "someone-else"}))
            taken.add(device)
    for i, device in enumerate(world["garbage"]):
        if device not in taken:
            limits.append(N.NativeLimit(f"arn:garbage:{i}", device, 7 * N.CENT, 0, 0,
                                        {N.OWNER_TAG: OWNER, N.WINDOW_TAG: "day:1999-01-01"}))
    return limits


def run(world):
    before = prior_state(world)
    goal = targets(world, world["c1"], world["t1"])
    result = N.plan(world["mode"], OWNER, goal, world["f1"], before, world["t1"])
    return before, goal, result, N.apply(result, before)


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(worlds())
def test_never_touches_a_limit_it_does_not_own(world):
    before, _goal, result, after = run(world)
    foreign = {l.arn for l in before if not l.owned_by(OWNER)}
    for action in result.actions:
        if isinstance(action, (N.Update, N.Delete)):
            assert action.arn not in foreign, action
    assert foreign <= {l.arn for l in after}, "a foreign limit disappeared"
    foreign_devices = {l.device_arn for l in before if not l.owned_by(OWNER)}
    assert not [a for a in result.actions if isinstance(a, N.Create) and a.device_arn in foreign_devices]


@SETTINGS
@given(worlds())
def test_one_limit_per_device_and_deletes_before_creates(world):
    _before, _goal, result, after = run(world)
    devices = [l.device_arn for l in after]
    assert len(devices) == len(set(devices)), after
    for index, action in enumerate(result.actions):
        if isinstance(action, N.Create):
            later = result.actions[index + 1:]
            assert not [a for a in later if isinstance(a, N.Delete) and a.device_arn == action.device_arn]


@SETTINGS
@given(worlds())
def test_a_frozen_device_has_no_room_until_the_freeze_ends(world):
    before, _goal, result, after = run(world)
    if world["mode"] == N.OFF:
        assert not [l for l in after if l.owned_by(OWNER)], "off leaves no limit of ours"
        return
    foreign_devices = {l.device_arn for l in before if not l.owned_by(OWNER)}
    for freeze in world["f1"]:
        for device in freeze.devices:
            ours = [l for l in after if l.device_arn == device and l.owned_by(OWNER)]
            if not N.is_qpu(device) or device in foreign_devices:
                assert device not in result.frozen  # no limit of ours can hold it: it is cancelled
                continue
            if freeze.active(world["t1"]):
                assert len(ours) == 1 and ours[0].amount_micros == 0, (device, ours)
                assert device in result.frozen
    for device in foreign_devices:
        assert device not in result.frozen


@SETTINGS
@given(worlds())
def test_after_the_boundary_the_limit_is_the_new_windows(world):
    before, goal, result, after = run(world)
    if world["mode"] != N.MIRROR:
        return
    foreign_devices = {l.device_arn for l in before if not l.owned_by(OWNER)}
    active = {d for f in world["f1"] if f.active(world["t1"]) for d in f.devices}
    created = {a.device_arn for a in result.actions if isinstance(a, N.Create)}
    for device, target in goal.items():
        ours = [l for l in after if l.device_arn == device and l.owned_by(OWNER)]
        if device in foreign_devices:
            assert not ours
            assert device in {f.device_arn for f in result.foreign}
            continue
        assert len(ours) == 1, (device, ours)
        limit = ours[0]
        if device in active:  # a freeze is a limit of its own (never an update below spend)
            assert limit.identity == (N.NONE, N.NONE) and limit.frozen
            continue
        assert limit.identity == (target.window_tag, target.caps_fingerprint)
        assert limit.amount_micros == limit.mirror_micros
        if device in created:  # a new limit: the room every mirrored cap has left, in cents
            assert limit.mirror_micros == target.amount_micros
            for cap in N.mirror_caps(world["caps"]):
                if cap.applies_to(device):
                    window = window_for(cap.window, world["t1"], world["zone"])
                    room = cap.max_cost_micros - world["c1"].get((cap.name, window.key, device), 0)
                    assert target.amount_micros <= max(0, room)
            assert target.amount_micros % N.CENT == 0


@SETTINGS
@given(worlds())
def test_nothing_of_ours_where_nothing_is_wanted(world):
    _before, goal, _result, after = run(world)
    active = {d for f in world["f1"] if f.active(world["t1"]) for d in f.devices}
    wanted = (set(goal) if world["mode"] == N.MIRROR else set()) | (active if world["mode"] != N.OFF else set())
    for limit in after:
        if limit.owned_by(OWNER):
            assert limit.device_arn in wanted, limit


@SETTINGS
@given(worlds())
def test_planning_again_changes_nothing(world):
    _before, goal, _result, after = run(world)
    again = N.plan(world["mode"], OWNER, goal, world["f1"], after, world["t1"])
    assert again.empty, again.actions


@SETTINGS
@given(worlds())
def test_a_scoped_plan_touches_only_its_devices(world):
    before = prior_state(world)
    goal = targets(world, world["c1"], world["t1"])
    scoped = N.plan(world["mode"], OWNER, goal, world["f1"], before, world["t1"], devices=[FORTE])
    assert {a.device_arn for a in scoped.actions} <= {FORTE}


# -- examples ------------------------------------------------------------------------------------
DAY_CAP = {"name": "forte-day", "window": "day", "group_by": "device", "devices": [FORTE], "max_cost_usd": "100"}
NOON = datetime(2026, 12, 2, 12, tzinfo=timezone.utc)
UTC = load_zone("UTC")


def test_mirror_takes_what_the_window_spent_before_the_limit_existed():
    caps = caps_of(DAY_CAP)
    goal = N.mirror_targets(caps, [FORTE], {("forte-day", "2026-12-02", FORTE): 37_123_456}, NOON, UTC)
    result = N.plan(N.MIRROR, OWNER, goal, [], [], NOON)
    (create,) = result.actions
    assert create.amount_micros == 62_870_000  # $100 - $37.123456, rounded down to the cent
    assert create.tags[N.WINDOW_TAG] == "day:2026-12-02"
    assert create.tags[N.BASELINE_TAG] == "37.12" and create.tags[N.MIRROR_TAG] == "62.87"


def test_a_cap_of_hybrid_job_time_alone_is_never_mirrored():
    jobs_only = {**DAY_CAP, "name": "jobs", "kinds": ["job"]}
    assert N.mirror_targets(caps_of(jobs_only), [FORTE], {}, NOON, UTC) == {}
    both = {**DAY_CAP, "name": "both", "kinds": ["task", "job"]}
    assert set(N.mirror_targets(caps_of(both), [FORTE], {}, NOON, UTC)) == {FORTE}


def test_freeze_then_unfreeze_makes_new_limits_and_never_updates():
    """A freeze never updates a limit below its spend (Braket may refuse that): it deletes the
    mirror and creates a limit of $0; unfreezing deletes that and creates the mirror again."""
    caps = caps_of(DAY_CAP)
    goal = N.mirror_targets(caps, [FORTE], {}, NOON, UTC)
    limits = N.apply(N.plan(N.MIRROR, OWNER, goal, [], [], NOON), [])
    freeze = N.Freeze("forte-day", "2026-12-02", FORTE, frozenset({FORTE}), datetime(2026, 12, 3, tzinfo=timezone.utc))
    frozen = N.plan(N.MIRROR, OWNER, goal, [freeze], limits, NOON)
    assert [(type(a), getattr(a, "amount_micros", None)) for a in frozen.actions] == [(N.Delete, None), (N.Create, 0)]
    assert frozen.actions[1].period == (NOON - N.PERIOD_LEAD, freeze.until)
    limits = N.apply(frozen, limits)
    lifted = replace(freeze, lifted=True)
    thawed = N.plan(N.MIRROR, OWNER, goal, [lifted], limits, NOON + timedelta(minutes=5))
    assert [(type(a), getattr(a, "amount_micros", None)) for a in thawed.actions] == [
        (N.Delete, None), (N.Create, 100_000_000)]


def test_a_freeze_at_the_one_cent_floor_is_a_freeze():
    """Where Braket refuses 0.00 the adapter creates the floor: the plan keeps it, no churn."""
    freeze = N.Freeze("acct", "2026-12-02", "123456789012", frozenset({FORTE}), datetime(2026, 12, 3, tzinfo=timezone.utc))
    (create,) = N.plan(N.FREEZE, OWNER, {}, [freeze], [], NOON).actions
    floor = N.NativeLimit("arn:floor", FORTE, N.FREEZE_FLOOR_MICROS, tags=dict(create.tags),
                          period_start=create.period[0], period_end=create.period[1])
    assert N.plan(N.FREEZE, OWNER, {}, [freeze], [floor], NOON).empty
    assert not replace(floor, amount_micros=N.FREEZE_FLOOR_MICROS + N.CENT).frozen


def test_a_limit_whose_period_ended_or_has_not_begun_is_replaced():
    """Braket may refuse every task outside a limit's period: one of ours never outlives it."""
    caps = caps_of(DAY_CAP)
    goal = N.mirror_targets(caps, [FORTE], {}, NOON, UTC)
    (create,) = N.plan(N.MIRROR, OWNER, goal, [], [], NOON).actions
    assert create.period == (NOON - N.PERIOD_LEAD, datetime(2026, 12, 3, tzinfo=timezone.utc))
    good = N.NativeLimit("arn:ok", FORTE, create.amount_micros, tags=dict(create.tags),
                         period_start=create.period[0], period_end=create.period[1])
    assert N.plan(N.MIRROR, OWNER, goal, [], [good], NOON).empty
    for bad in (replace(good, period_end=NOON), replace(good, period_start=NOON + timedelta(hours=1))):
        actions = N.plan(N.MIRROR, OWNER, goal, [], [bad], NOON).actions
        assert [type(a) for a in actions] == [N.Delete, N.Create], bad
    total = N.plan(N.FREEZE, OWNER, {}, [N.Freeze("t", "total", FORTE, frozenset({FORTE}), None)], [], NOON)
    assert total.actions[0].period[1] == N.FAR_END


def test_freeze_ends_at_the_boundary_and_freeze_only_mode_deletes():
    end = datetime(2026, 12, 3, tzinfo=timezone.utc)
    freeze = N.Freeze("acct", "2026-12-02", "123456789012", frozenset({FORTE, AQUILA}), end)
    limits = N.apply(N.plan(N.FREEZE, OWNER, {}, [freeze], [], NOON), [])
    assert sorted((l.device_arn, l.amount_micros) for l in limits) == sorted([(FORTE, 0), (AQUILA, 0)])
    after = N.plan(N.FREEZE, OWNER, {}, [freeze], limits, end)
    assert sorted(type(a).__name__ for a in after.actions) == ["Delete", "Delete"]


def test_a_foreign_limit_is_left_alone_and_reported():
    caps = caps_of(DAY_CAP)
    goal = N.mirror_targets(caps, [FORTE], {}, NOON, UTC)
    theirs = N.NativeLimit("arn:aws:braket:us-east-1:123456789012:spending-limit/x", FORTE, 5_000_000, tags={})
    result = N.plan(N.MIRROR, OWNER, goal, [], [theirs], NOON)
    assert result.actions == [] and [f.device_arn for f in result.foreign] == [FORTE]


def test_breach_scopes():
    acct, region, device, team = caps_of(
        {"name": "a", "window": "day", "group_by": "account", "devices": ["qpu"], "max_shots": 10},
        {"name": "r", "window": "month", "group_by": "region", "max_cost_usd": "5"},
        {"name": "d", "window": "day", "group_by": "device", "max_shots": 10},
        {"name": "t", "window": "day", "group_by": "tag:team", "max_shots": 10})
    universe = N.known_qpus([], QPUS + [SV1], [])
    day = window_for("day", NOON, UTC)
    assert N.freeze_for_breach(acct, "123456789012", day, universe).devices == frozenset(QPUS)
    assert N.freeze_for_breach(region, "us-east-1", day, universe).devices == frozenset({FORTE, AQUILA})
    assert N.freeze_for_breach(device, GARNET, day, universe).devices == frozenset({GARNET})
    assert N.freeze_for_breach(device, SV1, day, universe) is None  # simulators have no native limits
    assert N.freeze_for_breach(team, "alpha", day, universe) is None  # would stop every other team
    assert N.freeze_for_breach(acct, "123456789012", day, universe).until == day.end


def test_known_qpus_keeps_guarded_regions_only():
    assert N.known_qpus([], QPUS + [SV1], ["us-east-1"]) == {FORTE, AQUILA}


@pytest.mark.parametrize("micros,text", [(0, "0.00"), (9_999, "0.00"), (10_000, "0.01"), (123_456_789, "123.45")])
def test_usd_text_rounds_down_to_the_cent(micros, text):
    assert N.usd_text(micros) == text


def test_drift_compares_braket_since_creation_with_the_counter_since_creation():
    limit = N.NativeLimit("arn", FORTE, 50_000_000, total_micros=8_000_000, queued_micros=2_000_000,
                          tags={N.BASELINE_TAG: "30.00"})
    assert N.drift_micros(limit, 40_000_000) == 0
    assert N.drift_micros(limit, 41_500_000) == -1_500_000
    assert N.drift_micros(N.NativeLimit("arn", FORTE, 0, tags={N.BASELINE_TAG: "none"}), 1) is None


def test_a_client_without_the_spending_limit_methods_is_native_unavailable():
    """The adapter's own guard (a stand-in client; the real one, a boto3 client on a model without
    the operations, is tests/integration/test_native_unavailable.py)."""
    from braket_guard.native.spending_limits import NativeUnavailable, SpendingLimits

    class OldClient:  # no ``meta``: only the missing method can tell
        def __getattr__(self, name):
            raise AttributeError(f"'Braket' object has no attribute '{name}'")
    with pytest.raises(NativeUnavailable):
        SpendingLimits(lambda region: OldClient()).search("us-east-1", [FORTE])
