"""What other domains read of the loans: which pupil a member of staff may see, who has a kit.

Read-only, in the caller's transaction: the schedules find a pupil's kits and a kit's pupil here,
the fleet which kits are lent, without reading the loans' tables themselves.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.loans.lifecycle import LENT_STATES
from controller.loans.tables import LoanContract, Pupil
from controller.trust.staff import Role
from controller.trust.tables import User


def pupil_exists(session: Session, pupil_ref: str) -> bool:
    """Whether a pupil with this reference is registered."""
    return session.scalar(select(Pupil.id).where(Pupil.ref == pupil_ref)) is not None


def may_see_pupil(session: Session, user: User, pupil_ref: str) -> bool:
    """Whether the pupil exists and this member of staff may see them (a teacher: their own)."""
    pupil = session.scalar(select(Pupil).where(Pupil.ref == pupil_ref))
    return pupil is not None and (user.role != Role.TEACHER or pupil.teacher == user.username)


def pupil_iin_index(session: Session, pupil_ref: str) -> str | None:
    """The keyed hash of the pupil's IIN (None for an unknown pupil)."""
    return session.scalar(select(Pupil.iin_index).where(Pupil.ref == pupil_ref))


def kits_lent_to(session: Session, pupil_ref: str) -> list[str]:
    """The kits lent to the pupil under a signed, active or return-due contract, sorted."""
    return sorted(
        set(
            session.scalars(
                select(LoanContract.kit_id).where(
                    LoanContract.pupil_ref == pupil_ref, LoanContract.state.in_(LENT_STATES)
                )
            )
        )
    )


def pupil_with_kit(session: Session, kit_id: str) -> str | None:
    """The pupil the kit is lent to under a signed, active or return-due contract, if any."""
    return session.scalar(
        select(LoanContract.pupil_ref)
        .where(LoanContract.kit_id == kit_id, LoanContract.state.in_(LENT_STATES))
        .order_by(LoanContract.id.desc())
        .limit(1)
    )


def kits_lent(session: Session) -> set[str]:
    """Every kit under a signed, active or return-due contract."""
    return set(
        session.scalars(select(LoanContract.kit_id).where(LoanContract.state.in_(LENT_STATES)))
    )
