"""The kit's content store on disk: blobs by sha256, the manifest served and the one being synced.

Layout under `<state_dir>/content/`:
- `blobs/<sha[:2]>/<sha>`: verified blobs (a blob is renamed in only after its hash checked out);
- `partial/<sha>.part`: downloads under way (kept across restarts: a download resumes);
- `current.json`: the signed manifest document the pupil's page serves (replaced atomically, only
  once every blob it names is here, so the previous content is served until the new is complete);
- `pending.json`: the newest verified manifest, being synced (gone once it is current).

Readers (the local web server) call `current()` and `blob_path()`; the sync writes. Nothing here
verifies signatures: a document reaches `set_pending` only after `verify_manifest`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from common.files import PUBLIC_MODE, fsync_dir, write_atomic
from protocol.content import BlobRef, ContentManifest, SignedManifest, document_digest

_LOGGER = logging.getLogger(__name__)

CONTENT_DIR: Final = "content"
CURRENT: Final = "current.json"
PENDING: Final = "pending.json"


@dataclass(frozen=True)
class Held:
    """A manifest document on the kit: the manifest, its bytes' digest."""

    manifest: ContentManifest
    digest: str


class ContentStore:
    """The content folder of one kit (thread-safe; readers never see a half-switched state)."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / CONTENT_DIR
        self.blobs = self.root / "blobs"
        self.partial = self.root / "partial"
        for folder in (self.root, self.blobs, self.partial):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Held | None]] = {}

    # --- manifests ---------------------------------------------------------------------------

    def _read(self, name: str) -> Held | None:
        path = self.root / name
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        cached = self._cache.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            data = path.read_bytes()
            held: Held | None = Held(
                SignedManifest.model_validate_json(data).signed, document_digest(data)
            )
        except (OSError, ValueError):
            _LOGGER.exception("cannot read the content manifest %s", path)
            held = None
        self._cache[name] = (stamp, held)
        return held

    def current(self) -> ContentManifest | None:
        """The manifest whose content is served now (None: no content yet)."""
        with self._lock:
            held = self._read(CURRENT)
        return held.manifest if held else None

    def current_held(self) -> Held | None:
        """The served manifest with its digest."""
        with self._lock:
            return self._read(CURRENT)

    def pending(self) -> Held | None:
        """The newest verified manifest still being synced, if any."""
        with self._lock:
            return self._read(PENDING)

    def pending_document(self) -> bytes | None:
        """The pending manifest's document bytes."""
        try:
            return (self.root / PENDING).read_bytes()
        except FileNotFoundError:
            return None

    def newest(self) -> Held | None:
        """The highest version this kit accepted (pending or served): the rollback floor."""
        with self._lock:
            held = [h for h in (self._read(PENDING), self._read(CURRENT)) if h is not None]
        return max(held, key=lambda h: h.manifest.version, default=None)

    def set_pending(self, document: bytes) -> None:
        """Keep a verified document as the manifest to sync next."""
        with self._lock:
            write_atomic(self.root / PENDING, document, PUBLIC_MODE)

    def switch(self, document: bytes) -> None:
        """Serve `document` from now on (every blob it names must be here); drop the pending."""
        manifest = SignedManifest.model_validate_json(document).signed
        absent = [b.sha256 for b in manifest.blobs if not self.has(b.sha256)]
        if absent:
            raise ValueError(f"{len(absent)} blobs of version {manifest.version} are not here")
        with self._lock:
            write_atomic(self.root / CURRENT, document, PUBLIC_MODE)
            pending = self._read(PENDING)
            if pending is not None and pending.manifest.version <= manifest.version:
                (self.root / PENDING).unlink(missing_ok=True)

    # --- blobs -------------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        """Where the verified blob with this hash lives (it may not be there)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256")
        return self.blobs / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        """Whether the verified blob is here."""
        return self.blob_path(sha256).is_file()

    def partial_path(self, sha256: str) -> Path:
        """Where a download of this blob accumulates."""
        self.blob_path(sha256)  # checks the name
        return self.partial / f"{sha256}.part"

    def adopt(self, sha256: str, verified: Path) -> None:
        """Move a verified file in as the blob `sha256` (atomic rename, durable)."""
        target = self.blob_path(sha256)
        target.parent.mkdir(exist_ok=True)
        with open(verified, "rb") as handle:  # noqa: PTH123
            os.fsync(handle.fileno())
        os.chmod(verified, PUBLIC_MODE)  # noqa: PTH101
        verified.replace(target)
        fsync_dir(target.parent)

    def missing(self, manifest: ContentManifest) -> list[BlobRef]:
        """The blobs `manifest` names that are not here yet."""
        return [b for b in manifest.blobs if not self.has(b.sha256)]

    def held_bytes(self) -> int:
        """Bytes of every verified blob and partial download on the kit."""
        total = 0
        for folder in (self.blobs, self.partial):
            for path in folder.rglob("*"):
                with contextlib.suppress(OSError):
                    if path.is_file():
                        total += path.stat().st_size
        return total

    def collect(self) -> int:
        """Delete blobs and partial downloads neither the served nor the pending manifest names."""
        keep: set[str] = set()
        for held in (self.current_held(), self.pending()):
            if held is not None:
                keep.update(b.sha256 for b in held.manifest.blobs)
        freed = 0
        for path in [*self.blobs.glob("*/*"), *self.partial.glob("*.part")]:
            sha = path.name.removesuffix(".part")
            if sha in keep:
                continue
            with contextlib.suppress(OSError):
                freed += path.stat().st_size
                path.unlink()
        return freed
