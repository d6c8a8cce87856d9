"""Delta: a large file that changed moves only its changed chunks (FastCDC), measured."""

from __future__ import annotations

import os
from pathlib import Path

from agent.content.plan import Local, Remote, chunk_index, plan, remaining, remote_bytes
from protocol.content import BlobRef, Chunk, SyncState
from tests.agent.content.lab import lab

MB = 1024 * 1024


def test_a_50_mb_file_with_a_small_edit_moves_only_the_changed_chunks(tmp_path: Path) -> None:
    old = os.urandom(50 * MB)
    middle = len(old) // 2
    new = old[:middle] + b"a small edit in the middle of the file" + old[middle + 20 :]
    with lab(tmp_path) as kit:
        sync = kit.sync()
        first = kit.blob(old, chunks=True)
        sync.on_pointer(kit.publish(kit.manifest(1, [first])))
        assert sync.run_once().state is SyncState.SYNCED
        before = kit.served.sent
        second = kit.blob(new, chunks=True)
        sync.on_pointer(kit.publish(kit.manifest(2, [second])))
        assert sync.run_once().state is SyncState.SYNCED
        moved = kit.served.sent - before
        assert sync.store.blob_path(second.sha256).read_bytes() == new
        assert not sync.store.has(first.sha256), "the old version is collected"
    largest = max(c.length for c in second.chunks)
    print(
        f"\ndelta: 50 MiB file, {len(new) - len(old):+d} bytes edited in the middle: "
        f"{moved} bytes moved (manifest included), {len(second.chunks)} chunks, "
        f"largest chunk {largest}"
    )
    assert moved < 3 * largest + 20_000, f"{moved} bytes moved for a small edit"


def _blob(sha: str, *lengths_and_shas: tuple[int, str]) -> BlobRef:
    chunks = [Chunk(length=n, sha256=s * 64) for n, s in lengths_and_shas]
    return BlobRef(
        sha256=sha * 64, size=sum(n for n, _ in lengths_and_shas), media_type="x/y", chunks=chunks
    )


def test_a_plan_copies_held_chunks_and_merges_the_ranges_it_fetches() -> None:
    held = _blob("a", (10, "1"), (20, "2"), (30, "3"))
    wanted = _blob("b", (10, "1"), (20, "2"), (5, "4"), (6, "5"), (30, "3"))
    index = chunk_index([held], lambda sha: sha == "a" * 64)
    segments = plan(wanted, index)
    assert segments == [
        Local(0, 30, "a" * 64, 0),
        Remote(30, 11),
        Local(41, 30, "a" * 64, 30),
    ]
    assert remote_bytes(segments) == 11
    assert remaining(segments, 35) == [Remote(35, 6), Local(41, 30, "a" * 64, 30)]
    assert remaining(segments, 71) == []


def test_chunks_of_a_blob_not_held_are_fetched() -> None:
    held = _blob("a", (10, "1"))
    wanted = _blob("b", (10, "1"))
    assert plan(wanted, chunk_index([held], lambda sha: False)) == [Remote(0, 10)]
    plain = BlobRef(sha256="c" * 64, size=7, media_type="x/y")
    assert plan(plain, {}) == [Remote(0, 7)]
