"""bench/fast_moto.py replaces moto's whole-table rollback copies by per-item snapshots. The
benchmark and the runaway test rely on it, so it must not change a single outcome: on random
sequences of transactions (puts, updates, deletes, condition checks, with and without
conditions, with repeated keys), patched and unpatched moto end with the same items and raise
the same errors with the same cancellation reasons."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.dynamodb.models import DynamoDBBackend

from bench import fast_moto

KEYS = [(f"p{i}", f"s{j}") for i in range(3) for j in range(2)]


def backend() -> DynamoDBBackend:
    made = DynamoDBBackend(region_name="us-east-1", account_id="123456789012")
    made.create_table("t", schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                      throughput=None, attr=[{"AttributeName": "pk", "AttributeType": "S"},
                                             {"AttributeName": "sk", "AttributeType": "S"}],
                      global_indexes=None, indexes=None, streams=None, billing_mode="PAY_PER_REQUEST",
                      sse_specification=None, tags=[], deletion_protection_enabled=False, warm_throughput=None)
    return made


def key(pair):
    return {"pk": {"S": pair[0]}, "sk": {"S": pair[1]}}


@st.composite
def operation(draw):
    where = draw(st.sampled_from(KEYS))
    kind = draw(st.sampled_from(["Put", "Update", "Delete", "ConditionCheck"]))
    value = {":v": {"N": str(draw(st.integers(-5, 5)))}, ":max": {"N": str(draw(st.integers(-3, 8)))}}
    if kind == "Put":
        op = {"TableName": "t", "Item": {**key(where), "n": value[":v"]}}
        if draw(st.booleans()):
            op["ConditionExpression"] = "attribute_not_exists(pk)"
    elif kind == "Update":
        op = {"TableName": "t", "Key": key(where), "UpdateExpression": "ADD n :v",
              "ExpressionAttributeValues": {":v": value[":v"]}}
        if draw(st.booleans()):
            op["ConditionExpression"] = "attribute_not_exists(n) OR n <= :max"
            op["ExpressionAttributeValues"][":max"] = value[":max"]
    elif kind == "Delete":
        op = {"TableName": "t", "Key": key(where)}
        if draw(st.booleans()):
            op["ConditionExpression"] = "attribute_exists(pk)"
    else:
        op = {"TableName": "t", "Key": key(where),
              "ConditionExpression": draw(st.sampled_from(["attribute_exists(pk)", "attribute_not_exists(pk)"]))}
    return {kind: op}


def contents(made: DynamoDBBackend) -> dict:
    table = made.tables["t"]
    return {(h.value, r.value): item.to_json() for h, inner in table.items.items() for r, item in inner.items()}


def outcome(function, made, transaction):
    try:
        function(made, transaction)
        return None
    except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
        return type(exc).__name__, getattr(exc, "description", str(exc))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(operation(), min_size=1, max_size=4), min_size=1, max_size=8))
def test_patched_and_unpatched_moto_agree_on_every_transaction(transactions):
    plain, patched = backend(), backend()
    for transaction in transactions:
        expected = outcome(fast_moto.ORIGINAL, plain, transaction)
        actual = outcome(fast_moto.fast_transact_write_items, patched, transaction)
        assert actual == expected, transaction
        assert contents(patched) == contents(plain), transaction
