"""Tickets in the database: the migrations up and down, one unfinished ticket per kit, kind and
cause, and the tickets piled up before 0024 merged without losing any history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError

from controller.platform.db.engine import make_sessionmaker
from controller.platform.db.migrate import alembic_config, upgrade
from controller.tickets import service as tickets
from controller.tickets.tables import Ticket
from controller.trust import enrolment as trust
from tests.support import MigratedDb

DUE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_the_migration_goes_up_and_down_and_guards_one_open_ticket_per_kit_and_cause(
    migrated_db: MigratedDb,
) -> None:
    engine = migrated_db.engine
    assert {"tickets", "ticket_events"} <= set(inspect(engine).get_table_names())
    command.downgrade(alembic_config(engine), "0010")
    assert "tickets" not in inspect(engine).get_table_names()
    upgrade(engine)
    now = DUE - timedelta(days=1)

    def row(state: str, incident_id: int = 7) -> Ticket:
        return Ticket(
            kind="repair",
            priority="normal",
            state=state,
            title="t",
            detail="",
            kit_id="kit-1",
            incident_id=incident_id,
            cause="rule:disk-full",
            opened_by="x",
            created_at=now,
            updated_at=now,
        )

    with make_sessionmaker(engine).begin() as session:
        trust.ensure_kit(session, "kit-1")
        session.add_all([row("closed"), row("cancelled"), row("open")])
    with pytest.raises(IntegrityError), make_sessionmaker(engine).begin() as session:
        session.add(row("waiting", incident_id=8))  # the same cause, another incident: refused
    engine.dispose()


def test_the_migration_merges_the_open_tickets_that_share_a_cause_and_keeps_their_history(
    migrated_db: MigratedDb,
) -> None:
    """Tickets piled up before 0024 (one per incident): merged, none deleted, history kept."""
    engine = migrated_db.engine
    command.downgrade(alembic_config(engine), "0023")
    stamp = "2026-11-30 09:00:00.000000"
    with engine.begin() as conn:
        conn.execute(sql_text("INSERT INTO kits (kit_id, online, last_seq) VALUES ('kit-1', 0, 0)"))
        conn.execute(sql_text("INSERT INTO kits (kit_id, online, last_seq) VALUES ('kit-2', 0, 0)"))
        for incident in (1, 2, 3, 4, 5):
            conn.execute(
                sql_text(
                    "INSERT INTO incidents (id, kit_id, rule_id, title, severity, costs_lessons,"
                    " step, step_action, phase, step_started, deadline, opened_at, ladder,"
                    " lesson_minutes_lost) VALUES (:id, :kit, 'disk-full', 't', 'warning', 1,"
                    " 0, 'technician', 'waiting', :at, :at, :at, '[]', 0)"
                ),
                {"id": incident, "at": stamp, "kit": "kit-1" if incident <= 3 else "kit-2"},
            )
        for incident, state in ((1, "open"), (2, "in_progress"), (3, "open"), (None, "open")):
            conn.execute(
                sql_text(
                    "INSERT INTO tickets (kind, priority, state, title, detail, kit_id,"
                    " incident_id, opened_by, created_at, updated_at, sla_breached, occurrences)"
                    " VALUES ('repair', 'normal', :state, 'Disk full', '', 'kit-1', :incident,"
                    " :by, :at, :at, 0, 1)"
                ),
                {"state": state, "incident": incident, "at": stamp, "by": "ladder"},
            )
        # kit-2: an older ticket already resolved, a newer open one (urgent, due) of the same cause.
        for incident, state, priority, due in (
            (4, "resolved", "normal", None),
            (5, "open", "urgent", stamp),
        ):
            conn.execute(
                sql_text(
                    "INSERT INTO tickets (kind, priority, state, title, detail, kit_id,"
                    " incident_id, opened_by, created_at, updated_at, sla_breached, occurrences,"
                    " due_by) VALUES ('repair', :priority, :state, 'Disk full', '', 'kit-2',"
                    " :incident, 'ladder', :at, :at, 0, 1, :due)"
                ),
                {
                    "state": state,
                    "incident": incident,
                    "at": stamp,
                    "priority": priority,
                    "due": due,
                },
            )
    upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        rows = {t.id: t for t in session.query(Ticket).order_by(Ticket.id)}
        kit2 = [(t.state, t.cause, t.priority) for t in rows.values() if t.kit_id == "kit-2"]
        assert kit2 == [
            ("resolved", "rule:disk-full#5", "normal"),
            ("open", "rule:disk-full", "urgent"),
        ], "an open ticket is never folded into a resolved one (it would leave the queue)"
        rows = {k: t for k, t in rows.items() if t.kit_id == "kit-1"}
        assert [(t.state, t.cause) for t in rows.values()] == [
            ("cancelled", "rule:disk-full"),
            ("in_progress", "rule:disk-full"),
            ("cancelled", "rule:disk-full"),
            ("open", "kit"),
        ], "the one in work stays; the open ones join it"
        assert rows[2].occurrences == 3
        assert "merged into ticket #2" in (rows[1].resolution or "")
        assert rows[1].title_key == "ticket.ladder.repair"
        assert rows[1].title_params == {"kit_id": "kit-1", "rule": "disk-full"}
        assert [e.action for e in tickets.history(session, ticket_id=2)] == ["merged", "merged"]
        assert [e.to_state for e in tickets.history(session, ticket_id=1)] == ["cancelled"]
    command.downgrade(alembic_config(engine), "0023")
    upgrade(engine)
    engine.dispose()
