"""How a search's words become an FTS5 query: every word, quoted, as a prefix; nothing of the
user's text is read as FTS5 syntax (controller/content/search.py, pure)."""

from __future__ import annotations

import pytest

from controller.content import search


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("зат есім", '"зат"* "есім"*'),
        ("  Имя,  существительное! ", '"Имя"* "существительное"*'),
        ('"*) OR NEAR(a b', '"OR"* "NEAR"* "a"* "b"*'),
        ("x AND -y", '"x"* "AND"* "y"*'),
        ("", None),
        ("*** ---", None),
        (None, None),
    ],
)
def test_fts_query(q: str | None, expected: str | None) -> None:
    assert search.fts_query(q) == expected


def test_a_long_query_keeps_its_first_words() -> None:
    assert len(search.words(" ".join(f"w{i}" for i in range(100)))) == search.MAX_QUERY_WORDS
