"""A kit's lifecycle as the loans change it, and the revocation that follows.

A kit reported lost under its contract, or imported with the status lost, retired or returned,
loses its identity the same way whatever the path (the API, the command line, a CSV import): its
certificates are revoked (`controller.trust.enrolment.set_lifecycle`, audited), then the CRL and
the broker's ACL are written again and the broker told to reload (`Revocations.publish`), before
the caller commits, as `kitkeeper-controller kit mark` does. A revocation whose publication
fails is not committed; one committed but not published (a crash between the two) is made good
when the controller starts (`controller.trust.crl`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from controller.config import ControllerSettings
from controller.trust import enrolment as trust
from controller.trust import pki


@dataclass(frozen=True)
class Revocations:
    """Where a revocation is published: the device CA (its CRL) and the broker (ACL, reload)."""

    pki_dir: Path
    broker_dir: Path

    @classmethod
    def of(cls, settings: ControllerSettings) -> Revocations:
        """The device CA and the broker of this controller's configuration."""
        return cls(pki_dir=settings.pki_dir, broker_dir=settings.broker_dir)

    def publish(self, session: Session, *, now: datetime) -> bool:
        """Write the CRL and the ACL from `session`; True if the broker was told to reload."""
        return trust.publish_revocations(
            session, paths=pki.PkiPaths(self.pki_dir), broker_dir=self.broker_dir, now=now
        )


def mark_lost(
    session: Session, *, kit_id: str, revocations: Revocations, actor: str, now: datetime
) -> list[str]:
    """Mark a kit lost (audited), revoke its certificates and publish; the revoked serials."""
    serials = trust.set_lifecycle(session, kit_id=kit_id, lifecycle="lost", now=now, actor=actor)
    revocations.publish(session, now=now)
    return serials


def set_status(session: Session, *, kit_id: str, status: str, actor: str, now: datetime) -> bool:
    """Give a kit (created if new) the lifecycle `status` if it has another one; audited.

    Lost, retired and returned revoke its certificates. True when the change enters or leaves one
    of those: the caller publishes (`Revocations.publish`) once, before it commits.
    """
    before = trust.ensure_kit(session, kit_id).lifecycle
    if before == status:
        return False
    trust.set_lifecycle(session, kit_id=kit_id, lifecycle=status, now=now, actor=actor)
    return bool({before, status} & trust.REVOKING_LIFECYCLES)
