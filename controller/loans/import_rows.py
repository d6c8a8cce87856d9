"""CSV files a school exports from its spreadsheets: kits, components, pupils and guardians.

Each `parse_*` function reads the whole text and returns every good row and every error, each error
with its line number (the header is line 1), its column and an English reason. It imports nothing:
the caller refuses the whole file when `errors` is not empty, so a half-imported file never happens.

What a file may look like:

- read by `controller.platform.csvfile`, as every CSV import is: UTF-8 text, with or without a
  byte-order mark (decoding is the caller's job); the delimiter `,`, `;` or a tab, the one the
  header line uses most; blank lines (and lines of empty cells) skipped;
- the columns in any order, their names in any case; a missing, unknown or repeated column is one
  error at line 1 and no row is read;
- the keys (kit_id, serial, pupil_ref, guardian_ref, iin) must be unique in the file: the second
  and later rows with the same key are errors naming the first.

Values: spaces around a cell are dropped; choices (status, program, basis, relation) are read in
any case; dates are YYYY-MM-DD or DD.MM.YYYY (Excel's Kazakh and Russian format); IINs go
through `controller.platform.iin.parse_iin` and are kept as 12 digits; phones become +7 and 10
digits. A reason never repeats an IIN, so an error report is safe to log.

Checks that need other data are opt-in: `parse_kits(profiles=...)` (the names under
images/profiles), `parse_components(kit_ids=...)`, `parse_guardians(pupil_refs=...)`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from controller.platform import csvfile
from controller.platform.csvfile import RowError
from controller.platform.iin import IinError, parse_iin
from protocol.timebounds import BoundedDate

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class ImportResult(Generic[T]):
    """The rows that are good and the errors of the others; import only when there are no errors."""

    rows: list[T]
    errors: list[RowError]

    @property
    def ok(self) -> bool:
        """Tell whether every row is good, so the file may be imported."""
        return not self.errors


# --- value types -------------------------------------------------------------------------------


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


_DMY = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})", re.ASCII)
_YMD = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _date_or_none(value: object) -> object:
    """Read YYYY-MM-DD or DD.MM.YYYY; an empty cell is None."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        if _YMD.fullmatch(text):
            return date.fromisoformat(text)
        if match := _DMY.fullmatch(text):
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day)
    except ValueError:
        raise PydanticCustomError("date", "this date does not exist") from None
    raise PydanticCustomError("date", "a date is written YYYY-MM-DD or DD.MM.YYYY")


def _iin(value: str) -> str:
    """Check an IIN with controller.platform.iin and keep its 12 digits."""
    try:
        return parse_iin(value).value
    except IinError as exc:
        hint = ""
        digits = "".join(value.split())
        if exc.reason == "length" and len(digits) == 11 and digits.isdigit():
            hint = " (a spreadsheet may have dropped a leading zero: format the column as text)"
        elif exc.reason == "non_digit" and "E+" in digits.upper():
            hint = " (a spreadsheet turned it into a number: format the column as text)"
        raise PydanticCustomError(
            "iin", "invalid IIN: {why}{hint}", {"why": str(exc), "hint": hint, "code": exc.reason}
        ) from None


_PHONE_NOISE = re.compile(r"[\s\-()]")
_PHONE = re.compile(r"(?:\+7|8|7)(\d{10})", re.ASCII)


def _phone(value: str) -> str:
    """Normalise a Kazakhstan phone number to +7 and 10 digits."""
    match = _PHONE.fullmatch(_PHONE_NOISE.sub("", value))
    if match is None:
        raise PydanticCustomError(
            "phone", "a phone number is +7 and 10 digits, like +7 701 234 56 78 or 8 701 234 56 78"
        )
    return "+7" + match.group(1)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
IinText = Annotated[str, AfterValidator(_iin)]
Phone = Annotated[str, AfterValidator(_phone)]

KitStatus = Literal["active", "in_repair", "lost", "retired", "returned"]
"""The kit lifecycles of controller.trust.enrolment.LIFECYCLES."""
Program = Literal["general", "delayed_development", "correctional_1", "correctional_2"]
Basis = Literal["disability", "temporary"]
Relation = Literal["mother", "father", "legal_representative", "other"]


def _known(info: ValidationInfo, name: str, value: str, what: str) -> str:
    """Check a value against the caller's list of known ones, when the caller gave one."""
    known: Collection[str] | None = (info.context or {}).get(name)
    if known is not None and value not in known:
        shown = ", ".join(sorted(known)[:10]) if known else "none"
        raise PydanticCustomError(
            "unknown", "unknown {what}; known: {shown}", {"what": what, "shown": shown}
        )
    return value


# --- one model per kind of row -----------------------------------------------------------------


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KitRow(_Row):
    """One kit: its id, the profile it is built to, its lifecycle."""

    kit_id: Key
    profile: Key
    status: Annotated[KitStatus, BeforeValidator(_lower)]

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str, info: ValidationInfo) -> str:
        return _known(info, "profiles", value, "profile")


