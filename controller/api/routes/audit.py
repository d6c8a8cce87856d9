"""The audit log, for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from controller.api.deps import SessionDep, require
from controller.platform import audit
from controller.platform.schemas import AuditOut
from controller.trust.staff import Role

router = APIRouter(
    prefix="/api/v1/audit", tags=["audit"], dependencies=[Depends(require(Role.ADMIN))]
)


@router.get("", response_model=list[AuditOut])
def list_audit(
    session: SessionDep,
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """Newest first: who changed what, when, from what to what."""
    return audit.log_page(session, entity=entity, entity_id=entity_id, limit=limit)
