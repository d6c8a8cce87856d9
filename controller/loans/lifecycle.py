"""The contract of free temporary use as a state machine: which step is legal, what it needs.

    draft --sign--> signed --hand_over--> active --mark_return_due--> return_due
    active | return_due --return_kit--> returned
    active | return_due --report_lost--> lost
    draft | signed | active --terminate--> terminated

`apply` is pure: it takes a contract, an action and the action's details and returns the new
contract, or raises `TransitionError` saying why in English (`str`), with a machine `reason` and
the same words in Kazakh, Russian and English (`messages()`, from the `contracts` catalogue:
common/locale/<lang>/contracts.toml, state and action names included). What each action needs:

- sign: `guardian=` and `school=`, the names of who signed (or already on the contract);
- hand_over: `act=` the hand-over `Act` with a condition for every component, and
  `training_recorded=True` (the parent and the pupil were trained to use the kit), either given
  or already on the contract;
- mark_return_due: nothing; a scheduler applies it when `due_for_return` says so;
- return_kit: `act=` the return `Act` with a condition for every component and who signed it;
- report_lost: nothing;
- terminate: `reason=` why the contract ends early.

An unknown detail name is refused rather than ignored, so a typo cannot drop a signature.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal, NoReturn

from common.i18n import LANGS, Lang, catalogue
from controller.errors import ControllerError


class ContractState(StrEnum):
    """Where a contract is in its life."""

    DRAFT = "draft"
    SIGNED = "signed"
    ACTIVE = "active"
    RETURN_DUE = "return_due"
    RETURNED = "returned"
    LOST = "lost"
    TERMINATED = "terminated"


class Action(StrEnum):
    """A step that moves a contract from one state to another."""

    SIGN = "sign"
    HAND_OVER = "hand_over"
    MARK_RETURN_DUE = "mark_return_due"
    RETURN_KIT = "return_kit"
    REPORT_LOST = "report_lost"
    TERMINATE = "terminate"


TransitionReason = Literal[
    "not_allowed",
    "unknown_detail",
    "bad_detail",
    "missing_signature",
    "missing_act",
    "incomplete_act",
    "missing_training",
    "missing_reason",
]
"""Why a step was refused, for a user interface to translate."""


@dataclass(frozen=True)
class Terms:
    """Catalogue keys said in the reader's language, joined by "and" (a state, an action...)."""

    keys: tuple[str, ...]

    def say(self, lang: Lang) -> str:
        """The terms in `lang`."""
        texts = catalogue(TransitionError.domain or "")
        return f" {texts.text('and', lang)} ".join(texts.text(key, lang) for key in self.keys)


class TransitionError(ControllerError):
    """A step is not legal from the contract's state, or its details are missing or wrong (409).

    Its `message_key` (`refused.*` in the `contracts` catalogue) and `message_params` say it in
    every language; a `Terms` parameter (a state, an action, why) is said in the reader's language.
    """

    status = 409
    domain = "contracts"

    def __init__(
        self,
        state: ContractState,
        action: Action,
        reason: TransitionReason,
        key: str,
        /,
        **params: object,
    ) -> None:
        """Keep the state, the action and a machine-readable reason next to the message."""
        self.state = state
        self.action = action
        self.reason: TransitionReason = reason
        self.message_key = key
        self.message_params = params
        super().__init__(self.say("en"))

    def say(self, lang: Lang) -> str:
        """The refusal in `lang`."""
        params = {
            k: v.say(lang) if isinstance(v, Terms) else v for k, v in self.message_params.items()
        }
        return catalogue(self.domain or "").text(self.message_key or "", lang, **params)

    def messages(self) -> dict[Lang, str]:
        """The refusal in Kazakh, Russian and English."""
        return {lang: self.say(lang) for lang in LANGS}

    def body(self) -> dict[str, Any]:
        """`detail`, the machine `reason`, the contract's `state`, the `action`, `messages`."""
        return {
            **super().body(),
            "reason": self.reason,
            "state": self.state.value,
            "action": self.action.value,
        }


@dataclass(frozen=True)
class Component:
    """One item of the kit the contract lends; the serial identifies it."""

    serial: str
    kind: str
    model: str


@dataclass(frozen=True)
class Act:
    """A signed hand-over or return act: each component's condition, who signed, when (UTC)."""

    conditions: dict[str, str]
    """Component serial -> its condition as written in the act."""
    signed_by: str
    at: datetime
    notes: dict[str, str] = dataclasses.field(default_factory=dict)
    """Component serial -> what the act says of it besides its condition (optional)."""
    claim: str | None = None
    """A return act: what the school asks of the family for what is damaged or missing."""


@dataclass(frozen=True)
class Contract:
    """A contract of free temporary use, as the state machine sees it."""

    state: ContractState
    components: tuple[Component, ...]
    start: date
    end: date
    signed_by_guardian: str | None = None
    signed_by_school: str | None = None
    handover: Act | None = None
    training_recorded: bool = False
    return_act: Act | None = None
    termination_reason: str | None = None


