"""Native spending limits end to end: the real handler and CLI, DynamoDB and SNS in moto, the
Braket emulator's spending-limit API and its check at CreateQuantumTask (real boto3 over HTTP).
Tasks are created now (real clock): a limit counts only tasks created after it existed."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from braket_guard import cli
from braket_guard import handler
from braket_guard.native import rules as N
from braket_guard.ops.operations import run_action
from braket_sandbox.braket.common import BraketApiError

from .conftest import ACCOUNT, AQUILA, FORTE, REGION

FORTE_ENT = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1"


def device_cap(usd="10", **extra):
    return {"name": "forte-day", "window": "day", "group_by": "device", "devices": ["qpu"],
            "max_cost_usd": usd, **extra}


def configure(harness, caps, native="freeze", rate=None):
    harness.configure(caps)
    harness.monkeypatch.setenv("BRAKET_GUARD_NATIVE_LIMITS", native)
    if rate is not None:
        harness.monkeypatch.setenv("BRAKET_GUARD_CANCELS_PER_SECOND", rate)


def create_and_invoke(harness, device=FORTE, shots=100):
    """A task created now through the emulator, and the handler run on its CREATED event."""
    arn = harness.emu.create_task(REGION, device, shots, created_at=datetime.now(timezone.utc))
    events = [e for e in harness.take_events() if e["detail"]["quantumTaskArn"] == arn]
    return arn, harness.invoke(events[0])


def limits_of(harness, device=None):
    return [l for l in harness.emu.spending_limits(REGION) if device is None or l["deviceArn"] == device]


def refused_at_the_door(harness, device=FORTE, shots=1):
    try:
        harness.emu.create_task(REGION, device, shots, created_at=datetime.now(timezone.utc))
    except BraketApiError as exc:
        harness.take_events()
        return str(exc)
    harness.take_events()
    return None


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_device_breach_freezes_that_device_and_braket_refuses_at_the_door(harness):
    configure(harness, [device_cap()])
    _a, first = create_and_invoke(harness)  # $8.30 of $10
    assert first["decision"] == "admitted" and limits_of(harness) == []
    b, second = create_and_invoke(harness)
    assert second["decision"] == "rejected" and second["cancelled"] is True
    (limit,) = limits_of(harness)
    assert limit["deviceArn"] == FORTE and limit["spendingLimit"] == 0
    assert limit["tags"][N.OWNER_TAG] == harness.table
    refusal = refused_at_the_door(harness)
    assert refusal and "exceeds the remaining spending limit" in refusal
    assert refused_at_the_door(harness, AQUILA) is None, "a device group freezes only its own device"
    # redelivery and the alerts step find the freeze: no second limit, no second create
    harness.emu.reset_calls()
    events = [harness.emu.event_for(b, "CREATED")]
    harness.invoke(events[0])
    assert harness.emu.calls.get("CreateSpendingLimit", 0) == 0 and len(limits_of(harness)) == 1
    mail = " ".join(json.dumps(m) for m in harness.emails())
    assert "refuses new tasks at CreateQuantumTask" in mail and "braket-guard unfreeze forte-day" in mail


def test_an_account_breach_freezes_every_known_qpu_of_the_guarded_regions(harness):
    configure(harness, [{"name": "acct", "window": "day", "group_by": "account", "max_cost_usd": "10"}])
    create_and_invoke(harness)
    _b, second = create_and_invoke(harness)
    assert second["decision"] == "rejected"
    frozen = {l["deviceArn"]: l["spendingLimit"] for l in limits_of(harness)}
    assert frozen == {FORTE: 0, FORTE_ENT: 0, AQUILA: 0}  # the price book's QPUs in us-east-1
    assert refused_at_the_door(harness, AQUILA)


def test_tag_caps_keep_cancelling_and_monitor_mode_never_freezes(harness):
    configure(harness, [{"name": "team", "window": "day", "group_by": "tag:team", "max_cost_usd": "10"}])
    create_and_invoke(harness)
    _b, second = create_and_invoke(harness)
    assert second["decision"] == "rejected" and second["cancelled"] is True
    assert limits_of(harness) == []
    configure(harness, [device_cap()], native="mirror_and_freeze")
    harness.monkeypatch.setenv("BRAKET_GUARD_MODE", "monitor")
    create_and_invoke(harness, AQUILA, 1000)  # $10.30 alone: over the cap, monitor only records it
    assert limits_of(harness) == []


def test_a_foreign_limit_is_left_alone_and_the_guard_falls_back_to_cancelling(harness):
    theirs = harness.emu.create_spending_limit(REGION, FORTE, "500.00", tags={"team": "finance"})
    configure(harness, [device_cap()], native="mirror_and_freeze")
    create_and_invoke(harness)
    _b, second = create_and_invoke(harness)
    assert second["decision"] == "rejected" and second["cancelled"] is True
    (limit,) = limits_of(harness, FORTE)
    assert limit["spendingLimitArn"] == theirs and limit["spendingLimit"] == 500
    mail = " ".join(json.dumps(m) for m in harness.emails())
    assert "does not own" in mail and "keeps cancelling" in mail
    sync = run_action(handler.runtime().guard, {"braket_guard": "native_limits"})
    assert [f["device"] for f in sync["foreign"]] == [FORTE]
    code, out, _ = run_cli("status", "--region", REGION)
    assert code == 0 and "not the guard's" in out


def test_unfreeze_lifts_early_and_the_window_is_not_frozen_again(harness):
    configure(harness, [device_cap()])
    create_and_invoke(harness)
    b, _ = create_and_invoke(harness)
    assert refused_at_the_door(harness)
    code, out, err = run_cli("unfreeze", "forte-day", "--region", REGION)
    assert code == 0, err
    assert "Lifted 1 freeze" in out and limits_of(harness) == []
    assert refused_at_the_door(harness) is None, "after unfreeze Braket accepts tasks again"
    _c, third = create_and_invoke(harness)
    assert third["decision"] == "rejected" and third["cancelled"] is True  # the guard still cancels
    assert limits_of(harness) == [], "a lifted freeze holds for the rest of the window"
    code, out, _ = run_cli("explain", b, "--region", REGION)
    assert code == 0 and "Refused at the door" in out and "lifted early" in out
    code, out, _ = run_cli("unfreeze", "forte-day", "--region", REGION)
    assert code == 0 and "nothing to lift" in out


def test_mirror_rolls_the_limit_at_the_window_boundary(harness):
    configure(harness, [device_cap("100", devices=[FORTE])], native="mirror_and_freeze")
    create_and_invoke(harness)  # $8.30 counted before any limit exists
    guard = handler.runtime().guard
    now = datetime.now(timezone.utc)
    run_action(guard, {"braket_guard": "native_limits"}, now=now)
    (limit,) = limits_of(harness)
    assert limit["spendingLimit"] == Decimal("91.70")  # $100 less what the day counted before it
    today = now.date().isoformat()
    assert limit["tags"][N.WINDOW_TAG] == f"day:{today}" and limit["tags"][N.BASELINE_TAG] == "8.30"
    # a task Braket counts and the guard admits: no drift
    create_and_invoke(harness)
    report = run_action(guard, {"braket_guard": "native_limits"}, now=now)
    assert report["drift"] == [{"device": FORTE, "drift_usd": "0.00", "braket_usd": "8.30"}]
    assert report["created"] == report["updated"] == report["deleted"] == 0
    # the next day: a new limit for the new window, the full cap (nothing counted yet)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), timezone.utc) + timedelta(seconds=5)
    rolled = run_action(guard, {"braket_guard": "native_limits"}, now=tomorrow)
    assert (rolled["deleted"], rolled["created"]) == (1, 1)
    (new,) = limits_of(harness)
    assert new["spendingLimitArn"] != limit["spendingLimitArn"] and new["spendingLimit"] == Decimal("100.00")
    assert new["tags"][N.WINDOW_TAG] == f"day:{(now.date() + timedelta(days=1)).isoformat()}"
    assert new["totalSpend"] == 0 and new["queuedSpend"] == 0


def test_mirror_stops_the_loop_at_the_door_before_the_guard_sees_a_breach(harness):
    configure(harness, [device_cap("20", devices=[FORTE])], native="mirror_and_freeze")
    run_action(handler.runtime().guard, {"braket_guard": "native_limits"})
    (limit,) = limits_of(harness)
    assert limit["spendingLimit"] == Decimal("20.00")
    made = 0
    while refused_at_the_door(harness, FORTE, 100) is None:  # each $8.30; the third would pass $20
        made += 1
        assert made < 5, "the native limit never refused"
    assert made == 2


def test_a_freeze_ends_at_the_boundary_with_the_schedule(harness):
    configure(harness, [device_cap()])
    create_and_invoke(harness)
    create_and_invoke(harness)
    assert limits_of(harness)
    guard = handler.runtime().guard
    now = datetime.now(timezone.utc)
    assert run_action(guard, {"braket_guard": "native_limits"}, now=now)["frozen"] == [FORTE]
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), timezone.utc)
    report = run_action(guard, {"braket_guard": "native_limits"}, now=tomorrow)
    assert report["deleted"] == 1 and report["frozen"] == [] and limits_of(harness) == []


def test_status_shows_limits_and_freezes(harness):
    configure(harness, [device_cap()])
    create_and_invoke(harness)
    create_and_invoke(harness)
    code, out, err = run_cli("status", "--region", REGION, "--json")
    assert code == 0, err
    data = json.loads(out)["native_limits"]
    assert [(l["device"], l["owner"], l["frozen_by"]) for l in data["limits"]] == [
        (FORTE, "guard", f"forte-day#{datetime.now(timezone.utc).date().isoformat()}#{FORTE}")]
    assert [f["active"] for f in data["freezes"]] == [True]
    code, out, _ = run_cli("status", "--region", REGION)
    assert "FROZEN ($0)" in out and "Freezes in force:" in out


def test_native_limits_off_makes_no_spending_limit_call(harness):
    configure(harness, [device_cap()], native="off")
    harness.emu.reset_calls()
    create_and_invoke(harness)
    create_and_invoke(harness)
    run_action(handler.runtime().guard, {"braket_guard": "reconcile"})
    assert not [op for op in harness.emu.calls if "SpendingLimit" in op]


def test_the_digest_names_the_freeze(harness):
    configure(harness, [device_cap()])
    create_and_invoke(harness)
    create_and_invoke(harness)
    harness.emails()  # the breach alert
    today = datetime.now(timezone.utc).date().isoformat()
    summary = run_action(handler.runtime().guard, {"braket_guard": "digest", "date": today, "force": True})
    assert summary["sent"] is True
    text = " ".join(json.dumps(m) for m in harness.emails()[-1:])
    assert "Native spending limits:" in text and "FROZEN by forte-day" in text


def test_the_first_admission_of_a_window_creates_the_mirror(harness):
    configure(harness, [device_cap("20", devices=[FORTE])], native="mirror_and_freeze")
    harness.emu.reset_calls()
    create_and_invoke(harness)  # admitted: $8.30, and the device gets its limit
    (limit,) = limits_of(harness)
    assert limit["spendingLimit"] == Decimal("11.70") and limit["tags"][N.BASELINE_TAG] == "8.30"
    create_and_invoke(harness)  # the container knows: no second search
    assert harness.emu.calls.get("SearchSpendingLimits") == 1
    assert refused_at_the_door(harness, FORTE, 100)  # $11.70 - $8.30 left: the next $8.30 task is refused


# -- issue 19: native limits that can never lock an account out ----------------------------------
def owned(harness):
    return [l for l in limits_of(harness) if l["tags"].get(N.OWNER_TAG) == harness.table]


def freeze_forte(harness, native="freeze"):
    """Two $8.30 tasks on a $10 device cap: the second breaches and freezes Forte."""
    configure(harness, [device_cap()], native=native)
    create_and_invoke(harness)
    _b, second = create_and_invoke(harness)
    assert second["decision"] == "rejected" and owned(harness), "the breach made no freeze"


def mirror_forte(harness):
    """A $10 mirror on Forte, made by the first admission: it holds $1.70 after one $8.30 task."""
    configure(harness, [device_cap()], native="mirror_and_freeze")
    create_and_invoke(harness)
    assert [l["spendingLimit"] for l in owned(harness)] == [Decimal("1.70")]
    assert refused_at_the_door(harness, FORTE, 100), "the mirror refuses the next $8.30 task"


@pytest.mark.parametrize("made_by", [freeze_forte, mirror_forte])
def test_monitor_mode_lifts_every_freeze_and_mirror_at_the_next_schedule_run(harness, made_by):
    """Item 1: a freeze or a mirror made while enforcing does not outlive a switch to monitor."""
    made_by(harness)
    theirs = harness.emu.create_spending_limit(REGION, AQUILA, "500.00", tags={"team": "finance"})
    harness.monkeypatch.setenv("BRAKET_GUARD_MODE", "monitor")
    report = handler.lambda_handler({"braket_guard": "native_limits"}, None)
    assert report["deleted"] >= 1 and owned(harness) == []
    assert refused_at_the_door(harness, FORTE, 100) is None, "monitor mode never blocks a task"
    assert [l["spendingLimitArn"] for l in limits_of(harness)] == [theirs], "a hand-made limit stays"


def test_native_limits_off_removes_every_limit_of_the_guard_at_reconciliation(harness):
    """Item 2 (Lambda side): switching native limits off, the next reconciliation deletes them."""
    freeze_forte(harness)
    theirs = harness.emu.create_spending_limit(REGION, AQUILA, "500.00", tags={"team": "finance"})
    harness.monkeypatch.setenv("BRAKET_GUARD_NATIVE_LIMITS", "off")
    summary = handler.lambda_handler({"braket_guard": "reconcile"}, None)
    assert summary["native_limits"]["deleted"] == 1 and owned(harness) == []
    assert [l["spendingLimitArn"] for l in limits_of(harness)] == [theirs]
    assert harness.item("NATIVE", "OWNS"), "the ownership marker is written before the first create"


def test_native_cleanup_deletes_every_limit_of_the_guard_whatever_the_setting(harness):
    """Uninstall: terraform's destroy-time invocation, in monitor mode with native limits off."""
    freeze_forte(harness)
    theirs = harness.emu.create_spending_limit(REGION, AQUILA, "500.00", tags={"team": "finance"})
    harness.monkeypatch.setenv("BRAKET_GUARD_MODE", "monitor")
    harness.monkeypatch.setenv("BRAKET_GUARD_NATIVE_LIMITS", "off")
    for action in ("create", "update"):
        assert handler.lambda_handler({"braket_guard": "native_cleanup", "tf": {"action": action, "prev_input": {}}},
                                      None) == {"action": "native_cleanup", "skipped": action}
    assert len(owned(harness)) == 1, "apply-time calls change nothing"
    done = handler.lambda_handler({"braket_guard": "native_cleanup", "tf": {"action": "delete", "prev_input": {}}}, None)
    assert done == {"action": "native_cleanup", "deleted": 1, "remaining": [], "errors": []}
    assert owned(harness) == [] and [l["spendingLimitArn"] for l in limits_of(harness)] == [theirs]
    assert handler.lambda_handler({"braket_guard": "native_cleanup"}, None)["deleted"] == 0  # by hand, again


