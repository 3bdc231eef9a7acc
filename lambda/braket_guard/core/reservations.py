"""Braket Direct reservations: which tasks may run in one, and whether one did.

A task submitted with a reservation ARN costs nothing per task or shot (the reservation is billed
by the hour, whatever runs in it), so it must never be charged at list price or cancelled for
cost. Events do not say whether a task is reserved; only ``GetQuantumTask``'s ``associations`` do.
To keep the hot path free of Braket calls, the guard asks only about tasks on devices the user
declared reserved (``BRAKET_GUARD_RESERVATIONS``), and only until the declared end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from braket_guard.core import strict
from braket_guard.core.events import DEVICE_ARN, is_device_arn
from braket_guard.core.strict import brief
from braket_guard.core.windows import TimestampError, parse_timestamp

RESERVATION_TYPE = "RESERVATION_TIME_WINDOW_ARN"
# RFC 3339 with a time zone, as Terraform's validation (formatdate) accepts it: nothing looser.
RFC3339 = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})\Z")
FIELDS = {"device_arn", "ends_at"}


class ReservationError(ValueError):
    """A reservation declaration that cannot be used; the message names the entry and field."""


@dataclass(frozen=True)
class Reservation:
    """A QPU the user reserved; tasks created before ``ends_at`` (None: any time) are looked up."""

    device_arn: str
    ends_at: datetime | None = None


def parse_reservations(text: str | None) -> tuple[Reservation, ...]:
    """``BRAKET_GUARD_RESERVATIONS``: a JSON list of ``{"device_arn": ..., "ends_at": ...}``."""
    if text is None or not text.strip():
        return ()
    name = "BRAKET_GUARD_RESERVATIONS"
    try:
        raw = strict.loads_json(text)
    except ValueError as exc:
        raise ReservationError(f"{name}: {exc}") from None
    if not isinstance(raw, list):
        raise ReservationError(f"{name}: must be a JSON list of {{device_arn, ends_at}} objects")
    out = []
    for index, entry in enumerate(raw):
        where = f"{name}[{index}]"
        if not isinstance(entry, dict):
            raise ReservationError(f"{where}: must be an object with device_arn and optional ends_at")
        unknown = sorted(set(entry) - FIELDS)
        if unknown:
            raise ReservationError(f"{where}.{unknown[0]}: unknown field; allowed: device_arn, ends_at")
        device = entry.get("device_arn")
        match = DEVICE_ARN.match(device) if is_device_arn(device) else None
        if not match or match.group("kind") != "qpu":
            raise ReservationError(f"{where}.device_arn: must be a QPU device ARN (reservations are "
                                   f"for QPUs), got {brief(device)}")
        ends_at = entry.get("ends_at")
        if ends_at is not None:
            try:
                if not isinstance(ends_at, str) or not RFC3339.match(ends_at):
                    raise TimestampError(f"not an RFC 3339 timestamp: {brief(ends_at)}")
                ends_at = parse_timestamp(ends_at)
            except TimestampError as exc:
                raise ReservationError(f"{where}.ends_at: {exc} (ISO 8601 with a time zone, "
                                       "e.g. 2026-12-24T18:00:00Z)") from None
        out.append(Reservation(device, ends_at))
    return tuple(out)


def may_be_reserved(reservations: Iterable[Reservation], device_arn: str, created_at: datetime) -> bool:
    """Whether a task must be looked up: its device is declared and the reservation not over.

    There is no lower bound: Braket accepts tasks for a reservation before it starts (they wait
    for it), so a task created early may still run in it."""
    return any(r.device_arn == device_arn and (r.ends_at is None or created_at < r.ends_at)
               for r in reservations)


def reservation_of(task: Mapping[str, Any] | None) -> str | None:
    """The reservation ARN in a ``GetQuantumTask`` (or ``GetJob``) answer, if any."""
    for association in (task or {}).get("associations") or []:
        if isinstance(association, dict) and association.get("type") == RESERVATION_TYPE:
            arn = association.get("arn")
            if isinstance(arn, str) and arn:
                return arn
    return None
