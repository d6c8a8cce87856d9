"""Text a document prints is refused at entry when the documents' font cannot print it (the API
fuzzer found a guardian renamed with such characters: every later document of the contract
failed to render)."""

from __future__ import annotations

import pytest
from fontTools.ttLib import TTFont  # fpdf2's dependency: reads a font's character map
from pydantic import ValidationError

from controller.loans.documents.fonts import find_fonts
from controller.loans.printable import PRINTABLE_RANGES, check_printable, unprintable
from controller.loans.schemas import (
    ActCreate,
    ComponentCreate,
    ContractAction,
    GuardianUpdate,
    PupilUpdate,
    ReplacementCreate,
)


@pytest.mark.parametrize(
    "text",
    [
        "Нұрлан Асқарұлы Жұмабаев",
        "Әлия Қасымқызы Нұрғалиева-Смағұлова",
        "Алматы қ., Абай даңғылы 150, 12 пәтер «Б» №3",
        "Nurlan Asqaruly Zhumabaev",
        "Şäkärim Qudaiberdiuly — Ūly Dala",
        "HP ProBook 450 G8 / 15,6″",
    ],
)
def test_kazakh_russian_and_latin_text_is_printable(text: str) -> None:
    assert unprintable(text) == []
    assert check_printable(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Әлия 😀", [(6, "U+1F600")]),
        ("a\tb", [(2, "U+0009")]),
        ("ok\u202ekoo", [(3, "U+202E")]),  # right-to-left override
        ("\ue000x", [(1, "U+E000")]),  # private use
        ("中文", [(1, "U+4E2D"), (2, "U+6587")]),  # a script the font lacks
    ],
)
def test_what_the_font_cannot_print_is_named_by_code_point_and_position(
    text: str, expected: list[tuple[int, str]]
) -> None:
    assert unprintable(text) == expected


def test_every_printable_range_is_in_the_documents_font() -> None:
    fonts = find_fonts()
    for path in (fonts.regular, fonts.bold):
        cmap = TTFont(path).getBestCmap()
        missing = [
            f"U+{point:04X}"
            for low, high in PRINTABLE_RANGES
            for point in range(low, high + 1)
            if point not in cmap
        ]
        assert missing == [], path


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (GuardianUpdate, {"name": "Әлия 😀"}),
        (GuardianUpdate, {"address": "Алматы қ., \u0007 12"}),
        (PupilUpdate, {"school": "№42 мектеп 🏫"}),
        (
            ComponentCreate,
            {"serial": "WC-1", "kind": "webcam", "model": "C270 ✨", "condition": "good"},
        ),
        (ActCreate, {"conditions": {"WC-1": "good"}, "signed_by": "Әлия", "claim": "💸"}),
        (ActCreate, {"conditions": {"WC-1": "good"}, "signed_by": "Әлия", "notes": {"WC-1": "🔥"}}),
        (ContractAction, {"guardian": "Әлия 👍"}),
        (ReplacementCreate, {"old_serial": "a", "new_serial": "b", "reason": "broke 💥"}),
    ],
)
def test_document_text_with_unprintable_characters_is_refused(
    model: type, data: dict[str, object]
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    assert "cannot print" in str(caught.value)
    assert "U+" in str(caught.value)


def test_a_replacement_takes_a_condition_from_the_vocabulary() -> None:
    with pytest.raises(ValidationError):
        ReplacementCreate.model_validate(
            {"old_serial": "a", "new_serial": "b", "reason": "broken", "old_condition": "meh"}
        )
    ok = ReplacementCreate.model_validate({"old_serial": "a", "new_serial": "b", "reason": "x y"})
    assert ok.old_condition == "faulty"
