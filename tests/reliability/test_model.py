"""The whole space, searched: a stateful, model-based test (hypothesis ``RuleBasedStateMachine``)
that drives the real handler (``braket_guard.handler.lambda_handler``) over HTTP against moto and
the Braket emulator, with the faults the side roads of real Braket produce.

Each example draws a deployment (1-3 caps: every window, every ``group_by`` including ``tag:``,
every ``on_breach`` including ``alert_only``, shot and cost limits, ``warn_at``; enforce or monitor
mode) and then a random program of rules: tasks created on three QPUs in two regions over two days
(a window rollover), events delivered in any order, duplicated, on concurrent invocations; Braket
moving tasks on (RUNNING, COMPLETED, FAILED, user CANCELLED); cancels that answer CANCELLING and
run anyway; the next N calls of any Braket operation throttled or refused; DynamoDB throttled or
its response lost; the process dying before or after any DynamoDB write, after a cancel or after
an email went out; Slack down; reconciliation; the clock moving past leases.

A small reference model computes, independently of the guard, which counters each task falls in
and what it costs, and states what must hold:
- at every step: the tasks the guard *admitted* fit every enforcing cap, group and window; every
  counter equals the sum of the charges of the tasks the ledger holds as charged;
- at the end (faults cleared, every event delivered, reconciliation run): every counter equals the
  sum of what ran (RUNNING/COMPLETED in Braket) or is admitted and not ended: money spent is
  counted, nothing else is; every task that ran despite a rejection was alerted once (within the
  daily limit); no alert was sent twice, except where the process died between a send and its
  settle; every breached counter got one breach alert; nothing is left pending.

``MODEL_EXAMPLES`` (default 20) sets the number of examples; ``make test`` prints how many ran.
CI runs the same (derandomized) examples every time; ``MODEL_RANDOM=1`` draws new ones, and
``make model`` runs 200 of those.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from braket_guard.tasks import decision as decision_module
from braket_guard import handler

from .aws_faults import start_faulty_moto
from .conftest import ACCOUNT, AQUILA, FORTE, ManualClock, Rig, SimulatedCrash

GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
DEVICES = {FORTE: ("us-east-1", 300_000, 80_000), AQUILA: ("us-east-1", 300_000, 10_000),
           GARNET: ("eu-north-1", 300_000, 1_450)}
REGIONS = "us-east-1,eu-north-1"
RESERVATION = f"arn:aws:braket:us-east-1:{ACCOUNT}:reservation/00000000-aaaa-bbbb-cccc-000000000001"
RESERVED = [{"arn": RESERVATION, "type": "RESERVATION_TIME_WINDOW_ARN"}]
EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "20"))
RANDOM = os.environ.get("MODEL_RANDOM") == "1"
RUNS: Counter = Counter()


def cost(device: str, shots: int) -> int:
    _, per_task, per_shot = DEVICES[device]
    return per_task + per_shot * shots


@st.composite
def caps_strategy(draw):
    caps = []
    for index in range(draw(st.integers(1, 3))):
        cap = {"name": f"cap{index}", "window": draw(st.sampled_from(["day", "month", "total"])),
               "group_by": draw(st.sampled_from(["account", "region", "device", "tag:team"])),
               "on_breach": draw(st.sampled_from(["cancel_task", "cancel_task", "cancel_queued", "alert_only"]))}
        shots = draw(st.one_of(st.none(), st.integers(0, 1200)))
        dollars = draw(st.one_of(st.none(), st.integers(0, 60)))
        if shots is None and dollars is None:
            dollars = 30
        if shots is not None:
            cap["max_shots"] = shots
        if dollars is not None:
            cap["max_cost_usd"] = dollars
        devices = draw(st.sampled_from([None, None, ["qpu"], [FORTE]]))
        if devices:
            cap["devices"] = devices
        if draw(st.booleans()):
            cap["warn_at"] = [0.5]
        caps.append(cap)
    return caps


class Model:
    """The reference: which counters a task falls in, from the cap JSON alone."""

    def __init__(self, caps: list[dict], reserved_devices: frozenset = frozenset()):
        self.caps = caps
        self.reserved_devices = reserved_devices  # declared: their reserved tasks cost nothing

    def task_cost(self, task: dict) -> int:
        if task["deviceArn"] in self.reserved_devices and task.get("associations"):
            return 0
        return cost(task["deviceArn"], task["shots"])

    @staticmethod
    def applies(cap: dict, device: str) -> bool:
        devices = cap.get("devices")
        return not devices or device in devices or "qpu" in devices

    def charges(self, task: dict) -> list[tuple[tuple[str, str], int, int]]:
        out = []
        created = task["createdAt"].astimezone(timezone.utc)
        for cap in self.caps:
            if not self.applies(cap, task["deviceArn"]):
                continue
            window = {"day": created.date().isoformat(), "month": created.strftime("%Y-%m"),
                      "total": "total"}[cap["window"]]
            group = {"account": ACCOUNT, "region": task["region"], "device": task["deviceArn"]}.get(
                cap["group_by"], (task.get("tags") or {}).get("team") or "(untagged)")
            out.append(((f"CAP#{cap['name']}#{window}", f"GROUP#{group}"), task["shots"],
                        self.task_cost(task)))
        return out

    def limits(self, pk: str) -> dict:
        name = pk.split("#")[1]
        return next(c for c in self.caps if c["name"] == name)


class GuardMachine(RuleBasedStateMachine):
    rig: Rig = None  # set by the test before each run
    faults = None

    def __init__(self):
        super().__init__()
        self.rig.reset()
        self.faults.clear()
        self.clock = ManualClock(datetime.now(timezone.utc).replace(microsecond=0))
        self.today = self.clock.moment
        self.pool: list[dict] = []  # events Braket emitted (or Lambda must retry), not yet delivered
        self.arns: list[str] = []
        self.crash_at: tuple[str, int] | None = None
        self.crash_lock = threading.Lock()
        self.duplicates_allowed = 0
        self.model: Model | None = None
        self.mode = "enforce"
        self.reconciled: list[int] = []

    # -- deployment ------------------------------------------------------------------------------
    @precondition(lambda self: self.model is None)
    @rule(caps=caps_strategy(), monitor=st.sampled_from([False, False, False, True]), declare=st.booleans())
    def deploy(self, caps, monitor, declare):
        """``declare``: Forte-1 is declared reserved (some of its tasks run in the reservation;
        undeclared, they are priced on demand, as documented)."""
        self.mode = "monitor" if monitor else "enforce"
        extra = {"reservations": json.dumps([{"device_arn": FORTE}])} if declare else {}
        self.rig.configure(caps, mode=self.mode, regions=REGIONS, **extra)
        self.model = Model(caps, frozenset({FORTE}) if declare else frozenset())
        RUNS[f"reservations_declared:{declare}"] += 1
        rt = handler.runtime()
        rt.guard.ledger.clock = self.clock
        for backoff in (rt.guard.ledger.backoff, rt.guard.braket.backoff, rt.guard.braket.cancel_backoff):
            backoff.sleep = lambda seconds: None
        for channel in rt.guard.notifier.channels:
            if hasattr(channel, "sleep"):
                channel.sleep = lambda seconds: None
        self._install_crash_points(rt)
        RUNS["examples"] += 1
        RUNS[f"mode:{self.mode}"] += 1
        for cap in caps:
            RUNS[f"on_breach:{cap['on_breach']}"] += 1
            RUNS[f"group_by:{cap['group_by']}"] += 1

    def _install_crash_points(self, rt) -> None:
        def point(name: str):
            def hook(**kwargs):
                with self.crash_lock:
                    armed = self.crash_at
                    if armed is None or armed[0] != name:
                        return
                    if armed[1] > 0:
                        self.crash_at = (armed[0], armed[1] - 1)
                        return
                    self.crash_at = None
                    body = (kwargs.get("params") or {}).get("body", b"")  # the serialized request
                    body = body.decode() if isinstance(body, bytes) else str(body)
                    if name == "after-call.sns.Publish" or (
                            name == "before-call.dynamodb.UpdateItem" and "alert_state = :state" in body):
                        self.duplicates_allowed += 1  # died between a send and its settle
                RUNS[f"crash:{name}"] += 1
                raise SimulatedCrash(name)
            return hook

        events = rt.guard.ledger.client.meta.events
        for when in ("before-call", "after-call"):
            for op in ("PutItem", "UpdateItem", "TransactWriteItems"):
                events.register(f"{when}.dynamodb.{op}", point(f"{when}.dynamodb.{op}"),
                                unique_id=f"model-{when}-{op}-{id(self)}")
        for channel in rt.guard.notifier.channels:
            if channel.name == "email":
                channel.client.meta.events.register("after-call.sns.Publish", point("after-call.sns.Publish"),
                                                    unique_id=f"model-sns-{id(self)}")
        gateway, original = rt.guard.braket, rt.guard.braket.cancel

        def cancel(arn, region):
            result = original(arn, region)
            point("after-call.braket.CancelQuantumTask")()
            return result
        gateway.cancel = cancel

    # -- Braket ----------------------------------------------------------------------------------
    TASKS = st.lists(st.tuples(st.sampled_from(sorted(DEVICES)), st.integers(1, 400),
                               st.sampled_from(["a", "b", None]), st.booleans(),
                               st.sampled_from([False, False, True])), min_size=1, max_size=4)

    @precondition(lambda self: self.model is not None and len(self.arns) < 16)
    @rule(tasks=TASKS, day=st.sampled_from([-1, 0]))
    def notebook_submits(self, tasks, day):
        """1-4 tasks, yesterday or today (reconciliation runs today: yesterday's windows rolled over)."""
        for device, shots, team, queued, reserved in tasks:
            region = DEVICES[device][0]
            at = self.today + timedelta(days=day, seconds=-3600 + len(self.arns))
            reserved = reserved and device == FORTE  # the reservation is on Forte-1
            arn = self.rig.emu.create_task(region, device, shots, tags={"team": team} if team else None,
                                           created_at=at, associations=RESERVED if reserved else None)
            RUNS["reserved_tasks"] += int(reserved)
            if queued:
                self.rig.emu.advance(arn, "QUEUED")
            self.arns.append(arn)
        self._collect()

    def _collect(self) -> None:
        self.pool += self.rig.take_events()

    def _waiting(self, statuses=("CREATED", "QUEUED", "CANCELLING")) -> list[str]:
        return [a for a in self.arns if self.rig.status(a) in statuses]

    @precondition(lambda self: self.arns)
    @rule(pick=st.integers(0, 100), fate=st.sampled_from(["run", "complete", "fail", "user_cancel"]))
    def braket_moves_on(self, pick, fate):
        candidates = self._waiting(("CREATED", "QUEUED", "CANCELLING", "RUNNING"))
        if not candidates:
            return
        arn = candidates[pick % len(candidates)]
        status = self.rig.status(arn)
        if fate == "user_cancel":
            if status in ("CREATED", "QUEUED", "RUNNING"):
                self.rig.emu.cancel_task(arn)
        elif fate == "fail":
            self.rig.emu.advance(arn, "FAILED")
        else:
            if status != "RUNNING":
                self.rig.emu.advance(arn, "RUNNING")
            if fate == "complete":
                self.rig.emu.advance(arn, "COMPLETED")
        self._collect()

    FAULTS = st.one_of(
        st.tuples(st.just("cancel_will_not_take"), st.integers(0, 100)),
        st.tuples(st.just("braket"), st.sampled_from(["CancelQuantumTask", "GetQuantumTask", "GetDevice",
                                                      "SearchQuantumTasks"]),
                  st.integers(1, 10), st.sampled_from(["ThrottlingException", "ThrottlingException",
                                                       "InternalServiceException", "AccessDeniedException"])),
        st.tuples(st.just("dynamodb"), st.sampled_from(["throttle", "lost", "internal"]),
                  st.sampled_from(["TransactWriteItems", "UpdateItem", "PutItem", "GetItem", "BatchGetItem"]),
                  st.integers(1, 8)),
        st.tuples(st.just("crash"), st.sampled_from(
            [f"{w}.dynamodb.{op}" for w in ("before-call", "after-call")
             for op in ("PutItem", "UpdateItem", "TransactWriteItems")]
            + ["after-call.braket.CancelQuantumTask", "after-call.sns.Publish"]), st.integers(0, 3)),
        st.tuples(st.just("slack"), st.booleans()),
    )

    @precondition(lambda self: self.model is not None)
    @rule(fault=FAULTS)
    def fault(self, fault):
        """The next thing to go wrong: a cancel that does not take (the device runs the task
        anyway), the next N calls of a Braket operation throttled, failing or refused, DynamoDB
        throttled, failing or losing its response, the process dying at a given point, Slack down."""
        kind = fault[0]
        if kind == "cancel_will_not_take" and self.arns:
            self.rig.emu.ignore_cancels(self.arns[fault[1] % len(self.arns)])
        elif kind == "braket":
            _, op, count, error = fault
            if error == "AccessDeniedException" and op != "CancelQuantumTask":
                error = "ThrottlingException"
            self.rig.emu.fail_next(op, count, error=error)
            kind = f"braket:{op}:{error}"
        elif kind == "dynamodb":
            _, what, op, times = fault
            if what == "lost" and op in ("GetItem", "BatchGetItem"):
                what = "throttle"
            self.faults.add("dynamodb", what, rate=1.0, operations=[op], times=times)
            kind = f"dynamodb:{what}"
        elif kind == "crash":
            with self.crash_lock:
                if self.crash_at is None:
                    self.crash_at = (fault[1], fault[2])
        elif kind == "slack":
            self.rig.sink.fail_with(500 if fault[1] else None)
        RUNS[f"fault:{kind}"] += 1

    @precondition(lambda self: self.model is not None)
    @rule(seconds=st.sampled_from([5, 40, 130, 400]))
    def time_passes(self, seconds):
        self.clock.advance(seconds)

    # -- Lambda ----------------------------------------------------------------------------------
    def _invoke(self, event: dict) -> bool:
        """One invocation; False when it failed (Lambda retries it: back into the pool)."""
        try:
            handler.lambda_handler(event, None)
            return True
        except SimulatedCrash:
            return False
        except Exception:  # noqa: BLE001 - a failed invocation is redelivered, as Lambda does
            RUNS["failed_invocations"] += 1
            return False

    @precondition(lambda self: self.model is not None and self.pool)
    @rule(picks=st.lists(st.tuples(st.integers(0, 1000), st.booleans()), min_size=1, max_size=4))
    def deliver(self, picks):
        """Events one at a time, in any order; ``keep``: delivered again later (at least once)."""
        for pick, keep in picks:
            if not self.pool:
                break
            event = self.pool[pick % len(self.pool)]
            if not keep:
                self.pool.remove(event)
            if not self._invoke(event) and not keep:
                self.pool.append(event)
            self._collect()
            RUNS["deliveries"] += 1

    @precondition(lambda self: self.model is not None and len(self.pool) >= 2)
    @rule(count=st.integers(2, 8), duplicate=st.booleans())
    def deliver_concurrently(self, count, duplicate):
        batch = self.pool[-count:]
        del self.pool[-count:]
        if duplicate:
            batch = batch + batch[:2]
        with ThreadPoolExecutor(max_workers=len(batch)) as pool:
            outcomes = list(pool.map(self._invoke, batch))
        self.pool += [e for e, ok in zip(batch, outcomes) if not ok]
        self._collect()
        RUNS["deliveries"] += len(batch)

    @precondition(lambda self: self.model is not None and len(self.arns) > len(self.reconciled) * 4)
    @rule()
    def scheduled_reconcile(self):
        self.reconciled.append(len(self.arns))
        self.reconcile()

    def reconcile(self):
        try:
            handler.lambda_handler({"braket_guard": "reconcile"}, None)
        except SimulatedCrash:
            pass
        except Exception:  # noqa: BLE001 - the next scheduled run tries again
            RUNS["failed_reconciles"] += 1
        self._collect()
        RUNS["reconciles"] += 1

    # -- what must hold at every step ------------------------------------------------------------
    @invariant()
    def admitted_tasks_fit_and_counters_are_the_charged_tasks(self):
        if self.model is None:
            return
        ledger = self.rig.ledger()
        admitted: dict = defaultdict(lambda: [0, 0])
        charged: dict = defaultdict(lambda: [0, 0])
        for arn, item in ledger.tasks.items():
            state = item["state"]["S"]
            if state not in ("admitted", "overrun"):
                continue
            for charge in item.get("charges", {}).get("L", []):
                key = (charge["M"]["c"]["S"], charge["M"]["g"]["S"])
                for bucket in ([charged[key]] + ([admitted[key]] if state == "admitted" else [])):
                    bucket[0] += int(charge["M"]["s"]["N"])
                    bucket[1] += int(charge["M"]["m"]["N"])
        for key, (shots, micros) in admitted.items():
            cap = self.model.limits(key[0])
            if cap["on_breach"] == "alert_only":
                continue
            if cap.get("max_shots") is not None:
                assert shots <= cap["max_shots"], (key, shots, cap)
            if cap.get("max_cost_usd") is not None:
                assert micros <= cap["max_cost_usd"] * 1_000_000, (key, micros, cap)
        for key in set(charged) | set(ledger.counters):
            counter = ledger.counters.get(key, {})
            got = [ledger.num(counter, "shots"), ledger.num(counter, "cost_micros")]
            assert got == list(charged.get(key, [0, 0])), (key, got, charged.get(key))

    # -- the end: everything delivered, faults gone ----------------------------------------------
    def teardown(self):
        if self.model is None:
            return
        self.faults.clear()
        self.rig.emu.clear_faults()
        self.rig.sink.fail_with(None)
        with self.crash_lock:
            self.crash_at = None
        for arn in self.arns:  # a task whose cancel did not take runs to its end
            if self.rig.status(arn) == "CANCELLING":
                self.rig.emu.advance(arn, "RUNNING")
                self.rig.emu.advance(arn, "COMPLETED")
        for _ in range(3):
            self._drain()
            self.clock.advance(3600)  # past every lease and every retry delay of an alert
            for arn in self.arns:  # a cancel Braket refused: the user cancels it by hand, as told
                record = self.rig.ledger().tasks.get(arn)
                if record and record["state"]["S"] == "cancel_failed" and self.rig.status(arn) in ("CREATED", "QUEUED"):
                    self.rig.emu.cancel_task(arn)
            self.reconcile()
        self._drain()
        self.check_the_end()

    def _drain(self) -> None:
        for _ in range(20):
            self._collect()
            if not self.pool:
                return
            batch, self.pool = self.pool, []
            for event in batch:
                if not self._invoke(event):
                    self.pool.append(event)
        raise AssertionError(f"events still failing with no fault left: {self.pool[:2]}")

    def check_the_end(self):
        ledger = self.rig.ledger()
        tasks = {arn: self.rig.emu.task(arn) for arn in self.arns}
        # money spent is counted, nothing else is
        expected: dict = defaultdict(lambda: [0, 0])
        for arn, task in tasks.items():
            state = ledger.state(arn)
            assert state is not None, (arn, task["status"])  # every task was decided
            ran = task["status"] in ("RUNNING", "COMPLETED")
            if ran:
                assert state in ("admitted", "overrun"), (arn, task["status"], state)
            if task["status"] in ("FAILED", "CANCELLED"):
                assert state in ("refunded", "cancelled", "closed"), (arn, task["status"], state)
            if ran or (state in ("admitted", "overrun") and task["status"] in ("CREATED", "QUEUED")):
                for key, shots, micros in self.model.charges(task):
                    expected[key][0] += shots
                    expected[key][1] += micros
        for key in set(expected) | set(ledger.counters):
            counter = ledger.counters.get(key, {})
            got = [ledger.num(counter, "shots"), ledger.num(counter, "cost_micros")]
            assert got == list(expected.get(key, [0, 0])), (key, got, expected.get(key))
        # reserved work is never refused for cost: only a cap with a shot limit can refuse it
        for arn, task in tasks.items():
            if task["deviceArn"] in self.model.reserved_devices and task.get("associations"):
                item = ledger.tasks[arn]
                refused = set(item.get("breached", {}).get("SS", [])) | set(item.get("oversize", {}).get("SS", []))
                for name in refused:
                    assert self.model.limits(f"CAP#{name}#x").get("max_shots") is not None, (arn, name)
        # nothing pending
        assert ledger.work == [], ledger.work
        for arn in self.arns:
            assert ledger.state(arn) not in ("rejected", "cancel_requested"), (arn, ledger.state(arn))
        # alerts: never twice (but where the process died between a send and its settle)
        emails = self.rig.emails()
        identities = Counter(_identity(e) for e in emails)
        extra = sum(n - 1 for n in identities.values())
        assert extra <= self.duplicates_allowed, (identities, self.duplicates_allowed)
        # every task that ran despite a rejection was told about, once, within the daily limit
        def reason(item):
            return item.get("overrun_reason", {}).get("S", "")

        def refused(item):  # Braket refused its cancel for good: the user was told to cancel it
            return "cancel_error" in item and not item["cancel_error"]["S"].startswith("ended")

        # ran over: charged although it did not fit an enforcing cap, not in monitor mode
        ran_over = [arn for arn, item in ledger.tasks.items()
                    if item["state"]["S"] in ("overrun", "refunded") and reason(item) not in ("", "monitor")]
        unstopped = set(ran_over) | {arn for arn, item in ledger.tasks.items() if refused(item)}
        told = {i[1] for i in identities if i[0] == "task"}
        assert told <= {f"Task: {a}" for a in unstopped}, (told, unstopped)
        limit = decision_module.UNSTOPPED_ALERTS_PER_DAY
        assert len(told) >= min(len(ran_over), limit), (told, ran_over)
        if len(unstopped) <= limit:
            assert {f"Task: {a}" for a in ran_over} <= told, (ran_over, told)
        # one breach alert per counter found full (enforcing), and per alert_only counter that
        # passed its limit: surely those over it now, at most those that ever held more than it
        full = ledger.breached_counters()
        ever: dict = defaultdict(lambda: [0, 0])
        for item in ledger.tasks.values():
            if item["state"]["S"] in ("admitted", "overrun", "refunded"):
                for charge in item.get("charges", {}).get("L", []):
                    key = (charge["M"]["c"]["S"], charge["M"]["g"]["S"])
                    ever[key][0] += int(charge["M"]["s"]["N"])
                    ever[key][1] += int(charge["M"]["m"]["N"])

        def over(cap, shots, micros):
            return ((cap.get("max_shots") is not None and shots > cap["max_shots"])
                    or (cap.get("max_cost_usd") is not None and micros > cap["max_cost_usd"] * 1_000_000))

        alert_only = [key for key in set(ever) | set(ledger.counters)
                      if self.model.limits(key[0])["on_breach"] == "alert_only"]
        surely = {k for k in alert_only if over(self.model.limits(k[0]), ledger.num(ledger.counters.get(k, {}), "shots"),
                                                ledger.num(ledger.counters.get(k, {}), "cost_micros"))}
        maybe = {k for k in alert_only if over(self.model.limits(k[0]), *ever[k])}
        breaches = {i[1] for i in identities if i[0] == "breach"}
        assert len(full | surely) <= len(breaches) <= len(full | maybe), (breaches, full, surely, maybe)
        # every alert reached Slack once Slack was back, but those whose sender gave up on Slack
        gave_up = sum(1 for marker in ledger.alerts if marker.get("alert_state", {}).get("S") == "failed")
        slack = self.rig.sink.payloads()
        assert len(slack) + gave_up >= len(set(identities)), (
            len(slack), gave_up, sorted(set(identities)), [p.get("text") for p in slack],
            [{k: v for k, v in m.items() if k in ("pk", "sk", "alert_state", "channels_sent", "attempts", "detail")}
             for m in ledger.alerts])
        RUNS["alerts_given_up"] += gave_up
        RUNS["tasks"] += len(self.arns)
        RUNS["overrun_tasks"] += len(ran_over)
        RUNS["alerts"] += len(emails)


def _identity(email: dict) -> tuple[str, str]:
    lines = email["Message"].splitlines()
    title = lines[0]
    cap = next((line for line in lines if line.startswith("Cap: ")), "")
    task = next((line for line in lines if line.startswith("Task: ")), "")
    if "ran despite cap" in title or "could NOT be cancelled" in title:
        return ("task", task)
    if "reached" in title:
        return ("breach", cap)
    if "on its own" in title or "could not be priced" in title:
        return ("oversize", cap)
    return ("other", title + cap)


@pytest.fixture
def model_rig(monkeypatch, moto_server, emulator, slack_sink):
    server, faults = start_faulty_moto(seed=5)
    rig = Rig(monkeypatch, moto_server.url, emulator, slack_sink, dynamodb_url=server.url)
    rig.ddb = boto3.client("dynamodb", endpoint_url=moto_server.url)  # the test reads past the faults
    yield rig, faults
    emulator.on_event = None
    emulator.clear_faults()
    slack_sink.fail_with(None)
    server.stop()


def test_the_guard_holds_its_promises_on_every_path(model_rig, capsys):
    GuardMachine.rig, GuardMachine.faults = model_rig
    run_state_machine_as_test(GuardMachine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=40, deadline=None, database=None,
        derandomize=not RANDOM,  # CI explores the same examples each run; MODEL_RANDOM=1 new ones
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    with capsys.disabled():  # shown in `make test`'s output
        print(f"\nmodel-based test: {RUNS['examples']} examples, {RUNS['tasks']} tasks, "
              f"{RUNS['deliveries']} deliveries, {RUNS['reconciles']} reconciliations, "
              f"{sum(v for k, v in RUNS.items() if k.startswith('crash:'))} crashes, "
              f"{RUNS['overrun_tasks']} tasks ran over a cap, {RUNS['alerts']} alerts; "
              f"{dict(sorted(RUNS.items()))}")
    assert RUNS["examples"] > 0, "the model-based test ran no example"
