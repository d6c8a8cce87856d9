"""Rotating the bundle signing key and keeping versions going up (issue 12, item 12).

A kit takes a new key only through hand-overs its pinned key signed, then refuses the old key's
bundles; the controller builds a new version after a rotation and, with its database, never
reuses or lowers a version when its bundle directory is lost.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.bundles import BundleStore
from controller.config import ControllerSettings
from controller.remediation import bundle_keys, bundles
from controller.remediation.playbooks import load_bundle
from protocol.bundle import BundleError, BundleRefusal, pack
from protocol.bundle_keys import encode, statement
from tests.support import migrated

NOW = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
FILES = {
    "playbooks/say.yml": b"""
- name: say
  hosts: localhost
  gather_facts: false
  vars:
    kitkeeper: {id: say, disruptive: false, timeout: 60, description: test}
  tasks: []
""",
    "rules.yaml": b"rules: []\n",
}


def signed(version: int, key: Ed25519PrivateKey) -> tuple[bytes, bytes]:
    data = pack(FILES, version=version, created_at=NOW)
    return data, key.sign(data)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A controller's bundle key (as `pki init` makes it); the kit pins its public half."""
    key_path = tmp_path / "pki" / bundles.SIGNING_KEY_FILE
    bundles.ensure_signing_key(key_path)
    return key_path


def kit_pinning(tmp_path: Path, key_path: Path) -> BundleStore:
    state = tmp_path / "kit"
    state.mkdir()
    shutil.copy(bundles.public_key_path(key_path), state / "bundle-signing.pub")
    return BundleStore(state)


def test_a_kit_takes_the_new_key_only_through_the_hand_over_and_then_refuses_the_old(
    tmp_path: Path, pki: Path
) -> None:
    kit = kit_pinning(tmp_path, pki)
    old = bundles.load_signing_key(pki)
    kit.install(*signed(1, old))
    bundle_keys.rotate_signing_key(pki, NOW)
    new = bundles.load_signing_key(pki)
    chain = bundle_keys.handover_chain(pki, bundles.public_key_pem(new))
    assert len(chain) == 1
    # Without the hand-over the new key's bundle is refused ...
    with pytest.raises(BundleError) as refused:
        kit.install(*signed(2, new))
    assert refused.value.reason == BundleRefusal.SIGNATURE
    # ... with it, accepted, and the new key is pinned.
    assert kit.install(*signed(2, new), chain).version == 2
    assert kit.public_key_path.read_bytes() == bundles.public_key_pem(new)
    assert kit.verified().manifest.version == 2
    # The old key's bundles are refused from now on, hand-over replayed or not.
    for handovers in ((), chain):
        with pytest.raises(BundleError) as old_refused:
            kit.install(*signed(3, old), handovers)
        assert old_refused.value.reason == BundleRefusal.SIGNATURE
    assert kit.accepted_version() == 2


def test_a_kit_offline_through_two_rotations_follows_the_chain(tmp_path: Path, pki: Path) -> None:
    kit = kit_pinning(tmp_path, pki)
    bundle_keys.rotate_signing_key(pki, NOW)
    bundle_keys.rotate_signing_key(pki, NOW)
    newest = bundles.load_signing_key(pki)
    chain = bundle_keys.handover_chain(pki, bundles.public_key_pem(newest))
    assert len(chain) == 2
    assert kit.install(*signed(5, newest), chain).version == 5
    assert kit.public_key_path.read_bytes() == bundles.public_key_pem(newest)


def test_a_hand_over_not_signed_by_the_pinned_key_changes_nothing(
    tmp_path: Path, pki: Path
) -> None:
    kit = kit_pinning(tmp_path, pki)
    pinned = kit.public_key_path.read_bytes()
    attacker = Ed25519PrivateKey.generate()
    forged_data = statement(pinned, bundles.public_key_pem(attacker), NOW)
    forged = encode(forged_data, attacker.sign(forged_data))
    with pytest.raises(BundleError) as refused:
        kit.install(*signed(1, attacker), [forged])
    assert refused.value.reason == BundleRefusal.SIGNATURE
    assert kit.public_key_path.read_bytes() == pinned
    assert kit.accepted_version() is None


def test_after_a_rotation_the_same_playbooks_are_a_new_version_signed_by_the_new_key(
    tmp_path: Path, pki: Path
) -> None:
    source = tmp_path / "playbooks"
    source.mkdir()
    (source / "say.yml").write_bytes(FILES["playbooks/say.yml"])
    store = bundles.BundleStore(tmp_path / "bundles")
    first = store.build(source, None, bundles.load_signing_key(pki), NOW)
    assert store.build(source, None, bundles.load_signing_key(pki), NOW) == first
    bundle_keys.rotate_signing_key(pki, NOW)
    second = store.build(source, None, bundles.load_signing_key(pki), NOW)
    assert (first.version, second.version) == (1, 2)
    # A floor from the database (what kits have seen) lifts the next version above it.
    assert store.build(source, None, bundles.load_signing_key(pki), NOW, floor=7).version == 8


def test_versions_continue_from_the_database_when_the_bundle_directory_is_lost(
    tmp_path: Path,
) -> None:
    db = migrated(f"sqlite:///{tmp_path / 'controller.db'}")
    settings = ControllerSettings(
        db=db.url, pki_dir=tmp_path / "pki", bundle_dir=tmp_path / "bundles"
    )
    bundles.ensure_signing_key(tmp_path / "pki" / bundles.SIGNING_KEY_FILE)
    try:
        assert load_bundle(settings, NOW, db.sessions).version == 1
        assert load_bundle(settings, NOW, db.sessions).version == 1
        shutil.rmtree(tmp_path / "bundles")
        assert load_bundle(settings, NOW, db.sessions).version == 2
    finally:
        db.engine.dispose()
