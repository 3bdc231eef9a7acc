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

from dataclasses import replace
from typing import Any, Iterable

from botocore.exceptions import ClientError

from braket_guard.aws.retry import error_code
from braket_guard.core.caps import ALERT_ONLY, Charge
from braket_guard.core.events import TaskEvent
from braket_guard.core.states import ADMITTED, CLOSED, OVERRUN, REFUNDED, REJECTED
from braket_guard.core.windows import format_timestamp
from braket_guard.ledger.counters import Counter, _parse_counter, counter_update
from braket_guard.ledger.markers import AlertMarkers
from braket_guard.ledger.table import TASK_RETENTION_SECONDS, TASK_SK, Key, Table, _key, _n, _s, _task_key, task_pk
from braket_guard.tasks.records import (
    AdmitOutcome,
    ChargeRecord,
    TaskRecord,
    _charges_value,
    _parse_task,
    charge_record,
)
from braket_guard.tasks.work import WORK_LEASE_SECONDS, WORK_THRESHOLDS, OpenWork


class Ledger(Table, AlertMarkers, OpenWork):
    """Small adapter over a low-level DynamoDB client (numbers stay strings: no float)."""



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


    def get_tasks(self, task_arns: Iterable[str]) -> dict[str, TaskRecord]:
        """Task records by ARN (absent ARNs are not in the result), 100 per BatchGetItem."""
        keys = [(task_pk(arn), TASK_SK) for arn in dict.fromkeys(task_arns)]
        return {record.task_arn: record for record in map(_parse_task, self._batch_get(keys))}


    def window_counters(self, cap_name: str, window_key: str) -> list[Counter]:
        """Every group's counter of one cap window (one Query on the window's partition)."""
        return [_parse_counter(item) for item in self._query(f"CAP#{cap_name}#{window_key}", "GROUP#")]




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


    def _counter_add(self, charge: ChargeRecord, region: str, sign: int, *, rejected: bool = False,
                     overrun: bool = False, limit: tuple[int | None, int | None] | None = None,
                     refunded: bool = False, below: tuple[int | None, int | None] | None = None) -> dict[str, Any]:
        """One counter update: charge (sign 1), refund (-1) or record a rejection; conditioned on
        the limits when ``limit`` = (max_shots, max_cost_micros) is given, and on the counter
        staying below ``below`` = (shots, cost_micros) after the charge (None: no such bound)."""
        values: dict[str, Any] = {}
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
        conditions = []
        if limit is not None:
            max_shots, max_cost = limit
            # a charge that adds nothing to a dimension cannot overshoot it (a reserved task adds
            # no cost): it must not be refused because that dimension is already over
            if max_shots is not None and charge.shots:
                conditions.append("(attribute_not_exists(shots) OR shots <= :smax)")
                values[":smax"] = _n(max_shots - charge.shots)
            if max_cost is not None and charge.cost_micros:
                conditions.append("(attribute_not_exists(cost_micros) OR cost_micros <= :cmax)")
                values[":cmax"] = _n(max_cost - charge.cost_micros)
        if below is not None:
            for name, bound, amount in (("shots", below[0], charge.shots), ("cost_micros", below[1], charge.cost_micros)):
                if bound is not None:  # after the charge still below the bound: before it, below bound - amount
                    conditions.append(f"(attribute_not_exists({name}) OR {name} < :below_{name})")
                    values[f":below_{name}"] = _n(bound - sign * amount)
        return counter_update(self.table, charge.counter_key, add, values, charge.expires_at, conditions)

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















