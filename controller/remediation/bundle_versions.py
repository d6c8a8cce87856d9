"""Bundle versions in the database: what was built, and the highest version kits may have seen.

The bundle directory (`var/bundles`) keeps the signed bytes; the database keeps, per version
built, the SHA-256 of those bytes and the fingerprint of the key that signed them
(`bundle_builds`, migration 0015), and which version each kit was sent and accepted
(`kit_bundles`). `highest_seen` is the floor a new build must go above: a controller whose bundle
directory is lost never reuses or lowers a version a kit has seen (kits refuse both).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from controller.platform.db.base import Base
from controller.remediation.bundles import SignedBundle
from controller.remediation.tables import KitBundle
from protocol.bundle import sha256


class BundleBuild(Base):
    """One bundle version the controller built: its bytes' hash, the key that signed it."""

    __tablename__ = "bundle_builds"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(String(64))
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime]


def highest_seen(session: Session) -> int:
    """The highest bundle version built, sent to or accepted by any kit (0: none)."""
    built = session.scalar(select(func.max(BundleBuild.version)))
    sent = session.scalar(select(func.max(KitBundle.sent)))
    accepted = session.scalar(select(func.max(KitBundle.accepted)))
    return max(v or 0 for v in (built, sent, accepted))


def record_build(
    session: Session, bundle: SignedBundle, key_fingerprint: str, now: datetime
) -> None:
    """Remember a built version (once; the first record of a version stands)."""
    if session.get(BundleBuild, bundle.version) is None:
        session.add(
            BundleBuild(
                version=bundle.version,
                sha256=sha256(bundle.data),
                key_fingerprint=key_fingerprint,
                built_at=now,
            )
        )
