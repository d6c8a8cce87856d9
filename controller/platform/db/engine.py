"""Creating the engine and sessions; SQLite gets WAL, a busy timeout and real savepoints.

Python's sqlite3 opens a transaction (BEGIN) only before an INSERT, UPDATE or DELETE, not before
a SAVEPOINT: a `session.begin_nested()` with no write before it made the savepoint the
transaction, so releasing it committed (an fsync per row of an import, and a "nothing or all"
import that was neither). A savepoint outside a transaction now opens one first, BEGIN IMMEDIATE:
a savepoint is taken to write, and IMMEDIATE waits for the write lock (busy timeout) up front
instead of failing at the first write when another writer committed since its reads began.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from common.files import make_private
from controller.errors import ConfigError


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    # FULL: a commit survives power loss too; kits forget what the ack after it covers.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _private_sqlite_files(path: Path) -> None:
    """The database and its -wal, -shm and -journal for the owner only (0600), a new folder 0700.

    SQLite gives the files it makes beside a database the database's own mode, so creating the
    database 0600 before SQLite opens it keeps every later -wal and -shm private too.
    """
    try:
        make_private(path, create=True)
        for suffix in ("-wal", "-shm", "-journal"):
            make_private(path.with_name(path.name + suffix))
    except OSError as exc:
        raise ConfigError(f"cannot make the database {path} private: {exc}") from exc


def _begin_before_savepoint(conn: Connection, name: str) -> None:
    dbapi_connection: Any = conn.connection.dbapi_connection
    if not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """Create an engine for `url`, making the SQLite file's directory if needed."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_sqlite_files(Path(parsed.database))
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _begin_before_savepoint)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
