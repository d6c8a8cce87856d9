"""Content-defined chunks (FastCDC) of large blobs, so a kit fetches only what changed.

A blob over `CHUNKED_FROM` bytes is cut where its content says (FastCDC, average 256 KiB): an
edit in the middle of a long video moves the cut points near it only, and a kit that holds the
old version already has every other chunk (their hashes match). Small blobs are fetched whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import fastcdc  # type: ignore[import-untyped]  # no stubs nor py.typed

from protocol.content import Chunk

CHUNKED_FROM: Final = 8 * 1024 * 1024
"""Blobs larger than this are chunked (a smaller one is a few seconds' download at most)."""
MIN_SIZE: Final = 64 * 1024
AVG_SIZE: Final = 256 * 1024
MAX_SIZE: Final = 1024 * 1024


WINDOW: Final = 16 * 1024 * 1024
"""Bytes read at a time: memory stays bounded whatever the file's size."""


def _cut(data: bytes) -> Iterator[Any]:
    return iter(
        fastcdc.fastcdc(
            data, min_size=MIN_SIZE, avg_size=AVG_SIZE, max_size=MAX_SIZE, fat=False,
            hf=hashlib.sha256,
        )
    )  # fmt: skip


def chunks(path: Path, size: int) -> list[Chunk]:
    """The FastCDC chunks of the file at `path` (`size` bytes), in order; [] for a small one.

    Read a window at a time: a chunk's end depends only on the MAX_SIZE bytes from its start,
    so every chunk that starts at least MAX_SIZE before the window's end is final; the rest of
    the window is carried into the next one. The same chunks as cutting the whole file at once.
    """
    if size <= CHUNKED_FROM:
        return []
    found: list[Chunk] = []
    carried = b""
    with path.open("rb") as file:
        while True:
            data = carried + file.read(WINDOW)
            at_end = file.tell() >= size
            used = 0
            for cut in _cut(data):
                if not at_end and cut.offset + MAX_SIZE > len(data):
                    break
                found.append(Chunk(length=cut.length, sha256=cut.hash))
                used = cut.offset + cut.length
            carried = data[used:]
            if at_end:
                return found
