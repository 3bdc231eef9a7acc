"""A local Amazon Braket API emulator that a real boto3 ``braket`` client can talk to.

Why: moto has no Braket backend, and the guard's hard parts (searching a day's tasks page by
page, cancelling under the 2/s CancelQuantumTask quota, reacting to duplicate and out-of-order
events) need a Braket whose tasks, events and failures tests control. This server speaks the
REST-JSON protocol of botocore's ``braket`` 2019-09-01 model, so the guard's own boto3 code
runs unchanged with ``endpoint_url=emu.url``.

Operations (HTTP route, as in the model):

=====================  ==========================================  ======
CreateQuantumTask      POST /quantum-task                          201
GetQuantumTask         GET  /quantum-task/{quantumTaskArn}         200
CancelQuantumTask      PUT  /quantum-task/{quantumTaskArn}/cancel  200
SearchQuantumTasks     POST /quantum-tasks                         200
GetDevice              GET  /device/{deviceArn}                    200
SearchDevices          POST /devices                               200
CreateJob              POST /job                                   201
GetJob                 GET  /job/{jobArn}                          200
CancelJob              PUT  /job/{jobArn}/cancel                   200
SearchJobs             POST /jobs                                  200
CreateSpendingLimit    POST /spending-limit                        201
UpdateSpendingLimit    PATCH /spending-limit/{arn}/update          200
DeleteSpendingLimit    DELETE /spending-limit/{arn}/delete         200
SearchSpendingLimits   POST /spending-limits                       200
TagResource            POST /tags/{resourceArn}                    200
UntagResource          DELETE /tags/{resourceArn}                  200
ListTagsForResource    GET  /tags/{resourceArn}                    200
=====================  ==========================================  ======

Choices (documented because the real service does not spell them out):

- Region of a request: the credential scope of the SigV4 ``Authorization`` header
  (``Credential=AKID/DATE/REGION/SERVICE/aws4_request``), else the ``X-Amz-Credential`` query
  parameter, else ``default_region``. Signatures are not verified. One emulator serves every
  region; tasks and QPUs are only visible from their own region (a task ARN of another region
  or account is ``ResourceNotFoundException``); simulators (ARN without region) are visible
  from every region.
- Errors: HTTP status of the model + ``x-amzn-ErrorType: <Code>`` + ``{"message": ...}``.
  ValidationException 400 (bad or missing input, malformed ARN, unknown device or QPU of
  another region in CreateQuantumTask, bad nextToken, filter misuse); ResourceNotFoundException
  404 (GetQuantumTask/CancelQuantumTask/GetDevice of an unknown or other-region ARN);
  ConflictException 409 (CancelQuantumTask of a COMPLETED or FAILED task);
  DeviceOfflineException 424 / DeviceRetiredException 410 (CreateQuantumTask on an OFFLINE /
  RETIRED device); ThrottlingException 429 (fault injection and rate limits);
  InternalServiceException 500 (a bug in the emulator); UnknownOperationException 404
  (a route the emulator does not implement).
- Cancellation: CREATED, QUEUED or RUNNING -> CANCELLING -> CANCELLED within the call (two
  events), response ``cancellationStatus="CANCELLING"``; with ``cancel_completes=False`` the
  task stays CANCELLING until ``advance(arn, "CANCELLED")``. CANCELLING/CANCELLED: idempotent,
  returns the current status, no event. COMPLETED/FAILED: ConflictException.
- SearchQuantumTasks: filters are ANDed. ``quantumTaskArn|deviceArn|jobArn|status`` accept only
  ``EQUAL`` (any of the values). ``createdAt`` accepts ``LT LTE GT GTE`` (one value),
  ``EQUAL`` (any of the values), ``BETWEEN`` (two values, inclusive); values are ISO-8601
  (``2026-11-28T00:00:00Z``, ``...00.000Z``, ``+00:00``, date only; naive = UTC) or epoch
  seconds/milliseconds. Results are newest first (createdAt, then ARN, descending); the
  nextToken is a keyset cursor, so tasks created while paging never cause duplicates.
  Default page size 100 (``default_page_size``), maxResults 1..100.
- Idempotency: a repeated CreateQuantumTask ``clientToken`` in the same region returns the
  first task's ARN without creating another.
- ``jobToken``: when it looks like a job ARN it becomes the task's ``jobArn``.
- Timestamps are ISO-8601 strings with milliseconds and ``Z`` (the model's
  ``SyntheticTimestamp_date_time`` is ``timestampFormat: iso8601``; botocore parses them into
  aware datetimes).

Python API for tests (never throttled, never counted in ``calls``): ``create_task``,
``advance``, ``cancel_task``, ``task``, ``tasks``, ``event_for``, ``events``, device helpers,
fault injection. Every status change emits one EventBridge "Braket Task State Change" event
to ``on_event`` (called outside the state lock, so it may call back into the emulator; an
exception in it is logged and never fails the API call).

A small control plane under ``/_sandbox/`` serves subprocess users (see ``_control``).

The Amazon Braket SDK (amazon-braket-sdk 1.127, a dev dependency: requirements-dev.txt) works
against this emulator; the README's demo section says how to point it here and which SDK calls are
served or refused. What that takes, and where it lives:

- ``GetDevice``: ``deviceCapabilities`` built with amazon-braket-schemas' own model of each
  device's family (:mod:`braket_sandbox.capabilities`); ``service.deviceCost`` {price, unit} as the
  device list gives it. The SDK parses it with ``BraketSchemaBase.parse_raw_schema``.
- ``CreateQuantumTask``: the botocore model's members (``action``, ``deviceParameters``, ``tags``,
  ``associations`` (at most one, type ``RESERVATION_TIME_WINDOW_ARN``), ``jobToken`` (1-128
  characters), ``experimentalCapabilities``) checked as :mod:`braket_sandbox.programs` describes:
  action type offered by the device, IR schema, shots range, program-set divisibility and limits.
  ``ValidationException`` carries ``reason`` and ``programSetValidationFailures`` when a program set
  is malformed (members of the model's error shape).
- ``GetQuantumTask`` also returns ``associations``, ``actionMetadata`` (``actionType``, and
  ``programCount``/``executableCount`` for program sets), ``numSuccessfulShots`` (= shots at
  COMPLETED; partial success of program sets is not modelled) and ``experimentalCapabilities``.
- Results: with ``results_s3=`` (or :meth:`BraketEmulator.store_results`), ``results.json`` is
  written into that S3 endpoint (moto) before a task becomes COMPLETED
  (:mod:`braket_sandbox.results`: real simulator results for SV1/DM1, plausible ones for QPUs).

Dependency: this module imports amazon-braket-schemas only when it answers ``GetDevice``, checks
an action, or computes a result; without the package it still imports and serves everything else
(the Python API's ``create_task`` without an action never needs it), and those calls answer
``InternalServiceException`` saying to run ``make venv``. The sandbox is dev-only, so it may depend
on the schemas package; the Lambda package does not.

Hybrid jobs (``CreateJob``, ``GetJob``, ``CancelJob``, ``SearchJobs``, "Braket Job State Change"
events; Python API ``create_job``, ``advance_job``, ``cancel_job``, ``job``, ``jobs``,
``job_event_for``) live in :mod:`braket_sandbox.braket.jobs`, a mixin of the emulator; read its docstring
for what is uncertain (the unit of ``billableDuration``, the event's fields).

Spending limits (``CreateSpendingLimit``, ``UpdateSpendingLimit``, ``DeleteSpendingLimit``,
``SearchSpendingLimits``, their check at ``CreateQuantumTask``, "Braket Spending Limit Spend Change"
events; Python API ``create_spending_limit``, ``spending_limit``, ``spending_limits``,
``estimated_cost``) and tagging (``TagResource``, ``UntagResource``, ``ListTagsForResource`` on
tasks, jobs and spending limits) live in :mod:`braket_sandbox.braket.spending_limits`, a mixin like jobs;
its docstring says what is uncertain (whether the estimate includes the per-task fee, whether
``totalSpend`` restarts with a new time period) and how to choose.

A new API goes beside tasks and jobs the same way (a mixin, routes, operations) without changing
the existing Python API.
"""

