"""Which kit a client certificate speaks for, on the HTTP API (the throughput probe).

The TLS handshake has already checked that the certificate chains to the device CA and is
within its validity; here it must also be a kit's (a kit id as its common name, client
authentication only: the controller's and the broker's certificates serve TLS too), not revoked,
and its kit not lost, retired or returned.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.fleet import queries as fleet
from controller.trust.enrolment import REVOKING_LIFECYCLES
from controller.trust.tables import Certificate
from protocol.topics import is_valid_kit_id


def _usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    try:
        return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return set()


def kit_of(cert: x509.Certificate) -> str | None:
    """The kit id a certificate names, if it is a kit's certificate at all."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(names[0].value) if names else ""
    usages = _usages(cert)
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages or ExtendedKeyUsageOID.SERVER_AUTH in usages:
        return None
    return name if is_valid_kit_id(name) else None


def admitted_kit(session: Session, cert: x509.Certificate) -> str | None:
    """The kit this (CA-verified) certificate belongs to, or None if no kit may use it now."""
    kit_id = kit_of(cert)
    if kit_id is None:
        return None
    serial = format(cert.serial_number, "x")
    revoked = session.scalar(
        select(Certificate.revoked_at).where(
            Certificate.serial == serial, Certificate.revoked_at.is_not(None)
        )
    )
    if revoked is not None:
        return None
    kit = fleet.get_kit(session, kit_id=kit_id)
    if kit is not None and kit.lifecycle in REVOKING_LIFECYCLES:
        return None
    return kit_id
