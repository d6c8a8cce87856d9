"""Content publisher benchmark: one pass over N lent kits, the first (every manifest built and
signed) and the next (nothing changed: every manifest built again and found unchanged).

Each kit is lent (an active contract) to its own pupil, whose approved schedule has 10 lessons a
week, with `--tasks` assignments naming resources of a catalogue of 50 PDFs. SQLite in a temporary
folder; no broker (pointers are counted, not sent). Prints figures; asserts nothing.

    .venv/bin/python bench/content_publisher.py --kits 500 --tasks 5
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.config import ControllerSettings  # noqa: E402
from controller.content.assignment_tables import Assignment  # noqa: E402
from controller.content.publisher import ContentPublisher  # noqa: E402
from controller.content.tables import ContentBlob, ContentResource  # noqa: E402
from controller.fleet.tables import Kit  # noqa: E402
from controller.loans.tables import LoanContract, Pupil  # noqa: E402
from controller.platform.db.engine import make_engine, make_sessionmaker  # noqa: E402
from controller.platform.db.migrate import upgrade  # noqa: E402
from controller.platform.metrics import Metrics  # noqa: E402
from controller.schedules import versions  # noqa: E402
from controller.schedules.model import ScheduleContent  # noqa: E402

RESOURCES = 50


def _schedule(today: date) -> ScheduleContent:
    slots = [
        {"weekday": d, "start": f"{9 + h}:00", "duration_min": 40, "subject": f"Subject {h}",
         "server": "webinar.school.kz:443"}
        for d in range(5) for h in range(2)
    ]  # fmt: skip
    terms = [{"start": str(today - timedelta(days=7)), "end": str(today + timedelta(days=90))}]
    return ScheduleContent.model_validate(
        {"timezone": "Asia/Almaty", "terms": terms, "slots": slots}
    )


def _populate(sessions: object, kits: int, tasks: int, now: datetime) -> None:
    with sessions.begin() as session:  # type: ignore[attr-defined]
        for r in range(RESOURCES):
            sha = hashlib.sha256(f"blob {r}".encode()).hexdigest()
            session.add(ContentBlob(sha256=sha, size=1_000_000 + r, media_type="application/pdf",
                                    chunks=[], created_at=now))  # fmt: skip
            session.add(ContentResource(
                id=f"{r:032x}", title=f"Resource {r}", subject="Math", grade=5, language="ru",
                author="", provider="", keywords="", description="", kind="pdf", sha256=sha,
                entry=None, created_at=now, created_by="bench", updated_at=now, archived_at=None,
            ))  # fmt: skip
        for k in range(kits):
            kit_id, ref = f"kit-{k:05d}", f"p-{k:05d}"
            session.add(Kit(kit_id=kit_id, lifecycle="active"))
            session.add(Pupil(ref=ref, name_enc="x", iin_enc="x", iin_index=f"i{k}", grade=5,
                              program_enc="x", basis_enc="x", temporary_until_enc="x",
                              school="s", teacher=None, created_at=now))  # fmt: skip
            session.add(LoanContract(
                number=f"C-{k}", school="s", city="c", guardian_ref="g", pupil_ref=ref,
                kit_id=kit_id, state="active", start=now.date() - timedelta(days=30),
                end=now.date() + timedelta(days=300), terms_version="1", components=[],
                created_at=now,
            ))  # fmt: skip
            for t in range(tasks):
                session.add(Assignment(
                    batch="b", pupil_ref=ref, type="homework", difficulty="medium", text="Task",
                    subject="Math", lesson_start=None, due_at=now + timedelta(days=1 + t),
                    resources=[f"{(k + t) % RESOURCES:032x}"], created_at=now, created_by="b",
                ))  # fmt: skip
        session.flush()
        schedule = _schedule(now.date())
        for k in range(kits):
            ref = f"p-{k:05d}"
            versions.add(session, pupil_ref=ref, schedule=schedule, actor="bench", now=now)
            versions.approve(session, pupil_ref=ref, actor="bench", now=now)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kits", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = ControllerSettings(db=f"sqlite:///{tmp}/bench.db", pki_dir=Path(tmp) / "pki")
        engine = make_engine(settings.db)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        now = datetime.now(UTC)
        _populate(sessions, args.kits, args.tasks, now)
        sent: list[str] = []
        publisher = ContentPublisher(
            settings=settings,
            sessions=sessions,
            metrics=Metrics(),
            publish=lambda kit_id, pointer: sent.append(kit_id),
        )
        passes = [
            ("first pass (every kit's manifest issued)", True),
            ("full sweep, nothing changed", True),
            ("pass with nothing asked (events, alerts)", False),
        ]
        for name, everything in passes:
            started = time.perf_counter()
            publisher.run_once(datetime.now(UTC), everything=everything)
            elapsed = time.perf_counter() - started
            per_kit = 1000 * elapsed / args.kits
            print(f"{name}: {elapsed:.2f} s, {per_kit:.2f} ms per kit; pointers sent {len(sent)}")
        publisher.request(["kit-00007"])
        started = time.perf_counter()
        publisher.run_once(datetime.now(UTC), everything=False)
        print(f"pass for one kit asked for: {time.perf_counter() - started:.3f} s")
        with sessions() as session:
            from controller.content import manifest_store  # noqa: PLC0415

            row = manifest_store.latest(session, "kit-00000")
            assert row is not None
            print(f"one manifest: {len(row.document)} bytes, "
                  f"{len(row.blobs)} blobs, {row.total_bytes} bytes of content")  # fmt: skip
        engine.dispose()


if __name__ == "__main__":
    main()
