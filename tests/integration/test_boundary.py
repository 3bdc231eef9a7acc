"""The handler's boundary (issue 18): events from unguarded regions, identifiers matched whole,
numbers in one range, action payloads, and a time bound against an endpoint that never answers.

Real boto3 over HTTP to moto, the Braket emulator and the Slack sink, as in test_handler.py.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from datetime import datetime, timezone

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from braket_guard import handler
from braket_guard.config import ConfigError

from .conftest import ACCOUNT, FORTE, GARNET, REGION

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
DAY = "2026-11-28"
BIG_CAP = {"name": "big", "window": "day", "group_by": "account", "max_cost_usd": 1_000_000_000}


def created(harness, device=FORTE, shots=100, region=REGION, created_at=T0):
    arn = harness.emu.create_task(region, device, shots, created_at=created_at)
    events = [e for e in harness.take_events() if e["detail"]["quantumTaskArn"] == arn]
    return arn, events[0]


def dropped_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if '"event_dropped"' in r.getMessage()]


# -- events from a region outside BRAKET_GUARD_REGIONS ------------------------------------------
def test_a_burst_from_an_unguarded_region_is_cut_at_its_cap_and_told_once(harness, monkeypatch, capsys):
    """The issue's case: a Lambda configured for us-east-1 receives 200 IQM Garnet tasks from
    eu-north-1; a 50,000-shot daily cap must cut them to 50, and the user hears once that
    eu-north-1 is not reconciled."""
    harness.configure([{"name": "daily-shots", "window": "day", "group_by": "account", "max_shots": 50_000}])
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    monkeypatch.setenv("BRAKET_GUARD_CANCELS_PER_SECOND", "0")
    events = [created(harness, GARNET, 1000, region="eu-north-1")[1] for _ in range(200)]
    results = harness.deliver_concurrently(events, threads=8, max_copies=1)
    decisions = [r["decision"] for r in results]
    assert decisions.count("admitted") == 50 and decisions.count("rejected") == 150, decisions
    arns = [e["detail"]["quantumTaskArn"] for e in events]
    statuses = [harness.emu.task(a)["status"] for a in arns]
    assert statuses.count("CANCELLED") == 150 and statuses.count("CREATED") == 50
    assert harness.counter("daily-shots", DAY, ACCOUNT)["shots"] == 50_000
    told = [m for m in harness.emails() if "eu-north-1" in m.get("Subject", "") and "unguarded" in m["Subject"]]
    assert len(told) == 1, [m.get("Subject") for m in harness.emails()]
    assert any("eu-north-1" in json.dumps(p) and "does not reconcile" in json.dumps(p) for p in harness.slack())
    out = capsys.readouterr().out
    assert '"UnguardedRegionEvents":1' in out and '"Region":"eu-north-1"' in out


def test_an_unguarded_region_is_told_once_per_day_even_across_containers(harness, monkeypatch):
    harness.configure([BIG_CAP])
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    for _ in range(3):
        assert harness.invoke(created(harness, GARNET, 10, region="eu-north-1")[1])["decision"] == "admitted"
        handler._cache.clear()  # a new container: its memory of the alert is gone, the ledger's is not
    subjects = [m["Subject"] for m in harness.emails() if "unguarded" in m.get("Subject", "")]
    assert subjects == ["braket-guard: tasks from unguarded region eu-north-1"]


def test_the_digest_names_an_unguarded_region_that_sent_events(harness, monkeypatch):
    harness.configure([BIG_CAP])
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    harness.invoke(created(harness, GARNET, 10, region="eu-north-1", created_at=datetime.now(timezone.utc))[1])
    today = datetime.now(timezone.utc).date().isoformat()
    result = handler.lambda_handler({"braket_guard": "digest", "date": today, "force": True}, None)
    assert result["sent"] is True, result
    digests = [m for m in harness.emails() if "digest" in m.get("Subject", "").lower() or "Guard errors" in m.get("Message", "")]
    assert digests and "tasks came from eu-north-1, outside the guarded regions" in digests[-1]["Message"], digests


def test_status_names_an_unguarded_region_that_sent_events_today(harness, monkeypatch, capsys):
    from braket_guard import cli
    harness.configure([BIG_CAP])
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    harness.invoke(created(harness, GARNET, 10, region="eu-north-1", created_at=datetime.now(timezone.utc))[1])
    capsys.readouterr()  # the handler's metric lines
    code = cli.main(["status", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["unguarded_regions_today"] == ["eu-north-1"], data
    assert cli.main(["status"]) == 0
    assert "Events today from regions outside the guarded ones: eu-north-1" in capsys.readouterr().out


# -- identifiers matched whole ---------------------------------------------------------------------
def test_an_arn_with_a_trailing_newline_is_dropped_and_the_real_task_is_admitted(harness, caplog):
    harness.configure([{"name": "one", "window": "day", "group_by": "account", "max_shots": 100}])
    arn, event = created(harness, shots=100)
    bad = json.loads(json.dumps(event))
    bad["detail"]["quantumTaskArn"] = arn + "\n"
    with caplog.at_level(logging.INFO, logger="braket_guard"):
        assert harness.invoke(bad)["decision"] == "dropped"
    assert len(dropped_lines(caplog)) == 1
    assert harness.invoke(event)["decision"] == "admitted"  # not judged a second task
    assert harness.emu.task(arn)["status"] == "CREATED"


# -- numbers in one range, refused at start naming the variable and field -------------------------
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("variable,value,names", [
    ("BRAKET_GUARD_CAPS", '[{"name": "a", "window": "day", "max_cost_usd": "1e400"}]', "BRAKET_GUARD_CAPS[0].max_cost_usd"),
    ("BRAKET_GUARD_CAPS", '[{"name": "a", "window": "day", "max_cost_usd": "1e999999"}]', "BRAKET_GUARD_CAPS[0].max_cost_usd"),
    ("BRAKET_GUARD_CAPS", '[{"name": "a", "window": "day", "max_cost_usd": 1e400}]', "BRAKET_GUARD_CAPS[0].max_cost_usd"),
    ("BRAKET_GUARD_CAPS", '[{"name": "a", "window": "day", "max_shots": 1%s}]' % ("0" * 40), "BRAKET_GUARD_CAPS"),
    ("BRAKET_GUARD_CAPS", '[{"name": "a", "window": "day", "max_shots": 10000000000000000}]', "BRAKET_GUARD_CAPS[0].max_shots"),
    ("BRAKET_GUARD_CAPS", '[{"name": "a", "window": "day", "max_shots": %s}]' % ("9" * 5000), "BRAKET_GUARD_CAPS"),
    ("BRAKET_GUARD_CAPS", DEEP, "BRAKET_GUARD_CAPS"),
    ("BRAKET_GUARD_CAPS", "[]", "BRAKET_GUARD_CAPS"),
    ("BRAKET_GUARD_PRICES", json.dumps({FORTE: {"per_shot_usd": "1e400"}}), "BRAKET_GUARD_PRICES"),
    ("BRAKET_GUARD_PRICES", json.dumps({FORTE: {"per_shot_usd": "1" + "0" * 400}}), "BRAKET_GUARD_PRICES"),
    ("BRAKET_GUARD_PRICES", DEEP, "BRAKET_GUARD_PRICES"),
    ("BRAKET_GUARD_RECONCILE_ALERT_USD", "1e400", "BRAKET_GUARD_RECONCILE_ALERT_USD"),
    ("BRAKET_GUARD_REGIONS", DEEP, "BRAKET_GUARD_REGIONS"),
    ("BRAKET_GUARD_RESERVATIONS", DEEP, "BRAKET_GUARD_RESERVATIONS"),
])
def test_an_out_of_range_setting_is_a_config_error_naming_it(harness, monkeypatch, variable, value, names):
    harness.configure([BIG_CAP])
    monkeypatch.setenv(variable, value)
    _arn, event = created(harness)
    with pytest.raises(ConfigError) as raised:
        handler.lambda_handler(event, None)
    message = str(raised.value)
    assert message.startswith(names) and "\n" not in message and len(message) < 400, message


def test_a_group_by_left_out_counts_per_account_as_terraform_renders_it(harness, monkeypatch):
    harness.configure([{"name": "plain", "window": "day", "max_shots": 150}])
    first, second = created(harness, shots=100), created(harness, shots=100)
    assert harness.invoke(first[1])["decision"] == "admitted"
    assert harness.invoke(second[1])["decision"] == "rejected"
    assert harness.counter("plain", DAY, ACCOUNT)["shots"] == 100


# -- action payloads --------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", [
    {"braket_guard": "digest", "date": "9999-12-31"},
    {"braket_guard": "digest", "date": "0001-01-01"},
    {"braket_guard": "digest", "date": "2026-11-28\n"},
    {"braket_guard": "digest", "date": "２０２６-11-28"},
    {"braket_guard": "digest", "date": 20261128},
    {"braket_guard": "digest", "always": "yes"},
    {"braket_guard": "reconcile", "force": True},
    {"braket_guard": "reconcile\n"},
    {"braket_guard": ["reconcile"]},
])
def test_a_bad_action_payload_is_dropped_in_one_line_never_retried(harness, payload, caplog):
    harness.configure([BIG_CAP])
    with caplog.at_level(logging.INFO, logger="braket_guard"):
        result = handler.lambda_handler(payload, None)
    assert result["decision"] == "dropped", result
    lines = [r for r in caplog.records if '"action_dropped"' in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0].getMessage()


# -- the property: a malformed event changes nothing; a valid one is decided as its clean form ---
UNICODE_DIGITS = "٠١٢٣٤٥٦٧٨٩"  # Arabic-Indic
FULLWIDTH = "０１２３４５６７８９"


def _deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def _swap_digit(text: str, digits: str) -> str:
    for index in range(len(text) - 1, -1, -1):
        if text[index].isdigit() and text[index].isascii():
            return text[:index] + digits[int(text[index])] + text[index + 1:]
    return text + digits[1]


def _set(path: str, value):
    def apply(event: dict) -> dict:
        target = event
        *parents, leaf = path.split(".")
        for key in parents:
            target = target[key]
        target[leaf] = value(target.get(leaf)) if callable(value) else value
        return event
    return apply


def _drop(path: str):
    def apply(event: dict) -> dict:
        target = event
        *parents, leaf = path.split(".")
        for key in parents:
            target = target[key]
        target.pop(leaf, None)
        return event
    return apply


MALFORMED = {
    "arn + newline": _set("detail.quantumTaskArn", lambda v: v + "\n"),
    "arn + space": _set("detail.quantumTaskArn", lambda v: v + " "),
    "space + arn": _set("detail.quantumTaskArn", lambda v: " " + v),
    "arn with an Arabic-Indic digit": _set("detail.quantumTaskArn", lambda v: _swap_digit(v, UNICODE_DIGITS)),
    "arn with a fullwidth digit": _set("detail.quantumTaskArn", lambda v: _swap_digit(v, FULLWIDTH)),
    "arn with a Cyrillic look-alike": _set("detail.quantumTaskArn", lambda v: v.replace("arn:aws", "аrn:aws")),
    "arn as a list": _set("detail.quantumTaskArn", lambda v: [v]),
    "arn deeply nested": _set("detail.quantumTaskArn", lambda v: _deep(100_000)),
    "arn of 100k characters": _set("detail.quantumTaskArn", lambda v: v + "a" * 100_000),
    "status lower case": _set("detail.status", "created"),
    "status + newline": _set("detail.status", lambda v: v + "\n"),
    "device + newline": _set("detail.deviceArn", lambda v: v + "\n"),
    "device with a fullwidth digit": _set("detail.deviceArn", lambda v: _swap_digit(v, FULLWIDTH)),
    "shots + newline": _set("detail.shots", lambda v: f"{v}\n"),
    "shots with Arabic-Indic digits": _set("detail.shots", lambda v: "".join(UNICODE_DIGITS[int(c)] for c in str(v))),
    "shots negative": _set("detail.shots", -1),
    "shots a fraction": _set("detail.shots", "1.5"),
    "shots in exponent form": _set("detail.shots", "1e3"),
    "shots a boolean": _set("detail.shots", True),
    "shots of 5000 digits": _set("detail.shots", "9" * 5000),
    "shots an integer of 5000 digits": _set("detail.shots", 10**5000),
    "shots past the maximum": _set("detail.shots", 10**9 + 1),
    "created without a zone": _set("detail.createdAt", "2026-11-28T09:00:00"),
    "created + newline": _set("detail.createdAt", lambda v: v + "\n"),
    "created in year 9999": _set("detail.createdAt", "9999-12-31T23:59:59Z"),
    "created a number": _set("detail.createdAt", 1764320400),
    "created missing": _drop("detail.createdAt"),
    "job arn garbage": _set("detail.jobArn", "not-a-job"),
    "job arn + newline": _set("detail.jobArn", "arn:aws:braket:us-east-1:123456789012:job/j1\n"),
    "detail a list": _set("detail", lambda v: [v]),
    "detail deeply nested": _set("detail", lambda v: _deep(100_000)),
    "source + space": _set("source", "aws.braket "),
    "detail-type lower case": _set("detail-type", "braket task state change"),
}
SAME = {
    "clean": lambda e: e,
    "shots an integer": _set("detail.shots", lambda v: int(v)),
    "created with +00:00": _set("detail.createdAt", lambda v: v.replace("Z", "+00:00")),
    "an odd event id": _set("id", "not a uuid \n ٣"),
    "an extra detail field": _set("detail.somethingNew", {"x": 1}),
    "an extra top-level field": _set("resources", ["anything"]),
}


RAN = {"examples": 0}


def check_mutations(harness, caplog, mutations: list[str], shots: int) -> None:
    harness.configure([BIG_CAP])
    arn, event = created(harness, shots=shots)
    mutated = json.loads(json.dumps(event))
    for name in mutations:
        try:
            mutated = (MALFORMED.get(name) or SAME[name])(mutated)
        except (TypeError, KeyError, AttributeError):
            assume(False)  # this mutation does not apply to what an earlier one left
    malformed = any(name in MALFORMED for name in mutations)
    harness.emu.reset_calls()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="braket_guard"):
        result = handler.lambda_handler(mutated, None)
    json.dumps(result)  # always a JSON-able answer
    RAN["examples"] += 1
    if malformed:
        assert result["decision"] == "dropped", (mutations, result)
        lines = dropped_lines(caplog)
        assert len(lines) == 1 and len(lines[0].getMessage()) < 2000, (mutations, [r.getMessage()[:200] for r in lines])
        assert harness.task_state(arn) is None, f"{mutations}: the ledger booked a malformed event"
        assert sum(harness.emu.calls.values()) == 0, f"{mutations}: Braket was called: {harness.emu.calls}"
        assert harness.invoke(event)["decision"] == "admitted"  # the clean form, as if nothing came before
    else:
        assert result["decision"] == "admitted" and result["task"] == arn, (mutations, result)
        assert Decimal(result["cost_usd"]) == Decimal("0.30") + Decimal("0.08") * shots, (mutations, result)
        assert harness.invoke(event)["decision"] == "duplicate"  # the same task, under the same key


@pytest.mark.parametrize("mutation", sorted(MALFORMED) + sorted(SAME))
def test_every_mutation_once(harness, caplog, mutation):
    check_mutations(harness, caplog, [mutation], 100)


@settings(max_examples=int(os.environ.get("BOUNDARY_EXAMPLES", "40")), deadline=None, database=None,
          derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(st.sampled_from(sorted(MALFORMED) + sorted(SAME)), min_size=1, max_size=3),
       shots=st.integers(1, 10**6))  # Forte-1 takes 1 to 1,000,000 shots
def test_handler_property_malformed_changes_nothing_valid_is_decided_as_clean(harness, caplog, mutations, shots):
    """Random stacks of mutations of a valid event: dropped with one log line and no ledger or
    Braket change when any is malformed; decided exactly as the clean event otherwise."""
    check_mutations(harness, caplog, mutations, shots)


def test_the_property_tests_ran_their_examples():
    print(f"handler boundary property: {RAN['examples']} examples ran")
    assert RAN["examples"] >= len(MALFORMED) + len(SAME) + 20, RAN


# -- a time bound against an endpoint that accepts and never answers ------------------------------
class SilentListener:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                continue

    def close(self):
        self.stopped.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


class FakeContext:
    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def test_the_handler_ends_inside_its_lambda_timeout_against_a_silent_dynamodb(harness, monkeypatch):
    harness.configure([BIG_CAP])
    _arn, event = created(harness)
    silent = SilentListener()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", silent.url)
        timeout = 45.0
        context = FakeContext(timeout)
        started = time.monotonic()
        with pytest.raises(Exception) as raised:
            handler.lambda_handler(event, context)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert elapsed < timeout, f"the handler ran {elapsed:.1f} s, past its {timeout:.0f} s Lambda timeout"
    assert "timeout" in type(raised.value).__name__.lower() or "time" in str(raised.value).lower(), raised.value
