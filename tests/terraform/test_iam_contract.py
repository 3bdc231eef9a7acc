"""Contract: the Lambda's IAM actions for Braket, DynamoDB, SNS and SSM equal the operations
that lambda/braket_guard calls, found from its code, not from a hand-written list.

The calls are the method names of the package (parsed with ast, including paginator names)
that are operations of those botocore service models; each maps to the IAM action
``<service>:<OperationName>``. DynamoDB transactions have no IAM action of their own: a
TransactWriteItems call maps to the actions of the item kinds the package builds
(``Put`` -> PutItem, ``Update`` -> UpdateItem, ``Delete`` -> DeleteItem,
``ConditionCheck`` -> ConditionCheckItem). The granted actions come from the Lambda policy in
the plan of examples/sandbox (which enables every optional statement but KMS).
"""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.session
import pytest

import tfharness

PACKAGE = tfharness.ROOT / "lambda" / "braket_guard"
SERVICES = {"braket": "braket", "dynamodb": "dynamodb", "sns": "sns", "ssm": "ssm"}  # model -> IAM prefix
TRANSACTION_ITEMS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem"}
TRANSACTIONS = {"TransactWriteItems", "TransactGetItems"}


def package_sources() -> list[Path]:
    files = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    if not (PACKAGE / "handler.py").is_file():
        pytest.fail(f"the Lambda package is missing: {PACKAGE.relative_to(tfharness.ROOT)}/handler.py does not "
                    "exist, so the IAM contract cannot be checked")
    return files


def called_names_and_item_kinds(files: list[Path]) -> tuple[set[str], set[str]]:
    names: set[str] = set()
    item_kinds: set[str] = set()
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
                if node.func.attr in ("get_paginator", "get_waiter"):
                    names.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
            elif isinstance(node, ast.Dict):
                item_kinds.update(k.value for k in node.keys
                                  if isinstance(k, ast.Constant) and k.value in TRANSACTION_ITEMS)
    return names, item_kinds


def operations_by_method() -> dict[str, set[tuple[str, str]]]:
    session = botocore.session.get_session()
    table: dict[str, set[tuple[str, str]]] = {}
    for service, prefix in SERVICES.items():
        model = session.get_service_model(service)
        for operation in model.operation_names:
            table.setdefault(botocore.xform_name(operation), set()).add((prefix, operation))
    return table


# Operations that IAM also authorizes as another action (Service Authorization Reference for
# Braket: CreateSpendingLimit with tags needs braket:TagResource as well).
ALSO_AUTHORIZED_AS = {"braket:CreateSpendingLimit": {"braket:TagResource"}}


# Method names that several of SERVICES share, and the one service whose client the package calls
# them on (checked: every file that calls the name is listed with it).
SHARED_NAMES = {"list_tags_for_resource": ("braket", {"spending_limits.py"})}


def files_calling(name: str) -> set[str]:
    return {path.name for path in package_sources()
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name}


def actions_called_by_package() -> set[str]:
    names, item_kinds = called_names_and_item_kinds(package_sources())
    table = operations_by_method()
    actions: set[str] = set()
    for name in names & table.keys():
        services = {prefix for prefix, _ in table[name]}
        if len(services) > 1:
            if name not in SHARED_NAMES:
                pytest.fail(f"{name} is an operation of {sorted(services)}: say in SHARED_NAMES which client the "
                            "package calls it on")
            prefix, files = SHARED_NAMES[name]
            assert files_calling(name) <= files, (
                f"{name} is called in {sorted(files_calling(name) - files)} too: check on which client, and "
                "update SHARED_NAMES")
            table = dict(table, **{name: {(p, o) for p, o in table[name] if p == prefix}})
        for prefix, operation in table[name]:
            if prefix == "dynamodb" and operation in TRANSACTIONS:
                kinds = item_kinds if operation == "TransactWriteItems" else {"Get"}
                actions.update(f"dynamodb:{TRANSACTION_ITEMS.get(k, k + 'Item')}" for k in kinds)
            else:
                actions.add(f"{prefix}:{operation}")
    for action in list(actions):
        actions |= ALSO_AUTHORIZED_AS.get(action, set())
    return actions


def granted_actions(policy: dict) -> set[str]:
    granted = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        granted.update([actions] if isinstance(actions, str) else actions)
    return {a for a in granted if a.split(":")[0] in SERVICES.values()}


def test_package_calls_are_found():
    called = actions_called_by_package()
    assert "braket:CancelQuantumTask" in called, f"the scan found no cancellation call: {sorted(called)}"


def test_iam_grants_exactly_the_package_calls(sandbox):
    called = actions_called_by_package()
    granted = granted_actions(tfharness.lambda_policy_from_plan(sandbox.plan))
    missing, extra = sorted(called - granted), sorted(granted - called)
    assert not missing and not extra, (
        f"IAM policy (iam.tf) and package calls differ.\n  called but not granted: {missing}\n"
        f"  granted but never called: {extra}")
