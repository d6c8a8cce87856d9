"""A pupil's schedule from a CSV file a school exports from its spreadsheet.

One file is one pupil's schedule. Each row is one part of it, said by the `kind` column:

- `slot`: weekday, start, duration_min, subject (required), teacher, mode, server, and date /
  end_date to hold only from / until a day: a weekly lesson;
- `term`: date, end_date (required), note: a term (e.g. a quarter); weekly lessons happen in terms;
- `holiday`: date (required), end_date (empty: one day), note: days without weekly lessons;
- `cancel`: date, start (required), note: that day's weekly lesson at that time does not happen;
- `move`: date, start, to_date, to_start (required), duration_min, note: that lesson is given at
  another date and time (and for another duration);
- `extra`: date, start, duration_min, subject (required), teacher, mode, server: a one-off lesson.

- Without a `kind` column (or with the cell empty) a row is a `slot`, so a plain timetable of
  weekday, start, duration_min, subject, teacher, mode, server is a valid file.
- A file without `term` rows keeps the terms of the pupil's current schedule (the school's
  quarters rarely change); the same for `holiday` rows and the holidays. A file with weekly
  lessons and no term anywhere is refused.
- `pupil_ref` and `pupil_iin` may name the pupil on any row: a row naming another pupil is
  refused (the file is imported for the pupil the caller names). The IIN is checked with the
  caller's `iin_matches` (it needs the personal-data keys) and never repeated in a message.

Values: `weekday` is 1-7 (Monday is 1) or a day's name in English, Russian or Kazakh, whole or
short (Monday, Mon, понедельник, пн, дүйсенбі, дс, ...); `start` and `to_start` are HH:MM, local
to the schedule's time zone; dates are YYYY-MM-DD or DD.MM.YYYY; `duration_min` is whole minutes;
`mode` is online (the default), home_visit or self_study (also "home visit", "онлайн", "на дому",
"үйде", "самостоятельно", "өзіндік"); `server` is host:port or an https:// address (port 443) and
only online lessons have one, which they need. `note` is a term's or holiday's name, or the
reason of a cancellation or a move. Columns are named in any case and order; a column this
format does not know, or a value in a column the row's kind does not use, is an error.

The file is read by `controller.platform.csvfile`, as every CSV import is: UTF-8, the delimiter
`,`, `;` or a tab (the one the header uses most), blank lines skipped.
Nothing is stored from a file with any error: `parse_csv` raises `ScheduleImportError` with every
error, each naming its line (the header is line 1) and its column. Cross-row problems (two
lessons overlapping, a cancellation of a lesson that does not take place) name the line of the
first row concerned and the others in the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any, Final

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from controller.platform import csvfile
from controller.platform.csvfile import HEADER_LINE, RowError
from controller.platform.iin import IinError, parse_iin
from controller.schedules import limits, model, validation
from controller.schedules.errors import Problem, ScheduleImportError
from protocol.timebounds import RANGE, within

_PUPIL_COLUMNS: Final = ("pupil_ref", "pupil_iin")

_WEEKDAY_NAMES: Final = (
    ("monday", "mon", "mo", "понедельник", "пн", "дүйсенбі", "дс"),
    ("tuesday", "tue", "tu", "вторник", "вт", "сейсенбі", "сс"),
    ("wednesday", "wed", "we", "среда", "ср", "сәрсенбі"),
    ("thursday", "thu", "th", "четверг", "чт", "бейсенбі", "бс"),
    ("friday", "fri", "fr", "пятница", "пт", "жұма", "жм"),
    ("saturday", "sat", "sa", "суббота", "сб", "сенбі"),
    ("sunday", "sun", "su", "воскресенье", "вс", "жексенбі", "жс"),
)
WEEKDAYS: Final = {name: day for day, names in enumerate(_WEEKDAY_NAMES) for name in names}
"""Every weekday name the file may use, to 0 (Monday) .. 6."""

MODES: Final = {
    "online": "online",
    "онлайн": "online",
    "дистанционно": "online",
    "қашықтан": "online",
    "home_visit": "home_visit",
    "home visit": "home_visit",
    "home-visit": "home_visit",
    "на дому": "home_visit",
    "үйде": "home_visit",
    "self_study": "self_study",
    "self study": "self_study",
    "self-study": "self_study",
    "самостоятельно": "self_study",
    "өзіндік": "self_study",
}

KINDS: Final = {
    "slot": "slot",
    "weekly": "slot",
    "term": "term",
    "quarter": "term",
    "holiday": "holiday",
    "cancel": "cancel",
    "cancellation": "cancel",
    "cancelled": "cancel",
    "move": "move",
    "moved": "move",
    "extra": "extra",
    "one-off": "extra",
}

# For each kind: the columns it needs, the ones it may have, and the schedule field of each.
_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "slot": ("weekday", "start", "duration_min", "subject"),
    "term": ("date", "end_date"),
    "holiday": ("date",),
    "cancel": ("date", "start"),
    "move": ("date", "start", "to_date", "to_start"),
    "extra": ("date", "start", "duration_min", "subject"),
}
_OPTIONAL: Final[dict[str, tuple[str, ...]]] = {
    "slot": ("teacher", "mode", "server", "date", "end_date"),
    "term": ("note",),
    "holiday": ("end_date", "note"),
    "cancel": ("note",),
    "move": ("duration_min", "note"),
    "extra": ("teacher", "mode", "server"),
}
_FIELD_OF: Final[dict[str, dict[str, str]]] = {
    "slot": {"date": "valid_from", "end_date": "valid_until"},
    "term": {"date": "start", "end_date": "end", "note": "name"},
    "holiday": {"date": "start", "end_date": "end", "note": "name"},
    "cancel": {"note": "reason"},
    "move": {"note": "reason"},
    "extra": {},
}
_MODEL_OF: Final[dict[str, type[BaseModel]]] = {
    "slot": model.Slot,
    "term": model.Term,
    "holiday": model.Holiday,
    "cancel": model.Cancellation,
    "move": model.Move,
    "extra": model.Extra,
}
_LIST_OF: Final = {
    "slot": "slots",
    "term": "terms",
    "holiday": "holidays",
    "cancel": "cancellations",
    "move": "moves",
    "extra": "extras",
}
COLUMNS: Final = (
    "kind",
    *_PUPIL_COLUMNS,
    "weekday",
    "date",
    "end_date",
    "start",
    "duration_min",
    "subject",
    "teacher",
    "mode",
    "server",
    "to_date",
    "to_start",
    "note",
)
_DATE_COLUMNS: Final = frozenset({"date", "end_date", "to_date"})


_DMY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", re.ASCII)


def parse_date(value: str) -> date:
    """YYYY-MM-DD or DD.MM.YYYY (a spreadsheet's Kazakh and Russian format), 2000 to 2100."""
    text = value.strip()
    try:
        if match := _DMY.fullmatch(text):
            day, month, year = (int(part) for part in match.groups())
            parsed = date(year, month, day)
        else:
            parsed = date.fromisoformat(text)
    except ValueError:
        if match or re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError("this date does not exist") from None
        raise ValueError("a date is written YYYY-MM-DD or DD.MM.YYYY") from None
    if not within(parsed):
        raise ValueError(f"{parsed} is not within {RANGE}")
    return parsed


def parse_weekday(value: str) -> int:
    """0 (Monday) .. 6 from 1-7 (Monday is 1) or a name in English, Russian or Kazakh."""
    text = value.strip().lower().rstrip(".")
    if text.isascii() and text.isdigit():
        number = int(text)
        if 1 <= number <= 7:
            return number - 1
        raise ValueError("a weekday number is 1 (Monday) to 7 (Sunday)")
    if text in WEEKDAYS:
        return WEEKDAYS[text]
    raise ValueError(
        "a weekday is 1-7 (Monday is 1) or a name such as Monday, понедельник, дүйсенбі"
    )


def parse_mode(value: str) -> str:
    """online, home_visit or self_study, from the ways a school writes them."""
    text = " ".join(value.strip().lower().split())
    if text in MODES:
        return MODES[text]
    raise ValueError("the mode is online, home_visit or self_study")


def _reason(error: ErrorDetails) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "string_too_short":
        return "is empty"
    return message


class _Reader:
    """One pass over the rows; collects the parts of the schedule and every error."""

    def __init__(self, *, pupil_ref: str, iin_matches: Callable[[str], bool] | None) -> None:
        self.pupil_ref = pupil_ref
        self.iin_matches = iin_matches
        self.parts: dict[str, list[Any]] = {name: [] for name in _LIST_OF.values()}
        self.lines: dict[tuple[str, int], int] = {}
        self.errors: list[RowError] = []

    def row(self, line: int, cells: dict[str, str]) -> None:
        kind_text = cells.get("kind", "").strip().lower() or "slot"
        kind = KINDS.get(kind_text)
        if kind is None:
            self.errors.append(
                RowError(line, "kind", "the kind is slot, term, holiday, cancel, move or extra")
            )
            return
        errors = [*self._pupil(line, cells), *self._columns(line, kind, cells)]
        if errors:
            self.errors.extend(errors)
            return
        values: dict[str, Any] = {}
        for column, cell in cells.items():
            if column in ("kind", *_PUPIL_COLUMNS) or not cell.strip():
                continue
            try:
                values[_FIELD_OF[kind].get(column, column)] = self._value(column, cell)
            except ValueError as exc:
                errors.append(RowError(line, column, str(exc)))
        if kind == "holiday" and "end" not in values and "start" in values:
            values["end"] = values["start"]
        if errors:
            self.errors.extend(errors)
            return
        try:
            part = _MODEL_OF[kind].model_validate(values)
        except ValidationError as exc:
            column_of = {field: column for column, field in _FIELD_OF[kind].items()}
            self.errors.extend(
                RowError(
                    line,
                    column_of.get(str(e["loc"][0]), str(e["loc"][0])) if e["loc"] else None,
                    _reason(e),
                )
                for e in exc.errors(include_url=False)
            )
            return
        name = _LIST_OF[kind]
        self.lines[(name, len(self.parts[name]))] = line
        self.parts[name].append(part)

    @staticmethod
    def _value(column: str, cell: str) -> object:
        if column in _DATE_COLUMNS:
            return parse_date(cell)
        if column == "weekday":
            return parse_weekday(cell)
        if column == "mode":
            return parse_mode(cell)
        return cell.strip()

    def _columns(self, line: int, kind: str, cells: dict[str, str]) -> Iterator[RowError]:
        used = {"kind", *_PUPIL_COLUMNS, *_REQUIRED[kind], *_OPTIONAL[kind]}
        for column in _REQUIRED[kind]:
            if not cells.get(column, "").strip():
                yield RowError(line, column, f"is required in a {kind} row")
        for column, cell in cells.items():
            if cell.strip() and column not in used:
                yield RowError(line, column, f"is not used in a {kind} row; leave it empty")

    def _pupil(self, line: int, cells: dict[str, str]) -> Iterator[RowError]:
        ref = cells.get("pupil_ref", "").strip()
        if ref and ref != self.pupil_ref:
            yield RowError(
                line,
                "pupil_ref",
                f"this row is for pupil {ref!r}; the file is imported for {self.pupil_ref!r}",
            )
        iin = cells.get("pupil_iin", "").strip()
        if not iin:
            return
        try:
            digits = parse_iin(iin).value
        except IinError as exc:
            yield RowError(line, "pupil_iin", f"invalid IIN: {exc}")
            return
        if self.iin_matches is None:
            yield RowError(
                line,
                "pupil_iin",
                "an IIN cannot be checked without the personal-data keys; use pupil_ref",
            )
        elif not self.iin_matches(digits):
            yield RowError(
                line,
                "pupil_iin",
                f"this IIN is not pupil {self.pupil_ref!r}'s; one file, one pupil",
            )


def _header_reason(header: list[str]) -> str | None:
    problems = csvfile.header_problems(header, known=COLUMNS)
    if not problems:
        return None
    return "; ".join(problems) + f" (the columns are: {', '.join(COLUMNS)})"


def _lines(reader: _Reader, problem: Problem) -> tuple[int, str]:
    lines = sorted({reader.lines[part] for part in problem.parts if part in reader.lines})
    if not lines:
        return HEADER_LINE, problem.message
    others = ", ".join(str(n) for n in lines[1:])
    return lines[0], problem.message + (f" (see also line {others})" if others else "")


def _read(text: str, reader: _Reader) -> None:
    lines = csvfile.read_rows(
        text, reader.errors, check_header=_header_reason, if_empty="the file is empty"
    )
    try:
        for line, cells in lines:
            reader.row(line, cells)
    except csvfile.WholeFileError as exc:
        raise ScheduleImportError([exc.error], "csv") from exc


def parse_csv(
    text: str,
    *,
    pupil_ref: str,
    timezone: str | None = None,
    base: model.ScheduleContent | None = None,
    iin_matches: Callable[[str], bool] | None = None,
) -> model.ScheduleContent:
    """The schedule a CSV file describes (see the module's doc); ScheduleImportError if bad.

    `base` is the pupil's current schedule: its terms and holidays are kept when the file has
    none, and its time zone when `timezone` is not given.
    """
    limits.check_csv_rows(text)
    reader = _Reader(pupil_ref=pupil_ref, iin_matches=iin_matches)
    _read(text, reader)
    if reader.errors:
        raise ScheduleImportError(reader.errors, "csv")
    parts: dict[str, Any] = dict(reader.parts)
    if base is not None:
        for name in ("terms", "holidays"):
            if not parts[name]:
                parts[name] = list(getattr(base, name))
    zone = timezone or (base.timezone if base is not None else model.DEFAULT_TIMEZONE)
    try:
        content = model.ScheduleContent.model_validate({"timezone": zone, **parts})
    except ValidationError as exc:
        raise ScheduleImportError(
            [RowError(HEADER_LINE, None, _reason(e)) for e in exc.errors(include_url=False)], "csv"
        ) from exc
    errors = []
    for problem in validation.problems(content):
        line, message = _lines(reader, problem)
        if not problem.parts:
            message += ": add a row with kind term, date and end_date"
        errors.append(RowError(line, None, message))
    if errors:
        raise ScheduleImportError(errors, "csv")
    return content
