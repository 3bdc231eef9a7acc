"""How a spending limit counts: the estimate a task is admitted against at CreateQuantumTask, the spend it books, and the spend change events."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from braket_sandbox.braket.common import BraketApiError, iso_ms, iso_s
from braket_sandbox.braket.spending_knobs import format_usd

SPEND_EVENT = "Braket Spending Limit Spend Change"


def _iso(value: dt.datetime) -> str:
    return iso_ms(value)


class SpendMixin:
    """How a spending limit counts: the estimate a task is admitted against at CreateQuantumTask, the spend it books, and the spend change events."""

    def estimated_cost(self, device_arn: str, shots: int) -> Decimal:
        """What a spending limit charges a task at creation: per-task fee + per-shot price x shots."""
        device = self._devices[device_arn]  # type: ignore[attr-defined]
        return self.spending_task_fee + Decimal(str(device.price)) * shots

    # ----------------------------------------------------------------------------- hooks for tasks
    def _limit_admits(self, region: str, device: Any, shots: int, associations: list[dict],
                      now: dt.datetime) -> tuple[str, Decimal] | None:
        """Check a new task against its device's limit (lock held); raise the refusal, or return
        (limit ARN, estimate) when the limit counts the task, None when no limit applies."""

        if device.device_type != "QPU" or associations:
            return None
        limit = self._limit_for_device(region, device.arn)
        if limit is None or now < limit["createdAt"]:  # a task backdated to before the limit existed
            return None
        start, end = limit["timePeriod"]
        if not start <= now < end and self.limit_knobs.outside_period == "unlimited":
            return None  # the limit is not active now: it neither refuses nor counts the task
        if not start <= now < end:
            raise BraketApiError(
                "ValidationException",
                f"Quantum task creation on {device.arn} is outside the time period of spending limit "
                f"{limit['spendingLimitArn']} ({_iso(start)} to {_iso(end)})")
        estimate = self.spending_task_fee + Decimal(str(device.price)) * shots
        total, queued = self._spend(limit)
        remaining = Decimal(limit["spendingLimit"]) - total - queued
        if estimate > remaining:
            raise BraketApiError(
                "ValidationException",
                f"Quantum task estimated cost of ${format_usd(estimate)} exceeds the remaining spending limit of "
                f"${format_usd(max(remaining, Decimal(0)))} for device {device.arn} "
                f"(spending limit {limit['spendingLimitArn']})")
        return limit["spendingLimitArn"], estimate

    def _limit_counts(self, task: dict, counted: tuple[str, Decimal] | None) -> list[dict]:
        """Attach a created task to the limit that counted it (lock held); its Spend Change event."""
        if counted is None:
            return []
        limit_arn, estimate = counted
        self._limit_of_task[task["quantumTaskArn"]] = (limit_arn, estimate)
        limit = self._spending_limits[limit_arn]
        limit["counted"].append(task["quantumTaskArn"])
        return [self._spend_event(limit, task["quantumTaskArn"])]

    def _limit_task_ended(self, task: dict) -> list[dict]:
        """A counted task reached a terminal status (lock held): its Spend Change event."""
        entry = self._limit_of_task.get(task["quantumTaskArn"])
        if entry is None or entry[0] not in self._spending_limits:
            return []
        limit = self._spending_limits[entry[0]]
        if not self._in_period(limit, task):
            return []
        return [self._spend_event(limit, task["quantumTaskArn"])]

    # ----------------------------------------------------------------------------- state
    def _limit_for_device(self, region: str, device_arn: str) -> dict | None:
        for limit in self._spending_limits.values():
            if limit["deviceArn"] == device_arn and limit["region"] == region:
                return limit
        return None

    def _in_period(self, limit: dict, task: dict) -> bool:
        if not self.spend_resets_on_new_period:
            return True
        start, end = limit["timePeriod"]
        return start <= task["createdAt"] < end

    def _task_cost(self, task: dict, estimate: Decimal) -> tuple[Decimal, Decimal]:
        """(spent, queued) of one counted task."""
        status = task["status"]
        if status == "COMPLETED":
            device = self._devices.get(task["deviceArn"])  # type: ignore[attr-defined]
            shots = task["numSuccessfulShots"] if task["numSuccessfulShots"] is not None else task["shots"]
            price = Decimal(str(device.price)) if device is not None else Decimal(0)
            return self.spending_task_fee + price * shots, Decimal(0)
        if status in ("CANCELLED", "FAILED"):
            return Decimal(0), Decimal(0)
        return Decimal(0), estimate

    def _spend(self, limit: dict) -> tuple[Decimal, Decimal]:
        """(totalSpend, queuedSpend) of a limit, from the tasks it counts (lock held)."""
        total = queued = Decimal(0)
        for arn in limit["counted"]:
            task = self._tasks.get(arn)
            if task is None or not self._in_period(limit, task):
                continue
            spent, waiting = self._task_cost(task, self._limit_of_task[arn][1])
            total += spent
            queued += waiting
        return total, queued

    def _spend_event(self, limit: dict, task_arn: str) -> dict:

        total, queued = self._spend(limit)
        start, end = limit["timePeriod"]
        detail = {
            "quantumTaskArn": task_arn,
            "deviceArn": limit["deviceArn"],
            "spendingLimit": limit["spendingLimit"],
            "spendingLimitArn": limit["spendingLimitArn"],
            "totalSpend": format_usd(total),
            "queuedSpend": format_usd(queued),
            "timePeriod": {"startAt": _iso(start), "endAt": _iso(end)},
        }
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": SPEND_EVENT, "source": "aws.braket",
                "account": self.account_id, "time": iso_s(self.clock()), "region": limit["region"],
                "resources": [limit["spendingLimitArn"]], "detail": detail}
