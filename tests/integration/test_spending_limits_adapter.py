"""The spending-limit adapter against the emulator's API (real boto3 over HTTP)."""

from __future__ import annotations

from datetime import datetime, timezone

import boto3
import pytest
from botocore.config import Config

from braket_guard.native import rules as N
from braket_guard.native.spending_limits import LimitConflict, SpendingLimits

from .conftest import AQUILA, FORTE, GARNET, REGION


@pytest.fixture
def adapter(harness):
    clients = {}

    def client_for(region):
        if region not in clients:
            clients[region] = boto3.client("braket", region_name=region,
                                           config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
        return clients[region]
    return SpendingLimits(client_for)


def test_create_search_delete_round_trip_reads_the_period_back(harness, adapter):
    start, end = datetime(2026, 12, 2, 11, 59, tzinfo=timezone.utc), datetime(2026, 12, 3, tzinfo=timezone.utc)
    arn = adapter.create(FORTE, 12_345_678, {N.OWNER_TAG: "me", N.WINDOW_TAG: "day:2026-12-02"}, "tok-1",
                         (start, end))
    (limit,) = adapter.search(REGION, [FORTE])
    assert (limit.arn, limit.device_arn, limit.amount_micros) == (arn, FORTE, 12_340_000)  # cents, rounded down
    assert limit.owned_by("me") and limit.identity == ("day:2026-12-02", N.NONE)
    assert (limit.period_start, limit.period_end) == (start, end)
    adapter.delete(arn, FORTE)
    adapter.delete(arn, FORTE)  # already gone: not an error
    assert adapter.search(REGION, [FORTE]) == []
    assert adapter.calls == {"CreateSpendingLimit": 1, "SearchSpendingLimits": 2, "DeleteSpendingLimit": 2}


def test_a_second_limit_on_a_device_is_a_conflict(harness, adapter):
    harness.emu.create_spending_limit(REGION, FORTE, "5.00")
    with pytest.raises(LimitConflict):
        adapter.create(FORTE, 0, {N.OWNER_TAG: "me"}, "tok-3")


def test_each_limit_lives_in_its_devices_region(harness, adapter):
    adapter.create(GARNET, 1_000_000, {N.OWNER_TAG: "me"}, "tok-4")
    adapter.create(AQUILA, 2_000_000, {N.OWNER_TAG: "me"}, "tok-5")
    assert [l.device_arn for l in adapter.search("eu-north-1")] == [GARNET]
    assert [l.device_arn for l in adapter.search(REGION)] == [AQUILA]


def test_search_pages_and_batches_the_device_filter(harness, adapter, monkeypatch):
    for device, usd in ((FORTE, "1.00"), (AQUILA, "2.00")):
        harness.emu.create_spending_limit(REGION, device, usd)
    real = adapter.client_for_region

    def small_pages(region):  # maxResults=1 makes the emulator page
        client = real(region)
        original = client.search_spending_limits

        class Wrapped:
            def __getattr__(self, name):
                return getattr(client, name)

            def search_spending_limits(self, **kwargs):
                return original(**{**kwargs, "maxResults": 1})
        return Wrapped()

    monkeypatch.setattr(adapter, "client_for_region", small_pages)
    assert sorted(l.amount_micros for l in adapter.search(REGION)) == [1_000_000, 2_000_000]
    assert adapter.calls["SearchSpendingLimits"] >= 2
    monkeypatch.setattr(adapter, "client_for_region", real)
    many = [FORTE] + [f"arn:aws:braket:us-east-1::device/qpu/acme/X-{i}" for i in range(12)]
    adapter.calls.clear()
    found = adapter.search(REGION, many)  # the filter takes 10 values: two calls
    assert [l.device_arn for l in found] == [FORTE]
    assert adapter.calls == {"SearchSpendingLimits": 2, "ListTagsForResource": 1}  # an untagged limit


def test_a_refused_zero_becomes_the_one_cent_floor(harness, adapter):
    from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
    harness.emu.limit_knobs = KNOB_VARIANTS["zero_refused"]
    adapter.create(FORTE, 0, {N.OWNER_TAG: "me"}, "tok-z")
    (limit,) = adapter.search(REGION, [FORTE])
    assert limit.amount_micros == N.FREEZE_FLOOR_MICROS and limit.frozen
    assert adapter.calls["CreateSpendingLimit"] == 2


@pytest.mark.parametrize("variant", ["exists_other_wording", "exists_conflict"])
def test_any_create_error_with_a_limit_on_the_device_is_a_conflict(harness, adapter, variant):
    from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
    harness.emu.limit_knobs = KNOB_VARIANTS[variant]
    harness.emu.create_spending_limit(REGION, FORTE, "5.00")
    with pytest.raises(LimitConflict):
        adapter.create(FORTE, 0, {N.OWNER_TAG: "me"}, "tok-c")


def test_a_create_error_without_a_limit_on_the_device_is_raised(harness, adapter):
    from botocore.exceptions import ClientError
    harness.emu.fail_next("CreateSpendingLimit", 1, "AccessDeniedException")
    with pytest.raises(ClientError):
        adapter.create(FORTE, 1_000_000, {N.OWNER_TAG: "me"}, "tok-d")
    assert adapter.search(REGION, [FORTE]) == []


def test_ownership_comes_from_list_tags_when_search_has_none(harness, adapter):
    from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
    harness.emu.limit_knobs = KNOB_VARIANTS["no_tags_in_search"]
    adapter.create(FORTE, 1_000_000, {N.OWNER_TAG: "me"}, "tok-t")
    (limit,) = adapter.search(REGION, [FORTE])
    assert limit.owned_by("me") and adapter.calls["ListTagsForResource"] == 1