FINAL_STATES: Final = frozenset(
    {ContractState.RETURNED, ContractState.LOST, ContractState.TERMINATED}
)
"""States no action leaves."""

LENT_STATES: Final = frozenset(
    s.value for s in (ContractState.SIGNED, ContractState.ACTIVE, ContractState.RETURN_DUE)
)
"""A kit's current contract is one in these states: the kit is promised to its pupil (signed) or
with them (active, due for return). The one definition the other domains use."""

ON_LOAN_STATES: Final = frozenset(s.value for s in (ContractState.ACTIVE, ContractState.RETURN_DUE))
"""The kit is with its pupil: handed over, not back yet. (A part or the whole kit is replaced
under an annex in any of LENT_STATES: promised, or with the pupil.)"""

OPEN_STATES: Final = LENT_STATES | {ContractState.DRAFT.value}
"""A kit has at most one contract in these states."""

TRANSITIONS: Final[Mapping[Action, tuple[frozenset[ContractState], ContractState]]] = {
    Action.SIGN: (frozenset({ContractState.DRAFT}), ContractState.SIGNED),
    Action.HAND_OVER: (frozenset({ContractState.SIGNED}), ContractState.ACTIVE),
    Action.MARK_RETURN_DUE: (frozenset({ContractState.ACTIVE}), ContractState.RETURN_DUE),
    Action.RETURN_KIT: (
        frozenset({ContractState.ACTIVE, ContractState.RETURN_DUE}),
        ContractState.RETURNED,
    ),
    Action.REPORT_LOST: (
        frozenset({ContractState.ACTIVE, ContractState.RETURN_DUE}),
        ContractState.LOST,
    ),
    Action.TERMINATE: (
        frozenset({ContractState.DRAFT, ContractState.SIGNED, ContractState.ACTIVE}),
        ContractState.TERMINATED,
    ),
}
"""Action -> (the states it may start from, the state it leads to)."""

# --- why a step is not legal -------------------------------------------------------------------

_NOT_HANDED_OVER: Final = "why.not_handed_over"
_ALREADY_SIGNED: Final = "why.already_signed"
_SIGN_FIRST: Final = "why.sign_first"
_ALREADY_HANDED_OVER: Final = "why.already_handed_over"
_WHY_NOT: Final[Mapping[tuple[ContractState, Action], str]] = {
    (ContractState.DRAFT, Action.HAND_OVER): _SIGN_FIRST,
    (ContractState.DRAFT, Action.MARK_RETURN_DUE): _NOT_HANDED_OVER,
    (ContractState.DRAFT, Action.RETURN_KIT): _NOT_HANDED_OVER,
    (ContractState.DRAFT, Action.REPORT_LOST): _NOT_HANDED_OVER,
    (ContractState.SIGNED, Action.SIGN): _ALREADY_SIGNED,
    (ContractState.SIGNED, Action.MARK_RETURN_DUE): _NOT_HANDED_OVER,
    (ContractState.SIGNED, Action.RETURN_KIT): _NOT_HANDED_OVER,
    (ContractState.SIGNED, Action.REPORT_LOST): _NOT_HANDED_OVER,
    (ContractState.ACTIVE, Action.SIGN): _ALREADY_SIGNED,
    (ContractState.ACTIVE, Action.HAND_OVER): _ALREADY_HANDED_OVER,
    (ContractState.RETURN_DUE, Action.SIGN): _ALREADY_SIGNED,
    (ContractState.RETURN_DUE, Action.HAND_OVER): _ALREADY_HANDED_OVER,
    (ContractState.RETURN_DUE, Action.MARK_RETURN_DUE): "why.already_due",
    (ContractState.RETURN_DUE, Action.TERMINATE): "why.due_back",
}
"""Why an action is not legal from a state that is not final (a `why.*` key of the `contracts`
catalogue); every final state is finished."""


def _why_not(state: ContractState, action: Action) -> Terms:
    if state in FINAL_STATES:
        return Terms(("why.finished",))
    return Terms((_WHY_NOT.get((state, action), "why.not_legal"),))


def _noun(action: Action) -> Terms:
    """The step an act records (hand-over, return), as the refusals name it."""
    return Terms((f"noun.{action.value}",))


# --- the details each action needs -------------------------------------------------------------


def _fail(
    contract: Contract, action: Action, reason: TransitionReason, key: str, **params: object
) -> NoReturn:
    raise TransitionError(contract.state, action, reason, key, **params)


