"""Databases migrated while issue 13's migrations were placeholders still reach the full schema:
one stamped at the empty 0025 (the head for a while), one at 0024 while 0023 was empty."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect

from controller.platform.db.migrate import alembic_config, upgrade
from tests.support import MigratedDb


@pytest.mark.parametrize("stamped_at", ["0024", "0025"])
def test_a_database_stamped_past_an_empty_0023_gets_its_column(
    migrated_db: MigratedDb, stamped_at: str
) -> None:
    engine = migrated_db.engine
    config = alembic_config(engine)
    command.downgrade(config, "0024")
    # As such a database was left: the tickets' columns of 0024, no promoted_into, stamped past.
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE pupils DROP COLUMN promoted_into")
    command.stamp(config, stamped_at)
    upgrade(engine)
    assert "promoted_into" in {c["name"] for c in inspect(engine).get_columns("pupils")}
