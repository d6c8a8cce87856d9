"""`kitkeeper-controller content import DIR --metadata FILE`: every row checked first, all or
nothing (or `--partial`), a per-row report as a table or JSON, exit codes 0 / 1 / 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from controller import cli
from controller.content.tables import ContentBlob, ContentResource
from tests.controller.content.catalogue_files import OGG, PDF, VTT, bomb, html5
from tests.support import migrated

COLUMNS = ["file", "title", "subject", "grade", "language", "kind", "author", "captions"]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of files to import (and, beside it, a file outside it)."""
    monkeypatch.setenv("KITKEEPER_CONFIG", "")  # no site or demo configuration
    monkeypatch.setenv("LANG", "C.UTF-8")
    root = tmp_path / "library"
    (root / "lessons").mkdir(parents=True)
    (root / "algebra.pdf").write_bytes(PDF)
    (root / "lessons" / "fractions.zip").write_bytes(html5())
    (root / "song.ogg").write_bytes(OGG)
    (root / "song.kk.vtt").write_bytes(VTT)
    (root / "bomb.zip").write_bytes(bomb(16))
    (tmp_path / "secret.pdf").write_bytes(PDF + b"secret")
    return root


GOOD = [
    ["algebra.pdf", "Алгебра", "Математика", "7", "kk", "pdf", "Әбілқасымова", ""],
    ["algebra.pdf", "Алгебра (копия)", "Математика", "7", "ru", "pdf", "", ""],
    ["lessons/fractions.zip", "Бөлшектер", "Математика", "5", "kk", "html5", "", ""],
    ["song.ogg", "Әнұран", "Музыка", "1", "kk", "audio", "", "kk:song.kk.vtt"],
]
BAD = [
    ["../secret.pdf", "Құпия", "Математика", "7", "kk", "pdf", "", ""],
    ["bomb.zip", "Бомба", "Математика", "7", "kk", "html5", "", ""],
    ["algebra.pdf", "Он екінші", "Математика", "12", "kk", "pdf", "", ""],
    ["missing.pdf", "Жоқ", "Математика", "7", "kk", "pdf", "", ""],
]


def metadata(folder: Path, rows: list[list[str]], name: str = "meta.csv") -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    path = folder.parent / name
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def run(folder: Path, meta: Path, *extra: str) -> int:
    db = f"sqlite:///{folder.parent / 'controller.db'}"
    blobs = str(folder.parent / "content")
    args = ["content", "import", str(folder), "--metadata", str(meta), "--db", db]
    return cli.main([*args, "--content-dir", blobs, *extra])


def stored(folder: Path) -> tuple[int, int, int]:
    """(resources, blob rows, blob files) now stored."""
    database = migrated(f"sqlite:///{folder.parent / 'controller.db'}")
    with database.sessions() as session:
        resources = session.scalar(select(func.count()).select_from(ContentResource)) or 0
        blobs = session.scalar(select(func.count()).select_from(ContentBlob)) or 0
    database.engine.dispose()
    files = [p for p in (folder.parent / "content" / "blobs").rglob("*") if p.is_file()]
    return resources, blobs, len(files)


def test_a_good_batch_is_stored_with_a_report(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(folder, metadata(folder, GOOD)) == 0
    out = capsys.readouterr().out
    assert "4 created, 0 refused of 4 rows" in out
    assert stored(folder) == (4, 4, 4)  # the PDF twice: one blob; the captions: one


def test_all_or_nothing_refuses_the_batch_and_says_why(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(folder, metadata(folder, GOOD + BAD), "--json") == 1
    report = json.loads(capsys.readouterr().out)
    outcomes = {r["row"]: (r["outcome"], r["reason"]) for r in report["rows"]}
    assert outcomes == {
        1: ("not_stored", None),
        2: ("not_stored", None),
        3: ("not_stored", None),
        4: ("not_stored", None),
        5: ("refused", "file_outside"),
        6: ("refused", "zip_bomb"),
        7: ("refused", "metadata"),
        8: ("refused", "file_missing"),
    }
    assert "grade" in report["rows"][6]["message"]
    assert report["created"] == 0
    assert stored(folder) == (0, 0, 0)


def test_partial_stores_the_valid_rows(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(folder, metadata(folder, BAD[:1] + GOOD[:2]), "--partial") == 1
    out = capsys.readouterr().out
    assert "2 created, 1 refused of 3 rows" in out
    assert "file_outside" in out
    assert stored(folder) == (2, 1, 1)


def test_json_metadata_and_a_report_in_kazakh(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "kk_KZ.UTF-8")
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in [GOOD[3], BAD[2]]]
    rows[0]["captions"] = {"kk": "song.kk.vtt"}  # type: ignore[assignment]
    rows[0]["grade"] = 1  # type: ignore[assignment]
    meta = folder.parent / "meta.json"
    meta.write_text(json.dumps({"resources": rows}, ensure_ascii=False), encoding="utf-8")
    assert run(folder, meta, "--partial") == 1
    out = capsys.readouterr().out
    assert "жасалды" in out  # created
    assert "қабылданбады" in out  # refused
    assert stored(folder)[0] == 1


@pytest.mark.parametrize(
    "text",
    [
        "file,title,subject,grade,language,kind,colour\n",  # an unknown column
        "file,title,grade,language,kind\n",  # no subject
        '{"resources": 3}',
        "[{,}]",
    ],
)
def test_a_metadata_file_that_cannot_be_read_is_bad_input(
    folder: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = folder.parent / ("meta.json" if text.startswith(("[", "{")) else "meta.csv")
    meta.write_text(text, encoding="utf-8")
    assert run(folder, meta) == 2
    assert "kitkeeper-controller" in capsys.readouterr().err
    assert run(folder / "nowhere", meta) == 2
