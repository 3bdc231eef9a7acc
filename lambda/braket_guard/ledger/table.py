"""The guard's one DynamoDB table, as every part of the guard sees it: the key codec (numbers stay strings: never a float), reads with pagination, transactions whose refused conditions are answers and whose conflicts are retried."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Iterable

from botocore.exceptions import ClientError

from braket_guard.aws.retry import Backoff, error_code, is_transient

TASK_SK = "TASK"
WORK_PK = "WORK"  # the open-work partition: tasks and jobs with unfinished work, the alert outbox


Key = tuple[str, str]  # (pk, sk)


TASK_RETENTION_SECONDS = 100 * 86400  # long after any redelivery or refund can arrive


MARKER_RETENTION_SECONDS = 40 * 86400  # markers of per-task and per-day alerts


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


def _num(item: dict[str, Any], name: str, default: int | None = 0) -> int | None:
    return int(item[name]["N"]) if name in item else default


class TransientLedgerError(RuntimeError):
    """DynamoDB kept refusing (throttling or conflicts); let Lambda redeliver."""


class Table:
    """The table's client, clock and backoff, and the calls every ledger part is made of."""

    def __init__(self, client: Any, table: str, backoff: Backoff | None = None,
                 clock=lambda: datetime.now(timezone.utc)):
        self.client, self.table = client, table
        self.backoff = backoff or Backoff(attempts=6, base=0.05, cap=1.0)
        self.clock = clock

    def now(self) -> int:
        return int(self.clock().timestamp())

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

    @staticmethod
    def _strings(values: Iterable[str]) -> dict[str, Any] | None:
        values = sorted(set(values))
        return {"SS": values} if values else None
