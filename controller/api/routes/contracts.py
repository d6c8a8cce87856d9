"""Components (inventory), contracts of free temporary use, CSV imports and the register."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Response

from controller.api import offload
from controller.api.csv_download import csv_download
from controller.api.deps import SessionDep, StateDep, require
from controller.api.offload import Body
from controller.api.routes.people import Cipher
from controller.loans import contracts, imports
from controller.loans import service as loans
from controller.loans.lifecycle import Action
from controller.loans.schemas import (
    REF,
    ComponentCreate,
    ComponentPublic,
    ComponentUpdate,
    ContractAction,
    ContractCreate,
    ContractPublic,
    FrozenDocumentPublic,
    ImportReport,
    ReplacementCreate,
)
from controller.loans.tables import Component
from controller.trust.staff import Role
from controller.trust.tables import User

router = APIRouter(prefix="/api/v1", tags=["contracts"])
Reader = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
Number = Annotated[str, Path(pattern=REF)]


@router.post("/components", response_model=ComponentPublic, status_code=201)
def add_component(data: ComponentCreate, session: SessionDep, user: Admin) -> Component:
    """Record a serial-numbered component in a kit or in spare stock."""
    return loans.add_component(session, data=data, actor=user.username, now=datetime.now(UTC))


@router.patch("/components/{serial}", response_model=ComponentPublic)
def change_component(
    serial: str, change: ComponentUpdate, session: SessionDep, user: Admin
) -> Component:
    """Move a component to another kit or to stock, or record its condition (audited)."""
    return loans.change_component(
        session, serial=serial, change=change, actor=user.username, now=datetime.now(UTC)
    )


@router.get("/components", response_model=list[ComponentPublic])
def list_components(
    session: SessionDep, user: Reader, kit_id: Annotated[str | None, Query()] = None
) -> list[Component]:
    """Components, of one kit or all (spare stock has no kit)."""
    return loans.list_components(session, kit_id=kit_id)


@router.post("/contracts", response_model=ContractPublic, status_code=201)
def create_contract(
    data: ContractCreate, session: SessionDep, cipher: Cipher, user: Admin
) -> dict[str, Any]:
    """A draft contract lending a kit's components to a pupil, signed for by a guardian."""
    row = loans.create_contract(session, data=data, actor=user.username, now=datetime.now(UTC))
    return loans.contract_view(row, cipher=cipher, user=user)


@router.get("/contracts", response_model=list[ContractPublic])
def list_contracts(
    session: SessionDep,
    cipher: Cipher,
    user: Reader,
    state: Annotated[str | None, Query()] = None,
) -> list[dict[str, Any]]:
    """The contract register, optionally by state (who signed: administrators only)."""
    rows = loans.list_contracts(session, state=state)
    return [loans.contract_view(row, cipher=cipher, user=user) for row in rows]


@router.get("/contracts/{number}", response_model=ContractPublic)
def get_contract(
    number: Number, session: SessionDep, cipher: Cipher, user: Reader
) -> dict[str, Any]:
    """One contract, with the actions legal from its state (who signed: administrators only)."""
    return loans.contract_view(loans.get_contract(session, number=number), cipher=cipher, user=user)


@router.post(
    "/contracts/{number}/actions/{action}",
    response_model=ContractPublic,
    responses={409: {"description": "illegal or incomplete: the detail says why"}},
)
def contract_action(  # noqa: PLR0917 - FastAPI passes what the route declares
    number: Number,
    action: Action,
    details: ContractAction,
    session: SessionDep,
    state: StateDep,
    cipher: Cipher,
    user: Admin,
) -> dict[str, Any]:
    """sign, hand_over, mark_return_due, return_kit, report_lost or terminate (audited)."""
    row = loans.act(
        session,
        number=number,
        action=action,
        details=details,
        settings=state.settings,
        actor=user.username,
        now=datetime.now(UTC),
    )
    return loans.contract_view(row, cipher=cipher, user=user)


