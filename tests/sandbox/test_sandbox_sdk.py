"""The real Amazon Braket SDK (amazon-braket-sdk, pinned in requirements-dev.txt) against the
sandbox: the emulator over HTTP for Braket, moto for S3 and STS. What a user's notebook does:
``AwsDevice(arn)``, ``device.run(...)``, ``task.state()``, ``task.result()``, ``task.cancel()``,
program sets, AHS programs, reservations; plus the malformed requests only raw boto3 can send."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from braket_sandbox.braket.devices import default_devices
from sandbox_helpers import AQUILA, BUCKET, DM1, FORTE, GARNET, NO_RETRY, NOVEL, SV1, bell, bell_action, create

from braket.aws import AwsDevice, AwsSession, DirectReservation  # noqa: E402  (the SDK: a dev pin)
from braket.circuits import Circuit, FreeParameter  # noqa: E402
from braket.program_sets import CircuitBinding, ProgramSet  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
FAMILY_CLASS = {
    "IonQ": "IonqDeviceCapabilities", "IQM": "IqmDeviceCapabilities", "AQT": "AqtDeviceCapabilities",
    "Rigetti": "RigettiDeviceCapabilities", "QuEra": "QueraDeviceCapabilities",
    "Amazon Braket": "GateModelSimulatorDeviceCapabilities", "Acme": "IqmDeviceCapabilities",
}


def finish(emu, task_arn: str, status: str = "COMPLETED") -> None:
    """The device works the task: QUEUED, RUNNING, then ``status``."""
    for step in ("QUEUED", "RUNNING", status):
        emu.advance(task_arn, step)


def error_of(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


# --------------------------------------------------------------------------------------- devices

@pytest.mark.parametrize("device", default_devices(), ids=lambda d: d.arn.rsplit("/", 1)[-1])
def test_every_device_parses_in_the_sdk_as_its_family(sdk, device):
    aws_device = AwsDevice(device.arn)
    properties = aws_device.properties
    assert type(properties).__name__ == FAMILY_CLASS[device.provider]
    assert properties.service.deviceCost.price == device.price
    assert properties.service.deviceCost.unit == device.unit  # the guard prices unknown devices from it
    assert tuple(properties.service.shotsRange) == (device.min_shots, device.max_shots)
    assert aws_device.status == device.status and aws_device.name == device.name
    actions = {str(getattr(a, "value", a)) for a in properties.action}
    if device.provider == "QuEra":
        assert actions == {"braket.ir.ahs.program"}  # analog: no circuits, no program sets
    else:
        assert actions == {"braket.ir.openqasm.program", "braket.ir.openqasm.program_set"}
        limits = properties.action["braket.ir.openqasm.program_set"]
        assert limits.maximumExecutables >= 1 and limits.maximumTotalShots >= limits.minimumTotalShots


def test_capabilities_are_the_schemas_models_not_copied_json(sdk):
    from braket.schema_common import BraketSchemaBase

    raw = boto3.client("braket", region_name="us-east-1", endpoint_url=sdk.url).get_device(deviceArn=SV1)
    document = json.loads(raw["deviceCapabilities"])
    assert document["braketSchemaHeader"] == {"name": "braket.device_schema.simulators."
                                              "gate_model_simulator_device_capabilities", "version": "1"}
    parsed = BraketSchemaBase.parse_raw_schema(raw["deviceCapabilities"])
    # SV1 accepts what the local simulator that computes its results can run.
    from braket.default_simulator import StateVectorSimulator

    local = StateVectorSimulator().properties.action["braket.ir.openqasm.program"]
    assert parsed.action["braket.ir.openqasm.program"].supportedOperations == local.supportedOperations


def test_get_devices_searches_every_region(sdk):
    names = {d.name for d in AwsDevice.get_devices(statuses=["ONLINE"])}
    assert {"Forte 1", "Garnet", "Cepheus-1-108Q", "SV1", "DM1", "Aquila"} <= names
    assert "Ankaa-3" not in names  # RETIRED is not ONLINE


# --------------------------------------------------------------------------------------- session

def test_session_setup_against_moto_creates_the_default_bucket(sdk, moto):
    session = AwsSession()
    assert session.account_id == ACCOUNT  # STS GetCallerIdentity, answered by moto
    assert session.default_bucket() == f"amazon-braket-us-east-1-{ACCOUNT}"
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto.url)
    assert f"amazon-braket-us-east-1-{ACCOUNT}" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    eu = AwsSession(boto3.Session(region_name="eu-north-1"))
    assert eu.default_bucket() == f"amazon-braket-eu-north-1-{ACCOUNT}"  # with a LocationConstraint


# --------------------------------------------------------------------------------------- circuits

def test_sv1_run_gives_real_counts(sdk):
    device = AwsDevice(SV1)
    task = device.run(bell(), shots=1000, tags={"project": "notebook"})
    assert task.state() == "CREATED"
    finish(sdk, task.id)
    result = task.result()
    counts = result.measurement_counts
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 1000 and min(counts.values()) > 350
    assert result.task_metadata.id == task.id and result.task_metadata.deviceId == SV1
    metadata = task.metadata()
    assert metadata["tags"] == {"project": "notebook"}
    assert metadata["outputS3Bucket"] == f"amazon-braket-us-east-1-{ACCOUNT}"  # the SDK's default bucket
    assert metadata["numSuccessfulShots"] == 1000
    assert metadata["actionMetadata"] == {"actionType": "braket.ir.openqasm.program"}
    request = sdk.task(task.id)
    assert json.loads(request["deviceParameters"])["braketSchemaHeader"]["name"] == (
        "braket.device_schema.simulators.gate_model_simulator_device_parameters")


def test_dm1_exact_results_with_zero_shots(sdk):
    circuit = Circuit().h(0).cnot(0, 1).probability()
    task = AwsDevice(DM1).run(circuit, shots=0)
    finish(sdk, task.id)
    probabilities = task.result().values[0]
    assert [round(p, 6) for p in probabilities] == [0.5, 0.0, 0.0, 0.5]


def test_qpu_task_cancelled_before_it_runs(sdk):
    device = AwsDevice(FORTE)
    task = device.run(bell(), shots=100)
    sdk.advance(task.id, "QUEUED")
    task.cancel()  # what the guard does, seen from the notebook
    assert task.state() == "CANCELLED"
    assert task.result() is None
    assert sdk.task(task.id)["status"] == "CANCELLED"


def test_qpu_results_are_plausible(sdk):
    task = AwsDevice(GARNET).run(bell(), shots=200)
    finish(sdk, task.id)
    counts = task.result().measurement_counts
    assert sum(counts.values()) == 200 and set(counts) <= {"00", "11"}


def test_failed_task_and_unwritable_results(sdk):
    failed = AwsDevice(FORTE).run(bell(), shots=10)
    finish(sdk, failed.id, "FAILED")
    assert failed.state() == "FAILED" and failed.result() is None
    nowhere = AwsDevice(SV1).run(bell(), s3_destination_folder=("no-such-bucket-here", "tasks"), shots=10)
    finish(sdk, nowhere.id)
    metadata = nowhere.metadata()
    assert metadata["status"] == "FAILED"
    assert "no-such-bucket-here" in metadata["failureReason"] and "NoSuchBucket" in metadata["failureReason"]


def test_sdk_shot_validation_matches_the_device(sdk):
    with pytest.raises(ClientError) as excinfo:
        AwsDevice(NOVEL).run(bell(), shots=2_000_000)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "[1, 1000000]" in message


def test_circuit_on_aquila_is_refused(sdk):
    with pytest.raises(ClientError) as excinfo:
        AwsDevice(AQUILA).run(bell(), shots=100)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "braket.ir.ahs.program" in message
    assert sdk.tasks() == []


# --------------------------------------------------------------------------------------- AHS

def rabi_program():
    from braket.ahs import AnalogHamiltonianSimulation, AtomArrangement, DrivingField
    from braket.timings.time_series import TimeSeries

    register = AtomArrangement()
    for x in (0.0, 5.5e-6, 11e-6):
        register.add((x, 0.0))
    amplitude = TimeSeries().put(0.0, 0.0).put(1e-7, 1.5e7).put(3.9e-6, 1.5e7).put(4e-6, 0.0)
    flat = TimeSeries().put(0.0, 0.0).put(4e-6, 0.0)
    return AnalogHamiltonianSimulation(register=register,
                                       hamiltonian=DrivingField(amplitude=amplitude, detuning=flat, phase=flat))


def test_ahs_program_on_aquila(sdk):
    device = AwsDevice(AQUILA)
    program = rabi_program().discretize(device)  # uses the paradigm of the capabilities
    task = device.run(program, shots=50)
    assert task.metadata()["actionMetadata"] == {"actionType": "braket.ir.ahs.program"}
    finish(sdk, task.id)
    result = task.result()
    assert len(result.measurements) == 50
    assert all(list(m.pre_sequence) == [1, 1, 1] for m in result.measurements)
    assert sdk.tasks()[0]["shots"] == 50


# --------------------------------------------------------------------------------------- program sets

def sweep(points: int) -> CircuitBinding:
    theta = FreeParameter("theta")
    return CircuitBinding(Circuit().rx(0, theta).cnot(0, 1),
                          input_sets={"theta": [i * 3.14159 / max(1, points - 1) for i in range(points)]})


def test_program_set_on_sv1_runs_every_executable(sdk):
    device = AwsDevice(SV1)
    program_set = ProgramSet([sweep(4), bell()], shots_per_executable=100)
    assert program_set.total_executables == 5
    task = device.run(program_set, shots=500)
    metadata = task.metadata()
    assert metadata["shots"] == 500  # the total across executables: what the guard prices
    assert metadata["actionMetadata"] == {"actionType": "braket.ir.openqasm.program_set",
                                          "programCount": 2, "executableCount": 5}
    events = [e for e in sdk.events() if e["detail"]["quantumTaskArn"] == task.id]
    assert events[0]["detail"]["shots"] == "500"
    finish(sdk, task.id)
    result = task.result()
    first, second = result[0], result[1]
    assert len(first) == 4 and len(second) == 1
    assert sum(first[0].counts.values()) == 100
    assert set(first[0].counts) == {"00"}  # theta = 0: rx does nothing
    assert set(second[0].counts) <= {"00", "11"}
    assert task.metadata()["numSuccessfulShots"] == 500


def test_program_set_shots_must_divide_by_executables(sdk):
    with pytest.raises(ClientError) as excinfo:
        AwsDevice(SV1).run(ProgramSet([sweep(3)]), shots=100)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "divisible" in message and "(3)" in message


def test_program_set_limits_come_from_the_device(sdk):
    device = AwsDevice(FORTE)
    limits = device.properties.action["braket.ir.openqasm.program_set"]
    too_many = ProgramSet([sweep(limits.maximumExecutables + 1)])
    with pytest.raises(ClientError) as excinfo:
        device.run(too_many, shots=(limits.maximumExecutables + 1) * 10)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and f"at most {limits.maximumExecutables}" in message
    with pytest.raises(ClientError) as excinfo:
        device.run(ProgramSet([bell()]), shots=limits.maximumTotalShots + 1)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and f"{limits.maximumTotalShots}]" in message
    fine = device.run(ProgramSet([sweep(2), bell()]), shots=30)
    assert sdk.task(fine.id)["actionMetadata"]["executableCount"] == 3


def test_program_set_on_aquila_is_refused(sdk):
    with pytest.raises(ClientError) as excinfo:
        AwsDevice(AQUILA).run(ProgramSet([bell()]), shots=10)
    assert error_of(excinfo)[0] == "ValidationException"


def test_malformed_program_set_reports_validation_failures(braket, emu):
    """Unequal input lists: the SDK refuses to build it, so only a raw request can send it."""
    action = {"braketSchemaHeader": {"name": "braket.ir.openqasm.program_set", "version": "1"},
              "programs": [{"source": "OPENQASM 3.0;\ninput float a;\nqubit[1] q;\nrx(a) q[0];",
                            "inputs": {"a": [0.1, 0.2]}},
                           {"source": "OPENQASM 3.0;\ninput float a;\ninput float b;\nqubit[1] q;\nrx(a*b) q[0];",
                            "inputs": {"a": [0.1, 0.2], "b": [1.0]}}]}
    with pytest.raises(ClientError) as excinfo:
        create(braket(), SV1, 4, action=json.dumps(action))
    response = excinfo.value.response
    assert response["Error"]["Code"] == "ValidationException"
    assert response["reason"] == "ProgramSetValidationFailed"
    assert [f["programIndex"] for f in response["programSetValidationFailures"]] == [1]
    assert emu.tasks() == []


def test_malformed_actions_are_validation_errors(braket, emu):
    client = braket()
    bad = {
        "empty": "{}",
        "no source": json.dumps({"braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"}}),
        "unknown type": json.dumps({"braketSchemaHeader": {"name": "braket.ir.jaqcd.program", "version": "1"},
                                    "instructions": []}),
        "not json": "OPENQASM 3.0;",
    }
    for name, action in bad.items():
        with pytest.raises(ClientError) as excinfo:
            create(client, FORTE, 10, action=action)
        assert excinfo.value.response["Error"]["Code"] == "ValidationException", name
    with pytest.raises(ClientError) as excinfo:
        create(client, FORTE, 10, deviceParameters=json.dumps(
            {"braketSchemaHeader": {"name": "braket.device_schema.ionq.ionq_device_parameters", "version": "1"},
             "paradigmParameters": {"qubitCount": "many"}}))
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert emu.tasks() == []
    assert create(client, FORTE, 10, action=bell_action())  # the same request with the SDK's action


# --------------------------------------------------------------------------------------- reservations, jobs

RESERVATION = f"arn:aws:braket:us-east-1:{ACCOUNT}:reservation/0d2bba26-6ee3-4ecf-9a11-0fde2e2a8b9c"


def test_reservation_context_sends_associations(sdk):
    device = AwsDevice(FORTE)
    with DirectReservation(device, reservation_arn=RESERVATION):
        reserved = device.run(bell(), shots=100)
        other_device = AwsDevice(SV1).run(bell(), shots=100)  # the context covers its device only
    on_demand = device.run(bell(), shots=100)
    explicit = device.run(bell(), shots=100, reservation_arn=RESERVATION)
    association = [{"arn": RESERVATION, "type": "RESERVATION_TIME_WINDOW_ARN"}]
    assert reserved.metadata()["associations"] == association
    assert explicit.metadata()["associations"] == association
    assert "associations" not in on_demand.metadata()
    assert "associations" not in other_device.metadata()


def test_bad_associations_are_refused(braket, emu):
    client = braket()
    for associations in ([{"arn": "not-an-arn", "type": "RESERVATION_TIME_WINDOW_ARN"}],
                         [{"arn": RESERVATION, "type": "RESERVATION_TIME_WINDOW_ARN"}] * 2):
        with pytest.raises(ClientError) as excinfo:
            create(client, FORTE, 10, associations=associations)
        assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert emu.tasks() == []


def test_job_token_from_the_job_environment(sdk, monkeypatch):
    """Inside a hybrid job the SDK adds ``jobToken`` from AMZN_BRAKET_JOB_TOKEN to every task."""
    job = f"arn:aws:braket:us-east-1:{ACCOUNT}:job/nightly-vqe"
    monkeypatch.setenv("AMZN_BRAKET_JOB_TOKEN", job)
    task = AwsDevice(SV1).run(bell(), shots=10)
    assert task.metadata()["jobArn"] == job


# --------------------------------------------------------------------------------------- without the SDK

def test_emulator_imports_and_serves_without_the_braket_packages(tmp_path):
    """The emulator module needs the schemas only to answer GetDevice and to check actions."""
    script = (
        "import sys, json, boto3\n"
        "sys.modules['braket'] = None  # as if amazon-braket-* were not installed\n"
        "from braket_sandbox.emulator import BraketEmulator\n"
        "with BraketEmulator() as emu:\n"
        "    arn = emu.create_task('us-east-1', 'arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1', 10)\n"
        "    c = boto3.client('braket', region_name='us-east-1', endpoint_url=emu.url,\n"
        "                     aws_access_key_id='x', aws_secret_access_key='x')\n"
        "    print(c.get_quantum_task(quantumTaskArn=arn)['status'])\n"
        "    try:\n"
        "        c.get_device(deviceArn='arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1')\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__, exc)\n"
    )
    env = {"PYTHONPATH": str(ROOT / "sandbox"), "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "CREATED"
    assert "amazon-braket-schemas" in lines[1] and "make venv" in lines[1]


ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonBraketJobsExecutionRole"


def test_hybrid_job_created_run_and_cancelled_through_the_sdk(sdk, tmp_path, monkeypatch):
    """``AwsQuantumJob.create`` uploads its code to the default bucket (moto), then CreateJob; the
    job's tasks carry its ARN; ``job.cancel()`` stops it."""
    from braket.aws import AwsQuantumJob
    from braket.jobs.config import InstanceConfig, StoppingCondition

    source = tmp_path / "algorithm.py"
    source.write_text("def main():\n    pass\n")
    job = AwsQuantumJob.create(device=FORTE, source_module=str(source), entry_point="algorithm:main",
                               job_name="nightly-vqe", role_arn=ROLE, wait_until_complete=False,
                               instance_config=InstanceConfig(instanceType="ml.g4dn.xlarge", instanceCount=2),
                               stopping_condition=StoppingCondition(maxRuntimeInSeconds=3600),
                               reservation_arn=RESERVATION, tags={"team": "qml"})
    assert job.arn == f"arn:aws:braket:us-east-1:{ACCOUNT}:job/nightly-vqe"
    assert job.state() == "QUEUED"
    metadata = job.metadata()
    assert metadata["instanceConfig"] == {"instanceType": "ml.g4dn.xlarge", "instanceCount": 2, "volumeSizeInGb": 30}
    assert metadata["stoppingCondition"] == {"maxRuntimeInSeconds": 3600}
    assert metadata["deviceConfig"] == {"device": FORTE}
    assert metadata["associations"] == [{"arn": RESERVATION, "type": "RESERVATION_TIME_WINDOW_ARN"}]
    assert metadata["tags"] == {"team": "qml"}
    assert job.queue_position().queue_position == "1"
    sdk.advance_job(job.arn, "RUNNING")
    monkeypatch.setenv("AMZN_BRAKET_JOB_TOKEN", job.arn)  # what the job's container gets
    inside = AwsDevice(FORTE).run(bell(), shots=10)
    assert inside.metadata()["jobArn"] == job.arn
    assert job.cancel() == "CANCELLING"
    assert job.state() == "CANCELLED"
    ended = job.metadata()
    assert ended["startedAt"] <= ended["endedAt"] and isinstance(ended["billableDuration"], int)
    statuses = [e["detail"]["status"] for e in sdk.events() if e["detail-type"] == "Braket Job State Change"]
    assert statuses == ["QUEUED", "RUNNING", "CANCELLING", "CANCELLED"]
    assert sdk.job(job.arn)["status"] == "CANCELLED"


