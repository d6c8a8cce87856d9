"""Lays out one document on A4 pages: title, headings, paragraphs, tables and the signatures.

Words come in already in the document's language (`controller.loans.documents.texts`); the
writer knows only the page. The PDF's creation date is the document's own date, not the clock,
so the same loan always renders the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from fontTools.ttLib import TTLibError  # type: ignore[import-untyped]
from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import TTFFont

from controller.errors import DocumentError
from controller.loans.documents.fonts import FontFiles, check_font_file
from controller.loans.documents.model import Lang

FAMILY: Final = "KitkeeperSans"
BODY_PT: Final = 10.0
TABLE_PT: Final = 9.0
LINE_MM: Final = 5.0
HEAD_FILL: Final = (230, 230, 230)

Row = tuple[Sequence[str], FontFace | None]
"""The cells of a table row, and the style of the whole row (None: the table's)."""


class _Pdf(FPDF):
    """An A4 page with the document number and page count in the footer."""

    def __init__(self, footer: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._footer = footer

    def footer(self) -> None:
        """Print "№ number · page/pages" at the bottom of every page."""
        self.set_y(-12)
        self.set_font(FAMILY, size=8)
        self.set_text_color(90)
        self.cell(0, 5, f"{self._footer} · {self.page_no()}/{{nb}}", align=Align.C)
        self.set_text_color(0)


@dataclass
class Writer:
    """Lays out one document: headings, numbered clauses, tables and the signatures block."""

    lang: Lang
    fonts: FontFiles
    footer: str
    created: dt.date
    pdf: _Pdf = field(init=False)

    def __post_init__(self) -> None:
        self.pdf = _Pdf(self.footer)
        # The document's own date, not the clock: the same loan always renders the same bytes.
        self.pdf.set_creation_date(dt.datetime.combine(self.created, dt.time(), tzinfo=dt.UTC))
        self.pdf.set_creator("kitkeeper")
        for style, path in (("", self.fonts.regular), ("B", self.fonts.bold)):
            check_font_file(path)
            try:
                self.pdf.add_font(FAMILY, style, path)
            except (OSError, ValueError, KeyError, TTLibError) as exc:
                raise DocumentError(f"cannot load the font file {path}: {exc}") from exc
        self.pdf.set_lang(self.lang)
        self.pdf.set_margins(left=20, top=15, right=15)
        self.pdf.set_auto_page_break(auto=True, margin=18)
        self.pdf.add_page()

    def title(self, title: str, subtitle: str, place: str, when: str) -> None:
        """Centered title and subtitle, then the place on the left and the date on the right."""
        pdf = self.pdf
        pdf.set_title(f"{title} {subtitle}")
        pdf.set_font(FAMILY, "B", 14)
        pdf.multi_cell(0, 7, title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FAMILY, "", 11)
        pdf.multi_cell(0, 6, subtitle, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
        pdf.set_font(FAMILY, "", BODY_PT)
        half = pdf.epw / 2
        pdf.cell(half, LINE_MM, place, align=Align.L)
        pdf.cell(half, LINE_MM, when, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)

    def heading(self, text: str) -> None:
        """A bold, centered section heading, kept on the same page as a few lines after it."""
        if self.pdf.will_page_break(20):
            self.pdf.add_page()
        self.pdf.ln(2)
        self.pdf.set_font(FAMILY, "B", BODY_PT + 0.5)
        self.pdf.multi_cell(0, 6, text, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.set_font(FAMILY, "", BODY_PT)

    def paragraph(self, text: str) -> None:
        """A justified paragraph of body text."""
        self.pdf.set_font(FAMILY, "", BODY_PT)
        self.pdf.multi_cell(0, LINE_MM, text, align=Align.J, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(1)

    def table(self, head: Sequence[str], rows: Sequence[Row], widths: Sequence[float]) -> None:
        """A bordered table with a grey heading row repeated on every page; a row may be styled."""
        pdf = self.pdf
        pdf.set_font(FAMILY, "", TABLE_PT)
        with pdf.table(
            col_widths=tuple(widths),
            text_align=Align.L,
            headings_style=FontFace(emphasis="BOLD", fill_color=HEAD_FILL),
            line_height=4.5,
            padding=(1, 1.5),
        ) as table:
            heading = table.row()
            for text in head:
                heading.cell(text)
            for cells, style in rows:
                row = table.row()
                for text in cells:
                    row.cell(text, style=style)
        pdf.set_font(FAMILY, "", BODY_PT)
        pdf.ln(2)

    def signatures(self, left: tuple[str, list[str]], right: tuple[str, list[str]]) -> None:
        """Two borderless columns, each a bold heading over lines of details and a signature."""
        pdf = self.pdf
        pdf.ln(4)
        if pdf.will_page_break(45):
            pdf.add_page()
        pdf.set_font(FAMILY, "", BODY_PT)
        with pdf.table(
            col_widths=(1, 1),
            text_align=Align.L,
            borders_layout=TableBordersLayout.NONE,
            headings_style=FontFace(emphasis="BOLD"),
            line_height=LINE_MM,
            padding=(1, 3, 1, 0),
        ) as table:
            heading = table.row()
            heading.cell(left[0])
            heading.cell(right[0])
            body = table.row()
            body.cell("\n".join(left[1]))
            body.cell("\n".join(right[1]))

    def output(self) -> bytes:
        """The finished PDF; refuses one that would show empty boxes for missing glyphs.

        The font files fpdf reads lazily are closed when it is done (or refused).
        """
        fonts = [font for font in self.pdf.fonts.values() if isinstance(font, TTFFont)]
        try:
            for font in fonts:
                if font.missing_glyphs:
                    letters = " ".join(sorted(chr(c) for c in font.missing_glyphs))
                    raise DocumentError(
                        f"the font {font.ttffile} has no glyph for: {letters}; use a font that"
                        " covers Cyrillic and the Kazakh letters, such as DejaVu Sans"
                    )
            return bytes(self.pdf.output())
        finally:
            for font in fonts:
                font.ttfont.close()
