"""Blobs on disk, named by their sha256 and written once (`blobs/ab/abcdef...`).

`put` streams a file into a temporary file beside the blobs while hashing it, then renames it
into place atomically: a reader never sees half a blob, and the same bytes uploaded twice (or
held by two resources) are one file. Nothing here knows of resources or the database.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Final

_LOGGER = logging.getLogger(__name__)

_READ: Final = 1024 * 1024
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")


class BlobTooLargeError(Exception):
    """A stream longer than the store was told to accept (nothing is kept)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class BlobStore:
    """Content-addressed files under `root`: `path(sha256)`, `put(stream)`, `has`, `remove`."""

    def __init__(self, root: Path) -> None:
        """A store rooted at `root` (created when first written to)."""
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where the blob `sha256` lives (whether or not it is there); refuses a malformed hash."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError("not a sha256 in lower-case hex")
        return self.root / "blobs" / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return self.path(sha256).is_file()

    def put(self, stream: IO[bytes], *, limit: int | None = None) -> tuple[str, int]:
        """Store what `stream` holds; returns its (sha256, size). Over `limit` bytes: refused."""
        staging = self.root / "staging"
        staging.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle, name = tempfile.mkstemp(dir=staging, prefix="put-")
        temp = Path(name)
        try:
            with os.fdopen(handle, "wb") as out:
                while block := stream.read(_READ):
                    size += len(block)
                    if limit is not None and size > limit:
                        raise BlobTooLargeError(limit)
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            self._move_in(temp, sha256)
        finally:
            temp.unlink(missing_ok=True)
        return sha256, size

    def put_file(self, source: Path) -> tuple[str, int]:
        """Store a copy of the file at `source`; returns its (sha256, size)."""
        with source.open("rb") as stream:
            return self.put(stream)

    def remove(self, sha256: str) -> None:
        """Forget a blob (one no resource holds, e.g. after a refused upload)."""
        self.path(sha256).unlink(missing_ok=True)

    def _move_in(self, temp: Path, sha256: str) -> None:
        target = self.path(sha256)
        if target.is_file():
            return  # the same bytes are already here
        target.parent.mkdir(parents=True, exist_ok=True)
        temp.chmod(0o644)
        temp.replace(target)
        _LOGGER.debug("blob stored", extra={"sha256": sha256})