def test_create_job_validation(braket, emu):
    client = braket()
    good = {"jobName": "ok-job", "roleArn": ROLE,
            "algorithmSpecification": {"scriptModeConfig": {"entryPoint": "a:main", "s3Uri": "s3://b/k.tar.gz"}},
            "outputDataConfig": {"s3Path": "s3://b/out"}, "deviceConfig": {"device": SV1},
            "instanceConfig": {"instanceType": "ml.m5.large", "volumeSizeInGb": 30}}
    bad = {"instance type": {"instanceConfig": {"instanceType": "m5.large", "volumeSizeInGb": 30}},
           "runtime": {"stoppingCondition": {"maxRuntimeInSeconds": 432_001}},
           "name": {"jobName": "bad_name"},
           "role": {"roleArn": "arn:aws:iam::123456789012:user/me"},
           "device": {"deviceConfig": {"device": "arn:aws:braket:us-east-1::device/qpu/acme/Nope"}}}
    for label, change in bad.items():
        with pytest.raises(ClientError) as excinfo:
            client.create_job(**{**good, **change})
        assert excinfo.value.response["Error"]["Code"] == "ValidationException", label
    first = client.create_job(**good)["jobArn"]
    with pytest.raises(ClientError) as excinfo:
        client.create_job(**good)  # the same name again (another client token)
    assert excinfo.value.response["Error"]["Code"] == "ConflictException"
    local = client.create_job(**{**good, "jobName": "local-sim",
                                 "deviceConfig": {"device": "local:braket/braket.local.qubit"}})["jobArn"]
    assert [j["jobArn"] for j in emu.jobs()] == [first, local]
    with pytest.raises(ClientError) as excinfo:
        client.get_job(jobArn=f"arn:aws:braket:us-east-1:{ACCOUNT}:job/missing")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    emu.advance_job(first, "RUNNING")
    emu.advance_job(first, "COMPLETED", billable_duration=90_000)
    with pytest.raises(ClientError) as excinfo:
        client.cancel_job(jobArn=first)
    assert excinfo.value.response["Error"]["Code"] == "ConflictException"
    assert client.get_job(jobArn=first)["billableDuration"] == 90_000


