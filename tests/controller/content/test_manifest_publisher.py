"""The publisher against a migrated database (no broker): versions per kit, what a pass looks at,
renewal before expiry, the versions kept, which manifests a kit may fetch blobs for, a failed
announcement tried again. Times are relative to now."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from controller.config import ControllerSettings
from controller.content import manifest_store
from controller.content.assignment_tables import Assignment
from controller.content.manifest_tables import IssuedManifest
from controller.content.publisher import ContentPublisher
from controller.content.tables import ContentBlob, ContentResource
from controller.fleet.tables import Kit
from controller.loans.tables import LoanContract, Pupil
from controller.platform.metrics import Metrics
from protocol.content import ManifestPointer
from tests.support import migrated

NOW = datetime.now(UTC)
KITS = ["kit-m1", "kit-m2", "kit-m3"]
SHA = hashlib.sha256(b"pdf").hexdigest()


def _populate(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(ContentBlob(sha256=SHA, size=3, media_type="application/pdf", chunks=[],
                                created_at=NOW))  # fmt: skip
        session.add(ContentResource(
            id="r" * 32, title="R", subject="Math", grade=5, language="ru", author="",
            provider="", keywords="", description="", kind="pdf", sha256=SHA, entry=None,
            created_at=NOW, created_by="t", updated_at=NOW, archived_at=None,
        ))  # fmt: skip
        for n, kit_id in enumerate(KITS):
            session.add(Kit(kit_id=kit_id, lifecycle="active"))
            session.add(Pupil(ref=f"p-m{n}", name_enc="x", iin_enc="x", iin_index=f"m{n}",
                              grade=5, program_enc="x", basis_enc="x", temporary_until_enc="x",
                              school="s", teacher=None, created_at=NOW))  # fmt: skip
            session.add(LoanContract(
                number=f"M-{n}", school="s", city="c", guardian_ref="g", pupil_ref=f"p-m{n}",
                kit_id=kit_id, state="active", start=NOW.date() - timedelta(days=9),
                end=NOW.date() + timedelta(days=300), terms_version="1", components=[],
                created_at=NOW,
            ))  # fmt: skip
        session.add(Kit(kit_id="kit-idle", lifecycle="active"))  # lent to nobody


def _assign(sessions: sessionmaker[Session], pupil: str, text: str, days: int = 2) -> None:
    with sessions.begin() as session:
        session.add(Assignment(batch="b", pupil_ref=pupil, type="homework", difficulty="medium",
                               text=text, subject="Math", lesson_start=None,
                               due_at=NOW + timedelta(days=days), resources=["r" * 32],
                               created_at=NOW, created_by="t"))  # fmt: skip


class Sent(list[tuple[str, int]]):
    """The pointers published; `fail` makes the next publication raise."""

    fail = False

    def __call__(self, kit_id: str, pointer: ManifestPointer) -> None:
        if self.fail:
            self.fail = False
            raise ConnectionError("broker away")
        self.append((kit_id, pointer.version))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[ContentPublisher, sessionmaker[Session], Sent]]:
    database = migrated(f"sqlite:///{tmp_path / 'db.sqlite'}")
    _populate(database.sessions)
    settings = ControllerSettings(db=database.url, pki_dir=tmp_path / "pki")
    sent = Sent()
    publisher = ContentPublisher(settings=settings, sessions=database.sessions,
                                 metrics=Metrics(), publish=sent)  # fmt: skip
    yield publisher, database.sessions, sent
    database.engine.dispose()


def _versions(sessions: sessionmaker[Session], kit_id: str) -> list[int]:
    with sessions() as session:
        rows = session.scalars(
            select(IssuedManifest.version).where(IssuedManifest.kit_id == kit_id)
        )
        return sorted(rows)


def test_passes_versions_and_renewal(
    setup: tuple[ContentPublisher, sessionmaker[Session], Sent],
) -> None:
    """The first pass gives every lent kit version 1 (none to a kit lent to nobody); a pass
    with nothing asked issues nothing; a change is taken up when the kit is asked for (or at the
    next full sweep); a manifest with under 3 days left is renewed; 5 versions are kept."""
    publisher, sessions, sent = setup
    publisher.run_once(NOW)
    assert sorted(sent) == [(k, 1) for k in KITS]
    assert _versions(sessions, "kit-idle") == []
    sent.clear()
    publisher.run_once(NOW, everything=True)
    assert sent == []  # nothing changed: no new version, nothing announced again

    _assign(sessions, "p-m0", "first")
    publisher.run_once(NOW)
    assert sent == []  # not asked for, no sweep due
    publisher.request([KITS[1]])  # another kit: nothing for it
    publisher.run_once(NOW)
    assert sent == []
    publisher.request([KITS[0]])
    publisher.run_once(NOW)
    assert sent == [(KITS[0], 2)]

    sent.clear()
    publisher.run_once(NOW + timedelta(days=4, hours=1), everything=True)
    assert sorted(sent) == [(KITS[0], 3), (KITS[1], 2), (KITS[2], 2)]  # renewed

    for n in range(5):
        _assign(sessions, "p-m0", f"more {n}", days=10)
        publisher.request([KITS[0]])
        publisher.run_once(NOW + timedelta(days=4, hours=2))
    assert _versions(sessions, KITS[0]) == [4, 5, 6, 7, 8]


def test_a_failed_announcement_is_tried_again(
    setup: tuple[ContentPublisher, sessionmaker[Session], Sent],
) -> None:
    """The broker away when a pointer goes out: the next pass publishes it."""
    publisher, _, sent = setup
    sent.fail = True
    publisher.run_once(NOW)
    assert len(sent) == len(KITS) - 1
    publisher.run_once(NOW)
    assert sorted(sent) == [(k, 1) for k in KITS]


def test_blobs_only_for_the_newest_manifests_not_expired(
    setup: tuple[ContentPublisher, sessionmaker[Session], Sent],
) -> None:
    """A kit may fetch blobs for its newest 3 manifests that have not expired."""
    publisher, sessions, _ = setup
    publisher.run_once(NOW)
    for n in range(3):
        _assign(sessions, "p-m0", f"change {n}")
        publisher.request([KITS[0]])
        publisher.run_once(NOW + timedelta(hours=n + 1))
    with sessions() as session:
        assert [r.version for r in manifest_store.deliverable(session, KITS[0], NOW)] == [4, 3, 2]
        later = NOW + timedelta(days=7, minutes=90)  # versions 1 and 2 expired, 3 not yet
        late = manifest_store.deliverable(session, KITS[0], later)
        assert [r.version for r in late] == [4, 3]
        count = session.scalar(select(func.count()).select_from(IssuedManifest))
        assert count == 4 + 2  # kit-m0's four, kit-m1's and kit-m2's first
