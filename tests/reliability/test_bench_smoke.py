"""A tiny run of the benchmark (N = 10, both systems, the real CLI in its own process): the
pipeline works end to end and its counts mean what the report says they mean."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import ROOT


def test_benchmark_runs_end_to_end_at_n_10(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench.run", "--n", "10", "--guard-only", "--no-footprint",
                           "--out-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = {r["system"]: r for r in json.loads((tmp_path / "results.json").read_text())["results"]}
    guard, original = results["braket-guard"], results["original tool"]
    for result in (guard, original):
        assert result["complete"] and result["tasks_submitted"] == 10
        assert result["failed_invocations"] == 0 and result["invocations"] > 0
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
