"""Braket emulator: throttling injection, rate limits, call accounting, concurrency."""

from __future__ import annotations

import random
import threading
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from braket_sandbox.emulator import BraketEmulator
from braket_sandbox.braket.faults import DEFAULT_QUOTAS
from sandbox_helpers import FORTE, GARNET, NO_RETRY, SV1, bell_action, create


def attempt(fn, **kwargs) -> bool:
    """True when the call succeeded, False when it was throttled (anything else raises)."""
    try:
        fn(**kwargs)
        return True
    except ClientError as err:
        assert err.response["Error"]["Code"] == "ThrottlingException"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        return False


def test_botocore_raises_throttling_when_retries_are_disabled(braket, emu):
    client = braket(config=NO_RETRY)
    arn = create(client)
    emu.set_fault("CancelQuantumTask", throttle_rate=1.0)
    with pytest.raises(ClientError) as excinfo:
        client.cancel_quantum_task(quantumTaskArn=arn)
    err = excinfo.value.response
    assert err["Error"]["Code"] == "ThrottlingException"
    assert err["Error"]["Message"] == "Rate exceeded"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err["ResponseMetadata"]["RetryAttempts"] == 0
    assert isinstance(excinfo.value, client.exceptions.ThrottlingException)
    assert emu.task(arn)["status"] == "CREATED"  # a throttled call changes nothing
    assert emu.calls["CancelQuantumTask"] == 1
    assert client.get_quantum_task(quantumTaskArn=arn)["status"] == "CREATED"  # other ops unaffected


def test_max_attempts_1_means_one_retry_in_botocore(braket, emu):
    """Pitfall worth knowing: Config(retries={"max_attempts": 1}) still retries once."""
    client = braket(config=Config(retries={"max_attempts": 1}))
    emu.set_fault("SearchDevices", throttle_rate=1.0)
    with pytest.raises(ClientError) as excinfo:
        client.search_devices(filters=[])
    assert excinfo.value.response["Error"]["Code"] == "ThrottlingException"
    assert excinfo.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert emu.calls["SearchDevices"] == 2
    emu.reset_calls()
    with pytest.raises(ClientError):
        braket(config=Config(retries={"max_attempts": 0})).search_devices(filters=[])
    assert emu.calls["SearchDevices"] == 1


def test_fault_pattern_is_deterministic_from_the_seed(braket):
    def pattern(seed: int) -> list[bool]:
        with BraketEmulator() as emu:
            client = boto3.client("braket", region_name="us-east-1", endpoint_url=emu.url, config=NO_RETRY)
            arn = emu.create_task("us-east-1", FORTE, 1)
            emu.set_fault("GetQuantumTask", throttle_rate=0.5, seed=seed)
            result = [attempt(client.get_quantum_task, quantumTaskArn=arn) for _ in range(20)]
            assert emu.calls["GetQuantumTask"] == 20
            return result

    first, again, other = pattern(7), pattern(7), pattern(8)
    assert first == again
    assert first != other
    rng = random.Random(7)
    assert first == [not (rng.random() < 0.5) for _ in range(20)]
    assert 0 < first.count(False) < 20


def test_fault_on_all_operations_and_clear(braket, emu):
    client = braket()
    emu.set_fault("*", throttle_rate=1.0)
    assert not attempt(client.search_devices, filters=[])
    assert not attempt(client.search_quantum_tasks, filters=[])
    emu.clear_faults()
    assert attempt(client.search_devices, filters=[])
    emu.set_fault("SearchDevices", throttle_rate=1.0, error="InternalServiceException")
    with pytest.raises(ClientError) as excinfo:
        client.search_devices(filters=[])
    assert excinfo.value.response["Error"]["Code"] == "InternalServiceException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ValueError):
        emu.set_fault("CancelQuantumTasks")  # typo in the operation name
    with pytest.raises(ValueError):
        emu.set_fault("CancelQuantumTask", throttle_rate=1.5)


