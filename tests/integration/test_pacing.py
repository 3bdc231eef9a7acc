"""The shared cancel budget: a token bucket on a DynamoDB item (moto over HTTP), taken by several
"invocations" at once. A shared simulated clock replaces the wall clock, so the test counts
tokens, never measures time."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import boto3
import pytest

from braket_guard.braket_api import CancelResult
from braket_guard.pacing import CountingSleep, PacedBraket, TokenBucket, by_cost
from braket_guard.pricing import build_price_book

from .conftest import AQUILA, FORTE, create_ledger_table


class SimClock:
    """Time that moves only when someone sleeps (thread-safe)."""

    def __init__(self):
        self.now, self.lock = 1_800_000_000.0, threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += max(seconds, 0.0)


@pytest.fixture
def table(moto_server, monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_DYNAMODB": moto_server.url}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("dynamodb")
    name = f"pace-{uuid.uuid4().hex[:8]}"
    create_ledger_table(client, name)
    return client, name


def test_concurrent_takers_never_exceed_rate_times_time_plus_burst(table):
    client, name = table
    clock = SimClock()
    buckets = [TokenBucket(client, name, Decimal(2), burst=4, clock=clock, sleep=clock.sleep) for _ in range(6)]
    start = clock()
    taken = []
    lock = threading.Lock()

    def work(bucket):
        for _ in range(5):
            got, _waited = bucket.take("CANCEL#us-east-1")
            with lock:
                taken.append((got, clock()))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, buckets))
    assert len(taken) == 30 and all(got for got, _ in taken)
    for got_at in sorted(at for _, at in taken):
        granted = sum(1 for _, at in taken if at <= got_at)
        assert granted <= 4 + 2 * (got_at - start) + 1e-6, (granted, got_at - start)
    # and the bucket was the limit, not a stall: 30 tokens at 2/s after a burst of 4 take ~13 s
    assert clock() - start >= (30 - 4) / 2 - 1e-6


def test_an_empty_bucket_gives_up_after_the_longest_wait(table):
    client, name = table
    clock = SimClock()
    bucket = TokenBucket(client, name, Decimal("0.01"), burst=1, clock=clock, sleep=clock.sleep, max_wait=3)
    assert bucket.take("CANCEL#eu-north-1")[0] is True
    got, waited = bucket.take("CANCEL#eu-north-1")
    assert got is False and waited >= 3


def test_regions_have_their_own_buckets(table):
    client, name = table
    clock = SimClock()
    bucket = TokenBucket(client, name, Decimal(1), burst=1, clock=clock, sleep=clock.sleep)
    assert bucket.take("CANCEL#us-east-1") == (True, 0.0)
    assert bucket.take("CANCEL#eu-north-1") == (True, 0.0)
    got, waited = bucket.take("CANCEL#us-east-1")
    assert got and waited >= 0.99


def test_paced_cancels_take_a_token_and_report_retries(table, capsys):
    client, name = table
    clock = SimClock()
    retries = CountingSleep(sleep=lambda s: None)

    class Gateway:
        def cancel(self, task_arn, region):
            retries(0.1)  # as the gateway's backoff does after a throttle
            return CancelResult(True, status="CANCELLING")

        def search(self, *args):
            return ["delegated"]

    paced = PacedBraket(Gateway(), TokenBucket(client, name, Decimal(2), burst=1, clock=clock, sleep=clock.sleep),
                        retries)
    assert paced.cancel("arn:1", "us-east-1").ok and paced.cancel("arn:2", "us-east-1").ok
    assert paced.search() == ["delegated"]
    lines = [l for l in capsys.readouterr().out.splitlines() if '"CancelCalls"' in l]
    assert len(lines) == 2 and '"CancelRetries":1' in lines[0] and '"CancelPaceWaitMs":0' in lines[0]
    waited = int(lines[1].split('"CancelPaceWaitMs":')[1].split(",")[0])
    assert 500 <= waited <= 700  # half a second for the next token at 2/s, plus up to 20% jitter


def test_a_sweep_cancels_the_most_expensive_first():
    prices = build_price_book(None)
    tasks = [{"quantumTaskArn": "cheap", "deviceArn": AQUILA, "shots": 100},  # $1.30
             {"quantumTaskArn": "dear", "deviceArn": FORTE, "shots": 100},  # $8.30
             {"quantumTaskArn": "unpriced", "deviceArn": "arn:aws:braket:us-east-1::device/qpu/acme/Novel-1",
              "shots": 5000},
             {"quantumTaskArn": "mid", "deviceArn": FORTE, "shots": 10}]  # $1.10
    assert [t["quantumTaskArn"] for t in by_cost(tasks, prices)] == ["dear", "cheap", "mid", "unpriced"]
