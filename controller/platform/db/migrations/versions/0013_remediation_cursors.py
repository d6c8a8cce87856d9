"""The rules cursor and the published schedule's digest leave `kit_bundles` for tables of their own.

`kit_bundles` kept three unrelated things per kit: the playbook bundle it has, how far the rules
have read its snapshots and the digest of the schedule last published to it. Each now has its own
table (`kit_bundles`, `rules_cursors`, `published_schedules`); the values are copied over as they
are (the same column types), so nothing is evaluated or published again because of the move.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the two tables, copy the values over, drop the old columns."""
    op.create_table(
        "rules_cursors",
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), primary_key=True),
        sa.Column("evaluated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "published_schedules",
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
    )
    op.execute(
        "INSERT INTO rules_cursors (kit_id, evaluated_at) "
        "SELECT kit_id, rules_evaluated_at FROM kit_bundles WHERE rules_evaluated_at IS NOT NULL"
    )
    op.execute(
        "INSERT INTO published_schedules (kit_id, digest) "
        "SELECT kit_id, schedule_published FROM kit_bundles WHERE schedule_published IS NOT NULL"
    )
    with op.batch_alter_table("kit_bundles") as batch:
        batch.drop_column("schedule_published")
        batch.drop_column("rules_evaluated_at")


def downgrade() -> None:
    """Put the columns back into `kit_bundles` with their values, drop the two tables."""
    with op.batch_alter_table("kit_bundles") as batch:
        batch.add_column(sa.Column("rules_evaluated_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("schedule_published", sa.String(64), nullable=True))
    for table in ("rules_cursors", "published_schedules"):
        op.execute(
            f"INSERT INTO kit_bundles (kit_id) SELECT kit_id FROM {table} "  # noqa: S608 - constant
            "WHERE kit_id NOT IN (SELECT kit_id FROM kit_bundles)"
        )
    op.execute(
        "UPDATE kit_bundles SET rules_evaluated_at = (SELECT evaluated_at FROM rules_cursors "
        "WHERE rules_cursors.kit_id = kit_bundles.kit_id)"
    )
    op.execute(
        "UPDATE kit_bundles SET schedule_published = (SELECT digest FROM published_schedules "
        "WHERE published_schedules.kit_id = kit_bundles.kit_id)"
    )
    op.drop_table("published_schedules")
    op.drop_table("rules_cursors")
