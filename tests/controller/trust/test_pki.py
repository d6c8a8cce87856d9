"""The device CA issues certificates that OpenSSL accepts, and refuses requests it must not sign."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controller.errors import PkiError
from controller.trust.pki import (
    CONTROLLER_CN,
    PkiPaths,
    describe,
    fingerprint,
    init_pki,
    issue_certificate,
    load_ca,
    pem,
    sign_csr,
    write_crl,
)

KIT_ID = "kit-0001"
HOSTS = ["127.0.0.1", "localhost"]


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the real openssl binary and return what it said."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is not installed")
    return subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, check=False, timeout=30
    )


def csr_for(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, *names: str) -> bytes:
    """A PEM CSR whose subject has one CN per name."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name) for name in names])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(pem(cert))
    return path


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def pki(tmp_path: Path, now: datetime) -> PkiPaths:
    return init_pki(tmp_path / "pki", hosts=HOSTS, now=now)


@pytest.mark.processes
def test_init_writes_keys_only_the_owner_can_read(pki: PkiPaths) -> None:
    assert pki.exists()
    assert pki.root.stat().st_mode & 0o777 == 0o700
    for key in (pki.ca_key, pki.broker_key, pki.controller_key, pki.bundle_key):
        assert key.stat().st_mode & 0o777 == 0o600, key
    for public in (pki.ca_cert, pki.broker_cert, pki.controller_cert, pki.crl):
        assert public.stat().st_mode & 0o777 == 0o644, public
    assert sorted(p.name for p in pki.root.iterdir()) == sorted(
        [
            "ca.key",
            "ca.crt",
            "crl.pem",
            "broker.key",
            "broker.crt",
            "controller.key",
            "controller.crt",
            "bundle-signing.key",
            "bundle-signing.pub",
        ]
    )
    assert openssl("pkey", "-in", pki.ca_key, "-noout").returncode == 0


def test_second_init_refuses_and_keeps_the_ca(pki: PkiPaths, now: datetime) -> None:
    before = {path: path.read_bytes() for path in pki.root.iterdir()}
    with pytest.raises(PkiError, match="already initialised"):
        init_pki(pki.root, hosts=["10.0.0.1"], now=now)
    assert {path: path.read_bytes() for path in pki.root.iterdir()} == before


def test_init_needs_a_host(tmp_path: Path, now: datetime) -> None:
    with pytest.raises(PkiError, match="at least one host"):
        init_pki(tmp_path / "pki", hosts=[], now=now)
    assert not (tmp_path / "pki").exists()


@pytest.mark.processes
@pytest.mark.parametrize(
    ("cert", "purpose"),
    [
        ("broker_cert", "sslserver"),
        ("controller_cert", "sslserver"),
        ("controller_cert", "sslclient"),
    ],
)
def test_openssl_trusts_the_server_certificates(pki: PkiPaths, cert: str, purpose: str) -> None:
    path = getattr(pki, cert)
    result = openssl("verify", "-purpose", purpose, "-CAfile", pki.ca_cert, path)
    assert result.returncode == 0, result.stdout + result.stderr
    issued = x509.load_pem_x509_certificate(path.read_bytes())
    sans = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]


@pytest.mark.processes
def test_only_the_controller_certificate_is_a_client_certificate(pki: PkiPaths) -> None:
    broker = x509.load_pem_x509_certificate(pki.broker_cert.read_bytes())
    controller = x509.load_pem_x509_certificate(pki.controller_cert.read_bytes())
    assert describe(broker)["common_name"] == "127.0.0.1"
    assert describe(controller)["common_name"] == CONTROLLER_CN
    result = openssl("verify", "-purpose", "sslclient", "-CAfile", pki.ca_cert, pki.broker_cert)
    assert result.returncode != 0


@pytest.mark.processes
def test_signed_kit_certificate_is_a_client_certificate_for_that_kit(
    pki: PkiPaths, tmp_path: Path, now: datetime
) -> None:
    cert = sign_csr(pki, csr_for(new_key(), KIT_ID), kit_id=KIT_ID, now=now)
    kit_crt = write_cert(tmp_path / "kit.crt", cert)
    result = openssl("verify", "-purpose", "sslclient", "-CAfile", pki.ca_cert, kit_crt)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [a.value for a in cert.subject] == [KIT_ID]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.not_valid_before_utc == (now - timedelta(minutes=5)).replace(microsecond=0)
    assert cert.not_valid_after_utc == (now + timedelta(days=365)).replace(microsecond=0)
    server = openssl("verify", "-purpose", "sslserver", "-CAfile", pki.ca_cert, kit_crt)
    assert server.returncode != 0


def test_signing_ignores_what_else_the_csr_asks_for(pki: PkiPaths, now: datetime) -> None:
    greedy = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, KIT_ID),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kitkeeper"),
                ]
            )
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("broker")]), critical=False)
        .sign(new_key(), hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    cert = sign_csr(pki, greedy, kit_id=KIT_ID, now=now)
    assert cert.subject == x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, KIT_ID)])
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def _tampered(key: ec.EllipticCurvePrivateKey) -> bytes:
    """A CSR for KIT_ID whose signature has one byte flipped."""
    der = bytearray(
        x509.load_pem_x509_csr(csr_for(key, KIT_ID)).public_bytes(serialization.Encoding.DER)
    )
    der[-1] ^= 0x01
    body = base64.encodebytes(bytes(der)).decode("ascii")
    return (
        f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n".encode()
    )


