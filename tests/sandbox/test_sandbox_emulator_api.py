"""Braket emulator: each operation through a real boto3 client, errors, regions, Python API."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
from botocore.exceptions import ClientError, ParamValidationError

from braket_sandbox.emulator import BraketEmulator
from braket_sandbox.braket.devices import Device, default_devices
from braket_sandbox.braket.common import BraketApiError
from sandbox_helpers import ANKAA, FORTE, GARNET, NOVEL, SV1, bell_action, create

UTC = dt.timezone.utc


def error_of(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_create_then_get_round_trip(braket, emu):
    client = braket()
    before = dt.datetime.now(UTC)
    arn = create(client, FORTE, 250, tags={"team": "qml", "project": "p1"}, deviceParameters='{"x": 1}')
    assert arn.startswith("arn:aws:braket:us-east-1:123456789012:quantum-task/")
    task = client.get_quantum_task(quantumTaskArn=arn)
    assert task["quantumTaskArn"] == arn
    assert task["status"] == "CREATED"
    assert task["deviceArn"] == FORTE
    assert task["shots"] == 250
    assert task["tags"] == {"team": "qml", "project": "p1"}
    assert task["outputS3Bucket"] == "amazon-braket-test"
    assert task["outputS3Directory"] == "tasks/" + arn.rsplit("/", 1)[1]
    assert task["deviceParameters"] == '{"x": 1}'
    assert "endedAt" not in task and "jobArn" not in task
    created = task["createdAt"]
    assert created.tzinfo is not None  # botocore parsed the ISO-8601 string
    assert before - dt.timedelta(seconds=1) <= created <= dt.datetime.now(UTC)
    assert created.microsecond % 1000 == 0  # millisecond precision
    assert emu.task(arn)["createdAt"] == created


def test_wire_format_of_timestamps_and_create_status(braket, emu):
    arn = create(braket())
    emu.advance(arn, "COMPLETED")
    raw = requests.get(f"{emu.url}/quantum-task/{requests.utils.quote(arn, safe='')}", timeout=5)
    body = raw.json()
    assert raw.status_code == 200
    for field in ("createdAt", "endedAt"):
        assert len(body[field]) == len("2026-11-28T01:17:42.898Z") and body[field].endswith("Z")
    assert body["numSuccessfulShots"] == 100
    unsigned = requests.post(
        f"{emu.url}/quantum-task",
        json={
            "clientToken": "t-1",
            "deviceArn": FORTE,
            "shots": 1,
            "outputS3Bucket": "bkt",
            "outputS3KeyPrefix": "p",
            "action": bell_action(),
        },
        timeout=5,
    )
    assert unsigned.status_code == 201
    assert ":us-east-1:" in unsigned.json()["quantumTaskArn"]  # no SigV4 -> default region


def test_region_comes_from_sigv4_scope(braket, emu):
    eu = braket("eu-north-1")
    arn = create(eu, GARNET, 10)
    assert arn.startswith("arn:aws:braket:eu-north-1:123456789012:quantum-task/")
    assert emu.task(arn)["region"] == "eu-north-1"
    # A task is invisible from another region, as in the real service.
    with pytest.raises(ClientError) as excinfo:
        braket("us-east-1").get_quantum_task(quantumTaskArn=arn)
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)
    # QPUs only from their own region; simulators from any region.
    with pytest.raises(ClientError) as excinfo:
        create(braket("us-east-1"), GARNET)
    assert error_of(excinfo) == ("ValidationException", 400)
    sim_arn = create(braket("us-west-2"), SV1, 1000)
    assert ":us-west-2:" in sim_arn


def test_create_errors(braket, emu):
    client = braket()
    with pytest.raises(ClientError) as excinfo:
        create(client, ANKAA.replace("us-west-1", "us-east-1"))
    assert error_of(excinfo) == ("ValidationException", 400)  # unknown device
    with pytest.raises(ClientError) as excinfo:
        create(braket("us-west-1"), ANKAA)
    assert error_of(excinfo) == ("DeviceRetiredException", 410)
    emu.set_device_status(FORTE, "OFFLINE")
    with pytest.raises(ClientError) as excinfo:
        create(client, FORTE)
    assert error_of(excinfo) == ("DeviceOfflineException", 424)
    assert "offline" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as excinfo:
        create(client, NOVEL, 0, raw=True)  # QPUs need at least one shot (the SDK refuses shots=0 itself)
    assert error_of(excinfo) == ("ValidationException", 400)
    with pytest.raises(ParamValidationError):  # botocore itself rejects negative shots
        create(client, NOVEL, -1, raw=True)
    assert emu.tasks() == []


def test_client_token_is_idempotent_per_region(braket, emu):
    client = braket()
    first = create(client, clientToken="same-token")
    again = create(client, clientToken="same-token")
    other_region = create(braket("us-west-2"), SV1, clientToken="same-token")
    assert first == again != other_region
    assert len(emu.tasks()) == 2
    assert [e["detail"]["status"] for e in emu.events()] == ["CREATED", "CREATED"]


def test_job_token_that_is_a_job_arn_becomes_job_arn(braket, emu):
    job = "arn:aws:braket:us-east-1:123456789012:job/my-job"
    arn = create(braket(), jobToken=job)
    assert braket().get_quantum_task(quantumTaskArn=arn)["jobArn"] == job
    arn2 = create(braket(), jobToken="opaque-token")
    assert "jobArn" not in braket().get_quantum_task(quantumTaskArn=arn2)


def test_get_quantum_task_errors_and_queue_info(braket, emu):
    client = braket()
    with pytest.raises(ClientError) as excinfo:
        client.get_quantum_task(quantumTaskArn="arn:aws:braket:us-east-1:123456789012:quantum-task/nope")
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        client.get_quantum_task(quantumTaskArn="not-an-arn")
    assert error_of(excinfo) == ("ValidationException", 400)
    a, b = create(client), create(client)
    emu.advance(a, "QUEUED")
    emu.advance(b, "QUEUED")
    info_b = client.get_quantum_task(quantumTaskArn=b, additionalAttributeNames=["QueueInfo"])["queueInfo"]
    assert info_b == {"queue": "QUANTUM_TASKS_QUEUE", "position": "2", "queuePriority": "Normal"}
    assert "queueInfo" not in client.get_quantum_task(quantumTaskArn=a)
    device = client.get_device(deviceArn=FORTE)
    assert device["deviceQueueInfo"][0] == {
        "queue": "QUANTUM_TASKS_QUEUE",
        "queueSize": "2",
        "queuePriority": "Normal",
    }


@pytest.mark.parametrize("start", ["CREATED", "QUEUED", "RUNNING"])
def test_cancel_active_task_ends_cancelled(braket, emu, start):
    client = braket()
    arn = create(client)
    if start != "CREATED":
        emu.advance(arn, start)
    response = client.cancel_quantum_task(quantumTaskArn=arn)
    assert response["cancellationStatus"] == "CANCELLING"
    assert response["quantumTaskArn"] == arn
    task = client.get_quantum_task(quantumTaskArn=arn)
    assert task["status"] == "CANCELLED"
    assert task["endedAt"] >= task["createdAt"]
    statuses = [e["detail"]["status"] for e in emu.events()]
    assert statuses[-2:] == ["CANCELLING", "CANCELLED"]


def test_cancel_is_idempotent_and_conflicts_on_finished_tasks(braket, emu):
    client = braket()
    arn = create(client)
    client.cancel_quantum_task(quantumTaskArn=arn)
    emitted = len(emu.events())
    again = client.cancel_quantum_task(quantumTaskArn=arn)
    assert again["cancellationStatus"] == "CANCELLED"
    assert len(emu.events()) == emitted  # no new event

    for final in ("COMPLETED", "FAILED"):
        done = create(client)
        emu.advance(done, final)
        with pytest.raises(ClientError) as excinfo:
            client.cancel_quantum_task(quantumTaskArn=done)
        assert error_of(excinfo) == ("ConflictException", 409)
        assert emu.task(done)["status"] == final

    with pytest.raises(ClientError) as excinfo:
        client.cancel_quantum_task(quantumTaskArn="arn:aws:braket:us-east-1:123456789012:quantum-task/gone")
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)


def test_cancel_can_stay_cancelling(braket, emu):
    emu.cancel_completes = False
    client = braket()
    arn = create(client)
    assert client.cancel_quantum_task(quantumTaskArn=arn)["cancellationStatus"] == "CANCELLING"
    assert emu.task(arn)["status"] == "CANCELLING"
    assert client.cancel_quantum_task(quantumTaskArn=arn)["cancellationStatus"] == "CANCELLING"
    emu.advance(arn, "CANCELLED")
    assert client.get_quantum_task(quantumTaskArn=arn)["status"] == "CANCELLED"


def test_cancel_requires_client_token_on_the_wire(emu):
    arn = emu.create_task("us-east-1", FORTE, 5)
    path = f"{emu.url}/quantum-task/{requests.utils.quote(arn, safe='')}/cancel"
    missing = requests.put(path, json={}, timeout=5)
    assert missing.status_code == 400
    assert missing.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "message" in missing.json()
    assert requests.put(path, json={"clientToken": "c1"}, timeout=5).json()["cancellationStatus"] == "CANCELLING"


def test_get_device_capabilities_and_visibility(braket):
    east, west = braket("us-east-1"), braket("eu-north-1")
    forte = east.get_device(deviceArn=FORTE)
    assert (forte["deviceType"], forte["deviceStatus"], forte["providerName"]) == ("QPU", "ONLINE", "IonQ")
    caps = json.loads(forte["deviceCapabilities"])
    assert caps["service"]["deviceCost"] == {"price": 0.08, "unit": "shot"}
    novel = json.loads(east.get_device(deviceArn=NOVEL)["deviceCapabilities"])
    assert novel["service"]["deviceCost"] == {"price": 0.05, "unit": "shot"}
    for client in (east, west):
        sv1 = client.get_device(deviceArn=SV1)
        assert sv1["deviceType"] == "SIMULATOR"
        assert json.loads(sv1["deviceCapabilities"])["service"]["deviceCost"] == {"price": 0.075, "unit": "minute"}
    assert braket("us-west-1").get_device(deviceArn=ANKAA)["deviceStatus"] == "RETIRED"
    with pytest.raises(ClientError) as excinfo:
        west.get_device(deviceArn=FORTE)
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        east.get_device(deviceArn="arn:aws:braket:us-east-1::device/qpu/none/Nothing")
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)


def test_search_devices_by_region_filters_and_pages(braket):
    east = braket("us-east-1")
    devices = east.search_devices(filters=[])["devices"]
    arns = {d["deviceArn"] for d in devices}
    assert arns == {
        FORTE,
        "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1",
        "arn:aws:braket:us-east-1::device/qpu/quera/Aquila",
        NOVEL,
        SV1,
        "arn:aws:braket:::device/quantum-simulator/amazon/dm1",
    }
    assert set(devices[0]) == {"deviceArn", "deviceName", "providerName", "deviceType", "deviceStatus"}
    only = east.search_devices(filters=[{"name": "deviceArn", "values": [SV1, GARNET]}])["devices"]
    assert [d["deviceArn"] for d in only] == [SV1]  # Garnet lives in eu-north-1
    pages = list(east.get_paginator("search_devices").paginate(filters=[], PaginationConfig={"PageSize": 4}))
    assert [len(p["devices"]) for p in pages] == [4, 2]
    assert {d["deviceArn"] for p in pages for d in p["devices"]} == arns
    qpus = braket("eu-north-1").search_devices(filters=[{"name": "deviceType", "values": ["QPU"]}])["devices"]
    assert {d["providerName"] for d in qpus} == {"IQM", "AQT"}
    with pytest.raises(ClientError) as excinfo:
        east.search_devices(filters=[{"name": "colour", "values": ["red"]}])
    assert error_of(excinfo)[0] == "ValidationException"


def test_default_catalogue_and_custom_devices():
    catalogue = {d.arn: d for d in default_devices()}
    assert len(catalogue) == 11
    assert [d.arn for d in catalogue.values() if d.status != "ONLINE"] == [ANKAA]
    assert catalogue[GARNET].price == 0.00145 and catalogue[GARNET].region == "eu-north-1"
    custom = Device("arn:aws:braket:us-east-1::device/qpu/acme/Tiny", "Tiny", "Acme", price=1.5)
    emu = BraketEmulator(devices=[custom], extra_devices=[Device(SV1, "SV1x", "Amazon Braket", "SIMULATOR")])
    assert [d.arn for d in emu.devices()] == [SV1, custom.arn]
    emu.put_device(Device(custom.arn, "Tiny", "Acme", price=2.0))
    assert emu.device(custom.arn).price == 2.0
    emu.remove_device(custom.arn)
    assert [d.arn for d in emu.devices()] == [SV1]
    with pytest.raises(ValueError):
        emu.set_device_status(SV1, "SLEEPING")


def test_unknown_route_is_reported(emu):
    response = requests.get(f"{emu.url}/jobs", timeout=5)
    assert response.status_code == 404
    assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert emu.calls["Unknown"] == 1
    bad_json = requests.post(f"{emu.url}/quantum-tasks", data=b"{nope", timeout=5)
    assert bad_json.status_code == 400 and bad_json.headers["x-amzn-ErrorType"] == "ValidationException"


def test_python_api(emu):
    old = dt.datetime(2026, 11, 27, 23, 59, 59, 123456, tzinfo=UTC)
    arn = emu.create_task("us-east-1", FORTE, 40, tags={"a": "b"}, created_at=old)
    task = emu.task(arn)
    assert task["createdAt"] == old.replace(microsecond=123000)
    assert task["tags"] == {"a": "b"} and task["status"] == "CREATED"
    task["status"] = "MUTATED"  # a copy
    assert emu.task(arn)["status"] == "CREATED"
    with pytest.raises(BraketApiError) as excinfo:
        emu.create_task("us-east-1", GARNET, 1)
    assert excinfo.value.code == "ValidationException" and excinfo.value.status == 400
    emu.advance(arn, "QUEUED")
    emu.advance(arn, "QUEUED")  # same status: no-op
    emu.advance(arn, "FAILED", failure_reason="calibration")
    assert emu.task(arn)["failureReason"] == "calibration"
    assert emu.task(arn)["endedAt"] is not None
    with pytest.raises(ValueError):
        emu.advance(arn, "RUNNING")  # out of a terminal state
    with pytest.raises(ValueError):
        emu.advance(arn, "CREATED")
    with pytest.raises(KeyError):
        emu.advance("arn:aws:braket:us-east-1:123456789012:quantum-task/x", "QUEUED")
    other = emu.create_task("eu-north-1", GARNET, 3, emit_event=False)
    assert emu.cancel_task(other) == "CANCELLING"
    assert [t["quantumTaskArn"] for t in emu.tasks()] == [arn, other]
    assert [t["quantumTaskArn"] for t in emu.tasks("eu-north-1")] == [other]
    assert emu.calls == {}  # the Python API is not counted
    emu.reset()
    assert emu.tasks() == [] and emu.events() == []


def test_url_requires_start():
    emu = BraketEmulator()
    with pytest.raises(RuntimeError):
        emu.url  # noqa: B018
    emu.start()
    try:
        assert emu.url.startswith("http://127.0.0.1:")
        assert emu.start() is emu  # idempotent
    finally:
        emu.stop()
        emu.stop()
