"""The loans use cases the API calls: each change is one transaction, committed here.

The parts do the work in the caller's transaction: `people` (pupils and guardians, personal data
encrypted), `inventory` (components), `contracts` (drawn up, stepped through `lifecycle`,
annexed, printed through `documents`), `kit_status` (a lost kit's revocation), `imports` (CSV
files and the register) and `alerts`. The API calls this module; the tickets call its last
section, which runs in the caller's transaction and does not commit. A refusal is a
`ControllerError` carrying its HTTP status (`controller.loans.errors`,
`lifecycle.TransitionError`, `DocumentError`), answered by the API's one handler.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from controller.config import ControllerSettings
from controller.loans import (
    alerts,
    contracts,
    documents,
    imports,
    inventory,
    kit_status,
    people,
    people_archive,
    signatures,
)
from controller.loans.errors import ImportRefusedError, UnreadableFileError
from controller.loans.lifecycle import Action
from controller.loans.people import cipher as cipher
from controller.loans.schemas import (
    ComponentCreate,
    ComponentUpdate,
    ContractAction,
    ContractCreate,
    GuardianCreate,
    PupilCreate,
    ReplacementCreate,
)
from controller.loans.tables import Component, LoanContract
from controller.platform.crypto import FieldCipher
from controller.platform.localtime import DEFAULT_ZONE
from controller.trust.tables import User

# --- pupils and guardians, as the member of staff asking may see them ---------------------------


def add_pupil(
    session: Session, *, data: PupilCreate, cipher: FieldCipher, user: User, now: datetime
) -> dict[str, Any]:
    """Add a pupil (administrators); the pupil as `user` may see them."""
    pupil = people.create_pupil(session, data=data, cipher=cipher, actor=user.username, now=now)
    session.commit()
    return people.pupil_view(pupil, cipher, user.role)


def list_pupils(session: Session, *, cipher: FieldCipher, user: User) -> list[dict[str, Any]]:
    """Pupils this member of staff may see (a teacher: their own)."""
    return [people.pupil_view(p, cipher, user.role) for p in people.visible_pupils(session, user)]


def get_pupil(session: Session, *, ref: str, cipher: FieldCipher, user: User) -> dict[str, Any]:
    """One pupil, if this member of staff may see them (404 otherwise)."""
    return people.pupil_view(people.visible_pupil(session, user, ref), cipher, user.role)


def add_guardian(
    session: Session, *, data: GuardianCreate, cipher: FieldCipher, user: User, now: datetime
) -> dict[str, Any]:
    """Add a parent or legal representative of a pupil; the guardian as `user` may see them."""
    guardian = people.create_guardian(
        session, data=data, cipher=cipher, actor=user.username, now=now
    )
    session.commit()
    return people.guardian_view(guardian, data.pupil_ref, cipher, user.role)


def list_guardians(
    session: Session, *, cipher: FieldCipher, user: User, pupil_ref: str | None = None
) -> list[dict[str, Any]]:
    """Parents and representatives of the pupils this member of staff may see."""
    return [
        people.guardian_view(guardian, ref, cipher, user.role)
        for guardian, ref in people.visible_guardians(session, user, pupil_ref)
    ]


# --- components ---------------------------------------------------------------------------------


def add_component(
    session: Session, *, data: ComponentCreate, actor: str, now: datetime
) -> Component:
    """Record a serial-numbered component in a kit or in spare stock."""
    row = inventory.add_component(session, data=data, actor=actor, now=now)
    session.commit()
    return row


def change_component(
    session: Session, *, serial: str, change: ComponentUpdate, actor: str, now: datetime
) -> Component:
    """Move a component to another kit or to stock, or record its condition."""
    row = inventory.change_component(session, serial=serial, change=change, actor=actor, now=now)
    session.commit()
    return row


def list_components(session: Session, *, kit_id: str | None = None) -> list[Component]:
    """Components, of one kit or all (spare stock has no kit)."""
    return inventory.kit_components(session, kit_id)


# --- contracts ----------------------------------------------------------------------------------


def create_contract(
    session: Session, *, data: ContractCreate, actor: str, now: datetime
) -> LoanContract:
    """A draft contract lending a kit's components to a pupil, signed for by a guardian.

    Refused for a pupil or guardian who left the school (`people_archive.check_current`).
    """
    people_archive.check_current(session, pupil_ref=data.pupil_ref, guardian_ref=data.guardian_ref)
    row = contracts.create_contract(session, data=data, actor=actor, now=now)
    session.commit()
    return row


def list_contracts(session: Session, *, state: str | None = None) -> list[LoanContract]:
    """The contract register, optionally by state."""
    return contracts.list_contracts(session, state=state)


def get_contract(session: Session, *, number: str) -> LoanContract:
    """One contract by number."""
    return contracts.get_contract(session, number)


def contract_view(row: LoanContract, *, cipher: FieldCipher, user: User) -> dict[str, Any]:
    """A contract as `user` may see it: who signed it and its acts only for administrators."""
    return signatures.contract_view(row, cipher, user.role)


def act(
    session: Session,
    *,
    number: str,
    action: Action,
    details: ContractAction,
    settings: ControllerSettings,
    actor: str,
    now: datetime,
) -> LoanContract:
    """Apply one step of the contract's life; a kit reported lost is revoked and published."""
    row = contracts.act(
        session,
        number=number,
        action=action,
        details=details,
        revocations=kit_status.Revocations.of(settings),
        cipher=people.cipher(settings),
        actor=actor,
        now=now,
        zone=settings.school_zone,
    )
    session.commit()
    return row