class ComponentRow(_Row):
    """One component of a kit, identified by its serial."""

    serial: Key
    kind: Text
    model: Text
    condition: Text
    kit_id: Key

    @field_validator("kit_id")
    @classmethod
    def _known_kit(cls, value: str, info: ValidationInfo) -> str:
        return _known(info, "kit_ids", value, "kit_id")


class PupilRow(_Row):
    """One home-schooled pupil."""

    pupil_ref: Key
    name: Text
    grade: int = Field(ge=1, le=11)
    program: Annotated[Program, BeforeValidator(_lower)]
    basis: Annotated[Basis, BeforeValidator(_lower)]
    temporary_until: Annotated[BoundedDate | None, BeforeValidator(_date_or_none)]
    school: Text
    iin: IinText

    @field_validator("temporary_until")
    @classmethod
    def _until_matches_basis(cls, value: date | None, info: ValidationInfo) -> date | None:
        basis = info.data.get("basis")
        if basis == "temporary" and value is None:
            raise PydanticCustomError("required", "required when basis is temporary")
        if basis == "disability" and value is not None:
            raise PydanticCustomError("unexpected", "only for basis temporary; leave it empty")
        return value


class GuardianRow(_Row):
    """A parent or legal representative who signs for a pupil."""

    guardian_ref: Key
    pupil_ref: Key
    name: Text
    relation: Annotated[Relation, BeforeValidator(_lower)]
    phone: Phone
    address: LongText
    iin: IinText

    @field_validator("pupil_ref")
    @classmethod
    def _known_pupil(cls, value: str, info: ValidationInfo) -> str:
        return _known(info, "pupil_refs", value, "pupil_ref")


# --- reading a file ----------------------------------------------------------------------------


def _header_reason(header: list[str], expected: list[str]) -> str | None:
    problems = csvfile.header_problems(header, known=expected, required=expected)
    if not problems:
        return None
    return "; ".join(problems) + f" (expected: {', '.join(expected)})"


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "string_too_short" and error.get("ctx", {}).get("min_length") == 1:
        return "is empty"
    return error["msg"]


def _parse(
    text: str, model: type[T], keys: tuple[str, ...], context: Mapping[str, Any]
) -> ImportResult[T]:
    expected = list(model.model_fields)
    rows: list[T] = []
    errors: list[RowError] = []
    first_line_of: dict[str, dict[str, int]] = {key: {} for key in keys}
    lines = csvfile.read_rows(
        text,
        errors,
        check_header=lambda header: _header_reason(header, expected),
        if_empty="the file is empty; a header is expected",
    )
    try:
        for line, cells in lines:
            try:
                row = model.model_validate(cells, context=context)
            except ValidationError as exc:
                errors.extend(
                    RowError(line, str(e["loc"][0]) if e["loc"] else None, _reason(e))
                    for e in exc.errors(include_url=False)
                )
                continue
            duplicates = _duplicates(row, line, keys, first_line_of)
            if duplicates:
                errors.extend(duplicates)
            else:
                rows.append(row)
    except csvfile.WholeFileError as exc:
        return ImportResult([], [exc.error])
    return ImportResult(rows, errors)


def _duplicates(
    row: BaseModel, line: int, keys: tuple[str, ...], first_line_of: dict[str, dict[str, int]]
) -> list[RowError]:
    """Errors for each key this row repeats; the keys of a row with none are remembered."""
    errors = []
    for key in keys:
        first = first_line_of[key].get(getattr(row, key))
        if first is not None:
            label = "IIN" if key == "iin" else key
            errors.append(RowError(line, key, f"duplicate {label}: the same one is on row {first}"))
    if not errors:
        for key in keys:
            first_line_of[key][getattr(row, key)] = line
    return errors


# --- the public functions ----------------------------------------------------------------------


def parse_kits(text: str, *, profiles: Collection[str] | None = None) -> ImportResult[KitRow]:
    """Parse a kits file (kit_id, profile, status); profiles, if given, are the known ones."""
    return _parse(text, KitRow, ("kit_id",), {"profiles": profiles})


def parse_components(
    text: str, *, kit_ids: Collection[str] | None = None
) -> ImportResult[ComponentRow]:
    """Parse a components file (serial, kind, model, condition, kit_id), kit_ids the known ones."""
    return _parse(text, ComponentRow, ("serial",), {"kit_ids": kit_ids})


def parse_pupils(text: str) -> ImportResult[PupilRow]:
    """Parse a pupils file: pupil_ref, name, grade, program, basis, temporary_until, school, iin."""
    return _parse(text, PupilRow, ("pupil_ref", "iin"), {})


def parse_guardians(
    text: str, *, pupil_refs: Collection[str] | None = None
) -> ImportResult[GuardianRow]:
    """Parse a guardians file (guardian_ref, pupil_ref, name, relation, phone, address, iin)."""
    return _parse(text, GuardianRow, ("guardian_ref", "iin"), {"pupil_refs": pupil_refs})
