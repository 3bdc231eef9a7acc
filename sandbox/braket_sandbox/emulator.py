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

Devices: a ``BraketEmulator`` moves no task by itself (tests call ``advance``);
``run_devices(...)`` attaches :class:`braket_sandbox.braket.runner.DeviceSimulator`, which queues,
runs and completes each new task. The CLI runs its devices unless ``--no-devices``.

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

import collections
import copy
import datetime as dt
import json
import threading
import time
from typing import Any, Callable, Iterable

from braket_sandbox._http import DEFAULT_HOST, ServerHandle, cli_main
from braket_sandbox.braket.common import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    BraketApiError,
    _Fault,
    _TokenBucket,
    _utcnow,
    log,
)
from braket_sandbox.braket.devices import Device, DevicesMixin, default_devices
from braket_sandbox.braket.faults import DEFAULT_QUOTAS, OPERATIONS, FaultsMixin
from braket_sandbox.braket.http import HttpMixin
from braket_sandbox.braket.jobs import JobsMixin
from braket_sandbox.braket.runner import DeviceSimulator
from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
from braket_sandbox.braket.spending_limits import SpendingLimitsMixin
from braket_sandbox.braket.tasks import TasksMixin
from braket_sandbox.results import ResultStore

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


# ---------------------------------------------------------------------------------------------
# the emulator


class BraketEmulator(DevicesMixin, FaultsMixin, TasksMixin, HttpMixin, JobsMixin, SpendingLimitsMixin):
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
        self._runner: Any = None
        if results_s3:
            self.store_results(results_s3)

    # ----------------------------------------------------------------------------- lifecycle
    def start(self) -> "BraketEmulator":
        if self._server is None:
            self._server = ServerHandle(self, host=self.host, port=self.port)
        return self

    def stop(self) -> None:
        self.stop_devices()
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

        self._results = ResultStore(s3_endpoint_url, self.default_region)


    def run_devices(self, **knobs: Any) -> Any:
        """Start the devices: a :class:`braket_sandbox.braket.runner.DeviceSimulator` that moves each
        new task through QUEUED and RUNNING to COMPLETED (``knobs`` go to its constructor:
        ``queue_ahead_seconds``, ``start_delay_seconds``, ``seed``, ``hold``, ``devices``). It sees every
        event before ``on_event`` does. Returns it; :meth:`stop_devices` (or :meth:`stop`) stops it."""

        self.stop_devices()
        self._runner = DeviceSimulator(self, **knobs)
        return self._runner

    def stop_devices(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.stop()

    @property
    def devices_running(self) -> bool:
        return self._runner is not None

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


    def _emit(self, events: list[dict]) -> None:
        """Record events and deliver them to ``on_event`` (outside the state lock)."""
        if not events:
            return
        with self._lock:
            self._events.extend(copy.deepcopy(events))
        callbacks = [c for c in (getattr(self._runner, "on_event", None), self.on_event) if c is not None]
        for event in events:
            for callback in callbacks:
                self._deliver(callback, event)

    @staticmethod
    def _deliver(callback: Callable[[dict], Any], event: dict) -> None:
        try:
            callback(copy.deepcopy(event))
        except Exception:  # noqa: BLE001 - a broken consumer must not break the API
            detail = event.get("detail", {})
            log.exception("on_event callback failed for %s", detail.get("quantumTaskArn") or detail.get("jobArn"))


    _DEVICE_FIELDS = {
        "deviceArn": "arn",
        "deviceName": "name",
        "providerName": "provider",
        "deviceType": "device_type",
        "deviceStatus": "status",
    }


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
    parser.add_argument("--no-devices", action="store_true",
                        help="do not run the devices: tasks stay CREATED until a test advances them (/_sandbox)")
    parser.add_argument("--queue-seconds", type=float, default=1.0,
                        help="each device is busy with other users' work this long before its first task (default 1)")
    parser.add_argument("--start-delay", type=float, default=1.0,
                        help="no task starts sooner than this after it was QUEUED (default 1)")
    parser.add_argument("--device-seed", type=int, default=2, help="seed of the devices' run times (default 2)")
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
    emu.default_limit_knobs = emu.limit_knobs = KNOB_VARIANTS[args.spending_limit_variant]
    if not args.no_devices:
        emu.run_devices(queue_ahead_seconds=args.queue_seconds, start_delay_seconds=args.start_delay,
                        seed=args.device_seed)
    return emu


def main(argv: list[str] | None = None) -> int:
    return cli_main(
        "Amazon Braket API emulator (boto3 endpoint_url target)", _start_cli, argv, _configure_cli
    )


if __name__ == "__main__":  # the errors live in braket.common, so a __main__ copy catches the same class
    raise SystemExit(main())
