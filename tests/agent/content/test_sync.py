"""Content sync on the kit against a real HTTPS server: a manifest synced and served, each
refusal leaving the served content untouched with its reason, resume, a server ignoring Range."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.enroll import CONTENT_KEY_FILE
from protocol import bundle_keys
from protocol.content import ContentStatus, SyncState
from tests.agent.content.lab import KIT, Lab, lab, public_pem
from tests.support import free_port


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Lab]:
    with lab(tmp_path) as it:
        yield it


def _served_v1(kit: Lab) -> bytes:
    """Sync a first version and return its blob's bytes."""
    data = os.urandom(300_000)
    blob = kit.blob(data)
    sync = kit.sync()
    sync.on_pointer(kit.publish(kit.manifest(1, [blob])))
    status = sync.run_once()
    assert status.state is SyncState.SYNCED, status
    return data


def _serving(kit: Lab) -> int | None:
    current = kit.sync().store.current()
    return current.version if current else None


def _last(kit: Lab, kind: str) -> ContentStatus:
    event = next(e for e in reversed(kit.events) if e.kind == kind)
    return ContentStatus.model_validate(event.data)


def test_a_manifest_is_fetched_verified_synced_and_served(kit: Lab) -> None:
    data = _served_v1(kit)
    store = kit.sync().store
    current = store.current()
    assert current is not None
    assert current.version == 1
    assert store.blob_path(current.blobs[0].sha256).read_bytes() == data
    assert "content_synced" in kit.kinds()
    readiness = _last(kit, "content_readiness")
    assert [lesson.ready for lesson in readiness.lessons] == [True]
    assert not list(store.partial.iterdir())


def _refused(kit: Lab, pointer_of: object, serving: int = 1) -> ContentStatus:
    sync = kit.sync()
    sync.on_pointer(pointer_of)  # type: ignore[arg-type]
    status = sync.run_once()
    assert status.state is SyncState.REFUSED, status
    assert _serving(kit) == serving, "the previous content stays served"
    return _last(kit, "content_refused")


def test_a_manifest_signed_with_another_key_is_refused(kit: Lab) -> None:
    _served_v1(kit)
    blob = kit.blob(os.urandom(1000))
    other = Ed25519PrivateKey.generate()
    refused = _refused(kit, kit.publish(kit.manifest(2, [blob]), key=other))
    assert refused.reason == "signature"


def test_an_older_manifest_is_refused(kit: Lab) -> None:
    _served_v1(kit)
    kit.sync().on_pointer(kit.publish(kit.manifest(5, [kit.blob(os.urandom(100))])))
    kit.sync().run_once()
    refused = _refused(kit, kit.publish(kit.manifest(4, [kit.blob(os.urandom(100))])), 5)
    assert refused.reason == "rollback"
    assert "older" in (refused.detail or "")


def test_an_expired_manifest_is_refused(kit: Lab) -> None:
    _served_v1(kit)
    now = datetime.now(UTC)
    stale = kit.manifest(
        2,
        [kit.blob(os.urandom(100))],
        issued_at=now - timedelta(days=3),
        expires_at=now - timedelta(minutes=1),
    )
    assert _refused(kit, kit.publish(stale)).reason == "expired"


def test_a_document_that_does_not_match_its_pointer_is_refused(kit: Lab) -> None:
    _served_v1(kit)
    pointer = kit.publish(kit.manifest(2, [kit.blob(os.urandom(100))]))
    assert _refused(kit, pointer.model_copy(update={"sha256": "0" * 64})).reason == "digest"


def test_a_tampered_blob_is_refused_and_not_switched_to(kit: Lab) -> None:
    _served_v1(kit)
    blob = kit.blob(os.urandom(200_000))
    (kit.served.root / "blobs" / blob.sha256).write_bytes(os.urandom(200_000))  # tampered
    refused = _refused(kit, kit.publish(kit.manifest(2, [blob])))
    assert refused.reason == "blob_refused"
    assert not kit.sync().store.partial_path(blob.sha256).exists(), "the bad bytes are deleted"
    assert not kit.sync().store.has(blob.sha256)


