"""Money as integer micro-dollars: exact arithmetic, no float anywhere.

Prices are rounded *up* to the micro-dollar (the guard never under-estimates a charge) and
limits *down* (it never allows more than the user wrote).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

MICROS_PER_USD = 1_000_000


def _as_decimal(value: object) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        # A float has already lost the cents; callers parse JSON with parse_float=Decimal.
        raise ValueError(f"money must be a decimal string or integer, not {type(value).__name__}")
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return amount


def usd_to_micros_ceil(value: object) -> int:
    """A price in USD as micro-dollars, rounded up."""
    return int((_as_decimal(value) * MICROS_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def usd_to_micros_floor(value: object) -> int:
    """A limit in USD as micro-dollars, rounded down."""
    return int((_as_decimal(value) * MICROS_PER_USD).to_integral_value(rounding=ROUND_FLOOR))


def micros_to_decimal(micros: int) -> Decimal:
    return Decimal(micros) / MICROS_PER_USD


def format_usd(micros: int) -> str:
    """Human text: cents for ordinary amounts, more digits only when they matter."""
    amount = micros_to_decimal(micros)
    cents = amount.quantize(Decimal("0.01"))
    if cents == amount or abs(micros) >= 10 * MICROS_PER_USD:
        text = f"{cents:,.2f}"
    else:
        text = f"{amount.normalize():f}"
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


def micros_to_str(micros: int) -> str:
    """Exact decimal string for JSON output: at least two decimals, e.g. 1440000 -> "1.44"."""
    amount = micros_to_decimal(micros)
    cents = amount.quantize(Decimal("0.01"))
    return f"{cents:f}" if cents == amount else f"{amount.normalize():f}"
