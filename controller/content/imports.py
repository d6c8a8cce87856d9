"""A batch of resources from a folder and a metadata file (CSV or JSON), with a per-row report.

Each row names a file inside the folder (never outside it: an absolute path, `..` or a link out
is refused) and its metadata (the columns below); captions as `lang:file;lang:file`. Every row
is checked first, as an upload is (`intake.prepare`); then all rows are stored in one
transaction, or none if any row was refused, unless `partial`: then each valid row is stored on
its own and the refused ones are reported. A metadata file that cannot be read at all (not CSV
or JSON, unknown or missing columns, too many rows) is `ImportInputError`: nothing is checked.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError
from sqlalchemy.orm import Session

from common.i18n import LANGS, Lang, catalogue
from controller.api.validation import message as validation_message
from controller.content import intake
from controller.content.blobstore import BlobStore
from controller.content.errors import DOMAIN, ContentError, ContentRefusedError
from controller.content.schemas import ImportReport, ImportRow, ResourceCreate

_LOGGER = logging.getLogger(__name__)

REQUIRED: Final = ("file", "title", "subject", "grade", "language", "kind")
OPTIONAL: Final = ("author", "provider", "keywords", "description", "entry", "captions")
MAX_ROWS: Final = 10_000
MAX_METADATA_BYTES: Final = 16 * 1024 * 1024


class ImportInputError(ContentError):
    """A metadata file that cannot be read as a whole (the command line's exit code 2)."""

    status = 422


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the metadata file: its number (1 = the first after the header) and fields."""

    number: int
    fields: Mapping[str, str]

    @property
    def file(self) -> str:
        """The file the row names, as written."""
        return self.fields.get("file", "")


def _bad(problem: str) -> ImportInputError:
    return ImportInputError.translated("import.bad_metadata", problem=problem)


def _text(value: Any) -> str:
    if isinstance(value, dict):  # JSON captions as {"kk": "a.vtt"}
        return ";".join(f"{k}:{v}" for k, v in value.items())
    return "" if value is None else str(value)


def read_rows(raw: bytes, *, name: str) -> list[Row]:
    """The rows of a CSV or JSON metadata file (JSON: a list of objects, or `{"resources":
    [...]}`); refused whole (`ImportInputError`) when it cannot be read."""
    if len(raw) > MAX_METADATA_BYTES:
        raise _bad(f"larger than {MAX_METADATA_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad("not UTF-8") from exc
    if name.lower().endswith(".json") or text.lstrip().startswith(("[", "{")):
        records = _json_records(text)
        columns: set[str] = set().union(*(r.keys() for r in records))
    else:
        reader = csv.DictReader(io.StringIO(text))
        records = [dict(r) for _, r in zip(range(MAX_ROWS + 1), reader, strict=False)]
        columns = set(reader.fieldnames or ())
    if len(records) > MAX_ROWS:
        raise _bad(f"more than {MAX_ROWS} rows")
    if not records:
        raise _bad("no rows")
    if unknown := sorted(str(c) for c in columns - set(REQUIRED) - set(OPTIONAL)):
        raise _bad("unknown columns: " + ", ".join(unknown[:10]))
    if missing := [c for c in REQUIRED if c not in columns]:
        raise _bad("missing columns: " + ", ".join(missing))
    return [
        Row(n, {str(k): _text(v).strip() for k, v in r.items()})
        for n, r in enumerate(records, start=1)
    ]


def _json_records(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _bad(f"not JSON: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("resources")
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise _bad('JSON must be a list of objects (or {"resources": [...]})')
    return data


def inside(root: Path, name: str) -> Path:
    """The file `name` inside the folder `root`; refused if it is outside it or missing."""
    base = root.resolve()
    path = (base / name).resolve()
    if not name or Path(name).is_absolute() or not path.is_relative_to(base):
        raise ContentRefusedError("file_outside", file=name[:200])
    if not path.is_file():
        raise ContentRefusedError("file_missing", file=name[:200])
    return path


def _captions(root: Path, spec: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        lang, _, name = part.partition(":")
        if lang.strip() not in LANGS:
            raise ContentRefusedError("captions_language", language=lang.strip()[:20])
        found[lang.strip()] = inside(root, name.strip())
    return found


def _meta(row: Row) -> ResourceCreate:
    fields = {k: v for k, v in row.fields.items() if k not in ("file", "captions")}
    if not fields.get("entry"):
        fields.pop("entry", None)
    try:
        return ResourceCreate.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "?"
        problem = {lang: validation_message(error, lang) for lang in LANGS}
        raise ContentRefusedError("metadata", field=field, problem=problem) from exc


@dataclass(frozen=True, slots=True)
class Checked:
    """A row that passed: its metadata and files."""

    row: Row
    meta: ResourceCreate
    file: Path
    captions: dict[str, Path]


def check_row(root: Path, row: Row, *, configured: int) -> Checked:
    """Check one row as an upload is checked (its files opened and read, nothing stored)."""
    meta = _meta(row)
    checked = Checked(
        row, meta, inside(root, row.file), _captions(root, row.fields.get("captions", ""))
    )
    with _opened(checked) as (file, captions):
        intake.prepare(meta, file, captions, configured=configured)
    return checked


class _opened:  # noqa: N801  # used as a function: `with _opened(row) as (file, captions)`
    """The row's main file and captions, open for reading, closed after."""

    def __init__(self, checked: Checked) -> None:
        self.checked = checked
        self.stack = ExitStack()

    def __enter__(self) -> tuple[io.BufferedReader, dict[str, io.BufferedReader]]:
        file = self.stack.enter_context(self.checked.file.open("rb"))
        captions = {
            lang: self.stack.enter_context(path.open("rb"))
            for lang, path in self.checked.captions.items()
        }
        return file, captions

    def __exit__(self, *exc: object) -> None:
        self.stack.close()


def _refused(row: Row, error: ContentRefusedError, lang: Lang) -> ImportRow:
    return ImportRow(
        row=row.number,
        file=row.file,
        outcome="refused",
        reason=error.reason,
        message=error.text(lang),
    )


def _not_stored(checked: Checked, lang: Lang) -> ImportRow:
    return ImportRow(
        row=checked.row.number,
        file=checked.row.file,
        outcome="not_stored",
        message=catalogue(DOMAIN).text("import.not_stored", lang),
    )


def _store_one(
    session: Session, blobs: BlobStore, checked: Checked, stored: intake.Stored, **kw: Any
) -> str:
    configured = kw.pop("configured")
    with _opened(checked) as (file, captions):  # checked again: the file may have changed
        prepared = intake.prepare(checked.meta, file, captions, configured=configured)
        return intake.store(session, blobs, prepared, stored=stored, **kw).id


def run(
    session: Session,
    blobs: BlobStore,
    *,
    root: Path,
    rows: list[Row],
    partial: bool,
    actor: str,
    now: datetime,
    configured: int,
    lang: Lang = "en",
) -> ImportReport:
    """Check every row, then store them all (or none if one is refused), or with `partial`
    each valid one; the report says each row's outcome in `lang`."""
    report: dict[int, ImportRow] = {}
    valid: list[Checked] = []
    for row in rows:
        try:
            valid.append(check_row(root, row, configured=configured))
        except ContentRefusedError as exc:
            report[row.number] = _refused(row, exc, lang)
    if report and not partial:
        for checked in valid:
            report[checked.row.number] = _not_stored(checked, lang)
    else:
        _store(
            session,
            blobs,
            valid,
            report,
            partial=partial,
            lang=lang,
            actor=actor,
            now=now,
            configured=configured,
        )
    ordered = [report[n] for n in sorted(report)]
    created = sum(r.outcome == "created" for r in ordered)
    refused = sum(r.outcome == "refused" for r in ordered)
    _LOGGER.info("content import by %s: %d created, %d refused", actor, created, refused)
    return ImportReport(rows=ordered, created=created, refused=refused)


def _store(
    session: Session,
    blobs: BlobStore,
    valid: list[Checked],
    report: dict[int, ImportRow],
    *,
    partial: bool,
    lang: Lang,
    **kw: Any,
) -> None:
    """Store the valid rows: each in its own transaction (`partial`), else all in one."""
    stored = intake.Stored()
    for checked in valid:
        row = checked.row
        try:
            made = _store_one(session, blobs, checked, stored, **kw)
            report[row.number] = ImportRow(
                row=row.number, file=row.file, outcome="created", id=made
            )
            if partial:
                session.commit()
                stored = intake.Stored()
        except ContentRefusedError as exc:
            session.rollback()
            intake.discard(session, blobs, stored.new_blobs)
            stored = intake.Stored()
            report[row.number] = _refused(row, exc, lang)
            if not partial:
                for other in valid:
                    if other is not checked:
                        report[other.row.number] = _not_stored(other, lang)
                return
        except BaseException:
            session.rollback()
            intake.discard(session, blobs, stored.new_blobs)
            raise
    if not partial:
        session.commit()
