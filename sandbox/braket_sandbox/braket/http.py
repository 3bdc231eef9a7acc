"""The HTTP shell: routes Braket's REST paths to the operations, answers errors as Braket does, and the ``/_sandbox`` control API."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any, Callable, Iterable

from werkzeug.wrappers import Request, Response

from braket_sandbox.braket.common import _CRED_SCOPE_RE, BraketApiError, iso_ms, log
from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
from braket_sandbox.braket.spending_limits import SPENDING_LIMIT_OPERATIONS, SpendingLimitsMixin


class HttpMixin:
    """The HTTP shell: routes Braket's REST paths to the operations, answers errors as Braket does, and the ``/_sandbox`` control API."""

    # ----------------------------------------------------------------------------- HTTP
    def region_of_request(self, request: Request) -> str:
        """Region from the SigV4 credential scope (header, then presigned query), else default."""
        for source in (request.headers.get("Authorization", ""), request.args.get("X-Amz-Credential", "")):
            if not source:
                continue
            match = _CRED_SCOPE_RE.search(source if "Credential=" in source else f"Credential={source}")
            if match:
                return match.group(1)
        return self.default_region

    @staticmethod
    def route(method: str, path: str) -> tuple[str | None, str | None]:
        """(operation, ARN from the path) for a decoded request path; (None, None) if unknown."""
        if path == "/quantum-task" and method == "POST":
            return "CreateQuantumTask", None
        if path == "/quantum-tasks" and method == "POST":
            return "SearchQuantumTasks", None
        if path == "/devices" and method == "POST":
            return "SearchDevices", None
        if path.startswith("/quantum-task/"):
            rest = path[len("/quantum-task/"):]
            if rest.endswith("/cancel") and method == "PUT":
                return "CancelQuantumTask", rest[: -len("/cancel")]
            if method == "GET" and rest:
                return "GetQuantumTask", rest
        if path.startswith("/device/") and method == "GET" and len(path) > len("/device/"):
            return "GetDevice", path[len("/device/"):]
        if path == "/job" and method == "POST":
            return "CreateJob", None
        if path == "/jobs" and method == "POST":
            return "SearchJobs", None
        if path.startswith("/job/"):
            rest = path[len("/job/"):]
            if rest.endswith("/cancel") and method == "PUT":
                return "CancelJob", rest[: -len("/cancel")]
            if method == "GET" and rest:
                return "GetJob", rest
        return SpendingLimitsMixin.route_spending(method, path)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/_sandbox/"):
            response = self._control(request)
        else:
            response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        region = self.region_of_request(request)
        operation, arn = self.route(request.method, request.path)
        events: list[dict] = []
        try:
            if operation is None:
                with self._lock:
                    self._calls["Unknown"] += 1
                raise BraketApiError(
                    "UnknownOperationException",
                    f"The sandbox does not implement {request.method} {request.path}",
                )
            self._admit(operation, region)
            body = self._json_body(request)
            query = {k: request.args.getlist(k) for k in request.args}
            if operation == "CreateQuantumTask":
                status, payload, events = self._op_create(region, body, query)
            elif operation == "GetQuantumTask":
                status, payload, events = self._op_get(region, arn or "", query)
            elif operation == "CancelQuantumTask":
                status, payload, events = self._op_cancel(region, arn or "", body)
            elif operation == "SearchQuantumTasks":
                status, payload, events = self._op_search_tasks(region, body)
            elif operation == "GetDevice":
                status, payload, events = self._op_get_device(region, arn or "")
            elif operation == "SearchDevices":
                status, payload, events = self._op_search_devices(region, body)
            elif operation == "CreateJob":
                status, payload, events = self._op_create_job(region, body)
            elif operation == "GetJob":
                status, payload, events = self._op_get_job(region, arn or "", query)
            elif operation == "CancelJob":
                status, payload, events = self._op_cancel_job(region, arn or "")
            elif operation in SPENDING_LIMIT_OPERATIONS:
                status, payload, events = self._op_spending(operation, region, arn or "", body, query)
            else:
                status, payload, events = self._op_search_jobs(region, body)
        except BraketApiError as err:
            return self._error_response(err)
        except Exception:  # noqa: BLE001
            log.exception("emulator bug while handling %s %s", request.method, request.path)
            return self._error_response(BraketApiError("InternalServiceException", "Internal error"))
        self._emit(events)
        return self._json_response(status, payload)

    @staticmethod
    def _json_body(request: Request) -> dict:
        raw = request.get_data(cache=False)
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise BraketApiError("ValidationException", "Request body is not valid JSON")
        if not isinstance(body, dict):
            raise BraketApiError("ValidationException", "Request body must be a JSON object")
        return body

    @staticmethod
    def _json_response(status: int, payload: Any, extra: dict | None = None) -> Response:
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        headers.update(extra or {})
        return Response(
            json.dumps(payload), status=status, headers=headers, content_type="application/json"
        )

    def _error_response(self, err: BraketApiError) -> Response:
        return self._json_response(err.status, {"message": err.message, **err.extra}, {"x-amzn-ErrorType": err.code})

    # ----------------------------------------------------------------------------- control plane
    def _control(self, request: Request) -> Response:
        """Test control for subprocess users (JSON in, JSON out; never counted or throttled).

        GET  /_sandbox/tasks | /_sandbox/jobs | /_sandbox/events | /_sandbox/calls | /_sandbox/throttled
        GET  /_sandbox/spending-limits
        POST /_sandbox/tasks       {"region","deviceArn","shots","tags"?,"createdAt"?}
        POST /_sandbox/advance     {"arn","status","failureReason"?}
        POST /_sandbox/advance-job {"arn","status","failureReason"?,"billableDuration"?}
        POST /_sandbox/fault       {"operation","throttleRate"?,"seed"?,"error"?}
        POST /_sandbox/rate-limit  {"operation","ratePerS","burst"} (or {"defaults": true})
        POST /_sandbox/fail-next   {"operation","count","error"?}
        POST /_sandbox/ignore-cancels {"arn"?}
        POST /_sandbox/spending-knobs {"variant"} (a ``spending_knobs.KNOB_VARIANTS`` name)
        POST /_sandbox/clear-faults | /_sandbox/reset-calls | /_sandbox/reset
        """
        path, method = request.path[len("/_sandbox"):], request.method
        try:
            body = self._json_body(request)
            if method == "GET" and path == "/tasks":
                return self._json_response(200, [self._jsonable(t) for t in self.tasks()])
            if method == "GET" and path == "/events":
                return self._json_response(200, self.events())
            if method == "GET" and path == "/calls":
                return self._json_response(200, dict(self.calls))
            if method == "GET" and path == "/throttled":
                return self._json_response(200, dict(self.throttled))
            if method == "GET" and path == "/jobs":
                return self._json_response(200, [self._jsonable(j) for j in self.jobs()])
            if method == "GET" and path == "/spending-limits":
                with self._lock:
                    summaries = [self._summary_of_limit(lim) for lim in self._spending_limits.values()]
                return self._json_response(200, summaries)
            if method == "POST" and path == "/advance-job":
                self.advance_job(body["arn"], body["status"], failure_reason=body.get("failureReason"),
                                 billable_duration=body.get("billableDuration"))
                return self._json_response(200, self._jsonable(self.job(body["arn"])))
            if method == "POST" and path == "/tasks":
                arn = self.create_task(
                    body.get("region", self.default_region),
                    body.get("deviceArn"),
                    body.get("shots"),
                    tags=body.get("tags"),
                    created_at=body.get("createdAt"),
                )
                return self._json_response(201, {"quantumTaskArn": arn})
            if method == "POST" and path == "/advance":
                self.advance(body["arn"], body["status"], failure_reason=body.get("failureReason"))
                return self._json_response(200, self._jsonable(self.task(body["arn"])))
            if method == "POST" and path == "/fault":
                self.set_fault(
                    body["operation"],
                    body.get("throttleRate", 0.5),
                    body.get("seed", 1),
                    body.get("error", "ThrottlingException"),
                )
                return self._json_response(200, {"ok": True})
            if method == "POST" and path == "/fail-next":
                self.fail_next(body["operation"], body["count"], body.get("error", "ThrottlingException"))
                return self._json_response(200, {"ok": True})
            if method == "POST" and path == "/spending-knobs":
                self.limit_knobs = KNOB_VARIANTS[body["variant"]]
                return self._json_response(200, {"ok": True})
            if method == "POST" and path == "/ignore-cancels":
                self.ignore_cancels(body.get("arn", "*"))
                return self._json_response(200, {"ok": True})
            if method == "POST" and path == "/rate-limit":
                if body.get("defaults"):
                    self.apply_default_quotas()
                else:
                    self.set_rate_limit(body["operation"], body["ratePerS"], body["burst"])
                return self._json_response(200, {"ok": True})
            if method == "POST" and path in ("/clear-faults", "/reset-calls", "/reset"):
                {"/clear-faults": self.clear_faults, "/reset-calls": self.reset_calls, "/reset": self.reset}[path]()
                return self._json_response(200, {"ok": True})
        except BraketApiError as err:
            return self._error_response(err)
        except (KeyError, ValueError, TypeError) as err:
            return self._error_response(BraketApiError("ValidationException", f"{type(err).__name__}: {err}"))
        return self._error_response(BraketApiError("UnknownOperationException", f"no control route {method} {path}"))

    @staticmethod
    def _jsonable(task: dict) -> dict:
        out = copy.deepcopy(task)
        for field in ("createdAt", "startedAt", "endedAt"):
            if out.get(field) is not None:
                out[field] = iso_ms(out[field])
        for event in out.get("events") or []:  # a job's events
            if isinstance(event, dict) and event.get("timeOfEvent") is not None:
                event["timeOfEvent"] = iso_ms(event["timeOfEvent"])
        return out
