"""Tickets: one unfinished ticket per kit, kind and cause; where a due came from; catalogue titles.

A ticket gets its `cause` (`controller.tickets.causes`: `rule:<rule id>` for the ladder's,
`help`, `component:<serial>`, `kit`), `due_source` (`lesson`, `given`, `sla`) and, for a title the
system wrote, its catalogue key and parameters (`title_key`, `title_params`). Existing rows are
filled in: the ladder's tickets take their incident's rule. Unfinished tickets that now share a
kit, kind and cause are merged before the unique index replaces the one per incident and kind:
the oldest stays (one already in work before one still open); each other one still open is
cancelled with a note naming the one it joined (its count added there), and one already in work
keeps its own cause, suffixed with its number, so that its technician finishes it. Every merge is
a step in both tickets' histories; nothing is deleted.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import UTCDateTime

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

UNFINISHED = "state NOT IN ('closed', 'cancelled')"
ACTOR = "migration-0024"

tickets = sa.table(
    "tickets",
    sa.column("id", sa.BigInteger),
    sa.column("kind", sa.String),
    sa.column("priority", sa.String),
    sa.column("state", sa.String),
    sa.column("kit_id", sa.String),
    sa.column("incident_id", sa.BigInteger),
    sa.column("component_serial", sa.String),
    sa.column("opened_by", sa.String),
    sa.column("due_by", UTCDateTime()),
    sa.column("occurrences", sa.Integer),
    sa.column("resolution", sa.Text),
    sa.column("closed_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("cause", sa.String),
    sa.column("due_source", sa.String),
    sa.column("title_key", sa.String),
    sa.column("title_params", sa.JSON),
)
events = sa.table(
    "ticket_events",
    sa.column("ticket_id", sa.BigInteger),
    sa.column("at", UTCDateTime()),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("from_state", sa.String),
    sa.column("to_state", sa.String),
    sa.column("detail", sa.JSON),
)
incidents = sa.table("incidents", sa.column("id", sa.BigInteger), sa.column("rule_id", sa.String))


def _cause(row: Any, rule_id: str | None) -> str:
    if row.kind == "help_request":
        return "help"
    if rule_id is not None:
        return f"rule:{rule_id}"[:120]
    if row.component_serial is not None:
        return f"component:{row.component_serial}"[:120]
    return "kit"


def _fill(bind: sa.Connection) -> None:
    """Each ticket's cause, where its due came from and, for the ladder's, its title's key."""
    rules = dict(bind.execute(sa.select(incidents.c.id, incidents.c.rule_id)).all())
    for row in bind.execute(sa.select(tickets)).all():
        rule_id = rules.get(row.incident_id) if row.incident_id is not None else None
        by_ladder = row.opened_by == "ladder"
        key, params = None, None
        if by_ladder and row.kind == "help_request":
            key, params = "ticket.help", {"kit_id": row.kit_id}
        elif by_ladder and rule_id is not None:
            key, params = f"ticket.ladder.{row.kind}", {"kit_id": row.kit_id, "rule": rule_id}
        source = None if row.due_by is None else ("lesson" if by_ladder else "given")
        bind.execute(
            tickets.update()
            .where(tickets.c.id == row.id)
            .values(
                cause=_cause(row, rule_id), due_source=source, title_key=key, title_params=params
            )
        )


def _event(bind: sa.Connection, ticket_id: int, now: datetime, **values: Any) -> None:
    bind.execute(events.insert().values(ticket_id=ticket_id, at=now, actor=ACTOR, **values))


_URGENCY = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


def _carry_over(bind: sa.Connection, keep: Any, merged: list[Any]) -> None:
    """The kept ticket takes the most urgent priority and the earliest due of those merged."""
    if not merged:
        return
    priority = max([keep, *merged], key=lambda r: _URGENCY.get(r.priority, 1)).priority
    dues = [r for r in [keep, *merged] if r.due_by is not None]
    earliest = min(dues, key=lambda r: r.due_by) if dues else None
    values: dict[str, Any] = {"priority": priority}
    if earliest is not None:
        values |= {"due_by": earliest.due_by, "due_source": earliest.due_source}
    bind.execute(tickets.update().where(tickets.c.id == keep.id).values(**values))


