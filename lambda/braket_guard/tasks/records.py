"""A task's record as the ledger keeps it: its state, its charges against each cap, the work it still owes; and how a stored item (older layouts too) reads back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from braket_guard.core.caps import Charge
from braket_guard.core.states import CANCEL_FAILED, CANCEL_REQUESTED, CANCELLED, CHARGED_STATES, REJECTED
from braket_guard.ledger.table import Key, _n, _num, _s
from braket_guard.tasks.work import WORK_CANCEL


@dataclass(frozen=True)
class ChargeRecord:
    counter_key: Key
    cap: str
    shots: int
    cost_micros: int
    expires_at: int | None


@dataclass(frozen=True)
class TaskRecord:
    task_arn: str
    state: str
    status: str  # the status the task was first seen with
    device_arn: str
    region: str
    shots: int
    cost_micros: int | None
    created_at: str
    account: str = ""
    charges: tuple[ChargeRecord, ...] = ()  # on the counters while state is admitted/overrun
    breached: tuple[str, ...] = ()  # enforcing caps whose group was full
    oversize: tuple[str, ...] = ()  # enforcing caps the task cannot fit on its own
    sweep_caps: tuple[str, ...] = ()  # cancel_queued caps whose backlog is still to be swept
    work: frozenset[str] = frozenset()
    lease_until: int = 0  # epoch seconds; see WORK_LEASE_SECONDS
    trued_up: bool = False
    attempt: str = ""
    cancel_error: str = ""
    cancel_status: str = ""  # what Braket answered the guard's cancel (CANCELLING/CANCELLED)
    overrun_reason: str = ""
    reservation_arn: str = ""  # ran in a Braket Direct reservation: charged no cost
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def charged(self) -> bool:
        return self.state in CHARGED_STATES


# Records written before the state machine (0.1) kept a rejected task's cancel in a field.
_LEGACY_REJECTED = {"pending": REJECTED, "done": CANCEL_REQUESTED, "failed": CANCEL_FAILED,
                    "not_needed": CANCELLED, "not_possible": CANCELLED}


def _parse_task(item: dict[str, Any]) -> TaskRecord:
    def strings(name: str) -> tuple[str, ...]:
        return tuple(sorted(item.get(name, {}).get("SS", [])))

    charges = tuple(
        ChargeRecord((c["M"]["c"]["S"], c["M"]["g"]["S"]), c["M"]["cap"]["S"], int(c["M"]["s"]["N"]),
                     int(c["M"]["m"]["N"]), int(c["M"]["e"]["N"]) if "e" in c["M"] else None)
        for c in item.get("charges", {}).get("L", []))
    state = item["state"]["S"]
    work = set(strings("work"))
    cancel_status = item.get("cancel_status", {}).get("S", "")
    if state == REJECTED and "cancel" in item and "work" not in item:
        state = _LEGACY_REJECTED.get(item["cancel"]["S"], REJECTED)
        work = {WORK_CANCEL} if state == REJECTED else set()
        cancel_status = "CANCELLING" if item["cancel"]["S"] == "done" else cancel_status
    return TaskRecord(
        task_arn=item["pk"]["S"][len("TASK#"):], state=state,
        status=item.get("status", {}).get("S", ""), device_arn=item.get("device", {}).get("S", ""),
        region=item.get("region", {}).get("S", ""), shots=_num(item, "shots") or 0,
        cost_micros=_num(item, "cost_micros", None), created_at=item.get("created_at", {}).get("S", ""),
        account=item.get("account", {}).get("S", ""), charges=charges, breached=strings("breached"),
        oversize=strings("oversize"), sweep_caps=strings("sweep_caps"), work=frozenset(work),
        lease_until=_num(item, "lease_until") or 0, trued_up="trued_up_at" in item,
        attempt=item.get("attempt", {}).get("S", ""), cancel_error=item.get("cancel_error", {}).get("S", ""),
        cancel_status=cancel_status,
        overrun_reason=item.get("overrun_reason", {}).get("S", ""),
        reservation_arn=item.get("reservation", {}).get("S", ""), raw=item)


@dataclass(frozen=True)
class AdmitOutcome:
    outcome: str  # admitted | breached | duplicate
    breached: tuple[Charge, ...] = ()


def charge_record(charge: Charge) -> ChargeRecord:
    return ChargeRecord(charge.counter_key, charge.cap.name, charge.shots, charge.cost_micros or 0,
                        charge.window.expires_at())


def _charges_value(records: Iterable[ChargeRecord]) -> dict[str, Any]:
    return {"L": [{"M": {"c": _s(r.counter_key[0]), "g": _s(r.counter_key[1]), "cap": _s(r.cap),
                         "s": _n(r.shots), "m": _n(r.cost_micros),
                         **({"e": _n(r.expires_at)} if r.expires_at else {})}} for r in records]}