def test_native_cleanup_fails_loudly_when_a_limit_remains(harness):
    freeze_forte(harness)
    (limit,) = owned(harness)
    harness.emu.fail_next("DeleteSpendingLimit", 50, "AccessDeniedException")
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler({"braket_guard": "native_cleanup", "tf": {"action": "delete"}}, None)
    assert type(excinfo.value).__name__ == "CleanupIncomplete" and limit["spendingLimitArn"] in str(excinfo.value)
    harness.emu.clear_faults()
    assert handler.lambda_handler({"braket_guard": "native_cleanup", "tf": {"action": "delete"}}, None)["remaining"] == []


@pytest.mark.parametrize("tf", [{"action": "destroy"}, "delete", {"prev_input": {}}])
def test_native_cleanup_with_a_bad_tf_value_is_dropped(harness, tf):
    configure(harness, [device_cap()])
    answer = handler.lambda_handler({"braket_guard": "native_cleanup", "tf": tf}, None)
    assert answer["decision"] == "dropped" and "tf.action" in answer["reason"]


def test_a_permanent_refusal_is_recorded_per_device_and_never_delays_the_next_cancel(harness):
    """Item 4: DeviceRetired on the freeze is recorded for a day; later rejected tasks of the
    runaway make no spending-limit call before their cancel; one alert; status shows it."""
    configure(harness, [device_cap()])
    create_and_invoke(harness)
    harness.emu.fail_next("CreateSpendingLimit", 1, "DeviceRetiredException")
    _b, second = create_and_invoke(harness)
    assert second["decision"] == "rejected" and second["cancelled"] is True and owned(harness) == []
    broken = harness.item("NATIVE", f"BROKEN#{FORTE}")
    assert broken["code"]["S"] == "DeviceRetiredException" and int(broken["expires_at"]["N"]) > 0
    harness.emu.reset_calls()
    for _ in range(3):
        _c, third = create_and_invoke(harness)
        assert third["decision"] == "rejected" and third["cancelled"] is True
    assert not [op for op in harness.emu.calls if "SpendingLimit" in op], harness.emu.calls
    told = [m for m in harness.emails() if "refuses a native limit" in m["Subject"]]
    assert len(told) == 1 and "DeviceRetiredException" in told[0]["Message"]
    code, out, _ = run_cli("status", "--region", REGION)
    assert code == 0 and "DeviceRetiredException" in out


def test_a_transient_error_before_the_cancel_is_tried_once_and_retried_after_it(harness):
    """A throttled freeze on the task path costs one try per call; the alerts step, after the
    cancel, retries it with backoff."""
    configure(harness, [device_cap()])
    create_and_invoke(harness)
    harness.emu.reset_calls()
    harness.emu.fail_next("SearchSpendingLimits", 1, "ThrottlingException")
    _b, second = create_and_invoke(harness)
    assert second["decision"] == "rejected" and second["cancelled"] is True
    assert len(owned(harness)) == 1, "the alerts step retried the freeze after the cancel"


def test_a_refusal_whose_alert_a_crash_lost_is_told_by_the_next_schedule_run_once(harness):
    configure(harness, [device_cap()])
    guard = handler.runtime().guard
    guard.native._record_broken(FORTE, "DeviceRetiredException", "Device is retired", datetime.now(timezone.utc))
    guard.native.broken_found.clear()  # the process died before its alert
    for _ in range(2):
        handler.lambda_handler({"braket_guard": "native_limits"}, None)
    told = [m for m in harness.emails() if "refuses a native limit" in m["Subject"]]
    assert len(told) == 1 and FORTE in told[0]["Message"]
