"""The DynamoDB ledger: task records, cap counters, alert markers and the open-work index in one
table (pk, sk). Every state change is one conditional write or transaction, so concurrent and
repeated events converge:

- ``TASK#<arn>`` / ``TASK``: a task's single record; ``state`` is a state of ``states.py``.
- ``CAP#<cap>#<window>`` / ``GROUP#<group>``: shots and micro-dollars counted for one cap group.
- same pk / ``ALERT#...``: the marker of one alert (claimed with a lease, then sent).
- ``WORK`` / ``TASK#<arn>``: present while a task has unfinished work (a cancel, a sweep, alerts,
  warnings, waiting for the end of a cancelled task). Reconciliation reads this one partition,
  so no work is abandoned when its window rolls over. Written in the same transaction as the
  record's ``work`` set, removed in the one that empties it.

Admission puts the task record and adds to every counter in ONE transaction whose conditions say
the record is new and every *enforcing* counter stays within its limit: all or nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterable

from botocore.exceptions import ClientError

from .caps import ALERT_ONLY, Charge
from .events import TaskEvent
from .retry import Backoff, error_code, is_transient
from .states import (ADMITTED, CANCEL_FAILED, CANCEL_REQUESTED, CANCELLED, CHARGED_STATES, CLOSED,
                     OVERRUN, REFUNDED, REJECTED)
from .windows import format_timestamp

TASK_SK = "TASK"
WORK_PK = "WORK"
Key = tuple[str, str]  # (pk, sk)
TASK_RETENTION_SECONDS = 100 * 86400  # long after any redelivery or refund can arrive
MARKER_RETENTION_SECONDS = 40 * 86400  # markers of per-task and per-day alerts
# While one invocation works on a task (cancel, sweep, alerts), duplicates of its events leave the
# work to it. Longer than a cancel with all its retries; shorter than Lambda's first async retry.
WORK_LEASE_SECONDS = 30
# A claimed alert whose sender died is sent again by whoever finds it after this long: longer
# than any send with its retries and the patient settle (so a slow sender is never doubled), so
# after a crash the alert goes out with Lambda's second retry or the next reconciliation.
ALERT_LEASE_SECONDS = 300
ALERT_RETRY_SECONDS = 120  # a failed channel is tried again after 2, 4, 6 ... minutes
ALERT_MAX_ATTEMPTS = 10  # then the marker is left "failed" (logged, counted in the digest)

# Work kinds a task record can hold (its ``work`` set).
WORK_CANCEL, WORK_AWAIT_END, WORK_SWEEP, WORK_ALERTS, WORK_THRESHOLDS = (
    "cancel", "await_end", "sweep", "alerts", "thresholds")


def task_pk(task_arn: str) -> str:
    return f"TASK#{task_arn}"


def _n(value: int) -> dict[str, str]:
    return {"N": str(int(value))}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(key: Key) -> dict[str, Any]:
    return {"pk": _s(key[0]), "sk": _s(key[1])}


def _task_key(task_arn: str) -> dict[str, Any]:
    return {"pk": _s(task_pk(task_arn)), "sk": _s(TASK_SK)}


def _work_key(task_arn: str) -> dict[str, Any]:
    return {"pk": _s(WORK_PK), "sk": _s(task_pk(task_arn))}


@dataclass(frozen=True)
class ChargeRecord:
    counter_key: Key
    cap: str
    shots: int
    cost_micros: int
    expires_at: int | None


@dataclass(frozen=True)
class TaskRecord:
    task_arn: str
    state: str
    status: str  # the status the task was first seen with
    device_arn: str
    region: str
    shots: int
    cost_micros: int | None
    created_at: str
    account: str = ""
    charges: tuple[ChargeRecord, ...] = ()  # on the counters while state is admitted/overrun
    breached: tuple[str, ...] = ()  # enforcing caps whose group was full
    oversize: tuple[str, ...] = ()  # enforcing caps the task cannot fit on its own
    sweep_caps: tuple[str, ...] = ()  # cancel_queued caps whose backlog is still to be swept
    work: frozenset[str] = frozenset()
    lease_until: int = 0  # epoch seconds; see WORK_LEASE_SECONDS
    trued_up: bool = False
    attempt: str = ""
    cancel_error: str = ""
    cancel_status: str = ""  # what Braket answered the guard's cancel (CANCELLING/CANCELLED)
    overrun_reason: str = ""
    reservation_arn: str = ""  # ran in a Braket Direct reservation: charged no cost
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def charged(self) -> bool:
        return self.state in CHARGED_STATES


@dataclass(frozen=True)
class Counter:
    key: Key
    shots: int = 0
    cost_micros: int = 0
    tasks: int = 0
    regions: tuple[str, ...] = ()
    rejected_tasks: int = 0
    rejected_shots: int = 0
    rejected_cost_micros: int = 0
    overrun_tasks: int = 0
    overrun_cost_micros: int = 0
    job_burn: int = 0  # micro-dollars an hour of the hybrid jobs running in this group now

    @property
    def group(self) -> str:
        return self.key[1][len("GROUP#"):]


@dataclass(frozen=True)
class Marker:
    key: Key
    state: str  # claimed | sent | failed
    channels_sent: frozenset[str]
    attempts: int
    detail: str = ""


def _num(item: dict[str, Any], name: str, default: int | None = 0) -> int | None:
    return int(item[name]["N"]) if name in item else default


def _marker(key: Key, item: dict[str, Any]) -> Marker:
    return Marker(key, item.get("alert_state", {}).get("S", "sent"),
                  frozenset(item.get("channels_sent", {}).get("SS", [])), _num(item, "attempts") or 0,
                  item.get("detail", {}).get("S", ""))


def _parse_counter(item: dict[str, Any]) -> Counter:
    def num(name: str) -> int:
        return _num(item, name) or 0

    return Counter((item["pk"]["S"], item["sk"]["S"]), num("shots"), num("cost_micros"), num("tasks"),
                   tuple(sorted(item.get("regions", {}).get("SS", []))), num("rejected_tasks"),
                   num("rejected_shots"), num("rejected_cost_micros"), num("overrun_tasks"),
                   num("overrun_cost_micros"), num("job_burn"))


# Records written before the state machine (0.1) kept a rejected task's cancel in a field.
_LEGACY_REJECTED = {"pending": REJECTED, "done": CANCEL_REQUESTED, "failed": CANCEL_FAILED,
                    "not_needed": CANCELLED, "not_possible": CANCELLED}


def _parse_task(item: dict[str, Any]) -> TaskRecord:
    def strings(name: str) -> tuple[str, ...]:
        return tuple(sorted(item.get(name, {}).get("SS", [])))

    charges = tuple(
        ChargeRecord((c["M"]["c"]["S"], c["M"]["g"]["S"]), c["M"]["cap"]["S"], int(c["M"]["s"]["N"]),
                     int(c["M"]["m"]["N"]), int(c["M"]["e"]["N"]) if "e" in c["M"] else None)
        for c in item.get("charges", {}).get("L", []))
    state = item["state"]["S"]
    work = set(strings("work"))
    cancel_status = item.get("cancel_status", {}).get("S", "")
    if state == REJECTED and "cancel" in item and "work" not in item:
        state = _LEGACY_REJECTED.get(item["cancel"]["S"], REJECTED)
        work = {WORK_CANCEL} if state == REJECTED else set()
        cancel_status = "CANCELLING" if item["cancel"]["S"] == "done" else cancel_status
    return TaskRecord(
        task_arn=item["pk"]["S"][len("TASK#"):], state=state,
        status=item.get("status", {}).get("S", ""), device_arn=item.get("device", {}).get("S", ""),
        region=item.get("region", {}).get("S", ""), shots=_num(item, "shots") or 0,
        cost_micros=_num(item, "cost_micros", None), created_at=item.get("created_at", {}).get("S", ""),
        account=item.get("account", {}).get("S", ""), charges=charges, breached=strings("breached"),
        oversize=strings("oversize"), sweep_caps=strings("sweep_caps"), work=frozenset(work),
        lease_until=_num(item, "lease_until") or 0, trued_up="trued_up_at" in item,
        attempt=item.get("attempt", {}).get("S", ""), cancel_error=item.get("cancel_error", {}).get("S", ""),
        cancel_status=cancel_status,
        overrun_reason=item.get("overrun_reason", {}).get("S", ""),
        reservation_arn=item.get("reservation", {}).get("S", ""), raw=item)


@dataclass(frozen=True)
class AdmitOutcome:
    outcome: str  # admitted | breached | duplicate
    breached: tuple[Charge, ...] = ()


class TransientLedgerError(RuntimeError):
    """DynamoDB kept refusing (throttling or conflicts); let Lambda redeliver."""


def charge_record(charge: Charge) -> ChargeRecord:
    return ChargeRecord(charge.counter_key, charge.cap.name, charge.shots, charge.cost_micros or 0,
                        charge.window.expires_at())


def _charges_value(records: Iterable[ChargeRecord]) -> dict[str, Any]:
    return {"L": [{"M": {"c": _s(r.counter_key[0]), "g": _s(r.counter_key[1]), "cap": _s(r.cap),
                         "s": _n(r.shots), "m": _n(r.cost_micros),
                         **({"e": _n(r.expires_at)} if r.expires_at else {})}} for r in records]}


class Ledger:
    """Small adapter over a low-level DynamoDB client (numbers stay strings: no float)."""

    def __init__(self, client: Any, table: str, backoff: Backoff | None = None,
                 clock=lambda: datetime.now(timezone.utc)):
        self.client, self.table = client, table
        self.backoff = backoff or Backoff(attempts=6, base=0.05, cap=1.0)
        self.clock = clock

    def now(self) -> int:
        return int(self.clock().timestamp())

    # -- reads ---------------------------------------------------------------------------------
    def get_task(self, task_arn: str) -> TaskRecord | None:
        response = self.backoff.call(lambda: self.client.get_item(
            TableName=self.table, Key=_task_key(task_arn), ConsistentRead=True))
        item = response.get("Item")
        return _parse_task(item) if item else None

    def get_task_and_counters(self, task_arn: str, counter_keys: Iterable[Key]) -> tuple[TaskRecord | None,
                                                                                          dict[Key, Counter]]:
        """The task record and counters in one BatchGetItem (consistent reads): an admission that
        knows its counters before its transaction needs no read after it (guard.py, issue 23)."""
        wanted = list(dict.fromkeys(counter_keys))
        record, found = None, {key: Counter(key) for key in wanted}
        for item in self._batch_get([(task_pk(task_arn), TASK_SK)] + wanted):
            if item["sk"]["S"] == TASK_SK:
                record = _parse_task(item)
            else:
                counter = _parse_counter(item)
                found[counter.key] = counter
        return record, found

    def read_counters(self, counter_keys: Iterable[Key]) -> dict[Key, Counter]:
        wanted = list(dict.fromkeys(counter_keys))
        found: dict[Key, Counter] = {key: Counter(key) for key in wanted}
        for item in self._batch_get(wanted):
            counter = _parse_counter(item)
            found[counter.key] = counter
        return found

    def _batch_get(self, keys: list[Key]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request = {self.table: {"Keys": [_key(k) for k in keys[start:start + 100]],
                                    "ConsistentRead": True}}
            for _ in range(8):
                response = self.backoff.call(lambda: self.client.batch_get_item(RequestItems=request))
                items.extend(response.get("Responses", {}).get(self.table, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05)
            else:
                raise TransientLedgerError("BatchGetItem kept returning unprocessed keys")
        return items

    def get_tasks(self, task_arns: Iterable[str]) -> dict[str, TaskRecord]:
        """Task records by ARN (absent ARNs are not in the result), 100 per BatchGetItem."""
        keys = [(task_pk(arn), TASK_SK) for arn in dict.fromkeys(task_arns)]
        return {record.task_arn: record for record in map(_parse_task, self._batch_get(keys))}

    def _query(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": _s(pk), ":prefix": _s(prefix)}, "ConsistentRead": True}
        while True:
            response = self.backoff.call(lambda: self.client.query(**kwargs))
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def window_counters(self, cap_name: str, window_key: str) -> list[Counter]:
        """Every group's counter of one cap window (one Query on the window's partition)."""
        return [_parse_counter(item) for item in self._query(f"CAP#{cap_name}#{window_key}", "GROUP#")]

    def open_work(self) -> list[tuple[str, frozenset[str]]]:
        """(task ARN, work kinds) of every task with unfinished work, whatever its window."""
        return [(item["sk"]["S"][len("TASK#"):], frozenset(item.get("work", {}).get("SS", [])))
                for item in self._query(WORK_PK, "TASK#")]

    # -- transactions ---------------------------------------------------------------------------
    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Run a transaction; None on success, else the per-item cancellation codes.

        Conflicts and throttling are retried here; a condition failure is an answer, not an error.
        """
        def attempt() -> list[str] | None:
            try:
                self.client.transact_write_items(TransactItems=items)
                return None
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                codes = [r.get("Code", "None") or "None"
                         for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in codes:
                    return codes
                raise  # conflicts or throttling only: retryable below

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, ClientError) and error_code(exc) == "TransactionCanceledException":
                return True
            return is_transient(exc)

        try:
            return self.backoff.call(attempt, retryable)
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                raise TransientLedgerError(f"transaction kept conflicting: {exc}") from exc
            raise

    def _work_item(self, task_arn: str, work: Iterable[str]) -> dict[str, Any]:
        """The open-work index entry: put while work is left, deleted when none is."""
        kinds = sorted(set(work))
        if not kinds:
            return {"Delete": {"TableName": self.table, "Key": _work_key(task_arn)}}
        return {"Put": {"TableName": self.table, "Item": {
            **_work_key(task_arn), "work": {"SS": kinds}, "since": _s(format_timestamp(self.clock())),
            "expires_at": _n(self.now() + TASK_RETENTION_SECONDS)}}}

    def _new_task_item(self, task: TaskEvent, state: str, cost_micros: int | None,
                       charges: Iterable[ChargeRecord], extra: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        item: dict[str, Any] = {
            **_task_key(task.task_arn), "state": _s(state),
            "status": _s(task.status), "device": _s(task.device_arn), "region": _s(task.region),
            "account": _s(task.account), "shots": _n(task.shots),
            "created_at": _s(format_timestamp(task.created_at)),
            "decided_at": _s(format_timestamp(now)),
            "expires_at": _n(int(max(now, task.created_at).timestamp()) + TASK_RETENTION_SECONDS),
        }
        if cost_micros is not None:
            item["cost_micros"] = _n(cost_micros)
        if task.reservation_arn:
            item["reservation"] = _s(task.reservation_arn)
        records = list(charges)
        if records:
            item["charges"] = _charges_value(records)
        item.update({k: v for k, v in extra.items() if v is not None})
        return item

    @staticmethod
    def _strings(values: Iterable[str]) -> dict[str, Any] | None:
        values = sorted(set(values))
        return {"SS": values} if values else None

    def _counter_add(self, charge: ChargeRecord, region: str, sign: int, *, rejected: bool = False,
                     overrun: bool = False, limit: tuple[int | None, int | None] | None = None,
                     refunded: bool = False, below: tuple[int | None, int | None] | None = None) -> dict[str, Any]:
        """One counter update: charge (sign 1), refund (-1) or record a rejection; conditioned on
        the limits when ``limit`` = (max_shots, max_cost_micros) is given, and on the counter
        staying below ``below`` = (shots, cost_micros) after the charge (None: no such bound)."""
        pk, sk = charge.counter_key
        cap, _, window = pk[len("CAP#"):].rpartition("#")
        values: dict[str, Any] = {":cap": _s(cap), ":grp": _s(sk[len("GROUP#"):]), ":win": _s(window)}
        if rejected:
            add = "ADD rejected_shots :s, rejected_cost_micros :c, rejected_tasks :one"
            values.update({":s": _n(charge.shots), ":c": _n(charge.cost_micros), ":one": _n(1)})
        else:
            add = "ADD shots :s, cost_micros :c, tasks :one"
            values.update({":s": _n(sign * charge.shots), ":c": _n(sign * charge.cost_micros), ":one": _n(sign)})
            if sign > 0:
                add += ", regions :r"
                values[":r"] = {"SS": [region]}
            if overrun:
                add += ", overrun_tasks :ot, overrun_cost_micros :oc"
                values.update({":ot": _n(sign), ":oc": _n(sign * charge.cost_micros)})
            if refunded:
                add += ", refunded_tasks :rone"
                values[":rone"] = _n(1)
        sets = ["cap_name = :cap", "grp = :grp", "win = :win"]
        if charge.expires_at:
            sets.append("expires_at = if_not_exists(expires_at, :exp)")
            values[":exp"] = _n(charge.expires_at)
        update: dict[str, Any] = {"TableName": self.table, "Key": _key(charge.counter_key),
                                  "UpdateExpression": f"{add} SET {', '.join(sets)}",
                                  "ExpressionAttributeValues": values}
        if limit is not None:
            conditions = []
            max_shots, max_cost = limit
            # a charge that adds nothing to a dimension cannot overshoot it (a reserved task adds
            # no cost): it must not be refused because that dimension is already over
            if max_shots is not None and charge.shots:
                conditions.append("(attribute_not_exists(shots) OR shots <= :smax)")
                values[":smax"] = _n(max_shots - charge.shots)
            if max_cost is not None and charge.cost_micros:
                conditions.append("(attribute_not_exists(cost_micros) OR cost_micros <= :cmax)")
                values[":cmax"] = _n(max_cost - charge.cost_micros)
        else:
            conditions = []
        if below is not None:
            for name, bound, amount in (("shots", below[0], charge.shots), ("cost_micros", below[1], charge.cost_micros)):
                if bound is not None:  # after the charge still below the bound: before it, below bound - amount
                    conditions.append(f"(attribute_not_exists({name}) OR {name} < :below_{name})")
                    values[f":below_{name}"] = _n(bound - sign * amount)
        if conditions:
            update["ConditionExpression"] = " AND ".join(conditions)
        return {"Update": update}

    # -- creating a record ----------------------------------------------------------------------
    def admit(self, task: TaskEvent, charges: list[Charge], cost_micros: int | None, attempt: str,
              work: Iterable[str] = (), monitor: bool = False,
              below: dict[Key, tuple[int | None, int | None]] | None = None) -> AdmitOutcome:
        """Record the task as admitted and charge every counter, atomically: enforcing counters
        only within their limits, ``alert_only`` counters unconditionally. ``below``: per counter,
        bounds the counter must stay under after the charge (a refused bound reads as "breached":
        the caller that set bounds tries again without them)."""
        records = [charge_record(c) for c in charges]
        work = set(work)
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
            "Item": self._new_task_item(task, ADMITTED, cost_micros, records,
                                        {"attempt": _s(attempt), "work": self._strings(work)})}}]
        if work:
            items.append(self._work_item(task.task_arn, work))
        offset = len(items)
        for charge, record in zip(charges, records):
            limit = None if charge.cap.on_breach == ALERT_ONLY else (charge.cap.max_shots, charge.cap.max_cost_micros)
            items.append(self._counter_add(record, task.region, 1, limit=limit,
                                           below=(below or {}).get(record.counter_key)))
        codes = self._transact(items)
        if codes is None:
            return AdmitOutcome("admitted")
        if codes and codes[0] == "ConditionalCheckFailed":
            return AdmitOutcome("duplicate")
        breached = tuple(c for c, code in zip(charges, codes[offset:]) if code == "ConditionalCheckFailed")
        return AdmitOutcome("breached", breached)

    def reject(self, task: TaskEvent, charges: list[Charge], cost_micros: int | None, attempt: str, *,
               breached: Iterable[str], oversize: Iterable[str], sweep_caps: Iterable[str],
               work: Iterable[str]) -> bool:
        """Record a rejected task (not charged; its planned charges kept for an overrun) and add it
        to the counters' rejected totals. The record starts leased to this invocation.
        False when another delivery recorded the task first."""
        records = [charge_record(c) for c in charges]
        work = set(work)
        extra = {"attempt": _s(attempt), "work": self._strings(work), "breached": self._strings(breached),
                 "oversize": self._strings(oversize), "sweep_caps": self._strings(sweep_caps),
                 "lease_until": _n(self.now() + WORK_LEASE_SECONDS)}
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
            "Item": self._new_task_item(task, REJECTED, cost_micros, records, extra)}}]
        items.append(self._work_item(task.task_arn, work))
        over = set(breached) | set(oversize)  # the counters that refused it count the rejection
        items += [self._counter_add(r, task.region, 1, rejected=True) for r in records if r.cap in over]
        return self._transact(items) is None

    def overrun_new(self, task: TaskEvent, charges: list[Charge], cost_micros: int | None, attempt: str, *,
                    reason: str, breached: Iterable[str], oversize: Iterable[str], sweep_caps: Iterable[str],
                    work: Iterable[str]) -> bool:
        """A task first seen running (or in monitor mode) that did not fit: record it and charge
        every counter unconditionally. False when another delivery recorded it first."""
        records = [charge_record(c) for c in charges]
        work = set(work)
        extra = {"attempt": _s(attempt), "work": self._strings(work), "breached": self._strings(breached),
                 "oversize": self._strings(oversize), "overrun_reason": _s(reason),
                 "sweep_caps": self._strings(sweep_caps),
                 "lease_until": _n(self.now() + WORK_LEASE_SECONDS)}
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
            "Item": self._new_task_item(task, OVERRUN, cost_micros, records, extra)}}]
        if work:
            items.append(self._work_item(task.task_arn, work))
        items += [self._counter_add(r, task.region, 1, overrun=True) for r in records]
        return self._transact(items) is None

    def close(self, task: TaskEvent) -> bool:
        """A task first seen ending uncharged: remember it so a late CREATED never charges it."""
        try:
            self.backoff.call(lambda: self.client.put_item(
                TableName=self.table, Item=self._new_task_item(task, CLOSED, None, [], {}),
                ConditionExpression="attribute_not_exists(pk)"))
            return True
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise

    # -- changing a record ----------------------------------------------------------------------
    def transition(self, record: TaskRecord, to_state: str, *, work: Iterable[str],
                   sets: dict[str, Any] | None = None, removes: Iterable[str] = (),
                   counters: Iterable[dict[str, Any]] = ()) -> bool:
        """Move a record from its current state to ``to_state`` (conditional on that state), with
        its new work set, the open-work index entry and any counter updates, atomically.
        False when the record is no longer in ``record.state`` (another delivery moved it)."""
        work = set(work)
        names = {"#state": "state"}
        values: dict[str, Any] = {":from": _s(record.state), ":to": _s(to_state),
                                  ":now": _s(format_timestamp(self.clock()))}
        assignments = ["#state = :to", "changed_at = :now"]
        for index, (name, value) in enumerate((sets or {}).items()):
            names[f"#f{index}"] = name
            values[f":v{index}"] = value
            assignments.append(f"#f{index} = :v{index}")
        remove = list(removes)
        if work:
            values[":work"] = {"SS": sorted(work)}
            assignments.append("#work = :work")
        else:
            remove.append("#work")
        names["#work"] = "work"
        expression = "SET " + ", ".join(assignments)
        remove_names = []
        for index, name in enumerate(remove):
            if name.startswith("#"):
                remove_names.append(name)
            else:
                names[f"#r{index}"] = name
                remove_names.append(f"#r{index}")
        if remove_names:
            expression += " REMOVE " + ", ".join(remove_names)
        items: list[dict[str, Any]] = [{"Update": {
            "TableName": self.table, "Key": _task_key(record.task_arn), "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk) AND #state = :from",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}]
        if work != set(record.work):
            items.append(self._work_item(record.task_arn, work))
        items += list(counters)
        return self._transact(items) is None

    def charge_overrun(self, record: TaskRecord, reason: str, work: Iterable[str]) -> bool:
        """A rejected task ran anyway: charge its planned charges unconditionally, once."""
        counters = [self._counter_add(c, record.region, 1, overrun=True) for c in record.charges]
        return self.transition(record, OVERRUN, work=work, counters=counters,
                               sets={"overrun_reason": _s(reason)})

    def refund(self, record: TaskRecord, status: str) -> bool:
        """Give a charged task's shots and cost back, exactly once (False if already done)."""
        overrun = record.state == OVERRUN
        counters = [self._counter_add(c, record.region, -1, overrun=overrun, refunded=True)
                    for c in record.charges]
        return self.transition(record, REFUNDED, work=record.work - {WORK_THRESHOLDS}, counters=counters,
                               sets={"ended_status": _s(status),
                                     "refunded_at": _s(format_timestamp(self.clock()))})

    def true_up(self, record: TaskRecord, new_cost_micros: int, source: str,
                work: Iterable[str] | None = None) -> bool:
        """Replace a charged simulator task's cost by its corrected cost, exactly once.

        Not limited by the caps: the money is already spent; a cap over its limit then blocks new
        tasks. False when another delivery did it first (or the task is no longer charged).
        """
        delta = new_cost_micros - (record.cost_micros or 0)
        new_charges = [replace(c, cost_micros=new_cost_micros) for c in record.charges]
        items: list[dict[str, Any]] = [{"Update": {
            "TableName": self.table, "Key": _task_key(record.task_arn),
            "UpdateExpression": "SET cost_micros = :new, charged_micros = :old, trued_up_at = :now, "
                                "cost_source = :source" + (", charges = :charges" if new_charges else ""),
            "ConditionExpression": "#state = :state AND attribute_not_exists(trued_up_at)",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {
                ":new": _n(new_cost_micros), ":old": _n(record.cost_micros or 0),
                ":now": _s(format_timestamp(self.clock())), ":source": _s(source), ":state": _s(record.state),
                **({":charges": _charges_value(new_charges)} if new_charges else {})}}}]
        if work is not None and set(work) != set(record.work):  # the new cost may pass a warning
            update = items[0]["Update"]
            update["UpdateExpression"] += ", #work = :work"
            update["ExpressionAttributeNames"]["#work"] = "work"
            update["ExpressionAttributeValues"][":work"] = {"SS": sorted(set(work))}
            items.append(self._work_item(record.task_arn, work))
        for charge in record.charges:
            items.append({"Update": {
                "TableName": self.table, "Key": _key(charge.counter_key),
                "UpdateExpression": "ADD cost_micros :delta"
                                    + (", overrun_cost_micros :delta" if record.state == OVERRUN else ""),
                "ExpressionAttributeValues": {":delta": _n(delta)}}})
        return self._transact(items) is None

    def finish_work(self, record: TaskRecord, done: Iterable[str], sets: dict[str, Any] | None = None) -> bool:
        """Take finished kinds out of a record's work (same state), with the index entry."""
        left = set(record.work) - set(done)
        if left == set(record.work) and not sets:
            return True
        return self.transition(record, record.state, work=left, sets=sets)

    def set_fields(self, task_arn: str, **fields: str) -> None:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": _s(value) for i, value in enumerate(fields.values())}
        assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        self.backoff.call(lambda: self.client.update_item(
            TableName=self.table, Key=_task_key(task_arn),
            UpdateExpression=f"SET {assignments}", ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values))

    # -- leases ---------------------------------------------------------------------------------
    def claim_work(self, task_arn: str) -> bool:
        """Take over a task's unfinished work unless another invocation holds its lease."""
        now = self.now()
        try:
            self.backoff.call(lambda: self.client.update_item(
                TableName=self.table, Key=_task_key(task_arn),
                UpdateExpression="SET lease_until = :until",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(lease_until) "
                                    "OR lease_until < :now)",
                ExpressionAttributeValues={":until": _n(now + WORK_LEASE_SECONDS), ":now": _n(now)}))
            return True
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise

    def release_work(self, task_arn: str) -> None:
        """Let the next delivery retry at once (the work is left unfinished on purpose)."""
        self.backoff.call(lambda: self.client.update_item(
            TableName=self.table, Key=_task_key(task_arn),
            UpdateExpression="SET lease_until = :zero", ExpressionAttributeValues={":zero": _n(0)}))

    def increment(self, key: Key, attribute: str, expires_at: int | None) -> int:
        """Add one to a counter attribute and return its new value (atomic)."""
        values: dict[str, Any] = {":one": _n(1)}
        expression = f"ADD {attribute} :one"
        if expires_at:
            expression += " SET expires_at = if_not_exists(expires_at, :exp)"
            values[":exp"] = _n(expires_at)
        response = self.backoff.call(lambda: self.client.update_item(
            TableName=self.table, Key=_key(key), UpdateExpression=expression,
            ExpressionAttributeValues=values, ReturnValues="UPDATED_NEW"))
        return int(response["Attributes"][attribute]["N"])

    # -- alert markers: claim with a lease, send, mark sent --------------------------------------
    @staticmethod
    def marker_key(key: Key, marker: str) -> Key:
        return key[0], f"ALERT#{key[1]}#{marker}"

    def get_marker(self, key: Key, marker: str) -> Marker | None:
        return self.get_marker_key(self.marker_key(key, marker))

    def get_marker_key(self, marker_key: Key) -> Marker | None:
        pk, sk = marker_key
        item = self.backoff.call(lambda: self.client.get_item(
            TableName=self.table, Key=_key((pk, sk)), ConsistentRead=True)).get("Item")
        return _marker((pk, sk), item) if item else None

    def claim_alert(self, key: Key, marker: str, expires_at: int | None, detail: str = "") -> Marker | None:
        """Claim one alert for sending: returns the marker when this caller should send it (new,
        or claimed by a sender that died: its lease ran out), None when it is sent, failed for
        good, or another sender holds it."""
        return self.claim_marker(self.marker_key(key, marker), expires_at, detail)

    def claim_marker(self, marker_key: Key, expires_at: int | None, detail: str = "") -> Marker | None:
        return self.claim_or_read(marker_key, expires_at, detail)[0]

    def claim_or_read(self, marker_key: Key, expires_at: int | None,
                      detail: str = "") -> tuple[Marker | None, Marker | None]:
        """(the claim, None) when this caller should send the alert; else (None, the marker as
        the refused claim found it): one call either way, the refusal returns the item."""
        pk, sk = marker_key
        now = self.now()
        token = uuid.uuid4().hex  # tells our own claim from another's when a response is lost
        values: dict[str, Any] = {":claimed": _s("claimed"), ":now": _n(now), ":one": _n(1),
                                  ":until": _n(now + ALERT_LEASE_SECONDS), ":token": _s(token),
                                  ":at": _s(format_timestamp(self.clock()))}
        sets = ["alert_state = :claimed", "lease_until = :until", "claim_token = :token",
                "claimed_at = if_not_exists(claimed_at, :at)"]
        if detail:
            values[":detail"] = _s(detail[:4000])
            sets.append("detail = if_not_exists(detail, :detail)")
        if expires_at:
            values[":exp"] = _n(expires_at)
            sets.append("expires_at = if_not_exists(expires_at, :exp)")
        try:
            response = self.backoff.call(lambda: self.client.update_item(
                TableName=self.table, Key=_key((pk, sk)),
                UpdateExpression=f"SET {', '.join(sets)} ADD attempts :one",
                ConditionExpression="attribute_not_exists(pk) OR (alert_state = :claimed AND lease_until < :now)",
                ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD"))
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            item = exc.response.get("Item")
            if item is None:  # an endpoint that does not return it: read it
                item = self.backoff.call(lambda: self.client.get_item(
                    TableName=self.table, Key=_key((pk, sk)), ConsistentRead=True)).get("Item") or {}
            if item.get("claim_token", {}).get("S") != token or item.get("alert_state", {}).get("S") != "claimed":
                return None, (_marker((pk, sk), item) if item else None)
            response = {"Attributes": item}  # our own claim: its response was lost, the retry met it
        item = response["Attributes"]
        return Marker((pk, sk), "claimed", frozenset(item.get("channels_sent", {}).get("SS", [])),
                      _num(item, "attempts") or 1), None

    def settle_alert(self, marker: Marker, channels_sent: Iterable[str], done: bool, failed: bool = False) -> bool:
        """After a send: record the channels that took it; ``done`` marks it sent (never again),
        else the claim is kept for a while, then the next delivery or reconciliation retries the rest."""
        sent = sorted(set(marker.channels_sent) | set(channels_sent))
        # A channel that failed is tried again once the claim's lease runs out: later each time,
        # so a Slack outage is not hammered by every event of every task.
        retry_at = 0 if done or failed else self.now() + ALERT_RETRY_SECONDS * max(1, marker.attempts)
        values: dict[str, Any] = {":state": _s("failed" if failed else ("sent" if done else "claimed")),
                                  ":zero": _n(retry_at), ":at": _s(format_timestamp(self.clock()))}
        expression = "SET alert_state = :state, lease_until = :zero, settled_at = :at"
        if sent:
            values[":sent"] = {"SS": sent}
            expression += ", channels_sent = :sent"
        # The alert has gone out: losing this write would send it again, so it is retried for
        # longer than any other (about three minutes, through an outage of DynamoDB), then given
        # up (logged): the one window in which an alert can be sent twice.
        patient = Backoff(attempts=16, base=0.5, cap=15.0, sleep=self.backoff.sleep, rand=lambda: 1.0)
        try:
            patient.call(lambda: self.client.update_item(
                TableName=self.table, Key=_key(marker.key), UpdateExpression=expression,
                ExpressionAttributeValues=values))
            return True
        except ClientError as exc:
            from .logs import log_event
            log_event("error", "alert_settle_failed", marker=marker.key[1], error=str(exc)[:300],
                      consequence="the alert may be sent again when its claim expires")
            return False

    def alert_markers(self, pk: str, prefix: str = "ALERT#") -> list[dict[str, Any]]:
        return self._query(pk, prefix)

    # -- the outbox: alerts a channel did not take yet (in the open-work partition) -------------
    @staticmethod
    def _outbox_key(marker_key: Key) -> dict[str, Any]:
        return {"pk": _s(WORK_PK), "sk": _s(f"ALERT#{marker_key[0]}#{marker_key[1]}")}

    def put_outbox(self, marker_key: Key, alert: dict[str, Any]) -> None:
        """Keep an alert that a channel did not take, so that reconciliation sends it whatever
        becomes of the task or day that raised it."""
        self.backoff.call(lambda: self.client.put_item(TableName=self.table, Item={
            **self._outbox_key(marker_key), "marker_pk": _s(marker_key[0]), "marker_sk": _s(marker_key[1]),
            "alert": _s(json.dumps(alert)), "expires_at": _n(self.now() + MARKER_RETENTION_SECONDS)}))

    def delete_outbox(self, marker_key: Key) -> None:
        self.backoff.call(lambda: self.client.delete_item(TableName=self.table, Key=self._outbox_key(marker_key)))

    def outbox(self) -> list[tuple[Key, dict[str, Any]]]:
        return [((item["marker_pk"]["S"], item["marker_sk"]["S"]), json.loads(item["alert"]["S"]))
                for item in self._query(WORK_PK, "ALERT#")]