def test_cancel_rate_limit_like_the_real_quota(braket, emu):
    """CancelQuantumTask 2/s, burst 20: a burst of 30 gets ~20 through, then ~2 per second."""
    client = braket()
    arns = [emu.create_task("us-east-1", FORTE, 1) for _ in range(30)]
    emu.set_rate_limit("CancelQuantumTask", rate_per_s=2, burst=20)
    started = time.monotonic()
    results = [attempt(client.cancel_quantum_task, quantumTaskArn=a) for a in arns]
    elapsed = time.monotonic() - started
    assert results[:20] == [True] * 20
    assert 20 <= results.count(True) <= 20 + int(elapsed * 2) + 1
    assert emu.calls["CancelQuantumTask"] == 30
    throttled = [a for a, ok in zip(arns, results) if not ok]
    assert emu.throttled == {"CancelQuantumTask": len(throttled)}  # each 429 counted once
    time.sleep(0.55)  # refills one token at 2/s
    assert attempt(client.cancel_quantum_task, quantumTaskArn=throttled[0])
    # Buckets are per region, like the real per-account-per-region quotas.
    sim = emu.create_task("us-west-2", SV1, 1)
    assert attempt(braket("us-west-2").cancel_quantum_task, quantumTaskArn=sim)
    emu.clear_faults()
    assert all(attempt(client.cancel_quantum_task, quantumTaskArn=a) for a in throttled[1:])


def test_default_quotas(emu):
    emu.apply_default_quotas()
    assert DEFAULT_QUOTAS["CancelQuantumTask"] == (2, 20)
    assert emu._limits["CancelQuantumTask"] == (2.0, 20)
    assert emu._limits["*"] == (140.0, 600)


def test_default_create_quota_is_a_burst_of_40_then_20_per_second(braket, emu):
    """CreateQuantumTask 20/s, burst 40, per region; other operations have their own buckets."""
    emu.apply_default_quotas()
    client = braket()
    params = {"deviceArn": FORTE, "shots": 1, "outputS3Bucket": "amazon-braket-test", "outputS3KeyPrefix": "t",
              "action": bell_action()}
    started = time.monotonic()
    results = [attempt(client.create_quantum_task, **params) for _ in range(60)]
    elapsed = time.monotonic() - started
    assert results[:40] == [True] * 40
    assert 40 <= results.count(True) <= 40 + int(elapsed * 20) + 1
    assert emu.throttled["CreateQuantumTask"] == results.count(False) > 0
    assert len(emu.tasks()) == results.count(True)  # a throttled call creates nothing
    assert attempt(braket("eu-north-1").create_quantum_task, **dict(params, deviceArn=GARNET))
    assert attempt(client.get_quantum_task, quantumTaskArn=emu.tasks()[0]["quantumTaskArn"])
    emu.reset_calls()
    assert emu.throttled == {} and emu.calls == {}


def test_calls_count_every_http_call_and_reset(braket, emu):
    client = braket()
    arn = create(client)
    client.get_quantum_task(quantumTaskArn=arn)
    client.get_quantum_task(quantumTaskArn=arn)
    client.get_device(deviceArn=FORTE)
    with pytest.raises(ClientError):
        client.get_quantum_task(quantumTaskArn=arn.replace(arn[-4:], "zzzz"))  # errors count too
    assert emu.calls == {"CreateQuantumTask": 1, "GetQuantumTask": 3, "GetDevice": 1}
    snapshot = emu.calls
    snapshot["GetDevice"] += 10  # a copy: the emulator's counter is untouched
    assert emu.calls["GetDevice"] == 1
    emu.reset_calls()
    assert emu.calls == {}


