"""The task state machine: what the guard does with one task state change, as one table.

Pure. ``TABLE[state][column]`` names the step for (what the ledger holds about the task, the
class of the incoming status); ``STEPS[step]`` says which next state each outcome of that step
leads to. ``guard.py`` only runs the step (a ledger write, a cancel call), reports its outcome
and follows the table again from the new state, until the step leaves the state unchanged.
docs/state-machine.md draws the same table; tests/unit/test_states.py checks every cell.

The rules behind it:
- Spent money always counts: a task that runs (first seen RUNNING/COMPLETED, a cancel that
  did not take or came too late, monitor mode) is charged to every counter it falls in,
  unconditionally, even past a limit (state ``overrun``).
- Admission is conditioned only on enforcing caps; ``alert_only`` caps always count.
- A pending cancel ends with the task: FAILED/CANCELLED close it, RUNNING/COMPLETED charge it.
- Transient errors are never a decision: they raise, and the redelivery runs the same cell.

Outcomes that lead to ``"same"`` end the walk: ``throttled`` (the guard raises so that Lambda
redelivers), ``busy`` (another invocation holds the task's work lease). A write that finds the
record moved by a concurrent delivery makes the guard re-read it and follow the table from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

# -- what the ledger holds about a task (its record's ``state``) ---------------------------------
NEW = "new"  # no record yet
ADMITTED = "admitted"  # fitted every enforcing cap: charged within the limits
REJECTED = "rejected"  # did not fit an enforcing cap: not charged, cancel not yet taken
CANCEL_REQUESTED = "cancel_requested"  # Braket accepted the cancel (or it ended): waiting for its end
CANCEL_FAILED = "cancel_failed"  # Braket refused the cancel for good: the user was told
OVERRUN = "overrun"  # ran although it did not fit (or monitor mode): charged unconditionally
REFUNDED = "refunded"  # was charged, then ended uncharged (FAILED/CANCELLED): given back
CANCELLED = "cancelled"  # rejected and ended without running: never charged
CLOSED = "closed"  # first seen FAILED/CANCELLED: never charged

STATES = (NEW, ADMITTED, REJECTED, CANCEL_REQUESTED, CANCEL_FAILED, OVERRUN, REFUNDED, CANCELLED, CLOSED)
CHARGED_STATES = frozenset({ADMITTED, OVERRUN})  # the record's charges are on the counters
FINAL_STATES = frozenset({REFUNDED, CANCELLED, CLOSED})
UNSTOPPED_STATES = frozenset({REJECTED, CANCEL_REQUESTED, CANCEL_FAILED})  # rejected, not yet ended

# -- the incoming status, by what it means for money ---------------------------------------------
WAITING = "waiting"  # CREATED, QUEUED: nothing spent yet, a cancel can still stop it
RUNNING = "running"  # RUNNING: it is being spent
COMPLETED = "completed"  # COMPLETED: spent (a simulator's charge can be trued up now)
CANCELLING = "cancelling"  # CANCELLING: someone asked Braket to stop it
ENDED = "ended"  # FAILED, CANCELLED: Braket charges nothing

COLUMNS = (WAITING, RUNNING, COMPLETED, CANCELLING, ENDED)
_COLUMN_OF = {"CREATED": WAITING, "QUEUED": WAITING, "RUNNING": RUNNING, "COMPLETED": COMPLETED,
              "CANCELLING": CANCELLING, "FAILED": ENDED, "CANCELLED": ENDED}


def column(status: str) -> str:
    """The table column of a Braket task status (KeyError for an unknown one)."""
    return _COLUMN_OF[status]


# -- the steps ----------------------------------------------------------------------------------
ADMIT = "admit"  # try the conditional admission; a task that does not fit is rejected
ADMIT_RAN = "admit_ran"  # the same, but the task already runs: if it does not fit, charge it anyway
CLOSE = "close"  # remember a task first seen ended, so a late event never charges it
WAIT = "wait"  # nothing to decide yet (first seen CANCELLING: its end will come)
CANCEL = "cancel"  # CancelQuantumTask (the work a rejection left)
NOTE_CANCELLING = "note_cancelling"  # Braket says it is being cancelled: stop calling, wait for its end
CHARGE_OVERRUN = "charge_overrun"  # it ran despite the rejection: charge it, alert once
END_UNCHARGED = "end_uncharged"  # a rejected task ended without running: done, no call, no alarm
REFUND = "refund"  # a charged task ended uncharged: give its shots and cost back
TRUE_UP = "true_up"  # a completed simulator task: correct its charge from its run time
DUPLICATE = "duplicate"  # nothing changes (pending work of the record is still finished)


@dataclass(frozen=True)
class Step:
    """A step and the state each of its outcomes leads to."""

    name: str
    outcomes: Mapping[str, str]
    meaning: str


STEPS: dict[str, Step] = {s.name: s for s in (
    Step(ADMIT, {"fits": ADMITTED, "over": REJECTED, "over_monitor": OVERRUN},
         "admit within every enforcing cap (one transaction), else reject; monitor mode charges it"),
    Step(ADMIT_RAN, {"fits": ADMITTED, "over": OVERRUN, "over_monitor": OVERRUN},
         "admit within every enforcing cap, else charge it anyway: it already runs"),
    Step(CLOSE, {"done": CLOSED}, "never charged; a late event of it is a duplicate"),
    Step(WAIT, {"done": "same"}, "record nothing: the final state decides"),
    Step(CANCEL, {"cancelled": CANCELLED, "cancelling": CANCEL_REQUESTED, "ended": CANCEL_REQUESTED,
                  "throttled": "same", "busy": "same", "refused": CANCEL_FAILED, "monitor": OVERRUN},
         "cancel; a transient error raises so Lambda redelivers; a refusal alerts 'cancel it by hand'; "
         "in monitor mode (switched from enforce with the cancel still owed) it is not stopped: charged"),
    Step(NOTE_CANCELLING, {"done": CANCEL_REQUESTED}, "a cancel is under way: no call, wait for its end"),
    Step(CHARGE_OVERRUN, {"done": OVERRUN},
         "charge every counter unconditionally; one 'ran despite cap' alert per task"),
    Step(END_UNCHARGED, {"done": CANCELLED}, "nothing spent: close the rejection, no alarm"),
    Step(REFUND, {"done": REFUNDED}, "give back the charges, exactly once"),
    Step(TRUE_UP, {"done": "same"}, "simulators: charge endedAt - createdAt (an estimate), once"),
    Step(DUPLICATE, {"done": "same"}, "nothing to decide; finish the record's pending work"),
)}

# -- the table: state x column -> step ------------------------------------------------------------
#                     WAITING        RUNNING         COMPLETED       CANCELLING       ENDED
TABLE: dict[str, tuple[str, str, str, str, str]] = {
    NEW:              (ADMIT,        ADMIT_RAN,      ADMIT_RAN,      WAIT,            CLOSE),
    ADMITTED:         (DUPLICATE,    DUPLICATE,      TRUE_UP,        DUPLICATE,       REFUND),
    REJECTED:         (CANCEL,       CHARGE_OVERRUN, CHARGE_OVERRUN, NOTE_CANCELLING, END_UNCHARGED),
    CANCEL_REQUESTED: (DUPLICATE,    CHARGE_OVERRUN, CHARGE_OVERRUN, DUPLICATE,       END_UNCHARGED),
    CANCEL_FAILED:    (DUPLICATE,    CHARGE_OVERRUN, CHARGE_OVERRUN, DUPLICATE,       END_UNCHARGED),
    OVERRUN:          (DUPLICATE,    DUPLICATE,      TRUE_UP,        DUPLICATE,       REFUND),
    REFUNDED:         (DUPLICATE,    DUPLICATE,      DUPLICATE,      DUPLICATE,       DUPLICATE),
    CANCELLED:        (DUPLICATE,    DUPLICATE,      DUPLICATE,      DUPLICATE,       DUPLICATE),
    CLOSED:           (DUPLICATE,    DUPLICATE,      DUPLICATE,      DUPLICATE,       DUPLICATE),
}


def step_for(state: str, status: str) -> Step:
    """The step for a record in ``state`` receiving a task status."""
    return STEPS[TABLE[state][COLUMNS.index(column(status))]]


def next_state(state: str, step: Step, outcome: str) -> str:
    target = step.outcomes[outcome]
    return state if target == "same" else target


def admission_outcome(fits: bool, monitor: bool) -> str:
    """The outcome of ADMIT / ADMIT_RAN from the conditional transaction's answer."""
    if fits:
        return "fits"
    return "over_monitor" if monitor else "over"


