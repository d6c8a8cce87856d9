"""Health data and signatures: encrypted at rest, shown by role; the database's files private.

A pupil's program and basis (why the child learns at home) and who signed a contract or an act
are stored as ciphertext; a technician sees none of them; the SQLite file, its WAL and shared
memory are 0600 in a 0700 folder; a database written before migration 0019 is encrypted in place.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from controller.fleet.tables import Kit
from controller.platform.crypto import FieldCipher, generate_key
from controller.platform.db.migrate import alembic_config, upgrade
from tests.controller.records import GOOD, PUPIL, lend, step
from tests.support import BIN, Broker, Controller

SIGNERS = ("Ә. Нұрғалиева", "Директор", "Сәуле Қайратқызы Бекова")
"""Who signs the contract (guardian, school) and the hand-over act in the tests."""


def database_bytes(url: str) -> bytes:
    """The database file with its WAL and shared memory, as someone who copies them reads them."""
    db = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_health_data_and_signatures_are_encrypted_and_hidden_from_technicians(
    controller: Controller,
) -> None:
    lend(controller, guardian=SIGNERS[0])  # signed by the guardian and "Директор"
    act = {"act": {"conditions": GOOD, "signed_by": SIGNERS[2]}, "training_recorded": True}
    assert step(controller, "hand_over", act)[0] == 200
    raw = database_bytes(controller.db)
    for value in (PUPIL["program"], "disability", *SIGNERS, "Бекова"):
        assert value.encode() not in raw, f"{value!r} in clear in the database"

    _, tech = controller.get("/api/v1/pupils/p-001", "technician")
    assert (tech["name"], tech["program"], tech["basis"]) == (PUPIL["name"], None, None)
    _, teacher = controller.get("/api/v1/pupils/p-001", "teacher")
    assert (teacher["program"], teacher["basis"]) == ("correctional_1", "disability")
    _, admin = controller.get("/api/v1/pupils", "admin")
    assert (admin[0]["program"], admin[0]["basis"]) == ("correctional_1", "disability")

    _, contract = controller.get("/api/v1/contracts/2026-0042", "admin")
    assert (contract["signed_by_guardian"], contract["signed_by_school"]) == SIGNERS[:2]
    assert contract["handover"]["signed_by"] == SIGNERS[2]
    for seen in (
        controller.get("/api/v1/contracts/2026-0042", "technician")[1],
        controller.get("/api/v1/contracts", "technician")[1][0],
    ):
        assert seen["state"] == "active"
        assert seen["handover"]["conditions"] == GOOD, "the parts' conditions stay visible"
        shown = json.dumps(seen, ensure_ascii=False)
        assert not any(name in shown for name in SIGNERS), shown
        assert "signed_by_enc" not in shown
    assert controller.get("/api/v1/register.csv", "technician")[0] == 403
    status, register = controller.get("/api/v1/register.csv", "admin")
    assert status == 200
    assert not any(name in register for name in SIGNERS), "the register names people by ref"
    assert register.splitlines()[1].endswith(",yes,yes")


@pytest.mark.processes
def test_a_new_database_folder_is_0700_and_the_database_0600(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'k.db'}"
    done = subprocess.run(
        [str(BIN / "kitkeeper-controller"), "db", "upgrade", "--db", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"KITKEEPER_PII_KEYS": "[]"},  # a fresh database needs no keys
    )
    assert done.returncode == 0, done.stderr
    assert (mode(tmp_path / "data"), mode(tmp_path / "data" / "k.db")) == (0o700, 0o600)


# --- a database written before migration 0019 ----------------------------------------------------

UNTIL = date.today() + timedelta(days=90)


@pytest.fixture
def keys() -> dict[str, str]:
    return {
        "KITKEEPER_PII_KEYS": json.dumps([generate_key()]),
        "KITKEEPER_PII_INDEX_KEY": generate_key(),
    }


def cipher_of(keys: dict[str, str]) -> FieldCipher:
    return FieldCipher(
        json.loads(keys["KITKEEPER_PII_KEYS"]), index_key=keys["KITKEEPER_PII_INDEX_KEY"]
    )


def old_database(url: str, cipher: FieldCipher) -> None:
    """A database at 0018 with people, a signed and handed-over contract and an audit entry.

    Made as the old controller made it (no 0600 file), its names encrypted as they were then,
    program, basis and signatories in clear.
    """
    engine = create_engine(url)
    upgrade(engine, "0018")
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy writes a datetime to SQLite
    with Session(engine) as session, session.begin():
        session.add(Kit(kit_id="kit-old"))
    with engine.begin() as db:
        for ref, program, basis, until in (
            ("p-001", "correctional_1", "disability", None),
            ("p-002", "general", "temporary", UNTIL.isoformat()),
        ):
            db.execute(
                text(
                    "INSERT INTO pupils (ref, name_enc, iin_enc, iin_index, grade, program, basis,"
                    " temporary_until, school, teacher, created_at) VALUES (:ref, :name, :iin,"
                    " :index, 5, :program, :basis, :until, 'школа', 'teacher', :now)"
                ),
                {
                    "ref": ref,
                    "name": cipher.encrypt(PUPIL["name"] + ref),
                    "iin": cipher.encrypt(ref),
                    "index": cipher.blind_index(ref),
                    "program": program,
                    "basis": basis,
                    "until": until,
                    "now": stamp,
                },
            )
        act = {"conditions": {"SN-1": "good"}, "signed_by": SIGNERS[2], "at": now.isoformat()}
        db.execute(
            text(
                "INSERT INTO contracts (number, school, city, guardian_ref, pupil_ref, kit_id,"
                ' state, start, "end", terms_version, components, signed_by_guardian,'
                " signed_by_school, training_recorded, handover, annexes, created_at) VALUES"
                " ('c-old', 'школа', 'Алматы', 'g-001', 'p-001', 'kit-old', 'active', :start,"
                " :end, '1', :parts, :guardian, :school, 1, :act, '[]', :now)"
            ),
            {
                "start": now.date().isoformat(),
                "end": (now.date() + timedelta(days=200)).isoformat(),
                "parts": json.dumps(
                    [{"serial": "SN-1", "kind": "laptop", "model": "X", "condition": "good"}]
                ),
                "guardian": SIGNERS[0],
                "school": SIGNERS[1],
                "act": json.dumps(act, ensure_ascii=False),
                "now": stamp,
            },
        )
        db.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, entity, entity_id, after) VALUES"
                " (:now, 'admin', 'pupil_created', 'pupil', 'p-001', :after)"
            ),
            {"now": stamp, "after": json.dumps({"grade": 5, "program": "correctional_1"})},
        )
    engine.dispose()
    Path(url.removeprefix("sqlite:///")).chmod(0o644)


CLEAR = ("correctional_1", "disability", UNTIL.isoformat(), *SIGNERS)
"""What the old database holds in clear and the new one must not ("temporary" is in a column's
name: the end date stands for that basis)."""


def db_upgrade(url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "kitkeeper-controller"), "db", "upgrade", "--db", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | env,
    )


def test_an_old_database_is_encrypted_in_place_and_made_private(
    tmp_path: Path, broker: Broker, keys: dict[str, str]
) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    old_database(url, cipher_of(keys))
    assert all(value.encode() in database_bytes(url) for value in CLEAR), "the test's premise"

    refused = db_upgrade(url, {"KITKEEPER_PII_KEYS": "[]"})
    assert refused.returncode == 2, refused.stderr
    assert "KITKEEPER_PII_KEYS" in refused.stderr
    migrated = db_upgrade(url, keys)
    assert migrated.returncode == 0, migrated.stderr
    raw = database_bytes(url)
    assert [v for v in CLEAR if v.encode() in raw] == []
    assert mode(tmp_path / "k.db") == 0o600, "an old database's file is made private"

    controller = Controller(tmp_path, broker, db=url, **keys).start()
    try:
        _, pupils = controller.get("/api/v1/pupils", "admin")
        assert [(p["program"], p["basis"], p["temporary_until"]) for p in pupils] == [
            ("correctional_1", "disability", None),
            ("general", "temporary", UNTIL.isoformat()),
        ]
        _, contract = controller.get("/api/v1/contracts/c-old", "admin")
        assert (contract["signed_by_guardian"], contract["signed_by_school"]) == SIGNERS[:2]
        assert contract["handover"]["signed_by"] == SIGNERS[2]
        _, log = controller.get("/api/v1/audit?entity=pupil&entity_id=p-001")
        assert log[0]["after"] == {"grade": 5, "program": "<encrypted>"}
        assert controller.post("/api/v1/pupils", PUPIL | {"ref": "p-new"}, "admin")[0] == 201
        written = [tmp_path / f"k.db{suffix}" for suffix in ("", "-wal", "-shm")]
        assert [mode(p) for p in written] == [0o600] * 3, "the WAL and shared memory too"
    finally:
        controller.stop()


def test_the_migration_goes_down_and_up_again_keeping_every_value(
    tmp_path: Path, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Downgrade gives the clear values back; upgrading again encrypts them once more."""
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    url = f"sqlite:///{tmp_path / 'k.db'}"
    old_database(url, cipher_of(keys))
    engine = create_engine(url)

    def clear() -> Iterator[tuple[object, ...]]:
        with engine.connect() as db:
            yield from db.execute(
                text("SELECT ref, program, basis, temporary_until FROM pupils ORDER BY ref")
            )
            for guardian, school, handover in db.execute(
                text("SELECT signed_by_guardian, signed_by_school, handover FROM contracts")
            ):
                yield guardian, school, json.loads(handover)

    before = list(clear())
    upgrade(engine, "0019")
    command.downgrade(alembic_config(engine), "0018")
    assert list(clear()) == before
    upgrade(engine, "0019")
    assert [v for v in CLEAR if v.encode() in database_bytes(url)] == []
    engine.dispose()
