"""Who signed a contract and its acts: encrypted at rest, shown to administrators only.

The names under a contract (the guardian's and the school's signatories) and under each hand-over
or return act are people's names: the contract's row keeps them as `FieldCipher` tokens
(`signed_by_guardian_enc`, `signed_by_school_enc`, each act's `signed_by_enc`). The state machine
(`controller.loans.lifecycle`) sees them decrypted (`act_from`, `act_to`, `seal`, `unseal`); what a
member of staff sees of a contract is decided here, once (`contract_view`): a technician sees its
state, parts and conditions, never who signed.

An act's notes and the school's claim (against a family: personal data) are kept the same way,
as tokens (`notes_enc`: the notes as JSON; `claim_enc`), and shown to administrators only. Acts
stored before, with plain `notes` and `claim`, are read as they are and encrypted by `rotate`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.loans import lifecycle, records
from controller.loans.tables import LoanContract
from controller.platform.crypto import FieldCipher
from controller.trust.staff import Role

_SHOWN_TO_ALL: Final = (
    "number",
    "school",
    "city",
    "guardian_ref",
    "pupil_ref",
    "kit_id",
    "state",
    "start",
    "end",
    "terms_version",
    "components",
    "training_recorded",
    "termination_reason",
    "annexes",
)
"""What every role that reads contracts sees of one (`ContractPublic` without who signed)."""

_SIGNERS: Final = ("signed_by_guardian_enc", "signed_by_school_enc")
_ACTS: Final = ("handover", "return_act")


def seal(cipher: FieldCipher, name: str | None) -> str | None:
    """A signatory's name as stored: its token (None when nobody signed)."""
    return None if name is None else cipher.encrypt(name)


def unseal(cipher: FieldCipher, token: str | None) -> str | None:
    """A signatory's name from its token (None when nobody signed)."""
    return None if token is None else cipher.decrypt(token)


def notes_and_claim(data: dict[str, Any], cipher: FieldCipher) -> tuple[dict[str, str], str | None]:
    """A stored act's notes (serial -> note) and claim, decrypted (or as kept before)."""
    notes = data.get("notes", {})
    if data.get("notes_enc") is not None:
        notes = json.loads(cipher.decrypt(data["notes_enc"]))
    claim = data.get("claim")
    if data.get("claim_enc") is not None:
        claim = cipher.decrypt(data["claim_enc"])
    return dict(notes), claim


def act_from(data: dict[str, Any] | None, cipher: FieldCipher) -> lifecycle.Act | None:
    """A stored act as the state machine sees it, its signatory, notes and claim decrypted."""
    if data is None:
        return None
    notes, claim = notes_and_claim(data, cipher)
    return lifecycle.Act(
        conditions=dict(data["conditions"]),
        signed_by=cipher.decrypt(data["signed_by_enc"]),
        at=datetime.fromisoformat(data["at"]),
        notes=notes,
        claim=claim,
    )


def act_to(act: lifecycle.Act | None, cipher: FieldCipher) -> dict[str, Any] | None:
    """An act as stored, its signatory, notes and claim encrypted."""
    if act is None:
        return None
    stored: dict[str, Any] = {
        "conditions": act.conditions,
        "signed_by_enc": cipher.encrypt(act.signed_by),
        "at": act.at.isoformat(),
    }
    if act.notes:
        stored["notes_enc"] = cipher.encrypt(json.dumps(act.notes, ensure_ascii=False))
    if act.claim is not None:
        stored["claim_enc"] = cipher.encrypt(act.claim)
    return stored


_PRIVATE: Final = frozenset({"signed_by_enc", "notes_enc", "claim_enc", "notes", "claim"})
"""What of a stored act only administrators see (decrypted)."""


def _act_view(data: dict[str, Any] | None, cipher: FieldCipher, admin: bool) -> Any:
    if data is None:
        return None
    view = {k: v for k, v in data.items() if k not in _PRIVATE}
    if admin:
        view["signed_by"] = cipher.decrypt(data["signed_by_enc"])
        notes, claim = notes_and_claim(data, cipher)
        if notes:
            view["notes"] = notes
        if claim is not None:
            view["claim"] = claim
    return view


def _rotated_act(data: dict[str, Any], cipher: FieldCipher) -> dict[str, Any]:
    """A stored act under the newest key; plain notes or claim kept before are encrypted."""
    act = {k: v for k, v in data.items() if k not in ("notes", "claim")}
    act["signed_by_enc"] = cipher.rotate(data["signed_by_enc"])
    notes, claim = notes_and_claim(data, cipher)
    act.pop("notes_enc", None)
    act.pop("claim_enc", None)
    if notes:
        act["notes_enc"] = cipher.encrypt(json.dumps(notes, ensure_ascii=False))
    if claim is not None:
        act["claim_enc"] = cipher.encrypt(claim)
    return act


def contract_view(row: LoanContract, cipher: FieldCipher, role: str) -> dict[str, Any]:
    """A contract as `role` may see it: who signed it and its acts only for administrators."""
    admin = role == Role.ADMIN
    view: dict[str, Any] = {name: getattr(row, name) for name in _SHOWN_TO_ALL}
    view["signed_by_guardian"] = unseal(cipher, row.signed_by_guardian_enc) if admin else None
    view["signed_by_school"] = unseal(cipher, row.signed_by_school_enc) if admin else None
    view["handover"] = _act_view(row.handover, cipher, admin)
    view["return_act"] = _act_view(row.return_act, cipher, admin)
    return view


def rotate(session: Session, cipher: FieldCipher) -> int:
    """Re-encrypt every contract's signatories and frozen documents (`records.rotate`) under
    the newest key; contracts rewritten."""
    records.rotate(session, cipher)
    count = 0
    for row in session.scalars(select(LoanContract).order_by(LoanContract.id)):
        tokens = [getattr(row, column) for column in _SIGNERS]
        acts = [getattr(row, column) for column in _ACTS]
        if all(t is None for t in tokens) and all(a is None for a in acts):
            continue
        for column, token in zip(_SIGNERS, tokens, strict=True):
            setattr(row, column, None if token is None else cipher.rotate(token))
        for column, data in zip(_ACTS, acts, strict=True):
            if data is not None:
                setattr(row, column, _rotated_act(data, cipher))
        count += 1
    return count
