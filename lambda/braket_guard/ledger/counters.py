"""Cap counters as read back from the table: one item per cap, window and group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from braket_guard.ledger.table import Key, _key, _n, _num, _s


@dataclass(frozen=True)
class Counter:
    key: Key
    shots: int = 0
    cost_micros: int = 0
    tasks: int = 0
    regions: tuple[str, ...] = ()
    rejected_tasks: int = 0
    rejected_shots: int = 0
    rejected_cost_micros: int = 0
    overrun_tasks: int = 0
    overrun_cost_micros: int = 0
    job_burn: int = 0  # micro-dollars an hour of the hybrid jobs running in this group now

    @property
    def group(self) -> str:
        return self.key[1][len("GROUP#"):]


def _parse_counter(item: dict[str, Any]) -> Counter:
    def num(name: str) -> int:
        return _num(item, name) or 0

    return Counter((item["pk"]["S"], item["sk"]["S"]), num("shots"), num("cost_micros"), num("tasks"),
                   tuple(sorted(item.get("regions", {}).get("SS", []))), num("rejected_tasks"),
                   num("rejected_shots"), num("rejected_cost_micros"), num("overrun_tasks"),
                   num("overrun_cost_micros"), num("job_burn"))


def counter_update(table: str, key: Key, add: str, values: dict[str, Any], expires_at: int | None,
                   conditions: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """One counter's update in a transaction, for tasks and jobs alike: ``add`` (an ADD clause
    over ``values``), the cap, group and window names the CLI and digest read back, the TTL set
    once, and the conditions that keep an enforcing cap (all ANDed)."""
    pk, sk = key
    cap, _, window = pk[len("CAP#"):].rpartition("#")
    values = {**values, ":cap": _s(cap), ":grp": _s(sk[len("GROUP#"):]), ":win": _s(window)}
    sets = ["cap_name = :cap", "grp = :grp", "win = :win"]
    if expires_at:
        sets.append("expires_at = if_not_exists(expires_at, :exp)")
        values[":exp"] = _n(expires_at)
    update: dict[str, Any] = {"TableName": table, "Key": _key(key), "UpdateExpression": f"{add} SET {', '.join(sets)}",
                              "ExpressionAttributeValues": values}
    if conditions:
        update["ConditionExpression"] = " AND ".join(conditions)
    return {"Update": update}
