"""Pupils and their parents or legal representatives."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel
from sqlalchemy import select

from controller.api.deps import SessionDep, StateDep, require
from controller.errors import ConfigError
from controller.loans import people
from controller.loans.tables import Guardian, Pupil
from controller.platform.crypto import FieldCipher
from controller.trust.staff import Role
from controller.trust.tables import User

router = APIRouter(prefix="/api/v1", tags=["people"])
Staff = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN, Role.TEACHER))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
RefPath = Annotated[str, Path(pattern=people.REF)]


class PupilOut(BaseModel):
    """A pupil; `iin` only for administrators."""

    ref: str
    name: str
    grade: int
    program: str
    basis: str
    temporary_until: date | None
    school: str
    teacher: str | None
    iin: str | None = None


class GuardianOut(BaseModel):
    """A parent or legal representative; `address` and `iin` only for administrators."""

    ref: str
    pupil_ref: str
    relation: str
    name: str
    phone: str
    address: str | None = None
    iin: str | None = None


def _cipher(state: StateDep) -> FieldCipher:
    try:
        return people.cipher(state.settings)
    except ConfigError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc


Cipher = Annotated[FieldCipher, Depends(_cipher)]


def _out(model: type[BaseModel], view: dict[str, Any]) -> Any:
    return model.model_validate(view).model_dump(exclude_none=False)


@router.post("/pupils", response_model=PupilOut, status_code=201)
def create_pupil(data: people.PupilIn, session: SessionDep, cipher: Cipher, user: Admin) -> Any:
    """Add a pupil (administrators)."""
    # The session already began (signing in read from it): commit at the end; an error rolls back.
    try:
        pupil = people.create_pupil(
            session, data=data, cipher=cipher, actor=user.username, now=datetime.now(UTC)
        )
    except people.PeopleError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    session.commit()
    return _out(PupilOut, people.pupil_view(pupil, cipher, user.role))


@router.get("/pupils", response_model=list[PupilOut])
def list_pupils(session: SessionDep, cipher: Cipher, user: Staff) -> list[Any]:
    """Pupils this member of staff may see (a teacher: their own)."""
    return [
        _out(PupilOut, people.pupil_view(p, cipher, user.role))
        for p in people.visible_pupils(session, user)
    ]


@router.post("/guardians", response_model=GuardianOut, status_code=201)
def create_guardian(
    data: people.GuardianIn, session: SessionDep, cipher: Cipher, user: Admin
) -> Any:
    """Add a parent or legal representative of a pupil (administrators)."""
    try:
        guardian = people.create_guardian(
            session, data=data, cipher=cipher, actor=user.username, now=datetime.now(UTC)
        )
    except people.PeopleError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    session.commit()
    return _out(GuardianOut, people.guardian_view(guardian, data.pupil_ref, cipher, user.role))


@router.get("/guardians", response_model=list[GuardianOut])
def list_guardians(
    session: SessionDep,
    cipher: Cipher,
    user: Staff,
    pupil_ref: Annotated[str | None, Query(pattern=people.REF)] = None,
) -> list[Any]:
    """Parents and representatives of the pupils this member of staff may see."""
    pupils = {p.id: p.ref for p in people.visible_pupils(session, user)}
    if pupil_ref is not None:
        pupils = {k: v for k, v in pupils.items() if v == pupil_ref}
    rows = session.scalars(
        select(Guardian).where(Guardian.pupil_id.in_(pupils)).order_by(Guardian.ref)
    )
    return [
        _out(GuardianOut, people.guardian_view(g, pupils[g.pupil_id], cipher, user.role))
        for g in rows
    ]


@router.get("/pupils/{ref}", response_model=PupilOut)
def get_pupil(ref: RefPath, session: SessionDep, cipher: Cipher, user: Staff) -> Any:
    """One pupil, if this member of staff may see them."""
    pupil = next((p for p in people.visible_pupils(session, user) if p.ref == ref), None)
    if pupil is None or not isinstance(pupil, Pupil):
        raise HTTPException(status_code=404, detail=f"no pupil {ref!r} that you may see")
    return _out(PupilOut, people.pupil_view(pupil, cipher, user.role))
