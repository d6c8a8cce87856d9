"""The loan contract's life: every (state, action) pair, what each step needs, why it refuses."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from controller.errors import ControllerError
from controller.loans.lifecycle import (
    Act,
    Action,
    Component,
    Contract,
    ContractState,
    TransitionError,
    allowed_actions,
    apply,
    due_for_return,
)

S = ContractState
A = Action

COMPONENTS = (
    Component("SN-1", "laptop", "HP ProBook 450 G8"),
    Component("SN-2", "webcam", "Logitech C920"),
    Component("SN-3", "braille display", "Focus 40 Blue"),
)
WHEN = datetime(2025, 9, 1, 9, 30, tzinfo=UTC)
HANDOVER = Act({"SN-1": "new", "SN-2": "good", "SN-3": "new, boxed"}, "A. Nurgalieva", WHEN)
RETURN = Act(
    {"SN-1": "scratched lid", "SN-2": "good", "SN-3": "good"},
    "A. Nurgalieva",
    datetime(2026, 5, 30, 12, tzinfo=UTC),
)
BASE = Contract(state=S.DRAFT, components=COMPONENTS, start=date(2025, 9, 1), end=date(2026, 5, 31))

COMPLETE_DETAILS: dict[Action, dict[str, object]] = {
    A.SIGN: {"guardian": "A. Nurgalieva", "school": "School No 12"},
    A.HAND_OVER: {"act": HANDOVER, "training_recorded": True},
    A.MARK_RETURN_DUE: {},
    A.RETURN_KIT: {"act": RETURN},
    A.REPORT_LOST: {},
    A.TERMINATE: {"reason": "the family moved to another region"},
}
"""Details that satisfy each action, so only the state decides whether it is legal."""

# Every pair: the state reached, or None when the step is refused.
TABLE: list[tuple[ContractState, Action, ContractState | None]] = [
    (S.DRAFT, A.SIGN, S.SIGNED),
    (S.DRAFT, A.HAND_OVER, None),
    (S.DRAFT, A.MARK_RETURN_DUE, None),
    (S.DRAFT, A.RETURN_KIT, None),
    (S.DRAFT, A.REPORT_LOST, None),
    (S.DRAFT, A.TERMINATE, S.TERMINATED),
    (S.SIGNED, A.SIGN, None),
    (S.SIGNED, A.HAND_OVER, S.ACTIVE),
    (S.SIGNED, A.MARK_RETURN_DUE, None),
    (S.SIGNED, A.RETURN_KIT, None),
    (S.SIGNED, A.REPORT_LOST, None),
    (S.SIGNED, A.TERMINATE, S.TERMINATED),
    (S.ACTIVE, A.SIGN, None),
    (S.ACTIVE, A.HAND_OVER, None),
    (S.ACTIVE, A.MARK_RETURN_DUE, S.RETURN_DUE),
    (S.ACTIVE, A.RETURN_KIT, S.RETURNED),
    (S.ACTIVE, A.REPORT_LOST, S.LOST),
    (S.ACTIVE, A.TERMINATE, S.TERMINATED),
    (S.RETURN_DUE, A.SIGN, None),
    (S.RETURN_DUE, A.HAND_OVER, None),
    (S.RETURN_DUE, A.MARK_RETURN_DUE, None),
    (S.RETURN_DUE, A.RETURN_KIT, S.RETURNED),
    (S.RETURN_DUE, A.REPORT_LOST, S.LOST),
    (S.RETURN_DUE, A.TERMINATE, None),
    (S.RETURNED, A.SIGN, None),
    (S.RETURNED, A.HAND_OVER, None),
    (S.RETURNED, A.MARK_RETURN_DUE, None),
    (S.RETURNED, A.RETURN_KIT, None),
    (S.RETURNED, A.REPORT_LOST, None),
    (S.RETURNED, A.TERMINATE, None),
    (S.LOST, A.SIGN, None),
    (S.LOST, A.HAND_OVER, None),
    (S.LOST, A.MARK_RETURN_DUE, None),
    (S.LOST, A.RETURN_KIT, None),
    (S.LOST, A.REPORT_LOST, None),
    (S.LOST, A.TERMINATE, None),
    (S.TERMINATED, A.SIGN, None),
    (S.TERMINATED, A.HAND_OVER, None),
    (S.TERMINATED, A.MARK_RETURN_DUE, None),
    (S.TERMINATED, A.RETURN_KIT, None),
    (S.TERMINATED, A.REPORT_LOST, None),
    (S.TERMINATED, A.TERMINATE, None),
]


def in_state(state: ContractState) -> Contract:
    return dataclasses.replace(BASE, state=state)


def test_the_table_covers_every_pair_once() -> None:
    pairs = [(state, action) for state, action, _ in TABLE]
    assert len(pairs) == len(set(pairs)) == len(ContractState) * len(Action) == 42


@pytest.mark.parametrize(("state", "action", "expected"), TABLE)
def test_every_state_and_action(
    state: ContractState, action: Action, expected: ContractState | None
) -> None:
    contract = in_state(state)
    if expected is None:
        with pytest.raises(TransitionError) as caught:
            apply(contract, action, **COMPLETE_DETAILS[action])
        assert caught.value.state is state
        assert caught.value.action is action
        assert caught.value.reason == "not_allowed"
        assert " cannot be " in str(caught.value)
    else:
        assert apply(contract, action, **COMPLETE_DETAILS[action]).state is expected
        assert contract.state is state, "apply must not change its input"


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        (S.RETURNED, A.HAND_OVER, "a returned contract cannot be handed over; it is finished"),
        (
            S.DRAFT,
            A.HAND_OVER,
            "a draft contract cannot be handed over; "
            "it must be signed by the guardian and the school first",
        ),
        (S.SIGNED, A.SIGN, "a signed contract cannot be signed; it is already signed"),
        (
            S.SIGNED,
            A.RETURN_KIT,
            "a signed contract cannot be returned; its kit has not been handed over yet",
        ),
        (
            S.RETURN_DUE,
            A.TERMINATE,
            "a contract due for return cannot be terminated; "
            "its kit is due back: record its return or report it lost",
        ),
        (
            S.LOST,
            A.REPORT_LOST,
            "a contract for a lost kit cannot be reported lost; it is finished",
        ),
    ],
)
def test_refusals_say_why(state: ContractState, action: Action, message: str) -> None:
    with pytest.raises(TransitionError, match=f"^{message}$"):
        apply(in_state(state), action, **COMPLETE_DETAILS[action])


@pytest.mark.parametrize("state", list(ContractState))
@pytest.mark.parametrize("action", list(Action))
def test_allowed_actions_agree_with_apply(state: ContractState, action: Action) -> None:
    contract = in_state(state)
    refusal: TransitionError | None = None
    try:
        apply(contract, action, **COMPLETE_DETAILS[action])
    except TransitionError as exc:
        refusal = exc
    assert (action in allowed_actions(contract)) is (refusal is None)
    assert refusal is None or refusal.reason == "not_allowed"


def test_no_action_leaves_a_final_state() -> None:
    for state in (S.RETURNED, S.LOST, S.TERMINATED):
        assert allowed_actions(in_state(state)) == []


def test_a_whole_loan_records_what_each_step_needs() -> None:
    signed = apply(BASE, A.SIGN, guardian="A. Nurgalieva", school="School No 12")
    active = apply(signed, A.HAND_OVER, act=HANDOVER, training_recorded=True)
    due = apply(active, A.MARK_RETURN_DUE)
    returned = apply(due, A.RETURN_KIT, act=RETURN)
    assert returned == dataclasses.replace(
        BASE,
        state=S.RETURNED,
        signed_by_guardian="A. Nurgalieva",
        signed_by_school="School No 12",
        handover=HANDOVER,
        training_recorded=True,
        return_act=RETURN,
    )


def test_a_transition_error_is_a_controller_error() -> None:
    with pytest.raises(ControllerError):
        apply(in_state(S.TERMINATED), A.SIGN)


# --- the details each step needs ---------------------------------------------------------------


def act_without(serial: str, act: Act = HANDOVER) -> Act:
    return dataclasses.replace(
        act, conditions={k: v for k, v in act.conditions.items() if k != serial}
    )


DETAIL_CASES: list[tuple[str, ContractState, Action, dict[str, object], str, str]] = [
    (
        "no signatures",
        S.DRAFT,
        A.SIGN,
        {},
        "missing_signature",
        "signing needs the guardian's and the school's signatures: "
        "missing the guardian's and the school's",
    ),
    (
        "no guardian signature",
        S.DRAFT,
        A.SIGN,
        {"school": "School No 12"},
        "missing_signature",
        "signing needs the guardian's and the school's signatures: missing the guardian's",
    ),
    (
        "blank school signature",
        S.DRAFT,
        A.SIGN,
        {"guardian": "A. Nurgalieva", "school": "  "},
        "missing_signature",
        "signing needs the guardian's and the school's signatures: missing the school's",
    ),
    (
        "signature not text",
        S.DRAFT,
        A.SIGN,
        {"guardian": 1, "school": "School No 12"},
        "bad_detail",
        "guardian must be str, not int",
    ),
    (
        "no hand-over act",
        S.SIGNED,
        A.HAND_OVER,
        {"training_recorded": True},
        "missing_act",
        "hand-over needs a signed hand-over act",
    ),
    (
        "a component without condition at hand-over",
        S.SIGNED,
        A.HAND_OVER,
        {"act": act_without("SN-2"), "training_recorded": True},
        "incomplete_act",
        "hand-over needs every component's condition: missing SN-2",
    ),
    (
        "a blank condition at hand-over",
        S.SIGNED,
        A.HAND_OVER,
        {
            "act": dataclasses.replace(HANDOVER, conditions={**HANDOVER.conditions, "SN-3": " "}),
            "training_recorded": True,
        },
        "incomplete_act",
        "hand-over needs every component's condition: missing SN-3",
    ),
    (
        "a serial that is not in the contract",
        S.SIGNED,
        A.HAND_OVER,
        {
            "act": dataclasses.replace(HANDOVER, conditions={**HANDOVER.conditions, "SN-9": "ok"}),
            "training_recorded": True,
        },
        "incomplete_act",
        "the hand-over act lists SN-9, not a component of this contract",
    ),
    (
        "an unsigned hand-over act",
        S.SIGNED,
        A.HAND_OVER,
        {"act": dataclasses.replace(HANDOVER, signed_by=""), "training_recorded": True},
        "incomplete_act",
        "the hand-over act needs the name of who signed it",
    ),
    (
        "a hand-over act with a naive time",
        S.SIGNED,
        A.HAND_OVER,
        {"act": dataclasses.replace(HANDOVER, at=datetime(2025, 9, 1)), "training_recorded": True},
        "bad_detail",
        "the hand-over act's time must be timezone-aware",
    ),
    (
        "training not given",
        S.SIGNED,
        A.HAND_OVER,
        {"act": HANDOVER},
        "missing_training",
        "hand-over needs the training of the parent and the pupil recorded first",
    ),
    (
        "training not recorded",
        S.SIGNED,
        A.HAND_OVER,
        {"act": HANDOVER, "training_recorded": False},
        "missing_training",
        "hand-over needs the training of the parent and the pupil recorded first",
    ),
    (
        "no return act",
        S.ACTIVE,
        A.RETURN_KIT,
        {},
        "missing_act",
        "return needs a signed return act",
    ),
    (
        "a component without condition at return",
        S.RETURN_DUE,
        A.RETURN_KIT,
        {"act": act_without("SN-1", RETURN)},
        "incomplete_act",
        "return needs every component's condition: missing SN-1",
    ),
    (
        "a return act nobody signed",
        S.ACTIVE,
        A.RETURN_KIT,
        {"act": dataclasses.replace(RETURN, signed_by=" ")},
        "incomplete_act",
        "the return act needs the name of who signed it",
    ),
    (
        "the act is not an Act",
        S.ACTIVE,
        A.RETURN_KIT,
        {"act": {"SN-1": "good"}},
        "bad_detail",
        "act must be Act, not dict",
    ),
    (
        "termination without a reason",
        S.ACTIVE,
        A.TERMINATE,
        {},
        "missing_reason",
        "termination needs a reason",
    ),
    (
        "termination with a blank reason",
        S.DRAFT,
        A.TERMINATE,
        {"reason": ""},
        "missing_reason",
        "termination needs a reason",
    ),
    (
        "a misspelt detail",
        S.DRAFT,
        A.SIGN,
        {"guardian": "A. Nurgalieva", "shcool": "School No 12"},
        "unknown_detail",
        "sign takes guardian, school; unknown: shcool",
    ),
    (
        "details for a step that takes none",
        S.ACTIVE,
        A.REPORT_LOST,
        {"reason": "stolen"},
        "unknown_detail",
        "report_lost takes no details; unknown: reason",
    ),
]


@pytest.mark.parametrize(
    ("state", "action", "details", "reason", "message"),
    [case[1:] for case in DETAIL_CASES],
    ids=[case[0] for case in DETAIL_CASES],
)
def test_missing_or_wrong_details_are_refused(
    state: ContractState,
    action: Action,
    details: dict[str, object],
    reason: str,
    message: str,
) -> None:
    with pytest.raises(TransitionError) as caught:
        apply(in_state(state), action, **details)
    assert str(caught.value) == message
    assert caught.value.reason == reason
    assert caught.value.state is state
    assert caught.value.action is action


def test_details_already_on_the_contract_count() -> None:
    half_signed = dataclasses.replace(BASE, signed_by_guardian="A. Nurgalieva")
    assert apply(half_signed, A.SIGN, school="School No 12").signed_by_guardian == "A. Nurgalieva"

    trained = dataclasses.replace(BASE, state=S.SIGNED, training_recorded=True)
    assert apply(trained, A.HAND_OVER, act=HANDOVER).state is S.ACTIVE


def test_signatures_are_stored_without_surrounding_spaces() -> None:
    signed = apply(BASE, A.SIGN, guardian="  A. Nurgalieva ", school="School No 12\n")
    assert (signed.signed_by_guardian, signed.signed_by_school) == (
        "A. Nurgalieva",
        "School No 12",
    )


def test_termination_keeps_its_reason() -> None:
    ended = apply(in_state(S.SIGNED), A.TERMINATE, reason="the family moved")
    assert (ended.state, ended.termination_reason) == (S.TERMINATED, "the family moved")


# --- when a contract is due for return ---------------------------------------------------------

END = BASE.end  # 2026-05-31


@pytest.mark.parametrize(
    ("state", "today", "lead_days", "expected"),
    [
        (S.ACTIVE, date(2026, 5, 16), 14, False),
        (S.ACTIVE, date(2026, 5, 17), 14, True),
        (S.ACTIVE, date(2026, 5, 31), 14, True),
        (S.ACTIVE, date(2026, 7, 1), 14, True),  # overdue is due as well
        (S.ACTIVE, date(2026, 5, 30), 0, False),
        (S.ACTIVE, date(2026, 5, 31), 0, True),
        (S.SIGNED, date(2026, 5, 31), 14, False),  # not handed over: nothing to return
        (S.RETURN_DUE, date(2026, 5, 31), 14, False),  # already marked
        (S.RETURNED, date(2026, 5, 31), 14, False),
    ],
)
def test_due_for_return(state: ContractState, today: date, lead_days: int, expected: bool) -> None:
    assert due_for_return(in_state(state), today, lead_days) is expected


def test_due_for_return_refuses_a_negative_lead() -> None:
    with pytest.raises(ValueError, match="lead_days"):
        due_for_return(in_state(S.ACTIVE), END, -1)
