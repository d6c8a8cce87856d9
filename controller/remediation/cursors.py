"""How far the remediator's passes have read, kept in the database: none missed across a crash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from controller.remediation import fleet_reads
from controller.remediation.tables import RemediationCursor


def cursor(session: Session, name: str) -> RemediationCursor:
    """The named cursor; the events cursor starts at the newest event (a first start acts on
    what arrives from then on)."""
    row = session.get(RemediationCursor, name)
    if row is None:
        start = 0
        if name == "events":
            start = fleet_reads.newest_event_id(session)
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
