"""The Lambda service, in-process: moto cannot run Lambda code without Docker, so
:class:`LambdaInvoker` calls the deployed handler as the Lambda runtime would,
``handler(event, context)``, once per delivery, concurrently, retrying a failed invocation like an
asynchronous invoke does."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Invocation", "LambdaContext", "LambdaInvoker"]


class LambdaContext:
    """The fields of the Lambda context object a handler may read."""

    def __init__(self, function_name: str, memory_mb: int = 256, timeout_s: float = 60.0,
                 region: str = "us-east-1", account: str = "123456789012") -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    """One delivery handled: the event, the handler's result (or error), when, how many tries."""

    event: dict
    result: dict | None
    error: str | None
    attempts: int
    started: float
    finished: float


class LambdaInvoker:
    """Runs ``handler(event, context)`` once per delivery on a pool of ``concurrency`` workers.

    A raised exception is retried (``retries`` times, after ``retry_delay`` seconds), like an
    asynchronous invocation; a delivery that still fails is kept in ``dead_letters``.
    """

    def __init__(self, handler: Callable[[dict, Any], Any], function_name: str, concurrency: int = 8,
                 retries: int = 2, retry_delay: float = 0.5, timeout_s: float = 60.0,
                 memory_mb: int = 256) -> None:
        self.handler = handler
        self.function_name = function_name
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.concurrency = concurrency
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lambda")
        self.lock = threading.Lock()
        self.invocations: list[Invocation] = []
        self.dead_letters: list[Invocation] = []
        self.in_flight = 0
        self.errors = 0
        self.stopping = threading.Event()
        self.listeners: list[Callable[[Invocation], None]] = []

    def submit(self, event: dict) -> None:
        with self.lock:
            self.in_flight += 1
        try:
            self.pool.submit(self._run, event)
        except RuntimeError:  # pool shut down (Ctrl-C)
            with self.lock:
                self.in_flight -= 1

    def _run(self, event: dict) -> None:
        started = time.monotonic()
        attempts, result, error = 0, None, None
        try:
            while attempts <= self.retries and not self.stopping.is_set():
                attempts += 1
                try:
                    result = self.handler(event, LambdaContext(self.function_name, self.memory_mb,
                                                               self.timeout_s))
                    error = None
                    break
                except Exception as exc:  # noqa: BLE001 - an invocation error, as Lambda sees it
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    with self.lock:
                        self.errors += 1
                    if attempts <= self.retries:
                        self.stopping.wait(self.retry_delay)
            record = Invocation(event, result if isinstance(result, dict) else None, error, attempts,
                                started, time.monotonic())
            with self.lock:
                self.invocations.append(record)
                if error is not None:
                    self.dead_letters.append(record)
            for listener in list(self.listeners):
                listener(record)
        finally:
            with self.lock:
                self.in_flight -= 1

    def idle(self) -> bool:
        with self.lock:
            return self.in_flight == 0

    def shutdown(self, wait: bool = True) -> None:
        if not wait:
            self.stopping.set()
        self.pool.shutdown(wait=wait, cancel_futures=not wait)
