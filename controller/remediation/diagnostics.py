"""Diagnostics: asking a kit for its logs and a snapshot, and keeping what it uploads."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.remediation.outgoing import Outgoing
from controller.remediation.tables import Diagnostics
from protocol.commands import CollectDiagnosticsArgs, CommandKind
from protocol.models import Command, new_msg_id

REQUEST_LIFETIME = timedelta(hours=6)
"""A diagnostics request not delivered within this is dropped by the kit."""


def ask(
    session: Session,
    out: Outgoing,
    *,
    kit_id: str,
    requested_by: str,
    now: datetime,
    log_lines: int,
) -> Diagnostics:
    """Ask a kit for its logs and a snapshot; the upload lands in the returned row."""
    row = Diagnostics(
        kit_id=kit_id,
        command_id=new_msg_id(),
        requested_by=requested_by,
        requested_at=now,
    )
    session.add(row)
    out.commands.append(
        (
            kit_id,
            Command(
                kind=CommandKind.COLLECT_DIAGNOSTICS.value,
                expires_at=now + REQUEST_LIFETIME,
                args=CollectDiagnosticsArgs(log_lines=log_lines).model_dump(),
            ),
            str(row.command_id),
        )
    )
    session.flush()
    return row


def store_upload(
    session: Session, kit_id: str, data: dict[str, Any], now: datetime, *, max_size: int
) -> None:
    """Keep a kit's upload (gzip-compressed JSON, base64) on its request's row, or a new one.

    What is not what it says (not base64, not gzip, not a JSON object) is refused with an error.
    """
    payload = base64.b64decode(str(data.get("payload", "")), validate=True)
    content = json.loads(gzip.decompress(payload))
    if not isinstance(content, dict):
        raise TypeError("a diagnostics upload must be a JSON object")
    command_id = str(data.get("command_id") or "")
    row = session.scalars(
        select(Diagnostics).where(
            Diagnostics.kit_id == kit_id, Diagnostics.command_id == command_id
        )
    ).first()
    if row is None:
        row = Diagnostics(kit_id=kit_id, command_id=command_id or None)
        session.add(row)
    row.payload = payload
    row.size = min(int(data.get("size") or len(payload)), max_size)
    row.received_at = now
