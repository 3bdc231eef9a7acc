"""Constants and helpers shared by the sandbox tests (a uniquely named module, not conftest)."""

from __future__ import annotations

import json

from botocore.config import Config

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
NOVEL = "arn:aws:braket:us-east-1::device/qpu/acme/Novel-1"
ANKAA = "arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3"

# botocore's ``max_attempts`` counts RETRIES (``{"max_attempts": 1}`` = 2 attempts);
# ``total_max_attempts`` counts attempts, so 1 really disables retries.
NO_RETRY = Config(retries={"total_max_attempts": 1})


def create(client, device_arn: str = FORTE, shots: int = 100, **kwargs) -> str:
    """CreateQuantumTask over HTTP with the boilerplate filled in; returns the ARN."""
    params = {
        "deviceArn": device_arn,
        "shots": shots,
        "outputS3Bucket": "amazon-braket-test",
        "outputS3KeyPrefix": "tasks",
        "action": json.dumps({"braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"}}),
    }
    params.update(kwargs)
    return client.create_quantum_task(**params)["quantumTaskArn"]
