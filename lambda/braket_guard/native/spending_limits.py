"""The Braket adapter for native spending limits: search, create, delete, each in the device's own
region (a limit lives where its QPU does), with the same backoff as other reads.

It absorbs what Braket leaves undocumented (the emulator has a knob for each): a summary without
tags is completed with ListTagsForResource; after any create error the device is searched again
(a limit made meanwhile is a conflict, whatever the error's wording); a refused ``0.00`` becomes
the one-cent floor. A botocore without the operations raises :class:`NativeUnavailable`.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from botocore.exceptions import ClientError

from braket_guard.aws.retry import Backoff, error_code
from braket_guard.core.money import usd_to_micros_ceil, usd_to_micros_floor
from braket_guard.native.rules import FREEZE_FLOOR_MICROS, NativeLimit, device_region, usd_text

LIMIT_BACKOFF = {"attempts": 5, "base": 0.1, "cap": 1.0}
ONE_TRY = Backoff(attempts=1)
OPERATIONS = ("SearchSpendingLimits", "CreateSpendingLimit", "DeleteSpendingLimit", "ListTagsForResource")


class LimitConflict(RuntimeError):
    """Braket refused a create because the device already has a limit (one per device): the
    caller searches again and plans from what is there now."""


class NativeUnavailable(RuntimeError):
    """The runtime's botocore has no spending-limit operations (they arrived in 2025-11): native
    limits cannot work in this container, and nothing else may fail because of it."""


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _limit(summary: dict[str, Any], tags: dict[str, str] | None = None) -> NativeLimit:
    def money(name: str, parse) -> int:
        try:
            return parse(summary.get(name) or "0")
        except ValueError:
            return 0
    period = summary.get("timePeriod") or {}
    return NativeLimit(arn=summary.get("spendingLimitArn", ""), device_arn=summary.get("deviceArn", ""),
                       amount_micros=money("spendingLimit", usd_to_micros_floor),
                       total_micros=money("totalSpend", usd_to_micros_ceil),
                       queued_micros=money("queuedSpend", usd_to_micros_ceil),
                       tags=dict(tags if tags is not None else summary.get("tags") or {}),
                       period_start=_when(period.get("startAt")), period_end=_when(period.get("endAt")))


class SpendingLimits:
    def __init__(self, client_for_region: Callable[[str], Any], backoff: Backoff | None = None):
        self.client_for_region = client_for_region
        self.backoff = backoff or Backoff(**LIMIT_BACKOFF)
        self.calls: dict[str, int] = {}
        self._local = threading.local()

    @contextmanager
    def quick(self, on: bool = True) -> Iterator[None]:
        """One attempt per call inside (the task path before a cancel: retries wait for later)."""
        before = getattr(self._local, "quick", False)
        self._local.quick = before or on
        try:
            yield
        finally:
            self._local.quick = before

    def _client(self, region: str) -> Any:
        client = self.client_for_region(region)
        names = getattr(getattr(getattr(client, "meta", None), "service_model", None), "operation_names", None)
        if names is not None and not set(OPERATIONS) <= set(names):
            raise NativeUnavailable("this runtime's botocore has no Braket spending-limit operations "
                                    f"(botocore {_botocore_version()})")
        return client

    def _call(self, operation: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        try:
            return (ONE_TRY if getattr(self._local, "quick", False) else self.backoff).call(call)
        except AttributeError as exc:  # a client without the method: same as a missing operation
            raise NativeUnavailable(f"{operation}: {exc}"[:300]) from None

    def search(self, region: str, devices: list[str] | None = None) -> list[NativeLimit]:
        """Every limit in a region, or those of up to ten devices a call (the filter's maximum)."""
        batches: list[list[str] | None] = [None] if not devices else [
            devices[i:i + 10] for i in range(0, len(devices), 10)]
        out: list[NativeLimit] = []
        client = self._client(region)
        for batch in batches:
            kwargs: dict[str, Any] = {"maxResults": 100}
            if batch:
                kwargs["filters"] = [{"name": "deviceArn", "operator": "EQUAL", "values": batch}]
            while True:
                response = self._call("SearchSpendingLimits", lambda: client.search_spending_limits(**kwargs))
                for summary in response.get("spendingLimits", []):
                    # Tags are optional in the summary: without them ownership is read from the limit.
                    tags = None if summary.get("tags") else self._tags(client, summary.get("spendingLimitArn", ""))
                    out.append(_limit(summary, tags))
                token = response.get("nextToken")
                if not token:
                    break
                kwargs["nextToken"] = token
        return out

    def _tags(self, client: Any, arn: str) -> dict[str, str]:
        try:
            return dict(self._call("ListTagsForResource",
                                   lambda: client.list_tags_for_resource(resourceArn=arn)).get("tags") or {})
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":  # deleted since the search
                return {}
            raise

    def create(self, device_arn: str, amount_micros: int, tags: dict[str, str], token: str,
               period: tuple[datetime, datetime] | None = None) -> str:
        """Create a limit; a refused ``0.00`` is retried once at the one-cent floor (a new limit has
        no spend, so a cent leaves no room for any task that pays the per-task fee)."""
        region = device_region(device_arn)
        client = self._client(region)
        kwargs: dict[str, Any] = {"deviceArn": device_arn, "spendingLimit": usd_text(amount_micros),
                                  "tags": dict(tags), "clientToken": token[:64]}
        if period is not None:
            kwargs["timePeriod"] = {"startAt": period[0], "endAt": period[1]}
        try:
            response = self._call("CreateSpendingLimit", lambda: client.create_spending_limit(**kwargs))
        except ClientError as exc:
            # Whatever the wording (or a ConflictException): look again before deciding.
            if self.search(region, [device_arn]):
                raise LimitConflict(f"{device_arn}: {exc}"[:500]) from None
            if error_code(exc) != "ValidationException" or amount_micros >= FREEZE_FLOOR_MICROS:
                raise
            kwargs.update(spendingLimit=usd_text(FREEZE_FLOOR_MICROS), clientToken=(token[:60] + "-min"))
            response = self._call("CreateSpendingLimit", lambda: client.create_spending_limit(**kwargs))
        return str(response.get("spendingLimitArn", ""))

    def delete(self, arn: str, device_arn: str) -> None:
        try:
            client = self._client(device_region(device_arn))
            self._call("DeleteSpendingLimit", lambda: client.delete_spending_limit(spendingLimitArn=arn))
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":  # gone already: what we wanted
                raise


def _botocore_version() -> str:
    try:
        import botocore
        return str(botocore.__version__)
    except Exception:  # noqa: BLE001 - only for the message
        return "?"
