"""The answers of the spending-limit API we could not verify, as knobs: one variant per uncertain fact (KNOB_VARIANTS), so the guard is tested under each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class SpendingKnobs:
    """One answer to each uncertain Braket behaviour (see the module's docstring)."""

    default_period: dt.timedelta | None = None
    zero_refused: bool = False
    update_below_spend_refused: bool = False
    search_tags: bool = True
    exists_error: str = "already"  # already | other | conflict
    outside_period: str = "refuse"  # refuse | unlimited

    def __post_init__(self) -> None:
        if self.exists_error not in ("already", "other", "conflict"):
            raise ValueError(f"exists_error: already, other or conflict, got {self.exists_error!r}")
        if self.outside_period not in ("refuse", "unlimited"):
            raise ValueError(f"outside_period: refuse or unlimited, got {self.outside_period!r}")


KNOB_VARIANTS = {
    "documented": SpendingKnobs(),
    "default_period_1h": SpendingKnobs(default_period=dt.timedelta(hours=1)),
    "zero_refused": SpendingKnobs(zero_refused=True),
    "update_below_spend_refused": SpendingKnobs(update_below_spend_refused=True),
    "no_tags_in_search": SpendingKnobs(search_tags=False),
    "exists_other_wording": SpendingKnobs(exists_error="other"),
    "exists_conflict": SpendingKnobs(exists_error="conflict"),
    "outside_period_unlimited": SpendingKnobs(outside_period="unlimited"),
}


def format_usd(amount: Decimal) -> str:
    """A spend as a plain string: at least cents, never an exponent (``Decimal('1E+1')`` -> ``10.00``)."""
    if amount == amount.quantize(Decimal("0.01")):
        return f"{amount.quantize(Decimal('0.01')):f}"
    return f"{amount.normalize():f}"
