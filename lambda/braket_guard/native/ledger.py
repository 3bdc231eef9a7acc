"""The native-limit guard's part of the table: the freezes it set (and until when), the marker that says this guard owns limits in the account, and the devices Braket refused for good (not retried on the hot path for a day)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from braket_guard.aws import metrics
from braket_guard.core.windows import format_timestamp, parse_timestamp
from braket_guard.native import rules as N

NATIVE_PK = "NATIVE"


OWNS_SK = "OWNS"


BROKEN_PREFIX = "BROKEN#"


FREEZE_RETENTION = timedelta(days=40)


BROKEN_FOR = timedelta(days=1)  # a permanent refusal is not retried on the hot path for this long


def _freeze_item(freeze: N.Freeze, state: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": NATIVE_PK}, "sk": {"S": f"FREEZE#{freeze.key}"}, "cap": {"S": freeze.cap},
        "window_key": {"S": freeze.window_key}, "group": {"S": freeze.group},
        "devices": {"SS": sorted(freeze.devices)}, "freeze_state": {"S": state},
        "lifted": {"BOOL": freeze.lifted}, "frozen_at": {"S": format_timestamp(datetime.now(timezone.utc))}}
    if freeze.until is not None:
        item["until"] = {"S": format_timestamp(freeze.until)}
        item["expires_at"] = {"N": str(int((freeze.until + FREEZE_RETENTION).timestamp()))}
    return item


def _parse_freeze(item: dict[str, Any]) -> N.Freeze:
    until = item.get("until", {}).get("S")
    return N.Freeze(item["cap"]["S"], item["window_key"]["S"], item["group"]["S"],
                    frozenset(item.get("devices", {}).get("SS", [])),
                    parse_timestamp(until) if until else None, item.get("lifted", {}).get("BOOL", False))


class NativeRecords:
    """Read and write the freezes, the ownership marker and the devices refused for good."""

    def _mark_owner(self) -> None:
        """Written before the first CreateSpendingLimit: a crash after it errs toward searching."""
        if self._marked:
            return
        self.ledger.backoff.call(lambda: self.ledger.client.put_item(
            TableName=self.ledger.table, Item={"pk": {"S": NATIVE_PK}, "sk": {"S": OWNS_SK},
                                               "at": {"S": format_timestamp(datetime.now(timezone.utc))}}))
        self._marked = True

    def broken(self, now: datetime | None = None) -> dict[str, dict[str, str]]:
        """Devices whose last create got a permanent refusal, still within BROKEN_FOR."""
        now = now or datetime.now(timezone.utc)
        out = {}
        for item in self.ledger._query(NATIVE_PK, BROKEN_PREFIX):
            if int(item.get("expires_at", {}).get("N", "0")) > now.timestamp():
                out[item["sk"]["S"][len(BROKEN_PREFIX):]] = {
                    "code": item.get("code", {}).get("S", ""), "error": item.get("error", {}).get("S", ""),
                    "at": item.get("at", {}).get("S", "")}
        return out

    def _record_broken(self, device: str, code: str, error: str, now: datetime) -> None:
        self.ledger.backoff.call(lambda: self.ledger.client.put_item(TableName=self.ledger.table, Item={
            "pk": {"S": NATIVE_PK}, "sk": {"S": BROKEN_PREFIX + device}, "code": {"S": code},
            "error": {"S": error[:300]}, "at": {"S": format_timestamp(now)},
            "expires_at": {"N": str(int((now + BROKEN_FOR).timestamp()))}}))
        self.broken_found.append({"device": device, "code": code, "error": error[:300]})
        metrics.emit({"NativeLimitBroken": 1}, {"Device": device})

    # -- freezes in the ledger ---------------------------------------------------------------------
    def freezes(self) -> list[tuple[N.Freeze, dict[str, Any]]]:
        items = self.ledger._query(NATIVE_PK, "FREEZE#")
        return [(_parse_freeze(i), i) for i in items]

    def _get_freeze(self, freeze: N.Freeze) -> dict[str, Any]:
        return self.ledger.backoff.call(lambda: self.ledger.client.get_item(
            TableName=self.ledger.table, Key={"pk": {"S": NATIVE_PK}, "sk": {"S": f"FREEZE#{freeze.key}"}},
            ConsistentRead=True)).get("Item") or {}

    def _put_freeze(self, freeze: N.Freeze) -> bool:
        try:
            self.ledger.backoff.call(lambda: self.ledger.client.put_item(
                TableName=self.ledger.table, Item=_freeze_item(freeze, "pending"),
                ConditionExpression="attribute_not_exists(pk)"))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise

    def _set_freeze(self, freeze: N.Freeze, **values: dict[str, Any]) -> None:
        names = {f"#{k}": k for k in values}
        self.ledger.backoff.call(lambda: self.ledger.client.update_item(
            TableName=self.ledger.table, Key={"pk": {"S": NATIVE_PK}, "sk": {"S": f"FREEZE#{freeze.key}"}},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
            ExpressionAttributeNames=names, ExpressionAttributeValues={f":{k}": v for k, v in values.items()}))
