"""Assignments: teachers set catalogue resources as tasks for their pupils (the journal)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from controller.api.deps import SessionDep, StateDep, require
from controller.content import assignments
from controller.content.assignment_schemas import AssignmentCreate, AssignmentPublic
from controller.loans import people
from controller.trust.staff import Role
from controller.trust.tables import User

router = APIRouter(prefix="/api/v1/assignments", tags=["assignments"])
Staff = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN, Role.TEACHER))]
Setter = Annotated[User, Depends(require(Role.ADMIN, Role.TEACHER))]
IdPath = Annotated[int, Path(ge=1, le=2**62, description="the assignment's id")]


def _wake(state: StateDep) -> assignments.Wake | None:
    """What runs the content publisher's pass now, if this process has one."""
    return state.content.request if state.content is not None else None


@router.post(
    "",
    response_model=list[AssignmentPublic],
    status_code=201,
    responses={
        404: {"description": "no such pupil (that you may see)"},
        422: {"description": "unknown resources, no such lesson, no date, a due date passed"},
    },
)
def create_assignment(
    data: AssignmentCreate, session: SessionDep, state: StateDep, user: Setter
) -> list[AssignmentPublic]:
    """Set resources as a task for each pupil named (one assignment each); audited."""
    return assignments.create(
        session, data=data, user=user, now=datetime.now(UTC), wake=_wake(state)
    )


@router.get(
    "",
    response_model=list[AssignmentPublic],
    responses={404: {"description": "no such pupil (that you may see)"}},
)
def list_assignments(
    session: SessionDep,
    user: Staff,
    pupil: Annotated[str | None, Query(pattern=people.REF, description="only this pupil's")] = None,
    active: Annotated[
        bool | None, Query(description="true: still on the kits; false: the others")
    ] = None,
) -> list[AssignmentPublic]:
    """Assignments, newest first (teachers: their own pupils'; at most 500)."""
    return assignments.listed(
        session, user=user, pupil_ref=pupil, active=active, now=datetime.now(UTC)
    )


@router.get(
    "/{assignment_id}",
    response_model=AssignmentPublic,
    responses={404: {"description": "no such assignment (that you may see)"}},
)
def get_assignment(assignment_id: IdPath, session: SessionDep, user: Staff) -> AssignmentPublic:
    """One assignment."""
    return assignments.get(session, user=user, assignment_id=assignment_id)


@router.post(
    "/{assignment_id}/cancel",
    response_model=AssignmentPublic,
    responses={
        404: {"description": "no such assignment (that you may see)"},
        409: {"description": "cancelled already"},
    },
)
def cancel_assignment(
    assignment_id: IdPath, session: SessionDep, state: StateDep, user: Setter
) -> AssignmentPublic:
    """Cancel an assignment: it leaves the pupil's kits with their next manifest; audited."""
    return assignments.cancel(
        session, user=user, assignment_id=assignment_id, now=datetime.now(UTC), wake=_wake(state)
    )
