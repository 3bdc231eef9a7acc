"""Item 3 of issue 19: a Lambda runtime whose botocore predates Braket's spending-limit API
(2025-11). The test gives boto3 a real braket model without those operations (AWS_DATA_PATH,
botocore's own override of its data files): the event path still cancels, reconciliation still
accrues jobs, native limits turn off for the container with one alert a day and a metric."""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime, timezone

import botocore
import pytest

from braket_guard import handler
from braket_guard.ops import operations

from .conftest import FORTE, REGION
from .test_native_limits import create_and_invoke, device_cap

SPENDING_OPERATIONS = ("CreateSpendingLimit", "UpdateSpendingLimit", "DeleteSpendingLimit", "SearchSpendingLimits")


@pytest.fixture
def old_botocore(harness, tmp_path):
    """The braket model as botocore shipped it before the spending-limit operations."""
    source = os.path.join(os.path.dirname(botocore.__file__), "data", "braket", "2019-09-01")
    with gzip.open(os.path.join(source, "service-2.json.gz"), "rt") as handle:
        model = json.load(handle)
    for name in SPENDING_OPERATIONS:
        assert name in model["operations"], f"this botocore has no {name}: the test cannot trim it"
        del model["operations"][name]
    target = tmp_path / "braket" / "2019-09-01"
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    harness.monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    handler._cache.clear()  # a new container: its clients load the trimmed model
    yield harness
    handler._cache.clear()


def test_the_event_path_still_cancels_and_native_limits_turn_off_with_one_alert(old_botocore, capsys):
    harness = old_botocore
    harness.configure([device_cap()])
    harness.monkeypatch.setenv("BRAKET_GUARD_NATIVE_LIMITS", "freeze")
    handler._cache.clear()
    assert not hasattr(handler.runtime().guard.native.limits.client_for_region(REGION), "search_spending_limits")
    create_and_invoke(harness)
    results = [create_and_invoke(harness)[1] for _ in range(3)]
    assert all(r["decision"] == "rejected" and r["cancelled"] is True for r in results), results
    assert harness.emu.spending_limits(REGION) == []
    assert handler.runtime().guard.native.unavailable and not handler.runtime().guard.native.enabled
    told = [m for m in harness.emails() if "Native spending limits are off" in m["Subject"]]
    assert len(told) == 1, [m["Subject"] for m in harness.emails()]
    metric_lines = [line for line in capsys.readouterr().out.splitlines() if "NativeLimitsUnavailable" in line]
    assert len(metric_lines) == 1, "one metric per container"


def test_reconciliation_still_accrues_jobs_without_the_api(old_botocore):
    harness = old_botocore
    gpu = "ml.p3.8xlarge"
    harness.configure([device_cap(), {"name": "jobs", "window": "total", "group_by": "account",
                                      "max_cost_usd": "100", "kinds": ["job"]}],
                      prices={gpu: {"per_hour_usd": "12.00"}})
    harness.monkeypatch.setenv("BRAKET_GUARD_NATIVE_LIMITS", "mirror_and_freeze")
    handler._cache.clear()
    arn = harness.emu.create_job(REGION, FORTE, instance_type=gpu)
    harness.emu.advance_job(arn, "RUNNING")
    harness.emu.advance_job(arn, "COMPLETED")
    harness.take_events()  # lost: only reconciliation can charge the job
    summary = operations.run_action(handler.runtime().guard, {"braket_guard": "reconcile"},
                                    now=datetime.now(timezone.utc))
    assert summary["jobs_found"] == 1, summary
    assert harness.item(f"JOB#{arn}", "JOB")["state"]["S"] == "settled"
    assert summary["native_limits"]["native_limits"] == "unavailable", summary["native_limits"]
