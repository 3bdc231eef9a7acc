"""Helpers for running the CLI as users do (a fresh interpreter, ``python -m braket_guard.cli``)
and a local endpoint that accepts connections and never answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LAMBDA = ROOT / "lambda"
# The bound on a whole CLI run, stalled endpoints included.
CLI_LIMIT_SECONDS = 30


class StalledEndpoint:
    """A TCP listener on 127.0.0.1 that accepts every connection, reads what is sent and never
    answers (the connection stays open until the listener stops)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.setblocking(False)
            self.connections.append(conn)
            self.accepted += 1

    def __enter__(self) -> "StalledEndpoint":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self.connections:
            conn.close()
        self.sock.close()


def closed_port_url() -> str:
    """An endpoint nothing listens on (connection refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def base_env(**extra: str) -> dict[str, str]:
    """The parent's environment without AWS_ / BRAKET_GUARD_ settings, with dummy credentials
    and no config files, importing this worktree's package."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BRAKET_GUARD_"))}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                "PYTHONPATH": os.pathsep.join([str(LAMBDA), env.get("PYTHONPATH", "")])})
    env.pop("COVERAGE_PROCESS_START", None)
    env.update(extra)
    return env


@dataclass
class Run:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def start_cli(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "braket_guard.cli", *argv], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    return proc, started


def finish_cli(argv: list[str], proc: subprocess.Popen, started: float,
               timeout: float = CLI_LIMIT_SECONDS + 30) -> Run:
    try:
        out, err = proc.communicate(timeout=max(1.0, started + timeout - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return Run(argv, -9, out, err + f"\n[killed after {timeout:.0f} s]", time.monotonic() - started)
    return Run(argv, proc.returncode, out, err, time.monotonic() - started)


def run_cli(argv: list[str], env: dict[str, str], timeout: float = CLI_LIMIT_SECONDS + 30) -> Run:
    proc, started = start_cli(argv, env)
    return finish_cli(argv, proc, started, timeout)


class SlowPriceList:
    """A Price List endpoint that answers each GetProducts call after ``delay`` seconds (inside the
    CLI's 5 s read timeout) with one item: ``pages`` pages in all, then, with ``stall``, it stops
    answering (the connection stays open, nothing comes back)."""

    def __init__(self, item: str, delay: float, pages: int, stall: bool = False):
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.calls = 0
        self._stop = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                endpoint.calls += 1
                if endpoint.calls > pages:  # only with stall: the last page had a NextToken
                    endpoint._stop.wait(120)
                    return
                time.sleep(delay)
                page = {"FormatVersion": "aws_v1", "PriceList": [item]}
                if endpoint.calls < pages or stall:
                    page["NextToken"] = str(endpoint.calls)
                body = json.dumps(page).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "SlowPriceList":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
