"""Contracts of free temporary use: drawn up, stepped through their life, annexed, printed.

The contract's life is the pure state machine in `controller.loans.lifecycle`; this module loads
a contract, applies an action, writes the result back and audits it, in the caller's transaction
(`controller.loans.service` commits for the API). A kit reported lost loses its identity here
(`controller.loans.kit_status`), whoever reports it. A part or the whole kit replaced during the
loan gets the contract an annex (`replace_component`, `replace_kit`): other domains (tickets)
swap them only through these functions.

What a party signs is frozen as signed (`controller.loans.papers`, `controller.loans.records`):
the contract on signing, the hand-over act, the return act, each annex when it is made. The
conditions an act records go to the inventory (`inventory.record_conditions`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.fleet import queries as fleet
from controller.loans import (
    act_input,
    annexes,
    documents,
    inventory,
    kit_status,
    lifecycle,
    papers,
    people,
    records,
    signatures,
)
from controller.loans.errors import ContractsError, said, said_state
from controller.loans.schemas import ContractAction, ContractCreate, ReplacementCreate
from controller.loans.tables import Component, LoanContract, Pupil
from controller.platform import audit
from controller.platform.crypto import FieldCipher
from controller.platform.localtime import DEFAULT_ZONE
from controller.trust import enrolment as trust

DocumentKind = papers.DocumentKind

CONTACT_FIELDS: Final = ("ref", "pupil_ref", "relation", "name", "phone")
"""What a ticket shows of the guardian: never the IIN or the address."""


def _lendable_parts(session: Session, kit_id: str) -> list[Component]:
    """The kit's components, refusing a kit already under an open contract or with none."""
    open_one = session.scalar(
        select(LoanContract.number).where(
            LoanContract.kit_id == kit_id, LoanContract.state.in_(lifecycle.OPEN_STATES)
        )
    )
    if open_one:
        raise ContractsError.refused("refused.kit_lent", kit=kit_id, contract=open_one)
    parts = inventory.kit_components(session, kit_id)
    if not parts:
        raise ContractsError.refused("refused.kit_empty", 422, kit=kit_id)
    return parts


def create_contract(
    session: Session, *, data: ContractCreate, actor: str, now: datetime
) -> LoanContract:
    """A draft contract lending the kit's components as they are now."""
    if session.scalar(select(LoanContract.id).where(LoanContract.number == data.number)):
        raise ContractsError.refused("refused.contract_exists", number=data.number)
    pupil = session.scalar(select(Pupil).where(Pupil.ref == data.pupil_ref))
    guardian = people.find_guardian(session, data.guardian_ref)
    if pupil is None or guardian is None:
        raise ContractsError.refused("refused.unknown_party", 404)
    if guardian.pupil_id != pupil.id:
        raise ContractsError.refused(
            "refused.not_guardian", 422, guardian=data.guardian_ref, pupil=data.pupil_ref
        )
    parts = _lendable_parts(session, data.kit_id)
    row = LoanContract(
        **data.model_dump(),
        state=lifecycle.ContractState.DRAFT.value,
        components=annexes.lines(parts),
        training_recorded=False,
        created_at=now,
    )
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="contract_created",
        entity="contract",
        entity_id=data.number,
        now=now,
        after={"state": row.state, "kit_id": data.kit_id, "components": [c.serial for c in parts]},
    )
    return row


def get_contract(session: Session, number: str, *, lock: bool = False) -> LoanContract:
    """One contract by number; with `lock` its row is locked for the transaction's writes
    (SELECT ... FOR UPDATE: PostgreSQL honours it, SQLite writes one at a time anyway)."""
    query = select(LoanContract).where(LoanContract.number == number)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise ContractsError.refused("refused.no_contract", 404, number=number)
    return row


def list_contracts(session: Session, *, state: str | None = None) -> list[LoanContract]:
    """The contract register by number, optionally of one state."""
    query = select(LoanContract).order_by(LoanContract.number)
    if state is not None:
        query = query.where(LoanContract.state == state)
    return list(session.scalars(query))


