"""The catalogue's front door: what other domains, the API and the command line call.

`manifest_entries` and `existing_resources` are what the assignments and manifests need (the
resources a kit's manifest lists and the blobs they are made of); `upload`, `update`, `archive`
and `restore` own the catalogue's rules, audit every change and commit; `find`, `facets` and
`get` answer the API. A refused upload leaves neither a row nor a file behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.content import intake, search
from controller.content.blobstore import BlobStore
from controller.content.errors import ResourceNotFoundError, ResourceStateError
from controller.content.schemas import (
    CaptionPublic,
    FacetCount,
    FacetsPublic,
    ResourceCreate,
    ResourcePage,
    ResourcePublic,
    ResourceUpdate,
)
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


# --- the API's and the command line's front door -------------------------------------------------


def publics(session: Session, resources: Sequence[ContentResource]) -> list[ResourcePublic]:
    """Resources as the API shows them (their blobs and captions read in two queries)."""
    ids = [r.id for r in resources]
    blobs = {
        b.sha256: b
        for b in session.scalars(
            select(ContentBlob).where(ContentBlob.sha256.in_({r.sha256 for r in resources}))
        )
    }
    captions: dict[str, list[CaptionPublic]] = {}
    for caption in session.scalars(
        select(ContentCaption)
        .where(ContentCaption.resource_id.in_(ids))
        .order_by(ContentCaption.language)
    ):
        captions.setdefault(caption.resource_id, []).append(
            CaptionPublic(language=caption.language, sha256=caption.sha256)
        )
    return [
        ResourcePublic(
            id=r.id,
            title=r.title,
            subject=r.subject,
            grade=r.grade,
            language=r.language,
            author=r.author,
            provider=r.provider,
            keywords=r.keywords,
            description=r.description,
            kind=ResourceKind(r.kind),
            entry=r.entry,
            sha256=r.sha256,
            size=blobs[r.sha256].size,
            media_type=blobs[r.sha256].media_type,
            chunks=len(blobs[r.sha256].chunks or []),
            captions=captions.get(r.id, []),
            created_at=r.created_at,
            created_by=r.created_by,
            updated_at=r.updated_at,
            archived_at=r.archived_at,
        )
        for r in resources
    ]


def upload(
    session: Session,
    blobs: BlobStore,
    *,
    meta: ResourceCreate,
    file: IO[bytes],
    captions: Mapping[str, IO[bytes]],
    actor: str,
    now: datetime,
    max_upload: int,
) -> ResourcePublic:
    """Check, store and commit a new resource (audited); refused with a reason, storing nothing."""
    prepared = intake.prepare(meta, file, captions, configured=max_upload)
    stored = intake.Stored()
    try:
        resource = intake.store(session, blobs, prepared, actor=actor, now=now, stored=stored)
        session.commit()
    except BaseException:
        session.rollback()
        intake.discard(session, blobs, stored.new_blobs)
        raise
    _LOGGER.info("content resource %s stored by %s", resource.id, actor)
    return publics(session, [resource])[0]


def _resource(session: Session, resource_id: str) -> ContentResource:
    resource = session.get(ContentResource, resource_id)
    if resource is None:
        raise ResourceNotFoundError.translated("missing.resource", id=resource_id[:64])
    return resource


def get(session: Session, resource_id: str) -> ResourcePublic:
    """One resource by id, archived or not (404 otherwise)."""
    return publics(session, [_resource(session, resource_id)])[0]


def update(
    session: Session, resource_id: str, changes: ResourceUpdate, *, actor: str, now: datetime
) -> ResourcePublic:
    """Change a resource's metadata (not an archived one's); audited with before and after."""
    resource = _resource(session, resource_id)
    if resource.archived_at is not None:
        raise ResourceStateError.translated("state.archived", id=resource_id)
    given = changes.model_dump(exclude_unset=True, exclude_none=True)
    before = {name: getattr(resource, name) for name in given}
    for name, value in given.items():
        setattr(resource, name, value)
    if given:
        resource.updated_at = now
        search.index(session, resource)
        intake.audit_change(
            session, "content.update", resource.id, actor=actor, now=now, before=before, after=given
        )
        session.commit()
    return publics(session, [resource])[0]


def archive(session: Session, resource_id: str, *, actor: str, now: datetime) -> ResourcePublic:
    """Archive a resource: no longer found nor assigned (kits that hold it keep it for now)."""
    return _set_archived(session, resource_id, archived=True, actor=actor, now=now)


def restore(session: Session, resource_id: str, *, actor: str, now: datetime) -> ResourcePublic:
    """Bring an archived resource back into the catalogue."""
    return _set_archived(session, resource_id, archived=False, actor=actor, now=now)


def _set_archived(
    session: Session, resource_id: str, *, archived: bool, actor: str, now: datetime
) -> ResourcePublic:
    resource = _resource(session, resource_id)
    if (resource.archived_at is not None) == archived:
        key = "state.already_archived" if archived else "state.not_archived"
        raise ResourceStateError.translated(key, id=resource_id)
    before = resource.archived_at
    resource.archived_at = now if archived else None
    resource.updated_at = now
    intake.audit_change(
        session,
        "content.archive" if archived else "content.restore",
        resource.id,
        actor=actor,
        now=now,
        before={"archived_at": before.isoformat() if before else None},
        after={"archived_at": resource.archived_at.isoformat() if resource.archived_at else None},
    )
    session.commit()
    return publics(session, [resource])[0]


def find(session: Session, filters: search.Filters, *, limit: int, offset: int) -> ResourcePage:
    """A page of the resources the search and the rubricator's filters match, and the total."""
    found, total = search.find(session, filters, limit=limit, offset=offset)
    return ResourcePage(items=publics(session, found), total=total, limit=limit, offset=offset)


def facets(session: Session, filters: search.Filters) -> FacetsPublic:
    """How many matching resources there are per grade, subject, language and kind."""
    counts = search.facets(session, filters)
    return FacetsPublic(
        total=counts["total"][0][1],
        **{
            name: [FacetCount(value=v, count=n) for v, n in counts[name]]
            for name in ("grade", "subject", "language", "kind")
        },
    )
