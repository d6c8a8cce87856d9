"""Offline content on the wire: the signed per-kit manifest, its pointer, the sync events (pure).

The controller keeps resources as content-addressed blobs (sha256) and, for each kit, a manifest:
the pupil's lessons of the next 14 days, their tasks, the resources those tasks need and the blobs
those resources are made of. The manifest is signed with Ed25519 by the controller's *content*
key (not the bundle key) over its canonical JSON (sorted keys, no spaces, UTF-8), in the TUF
shape `{"signed": {...}, "signatures": [{"key_id": ..., "sig": ...}]}`. A kit pins the content
key it was given at enrolment and follows the key's signed hand-overs (`protocol/bundle_keys.py`)
when the controller rotates it. It refuses a manifest that is not for it, unsigned, signed by
another key, older than the one it holds (rollback) or expired (freeze), each with a reason.

A small pointer, retained on `kits/{id}/manifest`, says which manifest is the latest (version,
digest of the signed document, its URL); the kit fetches the document and the blobs over HTTPS
with its client certificate. Large blobs list their content-defined chunks (FastCDC), so a kit
holding an older version of a file fetches only the chunks that changed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import AwareDatetime, Field, ValidationError, model_validator

from protocol.base import WireModel
from protocol.bundle import BundleError, load_public_key
from protocol.bundle_keys import follow, key_fingerprint
from protocol.commands import MAX_HANDOVERS, SignedHandover
from protocol.limits import KIT_ID_PATTERN
from protocol.models import Envelope, LessonMode

SHA256_PATTERN: Final = r"^[0-9a-f]{64}$"
MANIFEST_FORMAT: Final = 1
MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
"""Largest signed manifest document either side accepts (a pupil's fortnight is a few KiB)."""
MAX_BLOB_BYTES: Final = 4 * 1024 * 1024 * 1024
"""Largest single blob a manifest may name (a long lesson video)."""
MAX_RESOURCES: Final = 2000
MAX_TASKS: Final = 2000
MAX_LESSONS: Final = 1000
MAX_CHUNKS: Final = 100_000
LESSON_DAYS: Final = 14
"""How many days of lessons a manifest lists for the pupil's page."""


class ResourceKind(StrEnum):
    """What a resource is, which says how the kit's page opens it."""

    HTML5 = "html5"
    """A zip of an HTML5 package with an entry page, opened in a sandboxed frame."""
    PDF = "pdf"
    EPUB = "epub"
    AUDIO = "audio"
    VIDEO = "video"


class TaskType(StrEnum):
    """The electronic journal's kinds of task."""

    HOMEWORK = "homework"
    CLASSWORK = "classwork"
    INDEPENDENT = "independent"


class Difficulty(StrEnum):
    """How hard a task is, as the teacher judges it."""

    BASIC = "basic"
    MEDIUM = "medium"
    ADVANCED = "advanced"


Language = Literal["kk", "ru", "en"]


class Chunk(WireModel):
    """One content-defined chunk of a blob, in order: its length and hash."""

    length: int = Field(ge=1, le=MAX_BLOB_BYTES)
    sha256: str = Field(pattern=SHA256_PATTERN)


class BlobRef(WireModel):
    """A blob the kit must hold: its hash, size, media type and (for large ones) its chunks."""

    sha256: str = Field(pattern=SHA256_PATTERN)
    size: int = Field(ge=0, le=MAX_BLOB_BYTES)
    media_type: str = Field(min_length=1, max_length=120)
    chunks: list[Chunk] = Field(
        default_factory=list,
        max_length=MAX_CHUNKS,
        description="FastCDC chunks in order (empty: small blob, fetched whole)",
    )

    @model_validator(mode="after")
    def _chunks_cover_the_blob(self) -> BlobRef:
        if self.chunks and sum(c.length for c in self.chunks) != self.size:
            raise ValueError("the chunks' lengths do not add up to the blob's size")
        return self


class Caption(WireModel):
    """A WebVTT captions file for an audio or video resource."""

    language: Language
    sha256: str = Field(pattern=SHA256_PATTERN)


class ManifestResource(WireModel):
    """One resource as the kit shows and opens it."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    title: str = Field(min_length=1, max_length=300)
    kind: ResourceKind
    language: Language
    subject: str = Field(default="", max_length=200)
    grade: int | None = Field(default=None, ge=1, le=11)
    author: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=4000)
    sha256: str = Field(pattern=SHA256_PATTERN, description="the resource's main file")
    entry: str | None = Field(
        default=None, max_length=500, description="an HTML5 package's entry page inside the zip"
    )
    captions: list[Caption] = Field(default_factory=list, max_length=10)


class ManifestTask(WireModel):
    """A task the teacher set: its kind, text, due date, the lesson and resources it belongs to."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    type: TaskType
    difficulty: Difficulty = Difficulty.MEDIUM
    text: str = Field(default="", max_length=4000)
    subject: str = Field(default="", max_length=200)
    lesson_start: AwareDatetime | None = Field(
        default=None, description="the lesson this task belongs to (its start, UTC)"
    )
    due_at: AwareDatetime | None = None
    resources: list[str] = Field(default_factory=list, max_length=50)


class ManifestLesson(WireModel):
    """A lesson of the next days, for the pupil's page (UTC)."""

    start: AwareDatetime
    end: AwareDatetime
    subject: str = Field(default="", max_length=200)
    mode: LessonMode = LessonMode.ONLINE
    webinar_url: str | None = Field(default=None, max_length=500)


class ContentManifest(WireModel):
    """What one kit must hold offline (the `signed` part of the document)."""

    format: Literal[1] = MANIFEST_FORMAT
    kit_id: str = Field(pattern=KIT_ID_PATTERN)
    version: int = Field(ge=1, le=2**62)
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    language: Language = Field(default="kk", description="the pupil's language, the page's first")
    timezone: str = Field(default="Asia/Almaty", max_length=64)
    lessons: list[ManifestLesson] = Field(default_factory=list, max_length=MAX_LESSONS)
    tasks: list[ManifestTask] = Field(default_factory=list, max_length=MAX_TASKS)
    resources: list[ManifestResource] = Field(default_factory=list, max_length=MAX_RESOURCES)
    blobs: list[BlobRef] = Field(default_factory=list, max_length=MAX_RESOURCES * 12)

    @model_validator(mode="after")
    def _consistent(self) -> ContentManifest:
        if self.expires_at <= self.issued_at:
            raise ValueError("the manifest expires before it is issued")
        blobs = {b.sha256 for b in self.blobs}
        if len(blobs) != len(self.blobs):
            raise ValueError("a blob is listed twice")
        ids = {r.id for r in self.resources}
        if len(ids) != len(self.resources):
            raise ValueError("a resource is listed twice")
        for resource in self.resources:
            needed = [resource.sha256, *(c.sha256 for c in resource.captions)]
            if any(sha not in blobs for sha in needed):
                raise ValueError(f"resource {resource.id} names a blob the manifest does not list")
        for task in self.tasks:
            if any(r not in ids for r in task.resources):
                raise ValueError(f"task {task.id} names a resource the manifest does not list")
        return self

    @property
    def total_bytes(self) -> int:
        """The bytes of every blob the kit must hold."""
        return sum(b.size for b in self.blobs)

    def blob(self, sha256: str) -> BlobRef | None:
        """The blob with this hash, if the manifest names it."""
        return next((b for b in self.blobs if b.sha256 == sha256), None)

    def resource(self, resource_id: str) -> ManifestResource | None:
        """The resource with this id, if the manifest lists it."""
        return next((r for r in self.resources if r.id == resource_id), None)

    def resources_for(self, lesson_start: datetime) -> list[ManifestResource]:
        """The resources of the tasks that belong to the lesson starting then."""
        wanted: list[str] = []
        for task in self.tasks:
            if task.lesson_start == lesson_start:
                wanted.extend(r for r in task.resources if r not in wanted)
        return [r for r in self.resources if r.id in wanted]


class ManifestSignature(WireModel):
    """One signature of the manifest: the key's fingerprint and the Ed25519 signature (base64)."""

    key_id: str = Field(pattern=SHA256_PATTERN)
    sig: str = Field(min_length=1, max_length=200)


class SignedManifest(WireModel):
    """The document the kit fetches: the manifest, its signatures, the content key's hand-overs."""

    signed: ContentManifest
    signatures: list[ManifestSignature] = Field(min_length=1, max_length=4)
    handovers: list[SignedHandover] = Field(default_factory=list, max_length=MAX_HANDOVERS)


class ManifestPointer(WireModel):
    """Retained on `kits/{id}/manifest`: the latest manifest's version, digest and URL."""

    version: int = Field(ge=1, le=2**62)
    sha256: str = Field(pattern=SHA256_PATTERN, description="of the signed document's bytes")
    size: int = Field(ge=1, le=MAX_MANIFEST_BYTES)
    url: str = Field(
        min_length=1, max_length=500, description="path on the controller, e.g. /api/v1/..."
    )
    expires_at: AwareDatetime
    total_bytes: int = Field(default=0, ge=0, description="bytes of every blob it names")


class ManifestMessage(Envelope):
    """An envelope carrying a manifest pointer (controller messages use seq 0)."""

    body: ManifestPointer


# --- signing and checking ------------------------------------------------------------------


class ManifestRefusal(StrEnum):
    """Why a kit refused a manifest (the `reason` of a `content_refused` event)."""

    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    WRONG_KIT = "wrong_kit"
    SIGNATURE = "signature"
    ROLLBACK = "rollback"
    EXPIRED = "expired"
    DIGEST = "digest"


class ManifestError(Exception):
    """A manifest refused, with the reason (`ManifestRefusal`) and a sentence for the log."""

    def __init__(self, reason: ManifestRefusal, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def canonical(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 (the bytes a signature covers)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_manifest(
    manifest: ContentManifest,
    key: Ed25519PrivateKey,
    *,
    handovers: Sequence[SignedHandover] = (),
) -> bytes:
    """The signed document's bytes: `manifest` signed by `key`, with the key's hand-overs."""
    signed = manifest.model_dump(mode="json")
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signature = key.sign(canonical(signed))
    document = {
        "signed": signed,
        "signatures": [
            {
                "key_id": key_fingerprint(public_pem),
                "sig": base64.b64encode(signature).decode("ascii"),
            }
        ],
        "handovers": [h.model_dump(mode="json") for h in handovers],
    }
    return canonical(document)


def document_digest(document: bytes) -> str:
    """The sha256 a pointer names for a signed document."""
    return hashlib.sha256(document).hexdigest()


def verify_manifest(
    document: bytes,
    *,
    pinned_key_pem: bytes,
    kit_id: str,
    now: datetime,
    held_version: int | None = None,
    held_digest: str | None = None,
) -> tuple[ContentManifest, bytes]:
    """Check a signed document for this kit; the manifest and the key that signed it (PEM).

    Refused (ManifestError) when it is too large or malformed, not for `kit_id`, not signed by
    the pinned key or a key the pinned key handed over to, older than `held_version`, the same
    version with other bytes, or expired at `now`. The caller pins the returned key.
    """
    if len(document) > MAX_MANIFEST_BYTES:
        raise ManifestError(
            ManifestRefusal.TOO_LARGE, f"{len(document)} bytes > {MAX_MANIFEST_BYTES}"
        )
    try:
        raw = json.loads(document)
        signed_raw = raw["signed"]
        parsed = SignedManifest.model_validate(raw)
    except (ValueError, TypeError, KeyError, ValidationError) as exc:
        raise ManifestError(ManifestRefusal.MALFORMED, _first_line(exc)) from None
    try:
        key_pem = follow(pinned_key_pem, parsed.handovers)
        key = load_public_key(key_pem)
        key_id = key_fingerprint(key_pem)
    except BundleError as exc:
        raise ManifestError(ManifestRefusal.SIGNATURE, str(exc)) from None
    if not _signed_by(key, key_id, canonical(signed_raw), parsed.signatures):
        raise ManifestError(
            ManifestRefusal.SIGNATURE, "not signed by the content key this kit trusts"
        )
    manifest = parsed.signed
    if manifest.kit_id != kit_id:
        raise ManifestError(ManifestRefusal.WRONG_KIT, f"the manifest is for kit {manifest.kit_id}")
    if held_version is not None:
        if manifest.version < held_version:
            raise ManifestError(
                ManifestRefusal.ROLLBACK,
                f"version {manifest.version} is older than the held version {held_version}",
            )
        same_version = manifest.version == held_version
        if same_version and held_digest not in (None, document_digest(document)):
            raise ManifestError(
                ManifestRefusal.ROLLBACK,
                f"version {manifest.version} is held with other contents",
            )
    if manifest.expires_at <= now:
        raise ManifestError(
            ManifestRefusal.EXPIRED, f"the manifest expired at {manifest.expires_at.isoformat()}"
        )
    return manifest, key_pem


def _signed_by(key: Any, key_id: str, data: bytes, signatures: Sequence[ManifestSignature]) -> bool:
    for signature in signatures:
        if signature.key_id != key_id:
            continue
        try:
            key.verify(base64.b64decode(signature.sig, validate=True), data)
        except (InvalidSignature, binascii.Error, ValueError):
            continue
        return True
    return False


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


# --- what the kit reports ------------------------------------------------------------------


class ContentEventKind(StrEnum):
    """The events of content sync (`data` is a `ContentStatus`)."""

    CONTENT_PROGRESS = "content_progress"
    """Downloading: bytes done and to go (at most every few seconds)."""
    CONTENT_SYNCED = "content_synced"
    """The manifest's content is complete and verified; the kit switched to it."""
    CONTENT_REFUSED = "content_refused"
    """A manifest or a blob refused (bad signature, rollback, expiry, tampered bytes)."""
    CONTENT_FAILED = "content_failed"
    """Sync cannot go on (no disk space, the controller unreachable): the reason and the bytes."""
    CONTENT_READINESS = "content_readiness"
    """Per upcoming lesson: its content is on the kit, or what is missing."""


class SyncState(StrEnum):
    """Where a kit's sync stands."""

    SYNCED = "synced"
    SYNCING = "syncing"
    WAITING_LESSON = "waiting_lesson"
    """Paused: an online lesson is on (the kit does not compete with it)."""
    FAILED = "failed"
    REFUSED = "refused"


class LessonContent(WireModel):
    """One upcoming lesson's content on the kit: ready, or the resources still missing."""

    start: AwareDatetime
    subject: str = Field(default="", max_length=200)
    ready: bool
    missing: list[str] = Field(default_factory=list, max_length=50)


class ContentStatus(WireModel):
    """The `data` of every content event: what the kit holds and what it lacks."""

    manifest_version: int | None = Field(default=None, ge=1, le=2**62)
    """The manifest being synced (or the one in force when synced)."""
    serving_version: int | None = Field(default=None, ge=1, le=2**62)
    """The manifest whose content the pupil's page serves now."""
    state: SyncState
    bytes_total: int = Field(default=0, ge=0)
    bytes_have: int = Field(default=0, ge=0)
    bytes_to_go: int = Field(default=0, ge=0)
    missing: list[str] = Field(default_factory=list, max_length=MAX_RESOURCES)
    """Resource ids not yet complete on the kit."""
    reason: str | None = Field(default=None, max_length=64)
    """A `ManifestRefusal` value, or `disk_full`, `unreachable`, `blob_refused`, `http_<code>`."""
    detail: str | None = Field(default=None, max_length=500)
    bytes_missing: int | None = Field(default=None, ge=0)
    """For `disk_full`: how many more bytes the disk would need (with the reserve)."""
    lessons: list[LessonContent] = Field(default_factory=list, max_length=200)


def status_data(status: ContentStatus) -> dict[str, Any]:
    """A status as an event's `data`."""
    return status.model_dump(mode="json", exclude_none=True)
