"""Fixtures of the reliability suite: the sandbox servers, a guard deployment (``Rig``) wired to
them through its environment, time control, and readers that check the ledger against Braket.

Everything runs the real handler (``braket_guard.handler.lambda_handler``) over HTTP against
moto (DynamoDB, SNS, SQS, SSM), the repo's Braket emulator and a Slack sink. Deliveries go
through ``bench.lambda_sim.AsyncLambda``: concurrent invocations and Lambda's asynchronous
retries (two, about 1 and 2 minutes later), on a clock that may run faster than the wall clock.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import boto3
import botocore.endpoint
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ (the Lambda model and the moto patch) lives at the root
    sys.path.insert(0, str(ROOT))

from bench.lambda_sim import AsyncLambda, ScaledClock  # noqa: E402
from braket_guard.aws import braket_api  # noqa: E402
from braket_guard import handler  # noqa: E402
from braket_guard.alerts import notify  # noqa: E402
from braket_sandbox.emulator import BraketEmulator  # noqa: E402
from braket_sandbox.slack_sink import SlackSink  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
AQUILA = "arn:aws:braket:us-east-1::device/qpu/quera/Aquila"
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
PRICES = {FORTE: (300_000, 80_000), AQUILA: (300_000, 10_000)}  # prices.json, micro-dollars


def cost_of(device: str, shots: int) -> int:
    per_task, per_shot = PRICES[device]
    return per_task + per_shot * shots


class SimulatedCrash(BaseException):
    """The Lambda process dies here: no ``except Exception`` in the guard can see it."""


class _ClockTime:
    """Stands in for the ``time`` module inside botocore.endpoint: its retry sleeps follow ``clock``."""

    def __init__(self, clock: ScaledClock):
        self.sleep = clock.sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class ManualClock:
    """A clock tests move by hand (for the ledger's work lease)."""

    def __init__(self, start: datetime = T0):
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


class Rig:
    """One guard deployment: its table, SNS topic (read through SQS), Slack parameter, caps."""

    def __init__(self, monkeypatch, moto_url: str, emu: BraketEmulator, sink: SlackSink,
                 dynamodb_url: str | None = None, sns_url: str | None = None):
        self.monkeypatch, self.emu, self.sink, self.moto_url = monkeypatch, emu, sink, moto_url
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        for key in [k for k in os.environ if k.startswith("BRAKET_GUARD_")]:
            monkeypatch.delenv(key)
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url or moto_url, "AWS_ENDPOINT_URL_SNS": sns_url or moto_url,
               "AWS_ENDPOINT_URL_SSM": moto_url, "AWS_ENDPOINT_URL_SQS": moto_url,
               "AWS_ENDPOINT_URL_BRAKET": emu.url}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        self.ddb = boto3.client("dynamodb", endpoint_url=moto_url)
        self.sqs = boto3.client("sqs", endpoint_url=moto_url)
        sns = boto3.client("sns", endpoint_url=moto_url)
        suffix = uuid.uuid4().hex[:8]
        self.topic = sns.create_topic(Name=f"alerts-{suffix}")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName=f"mail-{suffix}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn)
        self.webhook = sink.url_for(f"/services/T0SECRET/B0SECRET/{uuid.uuid4().hex}")
        self.parameter = f"/braket-guard/{suffix}/slack"
        boto3.client("ssm", endpoint_url=moto_url).put_parameter(Name=self.parameter, Type="SecureString",
                                                                Value=self.webhook)
        self.events: list[dict] = []
        self.events_lock = threading.Lock()
        self._emails: list[dict] = []
        self.table = ""
        self.reset()

    # -- set-up ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Fresh table, Braket and Slack state, empty mailbox: a new deployment, same servers."""
        self.emu.reset()
        self.emu.on_event = self._collect
        self.sink.reset()
        self.take_events()
        self.emails()
        self._emails = []
        self.table = f"guard-{uuid.uuid4().hex[:10]}"
        self.ddb.create_table(
            TableName=self.table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
        braket_api.clear_price_cache()
        notify.clear_webhook_cache()

    def configure(self, caps: list[dict], alerts: bool = True, **extra: str) -> None:
        self.caps = caps
        env = {"BRAKET_GUARD_TABLE": self.table, "BRAKET_GUARD_CAPS": json.dumps(caps)}
        if alerts:
            env["BRAKET_GUARD_SNS_TOPIC_ARN"] = self.topic
            env["BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER"] = self.parameter
        env.update({f"BRAKET_GUARD_{k.upper()}": v for k, v in extra.items()})
        for key in [k for k in os.environ if k.startswith("BRAKET_GUARD_")]:
            self.monkeypatch.delenv(key)
        for key, value in env.items():
            self.monkeypatch.setenv(key, value)

    def runtime(self, clock: ScaledClock | None = None, lease_clock: Callable[[], datetime] | None = None):
        """The handler's cached runtime, with its sleeps and lease clock on ``clock`` if given
        (botocore's own retry sleeps too, for every client of this process, until the test ends)."""
        rt = handler.runtime()
        if clock is not None:
            self.monkeypatch.setattr(botocore.endpoint, "time", _ClockTime(clock))
            rt.guard.ledger.clock = clock.now
            for backoff in (rt.guard.ledger.backoff, rt.guard.braket.backoff, rt.guard.braket.cancel_backoff):
                backoff.sleep = clock.sleep
            for channel in rt.guard.notifier.channels:
                if hasattr(channel, "sleep"):
                    channel.sleep = clock.sleep
        if lease_clock is not None:
            rt.guard.ledger.clock = lease_clock
        return rt

    def function(self, concurrency: int = 16, clock: ScaledClock | None = None, retries: int = 2,
                 retry_delays: tuple[float, ...] = (60.0, 120.0)) -> AsyncLambda:
        """The guard as an asynchronously invoked Lambda (16 concurrent invocations)."""
        return AsyncLambda(lambda event: handler.lambda_handler(event, None), concurrency=concurrency,
                           retries=retries, retry_delays=retry_delays, clock=clock or ScaledClock(1.0))

    # -- events ----------------------------------------------------------------------------------
    def _collect(self, event: dict) -> None:
        with self.events_lock:
            self.events.append(event)

    def take_events(self) -> list[dict]:
        with self.events_lock:
            taken, self.events = self.events, []
        return taken

    # -- reading ---------------------------------------------------------------------------------
    def scan(self) -> list[dict]:
        items, kwargs = [], {"TableName": self.table, "ConsistentRead": True}
        while True:
            page = self.ddb.scan(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def ledger(self) -> "Ledger":
        return Ledger(self.scan())

    def emails(self) -> list[dict]:
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return list(self._emails)
            for message in messages:
                self._emails.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])

    def status(self, arn: str) -> str:
        return self.emu.task(arn)["status"]


