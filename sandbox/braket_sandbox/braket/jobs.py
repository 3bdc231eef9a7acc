"""Hybrid jobs for the Braket emulator: ``CreateJob``, ``GetJob``, ``CancelJob``, ``SearchJobs``.

A mixin of :class:`braket_sandbox.emulator.BraketEmulator` (it uses the emulator's lock, events,
devices and helpers), so that the jobs API lives beside the tasks API without changing it. It
follows the botocore ``braket`` 2019-09-01 model:

=========  ==============================  ====  ============================================
CreateJob  POST /job                       201   ``{jobArn}``
GetJob     GET  /job/{jobArn}              200   the job (``queueInfo`` with QueueInfo asked)
CancelJob  PUT  /job/{jobArn}/cancel       200   ``{jobArn, cancellationStatus}``
SearchJobs POST /jobs                      200   ``{jobs: [JobSummary], nextToken?}``
=========  ==============================  ====  ============================================

Checked as the model says: required members, ``jobName`` (1-50 characters, letters, digits and
single hyphens), ``roleArn`` (an IAM role ARN), ``instanceConfig`` (an ``ml.*`` instance type,
``volumeSizeInGb`` >= 1, ``instanceCount`` >= 1, default 1), ``stoppingCondition.maxRuntimeInSeconds``
1..432000 (default 432000 = 5 days, the model's maximum), ``outputDataConfig.s3Path``,
``deviceConfig.device`` (a device of the region, a simulator, or ``local:...`` for an embedded
simulator), ``associations`` (at most one reservation). A second job of the same name in the region
is a ConflictException (the name is the last part of the ARN).

Lifecycle: QUEUED at creation; the test moves it with :meth:`advance_job` (RUNNING sets
``startedAt``; COMPLETED/FAILED/CANCELLED set ``endedAt`` and ``billableDuration``). CancelJob of a
QUEUED or RUNNING job answers CANCELLING and the job becomes CANCELLED within the call (two events),
like tasks; CANCELLING/CANCELLED is idempotent; COMPLETED/FAILED is a ConflictException.

Uncertain, and said so:

- ``billableDuration``: the model says "the billable time", not its unit. The emulator reports
  **milliseconds** from ``startedAt`` to ``endedAt`` unless the test gives the figure
  (``advance_job(..., billable_duration=...)``); the guard must not trust the unit blindly.
- "Braket Job State Change" events: no official field list is published. The emulator's
  ``detail`` carries ``jobArn``, ``status``, ``deviceArn`` (``deviceConfig.device``),
  ``createdAt``, and ``startedAt`` / ``endedAt`` once set (ISO-8601 with milliseconds).
- Tasks that a job creates carry ``jobArn`` (from the SDK's ``jobToken``, see the emulator).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import threading
from typing import Any, Callable

from braket_sandbox.braket.common import BraketApiError, _to_ms, iso_ms, iso_s, keyset_page, page_size, parse_time

__all__ = ["JOB_OPERATIONS", "JOB_STATUSES", "JobsMixin"]

JOB_OPERATIONS = ("CreateJob", "GetJob", "CancelJob", "SearchJobs")
JOB_STATUSES = ("QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED")
JOB_TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
MAX_RUNTIME = 432_000

_JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,50}$")
_ROLE_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_S3_PATH_RE = re.compile(r"^(https|s3)://([^/]+)/?(.*)$")
_JOB_ARN_RE = re.compile(r"^arn:aws[a-z-]*:braket:([a-z0-9-]+):(\d{12}):job/(.+)$")


_INSTANCE_TYPES: frozenset[str] | None = None


def model_instance_types() -> frozenset[str]:
    """The botocore model's ``InstanceType`` enum: the instance types CreateJob accepts."""
    global _INSTANCE_TYPES
    if _INSTANCE_TYPES is None:
        import botocore.session
        model = botocore.session.get_session().get_service_model("braket")
        _INSTANCE_TYPES = frozenset(model.shape_for("InstanceType").enum)
    return _INSTANCE_TYPES


