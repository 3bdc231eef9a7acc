"""Native spending limits for the Braket emulator, and tagging of the emulator's resources.

A mixin of :class:`braket_sandbox.emulator.BraketEmulator` (it uses the emulator's lock, devices,
tasks and events), so that Braket's own per-device cost control lives beside tasks and jobs without
changing them. Why it exists: the guard's freeze and mirror modes drive these limits, and the
benchmark measures what a limit that rejects at ``CreateQuantumTask`` saves over cancelling. It
follows the botocore ``braket`` 2019-09-01 model:

====================  ===============================================  ====  =========================
CreateSpendingLimit   POST   /spending-limit                           201   ``{spendingLimitArn}``
UpdateSpendingLimit   PATCH  /spending-limit/{spendingLimitArn}/update 200   ``{}``
DeleteSpendingLimit   DELETE /spending-limit/{spendingLimitArn}/delete 200   ``{}``
SearchSpendingLimits  POST   /spending-limits                          200   ``{spendingLimits, nextToken?}``
TagResource           POST   /tags/{resourceArn}                       200   ``{}``
UntagResource         DELETE /tags/{resourceArn}?tagKeys=...           200   ``{}``
ListTagsForResource   GET    /tags/{resourceArn}                       200   ``{tags}``
====================  ===============================================  ====  =========================

What the model and the API reference say, and the emulator does:

- ``spendingLimit`` is a USD string matching ``\\d+(\\.\\d{1,2})?`` (whole string); ``clientToken``
  1-64 characters (a repeated token in the region returns the first limit's ARN); ``deviceArn``
  1-256 characters; ``timePeriod`` ``{startAt, endAt}`` in epoch seconds, both required when given;
  ``tags`` a string map. ARNs: ``arn:aws:braket:<region>:<account>:spending-limit/<uuid>``.
- One limit per QPU device, in that device's region. The errors CreateSpendingLimit may answer are
  AccessDenied, Throttling, DeviceRetired, InternalService and Validation (no ConflictException in
  the model), so a second limit for a device, a simulator, an unknown device or one of another region
  is a ``ValidationException``; a retired device is ``DeviceRetiredException`` (410). An OFFLINE QPU
  may get a limit.
- Update changes ``spendingLimit`` and/or ``timePeriod`` "immediately"; Update and Delete of an
  unknown ARN (or one of another region) are ``ResourceNotFoundException``; a malformed ARN is a
  ``ValidationException``. After Delete the device is unrestricted.
- Search: filters (0-10) only ``deviceArn`` with operator ``EQUAL`` (1-10 values); ``maxResults``
  1-100, default 20 (the model's documentation); results in creation order with a keyset
  ``nextToken``, so limits created while paging never repeat. Each summary carries
  ``spendingLimitArn, deviceArn, timePeriod, spendingLimit, queuedSpend, totalSpend, createdAt,
  updatedAt, tags``.
- Tags: the CloudFormation resource ``AWS::Braket::SpendingLimit`` manages tags through
  TagResource / UntagResource / ListTagsForResource, so those accept a spending-limit ARN; they also
  accept quantum-task and job ARNs (their ``tags`` are what GetQuantumTask / GetJob return). Unknown
  resource: ``ResourceNotFoundException``.

At ``CreateQuantumTask`` (the developer guide and the launch blog): the task's estimated cost is the
QPU list price times the requested shots; the request is refused with a ``ValidationException`` when
that exceeds ``spendingLimit - totalSpend - queuedSpend``; with a time period, tasks are accepted only
inside ``[startAt, endAt)``; a limit counts only tasks created during its period and after it existed
(tasks already there when it is created are never counted). Covered: on-demand and hybrid-job QPU
tasks; not covered: simulators (no limit possible) and tasks with a reservation association (not
checked, not counted). ``queuedSpend`` = estimated cost of the counted tasks not yet ended;
``totalSpend`` = cost of the counted tasks that COMPLETED (list price x ``numSuccessfulShots``, the
blog says unused shots are given back); CANCELLED and FAILED tasks cost 0. Each change of a limit's
spend by a task emits a "Braket Spending Limit Spend Change" event with ``quantumTaskArn, deviceArn,
spendingLimit, spendingLimitArn, totalSpend, queuedSpend, timePeriod``.

Uncertain, and chosen (configurable where it matters to the guard):

- Whether the estimate includes the per-task fee: "list price and requested shots" does not say.
  The emulator adds ``spending_task_fee`` (default 0.30 USD, the per-task fee of every QPU) to the
  per-shot price x shots; set it to ``Decimal(0)`` for shot-only estimates.
- Whether ``totalSpend`` restarts when ``timePeriod`` changes (the guard's rollover depends on it):
  with ``spend_resets_on_new_period`` (default True) a limit counts only the tasks created inside its
  current period, so a new period starts from zero; with False every task the limit once counted
  stays counted.
- A limit created without a time period reports ``timePeriod`` = {its creation time, 9999-12-31}
  (the summary requires the member; Braket's own value is not documented).
- ``endAt`` must be after ``startAt``; a period entirely in the past is accepted (then every task on
  the device is refused).
- Amounts are returned as plain decimal strings: ``spendingLimit`` as given, spends without exponent
  and without trailing zeros beyond cents (``"12.5"`` -> ``"12.50"``, ``"0.000425"`` kept).
- The refusal's wording is not published; the emulator's message names the estimate, the remaining
  amount and the limit's ARN.
- The Spend Change event's ``timePeriod`` carries ISO-8601 ``startAt`` / ``endAt``; no official
  example gives the format.

Knobs for the answers the guard must be right under whichever way Braket gives them
(:class:`SpendingKnobs`, ``emulator.limit_knobs``, reset by ``reset()``; :data:`KNOB_VARIANTS`
names one variant per knob, and the guard's native tests run under each):

- ``default_period``: the period a limit created without one gets, ``(created, created + it)``;
  None (default) = {created, 9999-12-31}.
- ``zero_refused``: ``spendingLimit`` ``0`` / ``0.00`` is a ValidationException (the pattern allows it).
- ``update_below_spend_refused``: an update to less than ``totalSpend + queuedSpend`` is refused.
- ``search_tags``: False = SearchSpendingLimits summaries carry no ``tags`` (optional in the model);
  ListTagsForResource still has them.
- ``exists_error``: how a second limit for a device is refused: ``"already"`` (default, a
  ValidationException saying "already exists"), ``"other"`` (a ValidationException worded without
  "already"), ``"conflict"`` (a ConflictException, not in the operation's model).
- ``outside_period``: ``"refuse"`` (default) = a task outside the limit's period is refused;
  ``"unlimited"`` = outside its period the limit does not apply (the API reference says only that
  the period is "when the limit is active").
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import threading
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from braket_sandbox.braket.common import BraketApiError, _to_ms, iso_ms, keyset_page, page_size, parse_time
from braket_sandbox.braket.spend import SpendMixin
from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS, SpendingKnobs, format_usd

__all__ = ["SPENDING_LIMIT_OPERATIONS", "SpendingLimitsMixin", "QPU_TASK_FEE", "format_usd", "SpendingKnobs",
           "KNOB_VARIANTS"]

SPENDING_LIMIT_OPERATIONS = (
    "CreateSpendingLimit",
    "UpdateSpendingLimit",
    "DeleteSpendingLimit",
    "SearchSpendingLimits",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
)

QPU_TASK_FEE = Decimal("0.30")
NO_END = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc)
DEFAULT_SEARCH_PAGE = 20

_AMOUNT_RE = re.compile(r"^\d+(\.\d{1,2})?$")
_LIMIT_ARN_RE = re.compile(r"^arn:aws[a-z-]*:braket:([a-z0-9-]+):(\d{12}):spending-limit/(.+)$")
_ANY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:braket:([a-z0-9-]*):(\d{12}):(quantum-task|job|spending-limit)/.+$")








class SpendingLimitsMixin(SpendMixin):
    """Spending limits and tagging of the emulator (state in ``self._spending_limits``, guarded by
    ``self._lock``)."""

    _lock: threading.RLock
    account_id: str
    default_region: str
    clock: Callable[[], dt.datetime]
    _tasks: dict[str, dict]

    def _init_spending_limits(self) -> None:
        self._spending_limits: dict[str, dict] = {}
        self._limit_tokens: dict[tuple[str, str], str] = {}
        self._limit_of_task: dict[str, tuple[str, Decimal]] = {}  # task ARN -> (limit ARN, estimate)
        self.spending_task_fee: Decimal = QPU_TASK_FEE
        self.spend_resets_on_new_period: bool = True
        self.default_limit_knobs = SpendingKnobs()  # what reset() restores (the CLI may choose it)
        self.limit_knobs = self.default_limit_knobs

    def _reset_spending_limits(self) -> None:
        self.limit_knobs = self.default_limit_knobs
        self._spending_limits.clear()
        self._limit_tokens.clear()
        self._limit_of_task.clear()

    # ----------------------------------------------------------------------------- Python API
    def create_spending_limit(self, region: str, device_arn: str, spending_limit: str, *,
                              time_period: tuple[Any, Any] | None = None, tags: dict[str, str] | None = None,
                              created_at: Any = None) -> str:
        """CreateSpendingLimit without HTTP (same checks); ``created_at`` backdates the limit."""

        body: dict[str, Any] = {"deviceArn": device_arn, "spendingLimit": spending_limit, "tags": dict(tags or {})}
        if time_period is not None:
            body["timePeriod"] = {"startAt": parse_time(time_period[0]).timestamp(),
                                  "endAt": parse_time(time_period[1]).timestamp()}
        return self._create_limit(region, body, None, None if created_at is None else parse_time(created_at))

    def spending_limit(self, arn: str) -> dict:
        """The limit as SearchSpendingLimits reports it, amounts as Decimal, times as datetimes."""
        with self._lock:
            limit = self._spending_limits[arn]
            total, queued = self._spend(limit)
            out = copy.deepcopy({k: v for k, v in limit.items() if k != "counted"})
            out.update(totalSpend=total, queuedSpend=queued, spendingLimit=Decimal(limit["spendingLimit"]))
            return out

    def spending_limits(self, region: str | None = None) -> list[dict]:
        with self._lock:
            arns = [a for a, lim in self._spending_limits.items() if region is None or lim["region"] == region]
        return [self.spending_limit(a) for a in arns]










    @staticmethod
    def _amount(value: Any, field: str) -> str:

        if not isinstance(value, str) or not _AMOUNT_RE.match(value):
            raise BraketApiError("ValidationException",
                                 f"{field} must be a USD amount matching \\d+(\\.\\d{{1,2}})?, got {value!r}")
        try:
            Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern already excludes it
            raise BraketApiError("ValidationException", f"{field} is not a number: {value!r}")
        return value

    @staticmethod
    def _time_period(value: Any) -> tuple[dt.datetime, dt.datetime]:

        if not isinstance(value, dict) or set(value) - {"startAt", "endAt"}:
            raise BraketApiError("ValidationException", "timePeriod must be {startAt, endAt}")
        out = []
        for field in ("startAt", "endAt"):
            number = value.get(field)
            if number is None:
                raise BraketApiError("ValidationException", f"timePeriod.{field} is required")
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise BraketApiError("ValidationException", f"timePeriod.{field} must be epoch seconds")
            try:
                out.append(dt.datetime.fromtimestamp(float(number), dt.timezone.utc))
            except (OverflowError, OSError, ValueError):
                raise BraketApiError("ValidationException", f"timePeriod.{field} is out of range")
        start, end = out
        if end <= start:
            raise BraketApiError("ValidationException", "timePeriod.endAt must be after timePeriod.startAt")
        return start, end

    @staticmethod
    def _tags(value: Any) -> dict[str, str]:

        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise BraketApiError("ValidationException", "tags must map strings to strings")
        return dict(value)

    def _create_limit(self, region: str, body: dict, client_token: str | None,
                      created_at: dt.datetime | None = None) -> str:

        device_arn = body.get("deviceArn")
        if not isinstance(device_arn, str) or not 1 <= len(device_arn) <= 256:
            raise BraketApiError("ValidationException", "deviceArn is required (1-256 characters)")
        if body.get("spendingLimit") is None:
            raise BraketApiError("ValidationException", "Missing required field: spendingLimit")
        amount = self._amount(body["spendingLimit"], "spendingLimit")
        if self.limit_knobs.zero_refused and Decimal(amount) == 0:
            raise BraketApiError("ValidationException", "spendingLimit must be greater than 0")
        period = None if body.get("timePeriod") is None else self._time_period(body["timePeriod"])
        tags = self._tags(body.get("tags"))
        with self._lock:
            if client_token is not None and (region, client_token) in self._limit_tokens:
                return self._limit_tokens[(region, client_token)]
            device = self._devices.get(device_arn)  # type: ignore[attr-defined]
            if device is None or not device.visible_from(region):
                raise BraketApiError("ValidationException", f"Device {device_arn} is not available in {region}")
            if device.device_type != "QPU":
                raise BraketApiError("ValidationException",
                                     f"Spending limits are not supported for simulators: {device_arn}")
            if device.status == "RETIRED":
                raise BraketApiError("DeviceRetiredException", f"Device {device_arn} is retired")
            existing = self._limit_for_device(region, device_arn)
            if existing is not None:
                wording = self.limit_knobs.exists_error
                if wording == "conflict":
                    raise BraketApiError("ConflictException", f"Device {device_arn} has spending limit "
                                                              f"{existing['spendingLimitArn']}")
                if wording == "other":
                    raise BraketApiError("ValidationException", f"Only one spending limit is allowed per "
                                                                f"device: {existing['spendingLimitArn']}")
                raise BraketApiError("ValidationException",
                                     f"A spending limit already exists for device {device_arn}: "
                                     f"{existing['spendingLimitArn']}")
            now = _to_ms(created_at or self.clock())
            if period is None and self.limit_knobs.default_period is not None:
                period = (now, now + self.limit_knobs.default_period)
            arn = f"arn:aws:braket:{region}:{self.account_id}:spending-limit/{uuid.uuid4()}"
            self._spending_limits[arn] = {
                "spendingLimitArn": arn, "region": region, "deviceArn": device_arn, "spendingLimit": amount,
                "timePeriod": period or (now, NO_END), "tags": tags, "createdAt": now, "updatedAt": now,
                "counted": [],
            }
            if client_token is not None:
                self._limit_tokens[(region, client_token)] = arn
            return arn

    def _lookup_limit(self, region: str, arn: Any) -> dict:

        if not isinstance(arn, str) or not _LIMIT_ARN_RE.match(arn):
            raise BraketApiError("ValidationException", f"Invalid spending limit ARN: {arn!r}")
        limit = self._spending_limits.get(arn)
        if limit is None or limit["region"] != region:
            raise BraketApiError("ResourceNotFoundException", f"Spending limit {arn} not found")
        return limit

    def _summary_of_limit(self, limit: dict) -> dict:

        total, queued = self._spend(limit)
        start, end = limit["timePeriod"]
        return {
            "spendingLimitArn": limit["spendingLimitArn"], "deviceArn": limit["deviceArn"],
            "timePeriod": {"startAt": int(start.timestamp()), "endAt": int(end.timestamp())},
            "spendingLimit": limit["spendingLimit"], "queuedSpend": format_usd(queued),
            "totalSpend": format_usd(total), "createdAt": iso_ms(limit["createdAt"]),
            "updatedAt": iso_ms(limit["updatedAt"]),
            **({"tags": dict(limit["tags"])} if self.limit_knobs.search_tags else {}),
        }

    def _tagged(self, region: str, arn: Any) -> dict:
        """The record whose ``tags`` TagResource & co. change (lock held)."""

        match = _ANY_ARN_RE.match(arn) if isinstance(arn, str) else None
        if match is None:
            raise BraketApiError("ValidationException", f"Invalid resource ARN: {arn!r}")
        kind = match.group(3)
        store = {"quantum-task": self._tasks, "job": self._jobs,  # type: ignore[attr-defined]
                 "spending-limit": self._spending_limits}[kind]
        record = store.get(arn)
        if record is None or record["region"] != region or match.group(2) != self.account_id:
            raise BraketApiError("ResourceNotFoundException", f"Resource {arn} not found")
        return record

    # ----------------------------------------------------------------------------- routes
    @staticmethod
    def route_spending(method: str, path: str) -> tuple[str | None, str | None]:
        if path == "/spending-limit" and method == "POST":
            return "CreateSpendingLimit", None
        if path == "/spending-limits" and method == "POST":
            return "SearchSpendingLimits", None
        if path.startswith("/spending-limit/"):
            rest = path[len("/spending-limit/"):]
            if rest.endswith("/update") and method == "PATCH":
                return "UpdateSpendingLimit", rest[: -len("/update")]
            if rest.endswith("/delete") and method == "DELETE":
                return "DeleteSpendingLimit", rest[: -len("/delete")]
        if path.startswith("/tags/") and len(path) > len("/tags/"):
            operation = {"POST": "TagResource", "DELETE": "UntagResource", "GET": "ListTagsForResource"}.get(method)
            if operation:
                return operation, path[len("/tags/"):]
        return None, None

    def _op_spending(self, operation: str, region: str, arn: str, body: dict,
                     query: dict) -> tuple[int, dict, list[dict]]:

        if operation == "CreateSpendingLimit":
            token = body.get("clientToken")
            if not isinstance(token, str) or not 1 <= len(token) <= 64:
                raise BraketApiError("ValidationException", "clientToken is required (1-64 characters)")
            return 201, {"spendingLimitArn": self._create_limit(region, body, token)}, []
        if operation == "UpdateSpendingLimit":
            return self._op_update_limit(region, arn, body)
        if operation == "DeleteSpendingLimit":
            with self._lock:
                limit = self._lookup_limit(region, arn)
                del self._spending_limits[limit["spendingLimitArn"]]
                for task_arn in limit["counted"]:
                    self._limit_of_task.pop(task_arn, None)
            return 200, {}, []
        if operation == "SearchSpendingLimits":
            return self._op_search_limits(region, body)
        if operation == "TagResource":
            if body.get("tags") is None:
                raise BraketApiError("ValidationException", "Missing required field: tags")
            tags = self._tags(body["tags"])
            with self._lock:
                self._tagged(region, arn)["tags"].update(tags)
            return 200, {}, []
        if operation == "UntagResource":
            keys = query.get("tagKeys")
            if not keys:
                raise BraketApiError("ValidationException", "Missing required parameter: tagKeys")
            with self._lock:
                record = self._tagged(region, arn)
                for key in keys:
                    record["tags"].pop(key, None)
            return 200, {}, []
        with self._lock:
            return 200, {"tags": dict(self._tagged(region, arn)["tags"])}, []

    def _op_update_limit(self, region: str, arn: str, body: dict) -> tuple[int, dict, list[dict]]:

        token = body.get("clientToken")
        if not isinstance(token, str) or not 1 <= len(token) <= 64:
            raise BraketApiError("ValidationException", "clientToken is required (1-64 characters)")
        amount = None if body.get("spendingLimit") is None else self._amount(body["spendingLimit"], "spendingLimit")
        period = None if body.get("timePeriod") is None else self._time_period(body["timePeriod"])
        with self._lock:
            limit = self._lookup_limit(region, arn)
            if amount is not None and self.limit_knobs.update_below_spend_refused:
                total, queued = self._spend(limit)
                if Decimal(amount) < total + queued:
                    raise BraketApiError("ValidationException", f"spendingLimit {amount} is below the current "
                                                                f"spend of {format_usd(total + queued)}")
            if amount is not None:
                limit["spendingLimit"] = amount
            if period is not None:
                limit["timePeriod"] = period
            limit["updatedAt"] = _to_ms(self.clock())
        return 200, {}, []

    def _op_search_limits(self, region: str, body: dict) -> tuple[int, dict, list[dict]]:
        size = page_size(body, DEFAULT_SEARCH_PAGE)
        filters = body.get("filters") or []
        if not isinstance(filters, list) or len(filters) > 10:
            raise BraketApiError("ValidationException", "filters must be a list of at most 10 filters")
        wanted: list[set[str]] = []
        for item in filters:
            if not isinstance(item, dict) or not all(item.get(k) is not None for k in ("name", "values", "operator")):
                raise BraketApiError("ValidationException", "each filter needs a name, values and an operator")
            if item["name"] != "deviceArn":
                raise BraketApiError("ValidationException",
                                     f"Invalid filter name {item['name']!r}: only deviceArn is supported")
            if item["operator"] != "EQUAL":
                raise BraketApiError("ValidationException", f"Invalid operator {item['operator']!r}: only EQUAL")
            values = item["values"]
            if not isinstance(values, list) or not 1 <= len(values) <= 10 or not all(
                    isinstance(v, str) and 1 <= len(v) <= 256 for v in values):
                raise BraketApiError("ValidationException", "each filter needs 1-10 values of 1-256 characters")
            wanted.append(set(values))

        def key(limit: dict) -> tuple[int, str]:
            return (int(limit["createdAt"].timestamp() * 1000), limit["spendingLimitArn"])

        with self._lock:
            matching = [lim for lim in self._spending_limits.values() if lim["region"] == region
                        and all(lim["deviceArn"] in w for w in wanted)]
            page, token = keyset_page(matching, key, body, size, newest_first=False)
            out: dict[str, Any] = {"spendingLimits": [self._summary_of_limit(lim) for lim in page]}
        if token:
            out["nextToken"] = token
        return 200, out, []

