"""The content signing key: an Ed25519 key of its own (not the bundle key), and its rotation.

The key lives at `<pki_dir>/content/content-signing.key` (0600, its public half beside it as
`.pub`), made once on first use. `rotate` makes a new key and keeps a hand-over statement signed
by the old key (`protocol/bundle_keys.py`) in `<pki_dir>/content/bundle-handovers/` (the same
files and chain as the playbook bundles' key, `controller.remediation.bundle_keys`, in a folder
of its own); every manifest carries the chain ending at the current key, so a kit that pinned an
older content key follows it (`protocol.content.verify_manifest`). Kits enrolled later are
given the current key (`EnrollResponse.content_key_pem`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.content.assignment_errors import ContentKeyError
from controller.remediation import bundle_keys
from controller.remediation.bundles import (
    BundleBuildError,
    ensure_signing_key,
    public_key_pem,
)
from protocol.commands import SignedHandover

_LOGGER = logging.getLogger(__name__)

KEY_DIR: Final = "content"
KEY_NAME: Final = "content-signing.key"

Rotation = bundle_keys.Rotation


def key_path(pki_dir: Path) -> Path:
    """Where the content signing key is kept under the PKI folder."""
    return Path(pki_dir) / KEY_DIR / KEY_NAME


@dataclass(frozen=True, slots=True)
class Signer:
    """The content key to sign with, and the hand-overs that lead kits from older keys to it."""

    key: Ed25519PrivateKey
    public_pem: bytes
    handovers: tuple[SignedHandover, ...]


def _failed(exc: BundleBuildError, pki_dir: Path) -> ContentKeyError:
    _LOGGER.error("content signing key in %s: %s", pki_dir, exc)
    return ContentKeyError.translated("refused.no_key")


def ensure_key(pki_dir: Path) -> Ed25519PrivateKey:
    """The content signing key, made (0600) if there is none yet."""
    try:
        return ensure_signing_key(key_path(pki_dir))
    except BundleBuildError as exc:
        raise _failed(exc, pki_dir) from exc


def public_pem(pki_dir: Path) -> bytes:
    """The content key's public half (PEM), made with the key if missing: what kits pin."""
    return public_key_pem(ensure_key(pki_dir))


def signer(pki_dir: Path) -> Signer:
    """The key and its hand-over chain, read now (a rotation is taken up at the next pass)."""
    path = key_path(pki_dir)
    key = ensure_key(pki_dir)
    pem = public_key_pem(key)
    return Signer(key, pem, tuple(bundle_keys.handover_chain(path, pem)))


def rotate(pki_dir: Path, now: datetime) -> Rotation:
    """Replace the content key, the old one signing the hand-over (made first if missing)."""
    path = key_path(pki_dir)
    try:
        if not path.exists():
            ensure_signing_key(path)
        return bundle_keys.rotate_signing_key(path, now)
    except BundleBuildError as exc:
        raise _failed(exc, pki_dir) from exc