class Ledger:
    """The ledger table as the README documents it: task records, counters, alert markers."""

    def __init__(self, items: list[dict]):
        self.tasks: dict[str, dict] = {}
        self.counters: dict[tuple[str, str], dict] = {}
        self.alerts: list[dict] = []
        self.work: list[dict] = []  # the open-work index (pk WORK)
        for item in items:
            pk, sk = item["pk"]["S"], item["sk"]["S"]
            if pk == "WORK":
                self.work.append(item)
            elif sk.startswith("ALERT#"):
                self.alerts.append(item)
            elif pk.startswith("TASK#") and sk == "TASK":
                self.tasks[pk[len("TASK#"):]] = item
            elif pk.startswith("CAP#") and sk.startswith("GROUP#"):
                self.counters[(pk, sk)] = item

    @staticmethod
    def num(item: dict, name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    def breached_counters(self) -> set[tuple[str, str]]:
        """The counters some task found full (its record's ``breached`` caps): one breach alert each."""
        keys = set()
        for item in self.tasks.values():
            names = set(item.get("breached", {}).get("SS", []))
            for charge in item.get("charges", {}).get("L", []):
                if charge["M"]["cap"]["S"] in names:
                    keys.add((charge["M"]["c"]["S"], charge["M"]["g"]["S"]))
        return keys

    def state(self, arn: str) -> str | None:
        item = self.tasks.get(arn)
        return item["state"]["S"] if item else None

    def charged(self) -> dict[tuple[str, str], dict[str, int]]:
        """Per counter: the sum of the charges of the tasks the ledger holds as admitted."""
        sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"shots": 0, "cost_micros": 0, "tasks": 0})
        for item in self.tasks.values():
            if item["state"]["S"] not in ("admitted", "overrun"):  # the charged states
                continue
            for charge in item.get("charges", {}).get("L", []):
                m = charge["M"]
                key = (m["c"]["S"], m["g"]["S"])
                sums[key]["shots"] += int(m["s"]["N"])
                sums[key]["cost_micros"] += int(m["m"]["N"])
                sums[key]["tasks"] += 1
        return sums

    def check_counters_match_admitted(self) -> None:
        """Guarantee: every counter equals the sum of its charged (admitted or ran over its cap),
        unrefunded tasks."""
        charged = self.charged()
        for key in set(charged) | set(self.counters):
            counter = self.counters.get(key, {})
            actual = {name: self.num(counter, name) for name in ("shots", "cost_micros", "tasks")}
            assert actual == charged.get(key, {"shots": 0, "cost_micros": 0, "tasks": 0}), key

    def admitted_sums(self) -> dict[tuple[str, str], dict[str, int]]:
        """Per counter: the charges of the tasks the guard *admitted* (not those that ran over)."""
        sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"shots": 0, "cost_micros": 0})
        for item in self.tasks.values():
            if item["state"]["S"] != "admitted":
                continue
            for charge in item.get("charges", {}).get("L", []):
                m = charge["M"]
                sums[(m["c"]["S"], m["g"]["S"])]["shots"] += int(m["s"]["N"])
                sums[(m["c"]["S"], m["g"]["S"])]["cost_micros"] += int(m["m"]["N"])
        return sums

    def check_within_caps(self, caps: Iterable[dict]) -> None:
        """Guarantee: what the guard admitted fits every enforcing cap; when nothing ran over a
        cap, its counter is within the limit too (money spent despite a cap is counted on top)."""
        by_name = {cap["name"]: cap for cap in caps}
        admitted = self.admitted_sums()
        for (pk, sk), counter in self.counters.items():
            cap = by_name[pk.split("#")[1]]
            if cap.get("on_breach") == "alert_only":
                continue
            used = admitted.get((pk, sk), {"shots": 0, "cost_micros": 0})
            if not self.num(counter, "overrun_tasks"):
                used = {"shots": self.num(counter, "shots"), "cost_micros": self.num(counter, "cost_micros")}
            if cap.get("max_shots") is not None:
                assert used["shots"] <= cap["max_shots"], (pk, counter)
            if cap.get("max_cost_usd") is not None:
                assert used["cost_micros"] <= round(float(cap["max_cost_usd"]) * 1_000_000), (pk, counter)


