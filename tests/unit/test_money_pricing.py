from decimal import Decimal

import pytest

from braket_guard.money import format_usd, micros_to_str, usd_to_micros_ceil, usd_to_micros_floor
from braket_guard.pricing import (Price, PriceError, build_price_book, device_kind, duration_cost_micros,
                                  price_from_device_cost, task_cost_micros)

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
ANKAA = "arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


def test_money_rounding_never_undercharges_or_overallows():
    assert usd_to_micros_ceil("0.0000001") == 1
    assert usd_to_micros_floor("49.9999999") == 49_999_999
    assert usd_to_micros_ceil(Decimal("0.08")) == 80_000
    assert usd_to_micros_floor(50) == 50_000_000


def test_money_refuses_float_and_garbage():
    with pytest.raises(ValueError, match="float"):
        usd_to_micros_ceil(0.1)
    with pytest.raises(ValueError, match="not a number"):
        usd_to_micros_ceil("ten dollars")
    with pytest.raises(ValueError, match="finite"):
        usd_to_micros_ceil("Infinity")


@pytest.mark.parametrize("micros,text,exact", [
    (1_440_000, "$1.44", "1.44"), (3_750, "$0.00375", "0.00375"), (0, "$0.00", "0.00"),
    (123_456_789, "$123.46", "123.456789"), (-1_500_000, "-$1.50", "-1.50"),
])
def test_money_formatting(micros, text, exact):
    assert format_usd(micros) == text
    assert micros_to_str(micros) == exact


def test_aws_guide_example_three_ankaa_tasks_of_200_shots_cost_1_44():
    price = build_price_book().lookup(ANKAA)
    assert 3 * task_cost_micros(price, 200) == 1_440_000


def test_ionq_forte_100_shots():
    assert task_cost_micros(build_price_book().lookup(FORTE), 100) == 8_300_000  # 0.30 + 100 x 0.08


def test_simulator_charged_its_three_second_minimum():
    price = build_price_book().lookup(SV1)
    assert price.by_duration
    assert task_cost_micros(price, 1000) == 3_750  # 0.075/min x 3 s, shots irrelevant
    assert duration_cost_micros(price, 60_000) == 75_000
    assert duration_cost_micros(price, 1) == 3_750


def test_every_builtin_device_is_priced_and_kind_matches_arn():
    book = build_price_book()
    for arn, price in book.prices.items():
        assert price.by_duration == (device_kind(arn) == "simulator"), arn


def test_overrides_win_and_add_devices():
    book = build_price_book('{"%s": {"per_shot_usd": "0.05"}, '
                            '"arn:aws:braket:us-east-1::device/qpu/acme/Novel-1": '
                            '{"per_task_usd": "1", "per_shot_usd": 0.5}, '
                            '"%s": {"per_minute_usd": "0.10", "minimum_seconds": 1}}' % (FORTE, SV1))
    assert book.lookup(FORTE) == Price(per_task_micros=300_000, per_shot_micros=50_000)
    assert task_cost_micros(book.lookup("arn:aws:braket:us-east-1::device/qpu/acme/Novel-1"), 2) == 2_000_000
    assert task_cost_micros(book.lookup(SV1), 0) == 1_667  # 0.10/min x 1 s, rounded up


@pytest.mark.parametrize("text,message", [
    ("{", "not valid JSON"),
    ("[]", "JSON object"),
    ('{"not-an-arn": {"per_shot_usd": "1"}}', "device ARN"),
    ('{"%s": {"per_shot_usd": "abc"}}' % FORTE, "per_shot_usd"),
    ('{"%s": {"per_shot_usd": "-1"}}' % FORTE, "negative"),
    ('{"%s": {"per_task_usd": "1"}}' % FORTE, "needs per_shot_usd"),
    ('{"%s": {"per_minute_usd": "1", "per_shot_usd": "1"}}' % SV1, "not both"),
    ('{"%s": {"per_shot_usd": "1", "bogus": 1}}' % FORTE, "unknown field"),
    ('{"%s": "0.08"}' % FORTE, "must be an object"),
    ('{"%s": {"per_minute_usd": "1", "minimum_seconds": "x"}}' % SV1, "minimum_seconds"),
])
def test_bad_overrides_name_the_problem(text, message):
    with pytest.raises(PriceError, match=message):
        build_price_book(text)


def test_price_from_get_device_capabilities():
    book = build_price_book()
    qpu = price_from_device_cost(book, "x", '{"service": {"deviceCost": {"price": 0.05, "unit": "shot"}}}')
    assert qpu == Price(per_task_micros=300_000, per_shot_micros=50_000)
    sim = price_from_device_cost(book, "x", '{"service": {"deviceCost": {"price": 0.075, "unit": "minute"}}}')
    assert task_cost_micros(sim, 0) == 3_750
    for bad in ('{}', 'nonsense', '{"service": {"deviceCost": {"price": 1, "unit": "hour"}}}',
                '{"service": {"deviceCost": {"price": -1, "unit": "shot"}}}'):
        with pytest.raises(PriceError):
            price_from_device_cost(book, "x", bad)