def test_search_jobs_pages_and_filters(braket, emu):
    arns = [emu.create_job("us-east-1", SV1, name=f"job-{i}", created_at=f"2026-11-28T0{i}:00:00Z")
            for i in range(5)]
    emu.create_job("eu-north-1", GARNET, name="job-eu")
    client = braket()
    pages = list(client.get_paginator("search_jobs").paginate(filters=[], PaginationConfig={"PageSize": 2}))
    found = [j["jobArn"] for page in pages for j in page["jobs"]]
    assert found == arns[::-1] and len(pages) == 3  # newest first, this region only
    since = client.search_jobs(filters=[{"name": "createdAt", "operator": "GTE", "values": ["2026-11-28T03:00:00Z"]}])
    assert [j["jobName"] for j in since["jobs"]] == ["job-4", "job-3"]
    one = client.search_jobs(filters=[{"name": "jobArn", "operator": "EQUAL", "values": [arns[1]]}])["jobs"]
    assert [j["device"] for j in one] == [SV1]
    with pytest.raises(ClientError):
        client.search_jobs(filters=[{"name": "status", "operator": "EQUAL", "values": ["QUEUED"]}])


def test_python_api_checks_an_action_and_stores_its_result(emu, moto):
    """``create_task`` with an action applies CreateQuantumTask's checks; without one (the
    guard's integration tests) it is unchecked and never gets a result."""
    from braket_sandbox.braket.common import BraketApiError
    from braket_sandbox.results import ResultStore

    boto3.client("s3", region_name="us-east-1", endpoint_url=moto.url).create_bucket(Bucket=BUCKET)
    emu.store_results(moto.url)
    with pytest.raises(BraketApiError) as excinfo:
        emu.create_task("us-east-1", AQUILA, 10, action=bell_action(), output_s3_bucket=BUCKET)
    assert excinfo.value.code == "ValidationException"
    arn = emu.create_task("us-east-1", SV1, 64, action=bell_action(), output_s3_bucket=BUCKET)
    bare = emu.create_task("us-east-1", SV1, 64, output_s3_bucket=BUCKET)
    for task in (arn, bare):
        emu.advance(task, "COMPLETED")
    stored = ResultStore(moto.url).get(emu.task(arn))
    assert stored["taskMetadata"]["id"] == arn and len(stored["measurements"]) == 64
    assert emu.task(bare)["status"] == "COMPLETED" and emu.task(bare)["actionMetadata"] == {
        "actionType": "braket.ir.openqasm.program"}
    with pytest.raises(ClientError):
        ResultStore(moto.url).get(emu.task(bare))
    emu.store_results(None)
    later = emu.create_task("us-east-1", SV1, 8, action=bell_action(), output_s3_bucket=BUCKET)
    emu.advance(later, "COMPLETED")
    with pytest.raises(ClientError):
        ResultStore(moto.url).get(emu.task(later))


