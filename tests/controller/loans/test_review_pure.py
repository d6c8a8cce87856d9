"""Fixes after the loans review (issue 13), pure: act notes and claim under key rotation, the
contract row locked for a replacement."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql

from controller.loans import contracts, signatures
from controller.loans.schemas import ReplacementCreate
from controller.platform.crypto import FieldCipher, generate_key

NOTE, CLAIM = {"SN-1": "corner dented"}, "the family pays for the cable"


def test_notes_and_claim_are_encrypted_and_rotated_and_plain_ones_kept_before_too() -> None:
    first, second, index = generate_key(), generate_key(), generate_key()
    old = FieldCipher([first], index_key=index)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    act = signatures.act_from(
        {"conditions": {"SN-1": "good"}, "signed_by_enc": old.encrypt("Ә Н"), "at": at.isoformat()}
        | {"notes": NOTE, "claim": CLAIM},  # as kept before the review
        old,
    )
    assert act is not None
    assert (act.notes, act.claim) == (NOTE, CLAIM)
    stored = signatures.act_to(act, old)
    assert stored is not None
    assert "dented" not in str(stored)
    assert "cable" not in str(stored)
    legacy = {k: v for k, v in stored.items() if not k.endswith("_enc")} | {
        "signed_by_enc": stored["signed_by_enc"],
        "notes": NOTE,
        "claim": CLAIM,
    }
    new = FieldCipher([second, first], index_key=index)
    only_new = FieldCipher([second], index_key=index)
    for kept in (stored, legacy):
        rotated = signatures._rotated_act(kept, new)
        assert set(rotated) == {"conditions", "signed_by_enc", "at", "notes_enc", "claim_enc"}
        assert signatures.notes_and_claim(rotated, only_new) == (NOTE, CLAIM)


class _StopError(Exception):
    pass


class _Session:
    """Records the statement asked for, then stops the caller."""

    def __init__(self) -> None:
        self.statements: list[Any] = []

    def scalar(self, statement: Any) -> Any:
        self.statements.append(statement)
        raise _StopError


def test_a_replacement_locks_the_contract_row() -> None:
    session = _Session()
    change = ReplacementCreate(old_serial="SN-1", new_serial="SN-2", reason="broken screen")
    with pytest.raises(_StopError):
        contracts.replace_component(
            session,  # type: ignore[arg-type]
            number="C-1",
            data=change,
            actor="admin",
            now=datetime(2026, 3, 1, tzinfo=UTC),
        )
    (statement,) = session.statements
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    assert "FOR UPDATE" in str(statement.compile(dialect=dialect))
