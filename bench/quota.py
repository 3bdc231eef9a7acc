"""The runaway at the quota: a notebook loop creating tasks as fast as Braket lets it, for minutes.

Why: the guard reacts after a task exists and cancels it, and CancelQuantumTask allows 2 calls a
second against CreateQuantumTask's 20. This scenario measures, in one run, what that costs with
the guard cancelling alone and what Braket's own spending limits (the guard freezing the device,
or mirroring its cap) save, against the physical limit of zero tasks created past the cap.

Everything runs in real time against the repo's servers:

- the Braket emulator with the default quotas of braket-facts.md as token buckets
  (CreateQuantumTask 20/s burst 40, CancelQuantumTask 2/s burst 20, GetQuantumTask 100/500,
  SearchQuantumTasks 5/50, GetDevice 5/50, all calls 140/600), answering ThrottlingException;
- one QPU (IonQ Forte-1, 0.30 USD a task + 0.08 a shot) that starts each queued task
  ``start_delay_s`` after it was queued (:class:`braket_sandbox.runaway.DeviceSimulator`), so a
  cancel that arrives later is too late and the task's cost has escaped;
- the notebook: ``creators`` threads in a loop calling CreateQuantumTask with a boto3 client in
  botocore's default retry mode (what the Braket SDK's ``AwsSession`` uses: a throttle is retried
  with backoff inside the call; one that still fails is retried by the loop), stopping all
  threads at the first error that is not a throttle, or after ``duration_s``;
- the guard's real handler behind the model of Lambda's asynchronous invocation (16 concurrent
  invocations, retries after 60 and 120 s) receiving every "Braket Task State Change" event (the
  rule of main.tf), with one enforcing cap ``day``/``device``/``qpu`` of ``cap_usd``; DynamoDB,
  SNS and SSM in moto.

A run ends once every task created has either been cancelled or started (``start_delay_s`` plus a
margin after the last creation) and the function is idle, or ``drain_s`` later at the latest;
deliveries still waiting then are counted (they would run, and cost, in AWS) and dropped.

The guard's own AWS cost per 1,000 tasks is computed from the counted calls and the public prices
in :data:`PRICES` (Decimal, with their source): Lambda requests and GB-seconds (the measured
handler durations at the module's default 256 MB), DynamoDB request units (estimated per call from
its request and response, see :class:`CapacityMeter`), EventBridge events delivered to the central
bus; Braket API calls are free.
"""

from __future__ import annotations

import collections
import math
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.exceptions import ClientError

from bench.lambda_sim import AsyncLambda

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
PER_TASK, PER_SHOT = Decimal("0.30"), Decimal("0.08")  # lambda/braket_guard/core/prices.json, the emulator's too
LAMBDA_MEMORY_MB = 256  # variables.tf: lambda_memory_mb default

# Public on-demand prices, us-east-1, USD. Sources: https://aws.amazon.com/lambda/pricing/ (x86:
# 0.20 per 1M requests, 0.0000166667 per GB-second), https://aws.amazon.com/dynamodb/pricing/on-demand/
# (0.625 per million write request units, 0.125 per million read request units, since November
# 2024), https://aws.amazon.com/eventbridge/pricing/ (AWS service events on the default bus are
# free; 1.00 per million events for custom, cross-account and cross-region deliveries -- taken
# here for every event forwarded to the guard's central bus, an upper bound when the bus is in the
# task's own account and region). Free tiers are ignored. Braket API calls cost nothing.
PRICES = {
    "lambda_request": Decimal("0.20") / 1_000_000,
    "lambda_gb_second": Decimal("0.0000166667"),
    "dynamodb_write_unit": Decimal("0.625") / 1_000_000,
    "dynamodb_read_unit": Decimal("0.125") / 1_000_000,
    "eventbridge_event": Decimal("1.00") / 1_000_000,
}
PRICE_SOURCES = ("https://aws.amazon.com/lambda/pricing/", "https://aws.amazon.com/dynamodb/pricing/on-demand/",
                 "https://aws.amazon.com/eventbridge/pricing/")

NATIVE_VAR, PACING_VAR = "BRAKET_GUARD_NATIVE_LIMITS", "BRAKET_GUARD_CANCELS_PER_SECOND"


