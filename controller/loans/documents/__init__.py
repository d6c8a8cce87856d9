"""PDF documents for a loan: the contract of free temporary use, the hand-over act, the return act.

Each document exists in Kazakh (`kk`) and Russian (`ru`). Every word a document prints comes from
the `documents` message catalogue (`common/locale/<lang>/documents.toml`, through `texts`); the
modules here only lay it out. Plain dataclasses in (`model`), PDF bytes out: no database, no
clock reads (the PDF's creation date is the document's own date, so the same loan always gives
the same bytes).

- `model`: the data a document is made of, and what no document may say;
- `texts`: the words (from the catalogue) and the outline of each document;
- `fonts`: the TrueType font, DejaVu Sans from Debian's `fonts-dejavu-core` unless the caller
  passes other `FontFiles`; a font that is missing, unreadable or lacks a glyph the document needs
  is a `DocumentError`, never a PDF with empty boxes in it;
- `writer`: the page layout; `pieces`: what the three documents share;
- `contract`, `acts`, `annex`: the contract, its hand-over and return acts, its annexes.

Kinds and conditions are printed through `controller.loans.vocabulary` in the document's
language (older free text as stored); a party not known yet (a draft's school signatory) is a
blank to fill in by hand.
"""

from __future__ import annotations

from controller.loans.documents.acts import SOUND as SOUND
from controller.loans.documents.acts import handover_act_pdf as handover_act_pdf
from controller.loans.documents.acts import return_act_pdf as return_act_pdf
from controller.loans.documents.annex import annex_pdf as annex_pdf
from controller.loans.documents.contract import contract_pdf as contract_pdf
from controller.loans.documents.fonts import FontFiles as FontFiles
from controller.loans.documents.fonts import find_fonts as find_fonts
from controller.loans.documents.model import LANGUAGES as LANGUAGES
from controller.loans.documents.model import Annex as Annex
from controller.loans.documents.model import ComponentLine as ComponentLine
from controller.loans.documents.model import Lang as Lang
from controller.loans.documents.model import LoanDocument as LoanDocument
from controller.loans.documents.model import Party as Party
from controller.loans.documents.model import Pupil as Pupil
