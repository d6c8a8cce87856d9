"""Handing kits their manifests and blobs over HTTPS, each kit only its own.

A kit is known by its client certificate (CN = its id, from the device CA, not revoked: the
trust domain's `peers.admitted_kit`). It may fetch its own manifests (admins may read any) and
only blobs named by one of its newest few manifests that have not expired; for any other blob
the answer is the same "no such blob", whether or not the controller holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from cryptography import x509
from sqlalchemy.orm import Session

from controller.content import manifest_store
from controller.content.assignment_errors import AssignmentNotFoundError, DeliveryRefusedError
from controller.content.blobstore import BlobStore
from controller.content.manifest_tables import IssuedManifest
from controller.trust import peers
from controller.trust.staff import Role
from controller.trust.tables import User

SHA256: Final = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Reader:
    """Who asks: a kit (by its certificate) or a signed-in member of staff, or neither."""

    kit_id: str | None = None
    user: User | None = None


def kit_of(session: Session, cert: x509.Certificate | None) -> str | None:
    """The enrolled kit a client certificate belongs to (None: no certificate, or not usable)."""
    return peers.admitted_kit(session, cert) if cert is not None else None


def manifest_document(
    session: Session, *, kit_id: str, version: int | None, reader: Reader
) -> IssuedManifest:
    """The kit's signed manifest (the newest, or `version`): to that kit, or to an admin."""
    if reader.kit_id != kit_id and (reader.user is None or reader.user.role != Role.ADMIN):
        raise DeliveryRefusedError.translated("refused.not_your_manifest", kit=kit_id)
    row = manifest_store.issued(session, kit_id, version)
    if row is None:
        raise AssignmentNotFoundError.translated("refused.no_manifest", kit=kit_id)
    return row


def blob_file(
    session: Session, *, sha256: str, kit_id: str | None, store: BlobStore, now: datetime
) -> Path:
    """The file of a blob the asking kit's manifests name; one answer for every other case."""
    if kit_id is None:
        raise DeliveryRefusedError.translated("refused.kits_only")
    named = SHA256.fullmatch(sha256) is not None and any(
        sha256 in row.blobs for row in manifest_store.deliverable(session, kit_id, now)
    )
    path = store.path(sha256) if named else None
    if path is None or not path.is_file():
        raise AssignmentNotFoundError.translated("refused.no_blob")
    return path
