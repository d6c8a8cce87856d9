"""How a blob is put together on the kit (pure): chunks already held locally, the rest fetched.

A blob whose manifest entry lists its FastCDC chunks may share chunks with blobs the kit holds
(an older version of the same video with one scene changed). `chunk_index` maps every chunk hash
of the held blobs to where its bytes are; `plan` turns a blob into segments in order: `Local`
(copy from a held blob) or `Remote` (one `Range` request), adjacent ones merged. A download that
was interrupted continues from the partial file's length with `remaining`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from protocol.content import BlobRef


@dataclass(frozen=True, slots=True)
class Local:
    """Bytes `at`..`at+length` of the blob are bytes `offset`.. of the held blob `source`."""

    at: int
    length: int
    source: str
    offset: int


@dataclass(frozen=True, slots=True)
class Remote:
    """Bytes `at`..`at+length` of the blob come from the controller (one Range request)."""

    at: int
    length: int


Segment = Local | Remote


def chunk_index(blobs: Iterable[BlobRef], has: Callable[[str], bool]) -> dict[str, Local]:
    """Where each chunk of the held blobs is: chunk sha256 → its place in a held blob."""
    index: dict[str, Local] = {}
    for blob in blobs:
        if not blob.chunks or not has(blob.sha256):
            continue
        offset = 0
        for chunk in blob.chunks:
            index.setdefault(chunk.sha256, Local(0, chunk.length, blob.sha256, offset))
            offset += chunk.length
    return index


def plan(blob: BlobRef, index: dict[str, Local]) -> list[Segment]:
    """The blob's segments in order (a blob without chunks: one remote segment)."""
    if not blob.chunks:
        return [Remote(0, blob.size)] if blob.size else []
    segments: list[Segment] = []
    at = 0
    for chunk in blob.chunks:
        held = index.get(chunk.sha256)
        if held is not None and held.length == chunk.length and held.source != blob.sha256:
            segments.append(Local(at, chunk.length, held.source, held.offset))
        else:
            segments.append(Remote(at, chunk.length))
        at += chunk.length
    return _merged(segments)


def _merged(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for seg in segments:
        last = out[-1] if out else None
        if isinstance(seg, Remote) and isinstance(last, Remote):
            out[-1] = Remote(last.at, last.length + seg.length)
        elif (
            isinstance(seg, Local)
            and isinstance(last, Local)
            and last.source == seg.source
            and last.offset + last.length == seg.offset
        ):
            out[-1] = Local(last.at, last.length + seg.length, last.source, last.offset)
        else:
            out.append(seg)
    return out


def remaining(segments: list[Segment], done: int) -> list[Segment]:
    """The segments still to do when the first `done` bytes are in the partial file."""
    out: list[Segment] = []
    for seg in segments:
        end = seg.at + seg.length
        if end <= done:
            continue
        skip = max(0, done - seg.at)
        if isinstance(seg, Remote):
            out.append(Remote(seg.at + skip, seg.length - skip))
        else:
            out.append(Local(seg.at + skip, seg.length - skip, seg.source, seg.offset + skip))
    return out


def remote_bytes(segments: Iterable[Segment]) -> int:
    """How many bytes these segments fetch from the controller."""
    return sum(s.length for s in segments if isinstance(s, Remote))


def shortfall(
    *, free: int, total: int, needed: int, reserve_bytes: int, reserve_ratio: float
) -> int:
    """Bytes the disk lacks to take `needed` more and keep the reserve (0: enough).

    The reserve is the smaller of `reserve_bytes` and `reserve_ratio` of the file system's size
    (`total`; 1 GiB or 10 % by default): a sync never fills the disk the lesson and the OS need,
    and a large disk is not held back by a reserve of tens of gigabytes.
    """
    reserve = min(reserve_bytes, int(total * reserve_ratio))
    return max(0, needed + reserve - free)