@dataclass(frozen=True)
class Scenario:
    duration_s: float = 120.0
    shots: int = 100
    cap_usd: str = "1000"
    start_delay_s: float = 10.0
    creators: int = 8
    concurrency: int = 16
    drain_s: float = 30.0
    run_seconds: tuple[float, float] = (1.0, 2.0)

    @property
    def task_cost(self) -> Decimal:
        return PER_TASK + PER_SHOT * self.shots

    @property
    def tasks_in_cap(self) -> int:
        return int(Decimal(self.cap_usd) // self.task_cost)


FULL = Scenario()
QUICK = Scenario(duration_s=8.0, cap_usd="300", start_delay_s=2.0, creators=6, drain_s=8.0)


@dataclass(frozen=True)
class Mode:
    key: str
    name: str
    env: dict[str, str]
    needs: tuple[str, ...] = ()


MODES = (
    Mode("cancel_unpaced", "cancel-only, cancels not paced", {NATIVE_VAR: "off", PACING_VAR: "0"}, (PACING_VAR,)),
    Mode("cancel_paced", "cancel-only, cancels paced at 2/s", {NATIVE_VAR: "off", PACING_VAR: "2"}, (PACING_VAR,)),
    Mode("freeze", "freeze on breach (native limit)", {NATIVE_VAR: "freeze"}, (NATIVE_VAR,)),
    Mode("mirror", "mirror the cap + freeze (native limit)", {NATIVE_VAR: "mirror_and_freeze"}, (NATIVE_VAR,)),
)
# When the guard reads neither variable (the tree before issue 12's guard side), cancelling is all it does.
PLAIN = Mode("cancel", "cancel-only (the guard without native limits)", {})


def guard_reads(variable: str) -> bool:
    """Whether the guard in this tree reads an environment variable (its source names it)."""
    return any(variable in path.read_text() for path in (ROOT / "lambda" / "braket_guard").rglob("*.py"))


def modes_to_run() -> tuple[list[Mode], list[dict[str, str]]]:
    """The modes this tree's guard supports, and the others with the reason they are not measured."""
    run, skipped = [], []
    for mode in MODES:
        missing = [v for v in mode.needs if not guard_reads(v)]
        if missing:
            skipped.append({"mode": mode.name, "reason": f"the guard in this tree does not read {', '.join(missing)}"})
        else:
            run.append(mode)
    if not any(m.key.startswith("cancel") for m in run):
        run.insert(0, PLAIN)
    return run, skipped


# ----------------------------------------------------------------------------------- DynamoDB units
def _item_bytes(item: Any) -> int:
    """Approximate DynamoDB item size: attribute names plus the length of their values' text."""
    if not isinstance(item, dict):
        return 0
    total = 0
    for name, value in item.items():
        total += len(name.encode())
        if isinstance(value, dict):
            for kind, inner in value.items():
                if kind == "M":
                    total += 3 + _item_bytes(inner)
                elif kind in ("L", "SS", "NS", "BS"):
                    total += 3 + sum(len(str(v).encode()) for v in inner)
                else:
                    total += len(str(inner).encode())
        else:
            total += len(str(value).encode())
    return total


def _units(size: int, unit: int) -> Decimal:
    return Decimal(max(1, math.ceil(size / unit)))


class CapacityMeter:
    """DynamoDB request units of one client, estimated per call as the pricing page defines them.

    A write is one unit per started KB of the item (UpdateItem and DeleteItem: one, the guard's
    items are far below 1 KB), two in a transaction; a read one unit per started 4 KB returned,
    half for an eventually consistent read, two in a transaction. Conditional writes that fail are
    charged like the others. An approximation (item size from the request/response text), good to
    the unit for the guard's small items.
    """

    def __init__(self) -> None:
        self.read = Decimal(0)
        self.write = Decimal(0)
        self.calls: collections.Counter = collections.Counter()
        self.lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb", self._params)
        client.meta.events.register("after-call.dynamodb", self._after)

    @staticmethod
    def _params(params: dict, context: dict, **_: Any) -> None:
        context["bench_params"] = dict(params)

    def _after(self, model: Any, parsed: dict, context: dict, **_: Any) -> None:
        read, write = self.estimate(model.name, context.get("bench_params") or {}, parsed or {})
        with self.lock:
            self.read += read
            self.write += write
            self.calls[model.name] += 1

    @staticmethod
    def estimate(op: str, params: dict, parsed: dict) -> tuple[Decimal, Decimal]:
        consistent = Decimal(1) if params.get("ConsistentRead") else Decimal("0.5")
        if op == "GetItem":
            return _units(_item_bytes(parsed.get("Item")), 4096) * consistent, Decimal(0)
        if op in ("Query", "Scan"):
            return _units(sum(_item_bytes(i) for i in parsed.get("Items", [])), 4096) * consistent, Decimal(0)
        if op == "BatchGetItem":
            items = [i for items in (parsed.get("Responses") or {}).values() for i in items]
            return sum((_units(_item_bytes(i), 4096) * Decimal("0.5") for i in items), Decimal(0)), Decimal(0)
        if op == "TransactGetItems":
            wanted = len(params.get("TransactItems", []))
            got = [r.get("Item") for r in parsed.get("Responses", [])]
            return 2 * sum((_units(_item_bytes(i), 4096) for i in got), Decimal(0)) or Decimal(2 * wanted), Decimal(0)
        if op == "PutItem":
            return Decimal(0), _units(_item_bytes(params.get("Item")), 1024)
        if op in ("UpdateItem", "DeleteItem"):
            return Decimal(0), Decimal(1)
        if op == "TransactWriteItems":
            total = Decimal(0)
            for entry in params.get("TransactItems", []):
                put = entry.get("Put")
                total += 2 * (_units(_item_bytes(put.get("Item")), 1024) if put else Decimal(1))
            return Decimal(0), total
        if op == "BatchWriteItem":
            total = Decimal(0)
            for requests in (params.get("RequestItems") or {}).values():
                for request in requests:
                    put = request.get("PutRequest")
                    total += _units(_item_bytes(put.get("Item")), 1024) if put else Decimal(1)
            return Decimal(0), total
        return Decimal(0), Decimal(0)  # DescribeTable and the like: no request units


# ----------------------------------------------------------------------------------- the notebook
class Notebook:
    """``creators`` threads submitting tasks until the first error that is not a throttle."""

    def __init__(self, url: str, scenario: Scenario, action: str) -> None:
        self.scenario = scenario
        self.client = boto3.client("braket", region_name=REGION, endpoint_url=url)  # botocore's default retries
        self.action = action
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.created = 0
        self.throttles_seen = 0  # throttles that got through botocore's own retries
        self.stopped_by: str | None = None
        self.stopped_at: float | None = None
        self.finished_at: float | None = None
        self.threads = [threading.Thread(target=self._loop, name=f"notebook-{i}", daemon=True)
                        for i in range(scenario.creators)]

    def run(self) -> None:
        self.deadline = time.time() + self.scenario.duration_s
        for thread in self.threads:
            thread.start()
        for thread in self.threads:
            thread.join()
        self.finished_at = time.time()

    def _loop(self) -> None:
        while not self.stop.is_set() and time.time() < self.deadline:
            try:
                self.client.create_quantum_task(deviceArn=FORTE, shots=self.scenario.shots, action=self.action,
                                                outputS3Bucket="amazon-braket-bench", outputS3KeyPrefix="tasks")
                with self.lock:
                    self.created += 1
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "")
                if code == "ThrottlingException":
                    with self.lock:
                        self.throttles_seen += 1
                    continue
                with self.lock:
                    if self.stopped_by is None:
                        self.stopped_by = f"{code}: {err.response.get('Error', {}).get('Message', '')}"[:300]
                        self.stopped_at = time.time()
                self.stop.set()


