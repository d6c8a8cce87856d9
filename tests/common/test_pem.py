"""The one PEM loader: certificates and private keys, with errors that name the file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from common.pem import (
    PemError,
    load_certificate,
    load_private_key,
    parse_certificate,
    parse_private_key,
)


def _key_pem(key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kit-1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_loads_a_certificate(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "kit.crt"
    path.write_bytes(_cert_pem(key))
    cert = load_certificate(path)
    assert cert.subject.rfc4514_string() == "CN=kit-1"


@pytest.mark.parametrize(
    "key",
    [ec.generate_private_key(ec.SECP256R1()), Ed25519PrivateKey.generate()],
    ids=["ecdsa-p256", "ed25519"],
)
def test_loads_a_private_key_of_any_kind(
    tmp_path: Path, key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey
) -> None:
    path = tmp_path / "a.key"
    path.write_bytes(_key_pem(key))
    loaded = load_private_key(path)
    assert type(loaded.public_key()) is type(key.public_key())


def test_a_missing_file_is_named_with_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "ca.key"
    with pytest.raises(
        PemError, match=rf"cannot read the device CA's key {re.escape(str(path))}: .*No such file"
    ):
        load_private_key(path, "the device CA's key")
    with pytest.raises(PemError, match=rf"cannot read the CA certificate {re.escape(str(path))}"):
        load_certificate(path, "the CA certificate")


def test_garbage_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kit.crt"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(
        PemError, match=rf"^{re.escape(str(path))} is not a readable PEM certificate$"
    ):
        load_certificate(path)
    with pytest.raises(
        PemError, match=rf"^{re.escape(str(path))} is not a readable unencrypted private key$"
    ):
        load_private_key(path)


def test_bytes_are_named_by_what_they_are() -> None:
    with pytest.raises(PemError, match=r"^the issued certificate is not a readable PEM"):
        parse_certificate(b"not pem", "the issued certificate")
    with pytest.raises(PemError, match=r"^the renewal key is not a readable unencrypted"):
        parse_private_key(b"not pem", "the renewal key")


def test_an_encrypted_key_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"password"),
    )
    with pytest.raises(PemError, match="not a readable unencrypted private key"):
        parse_private_key(encrypted, "kit.key")


def test_a_certificate_is_not_a_key(tmp_path: Path) -> None:
    path = tmp_path / "kit.crt"
    path.write_bytes(_cert_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(PemError, match="not a readable unencrypted private key"):
        load_private_key(path)
