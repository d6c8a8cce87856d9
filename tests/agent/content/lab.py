"""Test support for content sync: a test CA, a kit's state, a content key, a blob server.

`Lab.blob` puts a file on the server (with FastCDC chunks as the controller cuts them),
`Lab.publish` signs a manifest naming blobs and resources and writes it where the server serves
it, returning the pointer the controller would retain on `kits/{id}/manifest`.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastcdc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.content.sync import ContentSync, SyncSettings
from agent.enroll import CONTENT_KEY_FILE
from agent.identity import load_identity
from common import mqtt
from controller.trust import pki
from policy.lessons import Lesson
from protocol.content import (
    BlobRef,
    Chunk,
    ContentManifest,
    ManifestLesson,
    ManifestPointer,
    ManifestResource,
    ManifestTask,
    document_digest,
    sign_manifest,
)
from protocol.models import Event
from tests.agent.content.blobserver import Served, server_context, serving
from tests.support import provision_kit

KIT = "kit-sync"
CHUNK_SIZES = {"min_size": 64 * 1024, "avg_size": 256 * 1024, "max_size": 1024 * 1024}
"""As the controller cuts them (controller/content/chunking.py)."""


def public_pem(key: Ed25519PrivateKey) -> bytes:
    """The key's public half as PEM."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def chunked(data: bytes) -> list[Chunk]:
    """FastCDC chunks of `data`."""
    cut = fastcdc.fastcdc(data, fat=False, hf=hashlib.sha256, **CHUNK_SIZES)
    return [Chunk(length=c.length, sha256=c.hash) for c in cut]


@dataclass
class Lab:
    """The server's files, the kit's state directory, the keys."""

    pki: pki.PkiPaths
    served: Served
    port: int
    host: str
    state: Path
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    events: list[Event] = field(default_factory=list)
    syncs: list[ContentSync] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The controller's base URL."""
        return f"https://{self.host}:{self.port}"

    def blob(self, data: bytes, *, chunks: bool = False) -> BlobRef:
        """Put `data` on the server; its BlobRef."""
        sha = hashlib.sha256(data).hexdigest()
        (self.served.root / "blobs").mkdir(parents=True, exist_ok=True)
        (self.served.root / "blobs" / sha).write_bytes(data)
        return BlobRef(
            sha256=sha,
            size=len(data),
            media_type="application/octet-stream",
            chunks=chunked(data) if chunks else [],
        )

    def manifest(self, version: int, blobs: list[BlobRef], **changes: Any) -> ContentManifest:
        """A manifest naming `blobs`, one resource (and task of the first lesson) per blob."""
        now = datetime.now(UTC).replace(microsecond=0)
        start = now + timedelta(hours=1)
        fields: dict[str, Any] = {
            "kit_id": KIT,
            "version": version,
            "issued_at": now - timedelta(minutes=1),
            "expires_at": now + timedelta(days=7),
            "lessons": [ManifestLesson(start=start, end=start + timedelta(minutes=45))],
            "blobs": blobs,
            "resources": [
                ManifestResource(
                    id=f"r{i}", title=f"Resource {i}", kind="video", language="kk", sha256=b.sha256
                )
                for i, b in enumerate(blobs)
            ],
            "tasks": [
                ManifestTask(
                    id="t1",
                    type="homework",
                    lesson_start=start,
                    resources=[f"r{i}" for i in range(len(blobs))],
                )
            ],
        }
        fields.update(changes)
        return ContentManifest(**fields)

    def publish(
        self, manifest: ContentManifest, *, key: Ed25519PrivateKey | None = None, **sign: Any
    ) -> ManifestPointer:
        """Sign `manifest` (with `key`, default the lab's) and serve it; the pointer."""
        document = sign_manifest(manifest, key or self.key, **sign)
        folder = self.served.root / "manifests"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{manifest.kit_id}-{manifest.version}.json").write_bytes(document)
        return ManifestPointer(
            version=manifest.version,
            sha256=document_digest(document),
            size=len(document),
            url=f"/api/v1/kits/{manifest.kit_id}/manifest?version={manifest.version}",
            expires_at=manifest.expires_at,
            total_bytes=manifest.total_bytes,
        )

    def sync(self, lessons: Callable[[], list[Lesson]] = list, **settings: Any) -> ContentSync:
        """The kit's sync against the lab's server (events into `self.events`)."""
        identity = load_identity(self.state)
        assert identity is not None
        tls = mqtt.tls_context(ca=identity.ca_path, cert=identity.cert_path, key=identity.key_path)
        sync = ContentSync(
            state_dir=self.state,
            kit_id=KIT,
            controller_url=self.url,
            tls=tls,
            publish_event=self.events.append,
            lessons=lessons,
            settings=SyncSettings(**{"rate": 0, "timeout": 5.0, **settings}),
        )
        self.syncs.append(sync)
        return sync

    def kinds(self) -> list[str]:
        """The kinds of the events so far."""
        return [e.kind for e in self.events]


def make_pki(root: Path, hosts: list[str]) -> pki.PkiPaths:
    """A test CA with a server certificate for `hosts`."""
    return pki.init_pki(root, hosts=hosts, now=datetime.now(UTC))


def kit_state(paths: pki.PkiPaths, state: Path, content_key: Ed25519PrivateKey) -> None:
    """A fresh kit state: identity from the CA and the pinned content key."""
    if state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True)
    provision_kit(paths, state, KIT)
    (state / CONTENT_KEY_FILE).write_bytes(public_pem(content_key))


@contextmanager
def lab(tmp: Path, host: str = "127.0.0.1") -> Iterator[Lab]:
    """A running server on `host` and a kit state in `tmp`."""
    paths = make_pki(tmp / "pki", [host])
    served = Served(tmp / "served")
    tls = server_context(paths.controller_cert, paths.controller_key, paths.ca_cert)
    with serving(served, tls, host) as port:
        it = Lab(paths, served, port, host, tmp / "kit")
        kit_state(paths, it.state, it.key)
        try:
            yield it
        finally:
            for sync in it.syncs:
                sync.stop()
