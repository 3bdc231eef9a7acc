"""The ledger's side of hybrid jobs: one record per job and its charges to the cap counters.

- ``JOB#<arn>`` / ``JOB``: the job's record; ``state`` is a state of ``jobs.JOB_STATES``,
  ``cost_micros`` the instance cost charged so far, ``charges`` what went to each counter.
- ``JOBS`` / ``<createdAt>#<arn>``: an index of jobs by creation time (listings, the digest).
- ``WORK`` / ``JOB#<arn>``: present while the job can still cost more (not settled), so
  reconciliation accrues every running job whatever its window.

Every change is one transaction conditioned on the record's ``version``: the record, the open-work
entry and the counter additions move together, so a charge is made once even when an event and
a reconciliation accrue the same job at the same moment. Job charges are never conditioned on a
limit: instance time already used is money spent, and it always counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from braket_guard.core.windows import format_timestamp
from braket_guard.ledger.counters import counter_update
from braket_guard.ledger.table import TASK_RETENTION_SECONDS, WORK_PK, Key, _key, _n, _s
from braket_guard.tasks.ledger import Ledger

JOB_SK = "JOB"
JOBS_PK = "JOBS"  # index: sk = <createdAt>#<job ARN>, one item per job, for listings by date


def job_pk(job_arn: str) -> str:
    return f"JOB#{job_arn}"


@dataclass(frozen=True)
class JobCharge:
    """What one counter got from a job, in total."""

    counter_key: Key
    cap: str
    cost_micros: int
    expires_at: int | None = None
    burn: int = 0  # change to the counter's job_burn (micro-dollars an hour of running jobs)


@dataclass(frozen=True)
class JobRecord:
    job_arn: str
    state: str
    status: str
    device: str
    region: str
    account: str
    instance_type: str
    instance_count: int
    cost_micros: int | None  # None: the instance type has no price
    charged_ms: int
    version: int
    created_at: str = ""
    charges: tuple[JobCharge, ...] = ()
    breached: tuple[str, ...] = ()
    stop_status: str = ""
    stop_error: str = ""
    billed_source: str = ""
    reservation_arn: str = ""
    burn: int = 0  # this job's micro-dollars an hour, added to the counters in burn_keys
    burn_keys: tuple[Key, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def _parse(item: dict[str, Any]) -> JobRecord:
    def text(name: str) -> str:
        return item.get(name, {}).get("S", "")

    charges = tuple(JobCharge((c["M"]["c"]["S"], c["M"]["g"]["S"]), c["M"]["cap"]["S"], int(c["M"]["m"]["N"]),
                              int(c["M"]["e"]["N"]) if "e" in c["M"] else None)
                    for c in item.get("charges", {}).get("L", []))
    return JobRecord(job_arn=item["pk"]["S"][len("JOB#"):], state=text("state"), status=text("status"),
                     device=text("device"), region=text("region"), account=text("account"),
                     instance_type=text("instance_type"), instance_count=int(item.get("instance_count", {}).get("N", "1")),
                     cost_micros=int(item["cost_micros"]["N"]) if "cost_micros" in item else None,
                     charged_ms=int(item.get("charged_ms", {}).get("N", "0")),
                     version=int(item.get("version", {}).get("N", "0")), created_at=text("created_at"),
                     charges=charges, breached=tuple(sorted(item.get("breached", {}).get("SS", []))),
                     stop_status=text("stop_status"), stop_error=text("stop_error"),
                     billed_source=text("billed_source"), reservation_arn=text("reservation"),
                     burn=int(item.get("burn", {}).get("N", "0")),
                     burn_keys=tuple((k["M"]["c"]["S"], k["M"]["g"]["S"]) for k in item.get("burn_keys", {}).get("L", [])),
                     raw=item)


class JobLedger:
    """Job records on the guard's table, through the task ledger's client and retries."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    @property
    def table(self) -> str:
        return self.ledger.table

    def get(self, job_arn: str) -> JobRecord | None:
        response = self.ledger.backoff.call(lambda: self.ledger.client.get_item(
            TableName=self.table, Key=_key((job_pk(job_arn), JOB_SK)), ConsistentRead=True))
        item = response.get("Item")
        return _parse(item) if item else None

    def get_many(self, job_arns: Iterable[str]) -> dict[str, JobRecord]:
        keys = [(job_pk(arn), JOB_SK) for arn in dict.fromkeys(job_arns)]
        return {r.job_arn: r for r in map(_parse, self.ledger._batch_get(keys))}

    def open_jobs(self) -> list[str]:
        """ARNs of every job that can still cost more, whatever its window."""
        return [item["sk"]["S"][len("JOB#"):] for item in self.ledger._query(WORK_PK, "JOB#")]

    def jobs_since(self, since: str) -> list[JobRecord]:
        """Every job created at or after ``since`` (ISO 8601), from the ``JOBS`` index partition."""
        response_items: list[dict[str, Any]] = []
        start = None
        while True:
            kwargs: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": "pk = :pk AND sk >= :since",
                                      "ExpressionAttributeValues": {":pk": _s(JOBS_PK), ":since": _s(since)}}
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self.ledger.backoff.call(lambda: self.ledger.client.query(**kwargs))
            response_items += response.get("Items", [])
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        arns = [item["sk"]["S"].split("#", 1)[1] for item in response_items]
        found = self.get_many(arns)
        return [found[arn] for arn in arns if arn in found]

    def write(self, previous: JobRecord | None, record: JobRecord, deltas: Iterable[JobCharge],
              *, sets: dict[str, Any] | None = None) -> bool:
        """Replace the record (conditioned on the previous version) and add ``deltas`` to their
        counters, atomically. False when another invocation changed the record first."""
        now = self.ledger.clock()
        item: dict[str, Any] = {
            **_key((job_pk(record.job_arn), JOB_SK)), "state": _s(record.state), "status": _s(record.status),
            "device": _s(record.device), "region": _s(record.region), "account": _s(record.account),
            "instance_type": _s(record.instance_type), "instance_count": _n(record.instance_count),
            "charged_ms": _n(record.charged_ms), "version": _n(record.version + 1),
            "created_at": _s(record.created_at), "updated_at": _s(format_timestamp(now)),
            "expires_at": _n(self.ledger.now() + TASK_RETENTION_SECONDS),
            "charges": {"L": [{"M": {"c": _s(c.counter_key[0]), "g": _s(c.counter_key[1]), "cap": _s(c.cap),
                                     "m": _n(c.cost_micros), **({"e": _n(c.expires_at)} if c.expires_at else {})}}
                              for c in record.charges]},
        }
        if record.cost_micros is not None:
            item["cost_micros"] = _n(record.cost_micros)
        if record.burn_keys:
            item["burn"] = _n(record.burn)
            item["burn_keys"] = {"L": [{"M": {"c": _s(k[0]), "g": _s(k[1])}} for k in record.burn_keys]}
        for name, value in (("stop_status", record.stop_status), ("stop_error", record.stop_error[:1000]),
                            ("billed_source", record.billed_source), ("reservation", record.reservation_arn)):
            if value:
                item[name] = _s(value)
        if record.breached:
            item["breached"] = {"SS": sorted(set(record.breached))}
        item.update(sets or {})
        condition = ("attribute_not_exists(pk)" if previous is None else "version = :v")
        put: dict[str, Any] = {"TableName": self.table, "Item": item, "ConditionExpression": condition}
        if previous is not None:
            put["ExpressionAttributeValues"] = {":v": _n(previous.version)}
        items: list[dict[str, Any]] = [{"Put": put}]
        if previous is None:
            items.append({"Put": {"TableName": self.table, "Item": {
                **_key((JOBS_PK, f"{record.created_at}#{record.job_arn}")),
                "expires_at": _n(self.ledger.now() + TASK_RETENTION_SECONDS)}}})
        work_key = _key((WORK_PK, f"JOB#{record.job_arn}"))
        if record.state == "settled":
            if previous is not None:
                items.append({"Delete": {"TableName": self.table, "Key": work_key}})
        else:
            items.append({"Put": {"TableName": self.table, "Item": {
                **work_key, "work": {"SS": ["accrue"]}, "since": _s(format_timestamp(now)),
                "expires_at": _n(self.ledger.now() + TASK_RETENTION_SECONDS)}}})
        combined: dict[Key, JobCharge] = {}  # one operation per counter in a transaction
        for delta in deltas:
            old = combined.get(delta.counter_key)
            combined[delta.counter_key] = delta if old is None else JobCharge(
                delta.counter_key, old.cap or delta.cap, old.cost_micros + delta.cost_micros,
                old.expires_at or delta.expires_at, old.burn + delta.burn)
        for delta in combined.values():
            if delta.cost_micros or delta.burn:
                items.append(self._counter_add(delta, record.region))
        return self.ledger._transact(items) is None

    def _counter_add(self, delta: JobCharge, region: str) -> dict[str, Any]:
        values = {":c": _n(delta.cost_micros), ":r": {"SS": [region]}, ":b": _n(delta.burn)}
        return counter_update(self.table, delta.counter_key, "ADD cost_micros :c, job_cost_micros :c, job_burn :b, regions :r",
                              values, delta.expires_at)
