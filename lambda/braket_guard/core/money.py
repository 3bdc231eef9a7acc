"""Money as integer micro-dollars: exact arithmetic, no float anywhere.

Prices are rounded *up* to the micro-dollar (the guard never under-estimates a charge) and
limits *down* (it never allows more than the user wrote).
"""

from __future__ import annotations

from decimal import Decimal

from braket_guard.core import strict
from braket_guard.core.strict import MICROS_PER_USD

__all__ = ["MICROS_PER_USD", "usd_to_micros_ceil", "usd_to_micros_floor", "micros_to_decimal",
           "format_usd", "micros_to_str"]


def usd_to_micros_ceil(value: object) -> int:
    """A price in USD as micro-dollars, rounded up (0 to strict.MAX_USD, else ValueError)."""
    return strict.price_micros(value)


def usd_to_micros_floor(value: object) -> int:
    """A limit in USD as micro-dollars, rounded down (0 to strict.MAX_USD, else ValueError)."""
    return strict.limit_micros(value)


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
