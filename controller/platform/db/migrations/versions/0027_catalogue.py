"""Content: the catalogue (blobs once by sha256, resources, captions, full-text search).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import UTCDateTime

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_SEARCHED = "title, author, description, keywords, provider"


def upgrade() -> None:
    """Blobs, resources, captions; SQLite's FTS5 table (PostgreSQL: a GIN to_tsvector index)."""
    op.create_table(
        "content_blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(120), nullable=False),
        sa.Column("chunks", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "content_resources",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("author", sa.String(300), nullable=False),
        sa.Column("provider", sa.String(300), nullable=False),
        sa.Column("keywords", sa.String(1000), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("content_blobs.sha256"), nullable=False),
        sa.Column("entry", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("archived_at", UTCDateTime(), nullable=True),
    )
    op.create_index(
        "ix_content_resources_rubric", "content_resources", ["grade", "subject", "language"]
    )
    op.create_index("ix_content_resources_kind", "content_resources", ["kind"])
    op.create_index("ix_content_resources_sha256", "content_resources", ["sha256"])
    op.create_table(
        "content_captions",
        sa.Column(
            "resource_id",
            sa.String(32),
            sa.ForeignKey("content_resources.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("language", sa.String(2), primary_key=True),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("content_blobs.sha256"), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE content_search USING fts5(resource_id UNINDEXED, {_SEARCHED}, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
    elif op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_content_resources_fulltext ON content_resources USING GIN "
            "(to_tsvector('simple', title || ' ' || author || ' ' || description || ' ' || "
            "keywords || ' ' || provider))"
        )


def downgrade() -> None:
    """Drop them."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS content_search")
    elif op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_content_resources_fulltext")
    op.drop_table("content_captions")
    op.drop_index("ix_content_resources_sha256", table_name="content_resources")
    op.drop_index("ix_content_resources_kind", table_name="content_resources")
    op.drop_index("ix_content_resources_rubric", table_name="content_resources")
    op.drop_table("content_resources")
    op.drop_table("content_blobs")
