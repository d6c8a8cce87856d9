"""Components (inventory) and contracts of free temporary use."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from controller.api.deps import SessionDep, StateDep, require
from controller.api.routes.people import Cipher
from controller.errors import ConfigError, DocumentError
from controller.loans import contracts, imports, lifecycle, people
from controller.loans.people import REF
from controller.loans.tables import Component, LoanContract
from controller.trust import enrolment as trust
from controller.trust import pki
from controller.trust.staff import Role
from controller.trust.tables import User

router = APIRouter(prefix="/api/v1", tags=["contracts"])
Reader = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
Number = Annotated[str, Path(pattern=REF)]


class ComponentOut(BaseModel):
    """A component."""

    model_config = ConfigDict(from_attributes=True)

    serial: str
    kind: str
    model: str
    condition: str
    kit_id: str | None


class ContractOut(BaseModel):
    """A contract: state, parties by reference, the components it lends, what was signed."""

    model_config = ConfigDict(from_attributes=True)

    number: str
    school: str
    city: str
    guardian_ref: str
    pupil_ref: str
    kit_id: str
    state: str
    start: date
    end: date
    terms_version: str
    components: list[dict[str, str]]
    signed_by_guardian: str | None
    signed_by_school: str | None
    training_recorded: bool
    handover: dict[str, Any] | None
    return_act: dict[str, Any] | None
    termination_reason: str | None
    annexes: list[dict[str, str]] = []
    allowed_actions: list[str] = []


def _out(row: LoanContract) -> ContractOut:
    out = ContractOut.model_validate(row)
    out.allowed_actions = [a.value for a in lifecycle.allowed_actions(contracts.machine(row))]
    return out


def _fail(exc: contracts.ContractsError) -> HTTPException:
    return HTTPException(status_code=exc.status, detail=str(exc))


@router.post("/components", response_model=ComponentOut, status_code=201)
def add_component(data: contracts.ComponentIn, session: SessionDep, user: Admin) -> Component:
    """Record a serial-numbered component in a kit or in spare stock."""
    try:
        row = contracts.add_component(
            session, data=data, actor=user.username, now=datetime.now(UTC)
        )
    except contracts.ContractsError as exc:
        raise _fail(exc) from exc
    session.commit()
    return row


@router.patch("/components/{serial}", response_model=ComponentOut)
def change_component(
    serial: str, change: contracts.ComponentChange, session: SessionDep, user: Admin
) -> Component:
    """Move a component to another kit or to stock, or record its condition (audited)."""
    try:
        row = contracts.change_component(
            session, serial=serial, change=change, actor=user.username, now=datetime.now(UTC)
        )
    except contracts.ContractsError as exc:
        raise _fail(exc) from exc
    session.commit()
    return row


@router.get("/components", response_model=list[ComponentOut])
def list_components(
    session: SessionDep, user: Reader, kit_id: Annotated[str | None, Query()] = None
) -> list[Component]:
    """Components, of one kit or all (spare stock has no kit)."""
    query = select(Component).order_by(Component.serial)
    if kit_id is not None:
        query = query.where(Component.kit_id == kit_id)
    return list(session.scalars(query))


@router.post("/contracts", response_model=ContractOut, status_code=201)
def create_contract(data: contracts.ContractIn, session: SessionDep, user: Admin) -> ContractOut:
    """A draft contract lending a kit's components to a pupil, signed for by a guardian."""
    try:
        row = contracts.create_contract(
            session, data=data, actor=user.username, now=datetime.now(UTC)
        )
    except contracts.ContractsError as exc:
        raise _fail(exc) from exc
    session.commit()
    return _out(row)


@router.get("/contracts", response_model=list[ContractOut])
def list_contracts(
    session: SessionDep, user: Reader, state: Annotated[str | None, Query()] = None
) -> list[ContractOut]:
    """The contract register, optionally by state."""
    query = select(LoanContract).order_by(LoanContract.number)
    if state is not None:
        query = query.where(LoanContract.state == state)
    return [_out(r) for r in session.scalars(query)]


