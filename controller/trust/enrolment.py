"""Device trust: enrolment tokens, enrolment, renewal, revocation, the CRL and the broker's ACL.

Keyword-only functions over a Session and the CA's files; errors are `TrustError` with a kind
and the HTTP status that follows from it. Only hashes of token secrets are stored, and only the
public part of kit certificates.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from common import pem
from controller.config import ControllerSettings
from controller.content import keys as content_keys
from controller.errors import ControllerError, NotFoundError, PkiError
from controller.fleet import queries as fleet
from controller.fleet import service as fleet_service
from controller.platform import audit
from controller.remediation import bundles
from controller.trust import broker, pki
from controller.trust.schemas import EnrollResponse
from controller.trust.tables import Certificate, EnrollToken
from protocol.topics import is_valid_kit_id

_LOGGER = logging.getLogger(__name__)

PIN_LENGTH = 32
REVOKING_LIFECYCLES = frozenset({"lost", "retired", "returned"})
LIFECYCLES = frozenset({"active", "in_repair"}) | REVOKING_LIFECYCLES
"""active: in service or on loan; in_repair: at the workshop, keeps its identity; returned: back
in stock (its certificate is revoked until it is enrolled again); retired; lost."""


class TrustErrorKind(StrEnum):
    """Why a trust operation was refused."""

    UNKNOWN_TOKEN = "unknown_token"  # noqa: S105 - a reason, not a secret
    TOKEN_USED = "token_used"  # noqa: S105
    TOKEN_EXPIRED = "token_expired"  # noqa: S105
    KIT_REVOKED = "kit_revoked"
    BAD_REQUEST = "bad_request"
    UNKNOWN_KIT = "unknown_kit"
    RENEWAL_LIMIT = "renewal_limit"


STATUS_OF_KIND: dict[TrustErrorKind, int] = {
    TrustErrorKind.UNKNOWN_TOKEN: 401,
    TrustErrorKind.TOKEN_USED: 409,
    TrustErrorKind.TOKEN_EXPIRED: 410,
    TrustErrorKind.KIT_REVOKED: 403,
    TrustErrorKind.BAD_REQUEST: 422,
    TrustErrorKind.UNKNOWN_KIT: 404,
    TrustErrorKind.RENEWAL_LIMIT: 429,
}
"""The HTTP status of a refusal, by its kind."""


RENEWALS_PER_DAY = 3
"""Renewals a kit may ask for in any 24 hours: an agent asks once an hour until it gets an
answer, a hostile one would otherwise mint a certificate a second."""
RENEWAL_WINDOW = timedelta(days=1)
CRL_KEEPS_EXPIRED = timedelta(days=1)
"""A revoked certificate leaves the CRL this long after its notAfter: the broker refuses it as
expired by then, even with a clock a little behind the controller's."""


class TrustError(ControllerError):
    """A trust operation refused, with the reason in words; its status follows its kind.

    `key` (+ `params`) is the reason in the trust catalogue (`refused.*`): its message is the
    English text, and the answer carries it in kk, ru and en (`messages`)."""

    domain = "trust"

    def __init__(
        self,
        kind: TrustErrorKind,
        key: str,
        /,
        *,
        retry_at: datetime | None = None,
        params: Mapping[str, object] | None = None,
        domain: str | None = None,
    ) -> None:
        super().__init__(key=key, params=params, domain=domain)
        self.kind = kind
        self.status = STATUS_OF_KIND[kind]
        self.retry_at = retry_at
        """For RENEWAL_LIMIT: the first moment another request would be accepted."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A one-time enrolment token as handed to a technician, and the instant it stops working."""

    text: str
    expires_at: datetime


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_expiry(now: datetime, ttl: timedelta) -> datetime:
    """When a token made at `now` for `ttl` expires, cut to the whole second before.

    Whole seconds make the instant shown to people (to the second) the instant enforced.
    """
    return (now + ttl).replace(microsecond=0)


def token_expired(expires_at: datetime, now: datetime) -> bool:
    """Whether a token is refused at `now`: from its expiry instant on, not a microsecond later."""
    return now >= expires_at


