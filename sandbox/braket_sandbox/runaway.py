"""The runaway notebook of the demo and the benchmark: a user's loop written with the Amazon Braket
SDK (``AwsDevice(arn).run(program, shots=...)``) that submits many tasks from several threads; the
SDK's HTTP ``CreateQuantumTask`` calls reach the emulator, its S3 and STS calls moto.

The plumbing around it has modules of its own, re-exported here for the code that imports them
from this module: the devices working through their queues (:mod:`braket_sandbox.braket.runner`),
EventBridge's at-least-once, out-of-order delivery (:mod:`braket_sandbox.eventbus`) and the Lambda
service running the guard's handler in-process (:mod:`braket_sandbox.lambda_runtime`).
"""

from __future__ import annotations

import collections
import logging
import random
import statistics
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3
from botocore.config import Config

from braket_sandbox.braket.runner import (AQUILA, DEFAULT_DEVICES, FORTE, SV1, DeviceSimulator,  # noqa: F401
                                         NotebookDevice)
from braket_sandbox.eventbus import EventBus  # noqa: F401
from braket_sandbox.lambda_runtime import Invocation, LambdaContext, LambdaInvoker  # noqa: F401

__all__ = [
    "NotebookDevice",
    "DEFAULT_DEVICES",
    "EventBus",
    "LambdaContext",
    "LambdaInvoker",
    "DeviceSimulator",
    "Notebook",
    "Invocation",
]


# ---------------------------------------------------------------------------------------------
# the notebook


@dataclass
class Submission:
    arn: str | None
    device: str
    region: str
    shots: int
    thread: int
    error: str | None = None
    task: Any = field(default=None, repr=False)  # the SDK's AwsQuantumTask


# What the notebook runs on each kind of device, written as a user writes it with the SDK.
def bell_circuit() -> Any:
    from braket.circuits import Circuit

    return Circuit().h(0).cnot(0, 1)


def ghz_circuit() -> Any:
    from braket.circuits import Circuit

    return Circuit().h(0).cnot(0, 1).cnot(1, 2)


def rabi_program(device: Any) -> Any:
    """Three atoms in a row driven by a flat Rabi pulse: an AHS program, discretized for the
    device (Aquila takes AHS programs only, no circuits)."""
    from braket.ahs import AnalogHamiltonianSimulation, AtomArrangement, DrivingField
    from braket.timings.time_series import TimeSeries

    register = AtomArrangement()
    for x in (0.0, 5.5e-6, 11e-6):
        register.add((x, 0.0))
    amplitude = TimeSeries().put(0.0, 0.0).put(1e-7, 1.5e7).put(3.9e-6, 1.5e7).put(4e-6, 0.0)
    flat = TimeSeries().put(0.0, 0.0).put(4e-6, 0.0)
    program = AnalogHamiltonianSimulation(register=register,
                                          hamiltonian=DrivingField(amplitude=amplitude, detuning=flat, phase=flat))
    return program.discretize(device)


def program_for(device: Any) -> Any:
    """The notebook's program for an ``AwsDevice``: AHS on analog devices, else a circuit."""
    actions = {str(getattr(a, "value", a)) for a in device.properties.action}
    if "braket.ir.ahs.program" in actions:
        return rabi_program(device)
    return ghz_circuit() if device.type.value == "SIMULATOR" else bell_circuit()


def import_sdk() -> None:
    """Import the Braket SDK's modules the notebook uses (seconds: worth doing early)."""
    import braket.aws  # noqa: F401
    import braket.ahs  # noqa: F401
    import braket.circuits  # noqa: F401