def test_concurrent_clients_are_safe(braket, emu):
    threads, per_thread = 8, 15
    errors, made = [], []
    lock = threading.Lock()

    def worker():
        client = braket()
        try:
            mine = [create(client, SV1, 1) for _ in range(per_thread)]
            for arn in mine[::2]:
                client.cancel_quantum_task(quantumTaskArn=arn)
            with lock:
                made.extend(mine)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    assert errors == []
    total = threads * per_thread
    assert len(set(made)) == total == len(emu.tasks())
    cancels = threads * ((per_thread + 1) // 2)
    assert emu.calls == {"CreateQuantumTask": total, "CancelQuantumTask": cancels}
    found = [
        t
        for page in braket().get_paginator("search_quantum_tasks").paginate(filters=[])
        for t in page["quantumTasks"]
    ]
    assert len(found) == total
    assert sum(t["status"] == "CANCELLED" for t in found) == cancels
    assert len(emu.events()) == total + 2 * cancels


def test_control_plane_for_subprocess_users(emu):
    base = f"{emu.url}/_sandbox"
    arn = requests.post(f"{base}/tasks", json={"deviceArn": FORTE, "shots": 5}, timeout=5).json()["quantumTaskArn"]
    advanced = requests.post(f"{base}/advance", json={"arn": arn, "status": "QUEUED"}, timeout=5).json()
    assert advanced["status"] == "QUEUED" and advanced["createdAt"].endswith("Z")
    assert [t["quantumTaskArn"] for t in requests.get(f"{base}/tasks", timeout=5).json()] == [arn]
    assert [e["detail"]["status"] for e in requests.get(f"{base}/events", timeout=5).json()] == ["CREATED", "QUEUED"]
    requests.post(f"{base}/fault", json={"operation": "GetDevice", "throttleRate": 1.0}, timeout=5)
    assert requests.get(f"{emu.url}/device/{FORTE}", timeout=5).status_code == 429
    assert requests.get(f"{base}/calls", timeout=5).json() == {"GetDevice": 1}
    requests.post(f"{base}/clear-faults", timeout=5)
    assert requests.get(f"{emu.url}/device/{FORTE}", timeout=5).status_code == 200
    bad = requests.post(f"{base}/advance", json={"arn": arn}, timeout=5)
    assert bad.status_code == 400
    requests.post(f"{base}/reset", timeout=5)
    assert emu.tasks() == [] and emu.calls == {}


def test_fail_next_fails_exactly_n_calls_then_answers(braket, emu):
    client = braket(config=NO_RETRY)
    arn = create(client)
    emu.fail_next("GetQuantumTask", 2)
    assert not attempt(client.get_quantum_task, quantumTaskArn=arn)
    assert not attempt(client.get_quantum_task, quantumTaskArn=arn)
    assert attempt(client.get_quantum_task, quantumTaskArn=arn)
    assert attempt(client.get_quantum_task, quantumTaskArn=arn)
    emu.fail_next("GetDevice", 1, error="InternalServiceException")
    with pytest.raises(ClientError) as excinfo:
        client.get_device(deviceArn=FORTE)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert client.get_device(deviceArn=FORTE)["deviceArn"] == FORTE


def test_ignored_cancel_answers_cancelling_and_the_task_runs_anyway(braket, emu):
    client = braket(config=NO_RETRY)
    arn = create(client)
    emu.advance(arn, "QUEUED")
    emu.clear_events()
    emu.ignore_cancels(arn)
    response = client.cancel_quantum_task(quantumTaskArn=arn, clientToken="t-1")
    assert response["cancellationStatus"] == "CANCELLING"
    assert [e["detail"]["status"] for e in emu.events()] == ["CANCELLING"]
    emu.advance(arn, "RUNNING")
    emu.advance(arn, "COMPLETED")
    assert client.get_quantum_task(quantumTaskArn=arn)["status"] == "COMPLETED"
    emu.clear_faults()
    other = create(client)
    client.cancel_quantum_task(quantumTaskArn=other, clientToken="t-2")
    assert emu.task(other)["status"] == "CANCELLED"
