"""Alembic environment: the engine comes from `controller.db.migrate`, not from a file."""

from __future__ import annotations

from alembic import context

from controller.db.models import Base
from controller.db.schedule_models import ScheduleVersion as ScheduleVersion  # schedules
from controller.db.ticket_models import Ticket as Ticket  # tickets' tables in the metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
