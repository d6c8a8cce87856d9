"""The schedule service on a real database: versions, approval, and what each kit gets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from controller.fleet.tables import Kit
from controller.loans.tables import LoanContract, Pupil
from controller.platform import audit
from controller.schedules import kits, model, service, versions
from controller.schedules.errors import (
    ScheduleError,
    ScheduleInvalidError,
    ScheduleNotFoundError,
)
from tests.support import MigratedDb

FILES = Path(__file__).parent / "schedule_files"
CSV = (FILES / "p001_two_quarters.csv").read_text(encoding="utf-8-sig")
NOW = datetime(2026, 8, 28, 6, tzinfo=UTC)


@pytest.fixture
def session(migrated_db: MigratedDb) -> Iterator[Session]:
    """A migrated SQLite database with pupil p-001 and kit-1 lent to them (contract c-1)."""
    with migrated_db.sessions() as session:
        session.add(
            Pupil(
                ref="p-001",
                name_enc="-",
                iin_enc="-",
                iin_index="-",
                grade=5,
                program_enc="-",
                basis_enc="-",
                temporary_until_enc="-",
                school="№42",
                teacher="teacher",
                created_at=NOW,
            )
        )
        session.add(Kit(kit_id="kit-1", online=False, last_seq=0, acked_seq=0))
        session.flush()
        session.add(
            LoanContract(
                number="c-1",
                school="№42",
                city="Алматы",
                guardian_ref="g-001",
                pupil_ref="p-001",
                kit_id="kit-1",
                state="active",
                start=date(2026, 9, 1),
                end=date(2027, 5, 31),
                terms_version="2026-1",
                components=[],
                training_recorded=True,
                created_at=NOW,
            )
        )
        session.commit()
        yield session


def imported(session: Session, *, approve: bool = True) -> service.Change:
    change = service.import_schedule(
        session,
        pupil_ref="p-001",
        text=CSV,
        fmt="csv",
        actor="admin",
        now=NOW,
        approve_now=approve,
        approved_by="S. Nurlanov",
    )
    session.commit()
    return change


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_the_kit_gets_the_approved_lessons_of_its_pupil_and_nothing_else(
    session: Session,
) -> None:
    assert service.kit_schedule(session, kit_id="kit-1", now=utc(9, 1)) is None
    change = imported(session, approve=False)
    assert change.kit_ids == [], "a draft changes nothing for the kit"
    assert service.kit_schedule(session, kit_id="kit-1", now=utc(9, 1)) is None
    approved = service.approve(session, pupil_ref="p-001", actor="admin", now=NOW)
    session.commit()
    assert approved.kit_ids == ["kit-1"], "publish to these after the commit"

    sent = service.kit_schedule(
        session, kit_id="kit-1", now=utc(9, 1, 4, 30), guard_minutes=20, prelesson_minutes=45
    )
    assert sent is not None
    assert (sent.generated_at, sent.horizon_end) == (utc(9, 1, 4, 30), utc(9, 15, 4, 30))
    assert (sent.timezone, sent.guard_minutes, sent.prelesson_minutes) == ("Asia/Almaty", 20, 45)
    first = sent.lessons[0]
    assert (first.start, first.end, first.subject) == (
        utc(9, 1, 4),
        utc(9, 1, 4, 45),
        "Mathematics",
    )
    assert first.start < sent.generated_at, "the lesson running now is included"
    starts = [w.start for w in sent.lessons]
    assert starts[-1] == utc(9, 11, 5), "the last one before the horizon"
    assert utc(9, 8, 4) not in starts, "cancelled"
    assert utc(9, 15, 4) not in starts, "moved to 16 September, after the horizon"
    assert "Бекова" not in sent.model_dump_json()
    assert service.kit_schedule(session, kit_id="kit-2", now=utc(9, 1)) is None


@pytest.mark.parametrize(
    ("state", "has_schedule"),
    [
        ("draft", False),
        ("signed", True),
        ("active", True),
        ("return_due", True),
        ("returned", False),
    ],
)
def test_the_pupil_is_found_through_a_contract_that_lends_the_kit(
    session: Session, state: str, has_schedule: bool
) -> None:
    imported(session)
    contract = session.get(LoanContract, 1)
    assert contract is not None
    contract.state = state
    session.commit()
    assert (
        service.kit_schedule(session, kit_id="kit-1", now=utc(9, 1)) is not None
    ) is has_schedule
    assert service.kits_for_pupil(session, "p-001") == (["kit-1"] if has_schedule else [])


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(9, 1, 4), utc(9, 2, 10)),  # a lesson starting now is not the next one
        (utc(10, 24, 12), utc(10, 30, 5)),  # after the 1st quarter: the extra lesson in the break
        (utc(10, 30, 6), utc(11, 3, 4)),  # then the 2nd quarter
        (utc(12, 15, 6), utc(12, 22, 4)),  # the holiday of 16-17 December is skipped
        (utc(12, 26, 12), None),  # nothing after the last term
    ],
)
def test_the_next_lesson_however_far_off(
    session: Session, now: datetime, expected: datetime | None
) -> None:
    imported(session)
    lesson = kits.next_lesson_for_kit(session, kit_id="kit-1", now=now)
    assert (lesson.start if lesson is not None else None) == expected


def test_versions_are_kept_and_every_change_is_audited(session: Session) -> None:
    imported(session)
    lighter = model.ScheduleContent.model_validate(
        {
            "terms": [{"start": "2026-09-01", "end": "2026-10-24"}],
            "slots": [
                {"weekday": 0, "start": "10:00", "duration_min": 30, "subject": "Art",
                 "mode": "self_study"}
            ],
        }
    )  # fmt: skip
    change = service.save_schedule(
        session, pupil_ref="p-001", schedule=lighter, actor="admin", now=NOW
    )
    session.commit()
    assert (change.stored.version, change.stored.in_force_version) == (2, 1)
    current = service.get(session, "p-001")
    in_force = versions.in_force(session, "p-001")
    first = service.get(session, "p-001", version=1)
    assert current is not None
    assert in_force is not None
    assert first is not None
    assert current.schedule.status is model.ScheduleStatus.DRAFT
    assert (in_force.version, in_force.schedule.approved_by) == (1, "S. Nurlanov")
    assert first.schedule.content() == in_force.schedule.content()
    lessons = service.lessons_for_pupil(session, "p-001", utc(9, 7), utc(9, 8))
    assert [lesson.subject for lesson in lessons] == [], "Monday: nothing in force yet"
    draft = service.lessons_for_pupil(session, "p-001", utc(9, 7), utc(9, 8), draft=True)
    assert [lesson.subject for lesson in draft] == ["Art"]
    actions = [
        (e.action, (e.after or {}).get("version"))
        for e in reversed(audit.entries(session, entity="schedule", entity_id="p-001"))
    ]
    assert actions == [("schedule_saved", 1), ("schedule_approved", 1), ("schedule_saved", 2)]


def test_what_is_refused(session: Session) -> None:
    with pytest.raises(ScheduleNotFoundError, match="no pupil 'p-404'"):
        service.save_schedule(
            session, pupil_ref="p-404", schedule=model.ScheduleContent(), actor="a", now=NOW
        )
    with pytest.raises(ScheduleNotFoundError, match="no schedule to approve"):
        service.approve(session, pupil_ref="p-001", actor="a", now=NOW)
    bad = model.ScheduleContent.model_validate(
        {"slots": [{"weekday": 0, "start": "10:00", "duration_min": 30, "subject": "Art",
                    "mode": "self_study"}]}
    )  # fmt: skip
    with pytest.raises(ScheduleInvalidError, match="weekly lessons need a term"):
        service.save_schedule(session, pupil_ref="p-001", schedule=bad, actor="a", now=NOW)
    imported(session)
    with pytest.raises(ScheduleError, match="already approved"):
        service.approve(session, pupil_ref="p-001", actor="a", now=NOW)


def test_a_kit_gets_at_most_a_thousand_lessons_and_says_up_to_when(session: Session) -> None:
    busy = model.ScheduleContent.model_validate(
        {
            "terms": [{"start": "2026-09-01", "end": "2027-05-31"}],
            "slots": [
                {"weekday": day, "start": f"{8 + hour:02d}:00", "duration_min": 45,
                 "subject": f"Lesson {hour}", "mode": "self_study"}
                for day in range(7)
                for hour in range(10)
            ],
        }
    )  # fmt: skip
    service.save_schedule(session, pupil_ref="p-001", schedule=busy, actor="a", now=NOW)
    service.approve(session, pupil_ref="p-001", actor="a", now=NOW)
    sent = service.kit_schedule(session, kit_id="kit-1", now=utc(9, 1), horizon=timedelta(days=200))
    assert sent is not None
    assert len(sent.lessons) == kits.MAX_WINDOWS
    assert sent.horizon_end == utc(12, 10, 3), "the 1001st lesson: 10 December, 08:00 local"
    assert sent.lessons[-1].end <= sent.horizon_end
