"""Braket emulator: native spending limits and tagging through real boto3 clients (and the SDK)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import requests
from botocore.exceptions import ClientError, ParamValidationError
from sandbox_helpers import ANKAA, AQUILA, FORTE, GARNET, SV1, bell, create

from braket_sandbox.braket.spending_knobs import format_usd
from braket_sandbox.braket.spend import SPEND_EVENT

UTC = dt.timezone.utc
FORTE_E = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1"
LIMIT_ARN_PREFIX = "arn:aws:braket:us-east-1:123456789012:spending-limit/"


def error_of(excinfo) -> tuple[str, int, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def new_limit(client, device: str = FORTE, amount: str = "50", **kwargs) -> str:
    return client.create_spending_limit(deviceArn=device, spendingLimit=amount, **kwargs)["spendingLimitArn"]


def only_limit(client, device: str = FORTE) -> dict:
    found = client.search_spending_limits(filters=[{"name": "deviceArn", "operator": "EQUAL", "values": [device]}])
    assert len(found["spendingLimits"]) == 1, found["spendingLimits"]
    return found["spendingLimits"][0]


def forte_cost(shots: int) -> Decimal:
    return Decimal("0.30") + Decimal("0.08") * shots


# ----------------------------------------------------------------------------- the four operations
def test_create_search_update_delete_round_trip(braket, emu):
    client = braket()
    before = dt.datetime.now(UTC)
    arn = new_limit(client, amount="12.34", tags={"braket-guard:owner": "guard-1"})
    assert arn.startswith(LIMIT_ARN_PREFIX) and len(arn) > len(LIMIT_ARN_PREFIX) + 30
    summary = only_limit(client)
    assert summary["spendingLimitArn"] == arn and summary["deviceArn"] == FORTE
    assert summary["spendingLimit"] == "12.34"
    assert summary["totalSpend"] == "0.00" and summary["queuedSpend"] == "0.00"
    assert summary["tags"] == {"braket-guard:owner": "guard-1"}
    assert before - dt.timedelta(seconds=1) <= summary["createdAt"] <= dt.datetime.now(UTC)
    assert summary["updatedAt"] == summary["createdAt"]
    # Without a period the limit runs from its creation on (the summary requires timePeriod).
    assert summary["timePeriod"]["startAt"] <= summary["createdAt"]
    assert summary["timePeriod"]["endAt"].year == 9999

    start = dt.datetime(2026, 12, 1, tzinfo=UTC)
    end = dt.datetime(2030, 1, 1, tzinfo=UTC)
    assert "ResponseMetadata" in client.update_spending_limit(
        spendingLimitArn=arn, spendingLimit="99.5", timePeriod={"startAt": start, "endAt": end})
    updated = only_limit(client)
    assert updated["spendingLimit"] == "99.5"
    assert updated["timePeriod"] == {"startAt": start, "endAt": end}
    assert updated["updatedAt"] >= updated["createdAt"]
    client.update_spending_limit(spendingLimitArn=arn, spendingLimit="7")  # the period stays
    assert only_limit(client)["timePeriod"] == {"startAt": start, "endAt": end}

    client.delete_spending_limit(spendingLimitArn=arn)
    assert client.search_spending_limits()["spendingLimits"] == []
    for call in (lambda: client.delete_spending_limit(spendingLimitArn=arn),
                 lambda: client.update_spending_limit(spendingLimitArn=arn, spendingLimit="1")):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    # After the delete the device is unrestricted and may get a new limit.
    assert new_limit(client, amount="1") != arn


def test_wire_format_follows_the_model(braket, emu):
    arn = new_limit(braket(), amount="5", timePeriod={"startAt": dt.datetime(2026, 1, 1, tzinfo=UTC),
                                                       "endAt": dt.datetime(2027, 1, 1, tzinfo=UTC)})
    raw = requests.post(f"{emu.url}/spending-limits", json={}, timeout=5)
    assert raw.status_code == 200
    body = raw.json()["spendingLimits"][0]
    assert body["timePeriod"] == {"startAt": 1767225600, "endAt": 1798761600}  # epoch seconds
    assert body["createdAt"].endswith("Z") and len(body["createdAt"]) == len("2026-11-28T01:17:42.898Z")
    created = requests.post(f"{emu.url}/spending-limit", timeout=5,
                            json={"clientToken": "c-1", "deviceArn": AQUILA, "spendingLimit": "3"})
    assert created.status_code == 201 and created.json()["spendingLimitArn"].startswith(LIMIT_ARN_PREFIX)
    quoted = requests.utils.quote(arn, safe="")
    assert requests.patch(f"{emu.url}/spending-limit/{quoted}/update", timeout=5,
                          json={"clientToken": "u-1", "spendingLimit": "6"}).status_code == 200
    assert requests.delete(f"{emu.url}/spending-limit/{quoted}/delete", timeout=5).status_code == 200
    assert requests.get(f"{emu.url}/spending-limit/{quoted}", timeout=5).headers["x-amzn-ErrorType"] \
        == "UnknownOperationException"


def test_client_token_makes_create_idempotent(braket):
    client = braket()
    first = new_limit(client, clientToken="same-token")
    assert new_limit(client, clientToken="same-token") == first
    assert len(client.search_spending_limits()["spendingLimits"]) == 1


@pytest.mark.parametrize("amount", ["", "abc", "1.234", "-1", "1.", ".5", "1e3", "10 "])
def test_spending_limit_amount_pattern(braket, amount):
    client = braket()
    with pytest.raises((ClientError, ParamValidationError)) as excinfo:
        new_limit(client, amount=amount)
    if isinstance(excinfo.value, ClientError):  # botocore checks min length, the emulator the pattern
        code, status, message = error_of(excinfo)
        assert (code, status) == ("ValidationException", 400) and "spendingLimit" in message
    else:
        assert amount == ""
    arn = new_limit(client, amount="10")
    with pytest.raises((ClientError, ParamValidationError)):
        client.update_spending_limit(spendingLimitArn=arn, spendingLimit=amount)
    assert only_limit(client)["spendingLimit"] == "10"


@pytest.mark.parametrize("amount", ["0", "7", "7.5", "7.25", "1000000"])
def test_spending_limit_amounts_accepted(braket, amount):
    client = braket()
    new_limit(client, amount=amount)
    assert only_limit(client)["spendingLimit"] == amount


def test_one_limit_per_qpu_and_no_simulators(braket, emu):
    client = braket()
    first = new_limit(client)
    with pytest.raises(ClientError) as excinfo:
        new_limit(client, amount="1")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400) and first in message
    with pytest.raises(ClientError) as excinfo:
        new_limit(client, device=SV1)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400) and "simulator" in message
    with pytest.raises(ClientError) as excinfo:
        new_limit(client, device=GARNET)  # a QPU of another region
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as excinfo:
        new_limit(client, device="arn:aws:braket:us-east-1::device/qpu/nobody/Nothing")
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as excinfo:
        new_limit(braket("us-west-1"), device=ANKAA)
    assert error_of(excinfo)[:2] == ("DeviceRetiredException", 410)
    emu.set_device_status(AQUILA, "OFFLINE")
    assert new_limit(client, device=AQUILA).startswith(LIMIT_ARN_PREFIX)  # offline QPUs may get one
    # The same device in its own region gets its own limit, seen only from there.
    eu = braket("eu-north-1")
    garnet = new_limit(eu, device=GARNET)
    assert garnet.startswith("arn:aws:braket:eu-north-1:123456789012:spending-limit/")
    assert [s["spendingLimitArn"] for s in eu.search_spending_limits()["spendingLimits"]] == [garnet]
    assert garnet not in {s["spendingLimitArn"] for s in client.search_spending_limits()["spendingLimits"]}
    with pytest.raises(ClientError) as excinfo:
        client.delete_spending_limit(spendingLimitArn=garnet)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_time_period_validation(braket):
    client = braket()
    start = dt.datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ClientError) as excinfo:
        new_limit(client, timePeriod={"startAt": start, "endAt": start})
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as excinfo:
        new_limit(client, timePeriod={"startAt": start, "endAt": start - dt.timedelta(days=1)})
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ParamValidationError):
        new_limit(client, timePeriod={"startAt": start})  # both members are required by the model
    assert client.search_spending_limits()["spendingLimits"] == []


def test_update_and_delete_validate_the_arn_and_token(braket, emu):
    client = braket()
    for bad in ("not-an-arn", "arn:aws:braket:us-east-1:123456789012:quantum-task/x"):
        with pytest.raises(ClientError) as excinfo:
            client.delete_spending_limit(spendingLimitArn=bad)
        assert error_of(excinfo)[:2] == ("ValidationException", 400)
    arn = new_limit(client)
    raw = requests.patch(f"{emu.url}/spending-limit/{requests.utils.quote(arn, safe='')}/update",
                         json={"spendingLimit": "1"}, timeout=5)
    assert raw.status_code == 400 and raw.headers["x-amzn-ErrorType"] == "ValidationException"
    assert only_limit(client)["spendingLimit"] == "50"


def test_search_filters_and_pagination(braket, emu):
    client = braket()
    devices = [d.arn for d in emu.devices() if d.device_type == "QPU" and d.region == "us-east-1"
               and d.status != "RETIRED"]
    arns = [new_limit(client, device=d, amount=str(i + 1)) for i, d in enumerate(devices)]
    assert len(arns) >= 4
    pages = list(client.get_paginator("search_spending_limits").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["spendingLimits"]) for p in pages][0] == 3 and len(pages) == -(-len(arns) // 3)
    assert [s["spendingLimitArn"] for p in pages for s in p["spendingLimits"]] == arns  # creation order
    assert "nextToken" not in pages[-1]
    # A limit created while paging is not repeated (the token is a keyset cursor).
    first = client.search_spending_limits(maxResults=2)
    client.delete_spending_limit(spendingLimitArn=arns[0])
    rest = client.search_spending_limits(maxResults=100, nextToken=first["nextToken"])
    assert [s["spendingLimitArn"] for s in rest["spendingLimits"]] == arns[2:]
    wanted = [devices[1], devices[3]]
    found = client.search_spending_limits(filters=[{"name": "deviceArn", "operator": "EQUAL", "values": wanted}])
    assert sorted(s["deviceArn"] for s in found["spendingLimits"]) == sorted(wanted)
    two_filters = client.search_spending_limits(filters=[
        {"name": "deviceArn", "operator": "EQUAL", "values": wanted},
        {"name": "deviceArn", "operator": "EQUAL", "values": [devices[1]]}])
    assert [s["deviceArn"] for s in two_filters["spendingLimits"]] == [devices[1]]  # ANDed
    default_page = client.search_spending_limits()
    assert len(default_page["spendingLimits"]) == len(arns) - 1  # fewer than the default 20


@pytest.mark.parametrize("filters,max_results,token", [
    ([{"name": "status", "operator": "EQUAL", "values": ["x"]}], None, None),
    ([{"name": "deviceArn", "operator": "CONTAINS", "values": [FORTE]}], None, None),
    ([{"name": "deviceArn", "operator": "EQUAL", "values": [FORTE] * 11}], None, None),
    ([{"name": "deviceArn", "operator": "EQUAL", "values": [FORTE]}] * 11, None, None),
    ([], 0, None),
    ([], 101, None),
    ([], None, "%%%not-a-token"),
])
def test_search_validation(braket, emu, filters, max_results, token):
    body: dict = {"filters": filters}
    if max_results is not None:
        body["maxResults"] = max_results
    if token is not None:
        body["nextToken"] = token
    response = requests.post(f"{emu.url}/spending-limits", json=body, timeout=5)
    assert response.status_code == 400 and response.headers["x-amzn-ErrorType"] == "ValidationException"


# ----------------------------------------------------------------------------- tags
def test_tagging_a_spending_limit_and_other_resources(braket, emu):
    client = braket()
    arn = new_limit(client, tags={"owner": "braket-guard", "keep": "1"})
    client.tag_resource(resourceArn=arn, tags={"window": "2026-12-02", "owner": "braket-guard"})
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "owner": "braket-guard", "keep": "1", "window": "2026-12-02"}
    client.untag_resource(resourceArn=arn, tagKeys=["keep", "absent"])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"owner": "braket-guard", "window": "2026-12-02"}
    assert only_limit(client)["tags"] == {"owner": "braket-guard", "window": "2026-12-02"}
    task = create(client, FORTE, 10, tags={"team": "a"})
    client.tag_resource(resourceArn=task, tags={"project": "p"})
    assert client.get_quantum_task(quantumTaskArn=task)["tags"] == {"team": "a", "project": "p"}
    assert client.list_tags_for_resource(resourceArn=task)["tags"] == {"team": "a", "project": "p"}
    job = emu.create_job("us-east-1", FORTE, tags={"j": "1"})
    client.untag_resource(resourceArn=job, tagKeys=["j"])
    assert client.get_job(jobArn=job)["tags"] == {}
    gone = LIMIT_ARN_PREFIX + "00000000-0000-0000-0000-000000000000"
    for call in (lambda: client.list_tags_for_resource(resourceArn=gone),
                 lambda: client.tag_resource(resourceArn=gone, tags={"a": "b"}),
                 lambda: braket("eu-north-1").list_tags_for_resource(resourceArn=arn)):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        client.list_tags_for_resource(resourceArn="arn:aws:s3:::bucket")
    assert error_of(excinfo)[:2] == ("ValidationException", 400)


# ----------------------------------------------------------------------------- CreateQuantumTask
def test_create_quantum_task_is_refused_past_limit_minus_total_minus_queued(braket, emu):
    client = braket()
    limit = new_limit(client, amount="25")
    queued_task = create(client, FORTE, 100)  # estimate 0.30 + 8.00
    assert only_limit(client)["queuedSpend"] == "8.30"
    done = create(client, FORTE, 50)  # 4.30
    emu.advance(done, "QUEUED")
    emu.advance(done, "RUNNING")
    emu.advance(done, "COMPLETED")
    summary = only_limit(client)
    assert (summary["totalSpend"], summary["queuedSpend"]) == ("4.30", "8.30")
    remaining = Decimal("25") - Decimal("4.30") - Decimal("8.30")  # 12.40
    assert forte_cost(151) == Decimal("12.38") <= remaining < forte_cost(152)
    with pytest.raises(ClientError) as excinfo:
        create(client, FORTE, 152)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert "$12.46" in message and "$12.40" in message and limit in message
    refused_tasks = len(emu.tasks())
    exact = create(client, FORTE, 151)  # 12.38 fits
    assert len(emu.tasks()) == refused_tasks + 1
    assert only_limit(client)["queuedSpend"] == format_usd(Decimal("8.30") + Decimal("12.38"))
    # Cancelled and failed tasks cost nothing and give their room back.
    emu.cancel_task(queued_task)
    emu.advance(exact, "FAILED")
    summary = only_limit(client)
    assert (summary["totalSpend"], summary["queuedSpend"]) == ("4.30", "0.00")
    create(client, FORTE, 250)  # 20.30 of the 20.70 left
    create(client, FORTE, 1)  # 0.38 of the 0.40 left
    with pytest.raises(ClientError) as excinfo:
        create(client, FORTE, 1)  # 0.38 > 0.02
    assert "$0.02" in error_of(excinfo)[2]


def test_refusal_boundary_is_inclusive(braket, emu):
    client = braket()
    new_limit(client, amount="8.30")
    create(client, FORTE, 100)  # exactly the limit
    with pytest.raises(ClientError) as excinfo:
        create(client, FORTE, 1)
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    client.update_spending_limit(spendingLimitArn=only_limit(client)["spendingLimitArn"], spendingLimit="8.68")
    create(client, FORTE, 1)  # 0.38 fits in 0.38: the update took effect at once


def test_freeze_with_a_zero_limit_refuses_everything_on_that_device_only(braket, emu):
    client = braket()
    new_limit(client, amount="0")
    with pytest.raises(ClientError) as excinfo:
        create(client, FORTE, 1)
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    assert create(client, FORTE_E, 100)  # another QPU has no limit
    assert create(client, SV1, 100)  # simulators are never limited


def test_tasks_created_before_the_limit_are_not_counted(braket, emu):
    client = braket()
    before = [create(client, FORTE, 100) for _ in range(3)]  # 24.90 of work already queued
    new_limit(client, amount="10")
    assert only_limit(client)["queuedSpend"] == "0.00"
    for arn in before:
        emu.advance(arn, "COMPLETED")
    assert only_limit(client)["totalSpend"] == "0.00"
    create(client, FORTE, 100)  # 8.30 of 10: accepted although 24.90 ran before
    assert only_limit(client)["queuedSpend"] == "8.30"
    # A task backdated (Python API) to before the limit existed is not checked or counted either.
    emu.create_task("us-east-1", FORTE, 1000, created_at=dt.datetime.now(UTC) - dt.timedelta(hours=1))
    assert only_limit(client)["queuedSpend"] == "8.30"


def test_time_period_gates_creation_and_counting(braket, emu):
    client = braket()
    now = dt.datetime.now(UTC)
    future = {"startAt": now + dt.timedelta(hours=1), "endAt": now + dt.timedelta(hours=2)}
    arn = new_limit(client, amount="100", timePeriod=future)
    with pytest.raises(ClientError) as excinfo:
        create(client, FORTE, 1)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400) and "time period" in message
    past = {"startAt": now - dt.timedelta(hours=2), "endAt": now - dt.timedelta(hours=1)}
    client.update_spending_limit(spendingLimitArn=arn, timePeriod=past)
    with pytest.raises(ClientError):
        create(client, FORTE, 1)
    assert create(client, FORTE_E, 1)  # other devices are not affected
    current = {"startAt": now - dt.timedelta(minutes=1), "endAt": now + dt.timedelta(hours=1)}
    client.update_spending_limit(spendingLimitArn=arn, timePeriod=current)
    done = create(client, FORTE, 100)
    emu.advance(done, "COMPLETED")
    assert only_limit(client)["totalSpend"] == "8.30"
    # A new period that starts after the task: the task is no longer counted (the emulator's choice,
    # spend_resets_on_new_period=True; the guard must be right either way).
    later = {"startAt": dt.datetime.now(UTC) + dt.timedelta(seconds=1), "endAt": now + dt.timedelta(hours=3)}
    client.update_spending_limit(spendingLimitArn=arn, timePeriod=later)
    assert only_limit(client)["totalSpend"] == "0.00"


def test_spend_kept_across_periods_when_configured(braket, emu):
    emu.spend_resets_on_new_period = False
    client = braket()
    now = dt.datetime.now(UTC)
    arn = new_limit(client, amount="100")
    done = create(client, FORTE, 100)
    emu.advance(done, "COMPLETED")
    client.update_spending_limit(spendingLimitArn=arn, timePeriod={
        "startAt": dt.datetime.now(UTC) + dt.timedelta(seconds=1), "endAt": now + dt.timedelta(hours=1)})
    assert only_limit(client)["totalSpend"] == "8.30"


def test_estimate_without_the_task_fee_when_configured(braket, emu):
    emu.spending_task_fee = Decimal(0)
    client = braket()
    new_limit(client, amount="8")
    create(client, FORTE, 100)  # 8.00 exactly, no per-task fee
    assert only_limit(client)["queuedSpend"] == "8.00"
    assert emu.estimated_cost(FORTE, 100) == Decimal("8.00")


def test_sub_cent_prices_are_exact(braket, emu):
    client = braket("eu-north-1")
    new_limit(client, device=GARNET, amount="1")
    arn = create(client, GARNET, 7)  # 0.30 + 7 x 0.00145 = 0.31015
    assert only_limit(client, GARNET)["queuedSpend"] == "0.31015"
    emu.advance(arn, "COMPLETED")
    assert only_limit(client, GARNET)["totalSpend"] == "0.31015"


def test_hybrid_job_tasks_are_covered_and_reservations_are_not(braket, emu):
    client = braket()
    new_limit(client, amount="9")
    job = emu.create_job("us-east-1", FORTE)
    create(client, FORTE, 100, jobToken=job)
    assert emu.tasks()[-1]["jobArn"] == job
    assert only_limit(client)["queuedSpend"] == "8.30"
    with pytest.raises(ClientError):
        create(client, FORTE, 100, jobToken=job)
    reservation = "arn:aws:braket:us-east-1:123456789012:reservation/abc"
    assert create(client, FORTE, 100, associations=[{"arn": reservation, "type": "RESERVATION_TIME_WINDOW_ARN"}])
    assert only_limit(client)["queuedSpend"] == "8.30"


def test_python_api_is_checked_like_the_http_call(emu):
    arn = emu.create_spending_limit("us-east-1", FORTE, "9", tags={"a": "b"})
    emu.create_task("us-east-1", FORTE, 100)
    from braket_sandbox.braket.common import BraketApiError

    with pytest.raises(BraketApiError) as excinfo:
        emu.create_task("us-east-1", FORTE, 100)
    assert excinfo.value.code == "ValidationException" and excinfo.value.status == 400
    limit = emu.spending_limit(arn)
    assert limit["queuedSpend"] == Decimal("8.30") and limit["totalSpend"] == Decimal(0)
    assert limit["spendingLimit"] == Decimal("9") and limit["tags"] == {"a": "b"}
    assert [lim["spendingLimitArn"] for lim in emu.spending_limits("us-east-1")] == [arn]
    emu.reset()
    assert emu.spending_limits() == []


def test_spend_change_events(braket, emu):
    client = braket()
    arn = new_limit(client, amount="30")
    task = create(client, FORTE, 100)
    emu.advance(task, "QUEUED")
    emu.advance(task, "RUNNING")
    emu.advance(task, "COMPLETED")
    cancelled = create(client, FORTE, 10)
    emu.cancel_task(cancelled)
    spend = [e for e in emu.events() if e["detail-type"] == SPEND_EVENT]
    assert [(e["detail"]["quantumTaskArn"], e["detail"]["totalSpend"], e["detail"]["queuedSpend"]) for e in spend] == [
        (task, "0.00", "8.30"), (task, "8.30", "0.00"), (cancelled, "8.30", "1.10"), (cancelled, "8.30", "0.00")]
    first = spend[0]
    assert first["source"] == "aws.braket" and first["region"] == "us-east-1" and first["resources"] == [arn]
    assert set(first["detail"]) == {"quantumTaskArn", "deviceArn", "spendingLimit", "spendingLimitArn",
                                    "totalSpend", "queuedSpend", "timePeriod"}
    assert first["detail"]["deviceArn"] == FORTE and first["detail"]["spendingLimit"] == "30"
    assert first["detail"]["spendingLimitArn"] == arn
    # Tasks no limit counts emit no spend event.
    create(client, FORTE_E, 10)
    assert len([e for e in emu.events() if e["detail-type"] == SPEND_EVENT]) == 4


def test_spending_limit_operations_can_be_throttled_and_faulted(braket, emu):
    client = braket()
    emu.set_rate_limit("CreateSpendingLimit", 1, 1)
    new_limit(client)
    with pytest.raises(ClientError) as excinfo:
        new_limit(client, device=AQUILA)
    assert error_of(excinfo)[:2] == ("ThrottlingException", 429)
    emu.fail_next("SearchSpendingLimits", 1)
    with pytest.raises(ClientError) as excinfo:
        client.search_spending_limits()
    assert error_of(excinfo)[:2] == ("ThrottlingException", 429)
    assert len(client.search_spending_limits()["spendingLimits"]) == 1
    assert emu.calls["CreateSpendingLimit"] == 2 and emu.calls["SearchSpendingLimits"] == 2


# ----------------------------------------------------------------------------- the SDK's notebook loop
def test_sdk_device_run_fails_with_the_refusal_so_a_loop_stops(sdk, braket):
    from braket.aws import AwsDevice

    new_limit(braket(), amount="20")
    device = AwsDevice(FORTE)
    submitted, stopped_by = [], None
    for _ in range(10):  # a notebook loop: run until something goes wrong
        try:
            submitted.append(device.run(bell(), shots=100))
        except ClientError as err:
            stopped_by = err
            break
    assert len(submitted) == 2  # 2 x 8.30 = 16.60; a third (24.90) would exceed 20
    assert stopped_by is not None
    assert stopped_by.response["Error"]["Code"] == "ValidationException"
    assert "exceeds the remaining spending limit" in stopped_by.response["Error"]["Message"]
    assert sdk.calls["CreateQuantumTask"] == 3  # refused once, not retried by the SDK


def test_control_plane_lists_limits_for_subprocess_users(braket, emu):
    arn = new_limit(braket(), amount="3")
    listed = requests.get(f"{emu.url}/_sandbox/spending-limits", timeout=5).json()
    assert [(x["spendingLimitArn"], x["spendingLimit"], x["totalSpend"]) for x in listed] == [(arn, "3", "0.00")]
    assert emu.calls["SearchSpendingLimits"] == 0  # the control plane is not counted


# ----------------------------------------------------------------------------- knobs (uncertain answers)
def test_knob_default_period_is_assigned_when_none_is_sent(braket, emu):
    from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
    emu.limit_knobs = KNOB_VARIANTS["default_period_1h"]
    client = braket()
    new_limit(client)
    period = only_limit(client)["timePeriod"]
    assert period["endAt"] - period["startAt"] == dt.timedelta(hours=1)


def test_knob_zero_refused(braket, emu):
    from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
    emu.limit_knobs = KNOB_VARIANTS["zero_refused"]
    client = braket()
    with pytest.raises(ClientError) as excinfo:
        new_limit(client, amount="0.00")
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    assert new_limit(client, amount="0.01").startswith(LIMIT_ARN_PREFIX)


def test_knob_update_below_spend_refused(braket, emu):
    from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
    emu.limit_knobs = KNOB_VARIANTS["update_below_spend_refused"]
    client = braket()
    arn = new_limit(client, amount="50")
    create(client, FORTE, shots=10)  # $1.10 queued on the limit
    with pytest.raises(ClientError) as excinfo:
        client.update_spending_limit(spendingLimitArn=arn, spendingLimit="1.00", clientToken="t-1")
    assert error_of(excinfo)[0] == "ValidationException" and "below the current spend" in error_of(excinfo)[2]
    client.update_spending_limit(spendingLimitArn=arn, spendingLimit="1.10", clientToken="t-2")
    assert only_limit(client)["spendingLimit"] == "1.10"


def test_knob_no_tags_in_search_keeps_them_in_list_tags(braket, emu):
    from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
    emu.limit_knobs = KNOB_VARIANTS["no_tags_in_search"]
    client = braket()
    arn = new_limit(client, tags={"braket-guard:owner": "g"})
    assert "tags" not in only_limit(client)
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"braket-guard:owner": "g"}


@pytest.mark.parametrize("variant,code,word", [("exists_other_wording", "ValidationException", False),
                                               ("exists_conflict", "ConflictException", False),
                                               ("documented", "ValidationException", True)])
def test_knob_exists_error_wording(braket, emu, variant, code, word):
    from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
    emu.limit_knobs = KNOB_VARIANTS[variant]
    client = braket()
    new_limit(client)
    with pytest.raises(ClientError) as excinfo:
        new_limit(client)
    got_code, _status, message = error_of(excinfo)
    assert got_code == code and ("already" in message.lower()) == word


def test_knob_outside_period_unlimited(braket, emu):
    from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
    client = braket()
    past = (dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 1, 2, tzinfo=UTC))
    new_limit(client, amount="0", timePeriod={"startAt": past[0], "endAt": past[1]})
    with pytest.raises(Exception, match="outside the time period"):
        create(client, FORTE, shots=1)
    emu.limit_knobs = KNOB_VARIANTS["outside_period_unlimited"]
    assert create(client, FORTE, shots=1)  # the limit is not active: the task is created
    emu.reset()
    assert emu.limit_knobs == KNOB_VARIANTS["documented"], "reset() restores the documented answers"


def test_knobs_are_set_over_the_control_plane_and_by_the_command_line(braket, emu):
    """A subprocess emulator (the demo, deploy) picks a variant with --spending-limit-variant or
    POST /_sandbox/spending-knobs; reset() restores the variant it was started with."""
    import argparse

    from braket_sandbox import emulator as emulator_module
    from braket_sandbox.braket.spending_knobs import KNOB_VARIANTS
    answer = requests.post(f"{emu.url}/_sandbox/spending-knobs", json={"variant": "no_tags_in_search"}, timeout=5)
    assert answer.status_code == 200 and emu.limit_knobs == KNOB_VARIANTS["no_tags_in_search"]
    client = braket()
    new_limit(client, tags={"braket-guard:owner": "g"})
    assert "tags" not in only_limit(client)
    emu.reset()
    assert emu.limit_knobs == KNOB_VARIANTS["documented"]
    parser = argparse.ArgumentParser()
    emulator_module._configure_cli(parser)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    started = emulator_module._start_cli(parser.parse_args(["--spending-limit-variant", "zero_refused"]))
    try:
        started.reset()
        assert started.limit_knobs == KNOB_VARIANTS["zero_refused"], "reset() keeps the variant it started with"
    finally:
        started.stop()
    with pytest.raises(SystemExit):
        parser.parse_args(["--spending-limit-variant", "guessed"])
