"""Files written whole or not at all: the one atomic writer of the agent and the controller.

A reader (Mosquitto reading its CRL, the agent reading its certificate, a kit reading its bundle)
sees either the old file or the new one, never half of it, and after a power cut the new file is
either there in full or not there: the data goes to a temporary file in the same directory, born
with its final mode (so a private key is never readable by others, not even for an instant), is
flushed to disk, renamed over the old file, and the directory entry is flushed too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Final

PRIVATE_MODE: Final = 0o600
"""Keys and secrets: readable by their owner only."""
PUBLIC_MODE: Final = 0o644
"""Certificates, public keys, state others may read."""
PRIVATE_DIR_MODE: Final = 0o700
"""A folder of private files: its owner alone lists and enters it."""


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` with `data` atomically and durably, the file having `mode` from the start."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # the umask may have taken bits away from `mode`
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries (a rename into it) to disk; a no-op where that is refused."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on a directory
            os.fsync(fd)
    finally:
        os.close(fd)


def make_private(path: Path, *, create: bool = False) -> None:
    """Make `path` readable and writable by its owner only (created empty first if `create`).

    A file created here is born private (no instant with the umask's bits); a missing file
    without `create` is left missing. A new parent folder is made PRIVATE_DIR_MODE.
    """
    if create and not path.parent.exists():
        path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    flags = os.O_RDONLY | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, PRIVATE_MODE)
    except FileNotFoundError:
        if create:
            raise
        return
    try:
        os.fchmod(fd, PRIVATE_MODE)
    finally:
        os.close(fd)
