"""One regression test per defect the review of the state machine found (issue 9), each named
after it, against the real handler, moto, the Braket emulator and the Slack sink. Each was
reproduced on the guard before the state machine; each passes now."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from braket_guard import cli
from braket_guard import handler
from braket_guard.ops import operations
from braket_guard.config import ConfigError, load_config

from .conftest import ACCOUNT, FORTE, NOVEL, REGION

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
DAY = "2026-11-28"
NOW = datetime(2026, 11, 28, 18, 0, tzinfo=timezone.utc)
COST = 8_300_000  # Forte-1, 100 shots


def daily(usd=20, **extra):
    return {"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": usd, **extra}


def submit(harness, count=1, shots=100, device=FORTE, start=T0):
    arns = [harness.emu.create_task(REGION, device, shots, created_at=start + timedelta(seconds=i))
            for i in range(count)]
    return arns, [e for e in harness.take_events() if e["detail"]["status"] == "CREATED"]


def deliver_everything(harness, events):
    pending = list(events)
    while pending:
        for event in pending:
            harness.invoke(event)
        pending = harness.take_events()


def subjects(harness):
    return [e["Subject"] for e in harness.emails()]


def reconcile(now=NOW):
    return operations.run_action(handler.runtime().guard, {"braket_guard": "reconcile"}, now=now)


def test_defect1_an_alert_only_cap_switches_off_no_other_cap(harness):
    """The README's own example: a total alert_only cap beside an enforcing daily cap."""
    harness.configure([daily(20), {"name": "lifetime", "window": "total", "group_by": "account",
                                   "max_cost_usd": 5, "on_breach": "alert_only"}])
    arns, events = submit(harness, 6)
    deliver_everything(harness, events)
    statuses = [harness.emu.task(a)["status"] for a in arns]
    assert statuses == ["CREATED", "CREATED"] + ["CANCELLED"] * 4  # $20 daily holds: 2 x $8.30 ran
    assert harness.counter("daily", DAY, ACCOUNT)["cost_micros"] == 2 * COST
    assert harness.counter("lifetime", "total", ACCOUNT)["cost_micros"] == 2 * COST  # never stops counting
    assert sum("'lifetime' reached" in s for s in subjects(harness)) == 1


def test_defect2_a_cancel_that_answers_cancelling_but_runs_is_charged_and_told(harness):
    harness.configure([daily(10)])
    (a, b), events = submit(harness, 2)
    harness.emu.ignore_cancels(b)
    deliver_everything(harness, events)
    assert harness.emu.task(b)["status"] == "CANCELLING"
    for status in ("RUNNING", "COMPLETED"):  # the QPU ran it anyway
        harness.emu.advance(b, status)
    deliver_everything(harness, harness.take_events())
    assert harness.task_state(b) == "overrun"
    assert harness.counter("daily", DAY, ACCOUNT)["cost_micros"] == 2 * COST  # spent money counts
    (told,) = [e for e in harness.emails() if "ran despite" in e["Subject"]]
    assert b in told["Message"] and "the device ran it first" in told["Message"]
    day = operations.run_action(handler.runtime().guard, {"braket_guard": "digest", "date": DAY}, now=NOW)
    assert day["prevented_usd"] == "0.00"  # not "spend prevented"


def test_defect3_a_throttled_cancel_followed_by_completed_is_charged_and_told(harness, fast_backoff):
    harness.configure([daily(10)])
    (a, b), events = submit(harness, 2)
    harness.invoke(events[0])
    harness.emu.set_fault("CancelQuantumTask", throttle_rate=1.0)
    with pytest.raises(Exception, match="redeliver"):
        harness.invoke(events[1], lambda_retries=0)
    harness.emu.clear_faults()
    for status in ("QUEUED", "RUNNING", "COMPLETED"):
        harness.emu.advance(b, status)
    completed = [e for e in harness.take_events() if e["detail"]["status"] == "COMPLETED"]
    assert harness.invoke(completed[0])["decision"] == "overrun"
    told = [e for e in harness.emails() if "ran despite" in e["Subject"]]
    assert len(told) == 1 and "started before the guard's cancel went through" in told[0]["Message"]
    assert "already completed when the guard saw it" not in " ".join(e["Message"] for e in harness.emails())