class Notebook:
    """A user's runaway notebook, written with the Amazon Braket SDK, run on ``threads`` threads::

        device = AwsDevice(arn, aws_session)
        for i in range(n):
            task = device.run(program, shots=shots, tags={"project": project})

    The SDK talks to the emulator for Braket (an ``AwsSession`` around a boto3 ``braket`` client
    with ``endpoint_url``) and to S3 and STS through ``AWS_ENDPOINT_URL_S3`` /
    ``AWS_ENDPOINT_URL_STS`` (moto): the session's default bucket
    ``amazon-braket-<region>-<account>`` is created there and results are read from it. Devices
    and programs are set up once, before the loop, as a user would; the SDK calls GetDevice
    then. A thread's loop ends at the first exception ``device.run`` raises (after the SDK's and
    botocore's own retries), as a user's loop does (``stop_on_error=False`` keeps going).
    :meth:`observe` asks the SDK, afterwards, what became of each task.
    """

    def __init__(self, endpoint_url: str, tasks: int, threads: int = 4, seed: int = 3,
                 devices: tuple[NotebookDevice, ...] = DEFAULT_DEVICES, project: str = "runaway-notebook",
                 pause: tuple[float, float] = (0.005, 0.03), stop_on_error: bool = True) -> None:
        self.endpoint_url = endpoint_url
        self.stop_on_error = stop_on_error
        self.tasks = tasks
        self.threads = max(1, threads)
        self.devices = devices
        self.project = project
        self.pause = pause
        rng = random.Random(seed)
        weighted = [d for d in devices for _ in range(d.weight)]
        # The plan is fixed up front (seeded), so a run can be repeated.
        self.plan = []
        for index in range(tasks):
            device = rng.choice(weighted)
            self.plan.append((index, device, rng.choice(device.regions), rng.choice(device.shots)))
        self.lock = threading.Lock()
        self.submissions: list[Submission] = []
        self.stopping = threading.Event()
        self._sessions: dict[str, Any] = {}
        self._aws_devices: dict[tuple[str, str], Any] = {}
        self._programs: dict[tuple[str, str], Any] = {}
        self._rng = random.Random(seed + 1)

    def session(self, region: str) -> Any:
        """The SDK session of ``region``: Braket at the emulator, S3/STS from the environment."""
        from braket.aws import AwsSession

        with self.lock:
            if region not in self._sessions:
                braket = boto3.client("braket", region_name=region, endpoint_url=self.endpoint_url,
                                      config=Config(retries={"mode": "standard", "max_attempts": 5},
                                                    connect_timeout=5, read_timeout=20))
                self._sessions[region] = AwsSession(boto_session=boto3.Session(region_name=region),
                                                    braket_client=braket)
            return self._sessions[region]

    def setup(self) -> None:
        """The notebook's first cells: one ``AwsDevice`` and one program per device and region,
        and the session's default bucket (created on first use, as ``device.run`` would)."""
        from braket.aws import AwsDevice

        for device in self.devices:
            for region in device.regions:
                session = self.session(region)
                aws_device = AwsDevice(device.arn, aws_session=session)
                self._aws_devices[(device.arn, region)] = aws_device
                self._programs[(device.arn, region)] = program_for(aws_device)
                session.default_bucket()

    def run(self, on_submit: Callable[[Submission], None] | None = None) -> list[Submission]:
        if not self._aws_devices:
            self.setup()
        workers = [threading.Thread(target=self._work, args=(n, on_submit), name=f"notebook-{n}",
                                    daemon=True) for n in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(0.2)
        return self.submissions

    def _work(self, thread: int, on_submit: Callable[[Submission], None] | None) -> None:
        for index, device, region, shots in self.plan[thread::self.threads]:
            if self.stopping.is_set():
                return
            submission = Submission(None, device.arn, region, shots, thread)
            try:
                task = self._aws_devices[(device.arn, region)].run(
                    self._programs[(device.arn, region)], shots=shots, tags={"project": self.project})
                submission.arn, submission.task = task.id, task
            except Exception as exc:  # noqa: BLE001 - reported in the summary
                submission.error = f"{type(exc).__name__}: {exc}"[:300]
            with self.lock:
                self.submissions.append(submission)
            if on_submit is not None:
                on_submit(submission)
            if submission.error is not None and self.stop_on_error:
                return  # a user's loop ends at the first exception the SDK raises
            with self.lock:
                pause = self._rng.uniform(*self.pause)
            self.stopping.wait(pause)

    def observe(self, samples: int = 1) -> dict[str, Any]:
        """What the notebook sees afterwards, through the SDK: ``task.state()`` of every task
        (GetQuantumTask), by device; and, per device, ``task.result()`` of the first
        ``samples`` completed tasks (read from S3) and of one cancelled task (None)."""
        sdk_log = logging.getLogger("braket.aws.aws_quantum_task")
        captured = _CountingHandler()
        saved = (sdk_log.handlers[:], sdk_log.propagate)
        sdk_log.handlers, sdk_log.propagate = [captured], False
        try:
            seen = self._observe(samples)
        finally:
            sdk_log.handlers, sdk_log.propagate = saved
        seen["sdk_warnings"] = dict(captured.messages)
        return seen

    def _observe(self, samples: int) -> dict[str, Any]:
        by_device: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        states: dict[str, str] = {}
        results: list[dict[str, Any]] = []
        names = {d.arn: d.name for d in self.devices}
        for submission in list(self.submissions):
            if submission.task is None:
                continue
            state = submission.task.state()
            states[submission.arn] = state
            by_device[names.get(submission.device, submission.device)][state] += 1
        taken: collections.Counter = collections.Counter()
        for submission in list(self.submissions):
            state = states.get(submission.arn or "")
            key = (submission.device, state)
            if state not in ("COMPLETED", "CANCELLED") or taken[key] >= (samples if state == "COMPLETED" else 1):
                continue
            taken[key] += 1
            result = submission.task.result()
            results.append({"device": names.get(submission.device, submission.device), "task": submission.arn,
                            "state": state, "shots": submission.shots, "result": describe_result(result)})
        return {"states": states, "by_device": {k: dict(v) for k, v in by_device.items()}, "results": results}

    def stop(self) -> None:
        self.stopping.set()


class _CountingHandler(logging.Handler):
    """Counts the SDK's log messages (e.g. "Task is in terminal state CANCELLED and no result is
    available.") instead of letting Python print each one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: collections.Counter = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages[record.getMessage()] += 1


def describe_result(result: Any) -> str:
    """One line for a task result as the SDK returns it."""
    if result is None:
        return "None (no result: the task did not complete)"
    counts = getattr(result, "measurement_counts", None)
    if counts is not None and not hasattr(result, "get_counts"):
        top = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:4])
        return f"{type(result).__name__}, measurement_counts {{{top}}}"
    measurements = getattr(result, "measurements", None)
    if measurements is not None:
        rydberg = collections.Counter("".join("r" if v == 0 else "g" for v in m.post_sequence)
                                      for m in measurements)
        top = ", ".join(f"{k}: {v}" for k, v in rydberg.most_common(3))
        return f"{type(result).__name__}, {len(measurements)} shots, most frequent states {{{top}}}"
    return type(result).__name__


def median_and_max(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    return statistics.median(values), max(values)
