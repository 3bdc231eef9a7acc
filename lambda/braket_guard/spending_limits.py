"""The Braket adapter for native spending limits: search, create, update, delete, each in the
device's own region (a limit lives where its QPU does), with the same backoff as other reads."""

from __future__ import annotations

from typing import Any, Callable

from botocore.exceptions import ClientError

from .money import usd_to_micros_ceil, usd_to_micros_floor
from .native_limits import NativeLimit, device_region, usd_text
from .retry import Backoff, error_code

LIMIT_BACKOFF = {"attempts": 5, "base": 0.1, "cap": 1.0}


class LimitConflict(RuntimeError):
    """Braket refused a create because the device already has a limit (one per device): the
    caller searches again and plans from what is there now."""


def _limit(summary: dict[str, Any]) -> NativeLimit:
    def money(name: str, parse) -> int:
        try:
            return parse(summary.get(name) or "0")
        except ValueError:
            return 0
    return NativeLimit(arn=summary.get("spendingLimitArn", ""), device_arn=summary.get("deviceArn", ""),
                       amount_micros=money("spendingLimit", usd_to_micros_floor),
                       total_micros=money("totalSpend", usd_to_micros_ceil),
                       queued_micros=money("queuedSpend", usd_to_micros_ceil),
                       tags=dict(summary.get("tags") or {}))


class SpendingLimits:
    def __init__(self, client_for_region: Callable[[str], Any], backoff: Backoff | None = None):
        self.client_for_region = client_for_region
        self.backoff = backoff or Backoff(**LIMIT_BACKOFF)
        self.calls: dict[str, int] = {}

    def _call(self, operation: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        return self.backoff.call(call)

    def search(self, region: str, devices: list[str] | None = None) -> list[NativeLimit]:
        """Every limit in a region, or those of up to ten devices a call (the filter's maximum)."""
        batches: list[list[str] | None] = [None] if not devices else [
            devices[i:i + 10] for i in range(0, len(devices), 10)]
        out: list[NativeLimit] = []
        for batch in batches:
            kwargs: dict[str, Any] = {"maxResults": 100}
            if batch:
                kwargs["filters"] = [{"name": "deviceArn", "operator": "EQUAL", "values": batch}]
            while True:
                client = self.client_for_region(region)
                response = self._call("SearchSpendingLimits", lambda: client.search_spending_limits(**kwargs))
                out += [_limit(s) for s in response.get("spendingLimits", [])]
                token = response.get("nextToken")
                if not token:
                    break
                kwargs["nextToken"] = token
        return out

    def create(self, device_arn: str, amount_micros: int, tags: dict[str, str], token: str) -> str:
        try:
            client = self.client_for_region(device_region(device_arn))
            response = self._call("CreateSpendingLimit", lambda: client.create_spending_limit(
                deviceArn=device_arn, spendingLimit=usd_text(amount_micros), tags=dict(tags),
                clientToken=token[:64]))
        except ClientError as exc:
            if error_code(exc) == "ValidationException" and "already" in str(exc).lower():
                raise LimitConflict(f"{device_arn}: {exc}"[:500]) from None
            raise
        return str(response.get("spendingLimitArn", ""))

    def update(self, arn: str, device_arn: str, amount_micros: int, token: str) -> None:
        client = self.client_for_region(device_region(device_arn))
        self._call("UpdateSpendingLimit", lambda: client.update_spending_limit(
            spendingLimitArn=arn, spendingLimit=usd_text(amount_micros), clientToken=token[:64]))

    def delete(self, arn: str, device_arn: str) -> None:
        try:
            client = self.client_for_region(device_region(device_arn))
            self._call("DeleteSpendingLimit", lambda: client.delete_spending_limit(spendingLimitArn=arn))
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":  # gone already: what we wanted
                raise
