"""moto's DynamoDB ``TransactWriteItems`` without copying whole tables: same results, less time.

Why: moto 5.2 backs up *the entire table* with ``copy.deepcopy`` once per item of every
transaction, so that it can roll back when an item's condition fails. The guard admits each task
with one transaction (task record + every counter), so on a ledger of a few hundred items each
admission costs moto 100-300 ms and the demo's runaway burst would be paced by moto, not by the
guard. This module changes only how that backup is made: a copy of the table's item index (two
dict levels, no item copied) plus deep copies of exactly the items the transaction names. Items
the transaction does not name cannot change during it (moto serves one request at a time, see
``moto_server.SerializingMiddleware``), so restoring this backup restores the same state the full
copy would. Every other operation is untouched.

Use: :func:`install` in the process that runs moto, or run the locked server with it:
``python -m braket_sandbox.moto_speedups --port 0`` (prints ``READY <url>`` like
``python -m braket_sandbox.moto_server``). ``tests/e2e/test_moto_speedups.py`` checks the
rollback semantics against moto's own behaviour.
"""

from __future__ import annotations

import copy as _copy
import threading
from collections import defaultdict
from typing import Any

__all__ = ["install", "installed", "main"]

_state = threading.local()
_installed = False


class _CopyShim:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``: tables being backed up
    for a transaction get the cheap backup, everything else the real ``copy.deepcopy``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_copy, name)

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        ops = getattr(_state, "ops", None)
        if ops is not None and isinstance(obj, Table):
            return _backup(obj, ops.get(obj.name, []))
        return _copy.deepcopy(obj, memo)


def _key_of(table: Any, op_type: str, op: dict) -> tuple[Any, Any] | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    source = op.get("Item") if op_type == "Put" else op.get("Key")
    if not isinstance(source, dict) or table.hash_key_attr not in source:
        return None
    hash_value = DynamoType(source[table.hash_key_attr])
    range_value = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in source:
            return None
        range_value = DynamoType(source[table.range_key_attr])
    return hash_value, range_value


def _backup(table: Any, ops: list[tuple[str, dict]]) -> Any:
    """A Table whose item index is a private copy and whose named items are deep copies."""
    clone = _copy.copy(table)
    items = defaultdict(dict)
    if table.has_range_key:
        for hash_value, by_range in table.items.items():
            items[hash_value] = dict(by_range)
    else:
        items.update(table.items)
    for op_type, op in ops:
        key = _key_of(table, op_type, op)
        if key is None:
            # Cannot tell which item it touches: fall back to moto's full copy.
            return _copy.deepcopy(table)
        hash_value, range_value = key
        if table.has_range_key:
            current = items.get(hash_value, {}).get(range_value)
            if current is not None:
                items[hash_value][range_value] = _copy.deepcopy(current)
        elif hash_value in items:
            items[hash_value] = _copy.deepcopy(items[hash_value])
    clone.items = items
    return clone


def install() -> None:
    """Patch moto's DynamoDB backend in this process (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb import models as dynamodb_models

    original = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        ops: dict[str, list[tuple[str, dict]]] = {}
        for entry in transact_items:
            if isinstance(entry, dict) and len(entry) == 1:
                op_type, op = next(iter(entry.items()))
                if isinstance(op, dict) and op.get("TableName"):
                    ops.setdefault(op["TableName"], []).append((op_type, op))
        _state.ops = ops
        try:
            return original(self, transact_items)
        finally:
            _state.ops = None

    transact_write_items.__doc__ = original.__doc__
    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items
    dynamodb_models.copy = _CopyShim()
    _installed = True


def installed() -> bool:
    return _installed


def main(argv: list[str] | None = None) -> int:
    """The locked moto server (``braket_sandbox.moto_server``) with :func:`install` applied."""
    install()
    from braket_sandbox.moto_server import main as moto_main

    return moto_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
