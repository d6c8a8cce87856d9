"""Renewal is limited per kit and supersedes; the CRL forgets certificates long expired.

In-process against a migrated SQLite file; every `now` is injected, no clock is read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from sqlalchemy import select

from agent.identity import generate_key, make_csr
from controller.trust import enrolment as trust
from controller.trust import pki
from controller.trust.tables import Certificate
from tests.support import HOSTS, MigratedDb

T0 = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _enrolled(db: MigratedDb, paths: pki.PkiPaths, tmp: Path, kit_id: str) -> str:
    """Enrol `kit_id` at T0; its certificate's serial."""
    key = generate_key(tmp / f"{kit_id}.key")
    with db.sessions.begin() as session:
        issued = trust.create_token(session, kit_id=kit_id, paths=paths, now=T0, ttl=DAY)
        _, cert_pem, _ = trust.enroll(
            session,
            token=issued.text,
            csr_pem=make_csr(key, kit_id).decode(),
            paths=paths,
            now=T0,
            days=365,
        )
    return format(x509.load_pem_x509_certificate(cert_pem).serial_number, "x")


def _renew(
    db: MigratedDb, paths: pki.PkiPaths, tmp: Path, kit_id: str, now: datetime, current: str
) -> trust.Renewal:
    key = generate_key(tmp / f"{kit_id}.key.new")
    with db.sessions.begin() as session:
        return trust.renew(
            session,
            kit_id=kit_id,
            csr_pem=make_csr(key, kit_id).decode(),
            paths=paths,
            now=now,
            days=365,
            current_serial=current,
        )


def _serial(renewal: trust.Renewal) -> str:
    return format(x509.load_pem_x509_certificate(renewal.certificate_pem).serial_number, "x")


def _states(db: MigratedDb, kit_id: str) -> dict[str, str | None]:
    with db.sessions() as session:
        rows = session.scalars(select(Certificate).where(Certificate.kit_id == kit_id)).all()
        return {row.serial: row.revoke_reason for row in rows}


@pytest.fixture
def paths(tmp_path: Path) -> pki.PkiPaths:
    return pki.init_pki(tmp_path / "pki", hosts=HOSTS, now=T0 - DAY)


def test_renewal_is_limited_per_kit_and_says_when_to_ask_again(
    tmp_path: Path, migrated_db: MigratedDb, paths: pki.PkiPaths
) -> None:
    current = _enrolled(migrated_db, paths, tmp_path, "kit-r")
    other = _enrolled(migrated_db, paths, tmp_path, "kit-o")
    asked = [T0 + timedelta(hours=h) for h in (1, 2, 3)]
    for now in asked:
        _renew(migrated_db, paths, tmp_path, "kit-r", now, current)
    with pytest.raises(trust.TrustError) as refused:
        _renew(migrated_db, paths, tmp_path, "kit-r", T0 + timedelta(hours=4), current)
    assert refused.value.kind is trust.TrustErrorKind.RENEWAL_LIMIT
    assert refused.value.status == 429
    assert refused.value.retry_at == asked[0] + DAY
    assert "ask again after 2031-03-02 10:00:00 UTC" in str(refused.value)
    assert len(_states(migrated_db, "kit-r")) == 4, "nothing was issued on refusal"
    # another kit is not affected, and the kit may renew again once a day has passed
    _renew(migrated_db, paths, tmp_path, "kit-o", T0 + timedelta(hours=4), other)
    with pytest.raises(trust.TrustError):
        _renew(
            migrated_db, paths, tmp_path, "kit-r", asked[0] + DAY - timedelta(seconds=1), current
        )
    _renew(migrated_db, paths, tmp_path, "kit-r", asked[0] + DAY, current)


def test_a_renewal_supersedes_every_certificate_but_the_one_in_use(
    tmp_path: Path, migrated_db: MigratedDb, paths: pki.PkiPaths
) -> None:
    in_use = _enrolled(migrated_db, paths, tmp_path, "kit-s")
    first = _renew(migrated_db, paths, tmp_path, "kit-s", T0 + DAY, in_use)
    assert first.superseded == []
    # the answer never arrived: the kit asks again from the certificate it still uses
    second = _renew(migrated_db, paths, tmp_path, "kit-s", T0 + 2 * DAY, in_use)
    assert second.superseded == [_serial(first)]
    # it installed the second and later renews from it: the enrolled one goes too
    third = _renew(migrated_db, paths, tmp_path, "kit-s", T0 + 3 * DAY, _serial(second))
    assert third.superseded == [in_use]
    assert _states(migrated_db, "kit-s") == {
        in_use: "superseded",
        _serial(first): "superseded",
        _serial(second): None,
        _serial(third): None,
    }
    # a serial that is not the kit's own keeps nothing alive
    fourth = _renew(migrated_db, paths, tmp_path, "kit-s", T0 + 4 * DAY, "not-a-serial")
    assert sorted(fourth.superseded) == sorted([_serial(second), _serial(third)])


def test_the_crl_leaves_out_certificates_expired_more_than_a_day(
    tmp_path: Path, migrated_db: MigratedDb, paths: pki.PkiPaths
) -> None:
    serial = _enrolled(migrated_db, paths, tmp_path, "kit-p")
    with migrated_db.sessions.begin() as session:
        assert trust.set_lifecycle(session, kit_id="kit-p", lifecycle="lost", now=T0) == [serial]
        not_after = session.get(Certificate, serial).not_after.replace(tzinfo=UTC)  # type: ignore[union-attr]
    listed = {
        "before expiry": not_after - DAY,
        "at expiry": not_after,
        "a day after": not_after + trust.CRL_KEEPS_EXPIRED,
    }
    with migrated_db.sessions() as session:
        for when, now in listed.items():
            assert trust.revocations(session, now=now) == [(int(serial, 16), T0)], when
        later = not_after + trust.CRL_KEEPS_EXPIRED + timedelta(seconds=1)
        assert trust.revocations(session, now=later) == []
        trust.publish_revocations(session, paths=paths, broker_dir=tmp_path / "none", now=later)
    crl = x509.load_pem_x509_crl(paths.crl.read_bytes())
    assert [r.serial_number for r in crl] == []
