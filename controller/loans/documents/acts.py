"""The hand-over act and the return act of a loan."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Final

from fpdf import FontFace

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
from controller.loans.vocabulary import DEFECTIVE, Condition

_LOGGER = logging.getLogger(__name__)

_MISSING_STYLE: Final = FontFace(emphasis="BOLD", color=(160, 0, 0), fill_color=(255, 215, 215))

SOUND: Final = frozenset(c.value for c in Condition if c not in DEFECTIVE)
"""Conditions a component may come back in for the kit to be complete with no claims."""


def handover_act_pdf(doc: LoanDocument, lang: Lang, *, fonts: FontFiles | None = None) -> bytes:
    """Render the hand-over act: components, serials and condition at hand-over, training."""
    texts, values = pieces.prepare(doc, lang)
    writer = pieces.start(
        doc, texts, fonts, values, title="handover.title", subtitle="act.subtitle", day=doc.date
    )
    writer.paragraph(texts("handover.intro", **values))
    head = texts.columns("condition.handover")

    def table() -> None:
        writer.table(head, pieces.components_rows(doc.components, texts), pieces.WIDTHS_5)

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
        condition, style = (
            (texts.condition(got), None) if got else (texts("not_returned"), _MISSING_STYLE)
        )
        cells = (str(n), texts.kind(line.kind), line.model, line.serial, texts.condition(line))
        rows.append(((*cells, condition), style))
    extra = [line for line in returned if serial_key(line) not in issued_keys]
    for n, line in enumerate(extra, start=len(rows) + 1):
        cells = (str(n), texts.kind(line.kind), line.model, line.serial, texts("not_in_handover"))
        rows.append(((*cells, texts.condition(line)), None))
    return rows, missing, extra


def _listed(lines: list[ComponentLine], texts: Texts) -> str:
    """ "headset HS-1 (damaged: cracked band), ..." in the document's language."""
    return ", ".join(
        f"{texts.kind(line.kind)} {line.serial} ({texts.condition(line)})" for line in lines
    )


def _outcome(
    missing: list[ComponentLine], returned: list[ComponentLine], claim: str | None
) -> tuple[list[str], dict[str, str]]:
    """The clauses after the table: complete with no claims only when all came back sound."""
    damaged = [line for line in returned if line.condition not in SOUND]
    if not missing and not damaged:
        return ["return.complete"], {}
    clauses = ["return.missing"] if missing else []
    if damaged:
        clauses.append("return.damaged")
    clauses.append("return.claim" if claim and claim.strip() else "return.claim_open")
    return clauses, {"claim": (claim or "").strip()}


def return_act_pdf(
    doc: LoanDocument,
    lang: Lang,
    *,
    returned: list[ComponentLine],
    date_returned: dt.date,
    claim: str | None = None,
    fonts: FontFiles | None = None,
) -> bytes:
    """Render the return act: each component's condition at return, missing ones highlighted.

    It says the kit came back complete with no claims only when every component came back new,
    good or worn; otherwise it lists what is missing and what is damaged or faulty, and the
    school's `claim` (or that the parties settle it under the contract's clause on damage).
    A kit may come back before the term starts (the lifecycle allows it): the act says when.
    """
    texts, values = pieces.prepare(doc, lang)
    check_serials(returned, f"return of loan {doc.number}")
    rows, missing, extra = _return_rows(doc, returned, texts)
    values |= {
        "date_returned": texts.long_date(date_returned),
        "issued": str(len(doc.components)),
        "returned": str(len(doc.components) - len(missing)),
        "missing": str(len(missing)),
        "missing_list": ", ".join(f"{texts.kind(line.kind)} {line.serial}" for line in missing),
        "damaged_list": _listed([line for line in returned if line.condition not in SOUND], texts),
        "extra_list": ", ".join(f"{texts.kind(line.kind)} {line.serial}" for line in extra),
    }
    outcome, claim_values = _outcome(missing, returned, claim)
    values |= claim_values
    writer = pieces.start(
        doc, texts, fonts, values, title="return.title", subtitle="act.subtitle", day=date_returned
    )
    writer.paragraph(texts("return.intro", **values))
    head = texts.columns("condition.handover", "condition.return")

    def table() -> None:
        writer.table(head, rows, pieces.WIDTHS_6)

    clauses = [*RETURN_CLAUSES, *outcome]
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
