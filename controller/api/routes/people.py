"""Pupils and their parents or legal representatives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from controller.api.deps import SessionDep, StateDep, require
from controller.loans import people
from controller.loans import service as loans
from controller.loans.schemas import REF, GuardianCreate, GuardianPublic, PupilCreate, PupilPublic
from controller.platform.crypto import FieldCipher
from controller.trust.staff import Role
from controller.trust.tables import User

router = APIRouter(prefix="/api/v1", tags=["people"])
Staff = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN, Role.TEACHER))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
RefPath = Annotated[str, Path(pattern=REF)]


def _cipher(state: StateDep) -> FieldCipher:
    """The cipher of personal data (503 when its keys are not configured)."""
    return people.cipher(state.settings)


Cipher = Annotated[FieldCipher, Depends(_cipher)]


@router.post("/pupils", response_model=PupilPublic, status_code=201)
def create_pupil(
    data: PupilCreate, session: SessionDep, cipher: Cipher, user: Admin
) -> dict[str, Any]:
    """Add a pupil (administrators)."""
    return loans.add_pupil(session, data=data, cipher=cipher, user=user, now=datetime.now(UTC))


@router.get("/pupils", response_model=list[PupilPublic])
def list_pupils(session: SessionDep, cipher: Cipher, user: Staff) -> list[dict[str, Any]]:
    """Pupils this member of staff may see (a teacher: their own)."""
    return loans.list_pupils(session, cipher=cipher, user=user)


@router.post("/guardians", response_model=GuardianPublic, status_code=201)
def create_guardian(
    data: GuardianCreate, session: SessionDep, cipher: Cipher, user: Admin
) -> dict[str, Any]:
    """Add a parent or legal representative of a pupil (administrators)."""
    return loans.add_guardian(session, data=data, cipher=cipher, user=user, now=datetime.now(UTC))


@router.get("/guardians", response_model=list[GuardianPublic])
def list_guardians(
    session: SessionDep,
    cipher: Cipher,
    user: Staff,
    pupil_ref: Annotated[str | None, Query(pattern=REF)] = None,
) -> list[dict[str, Any]]:
    """Parents and representatives of the pupils this member of staff may see."""
    return loans.list_guardians(session, cipher=cipher, user=user, pupil_ref=pupil_ref)


@router.get("/pupils/{ref}", response_model=PupilPublic)
def get_pupil(ref: RefPath, session: SessionDep, cipher: Cipher, user: Staff) -> dict[str, Any]:
    """One pupil, if this member of staff may see them."""
    return loans.get_pupil(session, ref=ref, cipher=cipher, user=user)
