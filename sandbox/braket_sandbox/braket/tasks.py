"""Quantum tasks: CreateQuantumTask, GetQuantumTask, CancelQuantumTask, SearchQuantumTasks, the devices' progress (``advance``) and the task state change events."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from typing import Any

from braket_sandbox.braket.common import (
    _BRAKET_ARN_RE,
    _JOB_ARN_RE,
    _TASK_ARN_RE,
    OUTPUT_BUCKET,
    TASK_STATUSES,
    TERMINAL_STATUSES,
    BraketApiError,
    _schemas_needed,
    _to_ms,
    iso_ms,
    log,
    parse_time,
)
from braket_sandbox.braket.devices import Device
from braket_sandbox.braket.task_events import TaskEventsMixin
from braket_sandbox.braket.task_search import TaskSearchMixin
from braket_sandbox.programs import ActionError, check_device_parameters, parse_action
from braket_sandbox.results import ResultError, compute_result


class TasksMixin(TaskSearchMixin, TaskEventsMixin):
    """Quantum tasks: CreateQuantumTask, GetQuantumTask, CancelQuantumTask, SearchQuantumTasks, the devices' progress (``advance``) and the task state change events."""

    # ----------------------------------------------------------------------------- tasks
    def create_task(
        self,
        region: str,
        device_arn: str,
        shots: int,
        tags: dict[str, str] | None = None,
        created_at: dt.datetime | str | float | None = None,
        *,
        job_arn: str | None = None,
        output_s3_bucket: str = OUTPUT_BUCKET,
        output_s3_key_prefix: str = "tasks",
        action: str | None = None,
        device_parameters: str | None = None,
        client_token: str | None = None,
        emit_event: bool = True,
        associations: list[dict] | None = None,
        experimental_capabilities: dict | None = None,
    ) -> str:
        """Create a task as CreateQuantumTask would (same checks), optionally backdated.

        Raises :class:`BraketApiError` as the HTTP call would answer. Emits the CREATED event.
        Without ``action`` the task stands for an OpenQASM program that is not checked (and gets
        no result in S3); with one, the action is checked as CreateQuantumTask checks it.
        """
        arn, events = self._create(
            region,
            device_arn=device_arn,
            shots=shots,
            tags=tags,
            created_at=None if created_at is None else parse_time(created_at),
            job_arn=job_arn,
            bucket=output_s3_bucket,
            prefix=output_s3_key_prefix,
            action=action,
            device_parameters=device_parameters,
            client_token=client_token,
            associations=associations,
            experimental_capabilities=experimental_capabilities,
        )
        if emit_event:
            self._emit(events)
        return arn

    def _create(
        self,
        region: str,
        *,
        device_arn: Any,
        shots: Any,
        tags: Any,
        created_at: dt.datetime | None,
        job_arn: str | None,
        bucket: Any,
        prefix: Any,
        action: Any,
        device_parameters: Any,
        client_token: str | None,
        associations: Any = None,
        experimental_capabilities: Any = None,
    ) -> tuple[str, list[dict]]:
        if not isinstance(device_arn, str) or not device_arn:
            raise BraketApiError("ValidationException", "deviceArn is required")
        if isinstance(shots, bool) or not isinstance(shots, int) or shots < 0:
            raise BraketApiError("ValidationException", "shots must be a non-negative integer")
        if not isinstance(bucket, str) or not 3 <= len(bucket) <= 63:
            raise BraketApiError("ValidationException", "outputS3Bucket must be 3-63 characters")
        if not isinstance(prefix, str) or not 1 <= len(prefix) <= 1024:
            raise BraketApiError("ValidationException", "outputS3KeyPrefix must be 1-1024 characters")
        if tags is not None and not (
            isinstance(tags, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())
        ):
            raise BraketApiError("ValidationException", "tags must map strings to strings")
        associations = self._check_associations(associations)
        if experimental_capabilities is not None and not (
            isinstance(experimental_capabilities, dict)
            and set(experimental_capabilities) == {"enabled"}
            and experimental_capabilities["enabled"] in ("ALL", "NONE")
        ):
            raise BraketApiError(
                "ValidationException", "experimentalCapabilities must be {\"enabled\": \"ALL\" | \"NONE\"}"
            )
        with self._lock:
            if client_token is not None and (region, client_token) in self._tokens:
                return self._tokens[(region, client_token)], []
            device = self._available_device(region, device_arn)
        # The action is checked outside the lock (the first check imports the schemas package).
        if action is None:
            if not device.min_shots <= shots <= device.max_shots:
                raise BraketApiError(
                    "ValidationException",
                    f"shots must be within [{device.min_shots}, {device.max_shots}] for {device_arn}",
                )
            action_metadata: dict = {"actionType": "braket.ir.openqasm.program"}
        else:
            action_metadata = self._check_action(device, action, shots, device_parameters)
        with self._lock:
            if client_token is not None and (region, client_token) in self._tokens:
                return self._tokens[(region, client_token)], []
            device = self._available_device(region, device_arn)
            created = _to_ms(created_at or self.clock())
            counted = self._limit_admits(region, device, shots, associations, created)
            task_id = str(uuid.uuid4())
            arn = f"arn:aws:braket:{region}:{self.account_id}:quantum-task/{task_id}"
            task = {
                "quantumTaskArn": arn,
                "region": region,
                "status": "CREATED",
                "deviceArn": device_arn,
                "shots": shots,
                "createdAt": created,
                "endedAt": None,
                "tags": dict(tags or {}),
                "jobArn": job_arn,
                "outputS3Bucket": bucket,
                "outputS3Directory": f"{prefix.rstrip('/')}/{task_id}",
                "failureReason": None,
                "numSuccessfulShots": None,
                "action": action if isinstance(action, str) or action is None else json.dumps(action),
                "deviceParameters": device_parameters
                if isinstance(device_parameters, str) or device_parameters is None
                else json.dumps(device_parameters),
                "clientToken": client_token,
                "associations": associations,
                "actionMetadata": action_metadata,
                "experimentalCapabilities": copy.deepcopy(experimental_capabilities),
            }
            self._tasks[arn] = task
            if client_token is not None:
                self._tokens[(region, client_token)] = arn
            return arn, [self._build_event(task, "CREATED")] + self._limit_counts(task, counted)

    @staticmethod
    def _check_associations(associations: Any) -> list[dict]:
        """``associations``: at most one ``{arn, type: RESERVATION_TIME_WINDOW_ARN}`` (the model)."""
        if associations is None:
            return []
        if not isinstance(associations, list) or len(associations) > 1:
            raise BraketApiError("ValidationException", "associations must be a list of at most 1 association")
        for item in associations:
            if not isinstance(item, dict) or set(item) != {"arn", "type"}:
                raise BraketApiError("ValidationException", "an association needs exactly arn and type")
            if item["type"] != "RESERVATION_TIME_WINDOW_ARN":
                raise BraketApiError("ValidationException", f"Invalid association type {item['type']!r}")
            if not isinstance(item["arn"], str) or not _BRAKET_ARN_RE.match(item["arn"]):
                raise BraketApiError("ValidationException", f"Invalid association arn {item['arn']!r}")
        return copy.deepcopy(associations)

    @staticmethod
    def _check_action(device: Device, action: Any, shots: int, device_parameters: Any) -> dict:

        try:
            parsed = _schemas_needed(parse_action, action, device, shots)
            if device_parameters is not None:
                check_device_parameters(device_parameters)
        except ActionError as err:
            extra: dict[str, Any] = {}
            if err.reason:
                extra["reason"] = err.reason
            if err.failures:
                extra["programSetValidationFailures"] = err.failures
            raise BraketApiError("ValidationException", err.message, extra=extra) from None
        return parsed.metadata()

    def advance(
        self,
        arn: str,
        status: str,
        *,
        failure_reason: str | None = None,
        ended_at: dt.datetime | str | None = None,
    ) -> None:
        """Move a task to ``status`` (QUEUED, RUNNING, COMPLETED, FAILED, CANCELLING,
        CANCELLED) and emit the event. Terminal states set endedAt. Advancing to the current
        status is a no-op; advancing out of a terminal state raises ValueError."""
        if status not in TASK_STATUSES or status == "CREATED":
            raise ValueError(f"cannot advance to {status!r}")
        store = self._results
        if status == "COMPLETED" and store is not None:
            with self._lock:
                task = self._tasks.get(arn)
                snapshot = copy.deepcopy(task) if task is not None else None
                device = self._devices.get(task["deviceArn"]) if task is not None else None
            if snapshot is not None and snapshot["status"] not in TERMINAL_STATUSES and snapshot["action"]:
                # The result is in S3 before the task is COMPLETED, so a poller never misses it.
                problem = self._store_result(store, snapshot, device)
                if problem is not None:
                    status, failure_reason = "FAILED", problem
        with self._lock:
            task = self._tasks.get(arn)
            if task is None:
                raise KeyError(arn)
            if task["status"] == status:
                return
            if task["status"] in TERMINAL_STATUSES:
                raise ValueError(f"{arn} is already {task['status']}")
            events = self._set_status(
                task, status, ended_at=None if ended_at is None else parse_time(ended_at)
            )
            if status == "FAILED":
                task["failureReason"] = failure_reason or "Sandbox: task failed"
            if status == "COMPLETED":
                task["numSuccessfulShots"] = task["shots"]
        self._emit(events)

    @staticmethod
    def _store_result(store: Any, task: dict, device: Device | None) -> str | None:
        """Compute and store the task's results.json; the failureReason if that is impossible."""

        try:
            store.put(task, compute_result(task, device))
        except ResultError as err:
            return str(err)
        except Exception as exc:  # noqa: BLE001 - an emulator bug must not hang the task
            log.exception("computing the result of %s failed", task["quantumTaskArn"])
            return f"Sandbox: the result could not be computed ({type(exc).__name__})"
        return None

    def cancel_task(self, arn: str, region: str | None = None) -> str:
        """CancelQuantumTask without HTTP; returns the cancellationStatus."""
        status, events = self._cancel(region or self._region_of(arn), arn)
        self._emit(events)
        return status

    def _cancel(self, region: str, arn: str) -> tuple[str, list[dict]]:
        with self._lock:
            task = self._lookup(region, arn)
            current = task["status"]
            if current in ("CANCELLING", "CANCELLED"):
                return current, []
            if current in ("COMPLETED", "FAILED"):
                raise BraketApiError(
                    "ConflictException",
                    f"Quantum task {arn} is {current} and can no longer be cancelled",
                )
            events = self._set_status(task, "CANCELLING")
            if arn in self._ignored_cancels or "*" in self._ignored_cancels:
                return "CANCELLING", events
            if self.cancel_completes:
                events += self._set_status(task, "CANCELLED")
            return "CANCELLING", events

    def _set_status(self, task: dict, status: str, ended_at: dt.datetime | None = None) -> list[dict]:
        task["status"] = status
        if status == "COMPLETED" and task["numSuccessfulShots"] is None:
            task["numSuccessfulShots"] = task["shots"]  # before the spend of a limit is computed
        ended = status in TERMINAL_STATUSES and task["endedAt"] is None
        if ended:
            task["endedAt"] = _to_ms(ended_at or self.clock())
        events = [self._build_event(task, status)]
        if ended:
            events += self._limit_task_ended(task)
        return events

    def task(self, arn: str) -> dict:
        """A copy of the task record (createdAt/endedAt as aware datetimes)."""
        with self._lock:
            return copy.deepcopy(self._tasks[arn])

    def tasks(self, region: str | None = None) -> list[dict]:
        """Copies of all task records (optionally of one region), oldest first."""
        with self._lock:
            selected = [t for t in self._tasks.values() if region is None or t["region"] == region]
            return copy.deepcopy(sorted(selected, key=lambda t: (t["createdAt"], t["quantumTaskArn"])))

    def _region_of(self, arn: str) -> str:
        match = _TASK_ARN_RE.match(arn or "")
        return match.group(1) if match else self.default_region

    def _lookup(self, region: str, arn: Any) -> dict:
        if not isinstance(arn, str) or not _TASK_ARN_RE.match(arn):
            raise BraketApiError("ValidationException", f"Invalid quantum task ARN: {arn!r}")
        task = self._tasks.get(arn)
        if task is None or task["region"] != region:
            raise BraketApiError("ResourceNotFoundException", f"Quantum task {arn} not found")
        return task



    # ----------------------------------------------------------------------------- responses
    def _task_response(self, task: dict, queue_info: bool) -> dict:
        out: dict[str, Any] = {
            "quantumTaskArn": task["quantumTaskArn"],
            "status": task["status"],
            "deviceArn": task["deviceArn"],
            "deviceParameters": task["deviceParameters"] or "{}",
            "shots": task["shots"],
            "outputS3Bucket": task["outputS3Bucket"],
            "outputS3Directory": task["outputS3Directory"],
            "createdAt": iso_ms(task["createdAt"]),
            "tags": dict(task["tags"]),
        }
        if task["endedAt"] is not None:
            out["endedAt"] = iso_ms(task["endedAt"])
        if task["jobArn"]:
            out["jobArn"] = task["jobArn"]
        if task["failureReason"]:
            out["failureReason"] = task["failureReason"]
        if task["numSuccessfulShots"] is not None:
            out["numSuccessfulShots"] = task["numSuccessfulShots"]
        if task.get("associations"):
            out["associations"] = copy.deepcopy(task["associations"])
        if task.get("actionMetadata"):
            out["actionMetadata"] = dict(task["actionMetadata"])
        if task.get("experimentalCapabilities"):
            out["experimentalCapabilities"] = dict(task["experimentalCapabilities"])
        if queue_info:
            out["queueInfo"] = self._queue_info(task)
        return out

    def _queue_info(self, task: dict) -> dict:
        priority = "Priority" if task["jobArn"] else "Normal"
        info = {"queue": "QUANTUM_TASKS_QUEUE", "queuePriority": priority}
        if task["status"] != "QUEUED":
            info["position"] = "None"
            info["message"] = (
                f"Task is in {task['status']} status. AmazonBraket does not show queue position "
                "for this status."
            )
            return info
        ahead = [
            t
            for t in self._tasks.values()
            if t["status"] == "QUEUED"
            and t["deviceArn"] == task["deviceArn"]
            and t["region"] == task["region"]
            and bool(t["jobArn"]) == bool(task["jobArn"])
            and (t["createdAt"], t["quantumTaskArn"]) < (task["createdAt"], task["quantumTaskArn"])
        ]
        info["position"] = str(len(ahead) + 1)
        return info

    @staticmethod
    def _summary(task: dict) -> dict:
        out = {
            "quantumTaskArn": task["quantumTaskArn"],
            "status": task["status"],
            "deviceArn": task["deviceArn"],
            "shots": task["shots"],
            "outputS3Bucket": task["outputS3Bucket"],
            "outputS3Directory": task["outputS3Directory"],
            "createdAt": iso_ms(task["createdAt"]),
            "tags": dict(task["tags"]),
        }
        if task["endedAt"] is not None:
            out["endedAt"] = iso_ms(task["endedAt"])
        return out

    # ----------------------------------------------------------------------------- operations
    def _op_create(self, region: str, body: dict, query: dict) -> tuple[int, dict, list[dict]]:
        for field in ("clientToken", "deviceArn", "shots", "outputS3Bucket", "outputS3KeyPrefix", "action"):
            if body.get(field) is None:
                raise BraketApiError("ValidationException", f"Missing required field: {field}")
        token = body["clientToken"]
        if not isinstance(token, str) or not 1 <= len(token) <= 64:
            raise BraketApiError("ValidationException", "clientToken must be 1-64 characters")
        job_token = body.get("jobToken")
        if job_token is not None and not (isinstance(job_token, str) and 1 <= len(job_token) <= 128):
            raise BraketApiError("ValidationException", "jobToken must be 1-128 characters")
        job_arn = job_token if isinstance(job_token, str) and _JOB_ARN_RE.match(job_token) else None
        arn, events = self._create(
            region,
            device_arn=body["deviceArn"],
            shots=body["shots"],
            tags=body.get("tags"),
            created_at=None,
            job_arn=job_arn,
            bucket=body["outputS3Bucket"],
            prefix=body["outputS3KeyPrefix"],
            action=body["action"],
            device_parameters=body.get("deviceParameters"),
            client_token=token,
            associations=body.get("associations"),
            experimental_capabilities=body.get("experimentalCapabilities"),
        )
        return 201, {"quantumTaskArn": arn}, events

    def _op_get(self, region: str, arn: str, query: dict) -> tuple[int, dict, list[dict]]:
        names = query.get("additionalAttributeNames", [])
        for name in names:
            if name != "QueueInfo":
                raise BraketApiError("ValidationException", f"Unknown additionalAttributeName {name!r}")
        with self._lock:
            task = self._lookup(region, arn)
            return 200, self._task_response(task, queue_info="QueueInfo" in names), []

    def _op_cancel(self, region: str, arn: str, body: dict) -> tuple[int, dict, list[dict]]:
        token = body.get("clientToken")
        if not isinstance(token, str) or not 1 <= len(token) <= 64:
            raise BraketApiError("ValidationException", "clientToken is required (1-64 characters)")
        status, events = self._cancel(region, arn)
        return 200, {"quantumTaskArn": arn, "cancellationStatus": status}, events



