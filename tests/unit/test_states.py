"""Every cell of the task state machine (states.TABLE), written out by hand: what the guard must do
for each (state the ledger holds, incoming status) and where each outcome leads. A change to the
table that is not also made here fails; so does a cell nobody thought about."""

from __future__ import annotations

import pytest

from braket_guard.core import states as S

STATUSES = ("CREATED", "QUEUED", "RUNNING", "COMPLETED", "CANCELLING", "FAILED", "CANCELLED")

# (state, status) -> (step, {outcome: next state}); "same" = the state does not change
EXPECTED = {
    # a task the ledger has never seen
    (S.NEW, "CREATED"): ("admit", {"fits": S.ADMITTED, "over": S.REJECTED, "over_monitor": S.OVERRUN}),
    (S.NEW, "QUEUED"): ("admit", {"fits": S.ADMITTED, "over": S.REJECTED, "over_monitor": S.OVERRUN}),
    (S.NEW, "RUNNING"): ("admit_ran", {"fits": S.ADMITTED, "over": S.OVERRUN, "over_monitor": S.OVERRUN}),
    (S.NEW, "COMPLETED"): ("admit_ran", {"fits": S.ADMITTED, "over": S.OVERRUN, "over_monitor": S.OVERRUN}),
    (S.NEW, "CANCELLING"): ("wait", {"done": S.NEW}),
    (S.NEW, "FAILED"): ("close", {"done": S.CLOSED}),
    (S.NEW, "CANCELLED"): ("close", {"done": S.CLOSED}),
    # admitted: charged within the limits
    (S.ADMITTED, "CREATED"): ("duplicate", {"done": S.ADMITTED}),
    (S.ADMITTED, "QUEUED"): ("duplicate", {"done": S.ADMITTED}),
    (S.ADMITTED, "RUNNING"): ("duplicate", {"done": S.ADMITTED}),
    (S.ADMITTED, "COMPLETED"): ("true_up", {"done": S.ADMITTED}),
    (S.ADMITTED, "CANCELLING"): ("duplicate", {"done": S.ADMITTED}),
    (S.ADMITTED, "FAILED"): ("refund", {"done": S.REFUNDED}),
    (S.ADMITTED, "CANCELLED"): ("refund", {"done": S.REFUNDED}),
    # rejected, its cancel still owed
    (S.REJECTED, "CREATED"): ("cancel", {"cancelled": S.CANCELLED, "cancelling": S.CANCEL_REQUESTED,
                                         "ended": S.CANCEL_REQUESTED, "throttled": S.REJECTED,
                                         "busy": S.REJECTED, "refused": S.CANCEL_FAILED,
                                         "monitor": S.OVERRUN}),
    (S.REJECTED, "QUEUED"): ("cancel", {"cancelled": S.CANCELLED, "cancelling": S.CANCEL_REQUESTED,
                                        "ended": S.CANCEL_REQUESTED, "throttled": S.REJECTED,
                                        "busy": S.REJECTED, "refused": S.CANCEL_FAILED,
                                        "monitor": S.OVERRUN}),
    (S.REJECTED, "RUNNING"): ("charge_overrun", {"done": S.OVERRUN}),
    (S.REJECTED, "COMPLETED"): ("charge_overrun", {"done": S.OVERRUN}),
    (S.REJECTED, "CANCELLING"): ("note_cancelling", {"done": S.CANCEL_REQUESTED}),
    (S.REJECTED, "FAILED"): ("end_uncharged", {"done": S.CANCELLED}),
    (S.REJECTED, "CANCELLED"): ("end_uncharged", {"done": S.CANCELLED}),
    # Braket accepted the cancel: its end decides
    (S.CANCEL_REQUESTED, "CREATED"): ("duplicate", {"done": S.CANCEL_REQUESTED}),
    (S.CANCEL_REQUESTED, "QUEUED"): ("duplicate", {"done": S.CANCEL_REQUESTED}),
    (S.CANCEL_REQUESTED, "RUNNING"): ("charge_overrun", {"done": S.OVERRUN}),
    (S.CANCEL_REQUESTED, "COMPLETED"): ("charge_overrun", {"done": S.OVERRUN}),
    (S.CANCEL_REQUESTED, "CANCELLING"): ("duplicate", {"done": S.CANCEL_REQUESTED}),
    (S.CANCEL_REQUESTED, "FAILED"): ("end_uncharged", {"done": S.CANCELLED}),
    (S.CANCEL_REQUESTED, "CANCELLED"): ("end_uncharged", {"done": S.CANCELLED}),
    # Braket refused the cancel for good
    (S.CANCEL_FAILED, "CREATED"): ("duplicate", {"done": S.CANCEL_FAILED}),
    (S.CANCEL_FAILED, "QUEUED"): ("duplicate", {"done": S.CANCEL_FAILED}),
    (S.CANCEL_FAILED, "RUNNING"): ("charge_overrun", {"done": S.OVERRUN}),
    (S.CANCEL_FAILED, "COMPLETED"): ("charge_overrun", {"done": S.OVERRUN}),
    (S.CANCEL_FAILED, "CANCELLING"): ("duplicate", {"done": S.CANCEL_FAILED}),
    (S.CANCEL_FAILED, "FAILED"): ("end_uncharged", {"done": S.CANCELLED}),
    (S.CANCEL_FAILED, "CANCELLED"): ("end_uncharged", {"done": S.CANCELLED}),
    # ran although it did not fit: charged unconditionally
    (S.OVERRUN, "CREATED"): ("duplicate", {"done": S.OVERRUN}),
    (S.OVERRUN, "QUEUED"): ("duplicate", {"done": S.OVERRUN}),
    (S.OVERRUN, "RUNNING"): ("duplicate", {"done": S.OVERRUN}),
    (S.OVERRUN, "COMPLETED"): ("true_up", {"done": S.OVERRUN}),
    (S.OVERRUN, "CANCELLING"): ("duplicate", {"done": S.OVERRUN}),
    (S.OVERRUN, "FAILED"): ("refund", {"done": S.REFUNDED}),
    (S.OVERRUN, "CANCELLED"): ("refund", {"done": S.REFUNDED}),
}
for final in (S.REFUNDED, S.CANCELLED, S.CLOSED):  # nothing moves a final state
    for status in STATUSES:
        EXPECTED[(final, status)] = ("duplicate", {"done": final})


