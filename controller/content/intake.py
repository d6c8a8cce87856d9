"""A resource on its way in: its files checked (`prepare`, no disk, no database), then stored
(`store`: blobs once by sha256, the rows, the search index, the audit entry; no commit).

Both the API's upload and the batch import go through here, so a file is held to the same rules
whichever way it comes. `store` notes each blob it wrote that was not there before
(`Stored.new_blobs`): if the transaction is then rolled back, `discard` removes them, so nothing
refused leaves a file behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.i18n import LANGS
from controller.content import chunking, packages, search
from controller.content.blobstore import BlobStore, BlobTooLargeError
from controller.content.errors import ContentRefusedError, ContentTooLargeError
from controller.content.schemas import ResourceCreate
from controller.content.tables import ContentBlob, ContentCaption, ContentResource
from controller.platform import audit

CAPTIONS_MEDIA_TYPE = "text/vtt"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A resource whose files passed every check: ready to store."""

    meta: ResourceCreate
    file: IO[bytes]
    size: int
    checked: packages.Checked
    captions: Mapping[str, bytes]


def file_size(file: IO[bytes]) -> int:
    """The size of a seekable file (left at its start)."""
    size = file.seek(0, 2)
    file.seek(0)
    return size


def read_captions(files: Mapping[str, IO[bytes]]) -> dict[str, bytes]:
    """Each captions file's bytes by language (read at most one byte past the limit)."""
    return {lang: f.read(packages.MAX_CAPTIONS_BYTES + 1) for lang, f in files.items()}


def prepare(
    meta: ResourceCreate, file: IO[bytes], captions: Mapping[str, IO[bytes]], *, configured: int
) -> Prepared:
    """Check the main file against the kind and limits, and each captions file (kk, ru, en);
    refused with a reason (`ContentRefusedError`) otherwise."""
    size = file_size(file)
    checked = packages.check(
        file, kind=meta.kind, size=size, configured=configured, entry=meta.entry
    )
    read = read_captions(captions)
    for language, data in read.items():
        if language not in LANGS:
            raise ContentRefusedError("captions_language", language=language[:20])
        packages.check_captions(meta.kind, data)
    return Prepared(meta, file, size, checked, read)


@dataclass
class Stored:
    """What `store` added: the resource, and the blobs written that were not there before."""

    resource: ContentResource | None = None
    new_blobs: list[str] = field(default_factory=list)


def _blob(
    session: Session,
    blobs: BlobStore,
    stored: Stored,
    file: IO[bytes],
    *,
    media: str,
    limit: int,
    now: datetime,
) -> str:
    """Store the file's bytes once (its blob row too); returns its sha256."""
    file.seek(0)
    try:
        sha256, size = blobs.put(file, limit=limit)
    except BlobTooLargeError as exc:  # the file grew since it was checked
        raise ContentTooLargeError("too_large", size=exc.limit + 1, limit=exc.limit) from exc
    if session.get(ContentBlob, sha256) is None:
        stored.new_blobs.append(sha256)
        chunks = chunking.chunks(blobs.path(sha256), size)
        session.add(
            ContentBlob(
                sha256=sha256,
                size=size,
                media_type=media,
                chunks=[c.model_dump() for c in chunks],
                created_at=now,
            )
        )
        session.flush()
    return sha256


def store(
    session: Session,
    blobs: BlobStore,
    prepared: Prepared,
    *,
    actor: str,
    now: datetime,
    stored: Stored | None = None,
) -> ContentResource:
    """Add the prepared resource: its blobs, rows, search words and audit entry (no commit)."""
    stored = stored if stored is not None else Stored()
    sha256 = _blob(
        session,
        blobs,
        stored,
        prepared.file,
        media=prepared.checked.media_type,
        limit=prepared.size,
        now=now,
    )
    meta = prepared.meta
    resource = ContentResource(
        id=uuid.uuid4().hex,
        **meta.model_dump(exclude={"kind", "entry"}),
        kind=meta.kind.value,
        sha256=sha256,
        entry=prepared.checked.entry,
        created_at=now,
        created_by=actor,
        updated_at=now,
        archived_at=None,
    )
    session.add(resource)
    session.flush()
    for language, data in sorted(prepared.captions.items()):
        caption = _blob(
            session,
            blobs,
            stored,
            BytesIO(data),
            media=CAPTIONS_MEDIA_TYPE,
            limit=len(data),
            now=now,
        )
        session.add(ContentCaption(resource_id=resource.id, language=language, sha256=caption))
    search.index(session, resource)
    audit_change(
        session,
        "content.create",
        resource.id,
        actor=actor,
        now=now,
        after=described(resource) | {"captions": sorted(prepared.captions)},
    )
    stored.resource = resource
    return resource


def audit_change(
    session: Session,
    action: str,
    resource_id: str,
    *,
    actor: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record a change of a resource in the audit log (in the change's transaction)."""
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="content_resource",
        entity_id=resource_id,
        now=now,
        before=before,
        after=after,
    )


def described(resource: ContentResource) -> dict[str, Any]:
    """A resource's metadata for the audit log."""
    names = ("title", "subject", "grade", "language", "author", "provider", "keywords", "kind")
    return {n: getattr(resource, n) for n in names} | {"sha256": resource.sha256}


def discard(session: Session, blobs: BlobStore, new_blobs: list[str]) -> None:
    """After a rollback: remove the blobs `store` wrote that no row holds."""
    for sha256 in new_blobs:
        held = session.scalar(select(ContentBlob.sha256).where(ContentBlob.sha256 == sha256))
        if held is None:
            blobs.remove(sha256)
