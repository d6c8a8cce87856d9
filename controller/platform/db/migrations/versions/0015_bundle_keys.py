"""Bundles: versions kept in the database, signing key rotation (issue 12).

A placeholder reserved so that parallel work keeps one linear history.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
