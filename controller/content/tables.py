"""The catalogue's tables: blobs stored once by sha256, resources, captions (migration 0027).

A blob is a file's bytes, named by their sha256 and kept once under `settings.content_dir`
(`blobstore.py`), however many resources hold it. A resource is the catalogue's record of one
digital educational resource: its metadata (the rubricator's grade, subject, language, kind, and
the searched title, author, description, keywords, provider), its main blob and, for audio and
video, WebVTT captions per language. Archived resources stay (a kit may still hold them) but are
neither found nor assigned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controller.platform.db.base import Base
from controller.platform.db.types import JSONDoc


class ContentBlob(Base):
    """A file's bytes, stored once: its size, sniffed media type and FastCDC chunks."""

    __tablename__ = "content_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(120))
    chunks: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    """`[{"length": n, "sha256": h}, ...]` in order; empty for a blob fetched whole."""
    created_at: Mapped[datetime]


class ContentResource(Base):
    """One resource of the catalogue with its metadata and main blob."""

    __tablename__ = "content_resources"
    __table_args__ = (
        Index("ix_content_resources_rubric", "grade", "subject", "language"),
        Index("ix_content_resources_kind", "kind"),
        Index("ix_content_resources_sha256", "sha256"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(200))
    grade: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(2))
    author: Mapped[str] = mapped_column(String(300), default="")
    provider: Mapped[str] = mapped_column(String(300), default="")
    keywords: Mapped[str] = mapped_column(String(1000), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), ForeignKey("content_blobs.sha256"))
    entry: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
    archived_at: Mapped[datetime | None]


class ContentCaption(Base):
    """A WebVTT captions file of an audio or video resource, one per language."""

    __tablename__ = "content_captions"

    resource_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("content_resources.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(2), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), ForeignKey("content_blobs.sha256"))


SEARCH_TABLE = "content_search"
"""SQLite's FTS5 table over the searched columns, one row per resource (`search.py` keeps it)."""
