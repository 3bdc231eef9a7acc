"""Ctrl-C and SIGTERM stop everything the demo started: its servers and a running Terraform."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def start_demo(*args: str) -> tuple[subprocess.Popen, "queue.Queue[str]"]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "lambda"), str(ROOT / "sandbox")]))
    proc = subprocess.Popen([sys.executable, "-m", "braket_sandbox.demo", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def read_until(lines: "queue.Queue[str]", marker: str, seen: list[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if marker in line:
            return
        if line == "":
            break
    pytest.fail(f"the demo never printed {marker!r}:\n{''.join(seen)[-3000:]}")


def rest(proc: subprocess.Popen, lines: "queue.Queue[str]", seen: list[str]) -> str:
    code = proc.wait(timeout=180)  # in-flight invocations finish their retries against stopped servers
    while True:
        try:
            line = lines.get(timeout=5)
        except queue.Empty:
            break
        if line == "":
            break
        seen.append(line)
    assert code == 130, "".join(seen)[-3000:]
    return "".join(seen)


def ports(output: str) -> list[int]:
    return [int(line.split()[-1].rsplit(":", 1)[1]) for line in output.splitlines()
            if line.strip().startswith(("moto server", "Braket API emulator", "Slack incoming-webhook"))]


def closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_ctrl_c_during_the_notebook_stops_every_server(tmp_path):
    # enough tasks that the notebook is surely still running when Ctrl-C comes
    proc, lines = start_demo("--tasks", "400", "--terraform", "never", "--logs", str(tmp_path))
    seen: list[str] = []
    read_until(lines, "tasks [", seen)
    proc.send_signal(signal.SIGINT)
    output = rest(proc, lines, seen)
    assert "Interrupted: stopping everything the demo started" in output
    assert "Stopped Braket emulator, Slack sink, moto" in output
    assert len(ports(output)) == 3 and all(closed(p) for p in ports(output)), output


def test_sigterm_during_terraform_stops_it_and_the_servers(tmp_path):
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH (the project's machines have it: see the README)")
    proc, lines = start_demo("--tasks", "40", "--terraform", "always", "--logs", str(tmp_path))
    seen: list[str] = []
    read_until(lines, "terraform init, terraform apply", seen)
    log = tmp_path / "terraform.log"
    deadline = time.monotonic() + 120
    while "$ terraform apply" not in (log.read_text() if log.exists() else ""):  # terraform is running
        assert time.monotonic() < deadline and proc.poll() is None, "".join(seen)
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    output = rest(proc, lines, seen)
    assert "Stopped terraform, Braket emulator, Slack sink, moto" in output, output[-2000:]
    assert all(closed(p) for p in ports(output)), output
