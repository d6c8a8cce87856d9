"""The annex to a loan: a component or the whole kit taken back and another given instead."""

from __future__ import annotations

import logging

from controller.errors import DocumentError
from controller.loans.documents import pieces
from controller.loans.documents.fonts import FontFiles
from controller.loans.documents.model import Annex, Lang, LoanDocument, check_serials
from controller.loans.documents.texts import ANNEX_CLAUSES

_LOGGER = logging.getLogger(__name__)


def annex_pdf(
    doc: LoanDocument, annex: Annex, lang: Lang, *, fonts: FontFiles | None = None
) -> bytes:
    """Render annex `annex` to the loan's contract: the date, what was taken back and given in
    what condition, the reason, and both parties' signatures."""
    texts, values = pieces.prepare(doc, lang)
    if not annex.taken or not annex.given:
        raise DocumentError(f"annex {annex.number} to {doc.number}: nothing taken back or given")
    check_serials([*annex.taken, *annex.given], f"annex {annex.number} to {doc.number}")
    values |= {
        "annex": str(annex.number),
        "date": texts.long_date(annex.day),
        "reason": annex.reason.strip()
        if annex.ticket is None
        else texts("annex.reason_ticket", ticket=str(annex.ticket)),
    }
    writer = pieces.start(
        doc, texts, fonts, values, title="annex.title", subtitle="act.subtitle", day=annex.day
    )
    writer.paragraph(texts("annex.intro", **values))
    head = texts.columns("column.condition")
    for number, (clause, lines) in enumerate(
        (("annex.1", annex.taken), ("annex.2", annex.given)), start=1
    ):
        writer.paragraph(f"{number}. {texts(clause, **values)}")
        writer.table(head, pieces.components_rows(lines, texts), pieces.WIDTHS_5)
    pieces.numbered(writer, texts, ANNEX_CLAUSES, values, lambda: None, start=2)
    writer.signatures(
        pieces.school_column(doc, texts, texts("party.school")),
        pieces.guardian_column(doc, texts, texts("party.guardian")),
    )
    _LOGGER.debug("rendered annex %s to %s in %s", annex.number, doc.number, lang)
    return writer.output()
