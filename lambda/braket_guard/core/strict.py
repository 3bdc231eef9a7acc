"""Strict primitives every boundary parses with: bounded JSON, bounded money, bounded counts.

Why one module: the same range must hold wherever a number enters (environment, action payload,
event, CLI, price file) and in Terraform's validation, or a value one side accepts breaks the
other (a price of 1e400 passed the parser, then made every ledger write fail and be retried
forever). Everything here is pure; a value outside its range raises ``ValueError`` with a
message the caller prefixes with the variable and field.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

MICROS_PER_USD = 1_000_000
# One range for every amount of money the guard is told: caps, prices, thresholds.
MAX_USD = Decimal(1_000_000_000)  # one billion dollars; Terraform's validation says the same
# One range for every count of shots a cap may hold (DynamoDB numbers keep 38 digits; the
# counters add task shots, each at most events.MAX_SHOTS, to this).
MAX_CAP_SHOTS = 10**15
MAX_NUMBER_CHARS = 40  # a number written as a string (Terraform validates the same length)
# A number literal in JSON may be longer: Terraform's jsonencode writes 100/3 with about 155
# digits. Its magnitude is bounded by the ranges below; this bounds the work and Python's own
# integer-digit limit (4,300).
MAX_JSON_NUMBER_CHARS = 400
MAX_JSON_CHARS = 1_000_000
MAX_JSON_DEPTH = 32
PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?\Z")


class StrictError(ValueError):
    """A value outside what the guard accepts; the message says the accepted range."""


def _reject_constant(name: str) -> Any:
    raise StrictError(f"{name} is not a number the guard accepts")


def _bounded_int(text: str) -> int:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise StrictError(f"a number of {len(text)} digits is out of range (at most {MAX_JSON_NUMBER_CHARS})")
    return int(text)


def _bounded_decimal(text: str) -> Decimal:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise StrictError(f"a number of {len(text)} characters is out of range (at most {MAX_JSON_NUMBER_CHARS})")
    return Decimal(text)


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, strings skipped (json would recurse that deep)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def loads_json(text: str) -> Any:
    """JSON with numbers as ``int``/``Decimal`` (never float), bounded in size, depth and digits.

    Raises ``StrictError`` (a ``ValueError``) with a one-line reason for anything else.
    """
    if not isinstance(text, str):
        raise StrictError(f"must be JSON text, got {type(text).__name__}")
    if len(text) > MAX_JSON_CHARS:
        raise StrictError(f"{len(text):,} characters of JSON is too long (at most {MAX_JSON_CHARS:,})")
    if _depth(text) > MAX_JSON_DEPTH:
        raise StrictError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_float=_bounded_decimal, parse_int=_bounded_int,
                          parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise StrictError(f"not valid JSON ({exc.msg} at position {exc.pos})") from None
    except StrictError:
        raise
    except (ValueError, RecursionError, InvalidOperation) as exc:  # pragma: no cover - bounded above
        raise StrictError(f"not usable JSON ({type(exc).__name__})") from None


def usd(value: Any, *, allow_plain_string_only: bool = False) -> Decimal:
    """An amount of US dollars from 0 to ``MAX_USD``: an int, a Decimal or a decimal string.

    Never a float (it has already lost the cents) nor a bool. ``allow_plain_string_only``: a
    string must be a plain decimal such as "0.08" (no sign, exponent or spaces), as Terraform's
    string validations accept.
    """
    if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, (int, Decimal, str)):
        raise StrictError(f"must be a number of US dollars (a decimal string or number), got {brief(value)}")
    if isinstance(value, str):
        if len(value) > MAX_NUMBER_CHARS:
            raise StrictError(f"a number of {len(value)} characters is out of range (at most {MAX_NUMBER_CHARS})")
        if allow_plain_string_only and not PLAIN_DECIMAL.match(value):
            raise StrictError(f"must be a non-negative decimal string such as \"0.08\" (no sign, exponent "
                              f"or spaces), got {brief(value)}")
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise StrictError(f"not a number: {brief(value)}") from None
    elif isinstance(value, int):
        if abs(value) > 10**MAX_JSON_NUMBER_CHARS:
            raise StrictError(f"out of range: from 0 to {MAX_USD:,} US dollars")
        amount = Decimal(value)
    else:
        amount = value
    if not amount.is_finite():
        raise StrictError(f"not a finite amount: {brief(value)}")
    if amount < 0 or amount > MAX_USD:
        raise StrictError(f"out of range: must be from 0 to {MAX_USD:,} US dollars, got {brief(value)}")
    return amount


def usd_micros(value: Any, rounding: str, **kwargs: Any) -> int:
    """``usd`` as micro-dollars, rounded ``ROUND_CEILING`` (prices) or ``ROUND_FLOOR`` (limits)."""
    amount = usd(value, **kwargs)
    if amount and amount.adjusted() < -12:  # far below a micro-dollar: round without huge exponents
        return 1 if rounding == ROUND_CEILING else 0
    return int((amount * MICROS_PER_USD).to_integral_value(rounding=rounding))


def price_micros(value: Any, **kwargs: Any) -> int:
    return usd_micros(value, ROUND_CEILING, **kwargs)


def limit_micros(value: Any, **kwargs: Any) -> int:
    return usd_micros(value, ROUND_FLOOR, **kwargs)


def whole(value: Any, maximum: int) -> int:
    """A whole number from 0 to ``maximum`` (an int, or a Decimal without a fraction)."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise StrictError(f"must be a whole number from 0 to {maximum:,}, got {brief(value)}")
    if isinstance(value, Decimal) and (not value.is_finite() or value != value.to_integral_value()):
        raise StrictError(f"must be a whole number from 0 to {maximum:,}, got {brief(value)}")
    if value < 0 or value > maximum:
        raise StrictError(f"out of range: must be a whole number from 0 to {maximum:,}, got {brief(value)}")
    return int(value)


def brief(value: Any, limit: int = 80) -> str:
    """A short, safe rendering of untrusted input for a message: never recurses into it."""
    if isinstance(value, str):
        text = repr(value[:limit])
    elif isinstance(value, bool) or value is None:
        text = repr(value)
    elif isinstance(value, int):
        digits = len(str(abs(value))) if abs(value) < 10**MAX_NUMBER_CHARS else None
        text = str(value) if digits is not None else f"an integer of more than {MAX_NUMBER_CHARS} digits"
    elif isinstance(value, Decimal):
        text = str(value)
    elif isinstance(value, (dict, list, tuple)):
        text = f"a {type(value).__name__} of {len(value)} item(s)"
    else:
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit + 2 else text[:limit] + "..."
