"""Storing one checked row of an import: created, updated (when the import updates) or unchanged.

Each function runs in the caller's savepoint and raises the domain's error when the database
refuses the row (`controller.loans.imports` reports it on the row's line). Kits are created here
(a kits file is, with enrolment, the one way a kit comes to be); components, pupils and
guardians that exist are updated only when the import was asked to (`?update=true`): the parse
refused them otherwise (`import_rows`, `existing=`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.loans import inventory, kit_status, people, people_changes
from controller.loans.errors import ContractsError
from controller.loans.import_rows import ComponentRow, GuardianRow, KitRow, PupilRow
from controller.loans.schemas import (
    ComponentCreate,
    GuardianCreate,
    GuardianUpdate,
    PupilCreate,
    PupilUpdate,
)
from controller.loans.tables import Guardian, Pupil
from controller.platform.crypto import FieldCipher
from controller.trust import enrolment as trust

Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Store:
    """What storing a row needs: the transaction, the key cipher (people), who, when."""

    session: Session
    cipher: FieldCipher | None
    actor: str
    now: datetime

    def _cipher(self) -> FieldCipher:
        if self.cipher is None:
            raise TypeError("people are stored with the personal-data cipher")
        return self.cipher


def store_kit(store: Store, row: KitRow, *, existed: bool) -> tuple[Outcome, bool]:
    """A kit (created if new) with its profile and lifecycle; True when revocations change."""
    kit = trust.ensure_kit(store.session, row.kit_id)
    changed = kit.profile != row.profile or kit.lifecycle != row.status
    kit.profile = row.profile
    revoking = kit_status.set_status(
        store.session, kit_id=row.kit_id, status=row.status, actor=store.actor, now=store.now
    )
    return _outcome(existed=existed, changed=changed), revoking


def store_component(store: Store, row: ComponentRow) -> Outcome:
    """A component added, or (updating) its kind, model, condition and kit set."""
    data = ComponentCreate(
        serial=row.serial,
        kind=row.kind,
        model=row.model,
        condition=row.condition,
        kit_id=row.kit_id,
    )
    if inventory.find_component(store.session, row.serial) is None:
        inventory.add_component(store.session, data=data, actor=store.actor, now=store.now)
        return "created"
    changed = inventory.update_component(store.session, data=data, actor=store.actor, now=store.now)
    return _outcome(existed=True, changed=changed)


def store_pupil(store: Store, row: PupilRow) -> Outcome:
    """A pupil created, or (updating) corrected through `people_changes`."""
    session, cipher = store.session, store._cipher()
    fields: dict[str, Any] = {
        "name": row.name,
        "iin": row.iin,
        "grade": row.grade,
        "program": row.program,
        "basis": row.basis,
        "temporary_until": row.temporary_until,
        "school": row.school,
    }
    if "teacher" in row.model_fields_set:  # a file without the column leaves the teacher be
        fields["teacher"] = row.teacher
    if session.scalar(select(Pupil.id).where(Pupil.ref == row.pupil_ref)) is None:
        people.create_pupil(
            session,
            data=PupilCreate(ref=row.pupil_ref, **fields),
            cipher=cipher,
            actor=store.actor,
            now=store.now,
        )
        return "created"
    _pupil, changed = people_changes.apply_pupil_update(
        session,
        ref=row.pupil_ref,
        change=PupilUpdate(**fields),
        cipher=cipher,
        actor=store.actor,
        now=store.now,
    )
    return _outcome(existed=True, changed=bool(changed))


def store_guardian(store: Store, row: GuardianRow) -> Outcome:
    """A guardian created, or (updating) corrected; a guardian's row keeps its pupil."""
    session, cipher = store.session, store._cipher()
    fields: dict[str, Any] = {
        "relation": row.relation,
        "name": row.name,
        "phone": row.phone,
        "address": row.address,
        "iin": row.iin,
    }
    existing = session.scalar(select(Guardian).where(Guardian.ref == row.guardian_ref))
    if existing is None:
        people.create_guardian(
            session,
            data=GuardianCreate(ref=row.guardian_ref, pupil_ref=row.pupil_ref, **fields),
            cipher=cipher,
            actor=store.actor,
            now=store.now,
        )
        return "created"
    pupil_ref = session.scalar(select(Pupil.ref).where(Pupil.id == existing.pupil_id))
    if pupil_ref != row.pupil_ref:
        raise ImportRowRefusedError("guardian.other_pupil", key=row.guardian_ref)
    _guardian, changed = people_changes.apply_guardian_update(
        session,
        ref=row.guardian_ref,
        change=GuardianUpdate(**fields),
        cipher=cipher,
        actor=store.actor,
        now=store.now,
    )
    return _outcome(existed=True, changed=bool(changed))


def _outcome(*, existed: bool, changed: bool) -> Outcome:
    if not existed:
        return "created"
    return "updated" if changed else "unchanged"


class ImportRowRefusedError(ContractsError):
    """A row the import itself refuses when storing it (`imports.toml`)."""

    domain = "imports"

    def __init__(self, key: str, /, **params: object) -> None:
        super().__init__("", 422)
        self.key, self.params = key, dict(params)
        self.message_key, self.message_params = key, dict(params)  # `messages()`: kk, ru, en
        self.args = (self._catalogue().text(key, "en", **params),)
