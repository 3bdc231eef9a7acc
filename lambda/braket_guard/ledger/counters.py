"""Cap counters as read back from the table: one item per cap, window and group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from braket_guard.ledger.table import Key, _num


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
