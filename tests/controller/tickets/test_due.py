"""A ticket's due from the pupil's lessons: what an unreadable schedule may do, and may not hide."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NoReturn

import pytest
from sqlalchemy.exc import OperationalError

from controller.schedules import service as schedules
from controller.schedules.errors import ScheduleNotFoundError
from controller.tickets import due

AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def _raising(error: Exception) -> Any:
    def read(*_: object, **__: object) -> NoReturn:
        raise error

    return read


@pytest.mark.parametrize(
    "unreadable",
    [
        ValueError("stored version no longer valid"),
        KeyError("Mars/Olympus"),
        ScheduleNotFoundError("no schedule"),
    ],
)
def test_an_unreadable_schedule_gives_the_default_due(
    monkeypatch: pytest.MonkeyPatch, unreadable: Exception
) -> None:
    monkeypatch.setattr(schedules, "pupil_for_kit", _raising(unreadable))
    assert due.next_lesson_start(None, "kit-1", AT) is None  # type: ignore[arg-type]
    assert due.from_lessons(None, "kit-1", AT) == (AT + due.DEFAULT_SLA, due.DueSource.SLA)  # type: ignore[arg-type]


def test_a_database_error_is_not_hidden_inside_the_callers_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review of issue 13, item 8: on PostgreSQL the transaction is aborted after it."""
    failed = OperationalError("SELECT", {}, Exception("current transaction is aborted"))
    monkeypatch.setattr(schedules, "pupil_for_kit", _raising(failed))
    with pytest.raises(OperationalError):
        due.next_lesson_start(None, "kit-1", AT)  # type: ignore[arg-type]
