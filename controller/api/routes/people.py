"""Pupils and their parents or legal representatives: added, corrected, archived, promoted.

Administrators write; every member of staff reads as their role may (`people.pupil_view`); the
history of a pupil or guardian is for administrators and the pupil's own teacher.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from controller.api.deps import SessionDep, StateDep, require
from controller.loans import people, people_service
from controller.loans import service as loans
from controller.loans.people import Archived
from controller.loans.people_schemas import (
    ArchiveRequest,
    HistoryEntry,
    PromoteRequest,
    PromotionReport,
)
from controller.loans.schemas import (
    REF,
    GuardianCreate,
    GuardianPublic,
    GuardianUpdate,
    PupilCreate,
    PupilPublic,
    PupilUpdate,
)
from controller.platform.crypto import FieldCipher
from controller.trust.staff import Role
from controller.trust.tables import User

router = APIRouter(prefix="/api/v1", tags=["people"])
Staff = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN, Role.TEACHER))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
Readers = Annotated[User, Depends(require(Role.ADMIN, Role.TEACHER))]
RefPath = Annotated[str, Path(pattern=REF)]
ArchivedQuery = Annotated[
    Archived,
    Query(description="false: people at school (default); true: archived ones; all: both"),
]


def _cipher(state: StateDep) -> FieldCipher:
    """The cipher of personal data (503 when its keys are not configured)."""
    return people.cipher(state.settings)


Cipher = Annotated[FieldCipher, Depends(_cipher)]


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("/pupils", response_model=PupilPublic, status_code=201)
def create_pupil(
    data: PupilCreate, session: SessionDep, cipher: Cipher, user: Admin
) -> dict[str, Any]:
    """Add a pupil (administrators); the teacher must be an enabled teacher account."""
    return loans.add_pupil(session, data=data, cipher=cipher, user=user, now=_now())


@router.get("/pupils", response_model=list[PupilPublic])
def list_pupils(
    session: SessionDep, cipher: Cipher, user: Staff, archived: ArchivedQuery = "false"
) -> list[dict[str, Any]]:
    """Pupils this member of staff may see (a teacher: their own); archived ones if asked."""
    return people_service.list_pupils(session, cipher=cipher, user=user, archived=archived)


@router.post("/pupils/promote", response_model=PromotionReport)
def promote_pupils(
    data: PromoteRequest, session: SessionDep, state: StateDep, user: Admin
) -> dict[str, Any]:
    """The new school year: every pupil at school up a grade, the 11th grade graduates
    (archived); once per school year unless `force`, and never a pupil twice into the same
    school year (from 1 May on, the coming one, at the school's time zone; administrators)."""
    return people_service.promote(
        session,
        request=data,
        actor=user.username,
        now=_now(),
        zone=state.settings.school_zone,
    )


@router.post("/guardians", response_model=GuardianPublic, status_code=201)
def create_guardian(
    data: GuardianCreate, session: SessionDep, cipher: Cipher, user: Admin
) -> dict[str, Any]:
    """Add a parent or legal representative of a pupil at school (administrators)."""
    return loans.add_guardian(session, data=data, cipher=cipher, user=user, now=_now())


@router.get("/guardians", response_model=list[GuardianPublic])
def list_guardians(
    session: SessionDep,
    cipher: Cipher,
    user: Staff,
    pupil_ref: Annotated[str | None, Query(pattern=REF)] = None,
    archived: ArchivedQuery = "false",
) -> list[dict[str, Any]]:
    """Parents and representatives of the pupils this member of staff may see."""
    return people_service.list_guardians(
        session, cipher=cipher, user=user, pupil_ref=pupil_ref, archived=archived
    )


@router.get("/pupils/{ref}", response_model=PupilPublic)
def get_pupil(ref: RefPath, session: SessionDep, cipher: Cipher, user: Staff) -> dict[str, Any]:
    """One pupil, archived or not, if this member of staff may see them."""
    return loans.get_pupil(session, ref=ref, cipher=cipher, user=user)


@router.patch("/pupils/{ref}", response_model=PupilPublic)
def update_pupil(
    ref: RefPath, data: PupilUpdate, session: SessionDep, cipher: Cipher, user: Admin
) -> dict[str, Any]:
    """Correct a pupil: only the fields given change, each audited (administrators)."""
    return people_service.update_pupil(
        session, ref=ref, change=data, cipher=cipher, user=user, now=_now()
    )


@router.post("/pupils/{ref}/archive", response_model=PupilPublic)
def archive_pupil(
    ref: RefPath, data: ArchiveRequest, session: SessionDep, cipher: Cipher, user: Admin
) -> dict[str, Any]:
    """The pupil left the school; refused while a contract of theirs is open (administrators)."""
    return people_service.archive(
        session, entity="pupil", ref=ref, request=data, cipher=cipher, user=user, now=_now()
    )


@router.post("/pupils/{ref}/restore", response_model=PupilPublic)
def restore_pupil(ref: RefPath, session: SessionDep, cipher: Cipher, user: Admin) -> dict[str, Any]:
    """An archived pupil comes back, with their guardians (administrators)."""
    return people_service.restore(
        session, entity="pupil", ref=ref, cipher=cipher, user=user, now=_now()
    )


@router.get("/pupils/{ref}/history", response_model=list[HistoryEntry])
def pupil_history(ref: RefPath, session: SessionDep, user: Readers) -> list[dict[str, Any]]:
    """Who changed what of the pupil and when, newest first; personal values hidden
    (administrators, and the pupil's own teacher)."""
    return people_service.pupil_history(session, ref=ref, user=user)


@router.patch("/guardians/{ref}", response_model=GuardianPublic)
def update_guardian(
    ref: RefPath, data: GuardianUpdate, session: SessionDep, cipher: Cipher, user: Admin
) -> dict[str, Any]:
    """Correct a parent or representative: only the fields given change (administrators)."""
    return people_service.update_guardian(
        session, ref=ref, change=data, cipher=cipher, user=user, now=_now()
    )


@router.post("/guardians/{ref}/archive", response_model=GuardianPublic)
def archive_guardian(
    ref: RefPath, data: ArchiveRequest, session: SessionDep, cipher: Cipher, user: Admin
) -> dict[str, Any]:
    """The guardian no longer signs for the pupil; refused while they sign an open contract."""
    return people_service.archive(
        session, entity="guardian", ref=ref, request=data, cipher=cipher, user=user, now=_now()
    )


@router.post("/guardians/{ref}/restore", response_model=GuardianPublic)
def restore_guardian(
    ref: RefPath, session: SessionDep, cipher: Cipher, user: Admin
) -> dict[str, Any]:
    """An archived guardian signs for their pupil again (administrators)."""
    return people_service.restore(
        session, entity="guardian", ref=ref, cipher=cipher, user=user, now=_now()
    )


@router.get("/guardians/{ref}/history", response_model=list[HistoryEntry])
def guardian_history(ref: RefPath, session: SessionDep, user: Readers) -> list[dict[str, Any]]:
    """Who changed what of the guardian and when (administrators, the pupil's own teacher)."""
    return people_service.guardian_history(session, ref=ref, user=user)
