"""Servers and a harness for adapter and handler tests: real boto3 clients over HTTP to moto
(DynamoDB, SNS, SQS, SSM), the repo's Braket emulator and a Slack sink, all on 127.0.0.1.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

import boto3
import pytest

from braket_guard.aws import braket_api
from braket_guard import handler
from braket_guard.alerts import notify
from braket_sandbox.emulator import BraketEmulator
from braket_sandbox.braket.devices import default_devices
from braket_sandbox.slack_sink import SlackSink

REGION = "us-east-1"
ACCOUNT = "123456789012"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
AQUILA = "arn:aws:braket:us-east-1::device/qpu/quera/Aquila"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
NOVEL = "arn:aws:braket:us-east-1::device/qpu/acme/Novel-1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"


def create_ledger_table(client, name: str) -> None:
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})


class Harness:
    """One guard deployment: its table, topic (read through an SQS queue), Slack parameter."""

    def __init__(self, monkeypatch, moto, emu: BraketEmulator, sink: SlackSink):
        self.monkeypatch, self.emu, self.sink = monkeypatch, emu, sink
        self.events: list[dict] = []
        self.events_lock = threading.Lock()
        emu.reset()
        emu.on_event = self._collect
        sink.reset()
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_ENDPOINT_URL_DYNAMODB": moto.url, "AWS_ENDPOINT_URL_SNS": moto.url,
               "AWS_ENDPOINT_URL_SSM": moto.url, "AWS_ENDPOINT_URL_SQS": moto.url,
               "AWS_ENDPOINT_URL_BRAKET": emu.url}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in [k for k in __import__("os").environ if k.startswith("BRAKET_GUARD_")]:
            monkeypatch.delenv(key)
        suffix = uuid.uuid4().hex[:8]
        self.table = f"guard-{suffix}"
        self.ddb = boto3.client("dynamodb")
        create_ledger_table(self.ddb, self.table)
        self.sns = boto3.client("sns")
        self.sqs = boto3.client("sqs")
        self.topic = self.sns.create_topic(Name=f"alerts-{suffix}")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName=f"mail-{suffix}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn)
        self.parameter = f"/braket-guard/{suffix}/slack"
        boto3.client("ssm").put_parameter(Name=self.parameter, Type="SecureString",
                                          Value=sink.url_for("/services/T000/B000/" + suffix))
        braket_api.clear_price_cache()
        notify.clear_webhook_cache()
        self._emails: list[dict] = []

    def _collect(self, event: dict) -> None:
        with self.events_lock:
            self.events.append(event)

    def configure(self, caps: list[dict], mode: str | None = None, timezone: str | None = None,
                  prices: dict | None = None, alerts: bool = True) -> None:
        env = {"BRAKET_GUARD_TABLE": self.table, "BRAKET_GUARD_CAPS": json.dumps(caps)}
        if alerts:
            env["BRAKET_GUARD_SNS_TOPIC_ARN"] = self.topic
            env["BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER"] = self.parameter
        if mode:
            env["BRAKET_GUARD_MODE"] = mode
        if timezone:
            env["BRAKET_GUARD_TIMEZONE"] = timezone
        if prices:
            env["BRAKET_GUARD_PRICES"] = json.dumps(prices)
        for key, value in env.items():
            self.monkeypatch.setenv(key, value)

    # -- driving -------------------------------------------------------------------------------
    def invoke(self, event: dict, lambda_retries: int = 2) -> dict:
        """One asynchronous Lambda invocation: on an error Lambda retries (twice by default)."""
        for attempt in range(lambda_retries + 1):
            try:
                return handler.lambda_handler(event, None)
            except Exception:
                if attempt == lambda_retries:
                    raise
        raise AssertionError("unreachable")

    def take_events(self) -> list[dict]:
        with self.events_lock:
            taken, self.events = self.events, []
        return taken

    def deliver_concurrently(self, events: Iterable[dict], threads: int = 16, seed: int = 7,
                             max_copies: int = 3) -> list[dict]:
        """Deliver every event 1..max_copies times, shuffled, from a thread pool."""
        rng = random.Random(seed)
        deliveries = [e for e in events for _ in range(rng.randint(1, max_copies))]
        rng.shuffle(deliveries)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(self.invoke, deliveries))

    # -- reading ---------------------------------------------------------------------------------
    def item(self, pk: str, sk: str) -> dict | None:
        return self.ddb.get_item(TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                 ConsistentRead=True).get("Item")

    def counter(self, cap: str, window: str, group: str) -> dict[str, int]:
        item = self.item(f"CAP#{cap}#{window}", f"GROUP#{group}") or {}
        return {k: int(v["N"]) for k, v in item.items() if "N" in v}

    def task_state(self, arn: str) -> str | None:
        item = self.item(f"TASK#{arn}", "TASK")
        return item["state"]["S"] if item else None

    def emails(self) -> list[dict]:
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return list(self._emails)
            for message in messages:
                self._emails.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])

    def slack(self) -> list[dict]:
        return self.sink.payloads()


@pytest.fixture
def harness(monkeypatch, moto_server, emulator, slack_sink):
    rig = Harness(monkeypatch, moto_server, emulator, slack_sink)
    yield rig
    emulator.on_event = None
    emulator.clear_faults()
    for device in default_devices():  # a test may have removed or changed one
        emulator.put_device(device)


@pytest.fixture
def fast_backoff(monkeypatch):
    """Shorter Braket backoff for tests that exhaust it on purpose (same attempts, less sleep)."""
    from braket_guard.aws import braket_api
    monkeypatch.setitem(braket_api.CANCEL_BACKOFF, "base", 0.01)
    monkeypatch.setitem(braket_api.CANCEL_BACKOFF, "cap", 0.05)
    monkeypatch.setitem(braket_api.READ_BACKOFF, "base", 0.01)
    monkeypatch.setitem(braket_api.READ_BACKOFF, "cap", 0.05)
