"""A renewal interrupted at any point leaves a kit that still starts, with a matching pair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.certificates import finish_renewal
from agent.identity import generate_key, load_identity
from common.files import PUBLIC_MODE, write_atomic
from controller.trust import pki
from tests.support import HOSTS, provision_kit


@pytest.fixture
def ca(tmp_path: Path) -> pki.PkiPaths:
    return pki.init_pki(tmp_path / "pki", hosts=HOSTS, now=datetime.now(UTC))


def issue(ca: pki.PkiPaths, key_path: Path) -> bytes:
    key = generate_key(key_path)
    now = datetime.now(UTC)
    cert = pki.issue_certificate(
        ca,
        common_name="kit-r",
        public_key=key.public_key(),
        not_before=now,
        not_after=now + timedelta(days=365),
    )
    return pki.pem(cert)


@pytest.mark.parametrize("key_moved", [False, True])
def test_a_complete_pair_is_installed(tmp_path: Path, ca: pki.PkiPaths, key_moved: bool) -> None:
    state = tmp_path / "state"
    provision_kit(ca, state, "kit-r")
    before = load_identity(state)
    cert = issue(ca, state / "kit.key.new")
    write_atomic(state / "kit.crt.new", cert, PUBLIC_MODE)
    if key_moved:  # the crash came after the key moved, before the certificate
        (state / "kit.key.new").replace(state / "kit.key")
    finish_renewal(state)
    after = load_identity(state)
    assert before is not None
    assert after is not None
    assert after.serial != before.serial
    assert not (state / "kit.crt.new").exists()
    assert not (state / "kit.key.new").exists()


def test_an_answer_for_another_key_is_discarded(tmp_path: Path, ca: pki.PkiPaths) -> None:
    state = tmp_path / "state"
    provision_kit(ca, state, "kit-r")
    before = load_identity(state)
    write_atomic(state / "kit.crt.new", issue(ca, tmp_path / "elsewhere.key"), PUBLIC_MODE)
    generate_key(state / "kit.key.new")  # the pending request's key is another one
    finish_renewal(state)
    after = load_identity(state)
    assert before is not None
    assert after is not None
    assert after.serial == before.serial, "the kit keeps its working identity"
    assert not (state / "kit.crt.new").exists()
    assert (state / "kit.key.new").exists(), "the pending request may still be answered"
