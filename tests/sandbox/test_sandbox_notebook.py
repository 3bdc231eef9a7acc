"""The demo's runaway notebook (braket_sandbox.runaway.Notebook): written with the Braket SDK, it
submits through ``AwsDevice.run`` on several threads and reads back what the SDK reports."""

from __future__ import annotations

from braket_sandbox.runaway import DEFAULT_DEVICES, Notebook, NotebookDevice
from sandbox_helpers import FORTE, SV1

FORTE_ONLY = (NotebookDevice("ionq/Forte-1", FORTE, ("us-east-1",), 1, (10, 20), 1, (0.1, 0.2)),)


def test_notebook_submits_through_the_sdk_and_sees_what_happened(sdk):
    notebook = Notebook(sdk.url, tasks=12, threads=3, seed=5, pause=(0.0, 0.0))
    submissions = notebook.run()
    assert len(submissions) == 12 and not [s.error for s in submissions if s.error]
    tasks = {t["quantumTaskArn"]: t for t in sdk.tasks()}
    assert {s.arn for s in submissions} == set(tasks)
    assert {t["tags"]["project"] for t in tasks.values()} == {"runaway-notebook"}
    kinds = {t["deviceArn"]: t["actionMetadata"]["actionType"] for t in tasks.values()}
    assert kinds.get(FORTE, "braket.ir.openqasm.program") == "braket.ir.openqasm.program"
    assert all(kind == "braket.ir.ahs.program" for arn, kind in kinds.items() if "quera" in arn)
    arns = sorted(tasks)
    for arn in arns[:6]:
        sdk.advance(arn, "COMPLETED")
    for arn in arns[6:]:
        sdk.cancel_task(arn)
    seen = notebook.observe()
    assert seen["states"] == {arn: sdk.task(arn)["status"] for arn in arns}
    assert sum(sum(c.values()) for c in seen["by_device"].values()) == 12
    assert set(seen["by_device"]) <= {d.name for d in DEFAULT_DEVICES}
    assert seen["sdk_warnings"] == {"Task is in terminal state CANCELLED and no result is available.": 6}
    for item in seen["results"]:
        expected = "None" if item["state"] == "CANCELLED" else "QuantumTaskResult"
        assert expected in item["result"], item
    regions = {t["region"] for t in tasks.values() if t["deviceArn"] == SV1}
    assert regions <= {"us-east-1", "us-west-2"}


def test_each_notebook_thread_stops_on_the_sdks_first_error(sdk):
    notebook = Notebook(sdk.url, tasks=10, threads=2, devices=FORTE_ONLY, pause=(0.0, 0.0))
    notebook.setup()
    sdk.set_device_status(FORTE, "OFFLINE")
    submissions = notebook.run()
    assert len(submissions) == 2  # one failed run per thread, then its loop is over
    assert all("DeviceOfflineException" in s.error for s in submissions)
    assert sdk.tasks() == []


def test_boto3_deployment_guards_the_regions_of_examples_sandbox():
    """The boto3 path renders BRAKET_GUARD_REGIONS as the module does for examples/sandbox (its
    ``regions``: exactly the guarded regions), so the notebook's us-west-2 simulator tasks are
    guarded either way."""
    import json
    import re
    from pathlib import Path

    from braket_sandbox.deploy import REGION, render_environment

    text = (Path(__file__).resolve().parents[2] / "examples" / "sandbox" / "main.tf").read_text()
    forwarded = json.loads(re.search(r'^\s*regions\s*=\s*(\[[^\]]*\])', text, re.M).group(1))
    env = render_environment("t", [], "UTC", "arn:aws:sns:us-east-1:123456789012:x", None)
    assert json.loads(env["BRAKET_GUARD_REGIONS"]) == forwarded and REGION in forwarded
    assert {r for d in DEFAULT_DEVICES for r in d.regions} <= set(json.loads(env["BRAKET_GUARD_REGIONS"]))
