"""Inventory of serial-numbered components and the contracts that lend them.

The contract's life is the pure state machine in `controller.loans.lifecycle`; this module loads
a contract, applies an action, writes the result back and audits it, in the caller's transaction.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.errors import ControllerError
from controller.loans import documents, lifecycle
from controller.loans.people import REF
from controller.loans.tables import Component, Guardian, LoanContract, Pupil
from controller.platform import audit
from controller.platform.crypto import FieldCipher
from controller.trust import enrolment as trust
from protocol.timebounds import BoundedDate

OPEN_STATES = frozenset({"draft", "signed", "active", "return_due"})
DocumentKind = Literal["contract", "handover", "return"]


class ContractsError(ControllerError):
    """An inventory or contract change refused; `status` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class ComponentIn(BaseModel):
    """A serial-numbered component, in a kit or in spare stock."""

    model_config = ConfigDict(extra="forbid")

    serial: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=64, description="laptop, webcam, headset, ...")
    model: str = Field(min_length=1, max_length=128)
    condition: str = Field(default="good", min_length=1, max_length=64)
    kit_id: str | None = Field(default=None, description="empty: spare stock")


class ComponentChange(BaseModel):
    """Move a component to another kit (or to stock) and/or record its condition."""

    model_config = ConfigDict(extra="forbid")

    kit_id: str | None = None
    condition: str | None = Field(default=None, min_length=1, max_length=64)


class ContractIn(BaseModel):
    """A new contract (a draft) for a kit, a pupil and the guardian who signs."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(pattern=REF)
    school: str = Field(min_length=2, max_length=255)
    city: str = Field(min_length=2, max_length=128)
    guardian_ref: str = Field(pattern=REF)
    pupil_ref: str = Field(pattern=REF)
    kit_id: str
    start: BoundedDate
    end: BoundedDate
    terms_version: str = Field(default="2026-1", max_length=32)

    @model_validator(mode="after")
    def _term(self) -> ContractIn:
        if self.end <= self.start:
            raise ValueError("the contract must end after it starts")
        return self


class ActIn(BaseModel):
    """A hand-over or return act: every component's condition and who signed."""

    model_config = ConfigDict(extra="forbid")

    conditions: dict[str, str]
    signed_by: str = Field(min_length=2, max_length=200)


class ReplacementIn(BaseModel):
    """A component replaced during the loan (the contract gets an annex)."""

    model_config = ConfigDict(extra="forbid")

    old_serial: str = Field(min_length=1, max_length=64)
    new_serial: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=3, max_length=500)
    old_condition: str = Field(default="faulty", min_length=1, max_length=64)


class ActionIn(BaseModel):
    """What an action needs (see `controller.loans.lifecycle`)."""

    model_config = ConfigDict(extra="forbid")

    guardian: str | None = None
    school: str | None = None
    act: ActIn | None = None
    training_recorded: bool | None = None
    reason: str | None = Field(default=None, max_length=500)


def _component(session: Session, serial: str) -> Component:
    row = session.scalar(select(Component).where(Component.serial == serial))
    if row is None:
        raise ContractsError(f"no component {serial!r}", 404)
    return row


def add_component(session: Session, *, data: ComponentIn, actor: str, now: datetime) -> Component:
    """Record a component (and the kit it belongs to, if new)."""
    if session.scalar(select(Component.id).where(Component.serial == data.serial)):
        raise ContractsError(f"component {data.serial!r} already exists")
    if data.kit_id is not None:
        trust.ensure_kit(session, data.kit_id)
    row = Component(**data.model_dump(), created_at=now)
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="component_added",
        entity="component",
        entity_id=data.serial,
        now=now,
        after=data.model_dump(),
    )
    return row


