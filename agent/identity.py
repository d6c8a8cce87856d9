"""The kit's identity: its private key, the certificate the controller issued for it, and the CA.

The key never leaves the kit: it is born here with mode 0600, only a CSR goes to the controller, and
what comes back is checked (right CA, right kit id, right key, valid now) before it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from agent.errors import IdentityError
from common.files import PRIVATE_MODE, PUBLIC_MODE, write_atomic
from common.pem import PemError, load_certificate, load_private_key, parse_certificate

KEY_FILE, CERT_FILE, CA_FILE = "kit.key", "kit.crt", "ca.crt"
"""File names of the kit's key, its certificate and the controller's CA, in the state directory."""

_DIR_MODE = 0o700


@dataclass(frozen=True, slots=True)
class Identity:
    """A kit's key, certificate and trusted CA on disk, with what the certificate says."""

    kit_id: str
    key_path: Path
    cert_path: Path
    ca_path: Path
    not_after: datetime
    serial: int


def generate_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Make a new ECDSA P-256 key and write it to `path` (mode 0600 from the start)."""
    key = ec.generate_private_key(ec.SECP256R1())
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        write_atomic(path, data, PRIVATE_MODE)
    except OSError as exc:
        raise IdentityError(f"cannot write the kit key {path}: {exc}") from exc
    return key


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The kit's private key from `path`."""
    try:
        key = load_private_key(path, "the kit key")
    except PemError as exc:
        raise IdentityError(str(exc)) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise IdentityError(f"{path} is not an EC P-256 key")
    return key


def make_csr(key: ec.EllipticCurvePrivateKey, kit_id: str) -> bytes:
    """A PEM certificate request for `kit_id` (subject CN only), signed with `key`."""
    try:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, kit_id)])
    except ValueError as exc:
        raise IdentityError(f"{kit_id!r} cannot be a certificate common name: {exc}") from exc
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def verify_issued(
    cert_pem: bytes,
    ca_pem: bytes,
    *,
    key: ec.EllipticCurvePrivateKey,
    kit_id: str,
    now: datetime,
) -> x509.Certificate:
    """The certificate in `cert_pem`, once checked to be this kit's, from this CA, valid now."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise IdentityError("now must be a timezone-aware datetime")
    cert = _load_cert(cert_pem, "the issued certificate")
    ca = _load_cert(ca_pem, "the CA certificate")
    if cert.issuer != ca.subject:
        raise IdentityError("the issued certificate was not issued by the given CA")
    ca_key = ca.public_key()
    if not isinstance(ca_key, ec.EllipticCurvePublicKey):
        raise IdentityError("the CA certificate does not carry an ECDSA key")
    if cert.signature_algorithm_oid != SignatureAlgorithmOID.ECDSA_WITH_SHA256:
        raise IdentityError("the issued certificate is not signed with ECDSA SHA-256")
    try:
        ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise IdentityError(
            "the issued certificate's signature does not verify with the CA"
        ) from None
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [name.value for name in common_names] != [kit_id]:
        raise IdentityError(f"the issued certificate is not for kit {kit_id!r}")
    if _spki(cert.public_key()) != _spki(key.public_key()):
        raise IdentityError("the issued certificate is for another key than this kit's")
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise IdentityError(
            "the issued certificate is not valid now (valid from "
            f"{cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()})"
        )
    return cert


def expired(not_after: datetime, now: datetime) -> bool:
    """Whether a certificate valid until `not_after` is past it at `now` (it is valid at it)."""
    return now > not_after


def save_identity(state_dir: Path, *, cert_pem: bytes, ca_pem: bytes) -> None:
    """Keep the kit's certificate and the CA in `state_dir`, each replaced atomically."""
    _load_cert(cert_pem, "the kit certificate")
    _load_cert(ca_pem, "the CA certificate")
    try:
        state_dir.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        write_atomic(state_dir / CA_FILE, ca_pem, PUBLIC_MODE)
        write_atomic(state_dir / CERT_FILE, cert_pem, PUBLIC_MODE)
    except OSError as exc:
        raise IdentityError(f"cannot save the kit identity in {state_dir}: {exc}") from exc


def load_identity(state_dir: Path) -> Identity | None:
    """The kit's identity in `state_dir`, or None when it has no key or no certificate yet."""
    key_path, cert_path, ca_path = state_dir / KEY_FILE, state_dir / CERT_FILE, state_dir / CA_FILE
    if not key_path.exists() or not cert_path.exists():
        return None
    key = load_key(key_path)
    cert = _load_file(cert_path, "the kit certificate")
    if not ca_path.exists():
        raise IdentityError(f"{ca_path} is missing: the kit cannot check the broker without it")
    _load_file(ca_path, "the CA certificate")
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(common_names) != 1 or not isinstance(common_names[0].value, str):
        raise IdentityError(f"{cert_path} does not name exactly one kit")
    if _spki(cert.public_key()) != _spki(key.public_key()):
        raise IdentityError(f"{cert_path} does not belong to the key in {key_path}")
    return Identity(
        kit_id=common_names[0].value,
        key_path=key_path,
        cert_path=cert_path,
        ca_path=ca_path,
        not_after=cert.not_valid_after_utc,
        serial=cert.serial_number,
    )


def fingerprint_pem(cert_pem: bytes) -> str:
    """Lowercase hex SHA-256 of the DER of a PEM certificate."""
    return _load_cert(cert_pem, "the certificate").fingerprint(hashes.SHA256()).hex()


def _load_cert(data: bytes, what: str) -> x509.Certificate:
    """A certificate from PEM, or IdentityError naming `what`."""
    try:
        return parse_certificate(data, what)
    except PemError as exc:
        raise IdentityError(str(exc)) from exc


def _load_file(path: Path, what: str) -> x509.Certificate:
    """The certificate in the file `path`, or IdentityError naming it."""
    try:
        return load_certificate(path, what)
    except PemError as exc:
        raise IdentityError(str(exc)) from exc


def _spki(public_key: object) -> bytes:
    """DER SubjectPublicKeyInfo of an EC public key (empty for any other kind), to compare keys."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        return b""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def matches(cert_pem: bytes, key: ec.EllipticCurvePrivateKey) -> bool:
    """Whether a PEM certificate is for this private key."""
    try:
        cert = _load_cert(cert_pem, "certificate")
    except IdentityError:
        return False
    return _spki(cert.public_key()) == _spki(key.public_key())