class JobsMixin:
    """The jobs API of the emulator (state in ``self._jobs``, guarded by ``self._lock``)."""

    _lock: threading.RLock
    account_id: str
    default_region: str
    clock: Callable[[], dt.datetime]

    def _init_jobs(self) -> None:
        self._jobs: dict[str, dict] = {}
        self._job_tokens: dict[tuple[str, str], str] = {}

    def _reset_jobs(self) -> None:
        self._jobs.clear()
        self._job_tokens.clear()

    # ----------------------------------------------------------------------------- Python API
    def create_job(
        self,
        region: str,
        device: str,
        *,
        name: str | None = None,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        volume_size_gb: int = 30,
        max_runtime_seconds: int = MAX_RUNTIME,
        tags: dict[str, str] | None = None,
        associations: list[dict] | None = None,
        created_at: Any = None,
        emit_event: bool = True,
    ) -> str:
        """Create a job as CreateJob would (same checks), optionally backdated; emits QUEUED."""

        body = {
            "jobName": name or f"sandbox-job-{len(self._jobs) + 1}",
            "roleArn": f"arn:aws:iam::{self.account_id}:role/service-role/AmazonBraketJobsExecutionRole",
            "algorithmSpecification": {"scriptModeConfig": {"entryPoint": "algorithm:main",
                                                            "s3Uri": "s3://amazon-braket-sandbox/jobs/source.tar.gz"}},
            "instanceConfig": {"instanceType": instance_type, "instanceCount": instance_count,
                               "volumeSizeInGb": volume_size_gb},
            "stoppingCondition": {"maxRuntimeInSeconds": max_runtime_seconds},
            "outputDataConfig": {"s3Path": "s3://amazon-braket-sandbox/jobs/output"},
            "deviceConfig": {"device": device},
            "tags": dict(tags or {}),
        }
        if associations:
            body["associations"] = associations
        arn, events = self._create_job(region, body, None if created_at is None else parse_time(created_at))
        if emit_event:
            self._emit(events)
        return arn

    def advance_job(self, arn: str, status: str, *, failure_reason: str | None = None,
                    billable_duration: int | None = None, ended_at: Any = None) -> None:
        """Move a job to ``status`` and emit its event. RUNNING sets ``startedAt``; a terminal
        status sets ``endedAt`` and ``billableDuration`` (milliseconds, or the given figure)."""

        if status not in JOB_STATUSES or status == "QUEUED":
            raise ValueError(f"cannot advance a job to {status!r}")
        with self._lock:
            job = self._jobs.get(arn)
            if job is None:
                raise KeyError(arn)
            if job["status"] == status:
                return
            if job["status"] in JOB_TERMINAL:
                raise ValueError(f"{arn} is already {job['status']}")
            events = self._set_job_status(job, status, None if ended_at is None else parse_time(ended_at),
                                          billable_duration)
            if status == "FAILED":
                job["failureReason"] = failure_reason or "Sandbox: job failed"
        self._emit(events)

    def cancel_job(self, arn: str, region: str | None = None) -> str:
        """CancelJob without HTTP; returns the cancellationStatus."""
        match = _JOB_ARN_RE.match(arn or "")
        status, events = self._cancel_job(region or (match.group(1) if match else self.default_region), arn)
        self._emit(events)
        return status

    def job(self, arn: str) -> dict:
        """A copy of the job record (timestamps as aware datetimes)."""
        with self._lock:
            return copy.deepcopy(self._jobs[arn])

    def jobs(self, region: str | None = None) -> list[dict]:
        """Copies of all job records (optionally of one region), oldest first."""
        with self._lock:
            chosen = [j for j in self._jobs.values() if region is None or j["region"] == region]
            return copy.deepcopy(sorted(chosen, key=lambda j: (j["createdAt"], j["jobArn"])))

    def job_event_for(self, arn: str, status: str | None = None) -> dict:
        """A "Braket Job State Change" event for the job (not emitted)."""
        with self._lock:
            job = self._jobs[arn]
            return self._build_job_event(job, status or job["status"])

    # ----------------------------------------------------------------------------- state
    def _create_job(self, region: str, body: dict, created_at: dt.datetime | None,
                    client_token: str | None = None) -> tuple[str, list[dict]]:

        def bad(message: str) -> BraketApiError:
            return BraketApiError("ValidationException", message)

        for field in ("algorithmSpecification", "outputDataConfig", "jobName", "roleArn", "instanceConfig",
                      "deviceConfig"):
            if body.get(field) is None:
                raise bad(f"Missing required field: {field}")
        name = body["jobName"]
        if not isinstance(name, str) or not 1 <= len(name) <= 50 or not _JOB_NAME_RE.match(name):
            raise bad("jobName must be 1-50 letters, digits and single hyphens")
        if not isinstance(body["roleArn"], str) or not _ROLE_RE.match(body["roleArn"]):
            raise bad(f"roleArn is not an IAM role ARN: {body['roleArn']!r}")
        instance = body["instanceConfig"]
        if not isinstance(instance, dict) or instance.get("instanceType") not in model_instance_types():
            raise bad(f"instanceConfig.instanceType {instance.get('instanceType') if isinstance(instance, dict) else None!r} "
                      "is not one of the model's InstanceType values")
        count = instance.get("instanceCount", 1)
        volume = instance.get("volumeSizeInGb")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise bad("instanceConfig.instanceCount must be >= 1")
        if isinstance(volume, bool) or not isinstance(volume, int) or volume < 1:
            raise bad("instanceConfig.volumeSizeInGb must be >= 1")
        stopping = dict(body.get("stoppingCondition") or {})
        runtime = stopping.get("maxRuntimeInSeconds", MAX_RUNTIME)
        if isinstance(runtime, bool) or not isinstance(runtime, int) or not 1 <= runtime <= MAX_RUNTIME:
            raise bad(f"stoppingCondition.maxRuntimeInSeconds must be within [1, {MAX_RUNTIME}]")
        output = body["outputDataConfig"]
        if not isinstance(output, dict) or not _S3_PATH_RE.match(str(output.get("s3Path", ""))):
            raise bad("outputDataConfig.s3Path must be an s3:// or https:// path")
        device_arn = (body["deviceConfig"] or {}).get("device") if isinstance(body["deviceConfig"], dict) else None
        if not isinstance(device_arn, str) or not 1 <= len(device_arn) <= 256:
            raise bad("deviceConfig.device is required (1-256 characters)")
        tags = body.get("tags") or {}
        if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
            raise bad("tags must map strings to strings")
        associations = self._check_associations(body.get("associations"))  # type: ignore[attr-defined]
        with self._lock:
            if client_token is not None and (region, client_token) in self._job_tokens:
                return self._job_tokens[(region, client_token)], []
            if not device_arn.startswith("local:"):
                self._available_device(region, device_arn)  # type: ignore[attr-defined]
            arn = f"arn:aws:braket:{region}:{self.account_id}:job/{name}"
            if arn in self._jobs:
                raise BraketApiError("ConflictException", f"A job named {name} already exists in {region}")
            stopping["maxRuntimeInSeconds"] = runtime
            job = {
                "jobArn": arn, "jobName": name, "region": region, "status": "QUEUED",
                "roleArn": body["roleArn"],
                "algorithmSpecification": copy.deepcopy(body["algorithmSpecification"]),
                "inputDataConfig": copy.deepcopy(body.get("inputDataConfig") or []),
                "outputDataConfig": copy.deepcopy(output),
                "checkpointConfig": copy.deepcopy(body.get("checkpointConfig")),
                "stoppingCondition": stopping,
                "instanceConfig": {"instanceType": instance["instanceType"], "instanceCount": count,
                                   "volumeSizeInGb": volume},
                "hyperParameters": dict(body.get("hyperParameters") or {}),
                "deviceConfig": {"device": device_arn},
                "tags": dict(tags), "associations": associations,
                "createdAt": _to_ms(created_at or self.clock()), "startedAt": None, "endedAt": None,
                "billableDuration": None, "failureReason": None,
                "events": [{"eventType": "WAITING_FOR_PRIORITY", "timeOfEvent": None,
                            "message": "Job queued (sandbox)"}],
            }
            job["events"][0]["timeOfEvent"] = job["createdAt"]
            self._jobs[arn] = job
            if client_token is not None:
                self._job_tokens[(region, client_token)] = arn
            return arn, [self._build_job_event(job, "QUEUED")]

    _JOB_EVENT_TYPES = {"RUNNING": "RUNNING", "COMPLETED": "COMPLETED", "FAILED": "FAILED",
                        "CANCELLED": "CANCELLED"}

    def _set_job_status(self, job: dict, status: str, ended_at: dt.datetime | None = None,
                        billable_duration: int | None = None) -> list[dict]:

        now = _to_ms(self.clock())
        job["status"] = status
        if status == "RUNNING" and job["startedAt"] is None:
            job["startedAt"] = now
        if status in JOB_TERMINAL and job["endedAt"] is None:
            job["endedAt"] = _to_ms(ended_at or now)
            started = job["startedAt"]
            measured = 0 if started is None else max(0, int((job["endedAt"] - started).total_seconds() * 1000))
            job["billableDuration"] = measured if billable_duration is None else int(billable_duration)
        elif billable_duration is not None:
            job["billableDuration"] = int(billable_duration)
        if status in self._JOB_EVENT_TYPES:
            job["events"].append({"eventType": self._JOB_EVENT_TYPES[status], "timeOfEvent": now,
                                  "message": f"Job {status.lower()} (sandbox)"})
        return [self._build_job_event(job, status)]

    def _cancel_job(self, region: str, arn: str) -> tuple[str, list[dict]]:

        with self._lock:
            job = self._lookup_job(region, arn)
            current = job["status"]
            if current in ("CANCELLING", "CANCELLED"):
                return current, []
            if current in ("COMPLETED", "FAILED"):
                raise BraketApiError("ConflictException", f"Job {arn} is {current} and can no longer be cancelled")
            events = self._set_job_status(job, "CANCELLING")
            if self.cancel_completes:  # type: ignore[attr-defined]
                events += self._set_job_status(job, "CANCELLED")
            return "CANCELLING", events

    def _lookup_job(self, region: str, arn: Any) -> dict:

        if not isinstance(arn, str) or not _JOB_ARN_RE.match(arn):
            raise BraketApiError("ValidationException", f"Invalid job ARN: {arn!r}")
        job = self._jobs.get(arn)
        if job is None or job["region"] != region:
            raise BraketApiError("ResourceNotFoundException", f"Job {arn} not found")
        return job

    def _build_job_event(self, job: dict, status: str) -> dict:
        import uuid


        detail = {"jobArn": job["jobArn"], "status": status, "deviceArn": job["deviceConfig"]["device"],
                  "createdAt": iso_ms(job["createdAt"])}
        for field in ("startedAt", "endedAt"):
            if job[field] is not None:
                detail[field] = iso_ms(job[field])
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Braket Job State Change",
                "source": "aws.braket", "account": self.account_id, "time": iso_s(self.clock()),
                "region": job["region"], "resources": [job["jobArn"]], "detail": detail}

    # ----------------------------------------------------------------------------- responses
    def _job_response(self, job: dict, queue_info: bool) -> dict:

        out: dict[str, Any] = {key: copy.deepcopy(job[key]) for key in (
            "jobArn", "jobName", "status", "roleArn", "algorithmSpecification", "outputDataConfig",
            "instanceConfig", "stoppingCondition", "deviceConfig", "tags")}
        out["createdAt"] = iso_ms(job["createdAt"])
        for key in ("startedAt", "endedAt"):
            if job[key] is not None:
                out[key] = iso_ms(job[key])
        for key in ("inputDataConfig", "hyperParameters", "checkpointConfig", "associations"):
            if job[key]:
                out[key] = copy.deepcopy(job[key])
        if job["billableDuration"] is not None:
            out["billableDuration"] = job["billableDuration"]
        if job["failureReason"]:
            out["failureReason"] = job["failureReason"]
        out["events"] = [dict(e, timeOfEvent=iso_ms(e["timeOfEvent"])) for e in job["events"]]
        if queue_info:
            if job["status"] == "QUEUED":
                ahead = [j for j in self._jobs.values() if j["status"] == "QUEUED" and j["region"] == job["region"]
                         and (j["createdAt"], j["jobArn"]) < (job["createdAt"], job["jobArn"])]
                out["queueInfo"] = {"queue": "JOBS_QUEUE", "position": str(len(ahead) + 1)}
            else:
                out["queueInfo"] = {"queue": "JOBS_QUEUE", "position": "None",
                                    "message": f"Job is in {job['status']} status. AmazonBraket does not show "
                                               "queue position for this status."}
        return out

    @staticmethod
    def _job_summary(job: dict) -> dict:

        out = {"jobArn": job["jobArn"], "jobName": job["jobName"], "status": job["status"],
               "device": job["deviceConfig"]["device"], "createdAt": iso_ms(job["createdAt"]),
               "tags": dict(job["tags"])}
        for key in ("startedAt", "endedAt"):
            if job[key] is not None:
                out[key] = iso_ms(job[key])
        return out

    # ----------------------------------------------------------------------------- operations
    def _op_create_job(self, region: str, body: dict) -> tuple[int, dict, list[dict]]:

        token = body.get("clientToken")
        if not isinstance(token, str) or not 1 <= len(token) <= 64:
            raise BraketApiError("ValidationException", "clientToken is required (1-64 characters)")
        arn, events = self._create_job(region, body, None, client_token=token)
        return 201, {"jobArn": arn}, events

    def _op_get_job(self, region: str, arn: str, query: dict) -> tuple[int, dict, list[dict]]:

        names = query.get("additionalAttributeNames", [])
        for name in names:
            if name != "QueueInfo":
                raise BraketApiError("ValidationException", f"Unknown additionalAttributeName {name!r}")
        with self._lock:
            return 200, self._job_response(self._lookup_job(region, arn), "QueueInfo" in names), []

    def _op_cancel_job(self, region: str, arn: str) -> tuple[int, dict, list[dict]]:
        status, events = self._cancel_job(region, arn)
        return 200, {"jobArn": arn, "cancellationStatus": status}, events

    def _op_search_jobs(self, region: str, body: dict) -> tuple[int, dict, list[dict]]:
        """Filters ``jobArn`` (EQUAL, CONTAINS) and ``createdAt`` (as for tasks), ANDed; newest
        first; a keyset nextToken."""

        size = page_size(body, self.default_page_size)  # type: ignore[attr-defined]
        filters = body.get("filters")
        if not isinstance(filters, list) or len(filters) > 10:
            raise BraketApiError("ValidationException", "filters is required: a list of at most 10 filters")
        predicates = []
        for item in filters:
            if not isinstance(item, dict) or not isinstance(item.get("values"), list) \
                    or not 1 <= len(item["values"]) <= 10:
                raise BraketApiError("ValidationException", "each filter needs a name, 1-10 values and an operator")
            name, values, operator = item.get("name"), item["values"], item.get("operator")
            if name == "jobArn" and operator in ("EQUAL", "CONTAINS"):
                wanted = list(values)
                predicates.append((lambda w, op: (lambda j: j["jobArn"] in w if op == "EQUAL"
                                                  else any(v in j["jobArn"] for v in w)))(wanted, operator))
            elif name == "createdAt":
                predicates.append(self._task_predicate(item))  # type: ignore[attr-defined]
            else:
                raise BraketApiError("ValidationException",
                                     f"Invalid filter {name!r} / {operator!r}: jobArn (EQUAL, CONTAINS) or createdAt")

        def key(j: dict) -> tuple[int, str]:
            return (int(j["createdAt"].timestamp() * 1000), j["jobArn"])

        with self._lock:
            matching = [j for j in self._jobs.values() if j["region"] == region and all(p(j) for p in predicates)]
            page, token = keyset_page(matching, key, body, size, newest_first=True)
            out: dict[str, Any] = {"jobs": [self._job_summary(j) for j in page]}
        if token:
            out["nextToken"] = token
        return 200, out, []