def test_defect4_a_pending_cancel_is_finished_after_its_window_rolled_over(harness, fast_backoff):
    harness.configure([daily(10)])
    yesterday = datetime(2026, 11, 27, 23, 59, tzinfo=timezone.utc)
    (a, b), events = submit(harness, 2, start=yesterday)
    harness.invoke(events[0])
    harness.emu.set_fault("CancelQuantumTask", throttle_rate=1.0)
    with pytest.raises(Exception):
        harness.invoke(events[1])  # Lambda's two retries run out too
    harness.emu.clear_faults()
    assert harness.task_state(b) == "rejected"
    report = reconcile(now=NOW)  # today: yesterday's day window is no longer searched
    assert report["open_work_seen"] == 1
    assert harness.emu.task(b)["status"] == "CANCELLED"


def test_defect5_a_throttled_get_device_never_cancels_a_task(harness, fast_backoff):
    harness.configure([daily(50)])
    (arn,), (event,) = submit(harness, device=NOVEL, shots=10)
    harness.emu.fail_next("GetDevice", 20)
    with pytest.raises(Exception, match="GetDevice"):
        harness.invoke(event)  # transient: Lambda redelivers, nothing decided
    assert harness.task_state(arn) is None and harness.emu.task(arn)["status"] == "CREATED"
    harness.emu.clear_faults()
    assert harness.invoke(event)["decision"] == "admitted"


def test_defect6_cancel_queued_sweeps_nothing_for_a_task_too_big_alone(harness):
    harness.configure([daily(50, on_breach="cancel_queued")])
    (a, b), events = submit(harness, 2)
    for event in events:
        assert harness.invoke(event)["decision"] == "admitted"
    (big,), (big_event,) = submit(harness, shots=1000, start=T0 + timedelta(minutes=1))  # $80.30 > $50
    (odd,), (odd_event,) = submit(harness, device=NOVEL, start=T0 + timedelta(minutes=2))
    harness.emu.remove_device(NOVEL)  # cannot be priced, for good
    assert harness.invoke(big_event)["decision"] == "rejected"
    assert harness.invoke(odd_event)["decision"] == "rejected"
    assert [harness.emu.task(x)["status"] for x in (a, b, big, odd)] == ["CREATED", "CREATED", "CANCELLED", "CANCELLED"]


def test_defect7_a_task_too_big_alone_leaves_the_breach_alert_for_the_real_breach(harness):
    harness.configure([daily(20)])
    (big,), (big_event,) = submit(harness, shots=1000)
    harness.invoke(big_event)
    arns, events = submit(harness, 3, start=T0 + timedelta(minutes=1))
    deliver_everything(harness, events)
    found = subjects(harness)
    assert sum("larger than cap 'daily' on its own" in s for s in found) == 1
    breach = [e for e in harness.emails() if "'daily' reached" in e["Subject"]]
    assert len(breach) == 1 and "Already used: $16.60 of $20.00" in breach[0]["Message"]


def test_defect8_a_pending_cancel_followed_by_failed_sends_no_alarm(harness, fast_backoff):
    harness.configure([daily(10)])
    (a, b), events = submit(harness, 2)
    harness.invoke(events[0])
    harness.emu.set_fault("CancelQuantumTask", throttle_rate=1.0)
    with pytest.raises(Exception):
        harness.invoke(events[1], lambda_retries=0)
    harness.emu.clear_faults()
    harness.emu.advance(b, "FAILED")
    failed = [e for e in harness.take_events() if e["detail"]["status"] == "FAILED"]
    assert harness.invoke(failed[0])["decision"] == "closed"
    assert harness.task_state(b) == "cancelled"
    assert harness.emu.calls["CancelQuantumTask"] >= 1
    assert not [s for s in subjects(harness) if "could NOT be cancelled" in s or "ran despite" in s]
    assert harness.invoke(events[1])["decision"] == "duplicate"  # nothing left to do


def test_defect9_a_fifo_topic_is_refused_at_configuration():
    env = {"BRAKET_GUARD_TABLE": "ledger", "BRAKET_GUARD_CAPS": json.dumps([daily()]),
           "BRAKET_GUARD_SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts.fifo"}
    with pytest.raises(ConfigError, match=r"alerts\.fifo is a FIFO topic"):
        load_config(env)


@pytest.mark.parametrize("args,env,message", [
    (["status", "--timezone", "Mars/Olympus"], {}, "unknown IANA time zone 'Mars/Olympus'"),
    (["report", "--date", "2026-11-28"], {"BRAKET_GUARD_PRICES": "{not json"}, "BRAKET_GUARD_PRICES: not valid JSON"),
    (["report", "--date", "2026-11-28"], {"BRAKET_GUARD_REGIONS": "us-east-1,Tokyo"}, "not an AWS region name: 'Tokyo'"),
])
def test_defect10_the_cli_answers_bad_input_in_one_line(harness, monkeypatch, args, env, message):
    harness.configure([daily()])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(args, out=out, err=err) == 2
    assert message in err.getvalue() and "Traceback" not in err.getvalue()
    assert len(err.getvalue().strip().splitlines()) == 1