def test_queue_depth_and_queue_position(sdk):
    device = AwsDevice(FORTE)
    first, second = device.run(bell(), shots=10), device.run(bell(), shots=10)
    for task in (first, second):
        sdk.advance(task.id, "QUEUED")
    depth = device.queue_depth()
    assert [str(v) for v in depth.quantum_tasks.values()] == ["2"]
    assert second.queue_position().queue_position == "2"
    sdk.advance(first.id, "RUNNING")
    position = first.queue_position()
    assert position.queue_position is None and "RUNNING" in position.message


def test_run_batch_goes_through_copied_sessions(sdk):
    """``run_batch`` copies the session (without a hand-made client): the environment's
    AWS_ENDPOINT_URL_BRAKET keeps it on the emulator."""
    batch = AwsDevice(SV1).run_batch([bell(), Circuit().x(0).cnot(0, 1)], shots=20, max_parallel=2)
    arns = [task.id for task in batch.tasks]
    assert len(arns) == 2 and {t["quantumTaskArn"] for t in sdk.tasks()} == set(arns)
    for arn in arns:
        finish(sdk, arn)
    counts = [result.measurement_counts for result in batch.results()]
    assert set(counts[0]) <= {"00", "11"} and set(counts[1]) == {"11"}


def test_a_program_the_simulator_cannot_run_fails_when_completed(sdk, moto):
    """The emulator checks the IR document, not the OpenQASM text (README): a program that does
    not run is accepted, then FAILED with the simulator's error when its device completes it."""
    boto3.client("s3", region_name="us-east-1", endpoint_url=moto.url).create_bucket(Bucket=BUCKET)
    client = boto3.client("braket", region_name="us-east-1", endpoint_url=sdk.url, config=NO_RETRY)
    action = json.dumps({"braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"},
                         "source": "OPENQASM 3.0;\nqubit[1] q;\nnot_a_gate q[0];"})
    arn = create(client, SV1, 10, action=action)
    finish(sdk, arn)
    task = client.get_quantum_task(quantumTaskArn=arn)
    assert task["status"] == "FAILED"
    assert task["failureReason"].startswith("the program failed to run")


def test_experimental_capabilities_are_accepted_and_returned(sdk, braket):
    task = AwsDevice(FORTE).run(bell(), shots=10, experimental_capabilities="ALL")
    assert task.metadata()["experimentalCapabilities"] == {"enabled": "ALL"}
    with pytest.raises(ClientError) as excinfo:  # the model's union allows only ALL or NONE
        create(braket(), FORTE, 10, experimentalCapabilities={"enabled": "SOME"})
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def test_jobs_control_plane_for_subprocess_users(emu):
    import requests

    arn = emu.create_job("us-east-1", SV1, name="ctl-job")
    moved = requests.post(f"{emu.url}/_sandbox/advance-job", json={"arn": arn, "status": "RUNNING"}, timeout=5)
    assert moved.status_code == 200 and moved.json()["status"] == "RUNNING" and moved.json()["startedAt"].endswith("Z")
    listed = requests.get(f"{emu.url}/_sandbox/jobs", timeout=5).json()
    assert [j["jobArn"] for j in listed] == [arn]
    assert emu.job_event_for(arn)["detail"] == {
        "jobArn": arn, "status": "RUNNING", "deviceArn": SV1,
        "createdAt": listed[0]["createdAt"], "startedAt": listed[0]["startedAt"]}
