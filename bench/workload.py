"""The benchmark's task stream and the two systems that process it.

The stream models a runaway loop on one QPU (IonQ Forte-1) during one UTC day, in ticks:

1. the loop submits ``tick`` tasks (random 20-200 shots, seeded); each is CREATED then QUEUED,
   and both events are delivered (in that order) to the system under test;
2. the system's asynchronous Lambda (16 concurrent invocations) processes them and every event
   its own actions cause (the CANCELLING/CANCELLED events of the tasks it cancels), until idle;
3. the QPU runs the ``device_rate x tick`` oldest QUEUED tasks (RUNNING, COMPLETED events,
   delivered too); a task that started running can no longer be stopped by anyone.

Both systems get the same limits: 25% of the stream's total shots and of its total cost,
per device and UTC day. A task that is not CANCELLED at the end has run or will run: it is
*admitted*. Overshoot = admitted beyond the limit. Driver work (creating tasks, moving the QPU)
is not part of the measured time; "processing time" is the sum of step 2 and 3's delivery
windows, i.e. the time the 16 invocations needed to work the stream off.
"""

from __future__ import annotations

import collections
import json
import os
import random
import statistics
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import boto3

from bench.lambda_sim import AsyncLambda
from bench.original_tool import OriginalTool, matches_rule

REGION = "us-east-1"
ACCOUNT = "123456789012"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
PER_TASK_USD, PER_SHOT_USD = "0.30", "0.08"  # prices.json, the same for both systems
PER_TASK_MICROS, PER_SHOT_MICROS = 300_000, 80_000


@dataclass(frozen=True)
class Stream:
    n: int
    seed: int = 20261128
    tick: int = 16
    device_rate: float = 0.5
    cap_fraction: float = 0.25

    def shots(self) -> list[int]:
        rng = random.Random(self.seed + self.n)
        return [rng.randint(20, 200) for _ in range(self.n)]

    def limits(self) -> tuple[int, int]:
        """(max shots, max cost in micro-dollars) for the day."""
        shots = self.shots()
        total_cost = sum(PER_TASK_MICROS + PER_SHOT_MICROS * s for s in shots)
        return int(sum(shots) * self.cap_fraction), int(total_cost * self.cap_fraction)


def cost_micros(shots: int) -> int:
    return PER_TASK_MICROS + PER_SHOT_MICROS * shots


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[index]


@dataclass
class Result:
    system: str
    n: int
    tasks_submitted: int
    complete: bool
    invocations: int
    failed_invocations: int
    dead_letters: int
    braket_calls: int
    braket_calls_by_op: dict[str, int]
    ddb_calls: int
    other_aws_calls: int
    median_ms: float
    p99_ms: float
    processing_s: float
    max_shots: int
    max_cost_micros: int
    admitted_tasks: int
    admitted_shots: int
    admitted_cost_micros: int
    cancelled_tasks: int
    completed_tasks: int
    quotas: bool = True
    throttled: int = 0  # Braket calls answered ThrottlingException (each retried by the client, or its end)
    throttled_by_op: dict[str, int] = field(default_factory=dict)
    lambda_retries: int = 0  # invocations that were Lambda's retry of a failed one
    deliveries_left: int = 0  # deliveries not yet started when a tick hit the time budget (dropped)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def braket_per_event(self) -> float:
        return self.braket_calls / max(1, self.invocations)

    @property
    def ddb_per_event(self) -> float:
        return self.ddb_calls / max(1, self.invocations)

    @property
    def aws_per_event(self) -> float:
        return (self.braket_calls + self.ddb_calls + self.other_aws_calls) / max(1, self.invocations)

    @property
    def overshoot_shots(self) -> int:
        return max(0, self.admitted_shots - self.max_shots)

    @property
    def overshoot_micros(self) -> int:
        return max(0, self.admitted_cost_micros - self.max_cost_micros)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(braket_per_event=self.braket_per_event, ddb_per_event=self.ddb_per_event,
                   aws_per_event=self.aws_per_event, overshoot_shots=self.overshoot_shots,
                   overshoot_micros=self.overshoot_micros)
        return out


