"""braket_sandbox.moto_speedups changes how moto backs up a table for TransactWriteItems, not
what a transaction does: the same random sequence of transactions (successes, condition failures
in any position, updates of existing and new items, deletes) gives the same answers and the same
table on moto with and without it.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"


def spawn(module: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SANDBOX), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", module, "--port", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(60)
    if not line or not line[0].startswith("READY "):
        proc.kill()
        pytest.fail(f"{module} did not print READY")
    return proc, line[0].split()[1]


@pytest.fixture(scope="module")
def servers():
    plain, plain_url = spawn("braket_sandbox.moto_server")
    fast, fast_url = spawn("braket_sandbox.moto_speedups")
    yield plain_url, fast_url
    for proc in (plain, fast):
        proc.terminate()
        proc.wait(timeout=10)


def client(url: str):
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))


def random_transaction(rng: random.Random, table: str) -> list[dict]:
    items, keys = [], set()
    for _ in range(rng.randint(1, 5)):
        pk = f"K{rng.randint(0, 12)}"
        sk = rng.choice(["A", "B"])
        if (pk, sk) in keys:
            continue
        keys.add((pk, sk))
        key = {"pk": {"S": pk}, "sk": {"S": sk}}
        kind = rng.choice(["put_new", "put", "add", "add_limited", "delete", "check"])
        if kind == "put_new":
            items.append({"Put": {"TableName": table, "Item": {**key, "v": {"N": str(rng.randint(0, 9))}},
                                  "ConditionExpression": "attribute_not_exists(pk)"}})
        elif kind == "put":
            items.append({"Put": {"TableName": table, "Item": {**key, "v": {"N": str(rng.randint(0, 9))},
                                                               "tag": {"SS": ["x", "y"]}}}})
        elif kind in ("add", "add_limited"):
            update = {"TableName": table, "Key": key, "UpdateExpression": "ADD n :d, tags :t SET w = :w",
                      "ExpressionAttributeValues": {":d": {"N": str(rng.randint(1, 5))}, ":t": {"SS": ["r"]},
                                                    ":w": {"S": "set"}}}
            if kind == "add_limited":
                update["ConditionExpression"] = "attribute_not_exists(n) OR n <= :max"
                update["ExpressionAttributeValues"][":max"] = {"N": str(rng.randint(0, 8))}
            items.append({"Update": update})
        elif kind == "delete":
            items.append({"Delete": {"TableName": table, "Key": key}})
        else:
            items.append({"ConditionCheck": {"TableName": table, "Key": key,
                                             "ConditionExpression": "attribute_exists(pk)"}})
    return items


def outcome(ddb, items: list[dict]) -> tuple:
    try:
        ddb.transact_write_items(TransactItems=items)
        return ("ok",)
    except ClientError as exc:
        reasons = tuple(r.get("Code") for r in exc.response.get("CancellationReasons", []))
        return (exc.response["Error"]["Code"], reasons)


def contents(ddb, table: str) -> list[dict]:
    items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    normal = []
    for item in items:
        normal.append({k: {t: sorted(v) if isinstance(v, list) else v for t, v in value.items()}
                       for k, value in item.items()})
    return sorted(normal, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def test_same_answers_and_same_table_with_and_without_the_speedup(servers):
    plain, fast = client(servers[0]), client(servers[1])
    for ddb in (plain, fast):
        ddb.create_table(TableName="ledger", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}])
        ddb.create_table(TableName="other", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}])
    rng = random.Random(2026)
    failures = 0
    for step in range(200):
        items = random_transaction(rng, rng.choice(["ledger", "ledger", "other"]))
        expected, got = outcome(plain, items), outcome(fast, items)
        assert got == expected, (step, items)
        failures += expected[0] != "ok"
        if step % 25 == 0:
            assert contents(fast, "ledger") == contents(plain, "ledger"), step
    assert contents(fast, "ledger") == contents(plain, "ledger")
    assert contents(fast, "other") == contents(plain, "other")
    assert 20 < failures < 180  # both outcomes were exercised a lot


def test_a_failed_transaction_leaves_an_update_it_applied_undone(servers):
    fast = client(servers[1])
    fast.create_table(TableName="undo", BillingMode="PAY_PER_REQUEST",
                      AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                            {"AttributeName": "sk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    counter = {"pk": {"S": "CAP#x"}, "sk": {"S": "GROUP#g"}}
    fast.put_item(TableName="undo", Item={**counter, "n": {"N": "5"}})
    fast.put_item(TableName="undo", Item={"pk": {"S": "TASK#1"}, "sk": {"S": "TASK"}})
    code = outcome(fast, [
        {"Update": {"TableName": "undo", "Key": counter, "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Put": {"TableName": "undo", "Item": {"pk": {"S": "TASK#1"}, "sk": {"S": "TASK"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}}])
    assert code == ("TransactionCanceledException", ("None", "ConditionalCheckFailed"))
    assert fast.get_item(TableName="undo", Key=counter, ConsistentRead=True)["Item"]["n"] == {"N": "5"}


def test_install_replaces_only_the_backup():
    code = ("from braket_sandbox import moto_speedups as m; m.install(); m.install(); "
            "from moto.dynamodb import models; import copy; "
            "assert m.installed() and models.copy.deepcopy is not copy.deepcopy; "
            "assert models.copy.deepcopy([1, [2]]) == [1, [2]]; print('ok')")
    env = dict(os.environ, PYTHONPATH=str(SANDBOX))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