def _text(value: object) -> str | None:
    """The stripped text, or None when the value is not a non-blank string."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _check_type(
    contract: Contract, action: Action, name: str, value: object, expected: type
) -> None:
    if value is not None and not isinstance(value, expected):
        _fail(
            contract,
            action,
            "bad_detail",
            "refused.bad_type",
            name=name,
            expected=expected.__name__,
            got=type(value).__name__,
        )


def _check_act(contract: Contract, action: Action, act: object) -> Act:
    noun = _noun(action)
    _check_type(contract, action, "act", act, Act)
    if not isinstance(act, Act):
        _fail(contract, action, "missing_act", "refused.missing_act", noun=noun)
    if _text(act.signed_by) is None:
        _fail(contract, action, "incomplete_act", "refused.act_unsigned", noun=noun)
    if act.at.tzinfo is None or act.at.utcoffset() is None:
        _fail(contract, action, "bad_detail", "refused.act_time", noun=noun)
    missing = [c.serial for c in contract.components if _text(act.conditions.get(c.serial)) is None]
    if missing:
        _fail(
            contract,
            action,
            "incomplete_act",
            "refused.act_conditions",
            noun=noun,
            serials=", ".join(missing),
        )
    known = {c.serial for c in contract.components}
    unknown = sorted(set(act.conditions) - known)
    if unknown:
        _fail(
            contract,
            action,
            "incomplete_act",
            "refused.act_unknown",
            noun=noun,
            serials=", ".join(unknown),
        )
    return act


def _sign(contract: Contract, details: Mapping[str, object]) -> Contract:
    action = Action.SIGN
    for name in ("guardian", "school"):
        _check_type(contract, action, name, details.get(name), str)
    guardian = _text(details.get("guardian", contract.signed_by_guardian))
    school = _text(details.get("school", contract.signed_by_school))
    missing = tuple(
        who
        for who, name in (("signature.guardian", guardian), ("signature.school", school))
        if not name
    )
    if missing:
        _fail(
            contract,
            action,
            "missing_signature",
            "refused.missing_signature",
            missing=Terms(missing),
        )
    return dataclasses.replace(contract, signed_by_guardian=guardian, signed_by_school=school)


def _hand_over(contract: Contract, details: Mapping[str, object]) -> Contract:
    action = Action.HAND_OVER
    act = _check_act(contract, action, details.get("act", contract.handover))
    training = details.get("training_recorded", contract.training_recorded)
    _check_type(contract, action, "training_recorded", training, bool)
    if training is not True:
        _fail(
            contract,
            action,
            "missing_training",
            "refused.missing_training",
        )
    return dataclasses.replace(contract, handover=act, training_recorded=True)


def _mark_return_due(contract: Contract, details: Mapping[str, object]) -> Contract:
    return contract


def _return_kit(contract: Contract, details: Mapping[str, object]) -> Contract:
    act = _check_act(contract, Action.RETURN_KIT, details.get("act", contract.return_act))
    return dataclasses.replace(contract, return_act=act)


def _report_lost(contract: Contract, details: Mapping[str, object]) -> Contract:
    return contract


def _terminate(contract: Contract, details: Mapping[str, object]) -> Contract:
    action = Action.TERMINATE
    _check_type(contract, action, "reason", details.get("reason"), str)
    reason = _text(details.get("reason", contract.termination_reason))
    if reason is None:
        _fail(contract, action, "missing_reason", "refused.missing_reason")
    return dataclasses.replace(contract, termination_reason=reason)


_Step = Callable[[Contract, Mapping[str, object]], Contract]
_STEPS: Final[Mapping[Action, tuple[frozenset[str], _Step]]] = {
    Action.SIGN: (frozenset({"guardian", "school"}), _sign),
    Action.HAND_OVER: (frozenset({"act", "training_recorded"}), _hand_over),
    Action.MARK_RETURN_DUE: (frozenset(), _mark_return_due),
    Action.RETURN_KIT: (frozenset({"act"}), _return_kit),
    Action.REPORT_LOST: (frozenset(), _report_lost),
    Action.TERMINATE: (frozenset({"reason"}), _terminate),
}
"""Action -> (the detail names it takes, the function that checks them and records them)."""


# --- the public functions ----------------------------------------------------------------------


def apply(contract: Contract, action: Action, **details: object) -> Contract:
    """Return the contract after the action; TransitionError if it is illegal or incomplete."""
    sources, target = TRANSITIONS[action]
    if contract.state not in sources:
        raise TransitionError(
            contract.state,
            action,
            "not_allowed",
            "refused.not_allowed",
            state=Terms((f"state.{contract.state.value}",)),
            action=Terms((f"action.{action.value}",)),
            why=_why_not(contract.state, action),
        )
    accepted, step = _STEPS[action]
    unknown = sorted(set(details) - accepted)
    if unknown:
        _fail(
            contract,
            action,
            "unknown_detail",
            "refused.unknown_detail",
            step=action.value,
            takes=", ".join(sorted(accepted)) if accepted else Terms(("takes.none",)),
            unknown=", ".join(unknown),
        )
    return dataclasses.replace(step(contract, details), state=target)


def actions_from(state: ContractState) -> list[Action]:
    """List the actions legal from a state (their details are not checked)."""
    return [action for action, (sources, _) in TRANSITIONS.items() if state in sources]


def allowed_actions(contract: Contract) -> list[Action]:
    """List the actions legal from the contract's state (their details are not checked)."""
    return actions_from(contract.state)


def due_for_return(contract: Contract, today: date, lead_days: int) -> bool:
    """Tell whether an active contract ends within lead_days of today (or already ended)."""
    if lead_days < 0:
        raise ValueError(f"lead_days must be 0 or more, not {lead_days}")
    return contract.state == ContractState.ACTIVE and today >= contract.end - timedelta(lead_days)
