"""The data a loan document is made of, and what no document may say (plain dataclasses, no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from controller.errors import DocumentError

Lang = Literal["kk", "ru"]
LANGUAGES: Final[tuple[Lang, ...]] = ("kk", "ru")
"""The languages a document is printed in (the catalogue's English is for the staff pages)."""


@dataclass(frozen=True)
class Party:
    """A person who signs for the pupil: a parent or another legal representative."""

    name: str
    iin: str
    address: str
    phone: str
    role: str
    """"parent", "legal representative", "guardian" or "trustee" (printed in the document's
    language), or a word already in the document's language, printed as given."""


@dataclass(frozen=True)
class Pupil:
    """The child the kit is lent for."""

    name: str
    iin: str
    grade: int
    school: str


@dataclass(frozen=True)
class ComponentLine:
    """One component of a kit as a document lists it; the serial identifies it and must be set."""

    kind: str
    """A kind of the vocabulary (`controller.loans.vocabulary`), printed in the document's
    language, or older free text printed as stored; so is `condition`."""
    model: str
    serial: str
    condition: str
    note: str = ""
    """What the act says of this component besides its condition ("scratched lid")."""


@dataclass(frozen=True)
class Annex:
    """An annex to a loan: what the school took back and what it gave instead, and why."""

    number: int
    day: dt.date
    reason: str
    taken: list[ComponentLine]
    given: list[ComponentLine]
    ticket: int | None = None
    """The maintenance ticket the replacement carried out: the reason is then printed from the
    catalogue in the document's language (a ticket's own text may be another language's)."""


@dataclass(frozen=True)
class LoanDocument:
    """Everything the three documents of one loan print."""

    number: str
    school: str
    city: str
    date: dt.date
    guardian: Party
    pupil: Pupil
    kit_id: str
    components: list[ComponentLine]
    start: dt.date
    end: dt.date
    terms_version: str
    signed_by_school: str | None
    """Who signs for the school; None before signing (a draft prints a blank to fill)."""
    signed_by_guardian: str | None = None
    notes: str = ""


def serial_key(line: ComponentLine) -> str:
    """The form serials are compared in: no surrounding spaces, any case."""
    return line.serial.strip().casefold()


def check_serials(lines: Sequence[ComponentLine], where: str) -> None:
    """Refuse a list of components with a serial missing or listed twice."""
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        key = serial_key(line)
        if not key:
            raise DocumentError(f"{where}: component {number} ({line.kind}) has no serial number")
        if key in seen:
            raise DocumentError(f"{where}: serial {line.serial} is listed twice")
        seen.add(key)


def validate(doc: LoanDocument, lang: str) -> None:
    """Refuse what no document should say, or a language documents are not printed in."""
    if lang not in LANGUAGES:
        raise DocumentError(f"no document texts in language {lang!r}; choose one of {LANGUAGES}")
    if doc.end < doc.start:
        raise DocumentError(f"loan {doc.number}: the term ends ({doc.end}) before it starts")
    if not doc.components:
        raise DocumentError(f"loan {doc.number}: a kit with no components cannot be lent")
    check_serials(doc.components, f"loan {doc.number}")
