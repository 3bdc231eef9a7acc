"""strict.py: the one range of money and shots, bounded JSON, safe renderings (pure)."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given, strategies as st

from braket_guard.core import strict


@pytest.mark.parametrize("value,micros", [
    ("0", 0), (0, 0), ("1000000000", 10**15), (Decimal("0.0000001"), 0), ("25.5", 25_500_000),
    (Decimal("1E-30"), 0),
])
def test_limits_in_range_round_down(value, micros):
    assert strict.limit_micros(value) == micros


def test_prices_round_up_even_far_below_a_micro_dollar():
    assert strict.price_micros("0.0000001") == 1
    assert strict.price_micros(Decimal("1E-30")) == 1
    assert strict.usd_micros("0", ROUND_CEILING) == 0


@pytest.mark.parametrize("value", [
    "1e400", "1e999999", Decimal("1e999999"), "-1", -1, "1000000000.000001", "huge int", 1.5, True, None,
    "NaN", "Infinity", Decimal("NaN"), "1" * 41, [], {}, "abc", "",
])
def test_money_outside_the_range_is_a_value_error(value):
    value = 10**5000 if value == "huge int" else value  # built here: pytest cannot print its id
    with pytest.raises(ValueError):
        strict.limit_micros(value)


@pytest.mark.parametrize("value", ["1e3", "+1", " 1", "1 ", "1_000", "٣"])
def test_plain_strings_only_where_terraform_says_so(value):
    with pytest.raises(ValueError):
        strict.price_micros(value, allow_plain_string_only=True)


@pytest.mark.parametrize("text", [
    "[" * 33 + "]" * 33, "9" * 401, "[" + "9" * 5000 + "]", '{"a": NaN}', "[Infinity]", "x" * 1_000_001,
    "{", '"\\ud800"x',
])
def test_bounded_json_refuses(text):
    with pytest.raises(strict.StrictError):
        strict.loads_json(text)


def test_bounded_json_keeps_numbers_exact_and_ignores_brackets_in_strings():
    assert strict.loads_json('[{"a": 0.1, "b": 10, "s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]') == [
        {"a": Decimal("0.1"), "b": 10, "s": "[" * 40}]
    assert strict.loads_json("[" * 32 + "]" * 32) is not None


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=20))
def test_brief_is_short_and_never_fails(value):
    text = strict.brief(value)
    assert isinstance(text, str) and len(text) <= 85


def test_brief_of_a_huge_integer_and_a_deep_dict():
    deep: dict = {}
    for _ in range(100_000):
        deep = {"a": deep}
    assert "more than 40 digits" in strict.brief(10**5000)
    assert strict.brief(deep) == "a dict of 1 item(s)"


@pytest.mark.parametrize("value,ok", [(0, True), (10**15, True), (10**15 + 1, False), (Decimal("1.5"), False),
                                      (Decimal("2"), True), (-1, False), (True, False), ("5", False)])
def test_whole_numbers(value, ok):
    if ok:
        assert strict.whole(value, 10**15) == int(value)
    else:
        with pytest.raises(ValueError):
            strict.whole(value, 10**15)