def current_contract(session: Session, *, kit_id: str, lock: bool = False) -> LoanContract | None:
    """The kit's current contract: signed, active or due for return (`lifecycle.LENT_STATES`);
    with `lock` its row is locked for the transaction's writes (as `get_contract`)."""
    query = (
        select(LoanContract)
        .where(LoanContract.kit_id == kit_id, LoanContract.state.in_(lifecycle.LENT_STATES))
        .order_by(LoanContract.id.desc())
        .limit(1)
    )
    return session.scalar(query.with_for_update() if lock else query)


def _refresh_draft(session: Session, row: LoanContract, *, actor: str, now: datetime) -> None:
    """Before signing, the draft lists its kit's components as the inventory holds them now (a
    draft's kit is not locked: parts may have come or gone); the change is audited."""
    parts = inventory.kit_components(session, row.kit_id)
    if not parts:
        raise ContractsError.refused("refused.kit_empty", 422, kit=row.kit_id)
    current = annexes.lines(parts)
    if current == row.components:
        return
    audit.record(
        session,
        actor=actor,
        action="contract_components_refreshed",
        entity="contract",
        entity_id=row.number,
        now=now,
        before={"components": [c["serial"] for c in row.components]},
        after={"components": [c["serial"] for c in current]},
    )
    row.components = current


def machine(row: LoanContract, cipher: FieldCipher) -> lifecycle.Contract:
    """The contract as the state machine sees it (who signed, decrypted)."""
    return lifecycle.Contract(
        state=lifecycle.ContractState(row.state),
        components=tuple(
            lifecycle.Component(serial=c["serial"], kind=c["kind"], model=c["model"])
            for c in row.components
        ),
        start=row.start,
        end=row.end,
        signed_by_guardian=signatures.unseal(cipher, row.signed_by_guardian_enc),
        signed_by_school=signatures.unseal(cipher, row.signed_by_school_enc),
        handover=signatures.act_from(row.handover, cipher),
        training_recorded=row.training_recorded,
        return_act=signatures.act_from(row.return_act, cipher),
        termination_reason=row.termination_reason,
    )


