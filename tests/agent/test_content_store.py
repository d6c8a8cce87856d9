"""The kit's content store: the served manifest changes only when its content is complete."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.content.store import ContentStore
from protocol.content import BlobRef, ContentManifest, ManifestResource, sign_manifest

KEY = Ed25519PrivateKey.generate()


def _document(version: int, files: dict[str, bytes]) -> bytes:
    now = datetime.now(UTC)
    blobs = [
        BlobRef(sha256=hashlib.sha256(data).hexdigest(), size=len(data), media_type="text/plain")
        for data in files.values()
    ]
    resources = [
        ManifestResource(id=name, title=name, kind="pdf", language="ru", sha256=blob.sha256)
        for name, blob in zip(files, blobs, strict=True)
    ]
    manifest = ContentManifest(
        kit_id="kit-1",
        version=version,
        issued_at=now,
        expires_at=now + timedelta(days=7),
        blobs=blobs,
        resources=resources,
    )
    return sign_manifest(manifest, KEY)


def _add(store: ContentStore, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    part = store.partial_path(sha)
    part.write_bytes(data)
    store.adopt(sha, part)
    return sha


def test_switch_waits_for_every_blob_and_collect_keeps_what_is_needed(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    assert store.current() is None
    first = _document(1, {"a": b"alpha"})
    store.set_pending(first)
    with pytest.raises(ValueError, match="not here"):
        store.switch(first)
    old = _add(store, b"alpha")
    store.switch(first)
    assert store.current().version == 1  # type: ignore[union-attr]
    assert store.pending() is None

    second = _document(2, {"b": b"beta"})
    store.set_pending(second)
    store.partial_path("c" * 64).write_bytes(b"junk")  # a download nobody needs any more
    assert store.collect() == 4
    assert store.has(old)  # still served until version 2 is complete
    assert store.newest().manifest.version == 2  # type: ignore[union-attr]
    new = _add(store, b"beta")
    store.switch(second)
    assert store.collect() == len(b"alpha")
    assert not store.has(old)
    assert store.has(new)
    assert store.blob_path(new).read_bytes() == b"beta"


@pytest.mark.parametrize("name", ["../etc/passwd", "A" * 64, "a" * 63, ""])
def test_blob_names_are_hashes_only(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        ContentStore(tmp_path).blob_path(name)
