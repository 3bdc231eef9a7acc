"""The braket-guard CLI against moto and the Braket emulator, including its error paths."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from braket_guard import cli

from .conftest import FORTE, NOVEL, REGION, SV1

CAPS = [{"name": "daily", "window": "day", "group_by": "device", "max_shots": 250, "max_cost_usd": 100,
         "devices": ["qpu"]},
        {"name": "month", "window": "month", "group_by": "account", "max_cost_usd": 1000}]


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def today_tasks(harness, shots=(100, 100, 100)):
    now = datetime.now(timezone.utc)
    arns = [harness.emu.create_task(REGION, FORTE, s, created_at=now) for s in shots]
    for event in harness.take_events():
        harness.invoke(event)
    return arns


def test_check_config_valid_and_invalid(tmp_path):
    good = tmp_path / "caps.json"
    good.write_text(json.dumps(CAPS))
    code, out, _ = run("check-config", str(good))
    assert code == 0 and "2 cap(s), valid" in out
    assert "daily  day     device    qpu      250 shots / $100.00" in out
    code, out, _ = run("check-config", str(good), "--json")
    assert json.loads(out)["caps"][0]["max_cost_usd"] == "100.00"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{**CAPS[0], "window": "week"}]))
    code, out, err = run("check-config", str(bad))
    assert code == 2 and out == ""
    assert err == "braket-guard: error: BRAKET_GUARD_CAPS[0].window: must be one of day, month, total, got 'week'\n"
    code, _, err = run("check-config", str(tmp_path / "missing.json"))
    assert code == 2 and "File not found" in err and "Traceback" not in err


def test_status_shows_usage_per_group(harness):
    harness.configure(CAPS)
    today_tasks(harness)
    code, out, err = run("status")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["CAP", "WINDOW", "GROUP", "SHOTS", "COST", "USED", "REJECTED", "RAN", "OVER"]
    daily = [line for line in lines if line.startswith("daily")]
    assert len(daily) == 1 and "ionq/Forte-1" in daily[0] and "200 / 250" in daily[0]
    assert "$16.60 / $100.00" in daily[0] and "80%" in daily[0] and daily[0].split()[-2:] == ["1", "0"]
    assert lines[-1] == "Open work: 1 await end"  # the rejected task's CANCELLED event is not delivered here
    code, out, _ = run("status", "--json")
    rows = json.loads(out)["caps"]
    assert {r["cap"]: r["percent"] for r in rows} == {"daily": "80", "month": "1.66"}  # exact, as text


def test_report_by_device_with_progress(harness):
    harness.configure(CAPS)
    today_tasks(harness)
    harness.emu.create_task(REGION, SV1, 1000)
    harness.emu.create_task(REGION, NOVEL, 10)
    harness.take_events()
    day = datetime.now(timezone.utc).date().isoformat()
    out, err = io.StringIO(), io.StringIO()
    sys_stderr, sys.stderr = sys.stderr, err
    try:
        code = cli.main(["report", "--date", day, "--progress"], out=out, err=err)
    finally:
        sys.stderr = sys_stderr
    assert code == 0
    assert f"Searching {REGION} [" in err.getvalue() and "5 tasks" in err.getvalue()
    text = out.getvalue()
    forte = [line for line in text.splitlines() if line.startswith("ionq/Forte-1")][0]
    assert "2 (200)" in forte and "1 (100)" in forte and "$16.60" in forte  # CREATED 2, CANCELLED 1
    assert "acme/Novel-1" in text and "$0.80" in text  # priced from GetDevice
    assert "Estimated total: $17.40" in text
    code, out, _ = run("report", "--date", day, "--json")
    data = json.loads(out)
    assert data["estimated_total_usd"] == "17.40375"
    assert {d["device"] for d in data["devices"]} == {FORTE, SV1, NOVEL}


def test_report_rejects_bad_dates():
    code, _, err = run("report", "--date", "28/11/2026", "--region", REGION)
    assert code == 2 and "--date: expected YYYY-MM-DD" in err


def test_explain_each_kind_of_decision(harness):
    harness.configure(CAPS)
    admitted, _, rejected = today_tasks(harness, shots=(100, 100, 100))
    code, out, _ = run("explain", admitted)
    assert code == 0 and "Admitted: first seen CREATED" in out
    assert "daily (" in out and "+100 shots, +$8.30; the counter now holds 200 shots, $16.60" in out
    code, out, _ = run("explain", rejected)
    assert "Rejected: first seen CREATED" in out and "did not fit: daily" in out
    assert "Cancellation: requested (Braket answered CANCELLING)" in out
    for event in harness.take_events():  # its CANCELLED event reaches the guard
        harness.invoke(event)
    code, out, _ = run("explain", rejected)
    assert "Cancellation: done: the task ended without running" in out
    harness.emu.cancel_task(admitted)
    for event in harness.take_events():
        harness.invoke(event)
    code, out, _ = run("explain", admitted, "--json")
    assert json.loads(out)["state"] == "refunded"
    code, out, _ = run("explain", "arn:aws:braket:us-east-1:123456789012:quantum-task/unknown-1")
    assert code == 1 and "no record of this task" in out


def test_readable_errors_for_missing_table_and_credentials(harness, monkeypatch, tmp_path):
    harness.configure(CAPS)
    code, _, err = run("status", "--table", "no-such-table")
    assert code == 2 and err.startswith("braket-guard: error: Ledger table not found")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code, _, err = run("status", "--json")
    assert code == 2 and "No AWS credentials found" in json.loads(err)["error"]
    monkeypatch.delenv("BRAKET_GUARD_TABLE")
    code, _, err = run("explain", "arn:aws:braket:us-east-1:123456789012:quantum-task/unknown-1")
    assert code == 2 and "No ledger table" in err


def test_console_script_is_installed():
    script = shutil.which("braket-guard", path=os.path.dirname(sys.executable))
    assert script, ("the braket-guard console script is not installed next to this Python; "
                    "`make venv` runs `pip install -e .`")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "check-config" in result.stdout
