"""The signed content manifest: what a kit accepts and each reason it refuses, as tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from protocol import bundle_keys
from protocol.codec import decode
from protocol.content import (
    BlobRef,
    Chunk,
    ContentManifest,
    ManifestError,
    ManifestMessage,
    ManifestPointer,
    ManifestRefusal,
    ManifestResource,
    ManifestTask,
    canonical,
    document_digest,
    sign_manifest,
    verify_manifest,
)
from protocol.models import envelope_kwargs
from protocol.topics import CONTROLLER_TO_AGENT

NOW = datetime.now(UTC).replace(microsecond=0)
SHA_A = "a" * 64
SHA_B = "b" * 64


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _manifest(version: int = 3, **changes: Any) -> ContentManifest:
    fields: dict[str, Any] = {
        "kit_id": "kit-1",
        "version": version,
        "issued_at": NOW,
        "expires_at": NOW + timedelta(days=7),
        "blobs": [BlobRef(sha256=SHA_A, size=10, media_type="application/pdf")],
        "resources": [
            ManifestResource(id="r1", title="Әліппе", kind="pdf", language="kk", sha256=SHA_A)
        ],
        "tasks": [ManifestTask(id="t1", type="homework", resources=["r1"])],
    }
    fields.update(changes)
    return ContentManifest(**fields)


KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()


def _verify(document: bytes, **kwargs: Any) -> ContentManifest:
    arguments: dict[str, Any] = {"pinned_key_pem": _pem(KEY), "kit_id": "kit-1", "now": NOW}
    arguments.update(kwargs)
    return verify_manifest(document, **arguments)[0]


def test_a_signed_manifest_verifies_and_reads_back() -> None:
    document = sign_manifest(_manifest(), KEY)
    manifest = _verify(document, held_version=3, held_digest=document_digest(document))
    assert manifest == _manifest()
    assert manifest.total_bytes == 10
    assert manifest.resource("r1").title == "Әліппе"  # type: ignore[union-attr]


def _tampered(document: bytes) -> bytes:
    raw = json.loads(document)
    raw["signed"]["blobs"][0]["size"] = 11
    return canonical(raw)


@pytest.mark.parametrize(
    ("document", "kwargs", "reason"),
    [
        (sign_manifest(_manifest(), OTHER), {}, ManifestRefusal.SIGNATURE),
        (_tampered(sign_manifest(_manifest(), KEY)), {}, ManifestRefusal.SIGNATURE),
        (sign_manifest(_manifest(version=2), KEY), {"held_version": 3}, ManifestRefusal.ROLLBACK),
        (
            sign_manifest(_manifest(version=3), KEY),
            {"held_version": 3, "held_digest": "0" * 64},
            ManifestRefusal.ROLLBACK,
        ),
        (
            sign_manifest(_manifest(), KEY),
            {"now": NOW + timedelta(days=8)},
            ManifestRefusal.EXPIRED,
        ),
        (sign_manifest(_manifest(), KEY), {"kit_id": "kit-2"}, ManifestRefusal.WRONG_KIT),
        (b"{not json", {}, ManifestRefusal.MALFORMED),
        (b'{"signed": {}, "signatures": []}', {}, ManifestRefusal.MALFORMED),
        (b" " * (4 * 1024 * 1024 + 1), {}, ManifestRefusal.TOO_LARGE),
    ],
    ids=[
        "another key",
        "tampered",
        "older",
        "same version other bytes",
        "expired",
        "another kit",
        "not json",
        "empty",
        "too large",
    ],
)
def test_refusals_carry_their_reason(
    document: bytes, kwargs: dict[str, Any], reason: ManifestRefusal
) -> None:
    with pytest.raises(ManifestError) as refused:
        _verify(document, **kwargs)
    assert refused.value.reason is reason
    assert refused.value.detail


def test_a_rotated_key_is_followed_through_its_hand_over() -> None:
    statement = bundle_keys.statement(_pem(KEY), _pem(OTHER), NOW)
    handover = bundle_keys.encode(statement, KEY.sign(statement))
    document = sign_manifest(_manifest(), OTHER, handovers=[handover])
    manifest, key_pem = verify_manifest(document, pinned_key_pem=_pem(KEY), kit_id="kit-1", now=NOW)
    assert manifest.version == 3
    assert key_pem == _pem(OTHER)  # the kit pins the new key from now on
    forged = bundle_keys.encode(statement, OTHER.sign(statement))  # not signed by the old key
    with pytest.raises(ManifestError) as refused:
        _verify(sign_manifest(_manifest(), OTHER, handovers=[forged]))
    assert refused.value.reason is ManifestRefusal.SIGNATURE


@pytest.mark.parametrize(
    "changes",
    [
        {"expires_at": NOW - timedelta(seconds=1)},
        {
            "resources": [
                ManifestResource(id="r1", title="x", kind="pdf", language="kk", sha256=SHA_B)
            ]
        },
        {"tasks": [ManifestTask(id="t1", type="homework", resources=["nope"])]},
        {"blobs": [BlobRef(sha256=SHA_A, size=1, media_type="a/b")] * 2},
    ],
    ids=["expires before issued", "resource without blob", "task without resource", "blob twice"],
)
def test_inconsistent_manifests_are_refused_by_the_model(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _manifest(**changes)


def test_chunks_must_cover_the_blob() -> None:
    chunk = Chunk(length=4, sha256=SHA_B)
    assert BlobRef(sha256=SHA_A, size=8, media_type="video/webm", chunks=[chunk, chunk]).chunks
    with pytest.raises(ValidationError):
        BlobRef(sha256=SHA_A, size=9, media_type="video/webm", chunks=[chunk, chunk])


def test_resources_of_a_lesson() -> None:
    lesson = NOW + timedelta(days=1)
    manifest = _manifest(
        tasks=[
            ManifestTask(id="t1", type="classwork", resources=["r1"], lesson_start=lesson),
            ManifestTask(id="t2", type="homework", resources=["r1"]),
        ]
    )
    assert [r.id for r in manifest.resources_for(lesson)] == ["r1"]
    assert manifest.resources_for(lesson + timedelta(hours=1)) == []


def test_the_pointer_is_decoded_on_the_manifest_topic() -> None:
    pointer = ManifestPointer(
        version=3,
        sha256=SHA_A,
        size=100,
        url="/api/v1/kits/kit-1/manifest?version=3",
        expires_at=NOW + timedelta(days=7),
    )
    message = ManifestMessage(**envelope_kwargs("kit-1", 0, NOW), body=pointer)
    _, decoded = decode("kits/kit-1/manifest", message.to_bytes(), accept=CONTROLLER_TO_AGENT)
    assert isinstance(decoded, ManifestMessage)
    assert decoded.body == pointer