def test_every_cell_is_specified_here():
    assert set(EXPECTED) == {(state, status) for state in S.STATES for status in STATUSES}
    assert set(S.TABLE) == set(S.STATES)


@pytest.mark.parametrize("state,status", sorted(EXPECTED))
def test_cell(state, status):
    step_name, outcomes = EXPECTED[(state, status)]
    step = S.step_for(state, status)
    assert step.name == step_name
    assert {outcome: S.next_state(state, step, outcome) for outcome in step.outcomes} == outcomes


def test_only_final_states_are_never_left():
    for state in S.STATES:
        leaves = {S.next_state(state, S.step_for(state, status), outcome)
                  for status in STATUSES for outcome in S.step_for(state, status).outcomes}
        assert (leaves == {state}) == (state in S.FINAL_STATES), state


def test_spent_money_is_never_left_uncharged():
    """Every state reached from a RUNNING or COMPLETED status is a charged one (or final)."""
    for state in S.STATES:
        for status in ("RUNNING", "COMPLETED"):
            step = S.step_for(state, status)
            for outcome in step.outcomes:
                assert S.next_state(state, step, outcome) in S.CHARGED_STATES | S.FINAL_STATES, (state, status)


def test_spent_money_is_never_left_uncharged_in_waiting_states_either():
    """Only the CANCEL step leaves REJECTED while waiting, and its monitor outcome charges."""
    step = S.step_for(S.REJECTED, "QUEUED")
    assert S.next_state(S.REJECTED, step, "monitor") == S.OVERRUN


def test_no_path_from_a_rejection_to_admission():
    """A rejected task is never admitted by a redelivery: no step leads back to ADMITTED."""
    for state in S.UNSTOPPED_STATES | {S.OVERRUN, S.CANCELLED}:
        for status in STATUSES:
            step = S.step_for(state, status)
            assert S.ADMITTED not in {S.next_state(state, step, o) for o in step.outcomes}


def test_admission_outcome():
    assert S.admission_outcome(True, monitor=False) == "fits"
    assert S.admission_outcome(True, monitor=True) == "fits"
    assert S.admission_outcome(False, monitor=False) == "over"
    assert S.admission_outcome(False, monitor=True) == "over_monitor"


@pytest.mark.parametrize("state,error,reason", [
    (S.NEW, "", "first_seen_running"),
    (S.REJECTED, "", "cancel_pending"),
    (S.CANCEL_REQUESTED, "", "cancel_too_late"),
    (S.CANCEL_REQUESTED, "ended: ConflictException", "ended_before_cancel"),
    (S.CANCEL_FAILED, "AccessDeniedException", "cancel_refused"),
])
def test_overrun_reasons(state, error, reason):
    assert S.overrun_reason(state, "COMPLETED", error) == reason
    assert reason in S.OVERRUN_REASONS


def test_unknown_status_is_a_key_error():
    with pytest.raises(KeyError):
        S.column("PAUSED")
