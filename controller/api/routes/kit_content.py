"""Content for kits and staff: a kit's signed manifest and blobs (mTLS), sync status, alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse

from controller.api import peer
from controller.api.deps import SessionDep, StateDep, TokenDep, require
from controller.api.language import RequestLang
from controller.content import delivery, sync_status_views
from controller.content.assignment_schemas import (
    ContentAlert,
    KitContentPublic,
    PupilContentPublic,
)
from controller.content.blobstore import BlobStore
from controller.loans import people
from controller.trust.staff import Role, authenticate
from controller.trust.tables import User
from protocol.content import SignedManifest
from protocol.limits import KIT_ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["content delivery"])
Staff = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN, Role.TEACHER))]
Reader = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN))]
KitIdPath = Annotated[str, Path(pattern=KIT_ID_PATTERN, description="the kit's id")]
RefPath = Annotated[str, Path(pattern=people.REF, description="the pupil's reference")]
ShaPath = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="the blob's sha256")]


def asking(request: Request, session: SessionDep, token: TokenDep) -> delivery.Reader:
    """Who asks: the kit of the client certificate, else the signed-in member of staff."""
    kit_id = delivery.kit_of(session, peer.client_certificate(request.scope))
    user = authenticate(session, token=token, now=datetime.now(UTC)) if token else None
    return delivery.Reader(kit_id=kit_id, user=user)


Asking = Annotated[delivery.Reader, Depends(asking)]


@router.get(
    "/kits/{kit_id}/manifest",
    response_class=Response,
    responses={
        200: {"model": SignedManifest, "description": "the signed manifest document's bytes"},
        403: {"description": "not that kit's certificate, nor an admin"},
        404: {"description": "no such manifest"},
    },
)
def get_manifest(
    kit_id: KitIdPath,
    session: SessionDep,
    reader: Asking,
    version: Annotated[int | None, Query(ge=1, le=2**62, description="default: the newest")] = None,
) -> Response:
    """The kit's signed manifest document: only to that kit's certificate (and admins)."""
    row = delivery.manifest_document(session, kit_id=kit_id, version=version, reader=reader)
    return Response(
        row.document,
        media_type="application/json",
        headers={"ETag": f'"{row.sha256}"', "Cache-Control": "no-store"},
    )


@router.get(
    "/content/blobs/{sha256}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the blob's bytes"},
        206: {"description": "the range asked for"},
        403: {"description": "kits only (by their client certificate)"},
        404: {"description": "no blob of this kit's manifests by that hash"},
    },
)
def get_blob(sha256: ShaPath, session: SessionDep, state: StateDep, reader: Asking) -> FileResponse:
    """A blob one of the asking kit's current manifests names (Range and If-Range work)."""
    path = delivery.blob_file(
        session,
        sha256=sha256,
        kit_id=reader.kit_id,
        store=BlobStore(state.settings.content_dir),
        now=datetime.now(UTC),
    )
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers={"ETag": f'"{sha256}"', "Cache-Control": "private, max-age=31536000, immutable"},
    )


@router.get(
    "/kits/{kit_id}/content",
    response_model=KitContentPublic,
    responses={404: {"description": "no such kit (that you may see)"}},
)
def kit_content(kit_id: KitIdPath, session: SessionDep, user: Staff) -> KitContentPublic:
    """What the kit holds: its manifests, sync state, bytes to go, last error, lessons, tasks."""
    return sync_status_views.kit_content(session, user=user, kit_id=kit_id, now=datetime.now(UTC))


@router.get(
    "/pupils/{ref}/content",
    response_model=PupilContentPublic,
    responses={404: {"description": "no such pupil (that you may see)"}},
)
def pupil_content(ref: RefPath, session: SessionDep, user: Staff) -> PupilContentPublic:
    """The pupil's content on each of their kits (teachers: their own pupils)."""
    return sync_status_views.pupil_content(session, user=user, pupil_ref=ref, now=datetime.now(UTC))


@router.get("/alerts/content", response_model=list[ContentAlert])
def content_alerts(session: SessionDep, user: Reader, lang: RequestLang) -> list[ContentAlert]:
    """Lessons within 30 minutes whose content is not on the kit."""
    return sync_status_views.alerts(session, now=datetime.now(UTC), lang=lang)