class CallCounter:
    """Counts HTTP requests (retries included) a boto3 client sends, via botocore's events."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def attach(self, client: Any, service: str) -> None:
        client.meta.events.register(f"before-send.{service}.*", self._on_send)

    def _on_send(self, **kwargs: Any) -> None:
        with self.lock:
            self.count += 1
        return None


# ----------------------------------------------------------------------------------- systems
class GuardSystem:
    """braket-guard's real handler, configured through its environment like the Lambda."""

    name = "braket-guard"

    def __init__(self, servers: "Servers", max_shots: int | None, max_cost_micros: int, day: Any = None,
                 extra_env: dict[str, str] | None = None):
        from braket_guard.aws import braket_api
        from braket_guard import handler
        from braket_guard.alerts import notify

        self.handler = handler
        suffix = uuid.uuid4().hex[:8]
        self.table = f"bench-{suffix}"
        servers.create_table(self.table)
        cap: dict[str, Any] = {"name": "qpu-day", "window": "day", "group_by": "device", "devices": ["qpu"],
                               "max_cost_usd": f"{max_cost_micros / 1_000_000:.6f}",
                               "warn_at": [0.8], "on_breach": "cancel_task"}
        if max_shots is not None:
            cap["max_shots"] = max_shots
        for key in [k for k in os.environ if k.startswith("BRAKET_GUARD_")]:
            del os.environ[key]
        os.environ.update({"BRAKET_GUARD_TABLE": self.table, "BRAKET_GUARD_CAPS": json.dumps([cap]),
                           "BRAKET_GUARD_SNS_TOPIC_ARN": servers.topic_arn,
                           "BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER": servers.slack_parameter})
        os.environ.update(extra_env or {})
        braket_api.clear_price_cache()
        notify.clear_webhook_cache()
        runtime = handler.runtime()
        self.ddb, self.other = CallCounter(), CallCounter()
        self.ddb.attach(runtime.guard.ledger.client, "dynamodb")
        for channel in runtime.guard.notifier.channels:
            client = getattr(channel, "client", None) or getattr(channel, "ssm", None)
            if client is not None:
                self.other.attach(client, client.meta.service_model.service_id.hyphenize())

    accept = staticmethod(lambda event: True)  # the guard's rule takes every task state change

    def handle(self, event: dict) -> Any:
        return self.handler.lambda_handler(event, None)


class BaselineSystem:
    name = "original tool"

    def __init__(self, servers: "Servers", max_shots: int, max_cost_micros: int, day):
        self.tool = OriginalTool(max_shots, max_cost_micros / 1_000_000, float(PER_TASK_USD),
                                 float(PER_SHOT_USD), slack_url=servers.slack.url_for("/services/T0/B0/original"),
                                 today=lambda: day)
        self.ddb, self.other = CallCounter(), CallCounter()

    accept = staticmethod(matches_rule)

    def handle(self, event: dict) -> Any:
        return self.tool.handler(event, None)


# ----------------------------------------------------------------------------------- servers
class Servers:
    """Braket emulator and Slack sink in this process; moto (DynamoDB, SNS, SSM) in its own."""

    def __init__(self, moto_url: str):
        from braket_sandbox.emulator import BraketEmulator
        from braket_sandbox.slack_sink import SlackSink

        self.emu = BraketEmulator().start()
        self.slack = SlackSink().start()
        self.moto_url = moto_url
        os.environ.update({
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_DYNAMODB": moto_url, "AWS_ENDPOINT_URL_SNS": moto_url,
            "AWS_ENDPOINT_URL_SSM": moto_url, "AWS_ENDPOINT_URL_BRAKET": self.emu.url})
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(name, None)
        self.ddb = boto3.client("dynamodb")
        self.topic_arn = boto3.client("sns").create_topic(Name="bench-alerts")["TopicArn"]
        self.slack_parameter = "/braket-guard/bench/slack"
        boto3.client("ssm").put_parameter(Name=self.slack_parameter, Type="SecureString", Overwrite=True,
                                          Value=self.slack.url_for("/services/T0/B0/bench"))

    def create_table(self, name: str) -> None:
        self.ddb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])

    def stop(self) -> None:
        self.emu.stop()
        self.slack.stop()


