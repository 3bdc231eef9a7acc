"""The AWS Price List (``pricing:GetProducts``, service ``AmazonBraket``) as price overrides.

Pure: it reads GetProducts items (each a JSON string, as the API returns them), maps each product
to a device ARN or an ML instance type, converts its unit to ours with Decimal, and compares the
result with the built-in table. ``braket-guard prices`` does the one AWS call and prints this.

The Price List names a device, not its ARN, and the exact attribute keys of Braket products are
not documented field by field: attributes are matched ignoring case, spaces and punctuation
(``deviceName``, ``devicename`` and the CSV's ``Device Name`` are one key), a device name is
matched the same way against the ARNs we know, and what cannot be matched is reported, never
guessed into an ARN.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, Sequence

from braket_guard.core import strict
from braket_guard.core.events import DEVICE_ARN
from braket_guard.core.pricing import INSTANCE_TYPE, builtin_table, device_kind

__all__ = ["DEVICE_ARN", "builtin_table", "compare", "load_items", "read_price_list"]

SERVICE_CODE = "AmazonBraket"
QUANTUM_TASK = "Quantum Task"
QUANTUM_TASK_SHOT = "Quantum Task-Shot"
SIMULATOR_TASK = "Simulator Task"
JOB_INSTANCE = "Braket Managed Jobs Instance"
JOB_QPU_TASK = "Braket Managed Jobs QPU Task"
JOB_QPU_TASK_SHOT = "Braket Managed Jobs QPU Task Shot"
JOB_SIMULATOR_TASK = "Braket Managed Jobs Simulator Task"
# Billed by Braket but not something the guard prices (storage per GB-month, reservations).
NOT_PRICED = ("Braket Managed Jobs Volume", "Quantum Reservation")
# family -> (the override field it sets, whether it prices tasks a hybrid job creates)
FAMILIES = {
    QUANTUM_TASK: ("per_task_usd", False),
    QUANTUM_TASK_SHOT: ("per_shot_usd", False),
    SIMULATOR_TASK: ("per_minute_usd", False),
    JOB_INSTANCE: ("per_hour_usd", False),
    JOB_QPU_TASK: ("per_task_usd", True),
    JOB_QPU_TASK_SHOT: ("per_shot_usd", True),
    JOB_SIMULATOR_TASK: ("per_minute_usd", True),
}
# Milliseconds per unit of a duration price; counted units for the per-task and per-shot fees.
DURATION_MS = {"millisecond": 1, "ms": 1, "second": 1000, "sec": 1000, "minute": 60_000,
               "min": 60_000, "hour": 3_600_000, "hr": 3_600_000}
COUNTED = {"per_task_usd": {"task", "quantumtask"}, "per_shot_usd": {"shot"}}
KNOWN_UNITS = set(DURATION_MS) | set().union(*COUNTED.values())
CENTS = Decimal("0.01")
PLACES = Decimal("1e-10")  # the Price List quotes ten decimals; a converted rate keeps as many
SIMULATOR_ARN = "arn:aws:braket:::device/quantum-simulator/amazon/{}"
ON_DEMAND_OPERATION = "completetask"  # the SDK Tracker's operation for on-demand simulator tasks


class PriceListError(ValueError):
    """A saved GetProducts response that cannot be read at all."""


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _attr(attributes: Mapping[str, Any], *names: str) -> str:
    """An attribute by any spelling of its name (``regionCode``, ``Region Code``, ``regioncode``)."""
    wanted = {_norm(n) for n in names}
    for key, value in attributes.items():
        if _norm(key) in wanted and isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _unit(text: str) -> str:
    """``Shots``, ``shot``, ``Hrs``, ``minutes`` -> ``shot``, ``shot``, ``hr``, ``minute``."""
    unit = _norm(text)
    singular = unit[:-1] if unit.endswith("s") else unit
    return singular if singular in KNOWN_UNITS else unit


def usd_text(amount: Decimal) -> str:
    """A non-negative Decimal as the plain decimal string our prices use: no exponent, at least
    cents ("0.30"), and at most ten decimals (a rate converted by division), rounded up."""
    amount = amount.normalize()
    if amount.as_tuple().exponent < PLACES.as_tuple().exponent:
        amount = amount.quantize(PLACES, rounding=ROUND_CEILING).normalize()
    if amount.as_tuple().exponent > -2:
        amount = amount.quantize(CENTS)
    return f"{amount:f}"


@dataclass(frozen=True)
class Rate:
    """One usable Price List product: a price for one field of one device or instance type."""

    key: str
    field: str
    usd: Decimal
    family: str
    region: str
    job_task: bool
    sku: str


@dataclass
class Reading:
    """Every item of a response, sorted into what the guard can use and what it cannot."""

    rates: list[Rate] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # a Braket product we could not tie to a key
    unusable: list[str] = field(default_factory=list)  # a product whose price or unit we cannot read
    not_priced: dict[str, int] = field(default_factory=dict)  # families the guard does not price
    unknown_families: dict[str, int] = field(default_factory=dict)


# A price outside the guard's one money range (strict.usd: 0 to strict.MAX_USD, at most
# strict.MAX_NUMBER_CHARS characters) is a broken file, refused here (exit 2) rather than carried
# into overrides that BRAKET_GUARD_PRICES and Terraform would refuse.


def _json(text: str, where: str) -> Any:
    """Strict JSON: numbers as Decimal (no float, no int digit limit), nesting bounded by the
    parser's recursion limit (a RecursionError is a refused file, not a crash)."""
    try:
        return json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        raise PriceListError(f"{where}not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise PriceListError(f"{where}JSON nested too deeply") from None


def load_items(text: str) -> list[str | dict]:
    """A saved response: the PriceList array itself, or the whole GetProducts output."""
    data = _json(text, "")
    if isinstance(data, dict) and "PriceList" in data:
        data = data["PriceList"]
    if not isinstance(data, list):
        raise PriceListError("expected a JSON array of PriceList items (or a GetProducts response "
                             "with a PriceList member)")
    for i, item in enumerate(data):
        if not isinstance(item, (str, dict)):
            raise PriceListError(f"PriceList[{i}]: expected a JSON string, got {type(item).__name__}")
    return data


def _parse_item(item: str | dict, where: str) -> dict:
    if isinstance(item, dict):
        return item
    try:
        parsed = json.loads(item, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        raise PriceListError(f"{where}: not a JSON document ({exc.msg})") from None
    except RecursionError:
        raise PriceListError(f"{where}: JSON nested too deeply") from None
    if not isinstance(parsed, dict):
        raise PriceListError(f"{where}: expected a JSON object")
    return parsed


def _member(value: Any, name: str) -> Mapping[str, Any]:
    """``value[name]`` when both are JSON objects, else an empty object (a malformed product is
    reported as having no usable price, never a crash)."""
    inner = value.get(name) if isinstance(value, Mapping) else None
    return inner if isinstance(inner, Mapping) else {}


def _on_demand_dimensions(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    terms = _member(_member(item, "terms"), "OnDemand")
    return [dim for term in terms.values() if isinstance(term, Mapping)
            for dim in _member(term, "priceDimensions").values() if isinstance(dim, Mapping)]


def _usd_of(dimension: Mapping[str, Any]) -> Decimal:
    raw = _member(dimension, "pricePerUnit").get("USD")
    shown = repr(raw)[:60]
    if not isinstance(raw, (str, Decimal)) or (isinstance(raw, str) and not re.fullmatch(
            r"[0-9]{1,400}(?:\.[0-9]{1,400})?(?:[eE][+-]?[0-9]{1,12})?", raw)):
        raise ValueError(f"pricePerUnit.USD is {shown}, not a decimal string")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"pricePerUnit.USD is {shown}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"pricePerUnit.USD is {shown}")
    try:
        return strict.usd(raw)
    except strict.StrictError as exc:
        # no price is this: the file is broken, not one product (exit 2, not an "unusable" row)
        raise PriceListError(f"pricePerUnit.USD is {shown}: {exc}") from None


def _convert(field_name: str, unit_text: str, amount: Decimal) -> Decimal:
    """The price in our unit: per task, per shot, per minute (simulators), per hour (instances)."""
    unit = _unit(unit_text)
    if field_name in COUNTED:
        if unit not in COUNTED[field_name]:
            raise ValueError(f"unit {unit_text!r} is not per {field_name.split('_')[1]}")
        return amount
    if unit not in DURATION_MS:
        raise ValueError(f"unit {unit_text!r} is not a duration")
    ours = 60_000 if field_name == "per_minute_usd" else 3_600_000
    return amount * ours / DURATION_MS[unit]


class KnownDevices:
    """Device ARNs by normalised name, to tie a Price List device name to its ARN."""

    def __init__(self, arns: Iterable[str]):
        self.by_name: dict[str, list[str]] = {}
        for arn in arns:
            if DEVICE_ARN.match(arn) and device_kind(arn) == "qpu":
                self.by_name.setdefault(_norm(arn.rsplit("/", 1)[1]), []).append(arn)

    def resolve(self, name: str, region: str) -> str | None:
        """The ARN of a QPU called ``name`` in ``region``: an exact known ARN, or a known device's
        provider and name in another region (a QPU's ARN differs only by its region)."""
        candidates = self.by_name.get(_norm(name), [])
        for arn in candidates:
            if DEVICE_ARN.match(arn).group("region") == region:
                return arn
        if candidates and region:
            match = DEVICE_ARN.match(candidates[0])
            return candidates[0].replace(f":{match.group('region')}::", f":{region}::", 1)
        return None


def _key_of(family: str, attributes: Mapping[str, Any], region: str, known: KnownDevices) -> str | None:
    if family == JOB_INSTANCE:
        named = _attr(attributes, "instanceType", "instance", "instanceName")
        if INSTANCE_TYPE.match(named):
            return named
        found = re.search(r"ml\.[a-z0-9]+\.[a-z0-9]+", " ".join(str(v) for v in attributes.values()))
        return found.group(0) if found else None
    if family in (SIMULATOR_TASK, JOB_SIMULATOR_TASK):
        name = _attr(attributes, "version", "simulator", "deviceName")
        return SIMULATOR_ARN.format(name.lower()) if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) else None
    name = _attr(attributes, "deviceName", "device")
    return known.resolve(name, region) if name else None


def _count(counts: dict[str, int], label: str) -> None:
    counts[label] = counts.get(label, 0) + 1


def _describe(family: str, sku: str, attributes: Mapping[str, Any]) -> str:
    shown = [f"{k}={v}" for k, v in sorted(attributes.items())
             if _norm(k) in ("devicename", "version", "instancetype", "regioncode", "usagetype")]
    return f"{family} sku {sku}" + (f" ({', '.join(shown)})" if shown else "")


REGIONLESS = (SIMULATOR_TASK, JOB_SIMULATOR_TASK, JOB_INSTANCE)  # keys that carry no region


def read_price_list(items: Sequence[str | dict], known_arns: Iterable[str],
                    price_region: str | None = None) -> Reading:
    """Sort every GetProducts item into usable rates and the reasons the rest were left out.

    Simulator ARNs and instance types carry no region; ``price_region`` prices them from that
    region's products alone (otherwise every region counts and ``compare`` takes the dearest).
    """
    known = KnownDevices(known_arns)
    reading = Reading()
    for i, raw in enumerate(items):
        item = _parse_item(raw, f"PriceList[{i}]")
        product = item.get("product", {}) if isinstance(item.get("product"), Mapping) else {}
        family = str(product.get("productFamily", "")).strip()
        attributes = product.get("attributes", {}) if isinstance(product.get("attributes"), Mapping) else {}
        sku = str(product.get("sku", "?"))
        if family in NOT_PRICED:
            _count(reading.not_priced, family)
            continue
        if family not in FAMILIES:
            _count(reading.unknown_families, family or "(no productFamily)")
            continue
        field_name, job_task = FAMILIES[family]
        region = _attr(attributes, "regionCode")
        operation = _attr(attributes, "operation")
        if family == SIMULATOR_TASK and operation and _norm(operation) != ON_DEMAND_OPERATION:
            _count(reading.not_priced, f"{family} ({operation})")  # not the per-task duration charge
            continue
        if price_region and family in REGIONLESS and region != price_region:
            _count(reading.not_priced, f"{family} (not {price_region})")
            continue
        key = _key_of(family, attributes, region, known)
        described = _describe(family, sku, attributes)
        if key is None:
            reading.unmapped.append(described)
            continue
        dimensions = _on_demand_dimensions(item)
        if not dimensions:
            reading.unusable.append(f"{described}: no OnDemand price dimension")
            continue
        try:
            # Tiered prices are not expected for Braket; take the dearest tier (never under-charge).
            usd = max(_convert(field_name, str(d.get("unit", "")), _usd_of(d)) for d in dimensions)
        except PriceListError as exc:
            raise PriceListError(f"PriceList[{i}] ({described}): {exc}") from None
        except ValueError as exc:
            reading.unusable.append(f"{described}: {exc}")
            continue
        reading.rates.append(Rate(key, field_name, usd, family, region, job_task, sku))
    return reading


@dataclass(frozen=True)
class Change:
    status: str  # added | changed | missing | same
    key: str
    field: str
    old: str | None
    new: str | None
    note: str = ""


@dataclass
class Comparison:
    changes: list[Change]
    overrides: dict[str, dict[str, str]]
    notes: list[str]


def _builtin_values(table: Mapping[str, Any]) -> dict[str, dict[str, Decimal]]:
    values: dict[str, dict[str, Decimal]] = {}
    fee = Decimal(str(table["default_qpu_per_task_usd"]))
    for arn, entry in table["devices"].items():
        if "per_minute_usd" in entry:
            values[arn] = {"per_minute_usd": Decimal(str(entry["per_minute_usd"]))}
        else:
            values[arn] = {"per_task_usd": Decimal(str(entry.get("per_task_usd", fee))),
                           "per_shot_usd": Decimal(str(entry["per_shot_usd"]))}
    for name, entry in table.get("job_instances", {}).items():
        values[name] = {"per_hour_usd": Decimal(str(entry["per_hour_usd"]))}
    return values


def compare(reading: Reading, table: Mapping[str, Any]) -> Comparison:
    """What the Price List says against the built-in table, and the overrides that close the gap.

    Several products for one key and field (a simulator or instance type priced in several
    regions) resolve to the dearest, as the guard never under-estimates; the spread is noted.
    Hybrid-job task families are compared with on-demand and noted: the guard charges a job's
    tasks at the device's one price.
    """
    listed: dict[str, dict[str, list[Rate]]] = {}
    jobs: dict[str, dict[str, list[Rate]]] = {}
    for rate in reading.rates:
        target = jobs if rate.job_task else listed
        target.setdefault(rate.key, {}).setdefault(rate.field, []).append(rate)
    builtin = _builtin_values(table)
    changes: list[Change] = []
    overrides: dict[str, dict[str, str]] = {}
    notes: list[str] = []
    chosen: dict[str, dict[str, Decimal]] = {}
    for key, fields in sorted(listed.items()):
        for field_name, rates in sorted(fields.items()):
            top = max(r.usd for r in rates)
            chosen.setdefault(key, {})[field_name] = top
            if len({r.usd for r in rates}) > 1:
                spread = ", ".join(f"{r.region or '?'} {usd_text(r.usd)}" for r in sorted(rates, key=lambda r: r.region))
                notes.append(f"{key} {field_name}: {len(rates)} prices ({spread}); using the dearest, {usd_text(top)}")
    for key in sorted(set(chosen) | set(builtin)):
        new, old = chosen.get(key), builtin.get(key)
        if new is None:
            changes.append(Change("missing", key, "", None, None, "in the built-in table, not in the Price List"))
            continue
        if "per_task_usd" in new and "per_shot_usd" not in new:
            notes.append(f"{key}: the Price List has a per-task fee but no per-shot price; left out")
            continue
        entry_changed = False
        for field_name in sorted(new):
            value = new[field_name]
            if old is None or field_name not in old:
                changes.append(Change("added", key, field_name, None, usd_text(value)))
                entry_changed = True
            elif old[field_name] != value:
                changes.append(Change("changed", key, field_name, usd_text(old[field_name]), usd_text(value)))
                entry_changed = True
            else:
                changes.append(Change("same", key, field_name, usd_text(value), usd_text(value)))
        if entry_changed:
            overrides[key] = {f: usd_text(v) for f, v in sorted(new.items())}
    for key, fields in sorted(jobs.items()):
        for field_name, rates in sorted(fields.items()):
            top = max(r.usd for r in rates)
            on_demand = chosen.get(key, {}).get(field_name)
            if on_demand is None or on_demand != top:
                notes.append(f"{key} {field_name}: hybrid-job tasks are listed at {usd_text(top)} "
                             f"(on-demand {usd_text(on_demand) if on_demand is not None else 'not listed'}); "
                             "the guard charges a job's tasks at the on-demand price")
    return Comparison(changes, overrides, notes)