def instant(moment: datetime) -> str:
    """A moment as people see it in messages: UTC, to the second."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _bad_request(exc: PkiError) -> TrustError:
    """A CSR the device CA refused, for the kit that sent it (its reason in words)."""
    if exc.message_key is None:
        return TrustError(TrustErrorKind.BAD_REQUEST, "refused.csr", params={"detail": str(exc)})
    return TrustError(
        TrustErrorKind.BAD_REQUEST, exc.message_key, params=exc.message_params, domain=exc.domain
    )


def ensure_kit(session: Session, kit_id: str) -> fleet_service.Kit:
    """The kit with this id, created (active, never seen) if it is not known yet."""
    if not is_valid_kit_id(kit_id):
        raise TrustError(TrustErrorKind.BAD_REQUEST, "refused.kit_id", params={"kit": repr(kit_id)})
    return fleet_service.ensure_kit(session, kit_id)


def create_token(
    session: Session,
    *,
    kit_id: str,
    paths: pki.PkiPaths,
    now: datetime,
    ttl: timedelta,
    actor: str = "system",
) -> IssuedToken:
    """Make a one-time enrolment token `<kit id>:<secret>:<CA pin>`; only its hash is stored."""
    _, ca_cert = pki.load_ca(paths)
    kit = ensure_kit(session, kit_id)
    if kit.lifecycle in REVOKING_LIFECYCLES:
        raise TrustError(
            TrustErrorKind.KIT_REVOKED,
            "refused.token_for_revoked",
            params={"kit": kit_id, "lifecycle": kit.lifecycle},
        )
    secret = secrets.token_urlsafe(24)
    expires_at = token_expiry(now, ttl)
    session.add(
        EnrollToken(kit_id=kit_id, secret_hash=_hash(secret), created_at=now, expires_at=expires_at)
    )
    audit.record(
        session,
        actor=actor,
        action="enroll_token_created",
        entity="kit",
        entity_id=kit_id,
        now=now,
        after={"expires_at": expires_at.isoformat()},
    )
    return IssuedToken(f"{kit_id}:{secret}:{pki.fingerprint(ca_cert)[:PIN_LENGTH]}", expires_at)


def latest_certificate(session: Session, kit_id: str) -> Certificate | None:
    """The certificate issued to a kit last (enrolment or renewal), revoked or not."""
    return session.scalars(
        select(Certificate)
        .where(Certificate.kit_id == kit_id)
        .order_by(Certificate.issued_at.desc())
        .limit(1)
    ).first()


class Enrolment(NamedTuple):
    """What an enrolment issued: the kit, its certificate, and the serials it superseded."""

    kit_id: str
    certificate_pem: bytes
    superseded: list[str]


def _record(
    session: Session, *, kit_id: str, cert: x509.Certificate, now: datetime, via: str
) -> None:
    session.add(
        Certificate(
            serial=format(cert.serial_number, "x"),
            kit_id=kit_id,
            fingerprint=pki.fingerprint(cert),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            issued_at=now,
            issued_via=via,
        )
    )


def enroll(
    session: Session,
    *,
    token: str,
    csr_pem: str,
    paths: pki.PkiPaths,
    now: datetime,
    days: int,
) -> Enrolment:
    """Spend a token on a CSR for a new certificate; nothing is issued on refusal.

    The kit's earlier certificates still valid are revoked ("superseded"): one kit, one live
    identity, so a copy of an old key (a re-imaged disk, a kit back from repair) is worth
    nothing. The caller publishes the CRL when `superseded` is not empty.
    """
    parts = token.strip().split(":")
    if len(parts) != 3 or not all(parts):
        raise TrustError(TrustErrorKind.UNKNOWN_TOKEN, "refused.unknown_token")
    kit_id, secret, _ = parts
    row = session.scalar(
        select(EnrollToken).where(
            EnrollToken.secret_hash == _hash(secret), EnrollToken.kit_id == kit_id
        )
    )
    if row is None:
        raise TrustError(TrustErrorKind.UNKNOWN_TOKEN, "refused.unknown_token")
    if row.used_at is not None:
        raise TrustError(
            TrustErrorKind.TOKEN_USED, "refused.token_used_at", params={"at": instant(row.used_at)}
        )
    if token_expired(row.expires_at, now):
        raise TrustError(
            TrustErrorKind.TOKEN_EXPIRED,
            "refused.token_expired",
            params={"at": instant(row.expires_at)},
        )
    kit = ensure_kit(session, kit_id)
    if kit.lifecycle in REVOKING_LIFECYCLES:
        raise TrustError(
            TrustErrorKind.KIT_REVOKED,
            "refused.kit_marked",
            params={"kit": kit_id, "lifecycle": kit.lifecycle},
        )
    try:
        cert = pki.sign_csr(paths, csr_pem.encode(), kit_id=kit_id, now=now, days=days)
    except PkiError as exc:
        raise _bad_request(exc) from exc
    # One-time: only the request that flips used_at from NULL gets the certificate.
    spent = session.execute(
        update(EnrollToken)
        .where(EnrollToken.id == row.id, EnrollToken.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise TrustError(TrustErrorKind.TOKEN_USED, "refused.token_used")
    superseded = _supersede(session, kit_id=kit_id, now=now)
    _record(session, kit_id=kit_id, cert=cert, now=now, via="enroll")
    audit.record(
        session,
        actor=f"kit:{kit_id}",
        action="enrolled",
        entity="kit",
        entity_id=kit_id,
        now=now,
        after={"serial": format(cert.serial_number, "x"), "superseded": superseded},
    )
    _LOGGER.info("kit %s enrolled, certificate %x", kit_id, cert.serial_number)
    return Enrolment(kit_id, pki.pem(cert), superseded)


def _supersede(
    session: Session, *, kit_id: str, now: datetime, keep: str | None = None
) -> list[str]:
    """Revoke the kit's certificates that are still valid (but `keep`); their serials."""
    live = session.scalars(
        select(Certificate).where(
            Certificate.kit_id == kit_id,
            Certificate.revoked_at.is_(None),
            Certificate.not_after >= now,  # valid up to and at its notAfter
            Certificate.serial != (keep or ""),
        )
    ).all()
    for cert in live:
        cert.revoked_at = now
        cert.revoke_reason = "superseded"
    if live:
        _LOGGER.warning("kit %s: %d earlier certificates superseded", kit_id, len(live))
    return [c.serial for c in live]


