"""The hand-over act and the return act of a loan."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Final

from fpdf import FontFace

from controller.errors import DocumentError
from controller.loans.documents import pieces
from controller.loans.documents.fonts import FontFiles
from controller.loans.documents.model import (
    ComponentLine,
    Lang,
    LoanDocument,
    check_serials,
    serial_key,
)
from controller.loans.documents.texts import HANDOVER_CLAUSES, RETURN_CLAUSES, Texts
from controller.loans.documents.writer import Row

_LOGGER = logging.getLogger(__name__)

_MISSING_STYLE: Final = FontFace(emphasis="BOLD", color=(160, 0, 0), fill_color=(255, 215, 215))


def handover_act_pdf(doc: LoanDocument, lang: Lang, *, fonts: FontFiles | None = None) -> bytes:
    """Render the hand-over act: components, serials and condition at hand-over, training."""
    texts, values = pieces.prepare(doc, lang)
    writer = pieces.start(
        doc, texts, fonts, values, title="handover.title", subtitle="act.subtitle", day=doc.date
    )
    writer.paragraph(texts("handover.intro", **values))
    head = texts.columns("condition.handover")

    def table() -> None:
        writer.table(head, pieces.components_rows(doc.components), pieces.WIDTHS_5)

    clauses = (*HANDOVER_CLAUSES, "notes" if values["notes"] else "no_notes")
    pieces.numbered(writer, texts, clauses, values, table)
    writer.signatures(
        pieces.school_column(doc, texts, texts("act.giver", party=texts("party.school"))),
        pieces.guardian_column(doc, texts, texts("act.receiver", party=texts("party.guardian"))),
    )
    _LOGGER.debug("rendered hand-over act %s in %s", doc.number, lang)
    return writer.output()


def _return_rows(
    doc: LoanDocument, returned: list[ComponentLine], texts: Texts
) -> tuple[list[Row], list[ComponentLine], list[ComponentLine]]:
    """The table's rows (each issued component, then any extra), the missing and the extra."""
    back = {serial_key(line): line for line in returned}
    issued_keys = {serial_key(line) for line in doc.components}
    rows: list[Row] = []
    missing: list[ComponentLine] = []
    for n, line in enumerate(doc.components, start=1):
        got = back.get(serial_key(line))
        if got is None:
            missing.append(line)
        condition, style = (got.condition, None) if got else (texts("not_returned"), _MISSING_STYLE)
        rows.append(
            ((str(n), line.kind, line.model, line.serial, line.condition, condition), style)
        )
    extra = [line for line in returned if serial_key(line) not in issued_keys]
    for n, line in enumerate(extra, start=len(rows) + 1):
        cells = (str(n), line.kind, line.model, line.serial, texts("not_in_handover"))
        rows.append(((*cells, line.condition), None))
    return rows, missing, extra


def return_act_pdf(
    doc: LoanDocument,
    lang: Lang,
    *,
    returned: list[ComponentLine],
    date_returned: dt.date,
    fonts: FontFiles | None = None,
) -> bytes:
    """Render the return act: each component's condition at return, missing ones highlighted."""
    texts, values = pieces.prepare(doc, lang)
    check_serials(returned, f"return of loan {doc.number}")
    if date_returned < doc.start:
        raise DocumentError(
            f"loan {doc.number}: returned on {date_returned}, before the term starts ({doc.start})"
        )
    rows, missing, extra = _return_rows(doc, returned, texts)
    values |= {
        "date_returned": texts.long_date(date_returned),
        "issued": str(len(doc.components)),
        "returned": str(len(doc.components) - len(missing)),
        "missing": str(len(missing)),
        "missing_list": ", ".join(f"{line.kind} {line.serial}" for line in missing),
        "extra_list": ", ".join(f"{line.kind} {line.serial}" for line in extra),
    }
    writer = pieces.start(
        doc, texts, fonts, values, title="return.title", subtitle="act.subtitle", day=date_returned
    )
    writer.paragraph(texts("return.intro", **values))
    head = texts.columns("condition.handover", "condition.return")

    def table() -> None:
        writer.table(head, rows, pieces.WIDTHS_6)

    clauses = [*RETURN_CLAUSES, "return.missing" if missing else "return.complete"]
    if extra:
        clauses.append("return.extra")
    clauses.append("notes" if values["notes"] else "no_notes")
    pieces.numbered(writer, texts, clauses, values, table)
    writer.signatures(
        pieces.guardian_column(doc, texts, texts("act.giver", party=texts("party.guardian"))),
        pieces.school_column(doc, texts, texts("act.receiver", party=texts("party.school"))),
    )
    _LOGGER.debug("rendered return act %s in %s", doc.number, lang)
    return writer.output()
