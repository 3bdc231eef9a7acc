"""Locked moto server: conditional writes are atomic under 16 concurrent clients, and
TransactWriteItems failures report CancellationReasons per item as real DynamoDB does."""

from __future__ import annotations

import threading

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from braket_sandbox.moto_server import SerializingMiddleware

TABLE = "ledger"


def dynamodb(moto):
    return boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=moto.url,
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=32),
    )


@pytest.fixture
def table(moto):
    client = dynamodb(moto)
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def test_sixteen_threads_of_conditional_increments_stop_exactly_at_the_limit(moto, table):
    limit, threads = 120, 16
    table.put_item(TableName=TABLE, Item={"pk": {"S": "day#2026-11-28"}, "n": {"N": "0"}})
    successes, failures, unexpected = [0] * threads, [0] * threads, []
    barrier = threading.Barrier(threads)

    def worker(index: int) -> None:
        client = dynamodb(moto)  # one client per thread, as separate Lambdas would have
        barrier.wait()
        while True:
            try:
                client.update_item(
                    TableName=TABLE,
                    Key={"pk": {"S": "day#2026-11-28"}},
                    UpdateExpression="ADD n :one",
                    ConditionExpression="n < :limit",
                    ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(limit)}},
                )
                successes[index] += 1
            except ClientError as err:
                if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    failures[index] += 1
                    return
                unexpected.append(err)
                return
            except Exception as exc:  # noqa: BLE001
                unexpected.append(exc)
                return

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    assert unexpected == []
    assert sum(successes) == limit  # never above: each check-and-add was atomic
    assert sum(failures) == threads
    item = table.get_item(TableName=TABLE, Key={"pk": {"S": "day#2026-11-28"}}, ConsistentRead=True)
    assert item["Item"]["n"] == {"N": str(limit)}
    assert sum(1 for s in successes if s) > 1  # the work really was spread over threads


def test_transaction_cancellation_reasons_point_at_the_failing_item(table):
    table.put_item(TableName=TABLE, Item={"pk": {"S": "budget"}, "spent": {"N": "90"}})
    items = [
        {
            "Put": {
                "TableName": TABLE,
                "Item": {"pk": {"S": "event#abc"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": "budget"}},
                "UpdateExpression": "ADD spent :c",
                "ConditionExpression": "spent <= :max",
                "ExpressionAttributeValues": {":c": {"N": "20"}, ":max": {"N": "80"}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
    ]
    with pytest.raises(ClientError) as excinfo:
        table.transact_write_items(TransactItems=items)
    response = excinfo.value.response
    assert response["Error"]["Code"] == "TransactionCanceledException"
    assert "[None, ConditionalCheckFailed]" in response["Error"]["Message"]
    reasons = response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"] == {"pk": {"S": "budget"}, "spent": {"N": "90"}}  # ALL_OLD
    assert "Message" in reasons[1]
    # All or nothing: the first item's Put was rolled back.
    assert "Item" not in table.get_item(TableName=TABLE, Key={"pk": {"S": "event#abc"}})
    assert table.get_item(TableName=TABLE, Key={"pk": {"S": "budget"}})["Item"]["spent"] == {"N": "90"}

    # The same dedup marker twice: the second transaction fails at index 0.
    ok = [items[0], {"ConditionCheck": {"TableName": TABLE, "Key": {"pk": {"S": "budget"}},
                                        "ConditionExpression": "attribute_exists(pk)"}}]
    table.transact_write_items(TransactItems=ok)
    with pytest.raises(ClientError) as excinfo:
        table.transact_write_items(TransactItems=ok)
    assert [r["Code"] for r in excinfo.value.response["CancellationReasons"]] == [
        "ConditionalCheckFailed",
        "None",
    ]


def test_reset_wipes_state(moto, table):
    table.put_item(TableName=TABLE, Item={"pk": {"S": "x"}})
    moto.reset()
    assert dynamodb(moto).list_tables()["TableNames"] == []


def test_other_services_work_through_the_lock(moto):
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=moto.url)
    url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hello"
    assert requests.get(f"{moto.url}/moto-api/data.json", timeout=10).status_code == 200


def test_middleware_serializes_and_replays_the_response():
    active, peak = [0], [0]
    gate = threading.Lock()

    def app(environ, start_response):
        with gate:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        write = start_response("201 Created", [("X-Test", "1")])
        write(b"head-")

        def body():
            yield b"lazy-"
            yield b"body"
            with gate:
                active[0] -= 1

        return body()

    middleware = SerializingMiddleware(app)
    results = []

    def call():
        seen = {}
        out = middleware({}, lambda status, headers, exc=None: seen.update(status=status, headers=headers))
        results.append((seen["status"], b"".join(out)))

    pool = [threading.Thread(target=call) for _ in range(8)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(5)
    assert peak[0] == 1
    assert results == [("201 Created", b"head-lazy-body")] * 8
