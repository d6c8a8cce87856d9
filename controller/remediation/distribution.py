"""Handing the signed playbook bundle to kits: who has which version, resending what went astray."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from controller.remediation import fleet_reads
from controller.remediation.outgoing import Outgoing
from controller.remediation.playbooks import Bundle
from controller.remediation.tables import KitBundle
from protocol.commands import CommandKind
from protocol.models import Command, new_msg_id

BUNDLE_RESEND = timedelta(minutes=10)
"""A bundle sent to a kit that has not accepted it is sent again after this."""
BUNDLE_LIFETIME = timedelta(days=7)
KITS_PER_SWEEP = 200
"""Kits behind the current bundle caught up by one sweep (the rest at the next)."""


def kit_bundle(session: Session, kit_id: str) -> KitBundle:
    """The kit's row of which bundle it has, made on first use."""
    row = session.get(KitBundle, kit_id)
    if row is None:
        row = KitBundle(kit_id=kit_id)
        session.add(row)
    return row


class Distribution:
    """Sends the controller's bundle to the kits that do not have it yet."""

    def __init__(self, bundle: Bundle | None) -> None:
        self._bundle = bundle

    def ensure(self, session: Session, out: Outgoing, kit_id: str, now: datetime) -> None:
        """Send the bundle to the kit unless it has it, or it was sent a moment ago."""
        bundle = self._bundle
        if bundle is None or bundle.install_args is None:
            return
        row = kit_bundle(session, kit_id)
        if row.accepted is not None and row.accepted >= bundle.version:
            return
        recently = row.sent_at is not None and now - row.sent_at < BUNDLE_RESEND
        if row.sent == bundle.version and recently:
            return
        out.commands.append(
            (
                kit_id,
                Command(
                    kind=CommandKind.INSTALL_BUNDLE.value,
                    expires_at=now + BUNDLE_LIFETIME,
                    args=bundle.install_args,
                ),
                new_msg_id(),
            )
        )
        row.sent, row.sent_at = bundle.version, now

    def catch_up(self, session: Session, out: Outgoing, now: datetime) -> None:
        """Send the bundle to agents online with an older one (the controller got a new one)."""
        bundle = self._bundle
        if bundle is None or bundle.install_args is None:
            return
        behind = fleet_reads.online_kits_behind(
            session, version=bundle.version, limit=KITS_PER_SWEEP
        )
        for kit_id in behind:
            self.ensure(session, out, kit_id, now)

    @staticmethod
    def installed(session: Session, kit_id: str, version: int) -> None:
        """The kit verified and installed `version`."""
        row = kit_bundle(session, kit_id)
        row.accepted = version
        row.refused_reason = None

    @staticmethod
    def refused(session: Session, kit_id: str, reason: str) -> None:
        """The kit refused the bundle sent to it, saying why."""
        kit_bundle(session, kit_id).refused_reason = reason[:500]

    def back_online(
        self, session: Session, out: Outgoing, kit_id: str, reported: int | None, now: datetime
    ) -> None:
        """The agent is back and says which bundle it has (None: nothing usable)."""
        row = kit_bundle(session, kit_id)
        if reported is not None:
            row.accepted = reported
        self.ensure(session, out, kit_id, now)
