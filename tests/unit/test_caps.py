import json
from decimal import Decimal

import pytest

from braket_guard.core.caps import (UNTAGGED, CapError, needs_tags, parse_caps, plan_charges, used_fraction,
                               warnings_reached)
from braket_guard.core.windows import load_zone

from .conftest import FORTE

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


def caps(*items):
    return parse_caps(json.dumps(list(items)))


def test_full_cap_parses_with_exact_money():
    (cap,) = parse_caps('[{"name": "daily-qpu", "window": "day", "group_by": "device", "devices": ["qpu"],'
                        ' "max_shots": 1000, "max_cost_usd": 49.99, "warn_at": [0.9, 0.5],'
                        ' "on_breach": "cancel_queued"}]')
    assert cap.max_cost_micros == 49_990_000
    assert cap.warn_at == (Decimal("0.5"), Decimal("0.9"))
    assert cap.on_breach == "cancel_queued"
    assert cap.applies_to(FORTE) and not cap.applies_to(SV1)
    assert cap.limits_text() == "1,000 shots / $49.99"


def test_defaults():
    (cap,) = caps({"name": "a", "window": "total", "group_by": "account", "max_shots": 5})
    assert (cap.on_breach, cap.warn_at, cap.devices, cap.max_cost_micros) == ("cancel_task", (), frozenset(), None)


@pytest.mark.parametrize("raw,where", [
    ('', "not set"),
    ('{"name": "a"}', "JSON list"),
    ('[1]', "BRAKET_GUARD_CAPS[0]: must be an object"),
    ('[{', "not valid JSON"),
])
def test_document_level_errors(raw, where):
    with pytest.raises(CapError, match=where.replace("[", r"\[").replace("]", r"\]")):
        parse_caps(raw)


BASE = {"name": "a", "window": "day", "group_by": "account", "max_shots": 10}


@pytest.mark.parametrize("change,field", [
    ({"name": "has space"}, "name"), ({"name": ""}, "name"), ({"name": 7}, "name"),
    ({"window": "week"}, "window"), ({"group_by": "user"}, "group_by"), ({"group_by": "tag:"}, "group_by"),
    ({"devices": "qpu"}, "devices"), ({"devices": ["gpu"]}, "devices[0]"),
    ({"max_shots": -1}, "max_shots"), ({"max_shots": 1.5}, "max_shots"), ({"max_shots": "10"}, "max_shots"),
    ({"max_cost_usd": "ten"}, "max_cost_usd"), ({"max_cost_usd": -1}, "max_cost_usd"),
    ({"max_cost_usd": True}, "max_cost_usd"),
    ({"warn_at": 0.8}, "warn_at"), ({"warn_at": [1.0]}, "warn_at[0]"), ({"warn_at": [0]}, "warn_at[0]"),
    ({"on_breach": "explode"}, "on_breach"), ({"colour": "red"}, "colour"),
])
def test_field_errors_name_the_field(change, field):
    with pytest.raises(CapError) as info:
        caps({**BASE, **change})
    assert f"BRAKET_GUARD_CAPS[0].{field}:" in str(info.value)


def test_cap_needs_a_limit_and_unique_names():
    with pytest.raises(CapError, match=r"\[0\]\.max_shots: a cap needs"):
        caps({"name": "a", "window": "day", "group_by": "account"})
    with pytest.raises(CapError, match=r"\[1\]\.name: duplicate"):
        caps(BASE, BASE)


def test_group_keys(task_event):
    task = task_event()
    zone = load_zone("UTC")
    parsed = caps({"name": "acct", "window": "day", "group_by": "account", "max_shots": 1},
                  {"name": "reg", "window": "month", "group_by": "region", "max_shots": 1},
                  {"name": "dev", "window": "total", "group_by": "device", "max_shots": 1},
                  {"name": "team", "window": "day", "group_by": "tag:team", "max_shots": 1},
                  {"name": "sims", "window": "day", "group_by": "account", "devices": ["simulator"], "max_shots": 1})
    charges = plan_charges(parsed, task, 8_300_000, {"team": "qml"}, zone)
    assert [c.counter_key for c in charges] == [
        ("CAP#acct#2026-11-28", "GROUP#123456789012"), ("CAP#reg#2026-11", "GROUP#us-east-1"), ("CAP#dev#total", f"GROUP#{FORTE}"),
        ("CAP#team#2026-11-28", "GROUP#qml")]
    untagged = plan_charges(parsed, task, 1, {}, zone)
    assert untagged[3].group == UNTAGGED
    assert needs_tags(parsed, FORTE) and not needs_tags(parsed[:3], FORTE)


def test_over_alone(task_event):
    task = task_event(shots="100")
    zone = load_zone("UTC")
    (shot_cap, cost_cap) = caps({"name": "s", "window": "day", "group_by": "account", "max_shots": 99},
                                {"name": "c", "window": "day", "group_by": "account", "max_cost_usd": 8.30})
    s, c = plan_charges((shot_cap, cost_cap), task, 8_300_000, None, zone)
    assert s.over_alone() and not c.over_alone()
    (_, unpriced) = plan_charges((shot_cap, cost_cap), task, None, None, zone)
    assert unpriced.over_alone()  # an unpriceable task is over every cost cap


def test_used_fraction_and_warnings():
    (cap,) = caps({"name": "a", "window": "day", "group_by": "account", "max_shots": 1000,
                   "max_cost_usd": 100, "warn_at": [0.5, 0.8]})
    assert used_fraction(cap, 100, 90_000_000) == Decimal("0.9")
    assert warnings_reached(cap, 100, 90_000_000) == [Decimal("0.5"), Decimal("0.8")]
    assert warnings_reached(cap, 499, 0) == []
    (zero,) = caps({"name": "z", "window": "day", "group_by": "account", "max_shots": 0})
    assert used_fraction(zero, 0, 0) == 0 and used_fraction(zero, 1, 0) == 1


def test_too_many_caps_for_one_transaction():
    many = [{**BASE, "name": f"c{i}"} for i in range(99)]
    with pytest.raises(CapError, match="at most 98 caps"):
        caps(*many)
    assert len(caps(*many[:98])) == 98
