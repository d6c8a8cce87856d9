"""The revocation list the broker checks, kept valid: signed again when its own dates say so.

A CRL past its nextUpdate makes the broker refuse every kit and the controller itself, so the
controller checks it at start-up (before it connects) and every housekeeping pass, and signs it
again whenever `crl_needs_refresh` says (less than half its validity left, at most 15 days),
deciding from the file and the wall clock, never from the monotonic clock (which counts from the
host's boot). At start-up it also signs it again if it does not list what the database revokes.
Its age and next update are metrics.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from controller.errors import PkiError
from controller.platform.metrics import Metrics
from controller.trust import enrolment as trust
from controller.trust import pki

_LOGGER = logging.getLogger(__name__)

RETRY_S = 60.0
"""After a failed attempt to sign the revocation list again, wait this long before the next."""


CRL_REFRESH_BEFORE = timedelta(days=15)
"""Sign a CRL again once less than this (or half its validity, if shorter) is left."""
CRL_WARN_BEFORE = timedelta(days=7)
"""A CRL this close to its nextUpdate, or past it, is a health problem: the broker refuses
every certificate (kits and the controller alike) once it has passed."""


@dataclass(frozen=True, slots=True)
class CrlTimes:
    """When a CRL was signed (thisUpdate) and when it stops being valid (nextUpdate)."""

    this_update: datetime
    next_update: datetime
    serials: frozenset[int] = frozenset()
    """The serials it revokes."""


def read_crl_times(paths: pki.PkiPaths) -> CrlTimes:
    """The thisUpdate and nextUpdate of the CRL in place, as the broker reads it."""
    try:
        crl = x509.load_pem_x509_crl(paths.crl.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(
            key="pki.crl_unreadable", params={"path": paths.crl, "detail": str(exc)}, domain="trust"
        ) from exc
    next_update = crl.next_update_utc
    if next_update is None:
        raise PkiError(key="pki.crl_no_next_update", params={"path": paths.crl}, domain="trust")
    return CrlTimes(
        this_update=crl.last_update_utc,
        next_update=next_update,
        serials=frozenset(revoked.serial_number for revoked in crl),
    )


def crl_needs_refresh(this_update: datetime, next_update: datetime, now: datetime) -> bool:
    """Whether a CRL valid from `this_update` to `next_update` should be signed again at `now`."""
    validity = next_update - this_update
    if validity <= timedelta(0) or now < this_update:
        return True  # malformed, or signed "in the future" (the clock went back): not valid now
    return next_update - now < min(validity / 2, CRL_REFRESH_BEFORE)


def crl_problem(times: CrlTimes, now: datetime) -> str | None:
    """What is wrong with a CRL's validity at `now`, in words for a person; None when fine."""
    until = f"{times.next_update:%Y-%m-%d %H:%M} UTC"
    if now >= times.next_update:
        return (
            f"the revocation list expired at {until}: the broker refuses every kit and the "
            "controller until the controller signs a new one (see its log)"
        )
    if now < times.this_update:
        return (
            f"the revocation list was signed at {times.this_update:%Y-%m-%d %H:%M} UTC, after "
            "this host's clock: the broker refuses every kit until it is signed again"
        )
    left = times.next_update - now
    if left < CRL_WARN_BEFORE:
        return (
            f"the revocation list expires in {_days_and_hours(left)} (at {until}) and has not "
            "been signed again: the broker will then refuse every kit (see the controller's log)"
        )
    return None


def _days_and_hours(span: timedelta) -> str:
    """A short span in words: '3 days 4 hours', '5 hours'."""
    hours = int(span.total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    parts = [f"{days} day{'s' * (days != 1)}"] if days else []
    return " ".join([*parts, f"{hours} hour{'s' * (hours != 1)}"])


def crl_check(paths: pki.PkiPaths, now: datetime) -> str:
    """'ok' while the CRL the broker checks stays valid for a while yet; else why it does not."""
    try:
        times = read_crl_times(paths)
    except PkiError as exc:
        return f"{exc}: the broker refuses every kit without a valid one"
    return crl_problem(times, now) or "ok"


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
        self._seen: tuple[int, int, int] | None = None
        self._cached: CrlTimes | None = None

    def keep_fresh(self, now: datetime, *, starting: bool = False) -> None:
        """Sign the CRL again when its own dates say so; show them in the metrics.

        `starting`: also when it does not list exactly the certificates the database revokes (a
        crash between a revocation's commit and its CRL). A CRL that is fine is left alone: each
        rewrite makes the broker reload, and Mosquitto 2.0.11 has been seen to crash on a reload
        while kits reconnect, so reloads stay as rare as the CRL allows.
        """
        times = self._times()
        due = (
            times is None
            or crl_needs_refresh(times.this_update, times.next_update, now)
            or (starting and times.serials != self._revoked(now))
        )
        if due and time.monotonic() >= self._retry_at:
            times = self._refresh(now) or times
        if times is not None:
            self._metrics.crl_age_seconds.set((now - times.this_update).total_seconds())
            self._metrics.crl_next_update.set(times.next_update.timestamp())

    def _times(self) -> CrlTimes | None:
        """The CRL's dates, read again only when the file changed (this runs every pass)."""
        try:
            stat = self._paths.crl.stat()
            seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            if seen != self._seen:
                self._seen, self._cached = seen, read_crl_times(self._paths)
        except (OSError, PkiError) as exc:  # missing or unreadable: sign a new one
            _LOGGER.debug("%s", exc)
            self._seen, self._cached = None, None
        return self._cached

    def _revoked(self, now: datetime) -> frozenset[int]:
        try:
            with self._sessions() as session:
                return frozenset(serial for serial, _ in trust.revocations(session, now=now))
        except SQLAlchemyError:
            _LOGGER.exception("cannot read the revoked certificates")
            return frozenset()

    def _refresh(self, now: datetime) -> CrlTimes | None:
        """Rewrite the CRL from the database and make the broker reload it; its new dates."""
        try:
            with self._sessions.begin() as session:
                told = trust.publish_revocations(
                    session, paths=self._paths, broker_dir=self._broker_dir, now=now
                )
            times = read_crl_times(self._paths)
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
