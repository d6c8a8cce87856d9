"""A kit's lifecycle changed by a CSV import goes through the one path that revokes and audits.

Issue 12, item 5: a kits row with status lost, retired or returned used to change the state with
no revocation, CRL or audit, and `active` silently un-marked a lost kit. The import now calls
`loans.kit_status.set_status` (audited, revoking) and publishes the CRL once before it commits;
the real-process attack (a lost kit refused by the broker at once) is in `test_imports.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from sqlalchemy import select

from controller.loans import imports, kit_status
from controller.platform.audit_table import AuditEntry
from controller.trust import pki
from tests.controller.records import crl_serials, enrol, revoke_reasons
from tests.support import HOSTS, MigratedDb

KITS = "kit_id,profile,status\nkit-imp,base,{status}\n"


def _import(db: MigratedDb, revocations: kit_status.Revocations, status: str) -> dict:
    with db.sessions.begin() as session:
        return imports.import_csv(
            session,
            kind="kits",
            text=KITS.format(status=status),
            partial=False,
            cipher=None,
            revocations=revocations,
            actor="admin",
            now=datetime.now(UTC),
        )


UPDATED = [{"row": 2, "key": "kit-imp", "outcome": "updated"}]
"""The report's row: the enrolled kit's lifecycle changed."""


def _lifecycle_log(db: MigratedDb) -> list[tuple[str, object, object]]:
    with db.sessions() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == "kit-imp").order_by(AuditEntry.id)
        ).all()
        return [(r.action, r.before, r.after) for r in rows if r.action == "lifecycle_changed"]


@pytest.mark.parametrize("status", ["lost", "retired", "returned"])
def test_an_imported_revoking_status_revokes_publishes_and_audits(
    tmp_path: Path, migrated_db: MigratedDb, status: str
) -> None:
    paths = pki.init_pki(tmp_path / "pki", hosts=HOSTS, now=datetime.now(UTC))
    serial = enrol(migrated_db.url, paths, tmp_path / "kit", "kit-imp")
    revocations = kit_status.Revocations(pki_dir=paths.root, broker_dir=tmp_path / "broker")
    assert _import(migrated_db, revocations, status) == {
        "imported": 1,
        "errors": [],
        "rows": UPDATED,
    }
    assert revoke_reasons(migrated_db.url, "kit-imp") == [status]
    assert serial in crl_serials(paths)
    assert _lifecycle_log(migrated_db)[-1][2] == {"lifecycle": status}


def test_active_after_lost_is_audited_and_does_not_bring_the_certificate_back(
    tmp_path: Path, migrated_db: MigratedDb
) -> None:
    paths = pki.init_pki(tmp_path / "pki", hosts=HOSTS, now=datetime.now(UTC))
    serial = enrol(migrated_db.url, paths, tmp_path / "kit", "kit-imp")
    revocations = kit_status.Revocations(pki_dir=paths.root, broker_dir=tmp_path / "broker")
    _import(migrated_db, revocations, "lost")
    assert _import(migrated_db, revocations, "active") == {
        "imported": 1,
        "errors": [],
        "rows": UPDATED,
    }
    assert _lifecycle_log(migrated_db)[-1] == (
        "lifecycle_changed",
        {"lifecycle": "lost"},
        {"lifecycle": "active"},
    ), "the way back is in the audit log, with who did it"
    assert revoke_reasons(migrated_db.url, "kit-imp") == ["lost"], "still revoked"
    assert serial in crl_serials(paths), "a found kit must enrol again for a new certificate"
    crl = x509.load_pem_x509_crl(paths.crl.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
