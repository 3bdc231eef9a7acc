"""The Price List mapping (pricelist.py): products to device ARNs and instance types, units to
ours, and the comparison with the built-in table. Driven by the recorded fixture in the
documented GetProducts format plus small items built here for single rules."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from braket_guard.cli import pricelist
from braket_guard.core import pricing
from braket_guard.config import load_config
from braket_guard.cli.pricelist import PriceListError, compare, load_items, read_price_list, usd_text

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "pricelist_amazonbraket.json"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
IBEX = "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
NOVEL = "arn:aws:braket:us-east-1::device/qpu/acme/Novel-1"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
TN1 = "arn:aws:braket:::device/quantum-simulator/amazon/tn1"
KNOWN = list(pricing.builtin_table()["devices"])

EXPECTED_OVERRIDES = {
    TN1: {"per_minute_usd": "0.275"},
    IBEX: {"per_shot_usd": "0.025", "per_task_usd": "0.30"},
    "ml.g4dn.xlarge": {"per_hour_usd": "0.78"},
    "ml.m5.xlarge": {"per_hour_usd": "0.24"},
}


def fixture_items() -> list:
    return load_items(FIXTURE.read_text("utf-8"))


def product(family: str, attributes: dict, unit: str, usd, region: str = "us-east-1", sku: str = "SKU1") -> str:
    """One GetProducts item as the API returns it: a JSON string."""
    dims = {} if usd is None else {f"{sku}.T.R": {"unit": unit, "beginRange": "0", "endRange": "Inf",
                                                   "description": "", "appliesTo": [], "rateCode": f"{sku}.T.R",
                                                   "pricePerUnit": usd if isinstance(usd, dict) else {"USD": usd}}}
    return json.dumps({"product": {"productFamily": family, "sku": sku,
                                   "attributes": {"servicecode": "AmazonBraket", "regionCode": region, **attributes}},
                       "serviceCode": "AmazonBraket",
                       "terms": {"OnDemand": {f"{sku}.T": {"priceDimensions": dims, "sku": sku,
                                                           "offerTermCode": "T", "termAttributes": {}}}},
                       "version": "1", "publicationDate": "2026-11-01T00:00:00Z"})


def test_fixture_is_in_the_documented_format():
    items = fixture_items()
    assert len(items) == 30 and all(isinstance(i, str) for i in items)  # PriceList items are JSON strings
    for text in items:
        doc = json.loads(text)
        assert set(doc) == {"product", "serviceCode", "terms", "version", "publicationDate"}
        assert doc["serviceCode"] == "AmazonBraket" and doc["product"]["attributes"]["regionCode"]
        (term,) = doc["terms"]["OnDemand"].values()
        (dim,) = term["priceDimensions"].values()
        assert set(dim["pricePerUnit"]) == {"USD"} and dim["unit"]


def test_fixture_is_sorted_into_rates_and_reasons():
    reading = read_price_list(fixture_items(), KNOWN)
    assert len(reading.rates) == 26
    assert [u.split(" sku ")[0] for u in reading.unmapped] == ["Quantum Task", "Quantum Task-Shot"]
    assert all("Novel-1" in u for u in reading.unmapped)
    assert reading.unusable == []
    assert reading.not_priced == {"Braket Managed Jobs Volume": 1}
    assert reading.unknown_families == {"Quantum Widget": 1}
    by_key = {(r.key, r.field, r.job_task, r.region): r.usd for r in reading.rates}
    assert by_key[(IBEX, "per_shot_usd", False, "eu-north-1")] == Decimal("0.025")  # "IBEX-Q1" in the list
    assert by_key[(DM1, "per_minute_usd", False, "us-west-2")] == Decimal("0.075")  # 4.50 per hour
    assert by_key[("ml.m5.xlarge", "per_hour_usd", False, "us-east-1")] == Decimal("0.24")  # 0.004 per minute
    assert by_key[("ml.c5.xlarge", "per_hour_usd", False, "us-east-1")] == Decimal("0.204")  # per hour
    assert by_key[("ml.g4dn.xlarge", "per_hour_usd", False, "us-east-1")] == Decimal("0.78")  # from usagetype
    assert by_key[(GARNET, "per_shot_usd", True, "eu-north-1")] == Decimal("0.0016")  # "Device Name" spelling
    assert by_key[(FORTE, "per_task_usd", True, "us-east-1")] == Decimal("0.3")


def test_fixture_against_the_builtin_table():
    result = compare(read_price_list(fixture_items(), KNOWN), pricing.builtin_table())
    status = {}
    for change in result.changes:
        status.setdefault(change.status, set()).add(change.key)
    assert status["added"] == {TN1}
    assert status["changed"] == {IBEX, "ml.m5.xlarge", "ml.g4dn.xlarge"}
    unchanged = set(KNOWN) - {IBEX} | {"ml.c5.xlarge"}
    assert status["same"] - status["changed"] == unchanged
    instances = set(pricing.builtin_table()["job_instances"])
    assert status["missing"] == instances - {"ml.m5.xlarge", "ml.g4dn.xlarge", "ml.c5.xlarge"}
    changed = {(c.key, c.field): (c.old, c.new) for c in result.changes if c.status == "changed"}
    assert changed == {(IBEX, "per_shot_usd"): ("0.0235", "0.025"),
                       ("ml.m5.xlarge", "per_hour_usd"): ("0.23", "0.24"),
                       ("ml.g4dn.xlarge", "per_hour_usd"): ("0.7364", "0.78")}
    assert result.overrides == EXPECTED_OVERRIDES
    assert result.notes == [f"{GARNET} per_shot_usd: hybrid-job tasks are listed at 0.0016 (on-demand 0.00145); "
                            "the guard charges a job's tasks at the on-demand price"]


def test_the_overrides_are_what_the_guard_accepts_and_they_price_as_listed():
    result = compare(read_price_list(fixture_items(), KNOWN + [NOVEL]), pricing.builtin_table())
    assert result.overrides == {**EXPECTED_OVERRIDES, NOVEL: {"per_shot_usd": "0.02", "per_task_usd": "0.30"}}
    config = load_config({"BRAKET_GUARD_TABLE": "ledger", "BRAKET_GUARD_PRICES": json.dumps(result.overrides),
                          "BRAKET_GUARD_CAPS": json.dumps([{"name": "c", "window": "day", "group_by": "account",
                                                             "on_breach": "cancel_task", "max_shots": 1}])})
    book = config.prices
    assert pricing.task_cost_micros(book.lookup(IBEX), 100) == 300_000 + 100 * 25_000
    assert pricing.task_cost_micros(book.lookup(NOVEL), 10) == 300_000 + 10 * 20_000
    assert book.lookup(TN1) == pricing.Price(per_minute_micros=275_000, minimum_ms=3_000)
    assert book.job_instance_price("ml.m5.xlarge") == 240_000
    assert book.job_instance_price("ml.g4dn.xlarge") == 780_000
    assert book.lookup(FORTE) == pricing.build_price_book().lookup(FORTE)  # untouched


@pytest.mark.parametrize("family,field,unit,usd,expected", [
    ("Simulator Task", "per_minute_usd", "minutes", "0.075", "0.075"),
    ("Simulator Task", "per_minute_usd", "Hrs", "4.5", "0.075"),
    ("Simulator Task", "per_minute_usd", "seconds", "0.00125", "0.075"),
    ("Simulator Task", "per_minute_usd", "ms", "0.00000125", "0.075"),
    ("Braket Managed Jobs Instance", "per_hour_usd", "minutes", "0.004", "0.24"),
    ("Braket Managed Jobs Instance", "per_hour_usd", "Hours", "0.115", "0.115"),
    ("Braket Managed Jobs Instance", "per_hour_usd", "second", "0.0001", "0.36"),
    # a per-hour simulator rate that does not divide evenly keeps ten decimals, rounded up
    ("Simulator Task", "per_minute_usd", "Hrs", "0.1", "0.0016666667"),
])
def test_duration_units_convert_exactly(family, field, unit, usd, expected):
    attributes = {"version": "SV1", "operation": "CompleteTask"} if family == "Simulator Task" else \
        {"instanceType": "ml.m5.large"}
    (rate,) = read_price_list([product(family, attributes, unit, usd)], KNOWN).rates
    assert rate.field == field and usd_text(rate.usd) == expected


@pytest.mark.parametrize("family,unit", [("Quantum Task-Shot", "Shots"), ("Quantum Task-Shot", "shot"),
                                         ("Quantum Task", "Task"), ("Quantum Task", "Quantum Tasks")])
def test_counted_units_are_accepted_in_any_spelling(family, unit):
    (rate,) = read_price_list([product(family, {"deviceName": "Forte-1"}, unit, "0.08")], KNOWN).rates
    assert rate.key == FORTE and rate.usd == Decimal("0.08")


@pytest.mark.parametrize("family,attributes,unit,usd,reason", [
    ("Quantum Task-Shot", {"deviceName": "Forte-1"}, "Task", "0.08", "is not per shot"),
    ("Quantum Task", {"deviceName": "Forte-1"}, "Shot", "0.30", "is not per task"),
    ("Simulator Task", {"version": "SV1"}, "Shot", "0.075", "is not a duration"),
    ("Braket Managed Jobs Instance", {"instanceType": "ml.m5.large"}, "GB-Mo", "1", "is not a duration"),
    ("Quantum Task-Shot", {"deviceName": "Forte-1"}, "Shot", "-0.08", "pricePerUnit.USD"),
    ("Quantum Task-Shot", {"deviceName": "Forte-1"}, "Shot", "NaN", "pricePerUnit.USD"),
    ("Quantum Task-Shot", {"deviceName": "Forte-1"}, "Shot", {"EUR": "0.08"}, "pricePerUnit.USD"),
    ("Quantum Task-Shot", {"deviceName": "Forte-1"}, "Shot", None, "no OnDemand price dimension"),
])
def test_a_price_that_cannot_be_read_is_reported_not_guessed(family, attributes, unit, usd, reason):
    reading = read_price_list([product(family, attributes, unit, usd)], KNOWN)
    assert reading.rates == []
    (problem,) = reading.unusable
    assert reason in problem and family in problem


@pytest.mark.parametrize("spelling", ["deviceName", "devicename", "Device Name", "DeviceName", "device-name"])
def test_the_device_attribute_is_found_in_any_spelling(spelling):
    (rate,) = read_price_list([product("Quantum Task-Shot", {spelling: "forte-1"}, "Shot", "0.08")], KNOWN).rates
    assert rate.key == FORTE


def test_a_known_device_listed_in_another_region_gets_that_regions_arn():
    (rate,) = read_price_list([product("Quantum Task-Shot", {"deviceName": "Forte-1"}, "Shot", "0.08",
                                       region="eu-north-1")], KNOWN).rates
    assert rate.key == "arn:aws:braket:eu-north-1::device/qpu/ionq/Forte-1"


def test_an_unknown_device_or_instance_is_unmapped():
    items = [product("Quantum Task-Shot", {"deviceName": "Zeta-9"}, "Shot", "0.08"),
             product("Quantum Task-Shot", {"deviceName": "Forte-1"}, "Shot", "0.08", region=""),
             product("Quantum Task-Shot", {}, "Shot", "0.08"),
             product("Braket Managed Jobs Instance", {"usagetype": "USE1-ManagedJobs-Instance"}, "minutes", "1"),
             product("Simulator Task", {"usagetype": "USE1-Completed-Task-ExecutionDuration"}, "minutes", "1")]
    reading = read_price_list(items, KNOWN)
    assert reading.rates == [] and len(reading.unmapped) == 5
    assert "deviceName=Zeta-9" in reading.unmapped[0]


def test_simulator_products_other_than_the_task_duration_are_not_priced():
    items = [product("Simulator Task", {"version": "SV1", "operation": "CompleteTask"}, "minutes", "0.075"),
             product("Simulator Task", {"version": "SV1", "operation": "SomethingElse"}, "minutes", "9")]
    reading = read_price_list(items, KNOWN)
    assert [(r.key, r.usd) for r in reading.rates] == [(SV1, Decimal("0.075"))]
    assert reading.not_priced == {"Simulator Task (SomethingElse)": 1}


def test_several_regions_resolve_to_the_dearest_and_say_so():
    items = [product("Braket Managed Jobs Instance", {"instanceType": "ml.m5.large"}, "Hrs", "0.115", sku="A"),
             product("Braket Managed Jobs Instance", {"instanceType": "ml.m5.large"}, "Hrs", "0.134",
                     region="eu-north-1", sku="B")]
    result = compare(read_price_list(items, KNOWN), pricing.builtin_table())
    assert result.overrides == {"ml.m5.large": {"per_hour_usd": "0.134"}}
    assert result.notes == ["ml.m5.large per_hour_usd: 2 prices (eu-north-1 0.134, us-east-1 0.115); "
                            "using the dearest, 0.134"]


def test_a_fee_without_a_shot_price_is_left_out_and_noted():
    items = [product("Quantum Task", {"deviceName": "Novel-1"}, "Task", "0.30")]
    result = compare(read_price_list(items, KNOWN + [NOVEL]), pricing.builtin_table())
    assert NOVEL not in result.overrides
    assert result.notes == [f"{NOVEL}: the Price List has a per-task fee but no per-shot price; left out"]


def test_a_shot_price_without_a_fee_is_an_override_with_the_default_fee():
    items = [product("Quantum Task-Shot", {"deviceName": "Novel-1"}, "Shot", "0.02")]
    result = compare(read_price_list(items, KNOWN + [NOVEL]), pricing.builtin_table())
    assert result.overrides == {NOVEL: {"per_shot_usd": "0.02"}}
    assert pricing.build_price_book(json.dumps(result.overrides)).lookup(NOVEL).per_task_micros == 300_000


def test_nothing_differs_when_the_list_matches_the_table():
    table = pricing.builtin_table()
    items = [product("Quantum Task-Shot", {"deviceName": "Garnet"}, "Shot", "0.0014500000", region="eu-north-1"),
             product("Quantum Task", {"deviceName": "Garnet"}, "Task", "0.3000000000", region="eu-north-1", sku="S2")]
    result = compare(read_price_list(items, KNOWN), table)
    assert result.overrides == {} and result.notes == []
    assert {c.status for c in result.changes if c.key == GARNET} == {"same"}


@pytest.mark.parametrize("text,message", [
    ("{", "not valid JSON"),
    ('{"FormatVersion": "aws_v1"}', "expected a JSON array"),
    ("[1]", r"PriceList\[0\]: expected a JSON string"),
])
def test_a_saved_response_that_cannot_be_read(text, message):
    with pytest.raises(PriceListError, match=message):
        load_items(text)


def test_a_saved_response_may_be_the_whole_get_products_output():
    whole = json.dumps({"FormatVersion": "aws_v1", "PriceList": fixture_items()})
    assert load_items(whole) == fixture_items()


def test_an_item_that_is_not_json_names_its_index():
    with pytest.raises(PriceListError, match=r"PriceList\[1\]: not a JSON document"):
        read_price_list([product("Quantum Task", {"deviceName": "Forte-1"}, "Task", "0.3"), "{nope"], KNOWN)


@pytest.mark.parametrize("value,text", [("0.3000000000", "0.30"), ("60", "60.00"), ("0.000425", "0.000425"),
                                        ("0", "0.00"), ("1E+1", "10.00"), ("0.00191666666666", "0.0019166667")])
def test_usd_text_is_a_plain_decimal_the_validations_accept(value, text):
    assert usd_text(Decimal(value)) == text
    assert pricing.DECIMAL_STRING.match(text)


def test_a_price_region_prices_regionless_keys_from_that_region_only():
    items = [product("Braket Managed Jobs Instance", {"instanceType": "ml.m5.large"}, "Hrs", "0.115", sku="A"),
             product("Braket Managed Jobs Instance", {"instanceType": "ml.m5.large"}, "Hrs", "0.134",
                     region="eu-north-1", sku="B"),
             product("Simulator Task", {"version": "SV1", "operation": "CompleteTask"}, "minutes", "0.09",
                     region="eu-north-1", sku="C"),
             product("Quantum Task-Shot", {"deviceName": "Garnet"}, "Shot", "0.0015", region="eu-north-1", sku="D")]
    reading = read_price_list(items, KNOWN, price_region="us-east-1")
    assert sorted((r.key, usd_text(r.usd)) for r in reading.rates) == [(GARNET, "0.0015"), ("ml.m5.large", "0.115")]
    assert reading.not_priced == {"Braket Managed Jobs Instance (not us-east-1)": 1,
                                  "Simulator Task (not us-east-1)": 1}
    result = compare(reading, pricing.builtin_table())
    assert result.overrides == {GARNET: {"per_shot_usd": "0.0015"}} and result.notes == []


def test_items_may_be_parsed_objects_but_not_other_json():
    (rate,) = read_price_list([json.loads(product("Quantum Task-Shot", {"deviceName": "Forte-1"}, "Shot", "0.08"))],
                              KNOWN).rates
    assert rate.key == FORTE
    with pytest.raises(PriceListError, match=r"PriceList\[0\]: expected a JSON object"):
        read_price_list(['["not", "a", "product"]'], KNOWN)
