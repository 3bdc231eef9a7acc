"""The open-work index of tasks: a task whose cancel, sweep or alerts are unfinished is listed, leased by the invocation working on it, and finished by the next delivery or by reconciliation."""

from __future__ import annotations

from typing import Any, Iterable

from botocore.exceptions import ClientError

from braket_guard.aws.retry import error_code
from braket_guard.core.windows import format_timestamp
from braket_guard.ledger.table import TASK_RETENTION_SECONDS, WORK_PK, _n, _s, _task_key, task_pk

# While one invocation works on a task (cancel, sweep, alerts), duplicates of its events leave the
# work to it. Longer than a cancel with all its retries; shorter than Lambda's first async retry.
WORK_LEASE_SECONDS = 30


# Work kinds a task record can hold (its ``work`` set).
WORK_CANCEL, WORK_AWAIT_END, WORK_SWEEP, WORK_ALERTS, WORK_THRESHOLDS = (
    "cancel", "await_end", "sweep", "alerts", "thresholds")


def _work_key(task_arn: str) -> dict[str, Any]:
    return {"pk": _s(WORK_PK), "sk": _s(task_pk(task_arn))}


class OpenWork:
    """List, lease and release a task's unfinished work."""

    def open_work(self) -> list[tuple[str, frozenset[str]]]:
        """(task ARN, work kinds) of every task with unfinished work, whatever its window."""
        return [(item["sk"]["S"][len("TASK#"):], frozenset(item.get("work", {}).get("SS", [])))
                for item in self._query(WORK_PK, "TASK#")]

    def _work_item(self, task_arn: str, work: Iterable[str]) -> dict[str, Any]:
        """The open-work index entry: put while work is left, deleted when none is."""
        kinds = sorted(set(work))
        if not kinds:
            return {"Delete": {"TableName": self.table, "Key": _work_key(task_arn)}}
        return {"Put": {"TableName": self.table, "Item": {
            **_work_key(task_arn), "work": {"SS": kinds}, "since": _s(format_timestamp(self.clock())),
            "expires_at": _n(self.now() + TASK_RETENTION_SECONDS)}}}

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
