from decimal import Decimal

import pytest

from braket_guard.core.money import format_usd, micros_to_str, usd_to_micros_ceil, usd_to_micros_floor
from braket_guard.core import pricing
from braket_guard.core.pricing import (Price, PriceError, build_price_book, device_kind, duration_cost_micros,
                                  instance_cost_micros, price_from_device_cost, task_cost_micros)

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
    # Ankaa-3 is retired and gone from the built-in table; a user who still has it gives its price.
    assert build_price_book().lookup(ANKAA) is None
    price = build_price_book('{"%s": {"per_shot_usd": "0.0009"}}' % ANKAA).lookup(ANKAA)
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


# --- the end-2026 rate card and hybrid-job instances -------------------------------------------

END_2026_QPUS = {
    "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1": 80_000,
    "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1": 80_000,
    "arn:aws:braket:us-east-1::device/qpu/quera/Aquila": 10_000,
    "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet": 1_450,
    "arn:aws:braket:eu-north-1::device/qpu/iqm/Emerald": 1_600,
    "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1": 23_500,
    "arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q": 425,
}
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
TN1 = "arn:aws:braket:::device/quantum-simulator/amazon/tn1"


def test_builtin_devices_are_exactly_the_end_2026_offer():
    book = build_price_book()
    assert set(book.prices) == set(END_2026_QPUS) | {SV1, DM1}
    for arn, per_shot in END_2026_QPUS.items():
        assert book.lookup(arn) == Price(per_task_micros=300_000, per_shot_micros=per_shot), arn
    for arn in (SV1, DM1):
        assert book.lookup(arn) == Price(per_minute_micros=75_000, minimum_ms=3_000), arn
    assert book.lookup(ANKAA) is None and book.lookup(TN1) is None  # retired


def test_every_builtin_entry_says_its_source_and_date():
    table = pricing.builtin_table()
    entries = list(table["devices"].items()) + list(table["job_instances"].items())
    assert len(entries) == 9 + len(table["job_instances"]) and table["job_instances"]
    for key, entry in entries:
        assert entry["source"].strip(), key
        assert pricing.AS_OF.match(entry["as_of"]), key


REQUIRED_INSTANCES = (["ml.m5.large"] + [f"ml.m5.{s}xlarge" for s in ("", "2", "4", "12", "24")]
                      + [f"ml.c5.{s}xlarge" for s in ("", "2", "4", "9", "18")]
                      + ["ml.p3.2xlarge", "ml.p3.8xlarge", "ml.p3.16xlarge"]
                      + [f"ml.g4dn.{s}xlarge" for s in ("", "2", "4", "8", "12", "16")])


def test_job_instance_prices_cover_the_common_types_and_unknown_is_none():
    book = build_price_book()
    for name in REQUIRED_INSTANCES:
        assert pricing.INSTANCE_TYPE.match(name), name
        micros = book.job_instance_price(name)
        assert isinstance(micros, int) and micros > 0, name
    # bigger instances of one family cost more per hour
    m5 = [book.job_instance_price(n) for n in REQUIRED_INSTANCES[:6]]
    assert m5 == sorted(m5) and len(set(m5)) == 6
    assert book.job_instance_price("ml.m5.large") == usd_to_micros_ceil(
        pricing.builtin_table()["job_instances"]["ml.m5.large"]["per_hour_usd"])
    assert book.job_instance_price("ml.z9.huge") is None
    assert book.job_instance_price(FORTE) is None


def test_instance_cost_is_rate_times_count_times_duration_rounded_up():
    assert instance_cost_micros(3_600_000, 1, 3_600_000) == 3_600_000  # $3.60/h for one hour
    assert instance_cost_micros(3_825_000, 2, 90_000) == 191_250  # 2 x ml.p3.2xlarge, 90 s
    assert instance_cost_micros(115_000, 1, 1) == 1  # 0.0319... micro-dollars rounds up to 1
    assert instance_cost_micros(115_000, 1, 0) == 0
    # five days on 16 x ml.p3.16xlarge at $28.152/h: exact integer arithmetic, no float
    assert instance_cost_micros(28_152_000, 16, 432_000_000) == 28_152_000 * 16 * 120


@pytest.mark.parametrize("args", [(-1, 1, 1000), (1000, -3, 1000), (1000, 1, -5), (-1, -1, 1000)])
def test_instance_cost_is_never_negative(args):
    assert instance_cost_micros(*args) == 0


