"""SQLite sessions: a savepoint is inside a transaction, so releasing it commits nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from controller.platform.db.engine import make_engine, make_sessionmaker


def test_a_savepoint_before_any_write_does_not_commit_when_released(tmp_path: Path) -> None:
    """Python's sqlite3 began no transaction before a SAVEPOINT: its RELEASE committed the row
    (an fsync per row of an import, and nothing to roll back when a later row failed)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE rows (n INTEGER)"))
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        for n in range(3):
            with session.begin_nested():
                session.execute(text("INSERT INTO rows VALUES (:n)"), {"n": n})
        with engine.connect() as other:
            assert other.scalar(text("SELECT count(*) FROM rows")) == 0, "not committed yet"
        session.rollback()
    with sessions() as session:
        assert session.scalar(text("SELECT count(*) FROM rows")) == 0
        with session.begin_nested():
            session.execute(text("INSERT INTO rows VALUES (7)"))
        session.commit()
        assert session.scalar(text("SELECT count(*) FROM rows")) == 1
    engine.dispose()