# Why a task is in OVERRUN: the text of its "ran despite cap" alert and of `explain`.
OVERRUN_REASONS = {
    "first_seen_running": "it was already running when the guard first saw it",
    "cancel_too_late": "the cancel was accepted (CANCELLING) but the device ran it first",
    "cancel_pending": "it started before the guard's cancel went through (throttled or retrying)",
    "ended_before_cancel": "it had already run to its end when the guard's cancel arrived",
    "cancel_refused": "Braket refused to cancel it",
    "monitor": "monitor mode never cancels",
}


def overrun_reason(state: str, status: str, cancel_error: str = "") -> str:
    """The OVERRUN_REASONS key for a task charged unconditionally from ``state``."""
    if state == NEW:
        return "first_seen_running"
    if state == CANCEL_REQUESTED:
        return "ended_before_cancel" if cancel_error.startswith("ended") else "cancel_too_late"
    if state == CANCEL_FAILED:
        return "cancel_refused"
    return "cancel_pending"


# -- the table as documentation (README, docs/state-machine.md; checked by a test) -------------
_STATUS_TEXT = {WAITING: "CREATED, QUEUED", RUNNING: "RUNNING", COMPLETED: "COMPLETED",
                CANCELLING: "CANCELLING", ENDED: "FAILED, CANCELLED"}


def markdown_table() -> str:
    """The table, one row per state, one column per status class: step → next states."""
    head = "| state \\ status | " + " | ".join(_STATUS_TEXT[c] for c in COLUMNS) + " |"
    rows = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    for state in STATES:
        cells = []
        for name in TABLE[state]:
            step = STEPS[name]
            targets = sorted({state if t == "same" else t for t in step.outcomes.values()} - {state})
            cells.append(f"**{name}**" + (f" → {', '.join(targets)}" if targets else ""))
        rows.append(f"| `{state}` | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def mermaid_diagram() -> str:
    """Every transition that changes the state, as a mermaid state diagram."""
    edges: dict[tuple[str, str], set[str]] = {}
    for state in STATES:
        for column_name, name in zip(COLUMNS, TABLE[state]):
            for outcome, target in STEPS[name].outcomes.items():
                target = state if target == "same" else target
                if target != state:
                    edges.setdefault((state, target), set()).add(f"{_STATUS_TEXT[column_name]} / {name} {outcome}")
    lines = ["stateDiagram-v2"]
    for (source, target), labels in sorted(edges.items()):
        source_text = "[*]" if source == NEW else source
        lines.append(f"    {source_text} --> {target}: {'; '.join(sorted(labels))}")
    return "\n".join(lines)


def step_list() -> str:
    return "\n".join(f"- **{s.name}**: {s.meaning}." for s in STEPS.values())
