"""The content signing key: made once (0600) apart from the bundle key, rotated with a hand-over
that kits pinned to the old key follow."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.content import keys
from protocol.bundle_keys import key_fingerprint
from protocol.content import (
    ContentManifest,
    ManifestError,
    ManifestRefusal,
    sign_manifest,
    verify_manifest,
)

NOW = datetime.now(UTC)


def _manifest(version: int) -> ContentManifest:
    return ContentManifest(
        kit_id="kit-1", version=version, issued_at=NOW, expires_at=NOW + timedelta(days=7)
    )


def test_key_made_once_private_and_apart(tmp_path: Path) -> None:
    """The key is made on first use, 0600, under the PKI folder, and read back the same after."""
    pem = keys.public_pem(tmp_path)
    path = keys.key_path(tmp_path)
    assert path == tmp_path / "content" / "content-signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.public_pem(tmp_path) == pem
    assert not (tmp_path / "bundle-signing.key").exists()


def test_rotation_hands_over_to_kits_pinned_to_the_old_key(tmp_path: Path) -> None:
    """After a rotation a manifest signed by the new key, carrying the hand-over, verifies
    against the old pinned key (and the kit learns the new key); without it, it is refused."""
    old_pem = keys.public_pem(tmp_path)
    old = keys.signer(tmp_path)
    first = sign_manifest(_manifest(1), old.key, handovers=old.handovers)
    verify_manifest(first, pinned_key_pem=old_pem, kit_id="kit-1", now=NOW)

    rotation = keys.rotate(tmp_path, NOW)
    new = keys.signer(tmp_path)
    assert rotation.previous == key_fingerprint(old_pem)
    assert rotation.current == key_fingerprint(new.public_pem) != rotation.previous
    assert len(new.handovers) == 1

    second = sign_manifest(_manifest(2), new.key, handovers=new.handovers)
    manifest, key_pem = verify_manifest(
        second, pinned_key_pem=old_pem, kit_id="kit-1", now=NOW, held_version=1
    )
    assert manifest.version == 2
    assert key_pem == new.public_pem

    bare = sign_manifest(_manifest(2), new.key)
    with pytest.raises(ManifestError) as refused:
        verify_manifest(bare, pinned_key_pem=old_pem, kit_id="kit-1", now=NOW)
    assert refused.value.reason == ManifestRefusal.SIGNATURE


def test_two_rotations_chain(tmp_path: Path) -> None:
    """A kit offline for two rotations follows both hand-overs."""
    old_pem = keys.public_pem(tmp_path)
    keys.rotate(tmp_path, NOW)
    keys.rotate(tmp_path, NOW + timedelta(minutes=1))
    newest = keys.signer(tmp_path)
    assert len(newest.handovers) == 2
    document = sign_manifest(_manifest(3), newest.key, handovers=newest.handovers)
    _, key_pem = verify_manifest(document, pinned_key_pem=old_pem, kit_id="kit-1", now=NOW)
    assert key_pem == newest.public_pem
