"""What a hand-over or return act (or a replacement) says of each component, checked.

Conditions come from the controlled vocabulary (`controller.loans.vocabulary.Condition`); a value
outside it is refused with the accepted values listed, in Kazakh, Russian and English
(`refused.condition` in the `documents` catalogue). A note may go with any component of the act,
and a return act may carry the school's claim for what is damaged or missing.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from controller.errors import ControllerError
from controller.loans import lifecycle
from controller.loans.errors import ContractsError
from controller.loans.schemas import ActCreate
from controller.loans.vocabulary import Condition, accepted


class ConditionRefusedError(ContractsError):
    """A condition outside the vocabulary, or a note on a component the act does not list."""

    domain: ClassVar[str | None] = "documents"

    def __init__(self, key: str, /, **params: object) -> None:
        ControllerError.__init__(self, key=key, params=params)
        self.status = 422


def check_condition(serial: str, value: str) -> str:
    """The condition as the vocabulary spells it (`good`); refused when it is not one of them."""
    code = value.strip().lower()
    if code not in Condition.__members__.values():
        raise ConditionRefusedError(
            "refused.condition", serial=serial, accepted=accepted(Condition)
        )
    return code


def build_act(data: ActCreate, *, at: datetime, claim_allowed: bool = True) -> lifecycle.Act:
    """The act as the state machine takes it: conditions checked, notes on listed parts only;
    a claim only where `claim_allowed` (a return act: a hand-over act's claim is refused)."""
    conditions = {
        serial: check_condition(serial, value) for serial, value in data.conditions.items()
    }
    stray = sorted(set(data.notes) - set(conditions))
    if stray:
        raise ConditionRefusedError("refused.note", serials=", ".join(stray))
    notes = {serial: note.strip() for serial, note in data.notes.items() if note.strip()}
    claim = data.claim.strip() if data.claim and data.claim.strip() else None
    if claim is not None and not claim_allowed:
        raise ConditionRefusedError("refused.claim_on_handover")
    return lifecycle.Act(
        conditions=conditions, signed_by=data.signed_by, at=at, notes=notes, claim=claim
    )
