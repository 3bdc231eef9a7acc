import json
import os
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from braket_guard.core.caps import parse_caps
from braket_guard.ops.digest import CapUsage, DayTask, build_digest, digest_day, render_digest
from braket_guard.core.events import parse_event
from braket_guard.tasks.records import TaskRecord
from braket_guard.ledger.counters import Counter
from braket_guard.aws.metrics import emf_record
from braket_guard.core.windows import load_zone, window_for

from .conftest import FORTE, make_event

SNAPSHOTS = Path(__file__).parent / "snapshots"
AQUILA = "arn:aws:braket:us-east-1::device/qpu/quera/Aquila"
UTC = load_zone("UTC")
MOMENT = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)


def task(n, device=FORTE, shots=100):
    arn = f"arn:aws:braket:us-east-1:123456789012:quantum-task/{n:08d}-0000-0000-0000-000000000000"
    return parse_event(make_event(quantumTaskArn=arn, deviceArn=device, shots=str(shots)))


def record(t, state, cost):
    return TaskRecord(task_arn=t.task_arn, state=state, status="CREATED", device_arn=t.device_arn,
                      region="us-east-1", shots=t.shots, cost_micros=cost, created_at="")


def sample_digest():
    daily, monthly = parse_caps(json.dumps([
        {"name": "daily-qpu", "window": "day", "group_by": "device", "max_shots": 1000, "max_cost_usd": 50},
        {"name": "team-month", "window": "month", "group_by": "tag:team", "max_cost_usd": 500}]))
    caps = [
        CapUsage(daily, window_for("day", MOMENT, UTC), (
            Counter(("CAP#daily-qpu#2026-11-28", f"GROUP#{FORTE}"), 300, 24_900_000, 3, ("us-east-1",), 2, 200, 16_600_000),
            Counter(("CAP#daily-qpu#2026-11-28", f"GROUP#{AQUILA}"), 100, 1_300_000, 1, ("us-east-1",)))),
        CapUsage(monthly, window_for("month", MOMENT, UTC), ()),
    ]
    tasks = [t := task(1), t2 := task(2), t3 := task(3), t4 := task(4, AQUILA), t5 := task(5), t6 := task(6), t7 := task(7)]
    items = [
        DayTask(t, {"team": "qml"}, record(t, "admitted", 8_300_000), None),
        DayTask(t2, {"team": "qml"}, record(t2, "admitted", 8_300_000), None),
        DayTask(t3, {"team": "chem"}, record(t3, "admitted", 8_300_000), None),
        DayTask(t4, {}, record(t4, "admitted", 1_300_000), None),
        DayTask(t5, {"team": "qml"}, replace(record(t5, "cancelled", 8_300_000), cancel_status="CANCELLING"), None),
        DayTask(t6, {"team": "qml"}, record(t6, "cancel_failed", 8_300_000), None),
        DayTask(t7, {}, None, 8_300_000),
    ]
    return build_digest("2026-11-28", "UTC", "enforce", caps, items)


def check_snapshot(name, text):
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert path.exists(), f"snapshot {path} is missing: run with UPDATE_SNAPSHOTS=1 once and review it"
    assert text == path.read_text()


def test_digest_numbers():
    digest = sample_digest()
    assert (digest.admitted, digest.rejected, digest.cancelled, digest.cancel_failures, digest.unseen) == (4, 2, 1, 1, 1)
    assert digest.admitted_cost_micros == 26_200_000 and digest.prevented_micros == 8_300_000
    assert digest.top_devices[0] == (FORTE, 4, 33_200_000)  # includes the unseen task's estimate
    assert digest.top_tags == [("team=qml", 2, 16_600_000), ("team=chem", 1, 8_300_000)]
    assert not digest.quiet


def test_digest_text_snapshot():
    check_snapshot("digest.txt", render_digest(sample_digest()).text + "\n")


def test_digest_slack_snapshot():
    check_snapshot("digest_slack.json", json.dumps(render_digest(sample_digest()).slack, indent=2) + "\n")


def test_quiet_day():
    (cap,) = parse_caps('[{"name": "a", "window": "day", "group_by": "account", "max_shots": 1}]')
    assert build_digest("2026-11-28", "UTC", "enforce", [CapUsage(cap, window_for("day", MOMENT, UTC), ())], []).quiet


def test_a_month_counter_with_usage_does_not_make_a_day_busy():
    """Defect 12: a day was never quiet while a month or total counter had usage."""
    (cap,) = parse_caps('[{"name": "m", "window": "month", "group_by": "account", "max_shots": 100}]')
    used = CapUsage(cap, window_for("month", MOMENT, UTC),
                    (Counter(("CAP#m#2026-11", "GROUP#123456789012"), 50, 0, 1),))
    assert build_digest("2026-11-28", "UTC", "enforce", [used], []).quiet
    assert not build_digest("2026-11-28", "UTC", "enforce", [used], [], open_work={"cancel": 1}).quiet
    assert not build_digest("2026-11-28", "UTC", "enforce", [used], [], region_errors={"eu-north-1": "x"}).quiet


def test_a_day_with_only_a_hybrid_job_is_not_quiet_and_names_the_job():
    (cap,) = parse_caps('[{"name": "j", "window": "day", "group_by": "account", "max_cost_usd": 10, "kinds": ["job"]}]')
    usage = CapUsage(cap, window_for("day", MOMENT, UTC), ())
    job = {"name": "vqe-1", "status": "CANCELLED", "state": "settled", "instances": "2 x ml.p3.8xlarge",
           "cost_micros": 8_012_774, "breached": ["j"]}
    digest = build_digest("2026-11-28", "UTC", "enforce", [usage], [], jobs=[job])
    assert not digest.quiet
    assert "- vqe-1: CANCELLED, 2 x ml.p3.8xlarge, $8.012774, stopped by the guard at j" in render_digest(digest).text


def test_percentages_are_exact():
    """Defect 10: check-config showed 0.875 as 87% and 0.005 as 0%; the digest too."""
    from decimal import Decimal
    from braket_guard.ops.digest import percent_text
    assert [percent_text(Decimal(x)) for x in ("0.875", "0.005", "1", "0", "0.5", "1.25")] == \
        ["87.5", "0.5", "100", "0", "50", "125"]


@pytest.mark.parametrize("hour,expected", [(7, "2026-11-27"), (11, "2026-11-27"), (12, "2026-11-28"), (23, "2026-11-28")])
def test_digest_day(hour, expected):
    assert digest_day(datetime(2026, 11, 28, hour)).isoformat() == expected


def test_emf_record_is_valid_emf():
    record = emf_record({"TasksAdmitted": 1, "CostAdmittedMicroUSD": 8_300_000}, {"Cap": "daily"}, timestamp_ms=1)
    directive = record["_aws"]
    assert directive["Timestamp"] == 1
    (metrics,) = directive["CloudWatchMetrics"]
    assert metrics["Namespace"] == "BraketGuard" and metrics["Dimensions"] == [["Cap"]]
    assert metrics["Metrics"] == [{"Name": "CostAdmittedMicroUSD", "Unit": "None"},
                                  {"Name": "TasksAdmitted", "Unit": "Count"}]
    assert record["Cap"] == "daily" and record["TasksAdmitted"] == 1
    json.dumps(record)
    with pytest.raises(ValueError, match="Bogus"):
        emf_record({"Bogus": 1}, {})
