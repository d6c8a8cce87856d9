"""Handing the bundle signing key over: a statement signed by the old key naming the new one (pure).

A kit pins one Ed25519 key for playbook bundles (given at enrolment). When the controller rotates
its key it writes a hand-over: a small JSON statement (the previous key's fingerprint, the next
key in PEM, when) signed by the previous key, and sends its hand-overs, oldest first, with every
bundle. A kit whose pinned key does not verify a bundle follows the chain from its pinned key
(each link's signature is checked with the key the kit trusts at that point *before* the link is
read), and accepts the bundle only if the key at the end verifies it; then it pins that key.
Bundles signed by an older key are refused from then on, and nobody without the current key can
hand it over.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from pydantic import AwareDatetime, Field, ValidationError

from protocol.base import WireModel
from protocol.bundle import BundleError, BundleRefusal, load_public_key
from protocol.commands import MAX_HANDOVERS, SignedHandover

MAX_STATEMENT_BYTES: Final = 2000


class KeyHandover(WireModel):
    """The statement a hand-over signs: from which key (fingerprint) to which (PEM), when."""

    format: Literal[1] = 1
    previous_key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    next_key_pem: str = Field(min_length=1, max_length=1000)
    issued_at: AwareDatetime


def key_fingerprint(public_key_pem: bytes) -> str:
    """Lowercase hex SHA-256 of the key's SubjectPublicKeyInfo (DER): the same key, the same id."""
    key = load_public_key(public_key_pem)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def statement(previous_pem: bytes, next_pem: bytes, issued_at: datetime) -> bytes:
    """The exact bytes of a hand-over statement from `previous_pem` to `next_pem`."""
    body = KeyHandover(
        previous_key_sha256=key_fingerprint(previous_pem),
        next_key_pem=next_pem.decode("ascii"),
        issued_at=issued_at,
    )
    return json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()


def encode(statement_bytes: bytes, signature: bytes) -> SignedHandover:
    """A hand-over for a command."""
    return SignedHandover(
        statement_b64=base64.b64encode(statement_bytes).decode("ascii"),
        signature_b64=base64.b64encode(signature).decode("ascii"),
    )


def _next_key(current_pem: bytes, handover: SignedHandover) -> bytes | None:
    """The key `handover` passes to, if `current_pem` signed it and it is from that key."""
    try:
        data = base64.b64decode(handover.statement_b64, validate=True)
        signature = base64.b64decode(handover.signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(data) > MAX_STATEMENT_BYTES:
        return None
    try:
        load_public_key(current_pem).verify(signature, data)
    except InvalidSignature:
        return None  # not from the key trusted here: a link the kit has already passed
    try:
        parsed = KeyHandover.model_validate_json(data)
    except ValidationError as exc:
        raise BundleError(BundleRefusal.SIGNATURE, "a signed key hand-over is invalid") from exc
    if parsed.previous_key_sha256 != key_fingerprint(current_pem):
        raise BundleError(BundleRefusal.SIGNATURE, "a key hand-over names another key")
    next_pem = parsed.next_key_pem.encode("ascii")
    key_fingerprint(next_pem)  # a readable Ed25519 key, or BundleError(NO_KEY)
    return next_pem


def follow(pinned_pem: bytes, handovers: Sequence[SignedHandover]) -> bytes:
    """The key reached from the pinned one through the hand-overs it (then each next key) signed."""
    current = pinned_pem
    for handover in handovers[-MAX_HANDOVERS:]:
        reached = _next_key(current, handover)
        if reached is not None:
            current = reached
    return current
