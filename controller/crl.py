"""The revocation list the broker checks, kept valid: signed again when its own dates say so.

A CRL past its nextUpdate makes the broker refuse every kit and the controller itself, so the
controller checks it at start-up (before it connects) and every housekeeping pass, and signs it
again whenever `pki.crl_needs_refresh` says (less than half its validity left, at most 15 days),
deciding from the file and the wall clock, never from the monotonic clock (which counts from the
host's boot). At start-up it also signs it again if it does not list what the database revokes.
Its age and next update are metrics.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from controller import pki, trust
from controller.errors import PkiError
from controller.metrics import Metrics

_LOGGER = logging.getLogger(__name__)

RETRY_S = 60.0
"""After a failed attempt to sign the revocation list again, wait this long before the next."""


class CrlKeeper:
    """Signs the CRL again in time and shows its dates; one per controller process."""

    def __init__(
        self,
        *,
        paths: pki.PkiPaths,
        sessions: sessionmaker[Session],
        broker_dir: Path,
        metrics: Metrics,
    ) -> None:
        self._paths = paths
        self._sessions = sessions
        self._broker_dir = broker_dir
        self._metrics = metrics
        self._retry_at = 0.0

    def keep_fresh(self, now: datetime, *, starting: bool = False) -> None:
        """Sign the CRL again when its own dates say so; show them in the metrics.

        `starting`: also when it does not list exactly the certificates the database revokes (a
        crash between a revocation's commit and its CRL). A CRL that is fine is left alone: each
        rewrite makes the broker reload, and Mosquitto 2.0.11 has been seen to crash on a reload
        while kits reconnect, so reloads stay as rare as the CRL allows.
        """
        try:
            times: pki.CrlTimes | None = pki.read_crl_times(self._paths)
        except PkiError as exc:  # missing or unreadable: sign a new one
            _LOGGER.debug("%s", exc)
            times = None
        due = (
            times is None
            or pki.crl_needs_refresh(times.this_update, times.next_update, now)
            or (starting and times.serials != self._revoked())
        )
        if due and time.monotonic() >= self._retry_at:
            times = self._refresh(now) or times
        if times is not None:
            self._metrics.crl_age_seconds.set((now - times.this_update).total_seconds())
            self._metrics.crl_next_update.set(times.next_update.timestamp())

    def _revoked(self) -> frozenset[int]:
        try:
            with self._sessions() as session:
                return frozenset(serial for serial, _ in trust.revocations(session))
        except SQLAlchemyError:
            _LOGGER.exception("cannot read the revoked certificates")
            return frozenset()

    def _refresh(self, now: datetime) -> pki.CrlTimes | None:
        """Rewrite the CRL from the database and make the broker reload it; its new dates."""
        try:
            with self._sessions.begin() as session:
                told = trust.publish_revocations(
                    session, paths=self._paths, broker_dir=self._broker_dir, now=now
                )
            times = pki.read_crl_times(self._paths)
        except (SQLAlchemyError, PkiError, OSError):
            self._retry_at = time.monotonic() + RETRY_S
            _LOGGER.exception(
                "cannot sign the revocation list again; trying again in %.0fs", RETRY_S
            )
            return None
        _LOGGER.info(
            "revocation list signed again, valid until %s%s",
            times.next_update.isoformat(),
            "" if told else " (the broker was not told to reload it)",
        )
        return times
