"""Schedules: import bounds (issue 12).

A placeholder reserved so that parallel work keeps one linear history.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