def test_defect10_check_config_shows_exact_percentages(tmp_path):
    path = tmp_path / "caps.json"
    path.write_text(json.dumps([daily(warn_at=[0.005, 0.875])]))
    out = io.StringIO()
    assert cli.main(["check-config", str(path)], out=out, err=io.StringIO()) == 0
    assert "0.5%,87.5%" in out.getvalue()


def test_defect11_reconciliation_emits_the_per_cap_metrics(harness, capsys):
    harness.configure([daily(50)])
    submit(harness, 1, start=datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc))  # no event delivered
    capsys.readouterr()
    assert reconcile()["admitted"] == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    per_cap = [line for line in lines if line.get("Cap") == "daily" and line.get("TasksAdmitted") == 1]
    assert per_cap and per_cap[0]["CostAdmittedMicroUSD"] == COST


def test_defect12_markers_expire_and_payload_booleans_are_strict(harness, monkeypatch):
    harness.configure([daily(50)])
    monkeypatch.setenv("BRAKET_GUARD_RECONCILE_ALERT_USD", "1")
    submit(harness, 1, start=datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc))
    assert reconcile()["alerted"] is True
    digest = {"braket_guard": "digest", "date": DAY}
    assert operations.run_action(handler.runtime().guard, digest, now=NOW)["sent"] is True
    items = harness.ddb.scan(TableName=harness.table)["Items"]
    markers = [i for i in items if i["sk"]["S"].startswith("ALERT#")]
    assert markers and all("expires_at" in m for m in markers), markers
    quiet = {"braket_guard": "digest", "date": "2026-11-20"}
    assert operations.run_action(handler.runtime().guard, {**quiet, "always": "false"}, now=NOW)["sent"] is False
    assert handler.lambda_handler({**quiet, "force": "maybe"}, None)["decision"] == "dropped"
    assert handler.lambda_handler({**quiet, "always": 1}, None)["decision"] == "dropped"


def test_defect13_an_alert_whose_send_failed_is_sent_later_once(harness):
    harness.configure([daily(10)])
    harness.sink.fail_with(500)
    (a, b), events = submit(harness, 2)
    deliver_everything(harness, events)
    assert harness.slack() == [] and len(harness.emails()) == 1  # email took it, Slack did not
    harness.sink.fail_with(None)
    rt = handler.runtime()
    later = datetime.now(timezone.utc) + timedelta(hours=1)  # past the retry delay of the claim
    rt.guard.ledger.clock = lambda: later
    try:
        reconcile(now=NOW)  # the task's open work lists the alert: sent to Slack now
        reconcile(now=NOW)
    finally:
        rt.guard.ledger.clock = lambda: datetime.now(timezone.utc)
    assert len(harness.slack()) == 1 and len(harness.emails()) == 1  # Slack once, email not again


def test_defect12_report_with_function_uses_the_functions_prices(harness, monkeypatch, moto_server):
    """``report --function`` read the table, caps and zone of the deployed Lambda, but priced with
    the local BRAKET_GUARD_PRICES. Now the function's own prices win (flags, then local
    variables, then the function)."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", moto_server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", moto_server.url)
    role = boto3.client("iam").create_role(
        RoleName=f"fn-{harness.table}", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    buffer = io.BytesIO()
    import zipfile
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    boto3.client("lambda").create_function(
        FunctionName=f"fn-{harness.table}", Runtime="python3.12", Role=role["Role"]["Arn"],
        Handler="index.handler", Code={"ZipFile": buffer.getvalue()},
        Environment={"Variables": {"BRAKET_GUARD_TABLE": harness.table,
                                   "BRAKET_GUARD_CAPS": json.dumps([daily()]),
                                   "BRAKET_GUARD_REGIONS": REGION,
                                   "BRAKET_GUARD_PRICES": json.dumps({FORTE: {"per_task_usd": "1",
                                                                               "per_shot_usd": "0"}})}})
    for name in [k for k in __import__("os").environ if k.startswith("BRAKET_GUARD_")]:
        monkeypatch.delenv(name)
    day = datetime.now(timezone.utc).date().isoformat()
    harness.emu.create_task(REGION, FORTE, 100)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["report", "--date", day, "--function", f"fn-{harness.table}", "--json"], out=out, err=err) == 0, \
        err.getvalue()
    assert json.loads(out.getvalue())["estimated_total_usd"] == "1.00"  # the function's price, not $8.30