REFUSALS: list[tuple[str, Callable[[ec.EllipticCurvePrivateKey], bytes], str]] = [
    ("cn-mismatch", lambda key: csr_for(key, "kit-0002"), "does not match kit id 'kit-0001'"),
    ("garbage-pem", lambda _key: b"-----BEGIN CERTIFICATE REQUEST-----\nnope\n", "not a readable"),
    ("tampered-signature", _tampered, "signature is invalid"),
    (
        "rsa-key",
        lambda _key: csr_for(
            rsa.generate_private_key(public_exponent=65537, key_size=2048), KIT_ID
        ),
        "not an EC P-256 key",
    ),
    (
        "p384-key",
        lambda _key: csr_for(ec.generate_private_key(ec.SECP384R1()), KIT_ID),
        "not an EC P-256 key",
    ),
    ("two-cns", lambda key: csr_for(key, KIT_ID, KIT_ID), "exactly one common name, it has 2"),
    ("no-cn", csr_for, "exactly one common name, it has 0"),
]


@pytest.mark.parametrize(
    ("make_csr", "message"),
    [(make, message) for _, make, message in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_sign_csr_refuses(
    pki: PkiPaths,
    now: datetime,
    make_csr: Callable[[ec.EllipticCurvePrivateKey], bytes],
    message: str,
) -> None:
    with pytest.raises(PkiError, match=re.escape(message)):
        sign_csr(pki, make_csr(new_key()), kit_id=KIT_ID, now=now)


def test_no_kit_can_get_the_controller_name(pki: PkiPaths, now: datetime) -> None:
    with pytest.raises(PkiError, match="not a valid kit id"):
        sign_csr(pki, csr_for(new_key(), CONTROLLER_CN), kit_id=CONTROLLER_CN, now=now)


@pytest.mark.processes
def test_revoked_certificate_fails_openssl_crl_check(
    pki: PkiPaths, tmp_path: Path, now: datetime
) -> None:
    revoked = sign_csr(pki, csr_for(new_key(), "kit-0001"), kit_id="kit-0001", now=now)
    kept = sign_csr(pki, csr_for(new_key(), "kit-0002"), kit_id="kit-0002", now=now)
    revoked_crt = write_cert(tmp_path / "revoked.crt", revoked)
    kept_crt = write_cert(tmp_path / "kept.crt", kept)

    crl = write_crl(pki, [(revoked.serial_number, now)], now=now)

    assert crl == pki.crl
    assert crl.stat().st_mode & 0o777 == 0o644
    text = openssl("crl", "-in", crl, "-noout", "-text")
    assert text.returncode == 0, text.stderr
    listed = {int(s, 16) for s in re.findall(r"Serial Number: ([0-9A-F]+)", text.stdout)}
    assert listed == {revoked.serial_number}
    assert re.search(r"X509v3 CRL Number:\s*\n\s*2\b", text.stdout), text.stdout

    def crl_check(cert: Path) -> subprocess.CompletedProcess[str]:
        return openssl("verify", "-crl_check", "-CAfile", pki.ca_cert, "-CRLfile", crl, cert)

    refused = crl_check(revoked_crt)
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr
    accepted = crl_check(kept_crt)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


@pytest.mark.processes
def test_initial_crl_is_empty_and_signed(pki: PkiPaths) -> None:
    result = openssl("crl", "-in", pki.crl, "-CAfile", pki.ca_cert, "-noout", "-text")
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stderr + result.stdout
    assert "No Revoked Certificates" in result.stdout


def test_issue_certificate_can_make_an_expired_certificate(pki: PkiPaths, now: datetime) -> None:
    cert = issue_certificate(
        pki,
        common_name=KIT_ID,
        public_key=new_key().public_key(),
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    assert cert.not_valid_after_utc < now


@pytest.mark.processes
def test_describe_matches_openssl(pki: PkiPaths) -> None:
    cert = x509.load_pem_x509_certificate(pki.controller_cert.read_bytes())
    result = openssl("x509", "-in", pki.controller_cert, "-noout", "-fingerprint", "-sha256")
    assert result.returncode == 0, result.stderr
    from_openssl = result.stdout.strip().split("=", 1)[1].replace(":", "").lower()
    info = describe(cert)
    assert fingerprint(cert) == info["fingerprint"] == from_openssl
    assert int(info["serial"], 16) == cert.serial_number
    assert datetime.fromisoformat(info["not_after"]) == cert.not_valid_after_utc


def test_load_ca_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="no device CA"):
        load_ca(PkiPaths(tmp_path))


def test_load_ca_refuses_a_corrupt_key(pki: PkiPaths) -> None:
    pki.ca_key.write_bytes(b"not a key")
    with pytest.raises(PkiError, match="not a readable unencrypted private key"):
        load_ca(pki)
