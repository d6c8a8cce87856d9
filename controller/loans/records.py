"""What a party signed, frozen: each rendered PDF kept, encrypted, its sha256 in the audit log.

On signing the contract, on the hand-over, on the return and when an annex is made, the
document is rendered in Kazakh and in Russian and kept here (`freeze`); from then on the
document's endpoint returns those bytes (`frozen`), whatever changes later in the inventory,
the people or the wording of the catalogue.

Why the PDF itself and not the data it was rendered from: re-rendering gives the same bytes only
while the code, the catalogue's words and the font stay the same, so a corrected typo or another
font would silently change a document a parent signed. Keeping the bytes keeps what was signed,
and its sha256 (audited, and listed by `listing`) proves it. The PDF holds names, IINs and an
address, so it is kept as a personal-data token (`FieldCipher`, of the PDF's base64) and
re-encrypted with the rest of the personal data when the keys rotate (`rotate`).

Contracts signed before the frozen copies existed have none: their documents render live
(`controller.loans.papers`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.loans.tables import ContractDocument
from controller.platform import audit
from controller.platform.crypto import FieldCipher

NO_ANNEX: Final = 0
"""The `annex` of a document that is not an annex."""


def _find(
    session: Session, *, number: str, kind: str, annex: int, lang: str
) -> ContractDocument | None:
    return session.scalar(
        select(ContractDocument).where(
            ContractDocument.contract_number == number,
            ContractDocument.kind == kind,
            ContractDocument.annex == annex,
            ContractDocument.lang == lang,
        )
    )


def freeze(
    session: Session,
    *,
    number: str,
    kind: str,
    pdfs: Mapping[str, bytes],
    cipher: FieldCipher,
    actor: str,
    now: datetime,
    annex: int = NO_ANNEX,
) -> None:
    """Keep each language's PDF of one document, encrypted; each audited with its sha256.

    A document already frozen stays as it was (what was signed is never replaced).
    """
    for lang, pdf in pdfs.items():
        if _find(session, number=number, kind=kind, annex=annex, lang=lang) is not None:
            continue
        digest = hashlib.sha256(pdf).hexdigest()
        token = cipher.encrypt(base64.b64encode(pdf).decode("ascii"))
        session.add(
            ContractDocument(
                contract_number=number,
                kind=kind,
                annex=annex,
                lang=lang,
                sha256=digest,
                pdf_enc=token,
                created_at=now,
            )
        )
        audit.record(
            session,
            actor=actor,
            action="document_frozen",
            entity="contract_document",
            entity_id=number,
            now=now,
            after={"kind": kind, "annex": annex or None, "lang": lang, "sha256": digest},
        )
    session.flush()


def frozen(
    session: Session, *, number: str, kind: str, lang: str, cipher: FieldCipher, annex: int
) -> bytes | None:
    """The frozen PDF of a document, or None when it was never frozen."""
    row = _find(session, number=number, kind=kind, annex=annex, lang=lang)
    if row is None:
        return None
    return base64.b64decode(cipher.decrypt(row.pdf_enc))


def listing(session: Session, *, number: str) -> list[dict[str, Any]]:
    """The contract's frozen documents, oldest first: kind, annex number, lang, sha256, at."""
    rows = session.scalars(
        select(ContractDocument)
        .where(ContractDocument.contract_number == number)
        .order_by(ContractDocument.id)
    )
    return [
        {
            "kind": row.kind,
            "annex": row.annex or None,
            "lang": row.lang,
            "sha256": row.sha256,
            "at": row.created_at,
        }
        for row in rows
    ]


def rotate(session: Session, cipher: FieldCipher) -> int:
    """Re-encrypt every frozen document under the newest key; how many."""
    count = 0
    for row in session.scalars(select(ContractDocument).order_by(ContractDocument.id)):
        row.pdf_enc = cipher.rotate(row.pdf_enc)
        count += 1
    return count
