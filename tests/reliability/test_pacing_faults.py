"""The cancel token bucket's one-call take (issue 23) under lost responses: a PutItem that was
applied but whose answer was lost is retried by the backoff; the retry's refusal returns the
item, which the take recognises as its own write (its taker id), so one cancel takes one token."""

from __future__ import annotations

import uuid
from decimal import Decimal

import boto3

from .aws_faults import start_faulty_moto


def _table(client) -> str:
    name = f"pace-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    return name


def _client(url: str):
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_a_lost_take_response_takes_one_token_not_two(moto_server):
    from braket_guard.aws.pacing import TokenBucket

    server, faults = start_faulty_moto(seed=5)
    try:
        plain = _client(moto_server.url)
        table = _table(plain)
        now = [1000.0]
        bucket = TokenBucket(_client(server.url), table, Decimal(1), burst=5, clock=lambda: now[0],
                             sleep=lambda s: None)
        bucket.reads.sleep = lambda s: None
        for lost in range(3):  # a take whose first write is applied and its answer lost, three times
            faults.add("dynamodb", "lost", rate=1.0, operations=["PutItem"], times=1)
            assert bucket.take("CANCEL#us-east-1") == (True, 0.0)
            item = plain.get_item(TableName=table, Key={"pk": {"S": "PACE"}, "sk": {"S": "CANCEL#us-east-1"}},
                                  ConsistentRead=True)["Item"]
            assert item["seq"]["N"] == str(lost + 1)  # one version per take
            assert item["milli"]["N"] == str(5000 - 1000 * (lost + 1))  # one token per take (no refill: clock still)
        assert faults.injected[("lost", "dynamodb", "PutItem")] == 3  # the faults were really drawn
    finally:
        server.stop()