def test_a_disk_that_cannot_hold_the_manifest_is_refused_before_downloading(kit: Lab) -> None:
    _served_v1(kit)
    blob = kit.blob(os.urandom(500_000))
    sync = kit.sync(reserve_bytes=2**62, reserve_ratio=1.0)  # the whole disk as the reserve
    sync.on_pointer(kit.publish(kit.manifest(2, [blob])))
    sent = kit.served.sent
    status = sync.run_once()
    assert status.state is SyncState.FAILED
    failed = _last(kit, "content_failed")
    assert failed.reason == "disk_full"
    assert (failed.bytes_missing or 0) >= 500_000
    assert kit.served.sent - sent < 10_000, "only the manifest moved, no blob"
    assert _serving(kit) == 1


def test_an_interrupted_download_resumes_from_its_partial_file(kit: Lab) -> None:
    data = os.urandom(1_000_000)
    blob = kit.blob(data)
    sync = kit.sync()
    sync.store.partial_path(blob.sha256).write_bytes(data[:600_000])  # a download cut short
    sync.on_pointer(kit.publish(kit.manifest(1, [blob])))
    before = kit.served.sent
    assert sync.run_once().state is SyncState.SYNCED
    moved = kit.served.sent - before
    assert moved < 400_000 + 20_000, f"{moved} bytes: it did not resume"
    assert any(r.endswith("bytes=600000-999999") for r in kit.served.requests)


def test_a_server_ignoring_range_restarts_the_file_cleanly(kit: Lab) -> None:
    data = os.urandom(400_000)
    blob = kit.blob(data)
    sync = kit.sync()
    sync.store.partial_path(blob.sha256).write_bytes(data[:100_000])
    kit.served.ignore_range = True
    sync.on_pointer(kit.publish(kit.manifest(1, [blob])))
    assert sync.run_once().state is SyncState.SYNCED
    assert sync.store.blob_path(blob.sha256).read_bytes() == data


def test_an_unreachable_controller_is_reported_once_and_tried_again(kit: Lab) -> None:
    blob = kit.blob(os.urandom(1000))
    pointer = kit.publish(kit.manifest(1, [blob]))
    port, kit.port = kit.port, free_port()  # nothing listens there
    sync = kit.sync(timeout=1.0)
    sync.on_pointer(pointer)
    assert sync.run_once().state is SyncState.FAILED
    assert sync.run_once().state is SyncState.FAILED
    assert kit.kinds() == ["content_failed"], "one outage, one event"
    assert _last(kit, "content_failed").reason == "unreachable"
    kit.port = port
    sync = kit.sync()
    document = kit.served.root / "manifests" / f"{KIT}-1.json"
    document.rename(document.with_suffix(".away"))  # the controller answers 404 for a while
    assert sync.run_once().state is SyncState.FAILED
    assert _last(kit, "content_failed").reason == "http_404"
    document.with_suffix(".away").rename(document)  # back: the same pointer is fetched again
    assert sync.run_once().state is SyncState.SYNCED


def test_a_key_hand_over_is_followed_and_the_new_key_pinned(kit: Lab) -> None:
    _served_v1(kit)
    old, new = kit.key, Ed25519PrivateKey.generate()
    said = bundle_keys.statement(public_pem(old), public_pem(new), datetime.now(UTC))
    handover = bundle_keys.encode(said, old.sign(said))
    blob = kit.blob(os.urandom(1000))
    sync = kit.sync()
    sync.on_pointer(kit.publish(kit.manifest(2, [blob]), key=new, handovers=[handover]))
    assert sync.run_once().state is SyncState.SYNCED
    assert (kit.state / CONTENT_KEY_FILE).read_bytes() == public_pem(new)
    third = kit.manifest(3, [blob])
    assert _refused(kit, kit.publish(third, key=old), serving=2).reason == "signature"