def change_component(
    session: Session, *, serial: str, change: ComponentChange, actor: str, now: datetime
) -> Component:
    """Move a component between kits or to stock, or record its condition; audited."""
    row = _component(session, serial)
    before = {"kit_id": row.kit_id, "condition": row.condition}
    fields = change.model_dump(exclude_unset=True)
    if "kit_id" in fields:
        if fields["kit_id"] is not None:
            trust.ensure_kit(session, fields["kit_id"])
        row.kit_id = fields["kit_id"]
    if fields.get("condition"):
        row.condition = fields["condition"]
    after = {"kit_id": row.kit_id, "condition": row.condition}
    action = "component_moved" if before["kit_id"] != after["kit_id"] else "component_updated"
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="component",
        entity_id=serial,
        now=now,
        before=before,
        after=after,
    )
    return row


def create_contract(
    session: Session, *, data: ContractIn, actor: str, now: datetime
) -> LoanContract:
    """A draft contract lending the kit's components as they are now."""
    if session.scalar(select(LoanContract.id).where(LoanContract.number == data.number)):
        raise ContractsError(f"contract {data.number!r} already exists")
    pupil = session.scalar(select(Pupil).where(Pupil.ref == data.pupil_ref))
    guardian = session.scalar(select(Guardian).where(Guardian.ref == data.guardian_ref))
    if pupil is None or guardian is None:
        raise ContractsError("unknown pupil or guardian", 404)
    if guardian.pupil_id != pupil.id:
        raise ContractsError(f"{data.guardian_ref} does not sign for {data.pupil_ref}", 422)
    open_one = session.scalar(
        select(LoanContract.number).where(
            LoanContract.kit_id == data.kit_id, LoanContract.state.in_(OPEN_STATES)
        )
    )
    if open_one:
        raise ContractsError(f"kit {data.kit_id} is already lent under contract {open_one}")
    parts = session.scalars(
        select(Component).where(Component.kit_id == data.kit_id).order_by(Component.serial)
    ).all()
    if not parts:
        raise ContractsError(f"kit {data.kit_id} has no components recorded", 422)
    row = LoanContract(
        **data.model_dump(),
        state=lifecycle.ContractState.DRAFT.value,
        components=[
            {"serial": c.serial, "kind": c.kind, "model": c.model, "condition": c.condition}
            for c in parts
        ],
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


def get_contract(session: Session, number: str) -> LoanContract:
    """One contract by number."""
    row = session.scalar(select(LoanContract).where(LoanContract.number == number))
    if row is None:
        raise ContractsError(f"no contract {number!r}", 404)
    return row


def _act_from(data: dict[str, Any] | None) -> lifecycle.Act | None:
    if data is None:
        return None
    return lifecycle.Act(
        conditions=dict(data["conditions"]),
        signed_by=data["signed_by"],
        at=datetime.fromisoformat(data["at"]),
    )


def _act_to(act: lifecycle.Act | None) -> dict[str, Any] | None:
    if act is None:
        return None
    return {"conditions": act.conditions, "signed_by": act.signed_by, "at": act.at.isoformat()}


def machine(row: LoanContract) -> lifecycle.Contract:
    """The contract as the state machine sees it."""
    return lifecycle.Contract(
        state=lifecycle.ContractState(row.state),
        components=tuple(
            lifecycle.Component(serial=c["serial"], kind=c["kind"], model=c["model"])
            for c in row.components
        ),
        start=row.start,
        end=row.end,
        signed_by_guardian=row.signed_by_guardian,
        signed_by_school=row.signed_by_school,
        handover=_act_from(row.handover),
        training_recorded=row.training_recorded,
        return_act=_act_from(row.return_act),
        termination_reason=row.termination_reason,
    )


def act(
    session: Session,
    *,
    number: str,
    action: lifecycle.Action,
    details: ActionIn,
    actor: str,
    now: datetime,
) -> LoanContract:
    """Apply one action to a contract (TransitionError if illegal or incomplete); audited."""
    row = get_contract(session, number)
    before = machine(row)
    given: dict[str, object] = {
        k: v for k, v in details.model_dump(exclude_none=True).items() if k != "act"
    }
    if details.act is not None:
        given["act"] = lifecycle.Act(
            conditions=details.act.conditions, signed_by=details.act.signed_by, at=now
        )
    after = lifecycle.apply(before, action, **given)
    row.state = after.state.value
    row.signed_by_guardian = after.signed_by_guardian
    row.signed_by_school = after.signed_by_school
    row.training_recorded = after.training_recorded
    row.handover = _act_to(after.handover)
    row.return_act = _act_to(after.return_act)
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
    return row


def document(
    session: Session, *, number: str, kind: DocumentKind, lang: documents.Lang, cipher: FieldCipher
) -> bytes:
    """The contract, hand-over act or return act as a PDF in Kazakh or Russian."""
    row = get_contract(session, number)
    pupil = session.scalar(select(Pupil).where(Pupil.ref == row.pupil_ref))
    guardian = session.scalar(select(Guardian).where(Guardian.ref == row.guardian_ref))
    if pupil is None or guardian is None:
        raise ContractsError("the contract's pupil or guardian is gone", 409)
    handed = (row.handover or {}).get("conditions", {})
    doc = documents.LoanDocument(
        number=row.number,
        school=row.school,
        city=row.city,
        date=row.created_at.date(),
        guardian=documents.Party(
            name=cipher.decrypt(guardian.name_enc),
            iin=cipher.decrypt(guardian.iin_enc),
            address=cipher.decrypt(guardian.address_enc),
            phone=cipher.decrypt(guardian.phone_enc),
            role="legal representative"
            if guardian.relation == "legal_representative"
            else "parent",
        ),
        pupil=documents.Pupil(
            name=cipher.decrypt(pupil.name_enc),
            iin=cipher.decrypt(pupil.iin_enc),
            grade=pupil.grade,
            school=pupil.school,
        ),
        kit_id=row.kit_id,
        components=[
            documents.ComponentLine(
                kind=c["kind"],
                model=c["model"],
                serial=c["serial"],
                condition=handed.get(c["serial"], c["condition"]),
            )
            for c in row.components
        ],
        start=row.start,
        end=row.end,
        terms_version=row.terms_version,
        signed_by_school=row.signed_by_school or row.school,
        signed_by_guardian=row.signed_by_guardian,
    )
    if kind == "contract":
        return documents.contract_pdf(doc, lang)
    if kind == "handover":
        return documents.handover_act_pdf(doc, lang)
    if row.return_act is None:
        raise ContractsError("no return act yet: the kit has not been returned", 409)
    returned = [
        dataclasses.replace(line, condition=row.return_act["conditions"][line.serial])
        for line in doc.components
        if line.serial in row.return_act["conditions"]
    ]
    return documents.return_act_pdf(
        doc,
        lang,
        returned=returned,
        date_returned=datetime.fromisoformat(row.return_act["at"]).date(),
    )


def replace_component(
    session: Session, *, number: str, data: ReplacementIn, actor: str, now: datetime
) -> LoanContract:
    """Swap a component of a lent kit: inventory moves, the contract gets an annex; audited."""
    row = get_contract(session, number)
    if row.state not in ("active", "return_due"):
        raise ContractsError(
            f"contract {number} is {row.state}: only a kit on loan has parts replaced"
        )
    serials = [c["serial"] for c in row.components]
    if data.old_serial not in serials:
        raise ContractsError(f"{data.old_serial} is not lent under contract {number}", 422)
    new = _component(session, data.new_serial)
    if new.kit_id is not None:
        raise ContractsError(f"{data.new_serial} belongs to kit {new.kit_id}, not to spare stock")
    old = _component(session, data.old_serial)
    old.kit_id, old.condition = None, data.old_condition
    new.kit_id = row.kit_id
    row.components = [
        {"serial": new.serial, "kind": new.kind, "model": new.model, "condition": new.condition}
        if c["serial"] == data.old_serial
        else c
        for c in row.components
    ]
    annex = {
        "number": str(len(row.annexes) + 1),
        "at": now.isoformat(),
        "old_serial": data.old_serial,
        "new_serial": data.new_serial,
        "reason": data.reason,
    }
    row.annexes = [*row.annexes, annex]
    audit.record(
        session,
        actor=actor,
        action="contract_annex",
        entity="contract",
        entity_id=number,
        now=now,
        before={"serial": data.old_serial},
        after=annex,
    )
    return row
