"""A contract's documents as PDFs: the copy frozen when a party signed, else rendered live.

The contract is frozen on signing, the hand-over act on the hand-over, the return act on the
return, each annex when it is made (`freeze`, kept by `controller.loans.records`); asking for one
of them then returns the frozen bytes. What has no frozen copy renders live (`render`):

- a draft contract, its school signatory a blank to fill in (not known before signing);
- the hand-over act before the hand-over (a form to fill in);
- the documents of contracts signed before frozen copies existed: rendered from the contract
  as recorded, the components as handed over being the serials of its hand-over act (never a
  serial given later under an annex), with the conditions written in that act.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.loans import annexes, documents, people, records, signatures
from controller.loans.errors import ContractsError
from controller.loans.tables import Component, LoanContract, Pupil
from controller.loans.vocabulary import Condition
from controller.platform.crypto import FieldCipher
from controller.platform.localtime import DEFAULT_ZONE

DocumentKind = Literal["contract", "handover", "return", "annex"]


def _local_day(at: datetime | str, zone: ZoneInfo) -> date:
    """The day a time (UTC, or stored ISO text) falls on at the school."""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.astimezone(zone).date()


def _loan_document(
    session: Session,
    row: LoanContract,
    cipher: FieldCipher,
    components: list[documents.ComponentLine],
    zone: ZoneInfo,
) -> documents.LoanDocument:
    """What the documents print of a contract, its people decrypted."""
    pupil = session.scalar(select(Pupil).where(Pupil.ref == row.pupil_ref))
    guardian = people.find_guardian(session, row.guardian_ref)
    if pupil is None or guardian is None:
        raise ContractsError.refused("refused.parties_gone")
    return documents.LoanDocument(
        number=row.number,
        school=row.school,
        city=row.city,
        date=_local_day(row.created_at, zone),
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
        components=components,
        start=row.start,
        end=row.end,
        terms_version=row.terms_version,
        signed_by_school=signatures.unseal(cipher, row.signed_by_school_enc),
        signed_by_guardian=signatures.unseal(cipher, row.signed_by_guardian_enc),
    )


def _described(
    session: Session, row: LoanContract, serials: list[str]
) -> dict[str, dict[str, str]]:
    """serial -> its kind and model: from the contract, its annexes, else the inventory."""
    known: dict[str, dict[str, str]] = {}
    for annex in row.annexes:
        for part in (*annex.get("taken", ()), *annex.get("given", ())):
            known.setdefault(part["serial"], part)
    known |= {c["serial"]: c for c in row.components}
    unknown = [s for s in serials if s not in known]
    if unknown:
        for part in session.scalars(select(Component).where(Component.serial.in_(unknown))):
            known[part.serial] = {"kind": part.kind, "model": part.model}
    return known


def handed_over(
    session: Session, row: LoanContract, cipher: FieldCipher
) -> list[documents.ComponentLine]:
    """The components as handed over (or, before the hand-over, as the contract lends them)."""
    if row.handover is None:
        return [
            documents.ComponentLine(c["kind"], c["model"], c["serial"], c["condition"])
            for c in row.components
        ]
    conditions: dict[str, str] = row.handover["conditions"]
    notes, _claim = signatures.notes_and_claim(row.handover, cipher)
    known = _described(session, row, list(conditions))
    return [
        documents.ComponentLine(
            kind=known.get(serial, {}).get("kind", ""),
            model=known.get(serial, {}).get("model", ""),
            serial=serial,
            condition=conditions[serial],
            note=notes.get(serial, ""),
        )
        for serial in sorted(conditions)
    ]


def _lent_now(row: LoanContract) -> list[documents.ComponentLine]:
    """The components lent at the end, each with its condition when it was given."""
    given = (row.handover or {}).get("conditions", {})
    return [
        documents.ComponentLine(
            c["kind"], c["model"], c["serial"], given.get(c["serial"], c["condition"])
        )
        for c in row.components
    ]


def _return_act(
    session: Session, row: LoanContract, cipher: FieldCipher, lang: documents.Lang, zone: ZoneInfo
) -> bytes:
    if row.return_act is None:
        raise ContractsError.refused("refused.no_return_act")
    act = row.return_act
    doc = _loan_document(session, row, cipher, _lent_now(row), zone)
    notes, claim = signatures.notes_and_claim(act, cipher)
    returned = [
        dataclasses.replace(
            line, condition=act["conditions"][line.serial], note=notes.get(line.serial, "")
        )
        for line in doc.components
        if act["conditions"].get(line.serial, Condition.MISSING) != Condition.MISSING
    ]
    return documents.return_act_pdf(
        doc,
        lang,
        returned=returned,
        date_returned=_local_day(act["at"], zone),
        claim=claim,
    )


def render(
    session: Session,
    row: LoanContract,
    *,
    kind: DocumentKind,
    lang: documents.Lang,
    cipher: FieldCipher,
    annex: int | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> bytes:
    """The document rendered from the contract as recorded now (no frozen copy read), dated
    in the school's time zone."""
    if kind == "contract":
        return documents.contract_pdf(
            _loan_document(session, row, cipher, handed_over(session, row, cipher), zone), lang
        )
    if kind == "handover":
        doc = _loan_document(session, row, cipher, handed_over(session, row, cipher), zone)
        if row.handover is not None:
            doc = dataclasses.replace(doc, date=_local_day(row.handover["at"], zone))
        return documents.handover_act_pdf(doc, lang)
    if kind == "return":
        return _return_act(session, row, cipher, lang, zone)
    record = annexes.find(row, annex)
    doc = _loan_document(session, row, cipher, _lent_now(row), zone)
    return documents.annex_pdf(doc, annexes.document(session, record, zone), lang)


def document(
    session: Session,
    row: LoanContract,
    *,
    kind: DocumentKind,
    lang: documents.Lang,
    cipher: FieldCipher,
    annex: int | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> bytes:
    """The frozen copy of the document when there is one, else the document rendered live."""
    if kind == "annex":
        annexes.find(row, annex)
    number = annex if kind == "annex" and annex is not None else records.NO_ANNEX
    kept = records.frozen(
        session, number=row.number, kind=kind, lang=lang, cipher=cipher, annex=number
    )
    if kept is not None:
        return kept
    return render(session, row, kind=kind, lang=lang, cipher=cipher, annex=annex, zone=zone)


def freeze(
    session: Session,
    row: LoanContract,
    *,
    kind: DocumentKind,
    cipher: FieldCipher,
    actor: str,
    now: datetime,
    annex: int | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> None:
    """Render the document in every language and keep it as signed (`records.freeze`)."""
    pdfs: dict[str, bytes] = {
        lang: render(session, row, kind=kind, lang=lang, cipher=cipher, annex=annex, zone=zone)
        for lang in documents.LANGUAGES
    }
    records.freeze(
        session,
        number=row.number,
        kind=kind,
        pdfs=pdfs,
        cipher=cipher,
        actor=actor,
        now=now,
        annex=annex or records.NO_ANNEX,
    )
