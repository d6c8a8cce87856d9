"""The controller's device CA: issues kit, broker and controller certificates and the CRL.

Pure cryptography and files: no database, no network, no clock reads (every `now` comes from the
caller, timezone-aware). Private keys are ECDSA P-256, written unencrypted in PKCS8 PEM with mode
0600 from the moment they exist; the directory holding them is 0700.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from common.files import PRIVATE_MODE, PUBLIC_MODE, write_atomic
from common.pem import PemError, load_certificate, load_private_key
from controller.errors import PkiError
from controller.remediation.bundles import BundleBuildError, ensure_signing_key
from protocol.topics import SHARE_GROUP, is_valid_kit_id

_LOGGER = logging.getLogger(__name__)

CONTROLLER_CN = "controller@kitkeeper"
"""The controller's certificate CN; '@' can never be in a kit id, so no kit can impersonate it."""

CA_COMMON_NAME = "kitkeeper device CA"
ORGANIZATION = "kitkeeper"
CLOCK_SKEW = timedelta(minutes=5)
"""How far back a new certificate's validity starts, for kits whose clock runs a little late."""

CRL_DAYS = 30
"""How long a CRL is valid: its nextUpdate is this many days after its thisUpdate."""
_DIR_MODE = 0o700


@dataclass(frozen=True, slots=True)
class PkiPaths:
    """Where the files of one device CA live."""

    root: Path

    @property
    def ca_key(self) -> Path:
        """The CA's private key."""
        return self.root / "ca.key"

    @property
    def ca_cert(self) -> Path:
        """The CA's self-signed certificate (what kits and the broker trust)."""
        return self.root / "ca.crt"

    @property
    def crl(self) -> Path:
        """The certificate revocation list the broker checks clients against."""
        return self.root / "crl.pem"

    @property
    def broker_key(self) -> Path:
        """The broker's TLS private key."""
        return self.root / "broker.key"

    @property
    def broker_cert(self) -> Path:
        """The broker's TLS server certificate."""
        return self.root / "broker.crt"

    @property
    def controller_key(self) -> Path:
        """The controller's private key (HTTPS server and MQTT client)."""
        return self.root / "controller.key"

    @property
    def controller_cert(self) -> Path:
        """The controller's certificate (HTTPS server and MQTT client)."""
        return self.root / "controller.crt"

    # --- playbook bundles (controller/remediation/bundles.py)

    @property
    def bundle_key(self) -> Path:
        """The Ed25519 key that signs playbook bundles."""
        return self.root / "bundle-signing.key"

    @property
    def bundle_public_key(self) -> Path:
        """Its public half, handed to kits at enrolment."""
        return self.root / "bundle-signing.pub"

    # --- end of playbook bundles ------------------------------------------------------------

    def exists(self) -> bool:
        """True when the CA's key and certificate both exist."""
        return self.ca_key.exists() and self.ca_cert.exists()


def init_pki(
    root: Path,
    *,
    hosts: list[str],
    now: datetime,
    ca_days: int = 3650,
    server_days: int = 825,
) -> PkiPaths:
    """Create a device CA in `root`, with broker and controller certificates and an empty CRL."""
    paths = PkiPaths(root)
    if paths.ca_key.exists() or paths.ca_cert.exists():
        raise PkiError(
            f"the device CA in {root} is already initialised; refusing to overwrite it "
            "(every kit certificate depends on it)"
        )
    names = _subject_alt_names(hosts)
    now = _aware(now, "now")
    _positive(ca_days, "ca_days")
    _positive(server_days, "server_days")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _self_signed_ca(
        ca_key, not_before=now - CLOCK_SKEW, not_after=now + timedelta(days=ca_days)
    )
    server_from, server_until = now - CLOCK_SKEW, now + timedelta(days=server_days)
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = _issue(
        ca_key,
        ca_cert,
        common_name=hosts[0],
        public_key=broker_key.public_key(),
        not_before=server_from,
        not_after=server_until,
        usages=[ExtendedKeyUsageOID.SERVER_AUTH],
        names=names,
    )
    controller_key = ec.generate_private_key(ec.SECP256R1())
    controller_cert = _issue(
        ca_key,
        ca_cert,
        common_name=CONTROLLER_CN,
        public_key=controller_key.public_key(),
        not_before=server_from,
        not_after=server_until,
        usages=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        names=names,
    )
    crl = _build_crl(ca_key, ca_cert, [], now=now, next_update_days=CRL_DAYS, number=1)
    try:
        root.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        root.chmod(_DIR_MODE)
        # The CA goes last: a failure half-way leaves no CA, so init can simply be run again.
        write_atomic(paths.broker_key, _key_pem(broker_key), PRIVATE_MODE)
        write_atomic(paths.broker_cert, pem(broker_cert), PUBLIC_MODE)
        write_atomic(paths.controller_key, _key_pem(controller_key), PRIVATE_MODE)
        write_atomic(paths.controller_cert, pem(controller_cert), PUBLIC_MODE)
        write_atomic(paths.crl, crl.public_bytes(serialization.Encoding.PEM), PUBLIC_MODE)
        ensure_signing_key(paths.bundle_key)  # playbook bundles (controller/remediation/bundles.py)
        write_atomic(paths.ca_cert, pem(ca_cert), PUBLIC_MODE)
        write_atomic(paths.ca_key, _key_pem(ca_key), PRIVATE_MODE)
    except (OSError, BundleBuildError) as exc:
        raise PkiError(f"cannot write the device CA in {root}: {exc}") from exc
    _LOGGER.info(
        "device CA initialised in %s (fingerprint %s, hosts %s)", root, fingerprint(ca_cert), hosts
    )
    return paths


