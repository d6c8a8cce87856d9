"""How far the remediator's passes have read, kept in the database: none missed across a crash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.fleet.tables import Event
from controller.remediation.tables import RemediationCursor


def cursor(session: Session, name: str) -> RemediationCursor:
    """The named cursor; the events cursor starts at the newest event (a first start acts on
    what arrives from then on)."""
    row = session.get(RemediationCursor, name)
    if row is None:
        start = 0
        if name == "events":
            start = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0
        row = RemediationCursor(name=name, value=start)
        session.add(row)
    return row


def begin(session: Session, name: str, now: datetime) -> RemediationCursor:
    """Touch the named cursor before a pass's items, each in its own savepoint.

    Write first: SQLite's driver opens the transaction only at a write, and a savepoint released
    outside one would commit each item's changes on its own.
    """
    row = cursor(session, name)
    row.at = now
    session.flush()
    return row