class Renewal(NamedTuple):
    """What a renewal issued: the certificate, and the serials it superseded."""

    certificate_pem: bytes
    superseded: list[str]


def renew(
    session: Session,
    *,
    kit_id: str,
    csr_pem: str,
    paths: pki.PkiPaths,
    now: datetime,
    days: int,
    current_serial: str | None = None,
    per_day: int = RENEWALS_PER_DAY,
) -> Renewal:
    """Issue a fresh certificate to a kit that asked over its own authenticated MQTT channel.

    At most `per_day` in any 24 hours (TrustError RENEWAL_LIMIT with `retry_at`). The kit's
    other certificates still valid are revoked ("superseded"), except the one it says it is
    using (`current_serial`, if it is the kit's and still valid): the new certificate reaches
    the kit as a command over that connection, and a kit that misses it must still be able to
    connect and ask again. That one is superseded at the next renewal or enrolment.
    """
    kit = fleet.get_kit(session, kit_id=kit_id)
    if kit is None or kit.lifecycle in REVOKING_LIFECYCLES:
        raise TrustError(
            TrustErrorKind.KIT_REVOKED, "refused.may_not_renew", params={"kit": kit_id}
        )
    _check_renewal_limit(session, kit_id=kit_id, now=now, per_day=per_day)
    try:
        cert = pki.sign_csr(paths, csr_pem.encode(), kit_id=kit_id, now=now, days=days)
    except PkiError as exc:
        raise _bad_request(exc) from exc
    superseded = _supersede(session, kit_id=kit_id, now=now, keep=current_serial)
    _record(session, kit_id=kit_id, cert=cert, now=now, via="renew")
    audit.record(
        session,
        actor=f"kit:{kit_id}",
        action="certificate_renewed",
        entity="kit",
        entity_id=kit_id,
        now=now,
        after={"serial": format(cert.serial_number, "x"), "superseded": superseded},
    )
    _LOGGER.info("kit %s renewed, certificate %x", kit_id, cert.serial_number)
    return Renewal(pki.pem(cert), superseded)


