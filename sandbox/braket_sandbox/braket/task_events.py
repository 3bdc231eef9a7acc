"""The Braket Task State Change events of emulated tasks, as EventBridge delivers them."""

from __future__ import annotations

import uuid

from braket_sandbox.braket.common import TASK_STATUSES, TERMINAL_STATUSES, iso_ms, iso_s


class TaskEventsMixin:
    """The Braket Task State Change events of emulated tasks, as EventBridge delivers them."""

    # ----------------------------------------------------------------------------- events
    def event_for(self, arn: str, status: str | None = None) -> dict:
        """An EventBridge "Braket Task State Change" event for the task with ``status``
        (default: its current status). Not emitted; for crafting duplicates/out-of-order."""
        if status is not None and status not in TASK_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._lock:
            task = self._tasks[arn]
            return self._build_event(task, status or task["status"])

    def _build_event(self, task: dict, status: str) -> dict:
        now = self.clock()
        detail = {
            "quantumTaskArn": task["quantumTaskArn"],
            "status": status,
            "deviceArn": task["deviceArn"],
            "shots": str(task["shots"]),
            "outputS3Bucket": task["outputS3Bucket"],
            "outputS3Directory": task["outputS3Directory"],
            "createdAt": iso_ms(task["createdAt"]),
            "eventName": "INSERT" if status == "CREATED" else "MODIFY",
        }
        if status in TERMINAL_STATUSES:
            detail["endedAt"] = iso_ms(task["endedAt"] or now)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Braket Task State Change",
            "source": "aws.braket",
            "account": self.account_id,
            "time": iso_s(now),
            "region": task["region"],
            "resources": [task["quantumTaskArn"]],
            "detail": detail,
        }
