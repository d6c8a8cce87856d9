"""Text that a signed document prints must be printable: names, addresses, models, notes, claims.

The documents are set in DejaVu Sans (`controller.loans.documents.fonts`), which covers Latin
(with the Kazakh Latin alphabet's letters), Cyrillic (with the Kazakh letters) and the usual
punctuation. A name typed with a character outside that (an emoji, a private-use or control
character, a letter of a script the font lacks) would be stored and then make every document of
the contract impossible to print, after the fact; so such text is refused where it is entered,
saying which character (by its code point, never the text itself) and where. Pure: no I/O.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import AfterValidator

from controller.errors import InvalidValue

PRINTABLE_RANGES: Final = (
    (0x0020, 0x007E),  # Basic Latin, printable
    (0x00A0, 0x024F),  # Latin-1 letters and signs, Latin Extended-A and -B
    (0x0400, 0x0525),  # Cyrillic (Kazakh letters included) and most of its Supplement
    (0x2010, 0x2027),  # dashes, quotation marks, bullets, ellipsis
    (0x2030, 0x205E),  # per mille, primes, guillemets
    (0x2116, 0x2116),  # numero sign №
)
"""Code points the documents print (all covered by DejaVu Sans)."""


def unprintable(text: str) -> list[tuple[int, str]]:
    """Each character outside PRINTABLE_RANGES: (its 1-based position, its code point U+XXXX)."""
    return [
        (position, f"U+{ord(char):04X}")
        for position, char in enumerate(text, start=1)
        if not any(low <= ord(char) <= high for low, high in PRINTABLE_RANGES)
    ]


def check_printable(text: str) -> str:
    """The text if a document can print it; InvalidValue naming the first characters if not."""
    bad = unprintable(text)
    if bad:
        shown = ", ".join(f"{code} ({position})" for position, code in bad[:3])
        raise InvalidValue("documents", "value.unprintable", chars=shown)
    return text


Printable = Annotated[str, AfterValidator(check_printable)]
"""A text field that documents print: refused with the character's code point if unprintable."""
