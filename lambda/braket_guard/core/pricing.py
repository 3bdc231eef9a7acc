"""What a task or a job's instances cost, in micro-dollars: pure functions of prices and usage.

Prices are data (``prices.json``), overridable per device ARN or per ML instance type by
``BRAKET_GUARD_PRICES``; a device in neither is priced from its ``GetDevice`` capabilities by the
caller (``price_from_device_cost``). Built-in entries say where their figure comes from
(``source``, ``as_of``); that provenance never changes a price.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any, Mapping

from braket_guard.core import strict
from braket_guard.core.events import is_device_arn
from braket_guard.core.money import usd_to_micros_ceil
from braket_guard.core.strict import brief

QPU = "qpu"
SIMULATOR = "simulator"
# A price given as a string is a plain decimal (what Terraform's validation accepts): no sign,
# exponent, spaces or digit separators, which Decimal() would otherwise take.
DECIMAL_STRING = re.compile(r"^[0-9]+(\.[0-9]+)?\Z")
# An ML instance type as Braket hybrid jobs name it (``ml.m5.large``); variables.tf uses the same.
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+\Z")
AS_OF = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
PROVENANCE = ("source", "as_of")
MS_PER_HOUR = 3_600_000
MAX_MINIMUM_SECONDS = 86_400  # a simulator's minimum billed duration: at most a day


class PriceError(ValueError):
    """A price entry that cannot be used (names the device and the field)."""


@dataclass(frozen=True)
class Price:
    """Per-task plus per-shot (QPU), or per-minute with a minimum billed duration (simulator)."""

    per_task_micros: int = 0
    per_shot_micros: int = 0
    per_minute_micros: int = 0
    minimum_ms: int = 0

    @property
    def by_duration(self) -> bool:
        return self.per_minute_micros > 0


def device_kind(device_arn: str) -> str:
    """``qpu`` or ``simulator``, from the ARN (``device/qpu/...`` or ``device/quantum-simulator/...``)."""
    return SIMULATOR if "/quantum-simulator/" in device_arn else QPU


def task_cost_micros(price: Price, shots: int) -> int:
    """Cost charged at admission: QPU fee + shots x per-shot; simulator at its minimum duration."""
    if price.by_duration:
        return duration_cost_micros(price, price.minimum_ms)
    return price.per_task_micros + price.per_shot_micros * shots


def duration_cost_micros(price: Price, billed_ms: int) -> int:
    """Simulator cost for a billed duration (never below the minimum), rounded up."""
    billed = max(billed_ms, price.minimum_ms)
    return -(-price.per_minute_micros * billed // 60_000)


def instance_cost_micros(per_hour_micros: int, instance_count: int, billed_ms: int) -> int:
    """A hybrid job's instance time: rate x instances x duration, rounded up, never negative.

    Negative inputs (a clock that ran backwards, a bad record) count as zero rather than as a
    refund: a charge is never turned into a credit here.
    """
    usage = max(per_hour_micros, 0) * max(instance_count, 0) * max(billed_ms, 0)
    return -(-usage // MS_PER_HOUR)


@dataclass(frozen=True)
class PriceBook:
    """Known prices by device ARN and by job instance type, plus the defaults used for devices
    priced from GetDevice."""

    prices: Mapping[str, Price]
    default_qpu_per_task_micros: int
    default_simulator_minimum_ms: int
    job_instances: Mapping[str, int] = field(default_factory=dict)

    def lookup(self, device_arn: str) -> Price | None:
        return self.prices.get(device_arn)

    def job_instance_price(self, instance_type: str) -> int | None:
        """Micro-dollars per instance-hour for an ML instance type; None when unknown."""
        return self.job_instances.get(instance_type)


def _check_fields(key: str, entry: Any, known: set[str], where: str, builtin: bool) -> None:
    """An entry is an object of known fields; built-in entries must say where they come from."""
    if not isinstance(entry, dict):
        raise PriceError(f"{where}[{brief(key)}]: must be an object, got {type(entry).__name__}")
    allowed = known | set(PROVENANCE) if builtin else known
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise PriceError(f"{where}[{brief(key)}]: unknown field(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(allowed))}")
    if builtin:
        for name in PROVENANCE:
            if not isinstance(entry.get(name), str) or not entry[name].strip():
                raise PriceError(f"{where}[{brief(key)}].{name}: every built-in price says its {name} "
                                 "(a non-empty string)")
        if not AS_OF.match(entry["as_of"]):
            raise PriceError(f"{where}[{brief(key)}].as_of: must be a date YYYY-MM-DD, got {brief(entry['as_of'])}")


def _usd(key: str, entry: Mapping[str, Any], name: str, where: str) -> int:
    try:
        return strict.price_micros(entry[name], allow_plain_string_only=True)
    except ValueError as exc:
        raise PriceError(f"{where}[{brief(key)}].{name}: {exc}") from None


def _entry_to_instance_price(instance_type: str, entry: Any, where: str, builtin: bool = False) -> int:
    """An ML instance type's ``{"per_hour_usd": ...}`` as micro-dollars per instance-hour."""
    _check_fields(instance_type, entry, {"per_hour_usd"}, where, builtin)
    if "per_hour_usd" not in entry:
        raise PriceError(f"{where}[{brief(instance_type)}]: an instance type needs per_hour_usd")
    return _usd(instance_type, entry, "per_hour_usd", where)


