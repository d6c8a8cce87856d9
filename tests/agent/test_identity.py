"""A kit keeps its own key, and only accepts a certificate that is really its own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from agent.errors import IdentityError
from agent.identity import (
    CA_FILE,
    CERT_FILE,
    KEY_FILE,
    fingerprint_pem,
    generate_key,
    load_identity,
    load_key,
    make_csr,
    save_identity,
    verify_issued,
)
from controller.trust.pki import PkiPaths, fingerprint, init_pki, issue_certificate, pem, sign_csr

KIT_ID = "kit-0001"


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def pki(tmp_path: Path, now: datetime) -> PkiPaths:
    return init_pki(tmp_path / "pki", hosts=["127.0.0.1"], now=now)


@pytest.fixture
def key(tmp_path: Path) -> ec.EllipticCurvePrivateKey:
    return generate_key(tmp_path / "state" / KEY_FILE)


def test_generated_key_is_private_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "state" / KEY_FILE
    key = generate_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert load_key(path).private_numbers() == key.private_numbers()
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]


def test_corrupt_key_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_bytes(b"garbage")
    with pytest.raises(IdentityError, match="not a readable unencrypted private key"):
        load_key(path)


def test_enrollment_round_trip(
    pki: PkiPaths, key: ec.EllipticCurvePrivateKey, now: datetime
) -> None:
    cert = sign_csr(pki, make_csr(key, KIT_ID), kit_id=KIT_ID, now=now)
    verified = verify_issued(pem(cert), pki.ca_cert.read_bytes(), key=key, kit_id=KIT_ID, now=now)
    assert verified.serial_number == cert.serial_number
    assert fingerprint_pem(pem(cert)) == fingerprint(cert)


def _from_another_ca(
    tmp_path: Path, pki: PkiPaths, key: ec.EllipticCurvePrivateKey, now: datetime
) -> bytes:
    # Same CA name, different CA key: only the signature can tell them apart.
    other = init_pki(tmp_path / "other-pki", hosts=["127.0.0.1"], now=now)
    return pem(sign_csr(other, make_csr(key, KIT_ID), kit_id=KIT_ID, now=now))


def _for_another_kit(
    tmp_path: Path, pki: PkiPaths, key: ec.EllipticCurvePrivateKey, now: datetime
) -> bytes:
    return pem(sign_csr(pki, make_csr(key, "kit-0002"), kit_id="kit-0002", now=now))


def _for_another_key(
    tmp_path: Path, pki: PkiPaths, key: ec.EllipticCurvePrivateKey, now: datetime
) -> bytes:
    other = ec.generate_private_key(ec.SECP256R1())
    return pem(sign_csr(pki, make_csr(other, KIT_ID), kit_id=KIT_ID, now=now))


def _expired(
    tmp_path: Path, pki: PkiPaths, key: ec.EllipticCurvePrivateKey, now: datetime
) -> bytes:
    cert = issue_certificate(
        pki,
        common_name=KIT_ID,
        public_key=key.public_key(),
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    return pem(cert)


def _not_a_certificate(
    tmp_path: Path, pki: PkiPaths, key: ec.EllipticCurvePrivateKey, now: datetime
) -> bytes:
    return b"<html>502 Bad Gateway</html>"


Maker = Callable[[Path, PkiPaths, ec.EllipticCurvePrivateKey, datetime], bytes]


@pytest.mark.parametrize(
    ("make_cert", "message"),
    [
        pytest.param(_from_another_ca, "does not verify with the CA", id="another-ca"),
        pytest.param(_for_another_kit, "not for kit 'kit-0001'", id="another-kit"),
        pytest.param(_for_another_key, "for another key", id="another-key"),
        pytest.param(_expired, "not valid now", id="expired"),
        pytest.param(_not_a_certificate, "not a readable PEM certificate", id="garbage"),
    ],
)
def test_verify_issued_refuses(
    tmp_path: Path,
    pki: PkiPaths,
    key: ec.EllipticCurvePrivateKey,
    now: datetime,
    make_cert: Maker,
    message: str,
) -> None:
    cert_pem = make_cert(tmp_path, pki, key, now)
    with pytest.raises(IdentityError, match=message):
        verify_issued(cert_pem, pki.ca_cert.read_bytes(), key=key, kit_id=KIT_ID, now=now)


def test_saved_identity_loads_back(
    tmp_path: Path, pki: PkiPaths, key: ec.EllipticCurvePrivateKey, now: datetime
) -> None:
    state = tmp_path / "state"
    cert = sign_csr(pki, make_csr(key, KIT_ID), kit_id=KIT_ID, now=now)
    save_identity(state, cert_pem=pem(cert), ca_pem=pki.ca_cert.read_bytes())

    identity = load_identity(state)

    assert identity is not None
    assert identity.kit_id == KIT_ID
    assert identity.not_after == cert.not_valid_after_utc
    assert identity.serial == cert.serial_number
    assert (identity.key_path, identity.cert_path, identity.ca_path) == (
        state / KEY_FILE,
        state / CERT_FILE,
        state / CA_FILE,
    )
    assert identity.ca_path.read_bytes() == pki.ca_cert.read_bytes()
    for public in (identity.cert_path, identity.ca_path):
        assert public.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in state.iterdir()) == sorted([KEY_FILE, CERT_FILE, CA_FILE])


def test_no_identity_yet(tmp_path: Path) -> None:
    assert load_identity(tmp_path) is None
    assert load_identity(tmp_path / "missing") is None


def test_corrupt_certificate_is_a_clear_error(
    tmp_path: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    state = tmp_path / "state"
    (state / CERT_FILE).write_bytes(b"truncated")
    with pytest.raises(IdentityError, match=r"kit\.crt is not a readable PEM certificate"):
        load_identity(state)


def test_certificate_for_another_key_is_refused_on_load(
    tmp_path: Path, pki: PkiPaths, key: ec.EllipticCurvePrivateKey, now: datetime
) -> None:
    state = tmp_path / "state"
    cert = sign_csr(pki, make_csr(key, KIT_ID), kit_id=KIT_ID, now=now)
    save_identity(state, cert_pem=pem(cert), ca_pem=pki.ca_cert.read_bytes())
    generate_key(state / KEY_FILE)
    with pytest.raises(IdentityError, match="does not belong to the key"):
        load_identity(state)


@pytest.mark.processes
def test_agent_identity_does_not_need_the_controller() -> None:
    code = (
        "import sys, agent.identity; "
        "sys.exit(any(m == 'controller' or m.startswith('controller.') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert result.returncode == 0
