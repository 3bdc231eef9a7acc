"""The braket-guard CLI against moto and the Braket emulator, including its error paths."""

from __future__ import annotations

import io
import json
import os
import re
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


# -- issue 18: the CLI's boundary ------------------------------------------------------------------
def one_error_line(err: str) -> str:
    """The single stderr line of an error (fails if there is not exactly one)."""
    assert err.endswith("\n") and err.count("\n") == 1, f"expected one line on stderr, got {err!r}"
    assert "Traceback" not in err
    return err


def test_report_counts_a_repeated_region_once(harness):
    harness.configure(CAPS)
    today_tasks(harness)
    day = datetime.now(timezone.utc).date().isoformat()
    code, out, err = run("report", "--date", day, "--region", REGION, "--json")
    assert code == 0, err
    once = json.loads(out)
    code, out, err = run("report", "--date", day, "--region", REGION, "--region", REGION, "--json")
    assert code == 0, err
    twice = json.loads(out)
    assert twice["regions"] == [REGION]
    assert twice["devices"] == once["devices"] and twice["estimated_total_usd"] == once["estimated_total_usd"]
    forte = [d for d in twice["devices"] if d["device"] == FORTE]
    assert forte and forte[0]["tasks"] == 3 and forte[0]["shots"] == 300


def test_report_without_credentials_prints_nothing_on_stdout(harness, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    day = datetime.now(timezone.utc).date().isoformat()
    code, out, err = run("report", "--date", day, "--region", REGION, "--region", "eu-north-1")
    assert code == 2 and out == "", out
    assert one_error_line(err).startswith("braket-guard: error: No AWS credentials found")


def test_report_with_no_region_searched_is_an_error_not_a_zero_total(harness, monkeypatch):
    from .cli_process import closed_port_url
    monkeypatch.setenv("AWS_ENDPOINT_URL_BRAKET", closed_port_url())
    day = datetime.now(timezone.utc).date().isoformat()
    code, out, err = run("report", "--date", day, "--region", REGION)
    assert code == 2 and out == "" and "Estimated total" not in err
    assert one_error_line(err).startswith(f"braket-guard: error: Braket could not be searched in any region: "
                                          f"{REGION}: Cannot reach braket at http://127.0.0.1:")


def test_function_not_found_names_the_function(harness, monkeypatch, moto_server):
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", moto_server.url)
    for argv in (["status", "--function", "no-such-fn"], ["report", "--month", "2026-12", "--function", "no-such-fn"]):
        code, out, err = run(*argv)
        assert code == 2 and out == ""
        assert one_error_line(err) == (f"braket-guard: error: Lambda function not found: no-such-fn in {REGION}. "
                                       "Check --function and AWS_REGION.\n")


def test_status_with_only_aws_region_set(harness, moto_server, emulator):
    """boto3 reads AWS_DEFAULT_REGION, not AWS_REGION: the CLI passes AWS_REGION itself."""
    from .cli_process import base_env, run_cli
    harness.configure(CAPS)
    today_tasks(harness)
    env = base_env(AWS_REGION=REGION, AWS_ENDPOINT_URL_DYNAMODB=moto_server.url,
                   AWS_ENDPOINT_URL_BRAKET=emulator.url, BRAKET_GUARD_TABLE=harness.table,
                   BRAKET_GUARD_CAPS=json.dumps(CAPS))
    assert "AWS_DEFAULT_REGION" not in env
    result = run_cli(["status", "--json"], env)
    assert result.returncode == 0, result.stderr
    assert {r["cap"]: r["percent"] for r in json.loads(result.stdout)["caps"]} == {"daily": "80", "month": "1.66"}
    del env["AWS_REGION"]  # no region at all: the message says what to set, and that --region is not it
    result = run_cli(["status"], env)
    assert result.returncode == 2 and result.stdout == ""
    assert one_error_line(result.stderr) == (
        "braket-guard: error: No Braket region: pass --region, set BRAKET_GUARD_REGIONS, or set AWS_REGION "
        "(or AWS_DEFAULT_REGION) to the region the guard runs in\n")
    result = run_cli(["status", "--region", REGION], env)
    assert result.returncode == 2 and result.stdout == ""
    assert one_error_line(result.stderr) == (
        "braket-guard: error: No AWS region for the ledger table and the Lambda: set AWS_REGION or "
        "AWS_DEFAULT_REGION (--region picks the Braket regions to search, not this one)\n")


def test_help_describes_the_tool_and_lists_every_command():
    from .cli_process import base_env, run_cli
    result = run_cli(["--help"], base_env())
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: braket-guard [-h] COMMAND ...\n")
    assert "Operate a braket-guard deployment" in result.stdout and "``" not in result.stdout
    listed = re.findall(r"^    ([a-z-]+) +\S", result.stdout, re.M)
    assert listed == list(cli.COMMANDS), listed
    assert "exit status: 0 done; 1 the answer is incomplete" in result.stdout
    result = run_cli([], base_env())
    assert result.returncode == 2 and result.stdout == ""
    assert one_error_line(result.stderr) == (
        "braket-guard: error: a command is required: one of status, report, explain, check-config, prices, "
        "unfreeze (see braket-guard --help)\n")


@pytest.mark.parametrize("argv,message", [
    (["report", "--date", ""], "--date: expected YYYY-MM-DD, got ''"),
    (["report", "--date", "9999-12-31"], "--date: 9999-12-31 in UTC is at the end of the calendar"),
    (["report", "--date", "0001-01-01", "--timezone", "Asia/Tokyo"],
     "--date: 0001-01-01 in Asia/Tokyo is at the end of the calendar"),
    (["report", "--month", "9999-12"], "--month: 9999-12 in UTC is at the end of the calendar"),
    (["report", "--month", "0001-01", "--timezone", "Asia/Tokyo"], "--month: 0001-01 in Asia/Tokyo"),
    (["report", "--date", "2026-02-30"], "--date: expected YYYY-MM-DD, got '2026-02-30'"),
    (["report", "--date", "20261201"], "--date: expected YYYY-MM-DD, got '20261201'"),
    (["report", "--date", "2026-12-0\u0661"], "--date: expected YYYY-MM-DD"),  # ARABIC-INDIC DIGIT ONE
    (["report", "--date", "2026-12-01", "--month", "2026-12"], "argument --month: not allowed with argument --date"),
    (["report", "--date", "2026-12-01", "--timezone", "Mars/Olympus_Mons"], "--timezone: unknown IANA time zone"),
    (["report", "--date", "2026-12-01", "--timezone", "../../etc/passwd"], "--timezone: expected an IANA time zone"),
    (["report", "--date", "2026-12-01", "--timezone", "UTC\n"], "--timezone: expected an IANA time zone"),
])
def test_bad_report_dates_and_zones_are_one_line(argv, message):
    code, out, err = run(*argv, "--region", REGION)
    assert code == 2 and out == ""
    assert message in one_error_line(err), err


ARN = "arn:aws:braket:us-east-1:123456789012:quantum-task/62ad2080-4575-4080-97ca-0d1373435665"


@pytest.mark.parametrize("argv,message", [
    (["explain", ARN + "\n"], "TASK_OR_JOB_ARN: expected a Braket quantum-task or job ARN"),
    (["explain", ARN.replace("123456789012", "12345678901\u0662")], "TASK_OR_JOB_ARN: expected"),
    (["explain", " " + ARN], "TASK_OR_JOB_ARN: expected"),
    (["explain", ARN, "--region", "us-east-1\n"], "--region: expected an AWS region name"),
    (["explain", ARN, "--table", "ledger\n"], "--table: expected a DynamoDB table name"),
    (["explain", ARN, "--function", "fn\n"], "--function: expected a Lambda function name or ARN"),
    (["report", "--month", "2026-12", "--device", FORTE + "\n"], "--device: expected a Braket device ARN"),
    (["report", "--month", "2026-12", "--region", "us-east-\u0661"], "--region: expected an AWS region name"),
    (["unfreeze", "forte-day\n"], "CAP: expected a cap name"),
    (["unfreeze", "forte-day", "12345678901\u0662"], "GROUP: expected an account id, a region or a device ARN"),
    (["prices", "--region", "us-east-1\n"], "--region: expected an AWS region name"),
    (["prices", "--price-region", "eu west 2"], "--price-region: expected an AWS region name"),
    (["prices", "--device-arn", NOVEL + "\n"], "--device-arn: not a Braket device ARN"),
    (["status", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
])
def test_identifiers_on_argv_are_matched_whole(argv, message):
    """No AWS call happens: argv is refused at the boundary (no credentials, no endpoints needed)."""
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert message in one_error_line(err), err


@pytest.mark.parametrize("name,value,message", [
    ("AWS_REGION", "us-east-1\n", "AWS_REGION: expected an AWS region name such as us-east-1, got 'us-east-1\\n'"),
    ("AWS_REGION", "us-east-\u0661", "AWS_REGION: expected an AWS region name"),
    ("AWS_DEFAULT_REGION", "eu west 2", "AWS_DEFAULT_REGION or the profile's region: expected an AWS region name"),
])
def test_the_home_region_is_matched_whole_too(monkeypatch, name, value, message):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv(name, value)
    code, out, err = run("status", "--table", "guard-ledger", "--region", REGION)
    assert code == 2 and out == ""
    assert message in one_error_line(err), err


@pytest.mark.parametrize("junk", ["\n", "a\nb", "\u2028", "\x1c", "\t"])
def test_an_unknown_argument_with_a_line_break_stays_on_one_line(junk):
    """Found by the property test: argparse echoed ``status '\\n'`` as two lines."""
    code, out, err = run("status", junk)
    assert code == 2 and out == ""
    assert one_error_line(err).startswith("braket-guard: error: unrecognized arguments: ")
    assert err.splitlines() == [err[:-1]], err  # no character Python counts as a line break


def test_a_region_that_cannot_be_searched_leaves_a_partial_report_and_one_warning(harness):
    """Exit 1: the other region's tasks are reported; the missing region is named in the report
    and once on stderr (scripts that read only stdout see it in the JSON's region_errors)."""
    harness.configure(CAPS)
    today_tasks(harness)
    harness.emu.fail_next("SearchQuantumTasks", 1, "AccessDeniedException")  # the first region asked
    day = datetime.now(timezone.utc).date().isoformat()
    code, out, err = run("report", "--date", day, "--region", "eu-north-1", "--region", REGION)
    assert code == 1
    assert one_error_line(err).startswith("braket-guard: warning: report incomplete: eu-north-1: AccessDeniedException")
    assert "Region eu-north-1 could not be searched (AccessDeniedException" in out
    forte = [line for line in out.splitlines() if line.startswith("ionq/Forte-1")]
    assert forte and "$16.60" in forte[0], out


def test_an_argv_error_with_json_asked_for_is_a_json_line():
    code, out, err = run("status", "--json", "--bogus")
    assert code == 2 and out == ""
    assert json.loads(one_error_line(err)) == {"error": "unrecognized arguments: --bogus (see braket-guard --help)"}
