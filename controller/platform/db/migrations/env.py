"""Alembic environment: the engine comes from `controller.platform.db.migrate`, not from a file."""

from __future__ import annotations

from alembic import context

# Every domain's tables, so that the metadata is whole (this is the one place that knows them all).
from controller.content import tables as content_tables
from controller.fleet import tables as fleet_tables
from controller.loans import tables as loans_tables
from controller.platform import audit_table
from controller.platform.db.base import Base
from controller.remediation import tables as remediation_tables
from controller.schedules import tables as schedules_tables
from controller.tickets import tables as tickets_tables
from controller.trust import tables as trust_tables

ALL_TABLES = (
    audit_table,
    content_tables,
    fleet_tables,
    loans_tables,
    remediation_tables,
    schedules_tables,
    tickets_tables,
    trust_tables,
)

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
