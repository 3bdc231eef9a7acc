"""Braket emulator: SearchQuantumTasks filters, ordering, pagination and validation."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from braket_sandbox.emulator import BraketEmulator
from sandbox_helpers import FORTE, NOVEL, SV1, create

UTC = dt.timezone.utc
DAY = dt.datetime(2026, 11, 28, tzinfo=UTC)


def search(client, *filters, **kwargs):
    return client.search_quantum_tasks(filters=list(filters), **kwargs)


def f(name, operator, *values):
    return {"name": name, "operator": operator, "values": list(values)}


def arns(response):
    return [t["quantumTaskArn"] for t in response["quantumTasks"]]


@pytest.fixture
def history(emu):
    """Six us-east-1 tasks one hour apart from DAY 00:00, and one eu-north-1 task."""
    made = []
    for hour, (device, status) in enumerate(
        [
            (FORTE, "COMPLETED"),
            (FORTE, "QUEUED"),
            (NOVEL, "QUEUED"),
            (FORTE, "RUNNING"),
            (SV1, "CREATED"),
            (NOVEL, "FAILED"),
        ]
    ):
        arn = emu.create_task("us-east-1", device, 10 * (hour + 1), created_at=DAY + dt.timedelta(hours=hour))
        if status != "CREATED":
            emu.advance(arn, status)
        made.append(arn)
    emu.create_task(
        "eu-north-1",
        "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet",
        5,
        created_at=DAY + dt.timedelta(hours=2),
    )
    return made


def test_results_are_region_scoped_newest_first_summaries(braket, history):
    response = search(braket())
    assert arns(response) == list(reversed(history))
    assert "nextToken" not in response
    summary = response["quantumTasks"][-1]
    assert set(summary) == {
        "quantumTaskArn",
        "status",
        "deviceArn",
        "shots",
        "outputS3Bucket",
        "outputS3Directory",
        "createdAt",
        "endedAt",
        "tags",
    }
    assert summary["createdAt"] == DAY and summary["shots"] == 10 and summary["status"] == "COMPLETED"
    by_arn = {t["quantumTaskArn"]: t for t in response["quantumTasks"]}
    assert "endedAt" not in by_arn[history[4]]  # CREATED
    assert by_arn[history[5]]["endedAt"] >= by_arn[history[5]]["createdAt"]  # FAILED
    assert len(arns(search(braket("eu-north-1")))) == 1
    assert arns(search(braket("us-west-2"))) == []


def test_equal_filters_on_string_fields(braket, history):
    client = braket()
    assert set(arns(search(client, f("deviceArn", "EQUAL", NOVEL)))) == {history[2], history[5]}
    assert set(arns(search(client, f("status", "EQUAL", "QUEUED", "RUNNING")))) == set(history[1:4])
    both = search(client, f("status", "EQUAL", "QUEUED"), f("deviceArn", "EQUAL", FORTE))
    assert arns(both) == [history[1]]  # filters are ANDed
    assert arns(search(client, f("quantumTaskArn", "EQUAL", history[4]))) == [history[4]]
    assert arns(search(client, f("jobArn", "EQUAL", "arn:aws:braket:us-east-1:123456789012:job/j"))) == []


def test_job_arn_filter(braket, emu):
    job = "arn:aws:braket:us-east-1:123456789012:job/j1"
    in_job = emu.create_task("us-east-1", FORTE, 1, job_arn=job)
    emu.create_task("us-east-1", FORTE, 1)
    assert arns(search(braket(), f("jobArn", "EQUAL", job))) == [in_job]


@pytest.mark.parametrize(
    "operator,values,expected_hours",
    [
        ("LT", ["2026-11-28T02:00:00Z"], [0, 1]),
        ("LTE", ["2026-11-28T02:00:00.000Z"], [0, 1, 2]),
        ("GT", ["2026-11-28T03:00:00+00:00"], [4, 5]),
        ("GTE", ["2026-11-28T03:00:00"], [3, 4, 5]),  # naive = UTC
        ("EQUAL", ["2026-11-28T01:00:00Z", "2026-11-28T04:00:00Z"], [1, 4]),
        ("BETWEEN", ["2026-11-28T01:00:00Z", "2026-11-28T03:00:00Z"], [1, 2, 3]),
        ("GTE", [str(int((DAY + dt.timedelta(hours=5)).timestamp()))], [5]),  # epoch seconds
        ("LT", [str(int((DAY + dt.timedelta(hours=1)).timestamp() * 1000))], [0]),  # epoch ms
        ("GTE", ["2026-11-28"], [0, 1, 2, 3, 4, 5]),  # date only
    ],
)
def test_created_at_operators(braket, history, operator, values, expected_hours):
    found = search(braket(), f("createdAt", operator, *values))
    assert set(arns(found)) == {history[h] for h in expected_hours}


def test_utc_day_window_like_a_guard_would_query(braket, emu, history):
    emu.create_task("us-east-1", FORTE, 1, created_at=DAY - dt.timedelta(milliseconds=1))
    emu.create_task("us-east-1", FORTE, 1, created_at=DAY + dt.timedelta(days=1))
    day = search(
        braket(),
        f("createdAt", "BETWEEN", "2026-11-28T00:00:00.000Z", "2026-11-28T23:59:59.999Z"),
        f("deviceArn", "EQUAL", FORTE),
    )
    assert set(arns(day)) == {history[0], history[1], history[3]}


def test_pagination_with_max_results_and_paginator(braket, emu):
    client = braket()
    made = [emu.create_task("us-east-1", SV1, 1, created_at=DAY + dt.timedelta(seconds=i)) for i in range(23)]
    first = search(client, maxResults=10)
    assert len(first["quantumTasks"]) == 10 and first["nextToken"]
    second = search(client, maxResults=10, nextToken=first["nextToken"])
    third = search(client, maxResults=10, nextToken=second["nextToken"])
    assert len(third["quantumTasks"]) == 3 and "nextToken" not in third
    assert arns(first) + arns(second) + arns(third) == list(reversed(made))
    pages = list(
        client.get_paginator("search_quantum_tasks").paginate(filters=[], PaginationConfig={"PageSize": 7})
    )
    assert [len(p["quantumTasks"]) for p in pages] == [7, 7, 7, 2]
    assert [a for p in pages for a in arns(p)] == list(reversed(made))


def test_pagination_is_stable_while_tasks_are_created(braket, emu):
    client = braket()
    made = [emu.create_task("us-east-1", SV1, 1, created_at=DAY + dt.timedelta(seconds=i)) for i in range(6)]
    first = search(client, maxResults=3)
    for _ in range(4):  # newer tasks appear while the caller pages
        emu.create_task("us-east-1", SV1, 1)
    second = search(client, maxResults=3, nextToken=first["nextToken"])
    assert arns(first) + arns(second) == list(reversed(made))
    assert "nextToken" not in second


def test_same_millisecond_tasks_page_without_loss(braket, emu):
    made = {emu.create_task("us-east-1", SV1, 1, created_at=DAY) for _ in range(9)}
    pages = list(
        braket().get_paginator("search_quantum_tasks").paginate(filters=[], PaginationConfig={"PageSize": 2})
    )
    seen = [a for p in pages for a in arns(p)]
    assert len(seen) == 9 and set(seen) == made


def test_default_page_size_is_configurable(braket, emu):
    emu.default_page_size = 2
    for _ in range(3):
        emu.create_task("us-east-1", SV1, 1)
    first = search(braket())
    assert len(first["quantumTasks"]) == 2 and "nextToken" in first
    assert BraketEmulator().default_page_size == 100


@pytest.mark.parametrize(
    "filters,kwargs",
    [
        ([f("status", "LT", "QUEUED")], {}),  # string fields: EQUAL only
        ([f("status", "EQUAL", "DONE")], {}),  # not a task status
        ([f("shots", "EQUAL", "1")], {}),  # not a filter name
        ([f("createdAt", "BETWEEN", "2026-11-28T00:00:00Z")], {}),  # needs two values
        ([f("createdAt", "GT", "2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z")], {}),
        ([f("createdAt", "GT", "yesterday")], {}),
        ([f("status", "EQUAL", "QUEUED")] * 11, {}),  # at most 10 filters
        ([f("status", "EQUAL", *(["QUEUED"] * 11))], {}),  # at most 10 values
        ([], {"maxResults": 101}),
        ([], {"nextToken": "!!!not-a-token"}),
    ],
)
def test_search_validation_errors(braket, history, filters, kwargs):
    with pytest.raises(ClientError) as excinfo:
        search(braket(), *filters, **kwargs)
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_search_sees_http_created_tasks(braket):
    client = braket()
    arn = create(client, tags={"owner": "me"})
    [summary] = search(client, f("quantumTaskArn", "EQUAL", arn))["quantumTasks"]
    assert summary["tags"] == {"owner": "me"} and summary["status"] == "CREATED"
