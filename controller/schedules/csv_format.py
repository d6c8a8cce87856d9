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

from common.i18n import Lang
from controller.platform import csvfile
from controller.platform.csvfile import HEADER_LINE, RowError
from controller.platform.iin import IinError, parse_iin
from controller.schedules import limits, line_errors, model, validation
from controller.schedules.errors import Problem, ScheduleImportError
from controller.schedules.line_errors import invalid, line_error, value_error
from protocol.timebounds import BOUNDS, within

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
            raise invalid("import.date_missing") from None
        raise invalid("import.date_form") from None
    if not within(parsed):
        raise invalid("import.date_range", day=parsed, **BOUNDS)
    return parsed


def parse_weekday(value: str) -> int:
    """0 (Monday) .. 6 from 1-7 (Monday is 1) or a name in English, Russian or Kazakh."""
    text = value.strip().lower().rstrip(".")
    if text.isascii() and text.isdigit():
        number = int(text)
        if 1 <= number <= 7:
            return number - 1
        raise invalid("import.weekday_number")
    if text in WEEKDAYS:
        return WEEKDAYS[text]
    raise invalid("import.weekday")


def parse_mode(value: str) -> str:
    """online, home_visit or self_study, from the ways a school writes them."""
    text = " ".join(value.strip().lower().split())
    if text in MODES:
        return MODES[text]
    raise invalid("import.mode")


def _model_error(line: int, column: str | None, error: ErrorDetails) -> RowError:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ValueError):
        return value_error(line, column, cause)
    if error["type"] == "string_too_short":
        return line_error(line, column, "import.empty")
    return line_error(line, column, "import.invalid", detail=error["msg"])


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
            self.errors.append(line_error(line, "kind", "import.kind"))
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
                errors.append(value_error(line, column, exc))
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
                _model_error(
                    line, column_of.get(str(e["loc"][0]), str(e["loc"][0])) if e["loc"] else None, e
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
                yield line_error(line, column, "import.required", kind=kind)
        for column, cell in cells.items():
            if cell.strip() and column not in used:
                yield line_error(line, column, "import.unused", kind=kind)

    def _pupil(self, line: int, cells: dict[str, str]) -> Iterator[RowError]:
        ref = cells.get("pupil_ref", "").strip()
        if ref and ref != self.pupil_ref:
            yield line_error(
                line,
                "pupil_ref",
                "import.other_pupil",
                pupil=repr(ref),
                imported=repr(self.pupil_ref),
            )
        iin = cells.get("pupil_iin", "").strip()
        if not iin:
            return
        try:
            digits = parse_iin(iin).value
        except IinError as exc:
            yield csvfile.row_error(line, "pupil_iin", f"iin.{exc.reason}")
            return
        if self.iin_matches is None:
            yield line_error(line, "pupil_iin", "import.iin_unchecked")
        elif not self.iin_matches(digits):
            yield line_error(line, "pupil_iin", "import.iin_other", pupil=repr(self.pupil_ref))


def _header_errors(header: list[str]) -> list[RowError]:
    return csvfile.header_errors(header, known=COLUMNS)


def _line_of(reader: _Reader, problem: Problem) -> RowError:
    """A contradiction on the first line it concerns, naming the others."""
    lines = sorted({reader.lines[part] for part in problem.parts if part in reader.lines})
    others = ", ".join(str(n) for n in lines[1:])
    see_also = line_errors.text("import.see_also", lines=others) if others else None
    add_term = line_errors.text("import.add_term") if not problem.parts else None

    def say(lang: Lang) -> str:
        return "".join(
            [problem.text(lang), *(extra(lang) for extra in (see_also, add_term) if extra)]
        )

    return line_errors.said(lines[0] if lines else HEADER_LINE, None, say)


def _read(text: str, reader: _Reader) -> None:
    lines = csvfile.read_rows(
        text,
        reader.errors,
        check_header=_header_errors,
        if_empty=line_error(HEADER_LINE, None, "import.empty_file"),
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
            [_model_error(HEADER_LINE, None, e) for e in exc.errors(include_url=False)], "csv"
        ) from exc
    errors = [_line_of(reader, problem) for problem in validation.problems(content)]
    if errors:
        raise ScheduleImportError(errors, "csv")
    return content
