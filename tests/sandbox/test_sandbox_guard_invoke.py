"""The sandbox moto server runs the guard's real handler for a synchronous Lambda Invoke of the
guard's function (moto itself needs Docker for Invoke): boto3 over HTTP to the server, the
function's environment as moto stored it, Braket at the registered emulator."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile

import boto3

REGION = "us-east-1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"


def client(moto, service):
    return boto3.client(service, region_name=REGION, endpoint_url=moto.url)


def register(moto, **endpoints):
    request = urllib.request.Request(f"{moto.url}/_braket_sandbox/lambda-endpoints",
                                     data=json.dumps(endpoints).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def function(moto, env: dict[str, str], handler: str = "braket_guard.handler.lambda_handler") -> str:
    iam = client(moto, "iam")
    role = iam.create_role(RoleName="guard-invoke-test", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("placeholder.py", "")
    client(moto, "lambda").create_function(FunctionName="guard", Runtime="python3.12", Role=role, Handler=handler,
                                           Code={"ZipFile": code.getvalue()}, Timeout=60,
                                           Environment={"Variables": env})
    return "guard"


def ledger(moto) -> str:
    client(moto, "dynamodb").create_table(
        TableName="guard-ledger", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])
    return "guard-ledger"


CAPS = json.dumps([{"name": "daily", "window": "day", "group_by": "account", "max_shots": 100,
                    "on_breach": "cancel_task"}])


def test_the_guards_function_runs_the_real_handler_with_its_environment(moto, emu):
    register(moto, braket=emu.url)
    name = function(moto, {"BRAKET_GUARD_TABLE": ledger(moto), "BRAKET_GUARD_CAPS": CAPS,
                           "BRAKET_GUARD_REGIONS": json.dumps([REGION])})
    response = client(moto, "lambda").invoke(FunctionName=name, Payload=json.dumps({"braket_guard": "reconcile"}))
    assert "FunctionError" not in response, response["Payload"].read()
    result = json.loads(response["Payload"].read())
    assert result["action"] == "reconcile", result
    seen = json.loads(urllib.request.urlopen(f"{moto.url}/_braket_sandbox/lambda-endpoints", timeout=10).read())
    assert seen["invocations"][-1]["payload"] == {"braket_guard": "reconcile"}


def test_a_handler_error_is_lambdas_function_error(moto, emu):
    register(moto, braket=emu.url)
    name = function(moto, {"BRAKET_GUARD_TABLE": ledger(moto), "BRAKET_GUARD_CAPS": "[{\"name\": \"x\"}]"})
    response = client(moto, "lambda").invoke(FunctionName=name, Payload=b"{}")
    assert response.get("FunctionError") == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ConfigError" and "BRAKET_GUARD_CAPS" in error["errorMessage"], error


def test_the_handler_reaches_braket_at_the_registered_emulator(moto, emu):
    """The reconcile action searches the registered emulator (its call counter moves), not moto."""
    register(moto, braket=emu.url)
    name = function(moto, {"BRAKET_GUARD_TABLE": ledger(moto), "BRAKET_GUARD_CAPS": CAPS,
                           "BRAKET_GUARD_REGIONS": json.dumps([REGION])})
    before = emu.calls["SearchQuantumTasks"]
    response = client(moto, "lambda").invoke(FunctionName=name, Payload=json.dumps({"braket_guard": "reconcile"}))
    assert "FunctionError" not in response, response["Payload"].read()
    assert emu.calls["SearchQuantumTasks"] > before, dict(emu.calls)


def test_another_function_is_left_to_moto(moto):
    """Only the guard's handler runs here: another function goes to moto, which would run it in
    Docker (absent here, so moto answers with its Docker error) and the shim records nothing."""
    before = len(register(moto)["invocations"])
    name = function(moto, {"X": "1"}, handler="app.handler")
    payload = client(moto, "lambda").invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
    assert b"docker" in payload.lower(), payload
    assert len(register(moto)["invocations"]) == before
