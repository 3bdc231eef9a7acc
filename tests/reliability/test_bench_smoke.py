"""A tiny run of the benchmark (N = 10, both systems, and the quick runaway at the quota; the real
CLI in its own process): the pipeline works end to end and its counts mean what the report says
they mean."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

from .conftest import ROOT


def test_benchmark_runs_end_to_end_at_n_10(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench.run", "--n", "10", "--guard-only", "--no-footprint", "--quick",
                           "--out-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = json.loads((tmp_path / "results.json").read_text())
    results = {r["system"]: r for r in saved["results"]}
    guard, original = results["braket-guard"], results["original tool"]
    for result in (guard, original):
        assert result["complete"] and result["tasks_submitted"] == 10 and result["invocations"] > 0
        # both under Braket's default quotas; the throttles counted are the emulator's own count
        assert result["quotas"] is True
        assert result["throttled"] == sum(result["throttled_by_op"].values())
        assert result["lambda_retries"] <= result["failed_invocations"]
    assert guard["failed_invocations"] == 0  # its cancels keep to the 2/s quota by its token bucket
    # the original cancels every QUEUED task at each event, unpaced: CancelQuantumTask's 2/s throttles it
    assert original["throttled_by_op"].get("CancelQuantumTask", 0) > 0
    # the guard: no cap overshoot, no Braket search, its work is in DynamoDB
    assert guard["overshoot_micros"] == 0 and guard["overshoot_shots"] == 0
    assert guard["admitted_cost_micros"] <= guard["max_cost_micros"]
    assert "SearchQuantumTasks" not in guard["braket_calls_by_op"] and guard["ddb_calls"] > 0
    # the original: three full scans (at 10 per page) per invocation, no DynamoDB
    assert original["braket_calls_by_op"]["SearchQuantumTasks"] >= 3 * original["invocations"]
    assert original["ddb_calls"] == 0
    assert (tmp_path / "benchmark.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "benchmark.md").read_text()
    assert "| 10 |" in report and "original tool" in report and "braket-guard" in report
    assert "| 10 |" in done.stdout  # the table is printed too

    check_quota(saved["quota"], report, tmp_path)


def check_quota(quota, report, out):
    """The runaway at the quota: one row per mode the guard supports, each figure what it says."""
    modes = {r["key"]: r for r in quota["results"]}
    cancel = modes.get("cancel_unpaced") or modes.get("cancel")
    assert cancel is not None, f"no cancel-only row in {sorted(modes)}"
    scenario = quota["scenario"]
    for r in modes.values():
        assert r["tasks_created"] > 0 and r["invocations"] > 0
        assert r["tasks_in_cap"] == int(Decimal(scenario["cap_usd"]) // Decimal(quota["task_cost_usd"]))
        assert r["tasks_past_cap"] == max(0, r["tasks_created"] - r["tasks_in_cap"]) == r["cancels_needed"]
        assert r["cancelled_in_time"] + r["ran_past_cap"] <= r["tasks_past_cap"]
        assert r["deliveries"] == r["eventbridge_events"] >= r["tasks_created"]
        assert Decimal(r["cost_per_1000_tasks_usd"]) > 0
        assert r["mode"] in report
    # Cancel-only: nothing stops the loop, it runs its time; everything past the cap needs a cancel.
    assert cancel["notebook_stopped_by"] is None and cancel["tasks_past_cap"] > 0
    assert cancel["cancel_calls"] > 0
    assert cancel["throttled_notebook"] > 0  # the CreateQuantumTask quota (20/s, burst 40) was applied
    assert cancel["create_rate_per_s"] > 0
    for key in ("freeze", "mirror"):
        if key in modes:  # the loop stops on Braket's own refusal
            assert "ValidationException" in (modes[key]["notebook_stopped_by"] or ""), modes[key]
            assert modes[key]["native_limits"], "the guard made no native spending limit"
    assert "physical limit" in report and "per 1,000 tasks" in report
    assert (out / "benchmark-quota.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
