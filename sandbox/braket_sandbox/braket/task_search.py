"""SearchQuantumTasks: its filters (deviceArn, status, createdAt, tags) as the API reference gives them, newest first, keyset pages."""

from __future__ import annotations

from typing import Any, Callable

from braket_sandbox.braket.common import TASK_STATUSES, BraketApiError, keyset_page, page_size, parse_time


class TaskSearchMixin:
    """SearchQuantumTasks: its filters (deviceArn, status, createdAt, tags) as the API reference gives them, newest first, keyset pages."""

    @staticmethod
    def _filters(body: dict) -> list[dict]:
        filters = body.get("filters")
        if not isinstance(filters, list):
            raise BraketApiError("ValidationException", "filters is required and must be a list")
        if len(filters) > 10:
            raise BraketApiError("ValidationException", "at most 10 filters")
        for item in filters:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise BraketApiError("ValidationException", "each filter needs a name")
            values = item.get("values")
            if not isinstance(values, list) or not 1 <= len(values) <= 10:
                raise BraketApiError("ValidationException", "each filter needs 1-10 values")
            if not all(isinstance(v, str) and 1 <= len(v) <= 256 for v in values):
                raise BraketApiError("ValidationException", "filter values must be 1-256 characters")
        return filters

    def _task_predicate(self, item: dict) -> Callable[[dict], bool]:
        name, values, operator = item["name"], item["values"], item.get("operator")
        if operator not in ("LT", "LTE", "EQUAL", "GT", "GTE", "BETWEEN"):
            raise BraketApiError("ValidationException", f"Invalid operator {operator!r}")
        if name in ("quantumTaskArn", "deviceArn", "jobArn", "status"):
            if operator != "EQUAL":
                raise BraketApiError(
                    "ValidationException", f"Filter {name} supports only the EQUAL operator"
                )
            if name == "status":
                bad = [v for v in values if v not in TASK_STATUSES]
                if bad:
                    raise BraketApiError("ValidationException", f"Invalid status value(s): {bad}")
            wanted = set(values)
            return lambda t: t[name] in wanted
        if name != "createdAt":
            raise BraketApiError(
                "ValidationException",
                f"Invalid filter name {name!r}: quantumTaskArn, deviceArn, jobArn, status or createdAt",
            )
        times = [parse_time(v) for v in values]
        if operator == "EQUAL":
            return lambda t: t["createdAt"] in times
        if operator == "BETWEEN":
            if len(times) != 2:
                raise BraketApiError("ValidationException", "BETWEEN needs exactly two values")
            low, high = times
            return lambda t: low <= t["createdAt"] <= high
        if len(times) != 1:
            raise BraketApiError("ValidationException", f"{operator} needs exactly one value")
        bound = times[0]
        compare = {
            "LT": lambda c: c < bound,
            "LTE": lambda c: c <= bound,
            "GT": lambda c: c > bound,
            "GTE": lambda c: c >= bound,
        }[operator]
        return lambda t: compare(t["createdAt"])

    def _op_search_tasks(self, region: str, body: dict) -> tuple[int, dict, list[dict]]:
        size = page_size(body, self.default_page_size)
        predicates = [self._task_predicate(item) for item in self._filters(body)]

        def key(t: dict) -> tuple[int, str]:
            return (int(t["createdAt"].timestamp() * 1000), t["quantumTaskArn"])

        with self._lock:
            matching = [t for t in self._tasks.values() if t["region"] == region and all(p(t) for p in predicates)]
            page, token = keyset_page(matching, key, body, size, newest_first=True)
            out: dict[str, Any] = {"quantumTasks": [self._summary(t) for t in page]}
        if token:
            out["nextToken"] = token
        return 200, out, []