# ----------------------------------------------------------------------------------- driver
def run_stream(servers: Servers, stream: Stream, make_system: Callable[..., Any], concurrency: int = 16,
               budget_s: float | None = None, progress: Callable[[str], None] | None = None,
               quotas: bool = True) -> Result:
    """Drive ``stream`` through a fresh system; stop submitting after ``budget_s`` of processing.

    ``quotas``: the emulator applies Braket's default quotas (DEFAULT_QUOTAS: Create 20/s burst 40,
    Cancel 2/s burst 20, Search 5/s burst 50, the read quotas) to every call the system makes; the
    driver's own task creation is never throttled. A tick whose deliveries outlast the budget is cut
    there: deliveries not yet started are dropped and counted (``deliveries_left``)."""
    emu = servers.emu
    emu.reset()
    if quotas:
        emu.apply_default_quotas()
    servers.slack.reset()
    shots = stream.shots()
    max_shots, max_cost = stream.limits()
    day_start = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    spacing = timedelta(seconds=80_000 / max(1, stream.n))
    system = make_system(servers, max_shots, max_cost, day_start.date())

    gate = {"open": False}
    held: list[dict] = []
    lam = AsyncLambda(system.handle, concurrency=concurrency, retries=2, retry_delays=(0.0, 0.0),
                      accept=system.accept, keep_results=False)

    def on_event(event: dict) -> None:
        if gate["open"]:
            lam.submit(event)
        else:
            held.append(event)

    cut = {"left": 0}

    def deliver() -> float:
        """Release the held events, wait until the function is idle (or the budget is spent: the
        deliveries not started are dropped); the window in seconds."""
        started = time.perf_counter()
        gate["open"] = True
        batch = held[:]
        held.clear()
        for event in batch:
            lam.submit(event)
        timeout = None if budget_s is None else max(5.0, budget_s - processing + 10.0)
        try:
            lam.drain(timeout)
        except TimeoutError:
            cut["left"] += lam.abandon()
        gate["open"] = False
        return time.perf_counter() - started

    emu.on_event = on_event
    calls0, throttled0 = emu.calls, emu.throttled
    arns: list[str] = []
    waiting: collections.deque[str] = collections.deque()
    processing = 0.0
    device_credit = 0.0
    try:
        for first in range(0, stream.n, stream.tick):
            for index in range(first, min(stream.n, first + stream.tick)):
                arn = emu.create_task(REGION, FORTE, shots[index], created_at=day_start + spacing * (index + 1))
                emu.advance(arn, "QUEUED")
                arns.append(arn)
                waiting.append(arn)
            processing += deliver()
            device_credit += stream.device_rate * stream.tick
            while device_credit >= 1 and waiting:
                arn = waiting.popleft()
                if emu.task(arn)["status"] != "QUEUED":
                    continue  # cancelled: the QPU skips it
                emu.advance(arn, "RUNNING")
                emu.advance(arn, "COMPLETED")
                device_credit -= 1
            processing += deliver()
            if progress and (first // stream.tick) % 25 == 0:
                progress(f"{system.name} N={stream.n}: {len(arns)} tasks, {processing:.1f}s")
            if budget_s is not None and processing > budget_s and (len(arns) < stream.n or cut["left"]):
                break
    finally:
        emu.on_event = None
        lam.close()
        calls, throttled = emu.calls - calls0, emu.throttled - throttled0
        emu.clear_faults()  # the quotas end with the run

    statuses = collections.Counter()
    admitted_shots = admitted_cost = 0
    index_of = {arn: i for i, arn in enumerate(arns)}
    for arn in arns:
        status = emu.task(arn)["status"]
        statuses[status] += 1
        if status != "CANCELLED":
            admitted_shots += shots[index_of[arn]]
            admitted_cost += cost_micros(shots[index_of[arn]])
    durations = [inv.duration * 1000 for inv in lam.invocations]
    return Result(
        system=system.name, n=stream.n, tasks_submitted=len(arns), complete=len(arns) == stream.n and not cut["left"],
        invocations=len(lam.invocations), failed_invocations=sum(1 for i in lam.invocations if not i.ok),
        dead_letters=len(lam.dead_letters), braket_calls=sum(calls.values()), braket_calls_by_op=dict(calls),
        ddb_calls=system.ddb.count, other_aws_calls=system.other.count,
        median_ms=statistics.median(durations) if durations else float("nan"), p99_ms=percentile(durations, 0.99),
        processing_s=processing, max_shots=max_shots, max_cost_micros=max_cost,
        admitted_tasks=len(arns) - statuses["CANCELLED"], admitted_shots=admitted_shots,
        admitted_cost_micros=admitted_cost, cancelled_tasks=statuses["CANCELLED"],
        completed_tasks=statuses["COMPLETED"], quotas=quotas, throttled=sum(throttled.values()),
        throttled_by_op={op: n for op, n in throttled.items() if n},
        lambda_retries=sum(1 for inv in lam.invocations if inv.attempt > 0), deliveries_left=cut["left"],
        extra={"errors": sorted({i.error for i in lam.invocations if not i.ok})[:5]})
