"""Braket emulator: EventBridge event shapes, ordering, event_for and the on_event callback."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import uuid

import pytest

from sandbox_helpers import FORTE, GARNET, create

ISO_S = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DETAIL_KEYS = [
    "quantumTaskArn",
    "status",
    "deviceArn",
    "shots",
    "outputS3Bucket",
    "outputS3Directory",
    "createdAt",
    "eventName",
]


def assert_event_shape(event: dict, arn: str, status: str, region: str, device: str, shots: int) -> None:
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert event["version"] == "0"
    assert uuid.UUID(event["id"]).version == 4
    assert event["detail-type"] == "Braket Task State Change"
    assert event["source"] == "aws.braket"
    assert event["account"] == "123456789012"
    assert ISO_S.match(event["time"])
    assert event["region"] == region
    assert event["resources"] == [arn]
    detail = event["detail"]
    terminal = status in ("COMPLETED", "FAILED", "CANCELLED")
    assert list(detail) == DETAIL_KEYS + (["endedAt"] if terminal else [])
    assert detail["quantumTaskArn"] == arn
    assert detail["status"] == status
    assert detail["deviceArn"] == device
    assert detail["shots"] == str(shots) and isinstance(detail["shots"], str)
    assert detail["outputS3Directory"].endswith(arn.rsplit("/", 1)[1])
    assert ISO_MS.match(detail["createdAt"])
    assert detail["eventName"] == ("INSERT" if status == "CREATED" else "MODIFY")
    if terminal:
        assert ISO_MS.match(detail["endedAt"]) and detail["endedAt"] >= detail["createdAt"]
    assert "tags" not in detail  # tags are not in real events


def test_lifecycle_events_over_http(braket, emu):
    received = []
    emu.on_event = received.append
    arn = create(braket("eu-north-1"), GARNET, 300, tags={"team": "x"})
    emu.advance(arn, "QUEUED")
    emu.advance(arn, "RUNNING")
    emu.advance(arn, "COMPLETED")
    assert [e["detail"]["status"] for e in received] == ["CREATED", "QUEUED", "RUNNING", "COMPLETED"]
    for event in received:
        assert_event_shape(event, arn, event["detail"]["status"], "eu-north-1", GARNET, 300)
    assert len({e["id"] for e in received}) == 4
    assert received == emu.events()
    created_at = emu.task(arn)["createdAt"]
    assert received[0]["detail"]["createdAt"] == created_at.strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{created_at.microsecond // 1000:03d}Z"
    )
    assert received[-1]["detail"]["endedAt"] == received[-1]["detail"]["endedAt"]


def test_cancel_and_failure_events(braket, emu):
    client = braket()
    arn = create(client, FORTE, 7)
    emu.advance(arn, "QUEUED")
    client.cancel_quantum_task(quantumTaskArn=arn)
    failed = create(client, FORTE, 8)
    emu.advance(failed, "FAILED")
    events = emu.events()
    assert [(e["resources"][0], e["detail"]["status"]) for e in events] == [
        (arn, "CREATED"),
        (arn, "QUEUED"),
        (arn, "CANCELLING"),
        (arn, "CANCELLED"),
        (failed, "CREATED"),
        (failed, "FAILED"),
    ]
    for event in events:
        shots = 7 if event["resources"][0] == arn else 8
        assert_event_shape(event, event["resources"][0], event["detail"]["status"], "us-east-1", FORTE, shots)


def test_event_matches_the_documented_example_shape(emu):
    created = dt.datetime(2026, 11, 28, 1, 17, 42, 898000, tzinfo=dt.timezone.utc)
    arn = emu.create_task("us-east-1", FORTE, 100, created_at=created, output_s3_bucket="amazon-braket-results")
    event = emu.events()[0]
    assert event["detail"] == {
        "quantumTaskArn": arn,
        "status": "CREATED",
        "deviceArn": FORTE,
        "shots": "100",
        "outputS3Bucket": "amazon-braket-results",
        "outputS3Directory": "tasks/" + arn.rsplit("/", 1)[1],
        "createdAt": "2026-11-28T01:17:42.898Z",
        "eventName": "INSERT",
    }


def test_event_for_crafts_arbitrary_events_without_emitting(emu):
    arn = emu.create_task("us-east-1", FORTE, 100)
    emitted = len(emu.events())
    queued = emu.event_for(arn, "QUEUED")
    assert_event_shape(queued, arn, "QUEUED", "us-east-1", FORTE, 100)
    cancelled = emu.event_for(arn, "CANCELLED")  # endedAt even though the task is not ended
    assert_event_shape(cancelled, arn, "CANCELLED", "us-east-1", FORTE, 100)
    current = emu.event_for(arn)
    assert current["detail"]["status"] == "CREATED" and current["detail"]["eventName"] == "INSERT"
    duplicate = emu.event_for(arn, "QUEUED")
    assert duplicate["id"] != queued["id"] and duplicate["detail"] == queued["detail"]
    assert len(emu.events()) == emitted
    with pytest.raises(ValueError):
        emu.event_for(arn, "EXPLODED")


def test_callback_errors_are_logged_not_raised(braket, emu, caplog):
    def broken(event):
        raise RuntimeError("consumer is down")

    emu.on_event = broken
    with caplog.at_level(logging.ERROR, logger="braket_sandbox.emulator"):
        arn = create(braket())  # the API call still succeeds
        emu.advance(arn, "QUEUED")
    assert emu.task(arn)["status"] == "QUEUED"
    assert "on_event callback failed" in caplog.text and "consumer is down" in caplog.text
    assert len(emu.events()) == 2


def test_callback_may_call_back_into_the_emulator(braket, emu):
    """A guard-like consumer cancels over HTTP from inside the callback: no deadlock."""
    client = braket()
    seen = []

    def guard(event):
        seen.append(event["detail"]["status"])
        if event["detail"]["status"] == "CREATED":
            client.cancel_quantum_task(quantumTaskArn=event["detail"]["quantumTaskArn"])

    emu.on_event = guard
    done = threading.Event()
    result = {}

    def run():
        result["arn"] = create(client)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(5), "deadlock: callback calling the emulator blocked"
    assert emu.task(result["arn"])["status"] == "CANCELLED"
    assert seen == ["CREATED", "CANCELLING", "CANCELLED"]


def test_callback_receives_copies(emu):
    received = []

    def mutate(event):
        event["detail"]["status"] = "MUTATED"
        received.append(event)

    emu.on_event = mutate
    emu.create_task("us-east-1", FORTE, 1)
    assert emu.events()[0]["detail"]["status"] == "CREATED"


def test_events_can_be_cleared_and_skipped(emu):
    emu.create_task("us-east-1", FORTE, 1, emit_event=False)
    assert emu.events() == []
    emu.create_task("us-east-1", FORTE, 1)
    emu.clear_events()
    assert emu.events() == []
