import copy
from datetime import datetime, timezone

import pytest

from braket_guard.core.events import EventError, parse_event

from .conftest import FORTE, TASK, make_event


def test_parses_the_documented_example():
    task = parse_event(make_event())
    assert task.task_arn == TASK
    assert (task.region, task.account, task.status, task.device_arn) == ("us-east-1", "123456789012", "CREATED", FORTE)
    assert task.shots == 100
    assert task.created_at == datetime(2026, 11, 28, 1, 17, 42, 898000, tzinfo=timezone.utc)
    assert task.device_region == "us-east-1"


def test_simulator_runs_in_the_task_region():
    task = parse_event(make_event(deviceArn="arn:aws:braket:::device/quantum-simulator/amazon/sv1",
                                  quantumTaskArn=TASK.replace("us-east-1", "eu-west-2")))
    assert task.device_region == "eu-west-2"


def test_integer_shots_accepted():
    assert parse_event(make_event(shots=7)).shots == 7
    assert parse_event(make_event(shots="0")).shots == 0


@pytest.mark.parametrize("mutate,field", [
    (lambda e: e.update(source="aws.ec2"), "source"),
    (lambda e: e.update({"detail-type": "Braket Job State Change"}), "detail-type"),
    (lambda e: e.pop("detail"), "detail"),
    (lambda e: e.update(detail="text"), "detail"),
    (lambda e: e["detail"].pop("quantumTaskArn"), "detail.quantumTaskArn"),
    (lambda e: e["detail"].update(quantumTaskArn="arn:aws:braket:us-east-1:123:quantum-task/x"), "detail.quantumTaskArn"),
    (lambda e: e["detail"].update(status="EXPLODED"), "detail.status"),
    (lambda e: e["detail"].update(status=None), "detail.status"),
    (lambda e: e["detail"].update(deviceArn="arn:aws:ec2:::instance/i-1"), "detail.deviceArn"),
    (lambda e: e["detail"].update(shots="-5"), "detail.shots"),
    (lambda e: e["detail"].update(shots="1e3"), "detail.shots"),
    (lambda e: e["detail"].update(shots=1.5), "detail.shots"),
    (lambda e: e["detail"].update(shots=True), "detail.shots"),
    (lambda e: e["detail"].update(shots=None), "detail.shots"),
    (lambda e: e["detail"].update(shots=-1), "detail.shots"),
    (lambda e: e["detail"].update(shots="99999999999"), "detail.shots"),
    (lambda e: e["detail"].update(shots="１００"), "detail.shots"),
    (lambda e: e["detail"].update(shots=" 100"), "detail.shots"),
    (lambda e: e["detail"].update(status=["CREATED"]), "detail.status"),
    (lambda e: e["detail"].update(createdAt="9999-12-31T12:00:00Z"), "detail.createdAt"),
    (lambda e: e["detail"].update(createdAt="0001-01-01T00:30:00+01:00"), "detail.createdAt"),
    (lambda e: e["detail"].update(createdAt="28/11/2026"), "detail.createdAt"),
    (lambda e: e["detail"].pop("createdAt"), "detail.createdAt"),
])
def test_malformed_events_name_the_field(mutate, field):
    event = copy.deepcopy(make_event())
    mutate(event)
    with pytest.raises(EventError) as info:
        parse_event(event)
    assert info.value.field == field


@pytest.mark.parametrize("event", [None, [], "event", 42])
def test_non_objects_rejected(event):
    with pytest.raises(EventError, match="event"):
        parse_event(event)
