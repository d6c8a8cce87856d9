"""Rotating the bundle signing key: the new key, and the hand-over the old key signs for the kits.

`rotate_signing_key` makes a new Ed25519 key, writes a hand-over statement naming it, signed by
the current key (`protocol/bundle_keys.py`), into `bundle-handovers/` beside the key, then puts the
new key (and its `.pub`) in place. The old private key is not kept. Every `install_bundle`
command carries the chain of hand-overs that ends at the current key, so a kit that pinned any
earlier key (offline during a rotation or two) follows it; newly enrolled kits get the new key.
The running controller signs with the new key from its next start (a new bundle version).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from common.files import PUBLIC_MODE, write_atomic
from controller.remediation.bundles import (
    BundleBuildError,
    load_signing_key,
    public_key_pem,
    write_signing_key,
)
from protocol.bundle_keys import KeyHandover, encode, key_fingerprint, statement
from protocol.commands import MAX_HANDOVERS, SignedHandover

_LOGGER = logging.getLogger(__name__)

HANDOVERS_DIR = "bundle-handovers"
_NAME = re.compile(r"^([0-9]{4,9})\.json$")


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a rotation did: the old and the new key's fingerprints, the hand-over's number."""

    previous: str
    current: str
    number: int


def handovers_dir(key_path: Path) -> Path:
    """Where the hand-overs of the key at `key_path` are kept."""
    return key_path.parent / HANDOVERS_DIR


def _stored(key_path: Path) -> list[tuple[int, bytes, bytes]]:
    folder = handovers_dir(key_path)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if not match:
            continue
        try:
            found.append(
                (int(match.group(1)), path.read_bytes(), path.with_suffix(".sig").read_bytes())
            )
        except OSError:
            _LOGGER.warning("key hand-over %s is unreadable: left out", path)
    return sorted(found)


def rotate_signing_key(key_path: Path, now: datetime) -> Rotation:
    """Replace the bundle signing key at `key_path`, the old key signing the hand-over."""
    old = load_signing_key(key_path)
    new = Ed25519PrivateKey.generate()
    old_pem, new_pem = public_key_pem(old), public_key_pem(new)
    data = statement(old_pem, new_pem, now)
    number = max((n for n, _, _ in _stored(key_path)), default=0) + 1
    folder = handovers_dir(key_path)
    try:
        folder.mkdir(mode=0o755, parents=True, exist_ok=True)
        write_atomic(folder / f"{number:04d}.sig", old.sign(data), PUBLIC_MODE)
        write_atomic(folder / f"{number:04d}.json", data, PUBLIC_MODE)
    except OSError as exc:
        raise BundleBuildError(f"cannot write the key hand-over in {folder}: {exc}") from exc
    write_signing_key(key_path, new)
    rotation = Rotation(key_fingerprint(old_pem), key_fingerprint(new_pem), number)
    _LOGGER.warning(
        "bundle signing key rotated: %s -> %s (hand-over %d)",
        rotation.previous,
        rotation.current,
        number,
    )
    return rotation


def handover_chain(key_path: Path, current_pem: bytes) -> list[SignedHandover]:
    """The stored hand-overs that lead to the current key, oldest first (the newest few)."""
    by_next: dict[str, tuple[str, bytes, bytes]] = {}
    for _, data, signature in _stored(key_path):
        try:
            parsed = KeyHandover.model_validate_json(data)
            by_next[key_fingerprint(parsed.next_key_pem.encode("ascii"))] = (
                parsed.previous_key_sha256,
                data,
                signature,
            )
        except (ValidationError, ValueError):
            _LOGGER.warning(
                "a key hand-over in %s is unreadable: left out", handovers_dir(key_path)
            )
    chain: list[SignedHandover] = []
    at = key_fingerprint(current_pem)
    while at in by_next and len(chain) < MAX_HANDOVERS:
        previous, data, signature = by_next.pop(at)
        chain.append(encode(data, signature))
        at = previous
    return chain[::-1]