from __future__ import annotations

import base64
import collections
import copy
import datetime as dt
import json
import logging
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

from werkzeug.wrappers import Request, Response

from braket_sandbox._http import DEFAULT_HOST, ServerHandle, cli_main
from braket_sandbox.braket.jobs import JOB_OPERATIONS, JobsMixin
from braket_sandbox.braket.spending_limits import SPENDING_LIMIT_OPERATIONS, SpendingLimitsMixin

__all__ = [
    "BraketApiError",
    "BraketEmulator",
    "Device",
    "DEFAULT_ACCOUNT",
    "DEFAULT_QUOTAS",
    "OPERATIONS",
    "default_devices",
    "start_emulator",
    "main",
]

log = logging.getLogger("braket_sandbox.emulator")

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
OUTPUT_BUCKET = "amazon-braket-sandbox"

TASK_STATUSES = ("CREATED", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED")
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
DEVICE_STATUSES = ("ONLINE", "OFFLINE", "RETIRED")

OPERATIONS = (
    "CreateQuantumTask",
    "GetQuantumTask",
    "CancelQuantumTask",
    "SearchQuantumTasks",
    "GetDevice",
    "SearchDevices",
) + JOB_OPERATIONS + SPENDING_LIMIT_OPERATIONS

# (rate per second, burst) per account and region, from the Braket quotas page.
DEFAULT_QUOTAS = {
    "CreateQuantumTask": (20, 40),
    "SearchQuantumTasks": (5, 50),
    "GetQuantumTask": (100, 500),
    "CancelQuantumTask": (2, 20),
    "GetDevice": (5, 50),
    "*": (140, 600),
}

# HTTP status of each error shape in the botocore model.
ERROR_STATUS = {
    "ValidationException": 400,
    "ServiceQuotaExceededException": 402,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "UnknownOperationException": 404,
    "ConflictException": 409,
    "DeviceRetiredException": 410,
    "DeviceOfflineException": 424,
    "ThrottlingException": 429,
    "InternalServiceException": 500,
}

_TASK_ARN_RE = re.compile(r"^arn:aws:braket:([a-z0-9-]+):(\d{12}):quantum-task/([A-Za-z0-9-]+)$")
_BRAKET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:braket:[a-z0-9-]*:[0-9]{12}:.*$")  # BraketResourceArn
_JOB_ARN_RE = re.compile(r"^arn:aws[a-z-]*:braket:[a-z0-9-]+:\d{12}:job/.+$")
_CRED_SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/[^/,\s]+/aws4_request")
_EPOCH_RE = re.compile(r"^\d+(\.\d+)?$")


class BraketApiError(Exception):
    """An error as Braket would return it: ``code`` (x-amzn-ErrorType), HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int | None = None, extra: dict | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else ERROR_STATUS.get(code, 400)
        self.extra = dict(extra or {})  # more members of the error shape (ValidationException.reason ...)


# ---------------------------------------------------------------------------------------------
# time helpers


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _to_ms(value: dt.datetime) -> dt.datetime:
    """Aware UTC datetime truncated to milliseconds (naive input is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    value = value.astimezone(dt.timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def iso_ms(value: dt.datetime) -> str:
    """``2026-11-28T01:17:42.898Z``"""
    value = _to_ms(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def iso_s(value: dt.datetime) -> str:
    """``2026-11-28T01:17:45Z``"""
    return _to_ms(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> dt.datetime:
    """ISO-8601 string, epoch seconds/milliseconds or datetime -> aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return _to_ms(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and _EPOCH_RE.match(value.strip()):
        number = float(value.strip())
    else:
        text = str(value).strip()
        try:
            parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise BraketApiError("ValidationException", f"Invalid timestamp value: {value!r}")
        return _to_ms(parsed)
    if number > 1e11:  # milliseconds
        number /= 1000.0
    return _to_ms(dt.datetime.fromtimestamp(number, dt.timezone.utc))


# ---------------------------------------------------------------------------------------------
# devices


@dataclass(frozen=True)
class Device:
    """A Braket device. ``price``/``unit`` become ``service.deviceCost`` in the capabilities."""

    arn: str
    name: str
    provider: str
    device_type: str = "QPU"  # QPU | SIMULATOR
    status: str = "ONLINE"  # ONLINE | OFFLINE | RETIRED
    price: float = 0.0
    unit: str = "shot"  # shot | minute
    min_shots: int = 1
    max_shots: int = 1_000_000
    family: str = ""  # schema family (braket_sandbox.capabilities.FAMILIES); "" = from the provider

    @property
    def region(self) -> str:
        """Region part of the ARN; empty for simulators (available in every region)."""
        parts = self.arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    def visible_from(self, region: str) -> bool:
        return not self.region or self.region == region

    def capabilities(self) -> dict:
        """``deviceCapabilities`` as a dict: the schemas package's model of the device's family
        (see :mod:`braket_sandbox.capabilities`), with ``service.deviceCost`` = {price, unit}."""
        return json.loads(self.capabilities_json())

    def capabilities_json(self) -> str:
        """``deviceCapabilities`` as GetDevice returns it (cached per device)."""
        from braket_sandbox import capabilities

        return capabilities.capabilities_json(self)

    def summary(self) -> dict:
        return {
            "deviceArn": self.arn,
            "deviceName": self.name,
            "providerName": self.provider,
            "deviceType": self.device_type,
            "deviceStatus": self.status,
        }


def default_devices() -> list[Device]:
    """Every QPU of braket-facts.md, SV1 and DM1, and Acme Novel-1 (unknown to price tables)."""

    def qpu(arn: str, name: str, provider: str, price: float, status: str = "ONLINE") -> Device:
        return Device(arn, name, provider, "QPU", status, price, "shot")

    def sim(arn: str, name: str) -> Device:
        return Device(arn, name, "Amazon Braket", "SIMULATOR", "ONLINE", 0.075, "minute", 0, 100_000)

    return [
        qpu("arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", "Forte 1", "IonQ", 0.08),
        qpu(
            "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1",
            "Forte Enterprise 1",
            "IonQ",
            0.08,
        ),
        qpu("arn:aws:braket:us-east-1::device/qpu/quera/Aquila", "Aquila", "QuEra", 0.01),
        qpu("arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet", "Garnet", "IQM", 0.00145),
        qpu("arn:aws:braket:eu-north-1::device/qpu/iqm/Emerald", "Emerald", "IQM", 0.0016),
        qpu("arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1", "Ibex-Q1", "AQT", 0.0235),
        qpu(
            "arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q",
            "Cepheus-1-108Q",
            "Rigetti",
            0.000425,
        ),
        qpu(
            "arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3",
            "Ankaa-3",
            "Rigetti",
            0.0009,
            status="RETIRED",
        ),
        qpu("arn:aws:braket:us-east-1::device/qpu/acme/Novel-1", "Novel-1", "Acme", 0.05),
        sim("arn:aws:braket:::device/quantum-simulator/amazon/sv1", "SV1"),
        sim("arn:aws:braket:::device/quantum-simulator/amazon/dm1", "DM1"),
    ]


# ---------------------------------------------------------------------------------------------
# throttling


class _TokenBucket:
    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class _Fault:
    rate: float
    rng: random.Random
    code: str


def _encode_token(payload: Any) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> Any:
    try:
        padded = token + "=" * (-len(token) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise BraketApiError("ValidationException", "Invalid nextToken")


# ---------------------------------------------------------------------------------------------
# the emulator


def _schemas_needed(function: Callable, *args: Any) -> Any:
    """Call ``function``; if amazon-braket-schemas is missing, say so as an API error."""
    try:
        return function(*args)
    except ImportError as exc:
        raise BraketApiError(
            "InternalServiceException",
            f"The sandbox needs amazon-braket-schemas for this call ({exc}); it is pinned in "
            "requirements-dev.txt: run `make venv`",
        ) from None


class BraketEmulator(JobsMixin, SpendingLimitsMixin):
    """Braket API emulator: state, Python test API, and the WSGI app (``emu(environ, sr)``).

    ``BraketEmulator(...).start()`` (or ``with BraketEmulator() as emu:``) serves it on
    127.0.0.1; ``emu.url`` is the ``endpoint_url`` for boto3.
    """

    def __init__(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT,
        default_region: str = DEFAULT_REGION,
        devices: Iterable[Device] | None = None,
        extra_devices: Iterable[Device] = (),
        on_event: Callable[[dict], Any] | None = None,
        default_page_size: int = 100,
        cancel_completes: bool = True,
        clock: Callable[[], dt.datetime] = _utcnow,
        host: str = DEFAULT_HOST,
        port: int = 0,
        results_s3: str | None = None,
    ) -> None:
        self.account_id = account_id
        self.default_region = default_region
        self.on_event = on_event
        self.default_page_size = default_page_size
        self.cancel_completes = cancel_completes
        self.clock = clock
        self.host = host
        self.port = port
        self._lock = threading.RLock()
        self._devices: dict[str, Device] = {}
        for device in list(default_devices() if devices is None else devices) + list(extra_devices):
            self._devices[device.arn] = device
        self._tasks: dict[str, dict] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._init_jobs()
        self._init_spending_limits()
        self._events: list[dict] = []
        self._calls: collections.Counter = collections.Counter()
        self._throttled: collections.Counter = collections.Counter()
        self._faults: dict[str, _Fault] = {}
        self._fail_next: dict[str, list] = {}  # operation -> [calls left, error code]
        self._ignored_cancels: set[str] = set()  # task ARNs ("*" = all) whose cancel does not take
        self._limits: dict[str, tuple[float, int]] = {}
        self._buckets: dict[tuple[str, str], _TokenBucket] = {}
        self._monotonic = time.monotonic
        self._server: ServerHandle | None = None
        self._results: Any = None
        if results_s3:
            self.store_results(results_s3)

    # ----------------------------------------------------------------------------- lifecycle
    def start(self) -> "BraketEmulator":
        if self._server is None:
            self._server = ServerHandle(self, host=self.host, port=self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator not started: call start() or use it as a context manager")
        return self._server.url

    def __enter__(self) -> "BraketEmulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget tasks, jobs, spending limits, events, idempotency tokens, calls, faults and rate limits."""
        with self._lock:
            self._tasks.clear()
            self._reset_jobs()
            self._reset_spending_limits()
            self._tokens.clear()
            self._events.clear()
            self._calls.clear()
            self._throttled.clear()
            self._faults.clear()
            self._fail_next.clear()
            self._ignored_cancels.clear()
            self._limits.clear()
            self._buckets.clear()

    def store_results(self, s3_endpoint_url: str | None) -> None:
        """Write each completing task's ``results.json`` into this S3 endpoint (moto), where the
        Braket SDK's ``task.result()`` reads it (see :mod:`braket_sandbox.results`); ``None``
        stops writing results. Tasks created without an action (the Python API's default) never
        get a result."""
        if s3_endpoint_url is None:
            self._results = None
            return
        from braket_sandbox.results import ResultStore

        self._results = ResultStore(s3_endpoint_url, self.default_region)

    # ----------------------------------------------------------------------------- devices
    def put_device(self, device: Device) -> None:
        """Add a device or replace the one with the same ARN."""
        with self._lock:
            self._devices[device.arn] = device

    def remove_device(self, arn: str) -> None:
        with self._lock:
            self._devices.pop(arn, None)

    def set_device_status(self, arn: str, status: str) -> None:
        if status not in DEVICE_STATUSES:
            raise ValueError(f"device status must be one of {DEVICE_STATUSES}")
        with self._lock:
            self._devices[arn] = replace(self._devices[arn], status=status)

    def device(self, arn: str) -> Device:
        with self._lock:
            return self._devices[arn]

    def devices(self) -> list[Device]:
        with self._lock:
            return sorted(self._devices.values(), key=lambda d: d.arn)

    # ----------------------------------------------------------------------------- accounting
    @property
    def calls(self) -> collections.Counter:
        """Snapshot: HTTP calls received per operation name (throttled ones included)."""
        with self._lock:
            return collections.Counter(self._calls)

    @property
    def throttled(self) -> collections.Counter:
        """Snapshot: HTTP calls per operation answered ``ThrottlingException`` (rate limits and
        injected throttles), a subset of ``calls``."""
        with self._lock:
            return collections.Counter(self._throttled)

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()
            self._throttled.clear()

    def events(self) -> list[dict]:
        """Copies of every event emitted so far, in emission order."""
        with self._lock:
            return copy.deepcopy(self._events)

    def clear_events(self) -> None:
        with self._lock:
            self._events.clear()

    # ----------------------------------------------------------------------------- faults
    def set_fault(
        self,
        operation: str,
        throttle_rate: float = 0.5,
        seed: int = 1,
        error: str = "ThrottlingException",
    ) -> None:
        """Fail ``throttle_rate`` of the HTTP calls to ``operation`` ("*" = all) with ``error``.

        Deterministic: draw i of ``random.Random(seed)`` decides call i.
        """
        self._check_operation(operation)
        if not 0.0 <= throttle_rate <= 1.0:
            raise ValueError("throttle_rate must be within [0, 1]")
        if error not in ERROR_STATUS:
            raise ValueError(f"unknown error code {error!r}")
        with self._lock:
            self._faults[operation] = _Fault(throttle_rate, random.Random(seed), error)

    def fail_next(self, operation: str, count: int, error: str = "ThrottlingException") -> None:
        """Fail the next ``count`` HTTP calls to ``operation`` ("*" = any) with ``error``, then
        answer normally: a throttle or outage that ends, for tests that need it to end."""
        self._check_operation(operation)
        if error not in ERROR_STATUS:
            raise ValueError(f"unknown error code {error!r}")
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._fail_next[operation] = [int(count), error]

    def ignore_cancels(self, arn: str = "*") -> None:
        """CancelQuantumTask of ``arn`` ("*" = every task) answers CANCELLING and emits the
        CANCELLING event, but the QPU runs the task anyway: it stays CANCELLING until the test
        advances it (RUNNING, COMPLETED ...). Models a best-effort cancel of a QUEUED task that
        the device started first."""
        with self._lock:
            self._ignored_cancels.add(arn)

    def set_rate_limit(self, operation: str, rate_per_s: float, burst: int) -> None:
        """Token bucket per region for ``operation`` ("*" = all calls); excess -> 429."""
        self._check_operation(operation)
        with self._lock:
            self._limits[operation] = (float(rate_per_s), int(burst))
            for key in [k for k in self._buckets if k[0] == operation]:
                del self._buckets[key]

    def apply_default_quotas(self) -> None:
        """Install the documented default Braket quotas as rate limits."""
        for operation, (rate, burst) in DEFAULT_QUOTAS.items():
            self.set_rate_limit(operation, rate, burst)

    def clear_faults(self) -> None:
        """Remove every injected fault and rate limit."""
        with self._lock:
            self._faults.clear()
            self._fail_next.clear()
            self._ignored_cancels.clear()
            self._limits.clear()
            self._buckets.clear()

    @staticmethod
    def _check_operation(operation: str) -> None:
        if operation != "*" and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {OPERATIONS} or '*'")

    def _admit(self, operation: str, region: str) -> None:
        """Count the call, then apply rate limits and faults (raises ThrottlingException)."""
        try:
            self._admit_or_raise(operation, region)
        except BraketApiError as err:
            if err.code == "ThrottlingException":
                with self._lock:
                    self._throttled[operation] += 1
            raise

    def _admit_or_raise(self, operation: str, region: str) -> None:
        with self._lock:
            self._calls[operation] += 1
            for name in (operation, "*"):
                limit = self._limits.get(name)
                if limit is None:
                    continue
                bucket = self._buckets.get((name, region))
                if bucket is None:
                    bucket = self._buckets[(name, region)] = _TokenBucket(*limit, self._monotonic)
                if not bucket.take():
                    raise BraketApiError("ThrottlingException", "Rate exceeded")
            for name in (operation, "*"):
                pending = self._fail_next.get(name)
                if pending is not None and pending[0] > 0:
                    pending[0] -= 1
                    message = "Rate exceeded" if pending[1] == "ThrottlingException" else "Injected fault"
                    raise BraketApiError(pending[1], message)
            for name in (operation, "*"):
                fault = self._faults.get(name)
                if fault is not None and fault.rng.random() < fault.rate:
                    message = "Rate exceeded" if fault.code == "ThrottlingException" else "Injected fault"
                    raise BraketApiError(fault.code, message)

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

    def _available_device(self, region: str, device_arn: str) -> Device:
        """The device a CreateQuantumTask in ``region`` may use (call with the lock held)."""
        device = self._devices.get(device_arn)
        if device is None or not device.visible_from(region):
            raise BraketApiError("ValidationException", f"Device {device_arn} is not available in {region}")
        if device.status == "RETIRED":
            raise BraketApiError("DeviceRetiredException", f"Device {device_arn} is retired")
        if device.status == "OFFLINE":
            raise BraketApiError("DeviceOfflineException", f"Device {device_arn} is offline")
        return device

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
        from braket_sandbox.programs import ActionError, check_device_parameters, parse_action

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
        from braket_sandbox.results import ResultError, compute_result

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

    def _emit(self, events: list[dict]) -> None:
        """Record events and deliver them to ``on_event`` (outside the state lock)."""
        if not events:
            return
        with self._lock:
            self._events.extend(copy.deepcopy(events))
        callback = self.on_event
        for event in events:
            if callback is None:
                continue
            try:
                callback(copy.deepcopy(event))
            except Exception:  # noqa: BLE001 - a broken consumer must not break the API
                detail = event.get("detail", {})
                log.exception("on_event callback failed for %s", detail.get("quantumTaskArn") or detail.get("jobArn"))

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

    @staticmethod
    def _page_size(body: dict, default: int) -> int:
        size = body.get("maxResults", default)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100:
            raise BraketApiError("ValidationException", "maxResults must be an integer in [1, 100]")
        return size

    @staticmethod
    def _filters(body: dict) -> list[dict]:
        filters = body.get("filters")
        if not isinstance(filters, list):
            raise BraketApiError("ValidationException", "filters is required and must be a list")
        if len(filters) > 10:
            raise BraketApiError("ValidationException", "at most 10 filters")
        for item in filters:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise BraketApiError("ValidationException", "each filter needs a name")
            values = item.get("values")
            if not isinstance(values, list) or not 1 <= len(values) <= 10:
                raise BraketApiError("ValidationException", "each filter needs 1-10 values")
            if not all(isinstance(v, str) and 1 <= len(v) <= 256 for v in values):
                raise BraketApiError("ValidationException", "filter values must be 1-256 characters")
        return filters

    def _task_predicate(self, item: dict) -> Callable[[dict], bool]:
        name, values, operator = item["name"], item["values"], item.get("operator")
        if operator not in ("LT", "LTE", "EQUAL", "GT", "GTE", "BETWEEN"):
            raise BraketApiError("ValidationException", f"Invalid operator {operator!r}")
        if name in ("quantumTaskArn", "deviceArn", "jobArn", "status"):
            if operator != "EQUAL":
                raise BraketApiError(
                    "ValidationException", f"Filter {name} supports only the EQUAL operator"
                )
            if name == "status":
                bad = [v for v in values if v not in TASK_STATUSES]
                if bad:
                    raise BraketApiError("ValidationException", f"Invalid status value(s): {bad}")
            wanted = set(values)
            return lambda t: t[name] in wanted
        if name != "createdAt":
            raise BraketApiError(
                "ValidationException",
                f"Invalid filter name {name!r}: quantumTaskArn, deviceArn, jobArn, status or createdAt",
            )
        times = [parse_time(v) for v in values]
        if operator == "EQUAL":
            return lambda t: t["createdAt"] in times
        if operator == "BETWEEN":
            if len(times) != 2:
                raise BraketApiError("ValidationException", "BETWEEN needs exactly two values")
            low, high = times
            return lambda t: low <= t["createdAt"] <= high
        if len(times) != 1:
            raise BraketApiError("ValidationException", f"{operator} needs exactly one value")
        bound = times[0]
        compare = {
            "LT": lambda c: c < bound,
            "LTE": lambda c: c <= bound,
            "GT": lambda c: c > bound,
            "GTE": lambda c: c >= bound,
        }[operator]
        return lambda t: compare(t["createdAt"])

    def _op_search_tasks(self, region: str, body: dict) -> tuple[int, dict, list[dict]]:
        size = self._page_size(body, self.default_page_size)
        predicates = [self._task_predicate(item) for item in self._filters(body)]
        after: tuple[int, str] | None = None
        if body.get("nextToken"):
            cursor = _decode_token(body["nextToken"])
            if not (isinstance(cursor, list) and len(cursor) == 2):
                raise BraketApiError("ValidationException", "Invalid nextToken")
            after = (int(cursor[0]), str(cursor[1]))

        def key(t: dict) -> tuple[int, str]:
            return (int(t["createdAt"].timestamp() * 1000), t["quantumTaskArn"])

        with self._lock:
            matching = [
                t
                for t in self._tasks.values()
                if t["region"] == region and all(p(t) for p in predicates)
            ]
            matching.sort(key=key, reverse=True)
            if after is not None:
                matching = [t for t in matching if key(t) < after]
            page = matching[:size]
            out: dict[str, Any] = {"quantumTasks": [self._summary(t) for t in page]}
            if len(matching) > size:
                out["nextToken"] = _encode_token(list(key(page[-1])))
        return 200, out, []

    def _visible_device(self, region: str, arn: str) -> Device:
        device = self._devices.get(arn)
        if device is None or not device.visible_from(region):
            raise BraketApiError("ResourceNotFoundException", f"Device {arn} not found in {region}")
        return device

    def _op_get_device(self, region: str, arn: str) -> tuple[int, dict, list[dict]]:
        with self._lock:
            device = self._visible_device(region, arn)
        # Built outside the lock: the first GetDevice of a device imports the schemas and builds
        # its model (then it is cached), and must not hold up other calls meanwhile.
        capabilities = _schemas_needed(device.capabilities_json)
        with self._lock:
            queued = sum(
                1
                for t in self._tasks.values()
                if t["deviceArn"] == arn and t["region"] == region and t["status"] == "QUEUED"
            )
            out = device.summary()
            out["deviceCapabilities"] = capabilities
            out["deviceQueueInfo"] = [
                {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": str(queued), "queuePriority": "Normal"},
                {"queue": "JOBS_QUEUE", "queueSize": "0"},
            ]
        return 200, out, []

    _DEVICE_FIELDS = {
        "deviceArn": "arn",
        "deviceName": "name",
        "providerName": "provider",
        "deviceType": "device_type",
        "deviceStatus": "status",
    }

    def _op_search_devices(self, region: str, body: dict) -> tuple[int, dict, list[dict]]:
        size = self._page_size(body, self.default_page_size)
        filters = self._filters(body)
        for item in filters:
            if item["name"] not in self._DEVICE_FIELDS:
                raise BraketApiError("ValidationException", f"Invalid filter name {item['name']!r}")
        after = None
        if body.get("nextToken"):
            after = _decode_token(body["nextToken"])
            if not isinstance(after, str):
                raise BraketApiError("ValidationException", "Invalid nextToken")
        with self._lock:
            matching = [
                d
                for d in sorted(self._devices.values(), key=lambda d: d.arn)
                if d.visible_from(region)
                and all(getattr(d, self._DEVICE_FIELDS[f["name"]]) in f["values"] for f in filters)
                and (after is None or d.arn > after)
            ]
        page = matching[:size]
        out: dict[str, Any] = {"devices": [d.summary() for d in page]}
        if len(matching) > size:
            out["nextToken"] = _encode_token(page[-1].arn)
        return 200, out, []

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
        POST /_sandbox/spending-knobs {"variant"} (a ``spending_limits.KNOB_VARIANTS`` name)
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
                from braket_sandbox.braket.spending_limits import KNOB_VARIANTS
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


def start_emulator(port: int = 0, host: str = DEFAULT_HOST, **kwargs: Any) -> BraketEmulator:
    """Create and start a :class:`BraketEmulator` (keyword arguments go to its constructor)."""
    return BraketEmulator(host=host, port=port, **kwargs).start()


class _JsonLinesWriter:
    """``on_event`` for the CLI: append each event as one JSON line to a file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()

    def __call__(self, event: dict) -> None:
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self.lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)


def _configure_cli(parser: Any) -> None:
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT)
    parser.add_argument("--default-region", default=DEFAULT_REGION, help="region of unsigned calls")
    parser.add_argument("--page-size", type=int, default=100, help="default maxResults")
    parser.add_argument("--default-quotas", action="store_true", help="apply the Braket quotas")
    parser.add_argument("--events-log", help="append every emitted event to this JSON-lines file")
    parser.add_argument("--results-s3", metavar="URL",
                        help="S3 endpoint (moto) where completed tasks' results.json are written")
    parser.add_argument("--spending-limit-task-fee", metavar="USD", default="0.30",
                        help="per-task fee a spending limit's estimate adds to price x shots (default 0.30)")
    parser.add_argument("--spend-kept-across-periods", action="store_true",
                        help="a spending limit keeps counting its tasks when its time period moves past them")
    from braket_sandbox.braket.spending_limits import KNOB_VARIANTS
    parser.add_argument("--spending-limit-variant", choices=sorted(KNOB_VARIANTS), default="documented",
                        help="one answer to each uncertain spending-limit behaviour (docs/native-limits.md)")


def _start_cli(args: Any) -> BraketEmulator:
    emu = start_emulator(
        port=args.port,
        host=args.host,
        account_id=args.account_id,
        default_region=args.default_region,
        default_page_size=args.page_size,
        on_event=_JsonLinesWriter(args.events_log) if args.events_log else None,
        results_s3=args.results_s3,
    )
    if args.default_quotas:
        emu.apply_default_quotas()
    from decimal import Decimal

    emu.spending_task_fee = Decimal(args.spending_limit_task_fee)
    emu.spend_resets_on_new_period = not args.spend_kept_across_periods
    from braket_sandbox.braket.spending_limits import KNOB_VARIANTS
    emu.default_limit_knobs = emu.limit_knobs = KNOB_VARIANTS[args.spending_limit_variant]
    return emu


def main(argv: list[str] | None = None) -> int:
    return cli_main(
        "Amazon Braket API emulator (boto3 endpoint_url target)", _start_cli, argv, _configure_cli
    )


if __name__ == "__main__":
    # Run the package's module, not this __main__ copy: the mixins (jobs, spending limits) import
    # braket_sandbox.emulator, and its BraketApiError must be the class _dispatch catches.
    from braket_sandbox import emulator as _package_module

    raise SystemExit(_package_module.main())
