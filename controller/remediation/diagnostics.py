"""Diagnostics: asking a kit for its logs and a snapshot, and keeping what it uploads.

An upload is taken only against a request of the controller's (`ask`): for that kit, with the
request's id (the command's message id, which the agent sends back), once, and before the
request expires. What comes is bounded twice: the gzip as sent (`MAX_COMPRESSED_BYTES`) and what
it unpacks to (`MAX_EXPANDED_BYTES`), decompressed in bounded chunks that stop at the cap, so a
gzip bomb costs the controller no more than the cap. Anything refused is counted and logged once
(`quotas.Refusals`); a refused upload uses its request up and says why on it.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.remediation.outgoing import Outgoing
from controller.remediation.quotas import Refusals
from controller.remediation.tables import Diagnostics
from protocol.commands import CollectDiagnosticsArgs, CommandKind, EventKind
from protocol.models import Command, new_msg_id

REQUEST_LIFETIME = timedelta(hours=6)
"""A diagnostics request not delivered within this is dropped by the kit."""
UPLOAD_WINDOW = timedelta(days=1)
"""How long after it was asked an upload is taken against a request (the kit may collect it
just before going offline and send it when it is back)."""
MAX_COMPRESSED_BYTES: Final = 48 * 1024
"""The largest gzip upload taken (an agent sends at most 30 KB; an MQTT message is 64 KiB)."""
MAX_EXPANDED_BYTES: Final = 4 * 1024 * 1024
"""The most an upload may unpack to: a technician's view of it stays a few tens of MiB."""
MAX_DEPTH: Final = 32
"""How deeply the JSON inside may nest (an agent's report nests 5 levels)."""
_CHUNK: Final = 64 * 1024
_KIND: Final = EventKind.DIAGNOSTICS.value


class UploadRefusedError(ValueError):
    """An upload that is not taken: `reason` for the metric, the message for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


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
        expires_at=now + UPLOAD_WINDOW,
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


def open_request(session: Session, kit_id: str, command_id: str, now: datetime) -> Diagnostics:
    """The kit's request with this id, not yet answered nor expired; else UploadRefusedError."""
    row = (
        session.scalars(
            select(Diagnostics).where(
                Diagnostics.kit_id == kit_id, Diagnostics.command_id == command_id
            )
        ).first()
        if command_id
        else None
    )
    if row is None:
        raise UploadRefusedError("not_requested", "no request of the controller's for this kit")
    if row.received_at is not None:
        raise UploadRefusedError("not_requested", f"request {row.id} was answered already")
    expires = row.expires_at or (row.requested_at or now) + UPLOAD_WINDOW
    if expires <= now:
        raise UploadRefusedError("not_requested", f"request {row.id} expired at {expires}")
    return row


def store_upload(
    session: Session, kit_id: str, data: dict[str, Any], now: datetime, refusals: Refusals
) -> None:
    """Keep a kit's upload (gzip-compressed JSON, base64) on its open request's row.

    Without an open request nothing is stored; an upload too large or not what it says (not
    base64, not gzip, not a JSON object) uses the request up and records why. Either is counted
    and logged once, never raised.
    """
    try:
        row = open_request(session, kit_id, str(data.get("command_id") or "")[:64], now)
    except UploadRefusedError as exc:
        refusals.refuse(kit_id, _KIND, exc.reason, now, str(exc))
        return
    row.received_at = now
    try:
        payload = _decode(data.get("payload"))
        row.size = unpack(payload)[1]
    except UploadRefusedError as exc:
        row.refused_reason = str(exc)[:200]
        refusals.refuse(kit_id, _KIND, exc.reason, now, f"request {row.id}: {exc}")
        return
    row.payload = payload


def failed(session: Session, kit_id: str, command_id: str, why: str, now: datetime) -> bool:
    """The kit could not collect what was asked: its open request says why; False if none."""
    try:
        row = open_request(session, kit_id, command_id, now)
    except UploadRefusedError:
        return False
    row.received_at, row.refused_reason = now, f"the kit could not collect them: {why}"[:200]
    return True


def _decode(text: Any) -> bytes:
    if not isinstance(text, str):
        raise UploadRefusedError("unreadable", "the payload is not base64 text")
    if len(text) > (MAX_COMPRESSED_BYTES + 2) // 3 * 4:
        raise UploadRefusedError("too_large", f"over {MAX_COMPRESSED_BYTES} bytes compressed")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise UploadRefusedError("unreadable", "the payload is not base64") from None


def unpack(payload: bytes) -> tuple[dict[str, Any], int]:
    """The JSON object inside a gzip upload and its unpacked size; UploadRefusedError if not.

    Decompressed `_CHUNK` bytes at a time, stopping as soon as `MAX_EXPANDED_BYTES` is passed:
    never more than the cap is held, whatever the compression ratio.
    """
    if len(payload) > MAX_COMPRESSED_BYTES:
        raise UploadRefusedError("too_large", f"over {MAX_COMPRESSED_BYTES} bytes compressed")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip only
    parts: list[bytes] = []
    size = 0
    pending = payload
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            size += len(chunk)
            if size > MAX_EXPANDED_BYTES:
                raise UploadRefusedError("too_large", f"unpacks to over {MAX_EXPANDED_BYTES} bytes")
            if not chunk and not pending:
                raise UploadRefusedError("unreadable", "the gzip stream is cut short")
            parts.append(chunk)
    except zlib.error:
        raise UploadRefusedError("unreadable", "the payload is not gzip") from None
    if inflater.unused_data:
        raise UploadRefusedError("unreadable", "data follows the gzip stream")
    try:
        content = json.loads(b"".join(parts))
    except (ValueError, RecursionError):
        raise UploadRefusedError("unreadable", "the payload is not JSON") from None
    if not isinstance(content, dict) or not _shallow(content):
        raise UploadRefusedError("unreadable", f"not a JSON object nested under {MAX_DEPTH}")
    return content, size


def _shallow(value: Any) -> bool:
    """Whether `value` nests no deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True
