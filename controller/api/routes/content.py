"""The content catalogue: upload, search and browse, edit, archive digital educational resources."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile

from controller.api import offload
from controller.api.deps import SessionDep, StateDep, require
from controller.content import catalogue, search
from controller.content.blobstore import BlobStore
from controller.content.schemas import (
    FacetsPublic,
    Grade,
    Language,
    ResourceCreate,
    ResourcePage,
    ResourcePublic,
    ResourceUpdate,
)
from controller.trust.staff import Role
from controller.trust.tables import User
from protocol.content import ResourceKind

router = APIRouter(prefix="/api/v1/content", tags=["content"])
Reader = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN, Role.TEACHER))]
Editor = Annotated[User, Depends(require(Role.ADMIN, Role.TEACHER))]
IdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the resource's id")]
Captions = Annotated[UploadFile | None, File(description="WebVTT captions (audio, video)")]

_REFUSED: dict[int | str, dict[str, Any]] = {
    413: {"description": "the file (or captions) is larger than its limit; nothing stored"},
    422: {"description": "the file is not what its kind says, an unsafe or damaged zip, no "
          "entry page, captions that are not WebVTT, bad metadata: a `reason` code, nothing "
          "stored"},
}  # fmt: skip


def _filters(
    *,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="words in the title, author, description, keywords or provider",
        ),
    ] = None,
    grade: Annotated[Grade | None, Query()] = None,
    subject: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] = None,
    lang: Annotated[Language | None, Query(description="the resource's language")] = None,
    kind: Annotated[ResourceKind | None, Query()] = None,
    archived: Annotated[
        bool, Query(description="archived resources instead of the others")
    ] = False,
) -> search.Filters:
    """The search's and the rubricator's filters from the query string."""
    return search.Filters(q=q, grade=grade, subject=subject, language=lang,
                          kind=kind.value if kind else None, archived=archived)  # fmt: skip


Filters = Annotated[search.Filters, Depends(_filters)]


@router.post("", response_model=ResourcePublic, status_code=201, responses=_REFUSED)
async def upload_resource(
    *,
    meta: Annotated[ResourceCreate, Form()],
    file: Annotated[UploadFile, File(description="the resource: a zip, PDF, EPUB, audio, video")],
    session: SessionDep,
    state: StateDep,
    user: Editor,
    captions_kk: Captions = None,
    captions_ru: Captions = None,
    captions_en: Captions = None,
) -> ResourcePublic:
    """Upload a resource with its metadata (multipart form); checked, stored once, audited."""
    given = {"kk": captions_kk, "ru": captions_ru, "en": captions_en}
    return await offload.run(  # hashing and unzipping in a worker thread, one at a time
        catalogue.upload,
        session,
        BlobStore(state.settings.content_dir),
        meta=meta,
        file=file.file,
        captions={lang: f.file for lang, f in given.items() if f is not None and f.filename},
        actor=user.username,
        now=datetime.now(UTC),
        max_upload=state.settings.content_max_upload_bytes,
    )


@router.get("", response_model=ResourcePage)
def list_resources(
    session: SessionDep,
    user: Reader,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ResourcePage:
    """Search (`q`) and browse by the rubricator (grade, subject, language, kind); the total."""
    return catalogue.find(session, filters, limit=limit, offset=offset)


@router.get("/facets", response_model=FacetsPublic)
def resource_facets(session: SessionDep, user: Reader, filters: Filters) -> FacetsPublic:
    """How many resources match, per grade, subject, language and kind (the same filters)."""
    return catalogue.facets(session, filters)


@router.get("/{resource_id}", response_model=ResourcePublic, responses={404: {}})
def get_resource(resource_id: IdPath, session: SessionDep, user: Reader) -> ResourcePublic:
    """One resource, archived or not."""
    return catalogue.get(session, resource_id)


@router.patch("/{resource_id}", response_model=ResourcePublic, responses={404: {}, 409: {}})
def update_resource(
    resource_id: IdPath, data: ResourceUpdate, session: SessionDep, user: Editor
) -> ResourcePublic:
    """Change a resource's metadata (the fields given); audited. Not an archived one."""
    return catalogue.update(session, resource_id, data, actor=user.username, now=datetime.now(UTC))


@router.post("/{resource_id}/archive", response_model=ResourcePublic, responses={404: {}, 409: {}})
def archive_resource(resource_id: IdPath, session: SessionDep, user: Editor) -> ResourcePublic:
    """Archive a resource: no longer found nor assignable; audited."""
    return catalogue.archive(session, resource_id, actor=user.username, now=datetime.now(UTC))


@router.post("/{resource_id}/restore", response_model=ResourcePublic, responses={404: {}, 409: {}})
def restore_resource(resource_id: IdPath, session: SessionDep, user: Editor) -> ResourcePublic:
    """Bring an archived resource back; audited."""
    return catalogue.restore(session, resource_id, actor=user.username, now=datetime.now(UTC))