def load_ca(paths: PkiPaths) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The CA's private key and certificate, checked to belong together."""
    if not paths.exists():
        raise _refused("pki.no_ca", root=paths.root)
    try:
        key = load_private_key(paths.ca_key, "the device CA's key")
        cert = load_certificate(paths.ca_cert, "the device CA's certificate")
    except PemError as exc:
        raise PkiError(str(exc)) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{paths.ca_key} is not an ECDSA key")
    if _spki(key.public_key()) != _spki(cert.public_key()):
        raise PkiError(f"{paths.ca_key} does not belong to {paths.ca_cert}")
    return key, cert


def share_group(paths: PkiPaths) -> str:
    """The controllers' shared-subscription group: secret, the same for every controller of this CA.

    Derived from the CA's key file, which no kit holds, so a kit cannot name the group even if
    the broker let it subscribe outside its own topics (it does not: defence in depth). Without
    a readable key file, the public default (the broker's guard still holds).
    """
    try:
        secret = paths.ca_key.read_bytes()
    except OSError as exc:
        _LOGGER.warning("no secret shared-subscription group (%s): using the default", exc)
        return SHARE_GROUP
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"kitkeeper shared-subscription group\0" + secret)
    return f"{SHARE_GROUP}-{digest.finalize().hex()[:24]}"


def fingerprint(cert: x509.Certificate) -> str:
    """Lowercase hex SHA-256 of the certificate's DER."""
    return cert.fingerprint(hashes.SHA256()).hex()


def _refused(key: str, /, **params: object) -> PkiError:
    """The device CA's refusal in words from the trust catalogue (`pki.*`)."""
    return PkiError(key=key, params=params, domain="trust")


def sign_csr(
    paths: PkiPaths, csr_pem: bytes, *, kit_id: str, now: datetime, days: int = 365
) -> x509.Certificate:
    """Issue a kit's client certificate for its CSR, once the CSR is checked to be for `kit_id`."""
    now = _aware(now, "now")
    _positive(days, "days")
    if not is_valid_kit_id(kit_id):
        raise _refused("pki.kit_id", kit=repr(kit_id))
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise _refused("pki.csr_unreadable") from exc
    try:
        signature_ok = csr.is_signature_valid
        public_key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _refused("pki.csr_unchecked", detail=str(exc)) from exc
    if not signature_ok:
        raise _refused("pki.csr_signature")
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise _refused("pki.csr_key")
    common_names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(common_names) != 1:
        raise _refused("pki.csr_names", count=len(common_names))
    if common_names[0].value != kit_id:
        raise _refused("pki.csr_other_kit", name=repr(common_names[0].value), kit=repr(kit_id))
    ca_key, ca_cert = load_ca(paths)
    if now >= ca_cert.not_valid_after_utc:
        raise _refused("pki.ca_expired", date=ca_cert.not_valid_after_utc.isoformat())
    cert = _issue(
        ca_key,
        ca_cert,
        common_name=kit_id,
        public_key=public_key,
        not_before=now - CLOCK_SKEW,
        not_after=now + timedelta(days=days),
        usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
        names=None,
    )
    _LOGGER.info(
        "issued certificate for kit %s (serial %x, until %s)",
        kit_id,
        cert.serial_number,
        cert.not_valid_after_utc.isoformat(),
    )
    return cert


def issue_certificate(
    paths: PkiPaths,
    *,
    common_name: str,
    public_key: ec.EllipticCurvePublicKey,
    not_before: datetime,
    not_after: datetime,
    server_hosts: list[str] | None = None,
) -> x509.Certificate:
    """Issue a clientAuth certificate (plus serverAuth and SANs when `server_hosts` is given)."""
    not_before = _aware(not_before, "not_before")
    not_after = _aware(not_after, "not_after")
    if not_after <= not_before:
        raise PkiError("a certificate must end after it starts")
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    names = None
    if server_hosts is not None:
        names = _subject_alt_names(server_hosts)
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    ca_key, ca_cert = load_ca(paths)
    return _issue(
        ca_key,
        ca_cert,
        common_name=common_name,
        public_key=public_key,
        not_before=not_before,
        not_after=not_after,
        usages=usages,
        names=names,
    )