def replace_component(
    session: Session,
    *,
    number: str,
    data: ReplacementCreate,
    cipher: FieldCipher,
    actor: str,
    now: datetime,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> LoanContract:
    """Replace a component of a kit on loan with one from spare stock: an annex to the contract
    (its PDF frozen at once, dated in the school's `zone`)."""
    row = contracts.replace_component(
        session, number=number, data=data, actor=actor, now=now, cipher=cipher, zone=zone
    )
    session.commit()
    return row


def document(
    session: Session,
    *,
    number: str,
    kind: contracts.DocumentKind,
    lang: documents.Lang,
    cipher: FieldCipher,
    annex: int | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> bytes:
    """The contract, an act or an annex as a PDF in Kazakh or Russian (as frozen once signed)."""
    return contracts.document(
        session, number=number, kind=kind, lang=lang, cipher=cipher, annex=annex, zone=zone
    )


def frozen_documents(session: Session, *, number: str) -> list[dict[str, Any]]:
    """The contract's frozen documents: kind, annex number, lang, sha256, when."""
    return contracts.frozen_documents(session, number=number)


def register_csv(session: Session) -> str:
    """The contract register as CSV (people by reference, no personal data)."""
    return imports.register_csv(session)


# --- imports and alerts -------------------------------------------------------------------------


def import_file(
    session: Session,
    *,
    kind: imports.Kind,
    raw: bytes,
    partial: bool,
    settings: ControllerSettings,
    actor: str,
    now: datetime,
    update: bool = False,
) -> dict[str, Any]:
    """Import a CSV file; with a bad row and not `partial`, nothing (ImportRefusedError, 422).

    `update`: rows whose reference is recorded update it (else they are errors)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(key="not_text", domain="imports") from exc
    cipher = people.cipher(settings) if kind in ("pupils", "guardians") else None
    report = imports.import_csv(
        session,
        kind=kind,
        text=text,
        partial=partial,
        update=update,
        cipher=cipher,
        revocations=kit_status.Revocations.of(settings),
        actor=actor,
        now=now,
    )
    if report["errors"] and not partial:
        session.rollback()
        raise ImportRefusedError(report)
    session.commit()
    return report


def standing_alerts(session: Session, *, today: date, lead_days: int) -> list[alerts.Alert]:
    """Every alert that stands today, from contracts and the latest snapshots."""
    return alerts.compute(session, today=today, lead_days=lead_days)


# --- for another domain's transaction (the tickets' swaps): nothing below commits ---------------


def find_component(session: Session, *, serial: str) -> Component | None:
    """The component with this serial, if any."""
    return inventory.find_component(session, serial)


def current_contract(session: Session, *, kit_id: str) -> LoanContract | None:
    """The contract the kit is lent under now, if any."""
    return contracts.current_contract(session, kit_id=kit_id)


def guardian_contact(
    session: Session, *, kit_id: str, contract_number: str | None, cipher: FieldCipher, role: str
) -> dict[str, Any] | None:
    """Who to call about a kit: the guardian who signed its contract, as `role` may see them."""
    return contracts.guardian_contact(
        session, kit_id=kit_id, contract_number=contract_number, cipher=cipher, role=role
    )


def replace_component_in_transaction(
    session: Session,
    *,
    number: str,
    data: ReplacementCreate,
    actor: str,
    now: datetime,
    cipher: FieldCipher | None = None,
) -> LoanContract:
    """`replace_component` in the caller's transaction: audited, not committed (with `cipher`,
    the annex's PDF is frozen at once)."""
    return contracts.replace_component(
        session, number=number, data=data, actor=actor, now=now, cipher=cipher
    )


def replace_kit_in_transaction(
    session: Session,
    *,
    old_kit_id: str,
    new_kit_id: str,
    reason: str,
    actor: str,
    now: datetime,
    cipher: FieldCipher | None = None,
    ticket: int | None = None,
) -> LoanContract | None:
    """Swap a whole kit (its contract moves, with an annex citing `ticket` if given) in the
    caller's transaction (with `cipher`, the annex's PDF is frozen at once)."""
    return contracts.replace_kit(
        session,
        old_kit_id=old_kit_id,
        new_kit_id=new_kit_id,
        reason=reason,
        actor=actor,
        now=now,
        cipher=cipher,
        ticket=ticket,
    )


def change_component_in_transaction(
    session: Session, *, serial: str, change: ComponentUpdate, actor: str, now: datetime
) -> Component:
    """`change_component` in the caller's transaction: audited, not committed."""
    return inventory.change_component(session, serial=serial, change=change, actor=actor, now=now)
