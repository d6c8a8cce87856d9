"""Alerts: contracts ending, returns overdue, kits without a contract, reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from controller.api.deps import SessionDep, require
from controller.loans import service as loans
from controller.loans.alerts import Alert
from controller.loans.schemas import AlertPublic
from controller.trust.staff import Role

router = APIRouter(
    prefix="/api/v1/alerts",
    tags=["alerts"],
    dependencies=[Depends(require(Role.ADMIN, Role.TECHNICIAN))],
)


@router.get("", response_model=list[AlertPublic])
def list_alerts(
    session: SessionDep,
    lead_days: Annotated[
        int, Query(ge=0, le=365, description="how early a contract's end shows")
    ] = 30,
) -> list[Alert]:
    """Every alert that stands now, computed from contracts and the latest snapshots."""
    return loans.standing_alerts(session, today=datetime.now(UTC).date(), lead_days=lead_days)