def test_instance_type_overrides_win_and_add_types():
    book = build_price_book('{"ml.m5.large": {"per_hour_usd": "0.20"}, "ml.g6.xlarge": {"per_hour_usd": "1.5"}, '
                            '"%s": {"per_shot_usd": "0.05"}}' % FORTE)
    assert book.job_instance_price("ml.m5.large") == 200_000
    assert book.job_instance_price("ml.g6.xlarge") == 1_500_000
    assert book.job_instance_price("ml.m5.xlarge") == build_price_book().job_instance_price("ml.m5.xlarge")
    assert book.lookup(FORTE).per_shot_micros == 50_000


@pytest.mark.parametrize("text,message", [
    ('{"ml.m5.large": {"per_shot_usd": "1"}}', r"\['ml.m5.large'\]: unknown field\(s\) per_shot_usd"),
    ('{"ml.m5.large": {}}', r"\['ml.m5.large'\]: an instance type needs per_hour_usd"),
    ('{"ml.m5.large": {"per_hour_usd": "1", "per_minute_usd": "1"}}', "unknown field"),
    ('{"ml.m5.large": {"per_hour_usd": "-1"}}', r"\['ml.m5.large'\].per_hour_usd: must be a non-negative"),
    ('{"ml.m5.large": {"per_hour_usd": "1e1"}}', r"per_hour_usd: must be a non-negative decimal"),
    ('{"ml.m5.large": "0.115"}', "must be an object"),
    ('{"%s": {"per_hour_usd": "1"}}' % FORTE, r"Forte-1'\].per_hour_usd: only ML instance types"),
    ('{"%s": {"per_shot_usd": "1", "per_hour_usd": "1"}}' % FORTE, "only ML instance types"),
    ('{"ml.M5.large": {"per_hour_usd": "1"}}', "device ARN or an ML instance type"),
    ('{"ml.m5": {"per_hour_usd": "1"}}', "device ARN or an ML instance type"),
    ('{"m5.large": {"per_hour_usd": "1"}}', "device ARN or an ML instance type"),
    ('{"ml.m5.large\\n": {"per_hour_usd": "1"}}', "device ARN or an ML instance type"),
    # provenance belongs to the built-in table; an override is just a price
    ('{"%s": {"per_shot_usd": "1", "source": "me"}}' % FORTE, "unknown field"),
    ('{"ml.m5.large": {"per_hour_usd": "1", "as_of": "2026-12-01"}}', "unknown field"),
])
def test_bad_instance_overrides_name_the_key_and_field(text, message):
    with pytest.raises(PriceError, match=message):
        build_price_book(text)


def _with_table(monkeypatch, table):
    monkeypatch.setattr(pricing, "builtin_table", lambda: table)


@pytest.mark.parametrize("section,key,entry,message", [
    ("devices", FORTE, {"per_shot_usd": "0.08", "as_of": "2026-12-02"}, r"Forte-1'\].source"),
    ("devices", FORTE, {"per_shot_usd": "0.08", "source": "page"}, r"Forte-1'\].as_of"),
    ("devices", FORTE, {"per_shot_usd": "0.08", "source": "page", "as_of": "Dec 2026"}, "YYYY-MM-DD"),
    ("devices", FORTE, {"per_shot_usd": "0.08", "source": " ", "as_of": "2026-12-02"}, "source"),
    ("job_instances", "ml.m5.large", {"per_hour_usd": "0.115", "source": "page"}, r"ml.m5.large'\].as_of"),
    ("job_instances", "ml.m5.large", {"source": "page", "as_of": "2026-12-02"}, "needs per_hour_usd"),
])
def test_builtin_table_without_provenance_is_refused(monkeypatch, section, key, entry, message):
    table = pricing.builtin_table()
    table[section] = {key: entry}
    _with_table(monkeypatch, table)
    with pytest.raises(PriceError, match=message):
        build_price_book()


def test_provenance_does_not_change_a_price(monkeypatch):
    table = pricing.builtin_table()
    table["devices"][FORTE] = {"per_task_usd": "0.30", "per_shot_usd": "0.08",
                               "source": "somewhere else entirely", "as_of": "1999-01-01"}
    _with_table(monkeypatch, table)
    assert build_price_book().lookup(FORTE) == Price(per_task_micros=300_000, per_shot_micros=80_000)
