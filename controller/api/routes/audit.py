"""The audit log, for administrators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from controller.api.deps import SessionDep, require
from controller.platform import audit
from controller.trust.staff import Role

router = APIRouter(
    prefix="/api/v1/audit", tags=["audit"], dependencies=[Depends(require(Role.ADMIN))]
)


class AuditOut(BaseModel):
    """One entry."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@router.get("", response_model=list[AuditOut])
def list_audit(
    session: SessionDep,
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """Newest first: who changed what, when, from what to what."""
    return [
        AuditOut.model_validate(e)
        for e in audit.entries(session, entity=entity, entity_id=entity_id, limit=limit)
    ]
