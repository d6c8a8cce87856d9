"""The catalogue's front door in-process: what the manifests get (resources, blobs once, chunks
of large files), archived resources left out, and no file left behind by a failed store."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fastcdc  # type: ignore[import-untyped]  # no stubs nor py.typed
import pytest
from sqlalchemy.orm import Session

from controller.content import catalogue, chunking
from controller.content.blobstore import BlobStore
from controller.content.schemas import ResourceCreate
from protocol.content import ContentManifest
from tests.controller.content.catalogue_files import MP4, OGG, PDF, VTT
from tests.support import migrated

GiB = 1024**3


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    database = migrated(f"sqlite:///{tmp_path / 'c.db'}")
    with database.sessions() as opened:
        yield opened
    database.engine.dispose()


def add(session: Session, blobs: BlobStore, data: bytes, kind: str, **extra: object) -> str:
    meta = ResourceCreate.model_validate(
        {"title": "Сабақ", "subject": "Физика", "grade": 9, "language": "ru", "kind": kind}
    )
    captions = {lang: io.BytesIO(vtt) for lang, vtt in extra.items() if isinstance(vtt, bytes)}
    made = catalogue.upload(session, blobs, meta=meta, file=io.BytesIO(data), captions=captions,
                            actor="t", now=datetime.now(UTC), max_upload=2 * GiB)  # fmt: skip
    return made.id


def test_manifest_entries_give_each_blob_once_with_chunks(session: Session, tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "content")
    video = MP4 + os.urandom(chunking.CHUNKED_FROM + 1024 * 1024)
    big = add(session, blobs, video, "video", kk=VTT, ru=VTT)
    small = add(session, blobs, PDF, "pdf")
    again = add(session, blobs, PDF, "pdf")
    gone = add(session, blobs, OGG, "audio")
    catalogue.archive(session, gone, actor="t", now=datetime.now(UTC))

    resources, refs = catalogue.manifest_entries(session, [big, small, again, gone, "f" * 32])
    assert sorted(r.id for r in resources) == sorted([big, small, again])
    assert catalogue.existing_resources(session, [big, gone, "f" * 32]) == {big}
    by_hash = {ref.sha256: ref for ref in refs}
    assert len(refs) == 3  # the video, the PDF (twice held), the captions (the same in kk and ru)
    chunked = by_hash[next(r.sha256 for r in resources if r.id == big)]
    assert chunked.size == len(video)
    assert len(chunked.chunks) > 10
    assert blobs.path(chunked.sha256).stat().st_size == len(video)
    assert all(not ref.chunks for ref in refs if ref.sha256 != chunked.sha256)
    now = datetime.now(UTC)
    later = now + timedelta(days=30)
    ContentManifest(kit_id="kit-1", version=1, issued_at=now, expires_at=later,
                    resources=resources, blobs=refs)  # fmt: skip  # a manifest accepts them


def test_an_edit_in_the_middle_moves_only_nearby_chunks(tmp_path: Path) -> None:
    data = bytearray(os.urandom(12 * 1024 * 1024))
    first = tmp_path / "a.bin"
    first.write_bytes(data)
    data[6 * 1024 * 1024 : 6 * 1024 * 1024 + 100] = os.urandom(100)
    second = tmp_path / "b.bin"
    second.write_bytes(data)
    old = {c.sha256 for c in chunking.chunks(first, len(data))}
    new = chunking.chunks(second, len(data))
    changed = [c for c in new if c.sha256 not in old]
    assert 1 <= len(changed) <= 3
    assert sum(c.length for c in changed) <= 3 * chunking.MAX_SIZE


def test_a_store_that_fails_leaves_no_file(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = BlobStore(tmp_path / "content")
    kept = add(session, blobs, PDF, "pdf")

    def broken() -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(session, "commit", broken)
    with pytest.raises(RuntimeError):
        add(session, blobs, PDF + b"new", "pdf")
    with pytest.raises(RuntimeError):
        add(session, blobs, PDF, "pdf")  # bytes another resource holds: kept
    files = [p for p in (tmp_path / "content" / "blobs").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [catalogue.get(session, kept).sha256]
    assert not list((tmp_path / "content" / "staging").iterdir())


def test_chunks_read_a_window_at_a_time_are_those_of_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "video.bin"
    path.write_bytes(os.urandom(chunking.CHUNKED_FROM + 3 * 1024 * 1024 + 123))
    whole = fastcdc.fastcdc(
        str(path), min_size=chunking.MIN_SIZE, avg_size=chunking.AVG_SIZE,
        max_size=chunking.MAX_SIZE, fat=False, hf=hashlib.sha256,
    )  # fmt: skip
    monkeypatch.setattr(chunking, "WINDOW", 1024 * 1024 + 17)  # many windows, odd edges
    assert [(c.length, c.sha256) for c in chunking.chunks(path, path.stat().st_size)] == [
        (c.length, c.hash) for c in whole
    ]
