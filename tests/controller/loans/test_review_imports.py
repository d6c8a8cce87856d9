"""Fixes after the loans review (issue 13), pure: an import's report keeps its kk/ru text when
the database refuses a stored row (a person's refusal, the import's own, a printable check)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from controller.loans import imports
from controller.loans.import_store import ImportRowRefusedError
from controller.loans.people_errors import PeopleRefusedError
from controller.loans.printable import Printable


class _Row(BaseModel):
    school: Printable


def _refused_printable() -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        _Row(school="School \U0001f600")
    return caught.value


@pytest.mark.parametrize(
    ("exc", "column", "english"),
    [
        (PeopleRefusedError("teacher.unknown", 422, username="t-9"), "teacher", "staff account"),
        (ImportRowRefusedError("guardian.other_pupil", key="g-9"), None, "another pupil"),
        (_refused_printable(), "school", "cannot print"),
    ],
    ids=["people", "import", "printable"],
)
def test_a_refused_row_is_reported_in_every_language(
    exc: Exception, column: str | None, english: str
) -> None:
    (error,) = imports._refusal(7, exc)
    assert (error["row"], error["column"]) == (7, column)
    messages = error["messages"]
    assert english in messages["en"]
    assert english in error["reason"]
    for lang in ("kk", "ru"):
        assert english not in messages[lang], (lang, messages[lang])
        assert messages[lang] != messages["en"]
