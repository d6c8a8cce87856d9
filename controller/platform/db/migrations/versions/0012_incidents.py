"""Incidents, their history, remediation commands and diagnostics.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import BigIntPK, JSONDoc, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The ladder's tables."""
    op.create_table(
        "incidents",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("costs_lessons", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("step", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("step_action", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("step_started", UTCDateTime(), nullable=False),
        sa.Column("deadline", UTCDateTime(), nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=True),
        sa.Column("wake_at", UTCDateTime(), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolution", sa.String(500), nullable=True),
        sa.Column("lesson_minutes_lost", sa.Float(), nullable=False, server_default="0"),
        sa.Column("ladder", JSONDoc(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    )
    op.create_index("ix_incidents_kit_open", "incidents", ["kit_id", "resolved_at"])
    op.create_index("ix_incidents_wake_at", "incidents", ["wake_at"])
    op.create_table(
        "incident_history",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.BigInteger(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", JSONDoc(), nullable=False),
    )
    op.create_index("ix_incident_history_incident_id", "incident_history", ["incident_id"])
    op.create_table(
        "remediation_commands",
        sa.Column("command_id", sa.String(64), primary_key=True),
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), sa.ForeignKey("incidents.id"), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("playbook", sa.String(64), nullable=False),
        sa.Column("disruptive", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("check", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("forced", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("result", JSONDoc(), nullable=True),
    )
    op.create_index("ix_remediation_commands_kit_id", "remediation_commands", ["kit_id"])
    op.create_index("ix_remediation_commands_state", "remediation_commands", ["state"])
    op.create_table(
        "rule_states",
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), primary_key=True),
        sa.Column("rule_id", sa.String(64), primary_key=True),
        sa.Column("pending_since", UTCDateTime(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_fired", UTCDateTime(), nullable=True),
        sa.Column("suppressed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "remediation_cursor",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "kit_bundles",
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), primary_key=True),
        sa.Column("accepted", sa.Integer(), nullable=True),
        sa.Column("sent", sa.Integer(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("refused_reason", sa.String(500), nullable=True),
        sa.Column("rules_evaluated_at", UTCDateTime(), nullable=True),
        sa.Column("schedule_published", sa.String(64), nullable=True),
    )
    op.create_table(
        "diagnostics",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), nullable=False),
        sa.Column("command_id", sa.String(64), nullable=True),
        sa.Column("requested_by", sa.String(64), nullable=True),
        sa.Column("requested_at", UTCDateTime(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_diagnostics_kit_id", "diagnostics", ["kit_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_diagnostics_kit_id", table_name="diagnostics")
    op.drop_table("diagnostics")
    op.drop_table("kit_bundles")
    op.drop_table("remediation_cursor")
    op.drop_table("rule_states")
    op.drop_index("ix_remediation_commands_state", table_name="remediation_commands")
    op.drop_index("ix_remediation_commands_kit_id", table_name="remediation_commands")
    op.drop_table("remediation_commands")
    op.drop_index("ix_incident_history_incident_id", table_name="incident_history")
    op.drop_table("incident_history")
    op.drop_index("ix_incidents_wake_at", table_name="incidents")
    op.drop_index("ix_incidents_kit_open", table_name="incidents")
    op.drop_table("incidents")
