"""Retired devices left the built-in rate card (Ankaa-3, TN1): a task on one is priced from
GetDevice's deviceCost, or from the user's override, never refused as unpriceable.

The emulator still has Ankaa-3 (RETIRED); it is put ONLINE here to stand for a task created
before the retirement whose events the guard sees afterwards.
"""

from __future__ import annotations

from braket_guard.core import pricing

ANKAA = "arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3"


def _ankaa_task(harness, shots: int) -> dict:
    harness.monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1,us-west-1")
    harness.emu.set_device_status(ANKAA, "ONLINE")
    harness.emu.create_task("us-west-1", ANKAA, shots)
    (event,) = harness.take_events()
    assert event["detail"]["deviceArn"] == ANKAA and event["detail"]["status"] == "CREATED"
    harness.emu.reset_calls()
    return event


def test_ankaa_3_is_not_in_the_builtin_table():
    assert pricing.build_price_book().lookup(ANKAA) is None


def test_a_retired_device_is_priced_from_get_device(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "on_breach": "cancel_task",
                        "max_cost_usd": 100}])
    event = _ankaa_task(harness, 200)
    summary = harness.invoke(event)
    # The AWS guide's example task: 0.30 + 200 x 0.0009, the emulator's deviceCost for Ankaa-3
    assert summary["decision"] == "admitted" and summary["cost_usd"] == "0.48"
    assert harness.emu.calls["GetDevice"] == 1


def test_a_users_price_for_a_retired_device_wins_without_a_get_device_call(harness):
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "on_breach": "cancel_task",
                        "max_cost_usd": 100}], prices={ANKAA: {"per_shot_usd": "0.001"}})
    event = _ankaa_task(harness, 200)
    summary = harness.invoke(event)
    assert summary["cost_usd"] == "0.50"  # 0.30 default fee + 200 x 0.001
    assert harness.emu.calls["GetDevice"] == 0
