"""What a task costs, in micro-dollars: a pure function of a price and the shots.

Prices are data (``prices.json``), overridable per device by ``BRAKET_GUARD_PRICES``; a device
in neither is priced from its ``GetDevice`` capabilities by the caller (``price_from_device_cost``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any, Mapping

from .events import DEVICE_ARN
from .money import usd_to_micros_ceil

QPU = "qpu"
SIMULATOR = "simulator"
# A price given as a string is a plain decimal (what Terraform's validation accepts): no sign,
# exponent, spaces or digit separators, which Decimal() would otherwise take.
DECIMAL_STRING = re.compile(r"^[0-9]+(\.[0-9]+)?\Z")


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


@dataclass(frozen=True)
class PriceBook:
    """Known prices by device ARN plus the defaults used for devices priced from GetDevice."""

    prices: Mapping[str, Price]
    default_qpu_per_task_micros: int
    default_simulator_minimum_ms: int

    def lookup(self, device_arn: str) -> Price | None:
        return self.prices.get(device_arn)


def _entry_to_price(device_arn: str, entry: Any, defaults: Mapping[str, Any], where: str) -> Price:
    if not isinstance(entry, dict):
        raise PriceError(f"{where}[{device_arn!r}]: must be an object, got {type(entry).__name__}")
    known = {"per_task_usd", "per_shot_usd", "per_minute_usd", "minimum_seconds"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise PriceError(f"{where}[{device_arn!r}]: unknown field(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(known))}")

    def usd(field: str) -> int:
        if isinstance(entry[field], str) and not DECIMAL_STRING.match(entry[field]):
            raise PriceError(f"{where}[{device_arn!r}].{field}: must be a non-negative decimal string "
                             f"such as \"0.08\" (no sign, exponent or spaces), got {entry[field]!r}")
        try:
            micros = usd_to_micros_ceil(entry[field])
        except ValueError as exc:
            raise PriceError(f"{where}[{device_arn!r}].{field}: {exc}") from None
        if micros < 0:
            raise PriceError(f"{where}[{device_arn!r}].{field}: must not be negative")
        return micros

    if "per_minute_usd" in entry:
        if "per_shot_usd" in entry or "per_task_usd" in entry:
            raise PriceError(f"{where}[{device_arn!r}]: give per_minute_usd (simulator) "
                             "or per_task_usd/per_shot_usd (QPU), not both")
        seconds = entry.get("minimum_seconds", defaults["default_simulator_minimum_seconds"])
        if isinstance(seconds, bool) or not isinstance(seconds, (int, Decimal)) or seconds < 0:
            raise PriceError(f"{where}[{device_arn!r}].minimum_seconds: must be a non-negative number")
        return Price(per_minute_micros=usd("per_minute_usd"),
                     minimum_ms=int(Decimal(seconds) * 1000))
    if "per_shot_usd" not in entry:
        raise PriceError(f"{where}[{device_arn!r}]: needs per_shot_usd (QPU) or per_minute_usd (simulator)")
    per_task = usd("per_task_usd") if "per_task_usd" in entry else usd_to_micros_ceil(
        defaults["default_qpu_per_task_usd"])
    return Price(per_task_micros=per_task, per_shot_micros=usd("per_shot_usd"))


def _load_json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def builtin_table() -> dict[str, Any]:
    return _load_json(resources.files(__package__).joinpath("prices.json").read_text("utf-8"))


def build_price_book(overrides_json: str | None = None) -> PriceBook:
    """The built-in table with ``BRAKET_GUARD_PRICES`` applied on top (override wins per device)."""
    table = builtin_table()
    prices = {arn: _entry_to_price(arn, entry, table, "prices.json")
              for arn, entry in table["devices"].items()}
    if overrides_json:
        try:
            overrides = _load_json(overrides_json)
        except json.JSONDecodeError as exc:
            raise PriceError(f"BRAKET_GUARD_PRICES: not valid JSON ({exc.msg} at position {exc.pos})") from None
        if not isinstance(overrides, dict):
            raise PriceError("BRAKET_GUARD_PRICES: must be a JSON object keyed by device ARN")
        for arn, entry in overrides.items():
            if not DEVICE_ARN.match(arn):
                raise PriceError(f"BRAKET_GUARD_PRICES[{arn!r}]: key must be a Braket device ARN")
            prices[arn] = _entry_to_price(arn, entry, table, "BRAKET_GUARD_PRICES")
    return PriceBook(
        prices=prices,
        default_qpu_per_task_micros=usd_to_micros_ceil(table["default_qpu_per_task_usd"]),
        default_simulator_minimum_ms=int(table["default_simulator_minimum_seconds"]) * 1000,
    )


def price_from_device_cost(book: PriceBook, device_arn: str, capabilities_json: str) -> Price:
    """Price from GetDevice's ``deviceCapabilities.service.deviceCost`` ({price, unit})."""
    try:
        caps = _load_json(capabilities_json)
        cost = caps["service"]["deviceCost"]
        amount, unit = cost["price"], str(cost["unit"]).lower()
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise PriceError(f"{device_arn}: deviceCapabilities has no usable service.deviceCost ({exc})") from None
    micros = usd_to_micros_ceil(amount)
    if micros < 0:
        raise PriceError(f"{device_arn}: negative deviceCost")
    if unit == "shot":
        return Price(per_task_micros=book.default_qpu_per_task_micros, per_shot_micros=micros)
    if unit == "minute":
        return Price(per_minute_micros=micros, minimum_ms=book.default_simulator_minimum_ms)
    raise PriceError(f"{device_arn}: unknown deviceCost unit {unit!r}")