@router.post("/contracts/{number}/replace", response_model=ContractPublic)
def replace_component(  # noqa: PLR0917 - FastAPI passes what the route declares
    number: Number,
    data: ReplacementCreate,
    session: SessionDep,
    state: StateDep,
    cipher: Cipher,
    user: Admin,
) -> dict[str, Any]:
    """Replace a component of a kit on loan with one from spare stock: an annex to the contract."""
    now = datetime.now(UTC)
    row = loans.replace_component(
        session,
        number=number,
        data=data,
        cipher=cipher,
        actor=user.username,
        now=now,
        zone=state.settings.school_zone,
    )
    return loans.contract_view(row, cipher=cipher, user=user)


@router.get("/contracts/{number}/documents", response_model=list[FrozenDocumentPublic])
def frozen_documents(number: Number, session: SessionDep, user: Admin) -> list[dict[str, Any]]:
    """The documents signed under the contract, each kept as signed: kind, annex, lang, sha256."""
    return loans.frozen_documents(session, number=number)


@router.get(
    "/contracts/{number}/documents/{kind}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def contract_document(  # noqa: PLR0917 - FastAPI passes what the route declares
    number: Number,
    kind: contracts.DocumentKind,
    session: SessionDep,
    state: StateDep,
    cipher: Cipher,
    user: Admin,
    lang: Annotated[Literal["kk", "ru"], Query()] = "kk",
    annex: Annotated[
        int | None, Query(ge=1, description="the annex's number (annex.pdf only)")
    ] = None,
) -> Response:
    """The contract, hand-over act, return act or an annex (`annex=N`), as a PDF in Kazakh (kk)
    or Russian (ru): once signed, the document as it was signed, byte for byte."""
    zone = state.settings.school_zone
    pdf = loans.document(
        session, number=number, kind=kind, lang=lang, cipher=cipher, annex=annex, zone=zone
    )
    name = quote(f"{number}-{kind}{annex or ''}-{lang}.pdf")  # a number may be Cyrillic
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f"inline; filename*=UTF-8''{name}"},
    )


@router.get(
    "/register.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def register(session: SessionDep, user: Admin) -> Response:
    """The contract register as CSV (people by reference, no personal data)."""
    return csv_download(loans.register_csv(session), "contracts.csv")


IMPORT_BODY = offload.upload_body(
    "text/csv",
    description="the CSV file (its columns: GET /api/v1/import/{kind}/template.csv and the "
    "README), as the body or as the part `file` of a form",
)


@router.post(
    "/import/{kind}",
    response_model=ImportReport,
    responses={
        413: {"description": "the file is too large"},
        422: {
            "description": "a bad row: nothing imported (unless partial); every bad row with "
            "its line, column and why in kk, ru and en"
        },
    },
    openapi_extra=IMPORT_BODY,
)
async def import_file(  # noqa: PLR0917 - FastAPI passes what the route declares
    kind: imports.Kind,
    raw: Body,
    session: SessionDep,
    state: StateDep,
    user: Admin,
    partial: Annotated[
        bool, Query(description="import the good rows even if some are bad")
    ] = False,
    update: Annotated[
        bool,
        Query(
            description="update the components, pupils and guardians already recorded (each "
            "row says created, updated or unchanged); without it they are errors"
        ),
    ] = False,
) -> dict[str, Any]:
    """Import a CSV file of kits, components, pupils or guardians, with a per-row report."""
    return await offload.run(  # in a worker thread, one import at a time
        loans.import_file,
        session,
        kind=kind,
        raw=raw,
        partial=partial,
        update=update,
        settings=state.settings,
        actor=user.username,
        now=datetime.now(UTC),
    )


@router.get(
    "/import/{kind}/template.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def import_template(kind: imports.Kind, user: Admin) -> Response:
    """The kind's CSV template: its columns and example rows, to fill in a spreadsheet."""
    return csv_download(imports.template(kind), f"{kind}-template.csv")
