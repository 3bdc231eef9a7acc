"""What the demo and ``make sandbox`` both start and share: moto as a child process, the guard's
Lambda environment in this process (moto runs no Lambda code without Docker, so the handler runs
in-process as the Lambda runtime would), its logs, the caps file, and the rule of its EventBridge
target."""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator, TextIO

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lambda") not in sys.path:  # the guard's package, as `make demo` sets PYTHONPATH
    sys.path.append(str(ROOT / "lambda"))

__all__ = ["MotoProcess", "Printer", "SetupError", "function_logs_to", "guard_environment", "lambda_environment",
           "load_caps", "load_handler", "rule_matches"]


def rule_matches(event: dict) -> bool:
    """The pattern of the guard's EventBridge rules (main.tf: source aws.braket, detail-type
    "Braket Task State Change"); the deployed pattern itself is checked against these events."""
    return event.get("source") == "aws.braket" and event.get("detail-type") == "Braket Task State Change"

class SetupError(RuntimeError):
    """The demo could not be set up; the message says what to do."""

class Printer:
    def __init__(self, stream: TextIO, steps: int = 4) -> None:
        self.stream = stream
        self.steps = steps

    def __call__(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def step(self, number: int, title: str) -> None:
        self(f"\n[{number}/{self.steps}] {title}")

def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the child gets SIGTERM if the demo dies without cleaning up (e.g. SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort, not on every platform
        pass


class MotoProcess:
    """moto in server mode as a child process: the repo's locking launcher, with DynamoDB
    transactions that do not copy whole tables (``braket_sandbox.moto_speedups``)."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "sandbox"), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "braket_sandbox.moto_speedups", "--port", "0"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        if not line or not line[0].startswith("READY "):
            self.stop()
            raise SetupError("moto did not start (is moto[server] installed? run `make venv`)")
        self.url = line[0].split()[1].strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def lambda_environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ as the Lambda runtime would set it, restored afterwards."""
    saved = dict(os.environ)
    try:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                     "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
            os.environ.pop(name, None)
        for name in [n for n in os.environ if n.startswith(("BRAKET_GUARD_", "AWS_ENDPOINT_URL_"))]:
            os.environ.pop(name)
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class LineWriter:
    """A file that whole lines from many threads reach intact (print() writes a line in parts)."""

    def __init__(self, path: Path) -> None:
        self.handle = open(path, "w", encoding="utf-8")
        self.lock = threading.Lock()
        self.local = threading.local()
        self.lines = 0

    def write(self, text: str) -> int:
        buffer = getattr(self.local, "buffer", "") + text
        *complete, rest = buffer.split("\n")
        self.local.buffer = rest
        if complete:
            with self.lock:
                for line in complete:
                    self.handle.write(line + "\n")
                self.lines += len(complete)
        return len(text)

    def flush(self) -> None:
        with self.lock:
            self.handle.flush()

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        with self.lock:
            self.handle.close()


@contextlib.contextmanager
def function_logs_to(path: Path) -> Iterator[LineWriter]:
    """What the function logs goes to ``path``, as Lambda ships it to CloudWatch Logs: the guard's
    JSON log lines (logger ``braket_guard``) and whatever it prints (EMF metric lines)."""
    writer = LineWriter(path)
    logger = logging.getLogger("braket_guard")
    saved = (list(logger.handlers), logger.propagate, sys.stdout)
    handler = logging.StreamHandler(writer)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers = [handler]
    logger.propagate = False
    sys.stdout = writer  # the demo's own output keeps the stream it was given
    try:
        yield writer
    finally:
        sys.stdout = saved[2]
        logger.handlers, logger.propagate = saved[0], saved[1]
        writer.close()


def load_caps(path: Path) -> list[dict]:
    if not path.is_file():
        raise SetupError(f"caps file {path} not found (CAPS=...)")
    text = path.read_text(encoding="utf-8")
    try:
        caps = json.loads(text)
    except ValueError as exc:
        raise SetupError(f"caps file {path} is not valid JSON: {exc}") from None
    from braket_guard.core.caps import CapError, parse_caps

    try:
        parse_caps(text)
    except CapError as exc:
        raise SetupError(f"caps file {path}: {exc}") from None
    return caps


def load_handler(spec: str) -> Any:
    module_name, _, function = spec.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function)


def guard_environment(moto_url: str, emulator_url: str, workdir: Path, deployment: Any) -> dict[str, str]:
    """The process environment of the in-process Lambda (and of a notebook sharing the process):
    dummy credentials, no AWS profile, every AWS endpoint at moto but Braket at the emulator, and
    the deployed function's own environment."""
    return {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
        "AWS_LAMBDA_FUNCTION_NAME": deployment.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(deployment.memory_mb),
        "AWS_ENDPOINT_URL_DYNAMODB": moto_url, "AWS_ENDPOINT_URL_SNS": moto_url,
        "AWS_ENDPOINT_URL_SSM": moto_url, "AWS_ENDPOINT_URL_SQS": moto_url,
        "AWS_ENDPOINT_URL_BRAKET": emulator_url,
        # The notebook's SDK: its default bucket and results in moto's S3, its account from
        # moto's STS. The guard calls neither S3 nor STS.
        "AWS_ENDPOINT_URL_S3": moto_url, "AWS_ENDPOINT_URL_STS": moto_url,
        **deployment.environment,
    }
