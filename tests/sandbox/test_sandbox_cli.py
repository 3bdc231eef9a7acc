"""Each server as a subprocess: one READY line on stdout, serves, exits 0 on SIGTERM/SIGINT."""

from __future__ import annotations

import json
import os
import queue
import signal
import time
import socket
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest
import requests

from sandbox_helpers import FORTE, NO_RETRY, SV1 as SV1_ARN, bell_action

ACTION = bell_action()

SANDBOX = str(Path(__file__).resolve().parents[2] / "sandbox")


def spawn(module: str, *args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SANDBOX + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", f"braket_sandbox.{module}", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=20)
    except queue.Empty:
        proc.kill()
        raise AssertionError(f"{module} printed no READY line: {proc.stderr.read()}")
    assert line.startswith("READY http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, line.split()[1]


def finish(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, out, err


def test_emulator_subprocess(tmp_path):
    events_log = tmp_path / "events.jsonl"
    proc, url = spawn("emulator", "--no-devices", "--events-log", str(events_log), "--page-size", "1")
    try:
        client = boto3.client("braket", region_name="us-east-1", endpoint_url=url, config=NO_RETRY)
        arn = client.create_quantum_task(
            deviceArn=FORTE, shots=3, outputS3Bucket="bkt", outputS3KeyPrefix="p", action=ACTION
        )["quantumTaskArn"]
        requests.post(f"{url}/_sandbox/advance", json={"arn": arn, "status": "QUEUED"}, timeout=5)
        assert client.get_quantum_task(quantumTaskArn=arn)["status"] == "QUEUED"
        client.create_quantum_task(deviceArn=FORTE, shots=3, outputS3Bucket="bkt", outputS3KeyPrefix="p", action=ACTION)
        assert len(client.search_quantum_tasks(filters=[])["quantumTasks"]) == 1  # --page-size
    finally:
        code, out, err = finish(proc)
    assert code == 0, err
    assert out == ""  # nothing after the READY line
    statuses = [json.loads(line)["detail"]["status"] for line in events_log.read_text().splitlines()]
    assert statuses == ["CREATED", "QUEUED", "CREATED"]


def test_emulator_default_quotas_flag():
    proc, url = spawn("emulator", "--default-quotas")
    try:
        client = boto3.client("braket", region_name="us-east-1", endpoint_url=url, config=NO_RETRY)
        # SearchQuantumTasks: 5/s, burst 50. The bucket refills while we call, so how many calls
        # pass before the first throttle depends on the machine's speed: bound it by the clock.
        outcomes, started = [], time.monotonic()
        while "throttled" not in outcomes and len(outcomes) < 2000:
            try:
                client.search_quantum_tasks(filters=[])
                outcomes.append("ok")
            except client.exceptions.ThrottlingException:
                outcomes.append("throttled")
        elapsed = time.monotonic() - started
        assert "throttled" in outcomes, f"{len(outcomes)} calls in {elapsed:.1f}s were never throttled"
        passed = outcomes.index("throttled")
        assert 50 <= passed <= 50 + 5 * elapsed + 1
    finally:
        code, _, err = finish(proc, signal.SIGINT)
    assert code == 0, err


def test_emulator_spending_limit_flags():
    proc, url = spawn("emulator", "--no-devices", "--spending-limit-task-fee", "0", "--spend-kept-across-periods")
    try:
        client = boto3.client("braket", region_name="us-east-1", endpoint_url=url, config=NO_RETRY)
        arn = client.create_spending_limit(deviceArn=FORTE, spendingLimit="0.24")["spendingLimitArn"]
        client.create_quantum_task(deviceArn=FORTE, shots=3, outputS3Bucket="bkt", outputS3KeyPrefix="p",
                                   action=ACTION)  # 3 x 0.08 = 0.24 without a per-task fee: fits exactly
        listed = requests.get(f"{url}/_sandbox/spending-limits", timeout=5).json()
        assert [(x["spendingLimitArn"], x["queuedSpend"]) for x in listed] == [(arn, "0.24")]
        with pytest.raises(client.exceptions.ValidationException):
            client.create_quantum_task(deviceArn=FORTE, shots=1, outputS3Bucket="bkt", outputS3KeyPrefix="p",
                                       action=ACTION)
    finally:
        code, _, err = finish(proc)
    assert code == 0, err


def test_slack_sink_subprocess():
    proc, url = spawn("slack_sink")
    try:
        assert requests.post(f"{url}/services/T/B/X", json={"text": "hi"}, timeout=5).text == "ok"
        assert requests.get(f"{url}/_sandbox/messages", timeout=5).json()[0]["payload"] == {"text": "hi"}
    finally:
        code, _, err = finish(proc, signal.SIGINT)
    assert code == 0, err


def test_moto_subprocess():
    proc, url = spawn("moto_server")
    try:
        ddb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=url, config=NO_RETRY)
        assert ddb.list_tables()["TableNames"] == []
    finally:
        code, _, err = finish(proc)
    assert code == 0, err


@pytest.mark.parametrize("module", ["emulator", "slack_sink"])
def test_fixed_port(module):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=SANDBOX)
    proc = subprocess.Popen(
        [sys.executable, "-m", f"braket_sandbox.{module}", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == f"READY http://127.0.0.1:{port}"
    finally:
        code, _, err = finish(proc)
    assert code == 0, err


def test_emulator_subprocess_writes_results_to_s3(moto):
    """``--results-s3 URL``: a subprocess emulator writes completed tasks' results.json into moto."""
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto.url)
    s3.create_bucket(Bucket="bkt-results")
    proc, url = spawn("emulator", "--no-devices", "--results-s3", moto.url)
    try:
        client = boto3.client("braket", region_name="us-east-1", endpoint_url=url, config=NO_RETRY)
        arn = client.create_quantum_task(deviceArn=SV1_ARN, shots=20, outputS3Bucket="bkt-results",
                                         outputS3KeyPrefix="p", action=ACTION)["quantumTaskArn"]
        requests.post(f"{url}/_sandbox/advance", json={"arn": arn, "status": "COMPLETED"}, timeout=30)
        task = client.get_quantum_task(quantumTaskArn=arn)
        assert task["status"] == "COMPLETED"
        body = s3.get_object(Bucket="bkt-results", Key=f"{task['outputS3Directory']}/results.json")["Body"].read()
        assert json.loads(body)["taskMetadata"]["id"] == arn
    finally:
        code, _, err = finish(proc)
    assert code == 0, err


def test_emulator_cli_runs_its_devices_by_default(moto):
    """Without ``--no-devices`` the CLI's devices move each task QUEUED -> RUNNING -> COMPLETED on
    their own, the result in moto's S3: what an SDK ``task.result()`` waits for."""
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto.url)
    s3.create_bucket(Bucket="bkt-run")
    proc, url = spawn("emulator", "--results-s3", moto.url, "--queue-seconds", "0", "--start-delay", "0.2")
    try:
        client = boto3.client("braket", region_name="us-east-1", endpoint_url=url, config=NO_RETRY)
        arns = [client.create_quantum_task(deviceArn=device, shots=10, outputS3Bucket="bkt-run",
                                           outputS3KeyPrefix="p", action=ACTION)["quantumTaskArn"]
                for device in (SV1_ARN, FORTE, FORTE)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            statuses = [client.get_quantum_task(quantumTaskArn=arn)["status"] for arn in arns]
            if statuses == ["COMPLETED"] * 3:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the devices did not complete the tasks within 60s: {statuses}")
        for arn in arns:
            task = client.get_quantum_task(quantumTaskArn=arn)
            body = s3.get_object(Bucket="bkt-run", Key=f"{task['outputS3Directory']}/results.json")["Body"].read()
            assert json.loads(body)["taskMetadata"]["id"] == arn
    finally:
        code, _, err = finish(proc)
    assert code == 0, err