def _merge(bind: sa.Connection) -> None:
    """Unfinished tickets sharing a kit, kind and cause: one stays, others join or step aside."""
    now = datetime.now(UTC)
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    rows = bind.execute(sa.select(tickets).where(sa.text(UNFINISHED)).order_by(tickets.c.id)).all()
    for row in rows:
        groups[(row.kit_id, row.kind, row.cause)].append(row)
    for group in groups.values():
        if len(group) < 2:
            continue
        # Keep one a technician works on, else the oldest open one: never a resolved one while
        # an open one would be folded into it (the fault would leave the queue unseen).
        in_work = [r for r in group if r.state not in {"open", "resolved"}]
        still_open = [r for r in group if r.state == "open"]
        keep = (in_work or still_open or group)[0]
        _carry_over(bind, keep, [r for r in still_open if r.id != keep.id])
        for row in group:
            if row.id == keep.id:
                continue
            if row.state == "open":
                note = f"merged into ticket #{keep.id}: one open ticket per kit and cause"
                bind.execute(
                    tickets.update()
                    .where(tickets.c.id == row.id)
                    .values(state="cancelled", resolution=note, closed_at=now, updated_at=now)
                )
                _event(
                    bind,
                    row.id,
                    now,
                    action="cancelled",
                    from_state="open",
                    to_state="cancelled",
                    detail={"note": note, "joined": keep.id},
                )
                total = bind.execute(
                    sa.select(tickets.c.occurrences).where(tickets.c.id == keep.id)
                ).scalar_one()
                bind.execute(
                    tickets.update()
                    .where(tickets.c.id == keep.id)
                    .values(occurrences=(total or 1) + (row.occurrences or 1))
                )
                detail = {"note": f"ticket #{row.id} merged into this one", "merged": row.id}
                _event(bind, keep.id, now, action="merged", detail=detail)
            else:
                own = f"{row.cause}#{row.id}"[:120]
                bind.execute(tickets.update().where(tickets.c.id == row.id).values(cause=own))
                note = f"{row.state} beside ticket #{keep.id} (same cause): kept apart"
                _event(bind, row.id, now, action="noted", detail={"note": note})


def upgrade() -> None:
    """Add the columns, fill them in, merge duplicates, then guard one per kit, kind, cause."""
    op.drop_index("uq_tickets_incident_kind_open", table_name="tickets")
    # Plain ALTER TABLE, not a batch copy: ticket_events refers to tickets, whose copy SQLite
    # could not drop; `cause` is filled in for every row below (and always set by the service).
    op.add_column("tickets", sa.Column("cause", sa.String(120), nullable=True))
    op.add_column("tickets", sa.Column("due_source", sa.String(8), nullable=True))
    op.add_column("tickets", sa.Column("title_key", sa.String(64), nullable=True))
    op.add_column("tickets", sa.Column("title_params", sa.JSON(), nullable=True))
    bind = op.get_bind()
    _fill(bind)
    _merge(bind)
    op.create_index(
        "uq_tickets_kit_kind_cause_open",
        "tickets",
        ["kit_id", "kind", "cause"],
        unique=True,
        sqlite_where=sa.text(UNFINISHED),
        postgresql_where=sa.text(UNFINISHED),
    )


def downgrade() -> None:
    """Back to one unfinished ticket per incident and kind (merged tickets stay as they are)."""
    op.drop_index("uq_tickets_kit_kind_cause_open", table_name="tickets")
    for column in ("title_params", "title_key", "due_source", "cause"):
        op.drop_column("tickets", column)
    op.create_index(
        "uq_tickets_incident_kind_open",
        "tickets",
        ["incident_id", "kind"],
        unique=True,
        sqlite_where=sa.text(UNFINISHED),
        postgresql_where=sa.text(UNFINISHED),
    )