@router.get("/contracts/{number}", response_model=ContractOut)
def get_contract(number: Number, session: SessionDep, user: Reader) -> ContractOut:
    """One contract, with the actions legal from its state."""
    try:
        return _out(contracts.get_contract(session, number))
    except contracts.ContractsError as exc:
        raise _fail(exc) from exc


@router.post(
    "/contracts/{number}/actions/{action}",
    response_model=ContractOut,
    responses={409: {"description": "illegal or incomplete: the detail says why"}},
)
def contract_action(  # noqa: PLR0917 - FastAPI passes what the route declares
    number: Number,
    action: lifecycle.Action,
    details: contracts.ActionIn,
    session: SessionDep,
    state: StateDep,
    user: Admin,
) -> ContractOut:
    """sign, hand_over, mark_return_due, return_kit, report_lost or terminate (audited)."""
    try:
        row = contracts.act(
            session,
            number=number,
            action=action,
            details=details,
            actor=user.username,
            now=datetime.now(UTC),
        )
    except contracts.ContractsError as exc:
        raise _fail(exc) from exc
    except lifecycle.TransitionError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    if action is lifecycle.Action.REPORT_LOST:
        # A kit lost under a contract loses its identity at once (CRL, ACL, broker reload).
        now = datetime.now(UTC)
        trust.set_lifecycle(
            session, kit_id=row.kit_id, lifecycle="lost", now=now, actor=user.username
        )
        trust.publish_revocations(
            session,
            paths=pki.PkiPaths(state.settings.pki_dir),
            broker_dir=state.settings.broker_dir,
            now=now,
        )
    session.commit()
    return _out(row)


@router.post("/contracts/{number}/replace", response_model=ContractOut)
def replace_component(
    number: Number, data: contracts.ReplacementIn, session: SessionDep, user: Admin
) -> ContractOut:
    """Replace a component of a kit on loan with one from spare stock: an annex to the contract."""
    try:
        row = contracts.replace_component(
            session, number=number, data=data, actor=user.username, now=datetime.now(UTC)
        )
    except contracts.ContractsError as exc:
        raise _fail(exc) from exc
    session.commit()
    return _out(row)


@router.get(
    "/contracts/{number}/documents/{kind}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def contract_document(  # noqa: PLR0917 - FastAPI passes what the route declares
    number: Number,
    kind: contracts.DocumentKind,
    session: SessionDep,
    cipher: Cipher,
    user: Admin,
    lang: Annotated[Literal["kk", "ru"], Query()] = "kk",
) -> Response:
    """The contract, hand-over act or return act, as a PDF in Kazakh (kk) or Russian (ru)."""
    try:
        pdf = contracts.document(
            session,
            number=number,
            kind=kind,
            lang=lang,
            cipher=cipher,
        )
    except contracts.ContractsError as exc:
        raise _fail(exc) from exc
    except DocumentError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}-{kind}-{lang}.pdf"'},
    )


@router.get(
    "/register.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def register(session: SessionDep, user: Admin) -> Response:
    """The contract register as CSV (people by reference, no personal data)."""
    return Response(
        imports.register_csv(session),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contracts.csv"'},
    )


@router.post(
    "/import/{kind}",
    responses={422: {"description": "a bad row: nothing imported (unless partial)"}},
)
async def import_file(
    kind: imports.Kind,
    request: Request,
    session: SessionDep,
    user: Admin,
    partial: Annotated[
        bool, Query(description="import the good rows even if some are bad")
    ] = False,
) -> JSONResponse:
    """Import a CSV file of kits, components, pupils or guardians, with a per-row report."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(status_code=422, detail="the file is not UTF-8 text") from exc
    cipher = None
    if kind in ("pupils", "guardians"):
        try:
            cipher = people.cipher(request.app.state.kitkeeper.settings)
        except ConfigError as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from exc
    report = imports.import_csv(
        session,
        kind=kind,
        text=text,
        partial=partial,
        cipher=cipher,
        actor=user.username,
        now=datetime.now(UTC),
    )
    if report["errors"] and not partial:
        session.rollback()
        return JSONResponse(report, status_code=422)
    session.commit()
    return JSONResponse(report)