def _check_renewal_limit(session: Session, *, kit_id: str, now: datetime, per_day: int) -> None:
    """Refuse a renewal beyond `per_day` in the last 24 hours, saying when to ask again."""
    recent = session.scalars(
        select(Certificate.issued_at)
        .where(
            Certificate.kit_id == kit_id,
            Certificate.issued_via == "renew",
            Certificate.issued_at > now - RENEWAL_WINDOW,
        )
        .order_by(Certificate.issued_at)
    ).all()
    if len(recent) < per_day:
        return
    retry_at = recent[len(recent) - per_day] + RENEWAL_WINDOW
    raise TrustError(
        TrustErrorKind.RENEWAL_LIMIT,
        "refused.renewal_limit",
        retry_at=retry_at,
        params={"kit": kit_id, "count": len(recent), "limit": per_day, "at": instant(retry_at)},
    )


def renew_kit(
    sessions: sessionmaker[Session],
    *,
    kit_id: str,
    data: dict[str, object],
    settings: ControllerSettings,
    now: datetime,
) -> bytes:
    """Renew (see `renew`) from a `cert_renew_request` event's data and commit; publish the CRL
    when earlier certificates were superseded. The new certificate (PEM)."""
    paths = pki.PkiPaths(settings.pki_dir)
    serial = data.get("serial")
    with sessions.begin() as session:
        renewal = renew(
            session,
            kit_id=kit_id,
            csr_pem=str(data.get("csr_pem", "")),
            paths=paths,
            now=now,
            days=settings.cert_days,
            current_serial=serial.lower() if isinstance(serial, str) else None,
        )
    if renewal.superseded:
        with sessions.begin() as session:
            publish_revocations(session, paths=paths, broker_dir=settings.broker_dir, now=now)
    return renewal.certificate_pem


def set_lifecycle(
    session: Session, *, kit_id: str, lifecycle: str, now: datetime, actor: str = "system"
) -> list[str]:
    """Mark a known kit; lost, retired or returned revokes its certificates. Revoked serials.

    A kit id nobody recorded (a typo) is refused, never created on the side: kits come from
    enrolment tokens and the kits CSV.
    """
    if lifecycle not in LIFECYCLES:
        raise TrustError(
            TrustErrorKind.BAD_REQUEST,
            "refused.lifecycle",
            params={"lifecycle": repr(lifecycle), "accepted": ", ".join(sorted(LIFECYCLES))},
        )
    kit = fleet.get_kit(session, kit_id=kit_id)
    if kit is None:
        raise TrustError(
            TrustErrorKind.UNKNOWN_KIT, "refused.unknown_kit", params={"kit": repr(kit_id)}
        )
    before = kit.lifecycle
    kit.lifecycle = lifecycle
    audit.record(
        session,
        actor=actor,
        action="lifecycle_changed",
        entity="kit",
        entity_id=kit_id,
        now=now,
        before={"lifecycle": before},
        after={"lifecycle": lifecycle},
    )
    if lifecycle not in REVOKING_LIFECYCLES:
        return []
    certs = session.scalars(
        select(Certificate).where(Certificate.kit_id == kit_id, Certificate.revoked_at.is_(None))
    ).all()
    for cert in certs:
        cert.revoked_at = now
        cert.revoke_reason = lifecycle
    _LOGGER.warning("kit %s marked %s: %d certificates revoked", kit_id, lifecycle, len(certs))
    return [c.serial for c in certs]