def bell_action() -> str:
    """The ``action`` the Braket SDK sends for a Bell circuit (its own OpenQASM serialisation)."""
    from braket.circuits import Circuit
    from braket.circuits.serialization import IRType

    return Circuit().h(0).cnot(0, 1).to_ir(ir_type=IRType.OPENQASM).json()


# ----------------------------------------------------------------------------------- one run
@dataclass
class QuotaResult:
    mode: str
    key: str
    duration_s: float
    tasks_created: int
    tasks_in_cap: int
    tasks_past_cap: int
    cancels_needed: int
    cancelled_in_time: int
    ran_past_cap: int
    seconds_breach_to_last_in: float
    spend_escaped_usd: str
    spend_ran_usd: str
    cap_usd: str
    notebook_stopped_by: str | None
    notebook_seconds: float
    create_rate_per_s: float
    invocations: int
    lambda_retries: int
    failed_invocations: int
    deliveries: int
    deliveries_left: int
    throttled_guard: int
    throttled_notebook: int
    throttled_by_op: dict[str, int]
    braket_calls_guard: dict[str, int]
    cancel_calls: int
    dynamodb_calls: int
    dynamodb_read_units: str
    dynamodb_write_units: str
    lambda_gb_seconds: str
    eventbridge_events: int
    cost: dict[str, str]
    cost_per_1000_tasks_usd: str
    native_limits: list[dict[str, str]]
    freeze_seconds_after_breach: float | None
    limit_set_seconds_after_breach: float | None
    backlog_at_breach: int = 0  # deliveries queued (not started) when the first task past the cap was created
    first_rejection_after_breach: float | None = None  # s from that creation to the start of the first rejecting invocation
    timeline: dict[str, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_task_event(event: dict) -> bool:
    """The pattern of main.tf's rules: source aws.braket, detail-type Braket Task State Change."""
    return event.get("source") == "aws.braket" and event.get("detail-type") == "Braket Task State Change"


def run_mode(servers: Any, scenario: Scenario, mode: Mode, progress: Callable[[str], None] | None = None,
             action: str | None = None) -> QuotaResult:
    """One runaway at the quota through a fresh guard configured for ``mode``."""
    from bench.workload import GuardSystem
    from braket_sandbox.runaway import DeviceSimulator, NotebookDevice

    emu = servers.emu
    emu.reset()
    servers.slack.reset()
    emu.apply_default_quotas()
    cap_micros = int(Decimal(scenario.cap_usd) * 1_000_000)
    system = GuardSystem(servers, None, cap_micros, extra_env=mode.env)
    meter = CapacityMeter()
    meter.attach(system.handler.runtime().guard.ledger.client)
    qpu = NotebookDevice("ionq/Forte-1", FORTE, (REGION,), 1, (scenario.shots,), capacity=1_000_000,
                         run_seconds=scenario.run_seconds)
    devices = DeviceSimulator(emu, devices=(qpu,), queue_ahead_seconds=0.0,
                              start_delay_seconds=scenario.start_delay_s, seed=7)
    lam = AsyncLambda(lambda event: handle(event), concurrency=scenario.concurrency, retries=2, retry_delays=(60.0, 120.0),
                      accept=_is_task_event, keep_results=False)
    lock = threading.Lock()
    created: list[tuple[float, str]] = []
    ran: dict[str, float] = {}
    cancelled: set[str] = set()
    task_events = [0]
    breach_backlog: list[int] = []
    rejected_at: list[float] = []

    def handle(event: dict) -> Any:
        began = time.time()
        result = system.handle(event)
        if isinstance(result, dict) and result.get("decision") == "rejected":
            with lock:
                rejected_at[:] = [min(rejected_at + [began])]
        return result

    def on_event(event: dict) -> None:
        devices.on_event(event)
        if _is_task_event(event):
            detail = event["detail"]
            now = time.time()
            with lock:
                task_events[0] += 1
                if detail["status"] == "CREATED":
                    created.append((now, detail["quantumTaskArn"]))
                    if len(created) == scenario.tasks_in_cap + 1:
                        breach_backlog.append(lam.pending())
                elif detail["status"] == "RUNNING":
                    ran.setdefault(detail["quantumTaskArn"], now)
                elif detail["status"] == "CANCELLED":
                    cancelled.add(detail["quantumTaskArn"])
        lam.submit(event)

    emu.on_event = on_event
    calls0, throttled0 = emu.calls, emu.throttled
    # The window began before the runaway: its boundary schedule ({"braket_guard": "native_limits"},
    # schedules.tf) has run, so a mirrored limit exists before the first task (a no-op in other modes).
    lam.submit({"braket_guard": "native_limits"}, force=True)
    lam.drain(timeout=60)
    notebook = Notebook(emu.url, scenario, action or bell_action())
    started = time.time()
    try:
        if progress:
            progress(f"quota/{mode.key}: notebook running up to {scenario.duration_s:.0f} s, cap ${scenario.cap_usd}")
        notebook.run()
        with lock:
            last = max((t for t, _ in created), default=started)
        settle = last + scenario.start_delay_s + 3.0
        hard_end = (notebook.finished_at or time.time()) + scenario.start_delay_s + 3.0 + scenario.drain_s
        while time.time() < hard_end:
            if time.time() >= settle and lam.pending() == 0 and lam._running == 0:
                break
            time.sleep(0.1)
    finally:
        emu.on_event = None
        dropped = lam.abandon()
        devices.stop()
        lam.close()
    ended = time.time()

    calls, throttled = emu.calls - calls0, emu.throttled - throttled0
    with lock:
        order = sorted(created)
    in_cap = scenario.tasks_in_cap
    past = order[in_cap:]
    past_arns = {arn for _, arn in past}
    breach_at = past[0][0] if past else None
    ran_past = [arn for arn in past_arns if arn in ran]
    ran_cost = scenario.task_cost * len(ran)
    escaped = max(Decimal(0), ran_cost - Decimal(scenario.cap_usd))
    guard_calls = {op: n for op, n in calls.items() if op != "CreateQuantumTask" and n}
    guard_throttles = sum(n for op, n in throttled.items() if op != "CreateQuantumTask")
    durations = [inv.duration for inv in lam.invocations]
    gb_seconds = sum((Decimal(math.ceil(d * 1000)) / 1000 for d in durations), Decimal(0)) \
        * Decimal(LAMBDA_MEMORY_MB) / 1024
    invocations = len(lam.invocations)
    measured = {
        "lambda_requests": PRICES["lambda_request"] * invocations,
        "lambda_compute": PRICES["lambda_gb_second"] * gb_seconds,
        "dynamodb_reads": PRICES["dynamodb_read_unit"] * meter.read,
        "dynamodb_writes": PRICES["dynamodb_write_unit"] * meter.write,
        "eventbridge": PRICES["eventbridge_event"] * task_events[0],
    }
    # Deliveries left at the end would still run in AWS: priced at the mean cost of the ones that ran.
    per_invocation = (sum(v for k, v in measured.items() if k != "eventbridge") / invocations) if invocations else 0
    measured["left_deliveries_projected"] = Decimal(per_invocation) * dropped
    total_cost = sum(measured.values(), Decimal(0))
    tasks = len(order)
    per_thousand = total_cost * 1000 / tasks if tasks else Decimal(0)
    native = emu.spending_limits()
    limits = [{"spendingLimit": str(lim["spendingLimit"]), "totalSpend": str(lim["totalSpend"]),
               "queuedSpend": str(lim["queuedSpend"]), "tags": ",".join(sorted(lim["tags"])),
               "createdAt": lim["createdAt"].isoformat(), "updatedAt": lim["updatedAt"].isoformat()}
              for lim in native]
    # When the guard last set a limit (a freeze), relative to the breach: its reaction time.
    limit_after = None
    if breach_at is not None and native:
        limit_after = max(lim["updatedAt"].timestamp() for lim in native) - breach_at
    freeze_after = None
    if breach_at is not None and notebook.stopped_at is not None and notebook.stopped_by \
            and "ValidationException" in notebook.stopped_by:
        freeze_after = notebook.stopped_at - breach_at
    t0 = started
    result = QuotaResult(
        mode=mode.name, key=mode.key, duration_s=ended - started, tasks_created=tasks, tasks_in_cap=in_cap,
        tasks_past_cap=len(past), cancels_needed=len(past), cancelled_in_time=len(past_arns & (cancelled - set(ran))),
        ran_past_cap=len(ran_past),
        seconds_breach_to_last_in=(past[-1][0] - breach_at) if past else 0.0,
        spend_escaped_usd=str(escaped), spend_ran_usd=str(ran_cost), cap_usd=scenario.cap_usd,
        notebook_stopped_by=notebook.stopped_by,
        notebook_seconds=(notebook.finished_at or started) - started,
        create_rate_per_s=tasks / max(1e-9, (order[-1][0] - order[0][0])) if len(order) > 1 else 0.0,
        invocations=invocations, lambda_retries=sum(1 for inv in lam.invocations if inv.attempt > 0),
        failed_invocations=sum(1 for inv in lam.invocations if not inv.ok),
        deliveries=task_events[0], deliveries_left=dropped,
        throttled_guard=guard_throttles, throttled_notebook=throttled.get("CreateQuantumTask", 0),
        throttled_by_op={op: n for op, n in throttled.items() if n}, braket_calls_guard=guard_calls,
        cancel_calls=calls.get("CancelQuantumTask", 0), dynamodb_calls=sum(meter.calls.values()),
        dynamodb_read_units=str(meter.read), dynamodb_write_units=str(meter.write),
        lambda_gb_seconds=str(gb_seconds.quantize(Decimal("0.001"))), eventbridge_events=task_events[0],
        cost={k: str(v.quantize(Decimal("0.0000001"))) for k, v in measured.items()},
        cost_per_1000_tasks_usd=str(per_thousand.quantize(Decimal("0.000001"), rounding=ROUND_CEILING)),
        native_limits=limits, freeze_seconds_after_breach=freeze_after, limit_set_seconds_after_breach=limit_after,
        backlog_at_breach=breach_backlog[0] if breach_backlog else 0,
        first_rejection_after_breach=(rejected_at[0] - breach_at) if rejected_at and breach_at else None,
        timeline={"created": [round(t - t0, 3) for t, _ in order],
                  "ran": sorted(round(t - t0, 3) for t in ran.values()),
                  "breach": [round(breach_at - t0, 3)] if breach_at is not None else []},
    )
    if progress:
        progress(f"quota/{mode.key}: {tasks} tasks, {len(past)} past the cap, {len(ran_past)} of them ran, "
                 f"{invocations} invocations, {guard_throttles} guard throttles, stopped by {notebook.stopped_by}")
    return result


def run_all(servers: Any, scenario: Scenario, progress: Callable[[str], None] | None = None,
            freeze_runs: int = 1, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every mode once, the freeze mode ``freeze_runs`` times: its row is the worst run (most tasks
    past the cap, then most of them run); every run's figures are kept in ``freeze_runs``."""
    modes, skipped = modes_to_run()
    if only:
        modes = [m for m in modes if m.key in only]
    action = bell_action()
    results, repeats = [], []
    for mode in modes:
        runs = [run_mode(servers, scenario, mode, progress, action).as_dict()
                for _ in range(freeze_runs if mode.key == "freeze" else 1)]
        if mode.key == "freeze":
            repeats = [{k: r[k] for k in FREEZE_RUN_FIELDS} for r in runs]
        results.append(max(runs, key=lambda r: (r["tasks_past_cap"], r["ran_past_cap"])))
    return {"scenario": asdict(scenario), "results": results, "not_measured": skipped,
            "freeze_runs": repeats,
            "prices": {k: str(v) for k, v in PRICES.items()}, "price_sources": list(PRICE_SOURCES),
            "lambda_memory_mb": LAMBDA_MEMORY_MB, "task_cost_usd": str(scenario.task_cost)}


FREEZE_RUN_FIELDS = ("tasks_created", "tasks_past_cap", "cancelled_in_time", "ran_past_cap", "backlog_at_breach",
                     "first_rejection_after_breach", "limit_set_seconds_after_breach", "freeze_seconds_after_breach",
                     "invocations", "cost_per_1000_tasks_usd")


FREEZE_MECHANISM = """\
What makes the figure vary: the tasks past the cap are the ones the notebook creates between the
breach and the moment Braket holds the native limit, 20-30 a second at the quota. Two delays add
up: the first rejection's delivery waits behind the sandbox Lambda's backlog (the deliveries
queued at the breach), then that invocation makes the freeze's calls one after the other (the
freeze record, the search of the device's limits, CreateSpendingLimit) while 15 other invocations
share the same 2 cores and moto's single lock. When the machine is busy both stretch, and each
0.1 s is 2-3 tasks more: with one core kept busy by another process, three runs of the tree before
this change (a diagnostic, not the committed run) gave 20, 12 and 1 tasks past the cap, the limit
set 0.94, 0.55 and 0.07 s after the breach, the first rejection starting within 0.21 s (11, 0 and
0 deliveries queued at the breach), against 1-5 past the cap on the idle machine. The guard
now gives the freeze less to wait for: it runs before the rejection's own record is written, and
the invocations around it ask less of DynamoDB (an admission under the `warn_at` cap 2 calls, was
4; a rejection 3 before its cancel, was 4)."""


def freeze_runs_text(quota: dict[str, Any]) -> str:
    """The freeze mode's repeated runs, one line each, and the worst."""
    runs = quota.get("freeze_runs") or []
    if len(runs) < 2:
        return ""

    def secs(value: Any) -> str:
        return "–" if value is None else f"{value:.2f}"

    lines = [f"The freeze mode, {len(runs)} runs in a row (its row above is the worst):", "",
             "| run | tasks created | past the cap | cancelled in time | ran past the cap | deliveries queued at the breach | "
             "s breach → first rejection starts | s breach → native limit set | s breach → Braket refuses |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(runs, 1):
        lines.append(f"| {i} | {r['tasks_created']:,} | {r['tasks_past_cap']:,} | {r['cancelled_in_time']:,} | "
                     f"{r['ran_past_cap']:,} | {r.get('backlog_at_breach', 0):,} | "
                     f"{secs(r.get('first_rejection_after_breach'))} | {secs(r.get('limit_set_seconds_after_breach'))} | "
                     f"{secs(r.get('freeze_seconds_after_breach'))} |")
    worst = max(runs, key=lambda r: (r["tasks_past_cap"], r["ran_past_cap"]))
    lines += ["", FREEZE_MECHANISM]
    lines += ["", f"Worst of {len(runs)}: {worst['tasks_past_cap']:,} tasks past the cap, {worst['ran_past_cap']:,} of "
              f"them ran (target: at most 40, none running: "
              f"{'met' if worst['tasks_past_cap'] <= 40 and all(r['ran_past_cap'] == 0 for r in runs) else 'NOT met'})."]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- rendering
def _usd(text: str, places: str = "0.01") -> str:
    return f"${Decimal(text).quantize(Decimal(places)):,}"


def _ratio(a: float, b: float) -> str:
    if b == 0:
        return "∞" if a else "–"
    value = a / b
    return f"{value:,.0f}×" if value >= 100 else f"{value:,.1f}×" if value >= 10 else f"{value:.2f}×"


def table(quota: dict[str, Any]) -> str:
    lines = ["| mode | tasks created | past the cap | cancels needed | cancelled in time | ran past the cap | "
             "s from breach to last task in | spend escaped (ran) | Lambda invocations (retries) | "
             "throttled: guard / notebook | guard's AWS cost per 1,000 tasks |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in quota["results"]:
        lines.append(
            f"| {r['mode']} | {r['tasks_created']:,} | {r['tasks_past_cap']:,} | {r['cancels_needed']:,} | "
            f"{r['cancelled_in_time']:,} | {r['ran_past_cap']:,} | {r['seconds_breach_to_last_in']:.1f} | "
            f"{_usd(r['spend_escaped_usd'])} | {r['invocations']:,} ({r['lambda_retries']:,}) | "
            f"{r['throttled_guard']:,} / {r['throttled_notebook']:,} | {_usd(r['cost_per_1000_tasks_usd'], '0.0001')} |")
    lines.append("| physical limit (nothing created past the cap) | – | 0 | 0 | – | 0 | 0.0 | $0.00 | – | – | – |")
    return "\n".join(lines)


def cost_table(quota: dict[str, Any]) -> str:
    lines = ["| mode | Lambda requests | Lambda GB-s | DynamoDB RRU | DynamoDB WRU | EventBridge events | "
             "deliveries left at the end | total $ | $ per 1,000 tasks |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in quota["results"]:
        total = sum(Decimal(v) for v in r["cost"].values())
        lines.append(f"| {r['mode']} | {r['invocations']:,} | {Decimal(r['lambda_gb_seconds']):,.1f} | "
                     f"{Decimal(r['dynamodb_read_units']):,.1f} | {Decimal(r['dynamodb_write_units']):,.0f} | "
                     f"{r['eventbridge_events']:,} | {r['deliveries_left']:,} | {_usd(str(total), '0.0001')} | "
                     f"{_usd(r['cost_per_1000_tasks_usd'], '0.0001')} |")
    return "\n".join(lines)


BILL_TARGETS = {"native": Decimal("0.02"), "cancel": Decimal("0.03")}  # USD per 1,000 tasks (issue 23)


def bill_notes(quota: dict[str, Any]) -> str:
    """Each mode's bill per 1,000 tasks against issue 23's target, and what the figure is made of."""
    lines = []
    for r in quota["results"]:
        kind = "cancel" if r["key"].startswith("cancel") else "native"
        target = BILL_TARGETS[kind]
        per = Decimal(r["cost_per_1000_tasks_usd"])
        total = sum((Decimal(v) for v in r["cost"].values()), Decimal(0))
        left = Decimal(r["cost"].get("left_deliveries_projected", "0"))
        share = f"{100 * left / total:.0f}%" if total else "0%"
        lines.append(f"- {r['mode']}: {_usd(str(per), '0.0001')} per 1,000 tasks against a target of "
                     f"{_usd(str(target))}: {'met' if per <= target else 'NOT met'}; {share} of it is the "
                     f"{r['deliveries_left']:,} deliveries still waiting at the end (priced, not run).")
    return "\n".join(lines)


def _total(result: dict[str, Any]) -> float:
    return float(sum(Decimal(v) for v in result["cost"].values()))


def ratios(quota: dict[str, Any]) -> str:
    by_key = {r["key"]: r for r in quota["results"]}
    base = by_key.get("cancel_unpaced") or by_key.get("cancel_paced") or by_key.get("cancel")
    lines = []
    for key in ("cancel_paced", "freeze", "mirror"):
        other = by_key.get(key)
        if not other or not base or other is base:
            continue
        lines.append(
            f"- {base['mode']} ÷ {other['mode']}: tasks past the cap {_ratio(base['tasks_past_cap'], other['tasks_past_cap'])}, "
            f"spend escaped {_ratio(float(base['spend_escaped_usd']), float(other['spend_escaped_usd']))}, "
            f"invocations {_ratio(base['invocations'], other['invocations'])}, "
            f"guard throttles {_ratio(base['throttled_guard'], other['throttled_guard'])}, "
            f"the guard's AWS cost of the whole runaway {_ratio(_total(base), _total(other))}, "
            f"per 1,000 tasks created {_ratio(float(base['cost_per_1000_tasks_usd']), float(other['cost_per_1000_tasks_usd']))}.")
    return "\n".join(lines)


def notes(quota: dict[str, Any]) -> str:
    s = quota["scenario"]
    lines = []
    for r in quota["results"]:
        stop = r["notebook_stopped_by"]
        how = (f"the notebook stopped after {r['notebook_seconds']:.1f} s on `{stop.split(':')[0]}`"
               if stop else f"the notebook ran its full {s['duration_s']:.0f} s (nothing stopped it)")
        extra = ""
        if r.get("limit_set_seconds_after_breach") is not None:
            extra += (f"; the guard last set the device's native limit {r['limit_set_seconds_after_breach']:.1f} s "
                      "after the breach")
        if r["freeze_seconds_after_breach"] is not None:
            extra += f"; Braket refused the loop's task {r['freeze_seconds_after_breach']:.1f} s after the breach"
        lines.append(f"- **{r['mode']}**: {how}, creating {r['create_rate_per_s']:.1f} tasks/s{extra}; "
                     f"{r['cancel_calls']:,} CancelQuantumTask calls, {r['throttled_guard']:,} of the guard's calls "
                     f"throttled ({', '.join(f'{op} {n:,}' for op, n in sorted(r['throttled_by_op'].items()) if op != 'CreateQuantumTask') or 'none'}); "
                     f"{r['deliveries_left']:,} deliveries still waiting when the run ended.")
    for skipped in quota.get("not_measured", []):
        lines.append(f"- *Not measured:* {skipped['mode']}: {skipped['reason']}.")
    return "\n".join(lines)


def plot(quota: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = quota["scenario"]
    cost = Decimal(quota["task_cost_usd"])
    fig, (created_ax, escaped_ax) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    colors = ["tab:red", "tab:orange", "tab:blue", "tab:green", "tab:purple"]
    for r, color in zip(quota["results"], colors):
        times = r["timeline"]["created"]
        created_ax.step(times, [float(cost) * (i + 1) for i in range(len(times))], where="post", color=color,
                        label=f"{r['mode']}: created")
        ran = r["timeline"]["ran"]
        created_ax.step(ran, [float(cost) * (i + 1) for i in range(len(ran))], where="post", color=color,
                        linestyle=":", label=f"{r['mode']}: ran")
    created_ax.axhline(float(s["cap_usd"]), color="black", linewidth=1, label=f"daily cap ${s['cap_usd']}")
    created_ax.set_xlabel("seconds since the notebook started")
    created_ax.set_ylabel("cumulative cost, USD")
    created_ax.set_title("Tasks created and run at CreateQuantumTask's quota", fontsize=10)
    created_ax.grid(True, which="both", alpha=0.3)
    created_ax.legend(fontsize=6)
    short = {"cancel_unpaced": "cancel,\nunpaced", "cancel_paced": "cancel,\npaced 2/s", "freeze": "freeze",
             "mirror": "mirror\n+ freeze", "cancel": "cancel"}
    names = [short.get(r["key"], r["key"]) for r in quota["results"]]
    values = [float(r["spend_escaped_usd"]) for r in quota["results"]]
    escaped_ax.bar(range(len(values)), values, color=colors[:len(values)])
    escaped_ax.set_xticks(range(len(values)))
    escaped_ax.set_xticklabels(names, fontsize=7)
    escaped_ax.set_ylabel("USD")
    escaped_ax.set_title("Spend that escaped (ran past the cap)", fontsize=10)
    for i, value in enumerate(values):
        escaped_ax.annotate(f"${value:,.0f}", (i, value), ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def section(quota: dict[str, Any], plot_name: str) -> str:
    s = quota["scenario"]
    return f"""## Runaway at the quota: cancelling vs Braket's own spending limits

A notebook loop ({s['creators']} threads, botocore's default retries like the Braket SDK) creates
{s['shots']}-shot tasks on IonQ Forte-1 (${quota['task_cost_usd']} each) as fast as the emulator's
CreateQuantumTask quota lets it (20/s, burst 40) for up to {s['duration_s']:.0f} s, against one
enforcing cap of ${s['cap_usd']} a day for the device ({int(Decimal(s['cap_usd']) // Decimal(quota['task_cost_usd']))} tasks fit). The QPU starts
each queued task {s['start_delay_s']:.0f} s after it was queued: a task not cancelled by then runs.
The loop stops at the first error that is not a throttle. All modes in one run
(`make bench`, or `BENCH_ARGS="--scenario quota"` for this part alone); ratios from the same run:

{table(quota)}

{ratios(quota)}

{notes(quota)}

{freeze_runs_text(quota)}

![cumulative cost created and run, and the spend that escaped, per mode]({plot_name})

The guard's own AWS cost, from the calls counted in the run and the public prices in
`bench/quota.py` (Lambda {LAMBDA_MEMORY_MB} MB, measured handler durations; DynamoDB request units
estimated per call; EventBridge priced at $1.00 per million events reaching the central bus, an
upper bound; Braket API calls are free; deliveries still waiting at the end priced at the mean cost
of an invocation):

{cost_table(quota)}

{bill_notes(quota)}

Where the cancel-only bill goes: at 20 tasks a second against 2 cancels a second almost every
rejected task waits for a cancel it cannot get before Braket starts it; an invocation holds its
slot (and its GB-seconds) while it waits for a token (up to 20 s) or backs off a throttle. Leaving
the cancel to Lambda's redelivery after a short wait was tried and withdrawn: in the comparison
stream, whose QPU leaves tasks queued longer, it let cancels that waiting would have made run out
of Lambda's two retries (the guard's first overshoot, $808 at N = 1,000, in a run not committed).

Caveats: the handler runs in one Python process on 2 shared cores with moto behind one lock, so
the sandbox's Lambda works off roughly 30-40 invocations a second where AWS would scale out; the
delay from the breach to the guard's freeze (and so the tasks created past the cap in the freeze
rows) includes that backlog. Tasks past the cap are counted in creation order against the cap
(each task costs the same). In the cancel-only rows the run ends with the Lambda backlog of cancels
unfinished: every task the guard had not cancelled by then had already started.
"""
