"""Each kit's manifests in the database: what goes in one, issuing a new version, keeping a few.

`inputs_for` reads what a kit's manifest is made of: the pupil the kit is lent to now (the loans'
contract, through the schedules service), their lessons of the next days, their assignments and
the catalogue's entries for the resources those name. `refresh` builds the manifest and, when
`manifests.next_issue` says so, signs and stores a new version (the last `KEEP` stay).
`deliverable` says which of a kit's manifests it may still fetch blobs for.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from controller.content import assignments, catalogue, manifests
from controller.content.assignment_tables import Assignment
from controller.content.keys import Signer
from controller.content.manifest_tables import IssuedManifest
from controller.schedules import service as schedules
from protocol.content import (
    MAX_MANIFEST_BYTES,
    Difficulty,
    ManifestLesson,
    ManifestPointer,
    ManifestTask,
    TaskType,
    document_digest,
    sign_manifest,
)
from protocol.models import LessonWindow

_LOGGER = logging.getLogger(__name__)

KEEP: Final = 5
"""Manifests kept per kit (the newest)."""
DELIVERABLE: Final = 3
"""A kit may fetch the blobs named by its newest few manifests that have not expired."""


def task(row: Assignment) -> ManifestTask:
    """An assignment as the kit's manifest lists it."""
    return ManifestTask(
        id=row.task_id,
        type=TaskType(row.type),
        difficulty=Difficulty(row.difficulty),
        text=row.text,
        subject=row.subject,
        lesson_start=row.lesson_start,
        due_at=row.due_at,
        resources=list(row.resources),
    )


def webinar_url(server: str | None) -> str | None:
    """A lesson's webinar link: the schedule's URL, or https:// before its host:port."""
    if not server:
        return None
    url = server if server.startswith(("https://", "http://")) else f"https://{server}"
    return url if len(url) <= 500 else None


def lesson(window: LessonWindow) -> ManifestLesson:
    """A lesson of the kit's schedule as the pupil's page shows it."""
    return ManifestLesson(
        start=window.start,
        end=window.end,
        subject=window.subject,
        mode=window.mode,
        webinar_url=webinar_url(window.server),
    )


def inputs_for(session: Session, kit_id: str, now: datetime) -> manifests.Inputs | None:
    """What the kit's manifest is made of now; None when the kit is lent to nobody."""
    pupil_ref = schedules.pupil_for_kit(session, kit_id)
    if pupil_ref is None:
        return None
    schedule = schedules.kit_schedule(session, kit_id=kit_id, now=now, horizon=manifests.WINDOW)
    tasks = manifests.current_tasks(
        (task(r) for r in assignments.for_pupil(session, pupil_ref)), now
    )
    resources, blobs = catalogue.manifest_entries(
        session, sorted({r for t in tasks for r in t.resources})
    )
    return manifests.Inputs(
        kit_id=kit_id,
        timezone=schedule.timezone if schedule is not None else "Asia/Almaty",
        lessons=[lesson(w) for w in schedule.lessons] if schedule is not None else [],
        tasks=tasks,
        resources=resources,
        blobs=blobs,
    )


def latest(session: Session, kit_id: str) -> IssuedManifest | None:
    """The newest manifest issued to the kit."""
    return session.scalar(
        select(IssuedManifest)
        .where(IssuedManifest.kit_id == kit_id)
        .order_by(IssuedManifest.version.desc())
        .limit(1)
    )


def held(session: Session, kit_id: str) -> manifests.Issued | None:
    """The version, content digest and expiry of the kit's newest manifest (not its bytes)."""
    row = session.execute(
        select(IssuedManifest.version, IssuedManifest.content_digest, IssuedManifest.expires_at)
        .where(IssuedManifest.kit_id == kit_id)
        .order_by(IssuedManifest.version.desc())
        .limit(1)
    ).first()
    return manifests.Issued(row[0], row[1], row[2]) if row is not None else None


def refresh(session: Session, kit_id: str, now: datetime, signer: Signer) -> IssuedManifest | None:
    """Issue the kit a new manifest if its content changed or the held one nears expiry.

    A kit lent to nobody that was given manifests before gets an empty one (its content goes).
    The new row, or None when the newest one stands (or the document would be too large).
    """
    previous = held(session, kit_id)
    inputs = inputs_for(session, kit_id, now)
    if inputs is None:
        if previous is None:
            return None
        inputs = manifests.Inputs(kit_id, "Asia/Almaty", [], [], [], [])
    built = manifests.build(inputs, version=1, issued_at=now)
    digest = manifests.content_digest(built)
    version = manifests.next_issue(previous, digest, now)
    if version is None:
        return None
    manifest = built.model_copy(update={"version": version})
    document = sign_manifest(manifest, signer.key, handovers=signer.handovers)
    if len(document) > MAX_MANIFEST_BYTES:
        _LOGGER.error("the manifest of kit %s is too large (%d bytes)", kit_id, len(document))
        return None
    row = IssuedManifest(
        kit_id=kit_id,
        version=version,
        sha256=document_digest(document),
        content_digest=digest,
        document=document,
        blobs=[b.sha256 for b in manifest.blobs],
        total_bytes=manifest.total_bytes,
        issued_at=manifest.issued_at,
        expires_at=manifest.expires_at,
    )
    session.add(row)
    session.flush()
    _prune(session, kit_id, version)
    return row


def _prune(session: Session, kit_id: str, newest: int) -> None:
    session.execute(
        delete(IssuedManifest).where(
            IssuedManifest.kit_id == kit_id, IssuedManifest.version <= newest - KEEP
        )
    )


def pointer_url(kit_id: str, version: int) -> str:
    """Where a kit fetches a manifest of its own."""
    return f"/api/v1/kits/{kit_id}/manifest?version={version}"


def pointer(row: IssuedManifest) -> ManifestPointer:
    """The retained pointer announcing a stored manifest."""
    return ManifestPointer(
        version=row.version,
        sha256=row.sha256,
        size=len(row.document),
        url=pointer_url(row.kit_id, row.version),
        expires_at=row.expires_at,
        total_bytes=row.total_bytes,
    )


def issued(session: Session, kit_id: str, version: int | None) -> IssuedManifest | None:
    """The kit's manifest of this version (None: the newest)."""
    if version is None:
        return latest(session, kit_id)
    return session.scalar(
        select(IssuedManifest).where(
            IssuedManifest.kit_id == kit_id, IssuedManifest.version == version
        )
    )


def deliverable(session: Session, kit_id: str, now: datetime) -> Sequence[IssuedManifest]:
    """The kit's newest `DELIVERABLE` manifests that have not expired."""
    rows = session.scalars(
        select(IssuedManifest)
        .where(IssuedManifest.kit_id == kit_id)
        .order_by(IssuedManifest.version.desc())
        .limit(DELIVERABLE)
    ).all()
    return [r for r in rows if r.expires_at > now]


def newest_per_kit(
    session: Session, kit_ids: Collection[str] | None = None
) -> dict[str, IssuedManifest]:
    """The newest manifest of each kit (of these kits) that has one, in one query."""
    query = select(IssuedManifest.kit_id, func.max(IssuedManifest.version).label("version"))
    if kit_ids is not None:
        query = query.where(IssuedManifest.kit_id.in_(sorted(set(kit_ids))))
    newest = query.group_by(IssuedManifest.kit_id).subquery()
    rows = session.scalars(
        select(IssuedManifest).join(
            newest,
            and_(
                IssuedManifest.kit_id == newest.c.kit_id,
                IssuedManifest.version == newest.c.version,
            ),
        )
    )
    return {row.kit_id: row for row in rows}
