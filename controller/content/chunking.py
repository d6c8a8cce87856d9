"""Content-defined chunks (FastCDC) of large blobs, so a kit fetches only what changed.

A blob over `CHUNKED_FROM` bytes is cut where its content says (FastCDC, average 256 KiB): an
edit in the middle of a long video moves the cut points near it only, and a kit that holds the
old version already has every other chunk (their hashes match). Small blobs are fetched whole.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

import fastcdc  # type: ignore[import-untyped]  # no stubs nor py.typed

from protocol.content import Chunk

CHUNKED_FROM: Final = 8 * 1024 * 1024
"""Blobs larger than this are chunked (a smaller one is a few seconds' download at most)."""
MIN_SIZE: Final = 64 * 1024
AVG_SIZE: Final = 256 * 1024
MAX_SIZE: Final = 1024 * 1024


def chunks(path: Path, size: int) -> list[Chunk]:
    """The FastCDC chunks of the file at `path` (`size` bytes), in order; [] for a small one."""
    if size <= CHUNKED_FROM:
        return []
    cut = fastcdc.fastcdc(
        str(path),
        min_size=MIN_SIZE,
        avg_size=AVG_SIZE,
        max_size=MAX_SIZE,
        fat=False,
        hf=hashlib.sha256,
    )
    return [Chunk(length=c.length, sha256=c.hash) for c in cut]
