"""Pieces the three documents share: the title block, numbered clauses, the signature columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Final

from controller.loans.documents.fonts import FontFiles, find_fonts
from controller.loans.documents.model import ComponentLine, Lang, LoanDocument, validate
from controller.loans.documents.texts import TABLE, Texts, fields
from controller.loans.documents.writer import Row, Writer

WIDTHS_5: Final = (0.06, 0.24, 0.26, 0.22, 0.22)
WIDTHS_6: Final = (0.05, 0.19, 0.17, 0.18, 0.20, 0.21)
"""Each column wide enough for the longest word of its heading in kk and ru ("Наименование",
"Қайтарылған") at the table's bold size, so no heading word breaks."""


def prepare(doc: LoanDocument, lang: Lang) -> tuple[Texts, dict[str, str]]:
    """Refuse what no document should say; the language's words and the values clauses use."""
    validate(doc, lang)
    texts = Texts(lang)
    return texts, fields(doc, texts)


def start(
    doc: LoanDocument,
    texts: Texts,
    fonts: FontFiles | None,
    values: dict[str, str],
    *,
    title: str,
    subtitle: str,
    day: dt.date,
) -> Writer:
    """A new document dated `day`: title and subtitle (keys), then where and when it was made."""
    writer = Writer(texts.lang, fonts or find_fonts(), f"№ {doc.number}", day)
    writer.title(
        texts(title, **values),
        texts(subtitle, **values),
        texts.place(doc.city),
        texts.long_date(day),
    )
    return writer


def numbered(
    writer: Writer,
    texts: Texts,
    clauses: Sequence[str],
    values: dict[str, str],
    table: Callable[[], None],
    *,
    prefix: str = "",
    start: int = 0,
) -> None:
    """Numbered clauses ("1.", or "2.1." with a prefix) after `start`; the table marker draws
    the table."""
    number = start
    for clause in clauses:
        if clause == TABLE:
            table()
            continue
        number += 1
        writer.paragraph(f"{prefix}{number}. {texts(clause, **values)}")


def components_rows(lines: Sequence[ComponentLine], texts: Texts) -> list[Row]:
    """One row per component: number, kind, model, serial, condition (in the language)."""
    return [
        ((str(n), texts.kind(line.kind), line.model, line.serial, texts.condition(line)), None)
        for n, line in enumerate(lines, start=1)
    ]


def _signature(texts: Texts, name: str | None) -> list[str]:
    """A line to sign on, and the signer's name in capitals under it (a blank if not known)."""
    return ["", f"{'_' * 28} {texts('signature')}", name.upper() if name else texts("blank")]


def school_column(doc: LoanDocument, texts: Texts, heading: str) -> tuple[str, list[str]]:
    """The school's half of the signatures block: name, city, signature, stamp."""
    lines = [doc.school, texts.place(doc.city)]
    return heading, [*lines, *_signature(texts, doc.signed_by_school), texts("stamp")]


def guardian_column(doc: LoanDocument, texts: Texts, heading: str) -> tuple[str, list[str]]:
    """The guardian's half of the signatures block: name, IIN, address, phone, signature."""
    guardian = doc.guardian
    lines = [
        guardian.name,
        texts("iin", iin=guardian.iin),
        texts("address", address=guardian.address),
        texts("phone", phone=guardian.phone),
        *_signature(texts, doc.signed_by_guardian or guardian.name),
    ]
    return heading, lines
