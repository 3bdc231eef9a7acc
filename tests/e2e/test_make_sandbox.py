"""`make sandbox` end to end, as a user runs it: the real command in a subprocess, its export lines
parsed, the two example notebooks (plain Braket SDK scripts) run with those exports, then what
Braket, S3, the Slack sink and the `braket-guard` CLI show; finally Ctrl-C (SIGINT to the process
group, as a terminal sends it) and no process it started is left.

The guard is deployed with boto3 here (SANDBOX_ARGS=--terraform never): the Terraform path of the
same deployment code is what test_make_demo.py runs. Every wait is bounded and fails with a message;
nothing asserts on how long anything took.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "examples" / "notebooks"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
ZONE = "Asia/Tokyo"
# demo/caps.json: daily-qpu-cost, $60 a day per QPU; a Forte-1 task of 100 shots costs $0.30 + 100 x $0.08.
QPU_CAP, FORTE_TASK = Decimal("60"), Decimal("0.30") + 100 * Decimal("0.08")

pytestmark = pytest.mark.slow


def descendants(pid: int) -> set[int]:
    """Every process under ``pid`` (Linux /proc), whatever session it moved to."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Sandbox:
    def __init__(self) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix="make-sandbox-"))
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
        self.process = subprocess.Popen(
            ["make", "sandbox", "CAPS=demo/caps.json", f"TIMEZONE={ZONE}",
             f"SANDBOX_ARGS=--terraform never --logs {self.logs}"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: queue.Queue = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"make sandbox printed no SANDBOX READY within {timeout:.0f}s:\n{''.join(self.output)}")
            if line is None:
                pytest.fail(f"make sandbox exited ({self.process.poll()}) before it was ready:\n{''.join(self.output)}")
            if line.startswith("SANDBOX READY"):
                return

    def exports(self) -> dict[str, str]:
        found = {}
        for line in self.output:
            if line.startswith("export "):
                name, _, value = shlex.split(line[len("export "):])[0].partition("=")
                found[name] = value
        return found

    def slack_url(self) -> str:
        match = re.search(r"^Slack sink: (http://127\.0\.0\.1:\d+)/", "".join(self.output), re.M)
        assert match, "make sandbox printed no Slack sink page"
        return match.group(1)

    def interrupt(self, timeout: float = 60) -> int:
        os.killpg(self.process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make sandbox did not stop within {timeout:.0f}s of SIGINT:\n{''.join(self.output)}")

    def kill(self) -> None:
        if self.process.poll() is None:
            for pid in descendants(self.process.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        shutil.rmtree(self.logs, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox():
    if shutil.which("make") is None:
        pytest.fail("`make` is not on PATH: `make sandbox` is what docs/sandbox.md tells users to run")
    box = Sandbox()
    try:
        box.wait_ready()
        yield box
    finally:
        box.kill()


def user_env(exports: dict[str, str]) -> dict[str, str]:
    """A user's shell after pasting the exports: no AWS profile, nothing of this test's own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "BRAKET_GUARD_")) and k not in ("PYTHONPATH",)}
    env["HOME"] = tempfile.mkdtemp(prefix="sandbox-user-")  # no ~/.aws of the machine
    return {**env, **exports}


def run(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(args)} did not finish within {timeout:.0f}s: {exc.stdout}\n{exc.stderr}")


def braket_tasks(exports: dict[str, str], device: str) -> list[dict]:
    client = boto3.client("braket", region_name="us-east-1", endpoint_url=exports["AWS_ENDPOINT_URL_BRAKET"],
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    found, token = [], None
    while True:
        page = client.search_quantum_tasks(filters=[{"name": "deviceArn", "operator": "EQUAL", "values": [device]}],
                                           **({"nextToken": token} if token else {}))
        found += [client.get_quantum_task(quantumTaskArn=t["quantumTaskArn"]) for t in page["quantumTasks"]]
        token = page.get("nextToken")
        if not token:
            return found


def result_in_s3(exports: dict[str, str], task: dict) -> dict:
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=exports["AWS_ENDPOINT_URL_S3"],
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    body = s3.get_object(Bucket=task["outputS3Bucket"], Key=f"{task['outputS3Directory']}/results.json")["Body"]
    return json.loads(body.read())


def test_user_notebooks_and_cli_against_make_sandbox(sandbox):
    exports = sandbox.exports()
    for name in ("AWS_ENDPOINT_URL_BRAKET", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_DYNAMODB",
                 "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "BRAKET_GUARD_TABLE", "BRAKET_GUARD_CAPS"):
        assert exports.get(name), f"make sandbox exported no {name}: {sorted(exports)}"
    assert exports["BRAKET_GUARD_TIMEZONE"] == ZONE
    env = user_env(exports)

    # The SV1 loop: under every cap, so every task queues, runs and completes with its result.
    sv1 = run([sys.executable, str(NOTEBOOKS / "sv1_loop.py"), "--batch", "4", "--loop", "2", "--shots", "500"], env)
    assert sv1.returncode == 0, sv1.stdout + sv1.stderr
    assert "6 of 6 tasks completed" in sv1.stdout, sv1.stdout
    tasks = braket_tasks(exports, SV1)
    assert len(tasks) == 6 and {t["status"] for t in tasks} == {"COMPLETED"}, [t["status"] for t in tasks]
    for task in tasks:
        assert result_in_s3(exports, task)["taskMetadata"]["id"] == task["quantumTaskArn"]

    # The QPU sweep: 12 x $8.30 breaks the $60 daily-qpu-cost cap on Forte-1; the guard cancels the rest.
    sweep = run([sys.executable, str(NOTEBOOKS / "qpu_sweep.py"), "--points", "12", "--shots", "100"], env)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    tasks = braket_tasks(exports, FORTE)
    statuses = sorted(t["status"] for t in tasks)
    completed = [t for t in tasks if t["status"] == "COMPLETED"]
    cancelled = [t for t in tasks if t["status"] == "CANCELLED"]
    assert len(tasks) == 12 and len(completed) + len(cancelled) == 12, statuses
    assert completed and cancelled, statuses
    assert len(completed) * FORTE_TASK <= QPU_CAP, f"{len(completed)} tasks of ${FORTE_TASK} ran past the ${QPU_CAP} cap"
    assert all(t.get("startedAt") is None for t in cancelled), "a cancelled task had started running"
    for task in completed:
        assert result_in_s3(exports, task)["taskMetadata"]["id"] == task["quantumTaskArn"]
    assert f"{len(completed)} of 12 tasks completed" in sweep.stdout, sweep.stdout
    assert sweep.stdout.count("CANCELLED: no result") == len(cancelled), sweep.stdout

    # The alert reached Slack, and the sink's page shows it.
    slack = sandbox.slack_url()
    deadline = time.monotonic() + 60
    while True:
        messages = requests.get(f"{slack}/_sandbox/messages", timeout=10).json()
        if any("daily-qpu-cost" in json.dumps(m["payload"]) and "reached" in json.dumps(m["payload"]) for m in messages):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"no 'daily-qpu-cost reached' alert in the Slack sink within 60s: {messages}")
        time.sleep(0.5)
    page = requests.get(f"{slack}/", timeout=10)
    assert page.status_code == 200 and "daily-qpu-cost" in page.text

    # The CLI a user runs in the same shell.
    cli = str(Path(sys.executable).parent / "braket-guard")
    assert Path(cli).is_file(), f"no braket-guard next to {sys.executable}: run `make venv`"
    today = dt.datetime.now(ZoneInfo(ZONE)).date().isoformat()
    for args, expected in ((["status"], "daily-qpu-cost"), (["report", "--date", today], "Forte"),
                           (["explain", cancelled[0]["quantumTaskArn"]], "daily-qpu-cost")):
        done = run([cli, *args], env, timeout=120)
        assert done.returncode == 0, f"braket-guard {' '.join(args)}: {done.stdout}\n{done.stderr}"
        assert expected in done.stdout, f"braket-guard {' '.join(args)}: {done.stdout}"


def test_ctrl_c_stops_everything_it_started(sandbox):
    started = descendants(sandbox.process.pid)
    assert len(started) >= 2, f"expected the sandbox and moto under make, found {started}"
    code = sandbox.interrupt()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = sorted(pid for pid in started if alive(pid))
    assert not left, f"processes left after Ctrl-C: {left}"
    output = "".join(sandbox.output)
    assert "Stopped Braket emulator, Slack sink, moto." in output, output[-2000:]
    assert "Traceback" not in output, output[-3000:]
    assert code == -signal.SIGINT, code  # GNU make re-raises the SIGINT it got once its child has stopped
