"""The one CSV reader (a file a school exports from its spreadsheet, read row by row), and the
writer of the CSV files the controller hands out.

Every import (kits, components, pupils and guardians in `controller.loans.import_rows`, a pupil's
schedule in `controller.schedules.csv_format`) reads its file here, so they all take the same
files and name a bad line the same way:

- UTF-8 text, with or without a byte-order mark (`decode` turns the bytes of an upload into
  text, refusing one too large or not UTF-8);
- the delimiter is `,`, `;` (Excel's choice in a Kazakh or Russian locale) or a tab: the one the
  header line uses most. Column names hold no delimiter and no quotes, so the header decides it
  with no guessing over data rows, whose addresses and notes are full of commas;
- column names in any case, with spaces around them dropped; the caller checks them
  (`header_problems` says what is missing, unknown or repeated);
- each row carries the line it starts on (the header is line 1; a quoted cell may span lines);
- blank lines (and lines of empty cells, as spreadsheets leave at the end) are skipped; a line
  with another number of cells than the header is an error, and where the CSV stops making
  sense (a stray quote) reading stops with an error naming that line.

Errors are `RowError`s (line, column, reason), collected rather than raised, so that a caller
can report every bad line of a file at once and import nothing. An error made with `row_error`
carries its catalogue key (`common/locale/<lang>/imports.toml`) and says itself in kk, ru and en
(`RowError.messages`); its `reason` is the English text.

A CSV the controller writes (`writer`) is opened in a spreadsheet, which runs a cell that starts
with `=`, `+`, `-` or `@` (or a tab or carriage return before one) as a formula: a school name
such as `=HYPERLINK(...)` would become a link or worse. Such cells are written with a leading
single quote (OWASP's advice), which the spreadsheet shows as text. Such a file starts with a
UTF-8 byte-order mark: without it Excel reads the bytes in the machine's code page and shows
Kazakh and Russian text garbled.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from common.i18n import Lang, catalogue
from controller.errors import ControllerError

HEADER_LINE: Final = 1
DELIMITERS: Final = (";", ",", "\t")
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
NOT_TEXT: Final = "the file is not UTF-8 text"
BOM: Final = "\ufeff"
"""The byte-order mark a CSV the controller writes starts with (Excel then reads it as UTF-8)."""
DOMAIN: Final = "imports"
"""The catalogue of import errors."""


@dataclass(frozen=True)
class RowError:
    """What is wrong with one line of a file."""

    row: int
    """The 1-based line number in the file where the record starts; the header is 1."""
    column: str | None
    """The column at fault, or None when the whole line (or the header) is."""
    reason: str
    key: str | None = field(default=None, compare=False)
    """The catalogue key of the reason (None: the reason is in English only)."""
    params: Mapping[str, object] = field(default_factory=dict, compare=False)
    domain: str = field(default=DOMAIN, compare=False)
    """The catalogue `key` is in (the imports' unless another domain's import names its own)."""

    def messages(self) -> dict[Lang, str]:
        """The reason in every language (the English one thrice when it has no key)."""
        if self.key is None:
            return {"kk": self.reason, "ru": self.reason, "en": self.reason}
        texts: dict[Lang, str] = catalogue(self.domain).texts(self.key, **self.params)
        return texts


def row_error(row: int, column: str | None, key: str, /, **params: object) -> RowError:
    """The error of a line from the imports catalogue: `reason` in English, `messages` in all."""
    return RowError(row, column, catalogue(DOMAIN).text(key, "en", **params), key, params)


class FileRefusedError(ControllerError):
    """An uploaded file that cannot be read as text at all."""

    status = 422


class FileTooLargeError(FileRefusedError):
    """An uploaded file over the size its import accepts."""

    status = 413


class WholeFileError(Exception):
    """The file cannot be read at all: it is empty, or its header does not fit (`errors` say)."""

    def __init__(self, error: RowError, *more: RowError) -> None:
        super().__init__("; ".join(e.reason for e in (error, *more)))
        self.error = error
        self.errors = [error, *more]


def decode(raw: bytes, *, max_bytes: int | None = None, what: str = "a file") -> str:
    """The text of an uploaded file (UTF-8, a byte-order mark dropped), refused if too large."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise FileTooLargeError(f"{what} is at most {max_bytes} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefusedError(NOT_TEXT) from exc


