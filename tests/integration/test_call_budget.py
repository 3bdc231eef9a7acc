"""The DynamoDB call budget per decision class (issue 23), counted at the moto server.

Why at the server: the guard has two DynamoDB clients (the ledger's and the cancel token
bucket's); a count of the requests moto receives for the guard's table covers both, retries
included. A count is not a time: these tests pin calls, never durations.

Scenario (the issue's): a burst of 20 tasks on IonQ Forte-1 (100 shots, $8.30 each) against a
$50 daily device cap, each CREATED event delivered once, then every event once more (the
duplicates). Six tasks fit; the seventh fills the cap (one breach alert); the other thirteen are
rejected without a new alert.
"""

from __future__ import annotations

import io
import json
import threading
from typing import Any, Callable, Iterable

import pytest

from braket_sandbox._http import ServerHandle
from braket_sandbox.moto_server import make_moto_app

from .conftest import FORTE

BURST, SHOTS = 20, 100


class CountingApp:
    """WSGI wrapper recording (operation, table) of every DynamoDB request moto receives."""

    def __init__(self, app: Callable) -> None:
        self.app, self.lock = app, threading.Lock()
        self.calls: list[tuple[str, str]] = []

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB_"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            with self.lock:
                self.calls.append((target.split(".", 1)[1], _tables(body), b'"ALERT#' in body))
        return self.app(environ, start_response)

    def mark(self) -> int:
        with self.lock:
            return len(self.calls)

    def since(self, mark: int, table: str) -> list[str]:
        with self.lock:
            return [op for op, tables, _alert in self.calls[mark:] if table in tables]

    def alert_calls(self, mark: int, table: str) -> list[str]:
        """The calls since ``mark`` that name an alert marker (claim, read, settle)."""
        with self.lock:
            return [op for op, tables, alert in self.calls[mark:] if table in tables and alert]


