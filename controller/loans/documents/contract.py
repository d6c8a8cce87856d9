"""The contract of free temporary use of a kit."""

from __future__ import annotations

import logging

from controller.loans.documents import pieces
from controller.loans.documents.fonts import FontFiles
from controller.loans.documents.model import Lang, LoanDocument
from controller.loans.documents.texts import CONTRACT_SECTIONS

_LOGGER = logging.getLogger(__name__)


def contract_pdf(doc: LoanDocument, lang: Lang, *, fonts: FontFiles | None = None) -> bytes:
    """Render the contract of free temporary use of the kit as a PDF in Kazakh or Russian."""
    texts, values = pieces.prepare(doc, lang)
    writer = pieces.start(
        doc,
        texts,
        fonts,
        values,
        title="contract.title",
        subtitle="contract.subtitle",
        day=doc.date,
    )
    writer.paragraph(texts("contract.preamble", **values))

    def table() -> None:
        writer.table(
            texts.columns("column.condition"),
            pieces.components_rows(doc.components, texts),
            pieces.WIDTHS_5,
        )

    for number, (heading, section) in enumerate(CONTRACT_SECTIONS, start=1):
        last = number == len(CONTRACT_SECTIONS)
        clauses = (*section, "notes") if last and values["notes"] else section
        writer.heading(f"{number}. {texts(heading)}")
        pieces.numbered(writer, texts, clauses, values, table, prefix=f"{number}.")
    writer.heading(f"{len(CONTRACT_SECTIONS) + 1}. {texts('contract.signatures')}")
    writer.signatures(
        pieces.school_column(doc, texts, texts("party.school")),
        pieces.guardian_column(doc, texts, texts("party.guardian")),
    )
    _LOGGER.debug("rendered contract %s in %s", doc.number, lang)
    return writer.output()