def _entry_to_price(device_arn: str, entry: Any, defaults: Mapping[str, Any], where: str,
                    builtin: bool = False) -> Price:
    known = {"per_task_usd", "per_shot_usd", "per_minute_usd", "minimum_seconds"}
    if isinstance(entry, dict) and "per_hour_usd" in entry:
        raise PriceError(f"{where}[{brief(device_arn)}].per_hour_usd: only ML instance types (ml.*) "
                         "are priced per hour; a device takes per_shot_usd or per_minute_usd")
    _check_fields(device_arn, entry, known, where, builtin)

    def usd(name: str) -> int:
        return _usd(device_arn, entry, name, where)

    if "per_minute_usd" in entry:
        if "per_shot_usd" in entry or "per_task_usd" in entry:
            raise PriceError(f"{where}[{brief(device_arn)}]: give per_minute_usd (simulator) "
                             "or per_task_usd/per_shot_usd (QPU), not both")
        seconds = entry.get("minimum_seconds", defaults["default_simulator_minimum_seconds"])
        if (isinstance(seconds, bool) or not isinstance(seconds, (int, Decimal)) or not 0 <= seconds <= MAX_MINIMUM_SECONDS):
            raise PriceError(f"{where}[{brief(device_arn)}].minimum_seconds: must be a number of seconds from 0 "
                             f"to {MAX_MINIMUM_SECONDS:,}, got {brief(seconds)}")
        return Price(per_minute_micros=usd("per_minute_usd"),
                     minimum_ms=int(Decimal(seconds) * 1000))
    if "per_shot_usd" not in entry:
        raise PriceError(f"{where}[{brief(device_arn)}]: needs per_shot_usd (QPU) or per_minute_usd (simulator)")
    per_task = usd("per_task_usd") if "per_task_usd" in entry else usd_to_micros_ceil(
        defaults["default_qpu_per_task_usd"])
    return Price(per_task_micros=per_task, per_shot_micros=usd("per_shot_usd"))


def _load_json(text: str, where: str = "prices") -> Any:
    try:
        return strict.loads_json(text)
    except ValueError as exc:
        raise PriceError(f"{where}: {exc}") from None


def builtin_table() -> dict[str, Any]:
    return _load_json(resources.files(__package__).joinpath("prices.json").read_text("utf-8"))


def build_price_book(overrides_json: str | None = None) -> PriceBook:
    """The built-in table with ``BRAKET_GUARD_PRICES`` applied on top (override wins per device)."""
    table = builtin_table()
    prices = {arn: _entry_to_price(arn, entry, table, "prices.json", builtin=True)
              for arn, entry in table["devices"].items()}
    instances = {name: _entry_to_instance_price(name, entry, "prices.json job_instances", builtin=True)
                 for name, entry in table.get("job_instances", {}).items()}
    if overrides_json:
        overrides = _load_json(overrides_json, "BRAKET_GUARD_PRICES")
        if not isinstance(overrides, dict):
            raise PriceError("BRAKET_GUARD_PRICES: must be a JSON object keyed by device ARN "
                             "or ML instance type")
        for key, entry in overrides.items():
            if INSTANCE_TYPE.match(key):
                instances[key] = _entry_to_instance_price(key, entry, "BRAKET_GUARD_PRICES")
            elif is_device_arn(key):
                prices[key] = _entry_to_price(key, entry, table, "BRAKET_GUARD_PRICES")
            else:
                raise PriceError(f"BRAKET_GUARD_PRICES[{brief(key)}]: key must be a Braket device ARN "
                                 "or an ML instance type such as ml.m5.large")
    return PriceBook(
        prices=prices,
        default_qpu_per_task_micros=usd_to_micros_ceil(table["default_qpu_per_task_usd"]),
        default_simulator_minimum_ms=int(table["default_simulator_minimum_seconds"]) * 1000,
        job_instances=instances,
    )


def price_from_device_cost(book: PriceBook, device_arn: str, capabilities_json: str) -> Price:
    """Price from GetDevice's ``deviceCapabilities.service.deviceCost`` ({price, unit})."""
    try:
        caps = strict.loads_json(capabilities_json)
        cost = caps["service"]["deviceCost"]
        amount, unit = cost["price"], str(cost["unit"]).lower()
    except (ValueError, KeyError, TypeError) as exc:
        raise PriceError(f"{device_arn}: deviceCapabilities has no usable service.deviceCost ({exc})"[:300]) from None
    try:
        micros = strict.price_micros(amount)
    except ValueError as exc:
        raise PriceError(f"{device_arn}: deviceCost.price {exc}") from None
    if unit == "shot":
        return Price(per_task_micros=book.default_qpu_per_task_micros, per_shot_micros=micros)
    if unit == "minute":
        return Price(per_minute_micros=micros, minimum_ms=book.default_simulator_minimum_ms)
    raise PriceError(f"{device_arn}: unknown deviceCost unit {brief(unit)}")
