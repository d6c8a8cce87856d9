"""The remediator on a real database when its inputs fail: it errs on the side of the lesson."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import text

from controller.fleet.tables import Kit
from controller.loans.tables import LoanContract
from controller.platform.db.engine import make_engine, make_sessionmaker
from controller.platform.db.migrate import alembic_config, upgrade
from controller.remediation.kit_lessons import kit_lessons
from policy.lessons import may_disrupt
from tests.support import MigratedDb

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_a_schedule_that_cannot_be_read_counts_as_a_lesson_not_as_none(
    migrated_db: MigratedDb,
) -> None:
    engine, sessions = migrated_db.engine, migrated_db.sessions
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
    with sessions() as session:
        assert kit_lessons(session, "kit-1", NOW, NOW + timedelta(days=1), now=NOW) == []
    with engine.begin() as connection:  # the schedules become unreadable
        connection.execute(text("ALTER TABLE schedule_versions RENAME TO broken"))
    with sessions() as session:
        guessed = kit_lessons(session, "kit-1", NOW, NOW + timedelta(days=1), now=NOW)
        assert len(guessed) == 1
        assert not may_disrupt(NOW, timedelta(minutes=3), guessed)
        assert may_disrupt(NOW + timedelta(hours=1), timedelta(minutes=3), guessed)
        # counting lesson minutes lost, a guess is no lesson
        assert kit_lessons(session, "kit-1", NOW, NOW + timedelta(days=1)) == []
    engine.dispose()


def test_the_rules_cursor_and_the_schedule_digest_move_to_their_tables_and_back(
    tmp_path: Path,
) -> None:
    """Migration 0013 keeps every value: nothing is evaluated or published again for the move."""
    engine = make_engine(f"sqlite:///{tmp_path}/k.db")
    upgrade(engine, "0012")
    seen = "2026-11-30 08:59:00.000000"
    with make_sessionmaker(engine).begin() as session:
        session.add_all([Kit(kit_id=kit_id) for kit_id in ("kit-1", "kit-2", "kit-3")])
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO kit_bundles (kit_id, accepted, rules_evaluated_at, schedule_published)"
                " VALUES ('kit-1', 3, :seen, 'abc'), ('kit-2', 2, NULL, NULL),"
                " ('kit-3', NULL, :seen, NULL)"
            ),
            {"seen": seen},
        )
    upgrade(engine)
    with engine.connect() as connection:
        assert sorted(connection.execute(text("SELECT * FROM rules_cursors"))) == [
            ("kit-1", seen),
            ("kit-3", seen),
        ]
        assert list(connection.execute(text("SELECT * FROM published_schedules"))) == [
            ("kit-1", "abc")
        ]
        assert sorted(connection.execute(text("SELECT kit_id, accepted FROM kit_bundles"))) == [
            ("kit-1", 3),
            ("kit-2", 2),
            ("kit-3", None),
        ]
        connection.execute(text("INSERT INTO published_schedules VALUES ('kit-2', 'def')"))
        connection.commit()
    command.downgrade(alembic_config(engine), "0012")
    with engine.connect() as connection:
        assert sorted(
            connection.execute(
                text(
                    "SELECT kit_id, accepted, rules_evaluated_at, schedule_published "
                    "FROM kit_bundles"
                )
            )
        ) == [("kit-1", 3, seen, "abc"), ("kit-2", 2, None, "def"), ("kit-3", None, seen, None)]
    engine.dispose()
