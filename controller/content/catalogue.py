"""The catalogue's front door: what other domains and the API call.

`manifest_entries` and `existing_resources` are what the assignments and manifests need (the
resources a kit's manifest lists and the blobs they are made of); the upload, edit and archive
functions own the catalogue's rules and audit every change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.content.tables import ContentBlob, ContentCaption, ContentResource
from protocol.content import BlobRef, Caption, Chunk, ManifestResource, ResourceKind

_LOGGER = logging.getLogger(__name__)

_BATCH = 500
"""Ids per `IN (...)` (SQLite's parameter limit is far above; PostgreSQL's plans stay small)."""


def _batches(ids: Iterable[str]) -> Iterable[list[str]]:
    unique = sorted(set(ids))
    for start in range(0, len(unique), _BATCH):
        yield unique[start : start + _BATCH]


def existing_resources(session: Session, resource_ids: Iterable[str]) -> set[str]:
    """Those of `resource_ids` that are in the catalogue and not archived."""
    found: set[str] = set()
    for batch in _batches(resource_ids):
        query = select(ContentResource.id).where(
            ContentResource.id.in_(batch), ContentResource.archived_at.is_(None)
        )
        found.update(session.scalars(query))
    return found


def blob_ref(blob: ContentBlob) -> BlobRef:
    """A stored blob as a manifest names it (with its chunks, if it has any)."""
    return BlobRef(
        sha256=blob.sha256,
        size=blob.size,
        media_type=blob.media_type,
        chunks=[Chunk(length=c["length"], sha256=c["sha256"]) for c in blob.chunks or []],
    )


def manifest_resource(
    resource: ContentResource, captions: Sequence[ContentCaption]
) -> ManifestResource:
    """A resource as a kit's manifest lists it."""
    return ManifestResource(
        id=resource.id,
        title=resource.title,
        kind=ResourceKind(resource.kind),
        language=resource.language,
        subject=resource.subject,
        grade=resource.grade,
        author=resource.author,
        description=resource.description,
        sha256=resource.sha256,
        entry=resource.entry,
        captions=[
            Caption(language=c.language, sha256=c.sha256)
            for c in sorted(captions, key=lambda c: c.language)
        ],
    )


def manifest_entries(
    session: Session, resource_ids: Sequence[str]
) -> tuple[list[ManifestResource], list[BlobRef]]:
    """The resources of `resource_ids` that exist and are not archived (in id order), and every
    blob they are made of (main files and captions, each once, with chunks, in hash order)."""
    resources: list[ContentResource] = []
    captions: dict[str, list[ContentCaption]] = {}
    for batch in _batches(resource_ids):
        resources.extend(
            session.scalars(
                select(ContentResource).where(
                    ContentResource.id.in_(batch), ContentResource.archived_at.is_(None)
                )
            )
        )
        for caption in session.scalars(
            select(ContentCaption).where(ContentCaption.resource_id.in_(batch))
        ):
            captions.setdefault(caption.resource_id, []).append(caption)
    resources.sort(key=lambda r: r.id)
    entries = [manifest_resource(r, captions.get(r.id, [])) for r in resources]
    needed = {e.sha256 for e in entries} | {c.sha256 for e in entries for c in e.captions}
    blobs: list[BlobRef] = []
    for batch in _batches(needed):
        blobs.extend(
            blob_ref(b)
            for b in session.scalars(select(ContentBlob).where(ContentBlob.sha256.in_(batch)))
        )
    blobs.sort(key=lambda b: b.sha256)
    return entries, blobs
