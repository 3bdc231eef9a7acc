"""Task results in S3, where the Amazon Braket SDK looks for them.

The SDK's ``AwsQuantumTask.result()`` polls GetQuantumTask until the task is COMPLETED, then reads
``s3://{outputS3Bucket}/{outputS3Directory}/results.json`` and parses it with
``BraketSchemaBase.parse_raw_schema``. The emulator writes that object *before* the task becomes
COMPLETED (so a poller never sees COMPLETED without a result), into moto's S3 when the emulator is
given one (``BraketEmulator(results_s3=moto_url)`` or ``emu.store_results(moto_url)``). If the
object cannot be written (no such bucket, S3 down) the task ends FAILED with a failureReason
saying why, as Braket fails a task whose results bucket it cannot write.

How the result is made:

- SV1, DM1: computed, for real, by the simulators the SDK's ``LocalSimulator`` runs
  (``braket.default_simulator``'s StateVectorSimulator, DensityMatrixSimulator: the
  ``braket_sv`` / ``braket_dm`` backends), for OpenQASM programs and program sets alike. So a
  Bell circuit shows about half ``00`` and half ``11``.
- Gate-model QPUs: *plausible*, not the device's: the same noise-free state-vector simulation
  (no noise model, no device-specific metadata beyond the task's ARN and device ARN).
- Aquila (AHS): *plausible*, not simulated: each shot reports every site filled before the
  sequence and each atom in the ground or Rydberg state at random (seeded by the task ARN), in the
  AnalogHamiltonianSimulationTaskResult schema. Simulating Rydberg dynamics takes seconds per
  task; the guard never looks at results, and the SDK user sees a well-formed result.
- ``taskMetadata.id`` is the task ARN, ``deviceId`` the device ARN, ``shots`` the task's shots.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import warnings
from typing import Any

__all__ = ["ResultError", "ResultStore", "compute_result"]

OPENQASM = "braket.ir.openqasm.program"
PROGRAM_SET = "braket.ir.openqasm.program_set"
AHS = "braket.ir.ahs.program"
RESULTS_FILENAME = "results.json"


class ResultError(RuntimeError):
    """The result could not be computed or stored; the message becomes the failureReason."""


_SIMULATORS: dict[str, Any] = {}
_SIM_LOCK = threading.Lock()


def _simulator(kind: str) -> Any:
    with _SIM_LOCK:
        if kind not in _SIMULATORS:
            from braket.default_simulator import DensityMatrixSimulator, StateVectorSimulator

            _SIMULATORS[kind] = DensityMatrixSimulator() if kind == "dm" else StateVectorSimulator()
        return _SIMULATORS[kind]


def compute_result(task: dict, device: Any) -> str:
    """``results.json`` for a task (a record of the emulator) about to complete on ``device``."""
    from braket.schema_common import BraketSchemaBase

    action = task.get("action")
    if not action:
        raise ResultError("the task has no action to run")
    document = BraketSchemaBase.parse_raw_schema(action)
    name = document.braketSchemaHeader.name
    shots = int(task["shots"])
    if name == AHS:
        return _ahs_result(task, document, shots)
    if name not in (OPENQASM, PROGRAM_SET):
        raise ResultError(f"the sandbox computes no result for {name} actions")
    kind = "dm" if device.arn.endswith("/dm1") else "sv"
    try:
        with warnings.catch_warnings():  # DM1's "noise-free circuit" hint is for LocalSimulator users
            warnings.simplefilter("ignore")
            result = _simulator(kind).run(document, shots=shots)
    except Exception as exc:  # noqa: BLE001 - the program does not run: the task fails
        raise ResultError(f"the program failed to run: {str(exc).splitlines()[0][:300]}") from None
    metadata = result.taskMetadata
    metadata.id = task["quantumTaskArn"]
    metadata.deviceId = task["deviceArn"]
    if hasattr(metadata, "shots"):
        metadata.shots = shots
    data = result.dict(exclude_none=True)
    if "measurements" in data and len(data["measurements"]) == 0:
        del data["measurements"]  # shots=0: exact results only (the schema wants none or some)
    return json.dumps(data, default=_plain)


def _plain(value: Any) -> Any:
    """JSON for what the simulators leave in a result: numpy arrays and numbers, complex
    amplitudes (as Braket writes them: [real, imaginary]), datetimes, enums."""
    if hasattr(value, "tolist"):
        return _plain_nested(value.tolist())
    if isinstance(value, complex):
        return [value.real, value.imag]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    raise TypeError(f"cannot write {type(value).__name__} into results.json")


def _plain_nested(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain_nested(v) for v in value]
    if isinstance(value, complex):
        return [value.real, value.imag]
    return value


def _ahs_result(task: dict, program: Any, shots: int) -> str:
    from braket.task_result.analog_hamiltonian_simulation_task_result_v1 import (
        AnalogHamiltonianSimulationShotMeasurement, AnalogHamiltonianSimulationShotMetadata,
        AnalogHamiltonianSimulationShotResult, AnalogHamiltonianSimulationTaskResult)
    from braket.task_result.task_metadata_v1 import TaskMetadata

    filling = [int(f) for f in program.setup.ahs_register.filling]
    seed = int(hashlib.sha256(task["quantumTaskArn"].encode()).hexdigest()[:16], 16)
    rng = random.Random(seed)
    measurements = []
    for _ in range(shots):
        post = [rng.randint(0, 1) if filled else 1 for filled in filling]
        measurements.append(AnalogHamiltonianSimulationShotMeasurement(
            shotMetadata=AnalogHamiltonianSimulationShotMetadata(shotStatus="Success"),
            shotResult=AnalogHamiltonianSimulationShotResult(preSequence=list(filling), postSequence=post)))
    result = AnalogHamiltonianSimulationTaskResult(
        taskMetadata=TaskMetadata(id=task["quantumTaskArn"], deviceId=task["deviceArn"], shots=shots),
        measurements=measurements)
    return result.json(exclude_none=True)


class ResultStore:
    """Writes ``results.json`` into S3 (moto) with a plain boto3 client."""

    def __init__(self, endpoint_url: str, region: str = "us-east-1") -> None:
        import boto3
        from botocore.config import Config

        self.endpoint_url = endpoint_url
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._make = lambda r: boto3.client(
            "s3", region_name=r, endpoint_url=endpoint_url, aws_access_key_id="testing",
            aws_secret_access_key="testing",  # nosec B106 - moto's dummy credentials
            config=Config(retries={"mode": "standard", "max_attempts": 3}, s3={"addressing_style": "path"}))
        self.region = region

    def _client(self, region: str) -> Any:
        with self._lock:
            if region not in self._clients:
                self._clients[region] = self._make(region)
            return self._clients[region]

    def put(self, task: dict, body: str) -> str:
        """Store the result; returns its key. Raises :class:`ResultError` with the reason."""
        key = f"{task['outputS3Directory']}/{RESULTS_FILENAME}"
        try:
            self._client(task.get("region") or self.region).put_object(
                Bucket=task["outputS3Bucket"], Key=key, Body=body.encode(), ContentType="application/json")
        except Exception as exc:  # noqa: BLE001 - botocore ClientError or a connection error
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
            raise ResultError(f"Amazon Braket could not write results to s3://{task['outputS3Bucket']}/{key}: "
                              f"{code or type(exc).__name__}") from None
        return key

    def get(self, task: dict) -> dict:
        """The stored result of a task, parsed (for tests)."""
        key = f"{task['outputS3Directory']}/{RESULTS_FILENAME}"
        body = self._client(task.get("region") or self.region).get_object(Bucket=task["outputS3Bucket"], Key=key)
        return json.loads(body["Body"].read())