def _tables(body: bytes) -> str:
    """The table names a request names (TableName, or the keys of RequestItems, or TransactItems)."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return ""
    names = {payload.get("TableName", "")} | set(payload.get("RequestItems") or {})
    for item in payload.get("TransactItems") or []:
        names |= {part.get("TableName", "") for part in item.values() if isinstance(part, dict)}
    return " ".join(sorted(n for n in names if n))


@pytest.fixture(scope="module")
def counting_moto():
    app = CountingApp(make_moto_app())
    server = ServerHandle(app)
    server.app = app
    yield server
    server.stop()


@pytest.fixture
def moto_server(counting_moto):  # the harness's moto: this module's counting server
    return counting_moto


def device_cap(usd: int = 50, **extra: Any) -> dict:
    return {"name": "qpu-day", "window": "day", "group_by": "device", "devices": ["qpu"],
            "max_cost_usd": usd, **extra}


def run_burst(harness, app: CountingApp) -> dict[str, list[list[str]]]:
    """Deliver the burst's CREATED events one by one, then each once more; DynamoDB calls of
    each delivery by decision class. A rejected delivery is split at its CancelQuantumTask:
    ``rejected`` holds the calls before it, ``after_cancel`` the rest."""
    arns = [harness.emu.create_task("us-east-1", FORTE, SHOTS) for _ in range(BURST)]
    created = [e for e in harness.take_events() if e["detail"]["status"] == "CREATED"]
    assert [e["detail"]["quantumTaskArn"] for e in created] == arns
    cancel_mark: list[int] = []
    collect = harness.emu.on_event

    def on_event(event: dict) -> None:  # emitted inside the cancel's request: calls before it are done
        if event["detail"]["status"] in ("CANCELLING", "CANCELLED") and not cancel_mark:
            cancel_mark.append(app.mark())
        collect(event)

    harness.emu.on_event = on_event
    classes: dict[str, list[list[str]]] = {}
    for event in created + created:
        cancel_mark.clear()
        harness.emu.reset_calls()
        mark = app.mark()
        decision = harness.invoke(event)["decision"]
        calls = app.since(mark, harness.table)
        if decision == "rejected":
            assert harness.emu.calls["CancelQuantumTask"] == 1, "a rejected task is cancelled exactly once"
            split = len(app.since(mark, harness.table)) - len(app.since(cancel_mark[0], harness.table))
            classes.setdefault("rejected", []).append(calls[:split])
            classes.setdefault("after_cancel", []).append(calls[split:])
        else:
            classes.setdefault(decision, []).append(calls)
    harness.emu.on_event = collect
    return classes


def test_counting_app_counts_every_dynamodb_request(harness, counting_moto):
    """The counter itself: a request the test makes is counted, with its table."""
    mark = counting_moto.app.mark()
    harness.ddb.get_item(TableName=harness.table, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
    harness.ddb.describe_table(TableName=harness.table)
    assert counting_moto.app.since(mark, harness.table) == ["GetItem", "DescribeTable"]



def test_call_budget_per_decision_class(harness, counting_moto):
    """Issue 23's budget: duplicate 1, admitted <= 2, rejected <= 4 before its cancel, the
    breach alert <= 2; a rejection after the breach alert costs one more call after its cancel
    (the record's cancel outcome), none for alerts. The first read fetches the task's counter with
    its record: the first rejection learns the cap is full from its refused admission, the later
    ones from that read (no admission tried)."""
    harness.configure([device_cap()])
    app = counting_moto.app
    mark = app.mark()
    classes = run_burst(harness, app)
    assert {k: len(v) for k, v in classes.items()} == {"admitted": 6, "rejected": 14, "after_cancel": 14,
                                                        "duplicate": 20}
    assert all(calls == ["BatchGetItem"] for calls in classes["duplicate"])
    assert all(calls == ["BatchGetItem", "TransactWriteItems"] for calls in classes["admitted"])
    # the record and counter read ($49.80 of $50: $8.30 more does not fit, so no admission is
    # tried), the rejection written, a token of the shared bucket
    assert all(calls == ["BatchGetItem", "TransactWriteItems", "PutItem"] for calls in classes["rejected"])
    first, *later = classes["after_cancel"]
    # the cancel's outcome, the alert claimed, the counter read for its text, settled, work done
    assert first == ["TransactWriteItems", "UpdateItem", "BatchGetItem", "UpdateItem", "TransactWriteItems"]
    assert all(calls == ["TransactWriteItems"] for calls in later)
    assert app.alert_calls(mark, harness.table) == ["UpdateItem", "UpdateItem"]  # one alert: claim, settle
    assert len([e for e in harness.emails() if "reached" in e["Subject"]]) == 1
    assert len(harness.slack()) == 1


def test_a_new_container_reads_what_the_last_one_settled(harness, counting_moto):
    """What a container remembers is only a saving: a fresh one (a cold start) finds the alert
    settled in the ledger in one call and sends nothing again."""
    from braket_guard import handler
    harness.configure([device_cap(usd=10)])
    app = counting_moto.app
    events = []
    for _ in range(3):
        harness.emu.create_task("us-east-1", FORTE, SHOTS)
        events += [e for e in harness.take_events() if e["detail"]["status"] == "CREATED"]
    assert [harness.invoke(e)["decision"] for e in events[:2]] == ["admitted", "rejected"]
    handler._cache.clear()  # a cold start: nothing remembered
    mark = app.mark()
    assert harness.invoke(events[2])["decision"] == "rejected"
    assert app.alert_calls(mark, harness.table) == ["UpdateItem"]  # the claim, refused: the marker says sent
    assert len([e for e in harness.emails() if "reached" in e["Subject"]]) == 1


def test_token_bucket_take_is_one_call_while_its_view_is_current(harness, counting_moto):
    """A take writes from the bucket as last seen; another container's take in between costs one
    refused write (which returns the item) and one more write, never a double token."""
    from decimal import Decimal
    from braket_guard.aws.pacing import TokenBucket
    import boto3
    app = counting_moto.app
    ours, theirs = (TokenBucket(boto3.client("dynamodb"), harness.table, Decimal(2), burst=20) for _ in range(2))
    mark = app.mark()
    assert ours.take("CANCEL#us-east-1")[0] and ours.take("CANCEL#us-east-1")[0]
    assert app.since(mark, harness.table) == ["PutItem", "PutItem"]
    assert theirs.take("CANCEL#us-east-1")[0]  # its first take: refused (the item exists), then written
    mark = app.mark()
    assert ours.take("CANCEL#us-east-1")[0]
    assert app.since(mark, harness.table) == ["PutItem", "PutItem"]
    item = harness.item("PACE", "CANCEL#us-east-1")
    assert item["seq"]["N"] == "4"  # four takes, four versions
    assert 16_000 <= int(item["milli"]["N"]) <= 17_000  # 20 banked less 4 (plus what refilled meanwhile)


def _deliveries(harness, app: CountingApp, count: int) -> list[tuple[str, list[str]]]:
    """Create ``count`` tasks one by one, deliver each CREATED event once: (decision, calls)."""
    out = []
    for _ in range(count):
        harness.emu.create_task("us-east-1", FORTE, SHOTS)
        event = [e for e in harness.take_events() if e["detail"]["status"] == "CREATED"][0]
        mark = app.mark()
        decision = harness.invoke(event)["decision"]
        out.append((decision, app.since(mark, harness.table)))
    return out


def _warnings(harness) -> list[dict]:
    return [e for e in harness.emails() if "passed 80%" in e["Subject"]]


FAST = ["BatchGetItem", "TransactWriteItems"]
# the charge that crosses the level: the old way (its work recorded, the counter read after it,
# the warning claimed and settled, the work done)
CROSSING = ["BatchGetItem", "TransactWriteItems", "BatchGetItem", "UpdateItem", "UpdateItem", "TransactWriteItems"]


def test_admitted_with_warn_at_costs_two_calls_except_the_charge_that_crosses_a_level(harness, counting_moto):
    """warn_at 0.8 of $50 is $40: the 5th task of $8.30 crosses it (one warning); the 6th finds
    the level settled (known to this container) and costs 2 calls again; the 7th is rejected."""
    harness.configure([device_cap(warn_at=[0.8])])
    got = _deliveries(harness, counting_moto.app, 7)
    assert [d for d, _ in got] == ["admitted"] * 6 + ["rejected"]
    assert [calls for _, calls in got[:6]] == [FAST] * 4 + [CROSSING] + [FAST]
    assert len(_warnings(harness)) == 1


def test_a_stale_read_cannot_hide_a_crossed_level(harness, counting_moto, monkeypatch):
    """Another container charges the counter between this admission's read and its transaction:
    the read says no level is near, the bounded transaction is refused, and the charge is made
    the old way, which sends the warning. Without the bound the warning would be missed."""
    from braket_guard.tasks.ledger import Ledger
    harness.configure([device_cap(warn_at=[0.8])])
    app = counting_moto.app
    assert [d for d, _ in _deliveries(harness, app, 3)] == ["admitted"] * 3  # $24.90
    real = Ledger.get_task_and_counters

    def then_a_concurrent_charge(self, task_arn, counter_keys):
        found = real(self, task_arn, counter_keys)
        for key in counter_keys:  # another container's admission of $8.30 lands now: $33.20
            self.client.update_item(TableName=self.table, Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}},
                                    UpdateExpression="ADD cost_micros :c",
                                    ExpressionAttributeValues={":c": {"N": "8300000"}})
        return found

    monkeypatch.setattr(Ledger, "get_task_and_counters", then_a_concurrent_charge)
    (decision, calls), = _deliveries(harness, app, 1)
    assert decision == "admitted"  # $41.50: past the level, within the cap
    # the bounded transaction refused (the raw update is the test's, counted between them)
    assert calls == ["BatchGetItem", "UpdateItem", "TransactWriteItems"] + CROSSING[1:]
    assert len(_warnings(harness)) == 1


def test_a_level_reached_but_not_known_settled_is_looked_at(harness, counting_moto):
    """A fresh container (a cold start) above a reached level takes the old way once, finds the
    warning settled, and costs 2 calls from then on; nothing is sent twice."""
    from braket_guard import handler
    harness.configure([device_cap(usd=100, warn_at=[0.5])])
    app = counting_moto.app
    assert len([d for d, _ in _deliveries(harness, app, 7)]) == 7  # $58.10: the warning sent
    assert len(_warnings_at(harness, "50%")) == 1
    handler._cache.clear()
    got = _deliveries(harness, app, 2)
    # the old way: the counter read, the marker's claim refused (it says sent), the work done
    assert [calls for _, calls in got] == [
        ["BatchGetItem", "TransactWriteItems", "BatchGetItem", "UpdateItem", "TransactWriteItems"], FAST]
    assert len(_warnings_at(harness, "50%")) == 1  # the emails so far, in all: still the one


def _warnings_at(harness, percent: str) -> list[dict]:
    return [e for e in harness.emails() if f"passed {percent}" in e["Subject"]]


def test_a_cap_filled_between_the_read_and_the_admission_still_refuses_it(harness, counting_moto, monkeypatch):
    """The read says $41.50 of $50 (the task of $8.30 fits); another container's charge lands
    before the admission: its transaction is refused, the task rejected (one call more)."""
    from braket_guard.tasks.ledger import Ledger
    harness.configure([device_cap()])
    app = counting_moto.app
    assert [d for d, _ in _deliveries(harness, app, 5)] == ["admitted"] * 5
    real = Ledger.get_task_and_counters

    def then_a_concurrent_charge(self, task_arn, counter_keys):
        found = real(self, task_arn, counter_keys)
        for key in counter_keys:
            self.client.update_item(TableName=self.table, Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}},
                                    UpdateExpression="ADD cost_micros :c",
                                    ExpressionAttributeValues={":c": {"N": "8300000"}})
        return found

    monkeypatch.setattr(Ledger, "get_task_and_counters", then_a_concurrent_charge)
    (decision, calls), = _deliveries(harness, app, 1)
    assert decision == "rejected"
    assert calls[:4] == ["BatchGetItem", "UpdateItem", "TransactWriteItems", "TransactWriteItems"]
    counter = [i for i in harness.ddb.scan(TableName=harness.table)["Items"] if i["sk"]["S"].startswith("GROUP#")]
    assert [c["cost_micros"]["N"] for c in counter] == ["49800000"]  # 5 admitted + the other container's: not this one