def act(
    session: Session,
    *,
    number: str,
    action: lifecycle.Action,
    details: ContractAction,
    revocations: kit_status.Revocations,
    cipher: FieldCipher,
    actor: str,
    now: datetime,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> LoanContract:
    """Apply one action to a contract (TransitionError if illegal or incomplete); audited.

    Who signed is stored encrypted with `cipher`. Reporting the kit lost also marks the kit lost,
    revokes its certificates and publishes the revocation (`revocations`), in the same
    transaction. The document a step signs is frozen, dated at the school (`zone`). The row is
    locked for the step (as a replacement locks it), so the two never interleave.
    """
    row = get_contract(session, number, lock=True)
    if action is lifecycle.Action.SIGN and row.state == lifecycle.ContractState.DRAFT.value:
        _refresh_draft(session, row, actor=actor, now=now)
    before = machine(row, cipher)
    given: dict[str, object] = {
        k: v for k, v in details.model_dump(exclude_none=True).items() if k != "act"
    }
    if details.act is not None:
        given["act"] = act_input.build_act(
            details.act, at=now, claim_allowed=action is not lifecycle.Action.HAND_OVER
        )
    after = lifecycle.apply(before, action, **given)
    row.state = after.state.value
    row.signed_by_guardian_enc = signatures.seal(cipher, after.signed_by_guardian)
    row.signed_by_school_enc = signatures.seal(cipher, after.signed_by_school)
    row.training_recorded = after.training_recorded
    row.handover = signatures.act_to(after.handover, cipher)
    row.return_act = signatures.act_to(after.return_act, cipher)
    row.termination_reason = after.termination_reason
    audit.record(
        session,
        actor=actor,
        action=f"contract_{action.value}",
        entity="contract",
        entity_id=number,
        now=now,
        before={"state": before.state.value},
        after={"state": after.state.value},
    )
    _record_what_was_signed(session, row, action, cipher=cipher, actor=actor, now=now, zone=zone)
    if action is lifecycle.Action.REPORT_LOST:
        # A kit lost under a contract loses its identity at once (CRL, ACL, broker reload).
        kit_status.mark_lost(
            session, kit_id=row.kit_id, revocations=revocations, actor=actor, now=now
        )
    return row


_SIGNED: Final[dict[lifecycle.Action, papers.DocumentKind]] = {
    lifecycle.Action.SIGN: "contract",
    lifecycle.Action.HAND_OVER: "handover",
    lifecycle.Action.RETURN_KIT: "return",
}
"""The document each step has a party sign, frozen as signed."""


def _record_what_was_signed(
    session: Session,
    row: LoanContract,
    action: lifecycle.Action,
    *,
    cipher: FieldCipher,
    actor: str,
    now: datetime,
    zone: ZoneInfo,
) -> None:
    """Freeze the document the step signed; an act's conditions go to the inventory."""
    kind = _SIGNED.get(action)
    if kind is None:
        return
    papers.freeze(session, row, kind=kind, cipher=cipher, actor=actor, now=now, zone=zone)
    signed_act = {"handover": row.handover, "return": row.return_act}.get(kind)
    if signed_act is not None:
        inventory.record_conditions(
            session,
            conditions=signed_act["conditions"],
            kit_id=row.kit_id,
            source=f"contract {row.number} {kind} act",
            actor=actor,
            now=now,
        )


def document(
    session: Session,
    *,
    number: str,
    kind: papers.DocumentKind,
    lang: documents.Lang,
    cipher: FieldCipher,
    annex: int | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> bytes:
    """The contract, an act or an annex as a PDF in Kazakh or Russian: as frozen once signed
    (what has no frozen copy is dated at the school, in `zone`)."""
    row = get_contract(session, number)
    return papers.document(
        session, row, kind=kind, lang=lang, cipher=cipher, annex=annex, zone=zone
    )


def frozen_documents(session: Session, *, number: str) -> list[dict[str, Any]]:
    """The contract's frozen documents: kind, annex number, lang, sha256, when."""
    return records.listing(session, number=get_contract(session, number).number)


def replace_component(
    session: Session,
    *,
    number: str,
    data: ReplacementCreate,
    actor: str,
    now: datetime,
    cipher: FieldCipher | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> LoanContract:
    """Swap a component of a lent kit: inventory moves, the contract gets an annex; audited.

    With `cipher` the annex's PDF is frozen at once (kk and ru, dated in `zone`); without it (a
    caller that holds no personal-data keys) it renders from the annex as kept, which holds
    what it prints.
    """
    old_condition = act_input.check_condition(data.old_serial, data.old_condition)
    row = get_contract(session, number, lock=True)
    if row.state not in lifecycle.LENT_STATES:
        raise ContractsError.refused(
            "refused.replace_part_state", number=number, state=said_state(row.state)
        )
    serials = [c["serial"] for c in row.components]
    if data.old_serial not in serials:
        raise ContractsError.refused(
            "refused.not_lent_part", 422, serial=data.old_serial, number=number
        )
    new = inventory.get_component(session, data.new_serial)
    if new.kit_id is not None:
        raise ContractsError.refused("refused.not_spare", serial=data.new_serial, kit=new.kit_id)
    old = inventory.get_component(session, data.old_serial)
    taken = annexes.lines([old])[0] | {"condition": old_condition}
    old.kit_id, old.condition = None, old_condition
    new.kit_id = row.kit_id
    given = annexes.lines([new])[0]
    row.components = [given if c["serial"] == data.old_serial else c for c in row.components]
    change: dict[str, Any] = {
        "old_serial": data.old_serial,
        "new_serial": data.new_serial,
        "reason": data.reason,
        "taken": [taken],
        "given": [given],
    }
    if data.ticket is not None:
        change["ticket"] = data.ticket
    annex = annexes.add(
        session, row, change, before={"serial": data.old_serial}, actor=actor, now=now
    )
    _freeze_annex(session, row, annex, cipher=cipher, actor=actor, now=now, zone=zone)
    return row


def _freeze_annex(
    session: Session,
    row: LoanContract,
    annex: dict[str, Any],
    *,
    cipher: FieldCipher | None,
    actor: str,
    now: datetime,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> None:
    if cipher is not None:
        number = int(annex["number"])
        papers.freeze(
            session, row, kind="annex", annex=number, cipher=cipher, actor=actor, now=now, zone=zone
        )


def replace_kit(
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
    """Swap a whole kit: its contract moves to the new kit with an annex; the old one is repaired.

    The annex is in the same list and shape as a component's (number, at, reason, the `ticket`
    it carries out if any), with `old_kit_id` / `new_kit_id`. Returns the contract, or None when
    the old kit was not lent (the new kit is checked and the old one goes in for repair all the
    same).
    """
    new_kit = fleet.get_kit(session, kit_id=new_kit_id)
    if new_kit is None:
        raise ContractsError.refused("refused.no_kit", 404, kit=new_kit_id)
    if new_kit.lifecycle != "active":
        raise ContractsError.refused(
            "refused.kit_not_active",
            kit=new_kit_id,
            kit_state=said(f"kit_state.{new_kit.lifecycle}", new_kit.lifecycle),
        )
    parts = _lendable_parts(session, new_kit_id)
    contract = current_contract(session, kit_id=old_kit_id, lock=True)
    if contract is not None:
        if contract.state not in lifecycle.LENT_STATES:  # current_contract: always so
            raise ContractsError.refused(
                "refused.replace_kit_state",
                number=contract.number,
                state=said_state(contract.state),
            )
        before = {
            "kit_id": contract.kit_id,
            "components": [c["serial"] for c in contract.components],
        }
        taken = contract.components
        contract.kit_id = new_kit_id
        contract.components = annexes.lines(parts)
        change: dict[str, Any] = {
            "old_kit_id": old_kit_id,
            "new_kit_id": new_kit_id,
            "reason": reason,
            "taken": taken,
            "given": contract.components,
        }
        if ticket is not None:
            change["ticket"] = ticket
        annex = annexes.add(session, contract, change, before=before, actor=actor, now=now)
        _freeze_annex(session, contract, annex, cipher=cipher, actor=actor, now=now)
    old_kit = fleet.get_kit(session, kit_id=old_kit_id)
    if old_kit is not None and old_kit.lifecycle == "active":
        trust.set_lifecycle(session, kit_id=old_kit_id, lifecycle="in_repair", now=now, actor=actor)
    return contract


def guardian_contact(
    session: Session,
    *,
    kit_id: str,
    contract_number: str | None,
    cipher: FieldCipher,
    role: str,
) -> dict[str, Any] | None:
    """Who to call about a kit: the guardian who signed its contract, phone included.

    The contract is the kit's current one, else `contract_number`; the guardian is read through
    `people.guardian_view` for `role` and cut down to CONTACT_FIELDS plus the contract's number,
    so no contact carries an IIN or an address whatever the role.
    """
    contract = current_contract(session, kit_id=kit_id)
    if contract is None and contract_number is not None:
        contract = session.scalar(
            select(LoanContract).where(LoanContract.number == contract_number)
        )
    if contract is None:
        return None
    guardian = people.find_guardian(session, contract.guardian_ref)
    if guardian is None:
        return None
    view = people.guardian_view(guardian, contract.pupil_ref, cipher, role)
    return {"contract_number": contract.number} | {k: view[k] for k in CONTACT_FIELDS}