def revoked_kits(session: Session) -> list[str]:
    """Kits whose every right on the broker is withdrawn."""
    return fleet.kit_ids_in(session, lifecycles=REVOKING_LIFECYCLES)


def revocations(session: Session, *, now: datetime) -> list[tuple[int, datetime]]:
    """The revoked kit certificates the CRL lists at `now`: (serial, when it was revoked).

    Pruned: a certificate expired more than CRL_KEEPS_EXPIRED ago is refused as expired, so
    the list grows with the kits, not with every renewal ever made.
    """
    return [
        (int(serial, 16), at)
        for serial, at in session.execute(
            select(Certificate.serial, Certificate.revoked_at).where(
                Certificate.revoked_at.is_not(None),
                Certificate.not_after >= now - CRL_KEEPS_EXPIRED,
            )
        )
        if at is not None
    ]


def publish_revocations(
    session: Session, *, paths: pki.PkiPaths, broker_dir: Path, now: datetime
) -> bool:
    """Rewrite the CRL and the broker's ACL, then make the broker reload; True if it was told."""
    pki.write_crl(paths, revocations(session, now=now), now=now)
    if (broker_dir / broker.ACL_FILE).exists():
        broker.write_acl(broker_dir, revoked_kits=revoked_kits(session))
    return reload_broker(broker_dir)


def reload_broker(broker_dir: Path) -> bool:
    """SIGHUP the broker whose pid file is in `broker_dir` (it re-reads its CRL and ACL)."""
    pid_file = broker_dir / broker.PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        _LOGGER.warning("could not make the broker reload (%s): %s", pid_file, exc)
        return False
    _LOGGER.info("broker %d told to reload its CRL and ACL", pid)
    return True


def ca_certificate(paths: pki.PkiPaths) -> bytes:
    """The device CA's certificate (PEM, public); NotFoundError when there is no device CA."""
    if not paths.exists():
        raise NotFoundError(key="refused.no_ca", domain="trust")
    return paths.ca_cert.read_bytes()


def enroll_kit(
    session: Session, *, token: str, csr_pem: str, settings: ControllerSettings, now: datetime
) -> EnrollResponse:
    """Enrol a kit (see `enroll`) and commit; what it needs to reach its broker and trust bundles.

    Once committed, the CRL is published if earlier certificates were superseded, so the kit's
    old identity stops working at once.
    """
    paths = pki.PkiPaths(settings.pki_dir)
    if not paths.exists():
        raise PkiError(key="refused.no_ca", domain="trust")
    with session.begin():
        kit_id, cert_pem, superseded = enroll(
            session, token=token, csr_pem=csr_pem, paths=paths, now=now, days=settings.cert_days
        )
    if superseded:
        with session.begin():
            publish_revocations(session, paths=paths, broker_dir=settings.broker_dir, now=now)
    try:  # playbook bundles: the kit learns whose signature to trust (made once if missing)
        bundle_key = bundles.public_key_pem(bundles.ensure_signing_key(paths.bundle_key))
    except bundles.BundleBuildError:
        _LOGGER.exception("no bundle signing key: kit %s will refuse every bundle", kit_id)
        bundle_key = None
    try:  # content manifests: signed by a key of their own (controller/content/keys.py)
        content_key: bytes | None = content_keys.public_pem(settings.pki_dir)
    except ControllerError:
        _LOGGER.exception("no content signing key: kit %s will refuse every manifest", kit_id)
        content_key = None
    return EnrollResponse(
        kit_id=kit_id,
        certificate_pem=cert_pem.decode(),
        ca_pem=paths.ca_cert.read_text(encoding="ascii"),
        not_after=pem.parse_certificate(cert_pem, "the kit's new certificate").not_valid_after_utc,
        mqtt_host=settings.public_mqtt_host or settings.mqtt_host,
        mqtt_port=settings.public_mqtt_port or settings.mqtt_port,
        bundle_key_pem=bundle_key.decode("ascii") if bundle_key else None,
        content_key_pem=content_key.decode("ascii") if content_key else None,
    )
