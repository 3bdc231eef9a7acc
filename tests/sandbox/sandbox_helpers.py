"""Constants and helpers shared by the sandbox tests (a uniquely named module, not conftest)."""

from __future__ import annotations

from botocore.config import Config

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
AQUILA = "arn:aws:braket:us-east-1::device/qpu/quera/Aquila"
NOVEL = "arn:aws:braket:us-east-1::device/qpu/acme/Novel-1"
ANKAA = "arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3"
BUCKET = "amazon-braket-test"

# botocore's ``max_attempts`` counts RETRIES (``{"max_attempts": 1}`` = 2 attempts);
# ``total_max_attempts`` counts attempts, so 1 really disables retries.
NO_RETRY = Config(retries={"total_max_attempts": 1})

# Fields of CreateQuantumTask that the SDK never lets a user set by hand.
_RAW_ONLY = {"clientToken", "jobToken", "action", "deviceParameters", "outputS3Bucket", "outputS3KeyPrefix",
             "associations", "experimentalCapabilities"}


def bell():
    from braket.circuits import Circuit

    return Circuit().h(0).cnot(0, 1)


def bell_action() -> str:
    """The ``action`` the SDK sends for a Bell circuit (its own OpenQASM serialisation)."""
    from braket.circuits.serialization import IRType

    return bell().to_ir(ir_type=IRType.OPENQASM).json()


def sdk_session(client):
    """An SDK ``AwsSession`` around a test's boto3 ``braket`` client (no S3 needed: the
    tests give the results folder)."""
    from braket.aws import AwsSession

    return AwsSession(braket_client=client)


def create(client, device_arn: str = FORTE, shots: int = 100, *, raw: bool = False, **kwargs) -> str:
    """Create a task as a user's notebook does and return its ARN: the SDK's
    ``AwsQuantumTask.create`` (what ``AwsDevice(arn).run(circuit, shots=...)`` calls, minus the
    GetDevice) with a Bell circuit, through ``client``. With a field the SDK cannot set by hand
    (``clientToken``, ``jobToken``, a hand-made ``action`` ...) or ``raw=True``: a raw boto3
    CreateQuantumTask carrying the same OpenQASM program."""
    if raw or _RAW_ONLY & set(kwargs):
        params = {"deviceArn": device_arn, "shots": shots, "outputS3Bucket": BUCKET,
                  "outputS3KeyPrefix": "tasks", "action": bell_action()}
        params.update(kwargs)
        return client.create_quantum_task(**params)["quantumTaskArn"]
    from braket.aws import AwsQuantumTask

    task = AwsQuantumTask.create(sdk_session(client), device_arn, bell(), (BUCKET, "tasks"), shots, **kwargs)
    return task.id
