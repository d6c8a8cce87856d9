"""The remediator on a real database when its inputs fail: it errs on the side of the lesson."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from controller.config import ControllerSettings
from controller.fleet.tables import Kit
from controller.loans.tables import LoanContract
from controller.platform.db.engine import make_engine, make_sessionmaker
from controller.platform.db.migrate import upgrade
from controller.remediation.remediator import Remediator, load_bundle
from policy.lessons import may_disrupt

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_a_schedule_that_cannot_be_read_counts_as_a_lesson_not_as_none(tmp_path: Path) -> None:
    settings = ControllerSettings(db=f"sqlite:///{tmp_path}/k.db", pki_dir=tmp_path / "no-pki")
    engine = make_engine(settings.db)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        session.add(Kit(kit_id="kit-1"))
        session.flush()
        session.add(
            LoanContract(
                number="c-1",
                school="№1",
                city="Астана",
                guardian_ref="g-1",
                pupil_ref="p-1",
                kit_id="kit-1",
                state="active",
                start=date(2026, 9, 1),
                end=date(2027, 5, 31),
                terms_version="1",
                components=[],
                annexes=[],
                created_at=NOW,
            )
        )
    remediator = Remediator(
        settings=settings,
        sessions=sessions,
        send=lambda kit_id, command, msg_id: None,
        publish_schedule=lambda kit_id, schedule: None,
        bundle=load_bundle(settings, NOW),
    )
    with sessions() as session:
        assert remediator.lessons(session, "kit-1", NOW, NOW + timedelta(days=1), now=NOW) == []
    with engine.begin() as connection:  # the schedules become unreadable
        connection.execute(text("ALTER TABLE schedule_versions RENAME TO broken"))
    with sessions() as session:
        guessed = remediator.lessons(session, "kit-1", NOW, NOW + timedelta(days=1), now=NOW)
        assert len(guessed) == 1
        assert not may_disrupt(NOW, timedelta(minutes=3), guessed)
        assert may_disrupt(NOW + timedelta(hours=1), timedelta(minutes=3), guessed)
        # counting lesson minutes lost, a guess is no lesson
        assert remediator.lessons(session, "kit-1", NOW, NOW + timedelta(days=1)) == []
    engine.dispose()