def alert_identity(email: dict) -> tuple[str, ...]:
    """What makes an alert distinct: its kind and cap line (cap, window, group), or its task."""
    lines = email["Message"].splitlines()
    title = lines[0]
    cap_line = next((line for line in lines if line.startswith("Cap: ")), "")
    task_line = next((line for line in lines if line.startswith("Task: ")), "")
    if "could NOT be cancelled" in title:
        return ("cancel_failed", task_line)
    if "ran despite cap" in title:
        return ("overrun", task_line)
    if "on its own" in title or "could not be priced" in title:
        return ("oversize", cap_line)
    if "reached" in title:
        return ("breach", cap_line)
    return ("warning", title, cap_line)


@pytest.fixture
def rig(monkeypatch, moto_server, emulator, slack_sink):
    made = Rig(monkeypatch, moto_server.url, emulator, slack_sink)
    yield made
    emulator.on_event = None
    emulator.clear_faults()
    slack_sink.reset()
    from braket_sandbox.braket.devices import default_devices
    for device in default_devices():
        emulator.put_device(device)


def deliver_all(function: AsyncLambda, rig: Rig, events: Iterable[dict], timeout: float = 300) -> None:
    """Submit ``events``, then keep delivering whatever the guard's actions emit, until idle."""
    for event in events:
        function.submit(event)
    while True:
        function.drain(timeout=timeout)
        more = rig.take_events()
        if not more:
            return
        for event in more:
            function.submit(event)
