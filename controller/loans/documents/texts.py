"""Every word the documents print, from the `documents` message catalogue, and their outline.

The words are in `common/locale/<lang>/documents.toml` (kk and ru are printed; en is there for
the staff pages): the one place to correct or translate them. This module holds what is not a
word: the outline of each document (which clause comes in which order, where the table of
components goes) and the values a clause may use (`fields`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from common.i18n import catalogue
from controller.loans import vocabulary
from controller.loans.documents.model import ComponentLine, Lang, LoanDocument

DOMAIN: Final = "documents"

TABLE: Final = "<components table>"
"""A clause that is this marker is where the table of components goes; it takes no number."""

Clauses = tuple[str, ...]

CONTRACT_SECTIONS: Final[tuple[tuple[str, Clauses], ...]] = (
    ("contract.1.heading", ("contract.1.1", "contract.1.2", "contract.1.3", TABLE, "contract.1.4")),
    ("contract.2.heading", ("contract.2.1", "contract.2.2", "contract.2.3")),
    (
        "contract.3.heading",
        ("contract.3.1", "contract.3.2", "contract.3.3", "contract.3.4", "contract.3.5"),
    ),
    (
        "contract.4.heading",
        ("contract.4.1", "contract.4.2", "contract.4.3", "contract.4.4", "contract.4.5"),
    ),
    ("contract.5.heading", ("contract.5.1", "contract.5.2", "contract.5.3", "contract.5.4")),
)
"""The contract's numbered sections: (heading, clauses); the notes end the last one."""

HANDOVER_CLAUSES: Final[Clauses] = ("handover.1", TABLE, "handover.2", "handover.3", "handover.4")
RETURN_CLAUSES: Final[Clauses] = ("return.1", TABLE, "return.2")
ANNEX_CLAUSES: Final[Clauses] = ("annex.3", "annex.4")
"""The annex's clauses after its two tables (taken back, given instead)."""

COLUMNS: Final = ("column.number", "column.kind", "column.model", "column.serial")
"""The first four columns of every table of components; the condition(s) follow."""

_ROLES: Final[Mapping[str, str]] = {
    "parent": "role.parent",
    "legal representative": "role.legal_representative",
    "guardian": "role.guardian",
    "trustee": "role.trustee",
}


@dataclass(frozen=True)
class Texts:
    """One language's words for the documents; `texts(key, **values)` fills a template."""

    lang: Lang

    def __call__(self, key: str, /, **values: object) -> str:
        """The text of `key`, its placeholders filled from `values` (extra values are ignored)."""
        return catalogue(DOMAIN).text(key, self.lang, **values)

    def long_date(self, day: dt.date) -> str:
        """A date as a document writes it: "2025 жылғы 1 қыркүйек", "1 сентября 2025 г."."""
        return self("date.long", day=day.day, month=self(f"month.{day.month}"), year=day.year)

    def place(self, city: str) -> str:
        """Where a document was made: "Өскемен қ.", "г. Алматы"."""
        return self("place", city=city)

    def role(self, role: str) -> str:
        """The guardian's role in the document's language, or `role` as given if not a known one."""
        key = _ROLES.get(role.strip().lower())
        return self(key) if key is not None else role

    def kind(self, kind: str) -> str:
        """A component's kind in the document's language (older free text as stored)."""
        return vocabulary.kind_label(kind, self.lang)

    def condition(self, line: ComponentLine) -> str:
        """A component's condition in the document's language, and its note if any."""
        label = vocabulary.condition_label(line.condition, self.lang)
        return f"{label}: {line.note.strip()}" if line.note.strip() else label

    def blank(self, value: str | None) -> str:
        """`value`, or a line to fill in by hand where a party is not known yet (a draft)."""
        return value if value else self("blank")

    def columns(self, *conditions: str) -> tuple[str, ...]:
        """The heading of a table of components: No, kind, model, serial, then `conditions`."""
        return (*(self(key) for key in COLUMNS), *(self(key) for key in conditions))


def fields(doc: LoanDocument, texts: Texts) -> dict[str, str]:
    """The values every template may use."""
    return {
        "number": doc.number,
        "school": doc.school,
        "city": doc.city,
        "school_signatory": texts.blank(doc.signed_by_school),
        "guardian": doc.guardian.name,
        "guardian_iin": doc.guardian.iin,
        "role": texts.role(doc.guardian.role),
        "pupil": doc.pupil.name,
        "pupil_iin": doc.pupil.iin,
        "pupil_school": doc.pupil.school,
        "grade": texts("grade", grade=doc.pupil.grade),
        "kit_id": doc.kit_id,
        "start": texts.long_date(doc.start),
        "end": texts.long_date(doc.end),
        "terms_version": doc.terms_version,
        "notes": doc.notes.strip(),
    }