def write_crl(
    paths: PkiPaths,
    revoked: list[tuple[int, datetime]],
    *,
    now: datetime,
    next_update_days: int = CRL_DAYS,
) -> Path:
    """Sign a CRL listing `(serial, revocation_date)` pairs and put it in place atomically."""
    now = _aware(now, "now")
    _positive(next_update_days, "next_update_days")
    ca_key, ca_cert = load_ca(paths)
    crl = _build_crl(
        ca_key,
        ca_cert,
        revoked,
        now=now,
        next_update_days=next_update_days,
        number=_next_crl_number(paths.crl),
    )
    try:
        write_atomic(paths.crl, crl.public_bytes(serialization.Encoding.PEM), PUBLIC_MODE)
    except OSError as exc:
        raise _refused("pki.crl_unwritable", path=paths.crl, detail=str(exc)) from exc
    _LOGGER.info("CRL written with %d revoked certificates", len(revoked))
    return paths.crl


def pem(cert: x509.Certificate) -> bytes:
    """The certificate in PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def describe(cert: x509.Certificate) -> dict[str, str]:
    """Serial (hex), common name, validity (ISO 8601, UTC) and fingerprint, for people and APIs."""
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = common_names[0].value if common_names else ""
    return {
        "serial": format(cert.serial_number, "x"),
        "common_name": common_name if isinstance(common_name, str) else common_name.decode(),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "fingerprint": fingerprint(cert),
    }


def _self_signed_ca(
    ca_key: ec.EllipticCurvePrivateKey, *, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    """The device CA's self-signed certificate: it signs certificates and CRLs, nothing else."""
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(authority=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _issue(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    *,
    common_name: str,
    public_key: ec.EllipticCurvePublicKey,
    not_before: datetime,
    not_after: datetime,
    usages: list[x509.ObjectIdentifier],
    names: list[x509.GeneralName] | None,
) -> x509.Certificate:
    """Build and sign an end-entity certificate."""
    try:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    except ValueError as exc:
        raise PkiError(f"{common_name!r} cannot be a certificate common name: {exc}") from exc
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(authority=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
    )
    if names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _key_usage(*, authority: bool) -> x509.KeyUsage:
    """A CA signs certificates and CRLs only; an end entity signs (TLS handshakes) only."""
    return x509.KeyUsage(
        digital_signature=not authority,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=authority,
        crl_sign=authority,
        encipher_only=False,
        decipher_only=False,
    )


def _build_crl(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    revoked: list[tuple[int, datetime]],
    *,
    now: datetime,
    next_update_days: int,
    number: int,
) -> x509.CertificateRevocationList:
    """Build and sign a CRL."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + timedelta(days=next_update_days))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
    )
    for serial, revoked_at in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(_aware(revoked_at, f"revocation date of serial {serial:x}"))
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(ca_key, hashes.SHA256())


def _next_crl_number(path: Path) -> int:
    """One more than the number of the CRL in place (1 when there is none or it is unreadable)."""
    try:
        current = x509.load_pem_x509_crl(path.read_bytes())
        number = current.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except (OSError, ValueError, x509.ExtensionNotFound):
        return 1
    return number + 1


def _authority_key_id(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The AKI pointing at the CA's SKI (or its public key when the SKI is absent)."""
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        ca_public = ca_cert.public_key()
        if not isinstance(ca_public, ec.EllipticCurvePublicKey):
            raise PkiError("the device CA's key is not an ECDSA key") from None
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public)
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _subject_alt_names(hosts: list[str]) -> list[x509.GeneralName]:
    """One SAN per distinct host: IP addresses as IPAddress, anything else as DNSName."""
    if not hosts:
        raise PkiError("at least one host name or IP address is needed for the server certificates")
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        if not host or host != host.strip():
            raise PkiError(f"{host!r} is not a host name or IP address")
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if not host.isascii():
                raise PkiError(
                    f"{host!r}: give internationalised names in IDNA (xn--) form"
                ) from None
            names.append(x509.DNSName(host))
    return names


def _aware(moment: datetime, what: str) -> datetime:
    """`moment` if it carries a time zone; naive datetimes are refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PkiError(f"{what} must be a timezone-aware datetime")
    return moment


def _positive(value: int, what: str) -> None:
    """Refuse a zero or negative number of days."""
    if value <= 0:
        raise PkiError(f"{what} must be a positive number of days, not {value}")


def _spki(public_key: object) -> bytes:
    """DER SubjectPublicKeyInfo of a public key, for comparing keys."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        return b""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Unencrypted PKCS8 PEM of a private key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
