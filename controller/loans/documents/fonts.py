"""The TrueType font a document is set in: DejaVu Sans unless the caller passes other files.

The font must cover Cyrillic and the Kazakh letters (ә ғ қ ң ө ұ ү һ і); a font that is missing,
unreadable or not a font is a `DocumentError` here, one that lacks a glyph is refused when the
document is finished (`controller.loans.documents.writer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from controller.errors import DocumentError

DEFAULT_FONT_DIRS: Final[tuple[Path, ...]] = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu: fonts-dejavu-core
    Path("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora
    Path("/usr/share/fonts/TTF"),  # Arch
)
"""Where `find_fonts` looks for DejaVu Sans, in order."""

REGULAR_FONT_NAME: Final = "DejaVuSans.ttf"
BOLD_FONT_NAME: Final = "DejaVuSans-Bold.ttf"

_TTF_MAGIC: Final = (b"\x00\x01\x00\x00", b"true", b"OTTO")


@dataclass(frozen=True)
class FontFiles:
    """The TrueType files a document is set in: one regular, one bold."""

    regular: Path
    bold: Path


def find_fonts(search_dirs: Sequence[Path] = DEFAULT_FONT_DIRS) -> FontFiles:
    """Return DejaVu Sans regular and bold from the first directory that holds both."""
    for directory in search_dirs:
        files = FontFiles(directory / REGULAR_FONT_NAME, directory / BOLD_FONT_NAME)
        if files.regular.is_file() and files.bold.is_file():
            return files
    looked = ", ".join(str(d) for d in search_dirs) or "nowhere"
    raise DocumentError(
        f"cannot find the font {REGULAR_FONT_NAME} and {BOLD_FONT_NAME} (looked in: {looked});"
        " install Debian's fonts-dejavu-core or pass FontFiles with a TrueType font that covers"
        " Cyrillic and the Kazakh letters"
    )


def check_font_file(path: Path) -> None:
    """Refuse a file that cannot be read or does not start like a TrueType or OpenType font."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise DocumentError(f"cannot read the font file {path}: {exc.strerror or exc}") from exc
    if magic not in _TTF_MAGIC:
        raise DocumentError(f"the font file {path} is not a TrueType or OpenType font")