def delimiter(header_line: str) -> str:
    """The delimiter the header line uses most (a comma when it has none)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_problems(
    header: Sequence[str], *, known: Sequence[str], required: Sequence[str] = ()
) -> list[str]:
    """What is wrong with a header: missing, unknown and repeated columns (empty: nothing)."""
    return [error.reason for error in header_errors(header, known=known, required=required)]


def header_errors(
    header: Sequence[str], *, known: Sequence[str], required: Sequence[str] = ()
) -> list[RowError]:
    """`header_problems` as errors of line 1, each naming the columns the file may have."""
    missing = [name for name in required if name not in header]
    unknown = [name or "(unnamed)" for name in header if name not in known]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    expected = ", ".join(known)
    return [
        row_error(HEADER_LINE, None, key, columns=", ".join(names), expected=expected)
        for key, names in (
            ("header.missing", missing),
            ("header.unknown", unknown),
            ("header.repeated", repeated),
        )
        if names
    ]


class _BrokenCsvError(Exception):
    """The CSV cannot be read on from this line (a stray quote, a giant cell)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _records(text: str, separator: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on; _BrokenCsvError where the file stops making sense."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    start = HEADER_LINE
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _BrokenCsvError(start, str(exc)) from exc
        yield start, record
        start = reader.line_num + 1


def read_rows(
    text: str,
    errors: list[RowError],
    *,
    check_header: Callable[[list[str]], str | list[RowError] | None],
    if_empty: str | RowError,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Each data row of a CSV text with the line it starts on, its cells by column name.

    The header's names are trimmed and lower-cased and handed to `check_header`, which returns
    why they do not fit (a reason, or errors of line 1; None or [] when they fit). An empty text
    (`if_empty` says why) or a header that does not fit raises WholeFileError before any row. A
    line with another number of cells than the header, and the line where the CSV stops making
    sense, are appended to `errors` (the caller appends its own there too, so they stay in the
    order of the lines).
    """
    text = text.removeprefix(BOM)
    if not text.strip():
        empty = (
            if_empty if isinstance(if_empty, RowError) else RowError(HEADER_LINE, None, if_empty)
        )
        raise WholeFileError(empty)
    header: list[str] | None = None
    try:
        for line, record in _records(text, delimiter(text.splitlines()[0])):
            if header is None:
                header = [cell.strip().lower() for cell in record]
                if isinstance(reason := check_header(header), str):
                    raise WholeFileError(RowError(HEADER_LINE, None, reason))
                if reason:
                    raise WholeFileError(*reason)
                continue
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                errors.append(row_error(line, None, "cells", cells=len(record), header=len(header)))
                continue
            yield line, dict(zip(header, record, strict=True))
    except _BrokenCsvError as exc:
        errors.append(row_error(exc.line, None, "unreadable", detail=str(exc)))


def spreadsheet_safe(cell: object) -> str:
    """The cell as text a spreadsheet will not run: a formula-like start gets a `'` before it."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """A `csv.writer` whose every cell goes through `spreadsheet_safe`, after a byte-order mark."""

    def __init__(self, out: io.StringIO) -> None:
        if out.tell() == 0:
            out.write(BOM)
        self._writer = csv.writer(out)

    def writerow(self, row: Sequence[object]) -> None:
        """Write one row, formula-like cells quoted."""
        self._writer.writerow([spreadsheet_safe(cell) for cell in row])


def writer(out: io.StringIO) -> SafeWriter:
    """A CSV writer for a file people open in a spreadsheet (a byte-order mark first, so that
    Excel shows Cyrillic; formula injection neutralised)."""
    return SafeWriter(out)
