"""Each kit's signed manifests (the last few versions) and the content events read so far (0028)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from controller.platform.db.base import Base
from controller.platform.db.types import BigIntPK, JSONDoc


class IssuedManifest(Base):
    """One signed manifest as sent: its version, digest, bytes and the blobs it names."""

    __tablename__ = "content_manifests"
    __table_args__ = (UniqueConstraint("kit_id", "version", name="uq_content_manifests_version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kit_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    """Of the signed document's bytes (what the pointer names)."""
    content_digest: Mapped[str] = mapped_column(String(64))
    """Of the manifest without its version and times: a new version only when this changes."""
    document: Mapped[bytes] = mapped_column(LargeBinary)
    blobs: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ContentCursor(Base):
    """How far the content events have been read (by the stored events' id)."""

    __tablename__ = "content_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
