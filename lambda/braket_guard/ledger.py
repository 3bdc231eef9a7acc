"""The DynamoDB ledger: task records, cap counters and alert markers in one table (pk, sk).

Every decision is a conditional write, so concurrent and repeated events converge:
- ``TASK#<arn>`` / ``TASK``: a task's single record (admitted, rejected, refunded or closed).
- ``CAP#<cap>#<window>#<group>`` / ``COUNTER``: shots and micro-dollars admitted to one cap group.
- same pk / ``ALERT#...``: a marker claimed by the one invocation that sends that alert.
Admission puts the task record and adds to every counter in ONE transaction whose conditions
say the record is new and every counter stays within its limit: all or nothing, no overshoot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from botocore.exceptions import ClientError

from .caps import Charge
from .events import TaskEvent
from .retry import Backoff, error_code, is_transient
from .windows import format_timestamp

ADMITTED, REJECTED, REFUNDED, CLOSED = "admitted", "rejected", "refunded", "closed"
TASK_SK = "TASK"
Key = tuple[str, str]  # (pk, sk)
TASK_RETENTION_SECONDS = 100 * 86400  # long after any redelivery or refund can arrive
# While one invocation cancels a rejected task, duplicates of its events leave the work to it.
# Longer than a cancel with all its retries; shorter than Lambda's first async retry (1 min).
WORK_LEASE_SECONDS = 30


def task_pk(task_arn: str) -> str:
    return f"TASK#{task_arn}"


def _n(value: int) -> dict[str, str]:
    return {"N": str(int(value))}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(key: Key) -> dict[str, Any]:
    return {"pk": _s(key[0]), "sk": _s(key[1])}


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
    status: str
    device_arn: str
    region: str
    shots: int
    cost_micros: int | None
    created_at: str
    charges: tuple[ChargeRecord, ...] = ()
    breached: tuple[str, ...] = ()
    cancel: str = ""  # pending | done | failed | not_needed
    sweep: str = ""  # pending | done (cancel_queued backlog)
    lease_until: int = 0  # epoch seconds; see WORK_LEASE_SECONDS
    trued_up: bool = False  # simulator charge corrected after completion
    attempt: str = ""  # the invocation attempt that wrote the record
    warn: str = ""  # pending | done: warning alerts of an admission
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


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

    @property
    def group(self) -> str:
        return self.key[1][len("GROUP#"):]


def _parse_counter(item: dict[str, Any]) -> Counter:
    def num(name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    return Counter((item["pk"]["S"], item["sk"]["S"]), num("shots"), num("cost_micros"), num("tasks"),
                   tuple(sorted(item.get("regions", {}).get("SS", []))), num("rejected_tasks"),
                   num("rejected_shots"), num("rejected_cost_micros"))


@dataclass(frozen=True)
class AdmitOutcome:
    outcome: str  # admitted | breached | duplicate
    breached: tuple[Charge, ...] = ()


class TransientLedgerError(RuntimeError):
    """DynamoDB kept refusing (throttling or conflicts); let Lambda redeliver."""


def _charge_record(charge: Charge) -> ChargeRecord:
    return ChargeRecord(charge.counter_key, charge.cap.name, charge.shots, charge.cost_micros or 0,
                        charge.window.expires_at())


def _parse_task(item: dict[str, Any]) -> TaskRecord:
    def num(name: str, default: int | None = 0) -> int | None:
        return int(item[name]["N"]) if name in item else default

    charges = tuple(
        ChargeRecord((c["M"]["c"]["S"], c["M"]["g"]["S"]), c["M"]["cap"]["S"], int(c["M"]["s"]["N"]), int(c["M"]["m"]["N"]),
                     int(c["M"]["e"]["N"]) if "e" in c["M"] else None)
        for c in item.get("charges", {}).get("L", []))
    return TaskRecord(
        task_arn=item["pk"]["S"][len("TASK#"):], state=item["state"]["S"],
        status=item.get("status", {}).get("S", ""), device_arn=item.get("device", {}).get("S", ""),
        region=item.get("region", {}).get("S", ""), shots=num("shots") or 0,
        cost_micros=num("cost_micros", None), created_at=item.get("created_at", {}).get("S", ""),
        charges=charges, breached=tuple(item.get("breached", {}).get("SS", [])),
        cancel=item.get("cancel", {}).get("S", ""), sweep=item.get("sweep", {}).get("S", ""),
        lease_until=num("lease_until") or 0, trued_up="trued_up_at" in item,
        attempt=item.get("attempt", {}).get("S", ""), warn=item.get("warn", {}).get("S", ""), raw=item)


class Ledger:
    """Small adapter over a low-level DynamoDB client (numbers stay strings: no float)."""

    def __init__(self, client: Any, table: str, backoff: Backoff | None = None,
                 clock=lambda: datetime.now(timezone.utc)):
        self.client, self.table = client, table
        self.backoff = backoff or Backoff(attempts=6, base=0.05, cap=1.0)
        self.clock = clock

    # -- reads ---------------------------------------------------------------------------------
    def get_task(self, task_arn: str) -> TaskRecord | None:
        response = self.backoff.call(lambda: self.client.get_item(
            TableName=self.table, Key={"pk": _s(task_pk(task_arn)), "sk": _s(TASK_SK)},
            ConsistentRead=True))
        item = response.get("Item")
        return _parse_task(item) if item else None

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

    def window_counters(self, cap_name: str, window_key: str) -> list[Counter]:
        """Every group's counter of one cap window (one Query on the window's partition)."""
        counters: list[Counter] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": "pk = :pk AND begins_with(sk, :group)",
            "ExpressionAttributeValues": {":pk": _s(f"CAP#{cap_name}#{window_key}"), ":group": _s("GROUP#")},
            "ConsistentRead": True}
        while True:
            response = self.backoff.call(lambda: self.client.query(**kwargs))
            counters.extend(_parse_counter(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return counters
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- writes --------------------------------------------------------------------------------
    def _task_item(self, task: TaskEvent, state: str, cost_micros: int | None,
                   charges: Iterable[Charge], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        now = self.clock()
        item: dict[str, Any] = {
            "pk": _s(task_pk(task.task_arn)), "sk": _s(TASK_SK), "state": _s(state),
            "status": _s(task.status), "device": _s(task.device_arn), "region": _s(task.region),
            "account": _s(task.account), "shots": _n(task.shots),
            "created_at": _s(format_timestamp(task.created_at)),
            "decided_at": _s(format_timestamp(now)),
            "expires_at": _n(int(max(now, task.created_at).timestamp()) + TASK_RETENTION_SECONDS),
        }
        if cost_micros is not None:
            item["cost_micros"] = _n(cost_micros)
        records = [_charge_record(c) for c in charges]
        if records:
            item["charges"] = {"L": [{"M": {
                "c": _s(r.counter_key[0]), "g": _s(r.counter_key[1]), "cap": _s(r.cap), "s": _n(r.shots), "m": _n(r.cost_micros),
                **({"e": _n(r.expires_at)} if r.expires_at else {})}} for r in records]}
        item.update(extra or {})
        return item

    def _counter_update(self, charge: Charge, task: TaskEvent) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":s": _n(charge.shots), ":c": _n(charge.cost_micros or 0),
            ":one": _n(1), ":r": {"SS": [task.region]}, ":cap": _s(charge.cap.name), ":grp": _s(charge.group),
            ":win": _s(charge.window.key),
        }
        add = "ADD shots :s, cost_micros :c, tasks :one, regions :r"
        sets = ["cap_name = :cap", "grp = :grp", "win = :win"]
        expires = charge.window.expires_at()
        if expires:
            sets.append("expires_at = if_not_exists(expires_at, :exp)")
            values[":exp"] = _n(expires)
        update: dict[str, Any] = {
            "TableName": self.table, "Key": _key(charge.counter_key),
            "UpdateExpression": f"{add} SET {', '.join(sets)}", "ExpressionAttributeValues": values,
        }
        conditions = []
        if charge.cap.max_shots is not None:
            conditions.append("(attribute_not_exists(shots) OR shots <= :smax)")
            values[":smax"] = _n(charge.cap.max_shots - charge.shots)
        if charge.cap.max_cost_micros is not None:
            conditions.append("(attribute_not_exists(cost_micros) OR cost_micros <= :cmax)")
            values[":cmax"] = _n(charge.cap.max_cost_micros - (charge.cost_micros or 0))
        if conditions:
            update["ConditionExpression"] = " AND ".join(conditions)
        return update

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

    def admit(self, task: TaskEvent, charges: list[Charge], cost_micros: int | None,
              attempt: str = "", warn_pending: bool = False) -> AdmitOutcome:
        """Record the task as admitted and charge every counter, atomically within the limits."""
        extra = {"attempt": _s(attempt)} if attempt else {}
        if warn_pending:
            extra["warn"] = _s("pending")
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self.table, "Item": self._task_item(task, ADMITTED, cost_micros, charges, extra),
            "ConditionExpression": "attribute_not_exists(pk)"}}]
        items += [{"Update": self._counter_update(c, task)} for c in charges]
        codes = self._transact(items)
        if codes is None:
            return AdmitOutcome("admitted")
        if codes and codes[0] == "ConditionalCheckFailed":
            return AdmitOutcome("duplicate")
        breached = tuple(c for c, code in zip(charges, codes[1:]) if code == "ConditionalCheckFailed")
        return AdmitOutcome("breached", breached)

    def record_rejection(self, task: TaskEvent, charges: list[Charge], breached: list[str],
                         cost_micros: int | None, cancel: str, sweep: str, attempt: str = "") -> bool:
        """Record a rejected task (never charged) and add it to the counters' rejected totals.

        False when another delivery recorded the task first.
        """
        extra = {"breached": {"SS": sorted(set(breached))}, "cancel": _s(cancel),
                 "lease_until": _n(int(self.clock().timestamp()) + WORK_LEASE_SECONDS)}
        if attempt:
            extra["attempt"] = _s(attempt)
        if sweep:
            extra["sweep"] = _s(sweep)
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self.table,
            "Item": self._task_item(task, REJECTED, cost_micros, [], extra),
            "ConditionExpression": "attribute_not_exists(pk)"}}]
        for charge in charges:
            values = {":s": _n(charge.shots), ":c": _n(charge.cost_micros or 0), ":one": _n(1),
                      ":cap": _s(charge.cap.name), ":grp": _s(charge.group), ":win": _s(charge.window.key)}
            sets = "cap_name = :cap, grp = :grp, win = :win"
            if charge.window.expires_at():
                sets += ", expires_at = if_not_exists(expires_at, :exp)"
                values[":exp"] = _n(charge.window.expires_at())
            items.append({"Update": {
                "TableName": self.table, "Key": _key(charge.counter_key),
                "UpdateExpression": "ADD rejected_shots :s, rejected_cost_micros :c, rejected_tasks :one "
                                    f"SET {sets}",
                "ExpressionAttributeValues": values}})
        return self._transact(items) is None

    def record_closed(self, task: TaskEvent) -> bool:
        """A task first seen ending uncharged: remember it so a late CREATED never charges it."""
        try:
            self.backoff.call(lambda: self.client.put_item(
                TableName=self.table, Item=self._task_item(task, CLOSED, None, []),
                ConditionExpression="attribute_not_exists(pk)"))
            return True
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise

    def refund(self, record: TaskRecord, status: str) -> bool:
        """Give an admitted task's shots and cost back, exactly once (False if already done)."""
        items: list[dict[str, Any]] = [{"Update": {
            "TableName": self.table, "Key": {"pk": _s(task_pk(record.task_arn)), "sk": _s(TASK_SK)},
            "UpdateExpression": "SET #state = :refunded, ended_status = :status, refunded_at = :now",
            "ConditionExpression": "#state = :admitted",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {":refunded": _s(REFUNDED), ":admitted": _s(ADMITTED),
                                          ":status": _s(status),
                                          ":now": _s(format_timestamp(self.clock()))}}}]
        for charge in record.charges:
            values = {":s": _n(-charge.shots), ":c": _n(-charge.cost_micros), ":one": _n(-1),
                      ":rone": _n(1)}
            expression = "ADD shots :s, cost_micros :c, tasks :one, refunded_tasks :rone"
            if charge.expires_at:
                expression += " SET expires_at = if_not_exists(expires_at, :exp)"
                values[":exp"] = _n(charge.expires_at)
            items.append({"Update": {
                "TableName": self.table, "Key": _key(charge.counter_key),
                "UpdateExpression": expression, "ExpressionAttributeValues": values}})
        return self._transact(items) is None

    def true_up(self, record: TaskRecord, new_cost_micros: int, source: str) -> bool:
        """Replace an admitted simulator task's charge by its corrected cost, exactly once.

        Not limited by the caps: the money is already spent; a cap over its limit then blocks new
        tasks. False when another delivery did it first (or the task is no longer admitted).
        """
        delta = new_cost_micros - (record.cost_micros or 0)
        items: list[dict[str, Any]] = [{"Update": {
            "TableName": self.table, "Key": {"pk": _s(task_pk(record.task_arn)), "sk": _s(TASK_SK)},
            "UpdateExpression": "SET cost_micros = :new, charged_micros = :old, trued_up_at = :now, "
                                "cost_source = :source",
            "ConditionExpression": "#state = :admitted AND attribute_not_exists(trued_up_at)",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {":new": _n(new_cost_micros), ":old": _n(record.cost_micros or 0),
                                          ":now": _s(format_timestamp(self.clock())), ":source": _s(source),
                                          ":admitted": _s(ADMITTED)}}}]
        charges = []
        for charge in record.charges:
            charges.append({"c": _s(charge.counter_key[0]), "g": _s(charge.counter_key[1]),
                            "cap": _s(charge.cap), "s": _n(charge.shots), "m": _n(new_cost_micros),
                            **({"e": _n(charge.expires_at)} if charge.expires_at else {})})
            items.append({"Update": {
                "TableName": self.table, "Key": _key(charge.counter_key),
                "UpdateExpression": "ADD cost_micros :delta",
                "ExpressionAttributeValues": {":delta": _n(delta)}}})
        if charges:
            items[0]["Update"]["UpdateExpression"] += ", charges = :charges"
            items[0]["Update"]["ExpressionAttributeValues"][":charges"] = {"L": [{"M": c} for c in charges]}
        return self._transact(items) is None

    def set_task_fields(self, task_arn: str, **fields: str) -> None:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": _s(value) for i, value in enumerate(fields.values())}
        assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        self.backoff.call(lambda: self.client.update_item(
            TableName=self.table, Key={"pk": _s(task_pk(task_arn)), "sk": _s(TASK_SK)},
            UpdateExpression=f"SET {assignments}", ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values))

    def claim_work(self, task_arn: str) -> bool:
        """Take over a rejected task's unfinished cancel/sweep unless another invocation holds it."""
        now = int(self.clock().timestamp())
        try:
            self.backoff.call(lambda: self.client.update_item(
                TableName=self.table, Key={"pk": _s(task_pk(task_arn)), "sk": _s(TASK_SK)},
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
            TableName=self.table, Key={"pk": _s(task_pk(task_arn)), "sk": _s(TASK_SK)},
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

    def claim_alert(self, key: Key, marker: str, expires_at: int | None, detail: str = "") -> bool:
        """True for exactly one caller per (item, marker): that caller sends the alert."""
        item = {"pk": _s(key[0]), "sk": _s(f"ALERT#{key[1]}#{marker}"),
                "claimed_at": _s(format_timestamp(self.clock()))}
        if detail:
            item["detail"] = _s(detail[:1000])
        if expires_at:
            item["expires_at"] = _n(expires_at)
        try:
            self.backoff.call(lambda: self.client.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"))
            return True
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
