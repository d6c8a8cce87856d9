"""CSV files a school exports from its spreadsheets: kits, components, pupils and guardians.

Each `parse_*` function reads the whole text and returns every good row (with its line) and every
error, each error with its line number (the header is line 1), its column and its reason: in
English (`reason`) and from the catalogue `common/locale/<lang>/imports.toml` in kk, ru and en
(`RowError.messages`), in plain words that list the accepted values (never a pattern). It imports
nothing: the caller (`controller.loans.imports`) adds what only the database knows and refuses
the whole file when there is any error, so a half-imported file never happens.

What a file may look like (the columns of each kind: `COLUMNS`, and the README):

- read by `controller.platform.csvfile`, as every CSV import is: UTF-8 text, with or without a
  byte-order mark (decoding is the caller's job); the delimiter `,`, `;` or a tab, the one the
  header line uses most; blank lines (and lines of empty cells) skipped;
- the columns in any order, their names in any case; a missing, unknown or repeated column is an
  error at line 1 and no row is read; optional columns (a pupil's `teacher`) may be left out;
  the kits file's `lifecycle` may still be headed `status`, its old name;
- the keys (kit_id, serial, pupil_ref, guardian_ref, iin) must be unique in the file: the second
  and later rows with the same key are errors naming the first.

Values: spaces around a cell are dropped; choices (lifecycle, kind, condition, program, basis,
relation) are read in any case; dates are YYYY-MM-DD or DD.MM.YYYY (Excel's Kazakh and Russian
format); IINs go through `controller.platform.iin.parse_iin` and are kept as 12 digits; phones
become +7 and 10 digits; references follow `controller.loans.schemas.REF` (Cyrillic too). A
reason never repeats an IIN, a name or a phone, so an error report is safe to log.

Checks that need other data are opt-in, by keyword: `parse_kits(profiles=...)` (the names under
images/profiles), `parse_components(kit_ids=..., existing=...)`, `parse_pupils(existing=...)`,
`parse_guardians(pupil_refs=..., existing=...)`: `existing` are the keys already recorded, each
an error unless the import updates them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Final, Generic, TypeVar

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
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from common.i18n import Lang, catalogue
from controller.errors import InvalidValue
from controller.loans.schemas import REF, Basis, Program, Relation
from controller.loans.vocabulary import ComponentKind, Condition, accepted
from controller.platform import csvfile
from controller.platform.csvfile import HEADER_LINE, RowError, row_error
from controller.platform.iin import IinError, parse_iin
from protocol.limits import KIT_ID_PATTERN
from protocol.timebounds import EARLIEST, LATEST, BoundedDate
from protocol.timebounds import ERROR_TYPE as OUT_OF_RANGE

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class ImportResult(Generic[T]):
    """The rows that are good (`lines[i]` is the line of `rows[i]`) and the errors of the others."""

    rows: list[T]
    errors: list[RowError]
    lines: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        """Tell whether every row is good, so the file may be imported."""
        return not self.errors


class KitLifecycle(StrEnum):
    """The kit lifecycles of controller.trust.enrolment.LIFECYCLES, as the kits file sets them."""

    ACTIVE = "active"
    IN_REPAIR = "in_repair"
    LOST = "lost"
    RETIRED = "retired"
    RETURNED = "returned"


CHOICES: Final[Mapping[str, type[StrEnum]]] = {
    "lifecycle": KitLifecycle,
    "kind": ComponentKind,
    "condition": Condition,
    "program": Program,
    "basis": Basis,
    "relation": Relation,
}
"""The columns that take one of a list of values, and the list."""


# --- value types -------------------------------------------------------------------------------


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _none_if_empty(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


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
        raise PydanticCustomError("date.missing", "this date does not exist") from None
    raise PydanticCustomError("date.format", "a date is written YYYY-MM-DD or DD.MM.YYYY")


def _iin(value: str) -> str:
    """Check an IIN with controller.platform.iin and keep its 12 digits."""
    try:
        return parse_iin(value).value
    except IinError as exc:
        key = f"iin.{exc.reason}"
        digits = "".join(value.split())
        if exc.reason == "length" and len(digits) == 11 and digits.isdigit():
            key = "iin.zero_dropped"
        elif exc.reason == "non_digit" and "E+" in digits.upper():
            key = "iin.as_number"
        raise PydanticCustomError(key, "invalid IIN") from None


_PHONE_NOISE = re.compile(r"[\s\-()]")
_PHONE = re.compile(r"(?:\+7|8|7)(\d{10})", re.ASCII)


def _phone(value: str) -> str:
    """Normalise a Kazakhstan phone number to +7 and 10 digits."""
    match = _PHONE.fullmatch(_PHONE_NOISE.sub("", value))
    if match is None:
        raise PydanticCustomError("phone", "a phone number is +7 and 10 digits")
    return "+7" + match.group(1)


_REF = re.compile(REF)
_KIT_ID = re.compile(KIT_ID_PATTERN)


def _ref(value: str) -> str:
    """A reference as `schemas.REF` takes it (Latin or Cyrillic letters, digits, '.', '_', '-')."""
    if not _REF.fullmatch(value) or not value.isprintable():
        raise PydanticCustomError("ref", "not a reference")
    return value


def _kit_id(value: str) -> str:
    if not _KIT_ID.fullmatch(value):
        raise PydanticCustomError("kit_id", "not a kit id")
    return value


def _text(min_length: int, max_length: int) -> Any:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


Text = Annotated[str, _text(1, 200)]
Name = Annotated[str, _text(2, 200)]
School = Annotated[str, _text(2, 255)]
Address = Annotated[str, _text(5, 500)]
Key = Annotated[str, _text(1, 64)]
Ref = Annotated[str, _text(1, 64), AfterValidator(_ref)]
KitId = Annotated[str, _text(1, 64), AfterValidator(_kit_id)]
IinText = Annotated[str, AfterValidator(_iin)]
Phone = Annotated[str, AfterValidator(_phone)]


def _known(info: ValidationInfo, name: str, value: str, key: str, **params: object) -> str:
    """Check a value against the caller's list of known ones, when the caller gave one."""
    known: Collection[str] | None = (info.context or {}).get(name)
    if known is not None and value not in known:
        raise PydanticCustomError(key, "unknown", params)
    return value


def _new(info: ValidationInfo, column: str, value: str) -> str:
    """Refuse a key the database holds already, when the caller gave those (not updating)."""
    existing: Collection[str] | None = (info.context or {}).get("existing")
    if existing is not None and value in existing:
        raise PydanticCustomError(f"exists.{column}", "exists", {"key": value})
    return value


# --- one model per kind of row -----------------------------------------------------------------


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KitRow(_Row):
    """One kit: its id, the profile it is built to, its lifecycle (column `lifecycle`/`status`)."""

    kit_id: KitId
    profile: Key
    lifecycle: Annotated[KitLifecycle, BeforeValidator(_lower)]

    @property
    def status(self) -> str:
        """The lifecycle, by the column's old name."""
        return str(self.lifecycle)

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str, info: ValidationInfo) -> str:
        return _known(info, "profiles", value, "unknown_profile", profile=value)


class ComponentRow(_Row):
    """One component of a kit, identified by its serial."""

    serial: Key
    kind: Annotated[ComponentKind, BeforeValidator(_lower)]
    model: Text
    condition: Annotated[Condition, BeforeValidator(_lower)]
    kit_id: KitId

    @field_validator("serial")
    @classmethod
    def _new_serial(cls, value: str, info: ValidationInfo) -> str:
        return _new(info, "serial", value)

    @field_validator("kit_id")
    @classmethod
    def _known_kit(cls, value: str, info: ValidationInfo) -> str:
        return _known(info, "kit_ids", value, "unknown_kit", kit=value)


class PupilRow(_Row):
    """One home-schooled pupil (`teacher`, a teacher's user name, may be left out)."""

    pupil_ref: Ref
    name: Name
    grade: int = Field(ge=1, le=11)
    program: Annotated[Program, BeforeValidator(_lower)]
    basis: Annotated[Basis, BeforeValidator(_lower)]
    temporary_until: Annotated[BoundedDate | None, BeforeValidator(_date_or_none)]
    school: School
    iin: IinText
    teacher: Annotated[Key | None, BeforeValidator(_none_if_empty)] = None

    @field_validator("pupil_ref")
    @classmethod
    def _new_pupil(cls, value: str, info: ValidationInfo) -> str:
        return _new(info, "pupil_ref", value)

    @field_validator("temporary_until")
    @classmethod
    def _until_matches_basis(cls, value: date | None, info: ValidationInfo) -> date | None:
        basis = info.data.get("basis")
        if basis == "temporary" and value is None:
            raise PydanticCustomError("temporary.required", "required")
        if basis == "disability" and value is not None:
            raise PydanticCustomError("temporary.unexpected", "unexpected")
        return value

    @model_validator(mode="after")
    def _general_when_temporary(self) -> PupilRow:
        if self.basis == Basis.TEMPORARY and self.program != Program.GENERAL:
            raise PydanticCustomError("temporary.program", "general program")
        return self


class GuardianRow(_Row):
    """A parent or legal representative who signs for a pupil."""

    guardian_ref: Ref
    pupil_ref: Ref
    name: Name
    relation: Annotated[Relation, BeforeValidator(_lower)]
    phone: Phone
    address: Address
    iin: IinText

    @field_validator("guardian_ref")
    @classmethod
    def _new_guardian(cls, value: str, info: ValidationInfo) -> str:
        return _new(info, "guardian_ref", value)

    @field_validator("pupil_ref")
    @classmethod
    def _known_pupil(cls, value: str, info: ValidationInfo) -> str:
        return _known(info, "pupil_refs", value, "unknown_pupil", ref=value)


COLUMN_OF_MODEL_ERROR: Final = {"temporary.program": "program"}
"""The column a whole-row check names."""

ALIASES: Final = {"status": "lifecycle"}
"""Old column names still read (the kits file's `status` is its `lifecycle`)."""


# --- errors in plain words ---------------------------------------------------------------------


def _key_of(error: ErrorDetails, column: str | None) -> tuple[str, dict[str, Any]]:
    """The catalogue key and parameters of a pydantic error."""
    kind, ctx = error["type"], dict(error.get("ctx") or {})
    fixed: dict[str, tuple[str, dict[str, Any]]] = {
        "string_too_long": ("too_long", {"max": ctx.get("max_length")}),
        OUT_OF_RANGE: ("date.range", {"first": EARLIEST, "last": LATEST}),
        "missing": ("empty", {}),
        "string_pattern_mismatch": ("kit_id" if column == "kit_id" else "ref", {}),
    }
    if kind in _CUSTOM:
        return kind, ctx
    if kind in fixed:
        return fixed[kind]
    if kind == "string_too_short":
        empty = not str(error.get("input") or "").strip()
        return ("empty", {}) if empty else ("too_short", {"min": ctx.get("min_length")})
    if kind in ("enum", "literal_error") and column is not None and column in CHOICES:
        return "choice", {"accepted": accepted(CHOICES[column])}
    if kind.startswith("int_") or kind in ("greater_than_equal", "less_than_equal"):
        return "number", {"min": 1, "max": 11}
    return "invalid", {"detail": error["msg"]}


@dataclass(frozen=True)
class CatalogueRowError(RowError):
    """A line's error whose reason is in another domain's catalogue (a validator's
    `InvalidValue`, e.g. the documents' "value.unprintable"), in every language."""

    domain: str = csvfile.DOMAIN

    def messages(self) -> dict[Lang, str]:
        """The reason in every language, from `domain`'s catalogue."""
        texts: dict[Lang, str] = catalogue(self.domain).texts(self.key or "", **self.params)
        return texts


def error_of(line: int, error: ErrorDetails) -> RowError:
    """A pydantic error of a row (or of a model made from it) in words from the catalogue."""
    column = str(error["loc"][0]) if error["loc"] else None
    if column is None:
        column = COLUMN_OF_MODEL_ERROR.get(error["type"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidValue):
        reason = cause.text("en")
        return CatalogueRowError(line, column, reason, cause.key, cause.params, cause.domain)
    key, params = _key_of(error, column)
    return row_error(line, column, key, **params)


def errors_of(line: int, exc: ValidationError) -> list[RowError]:
    """Every error of a ValidationError, in plain words (no pydantic link, no pattern)."""
    return [error_of(line, e) for e in exc.errors(include_url=False)]


_CUSTOM: Final = frozenset(
    {
        "date.format",
        "date.missing",
        "phone",
        "ref",
        "kit_id",
        "unknown_kit",
        "unknown_pupil",
        "unknown_profile",
        "invalid",
        "exists.serial",
        "exists.pupil_ref",
        "exists.guardian_ref",
        "duplicate",
        *(f"temporary.{k}" for k in ("required", "unexpected", "program")),
        *(f"iin.{k}" for k in ("empty", "non_digit", "length", "century", "date", "check_digit")),
        "iin.zero_dropped",
        "iin.as_number",
    }
)
"""The PydanticCustomError types raised here: each is its catalogue key, its ctx the params."""


# --- reading a file ----------------------------------------------------------------------------


def columns(model: type[BaseModel]) -> list[str]:
    """The columns of a kind's file, in the order of its template."""
    return list(model.model_fields)


def _header_errors(header: list[str], model: type[BaseModel]) -> list[RowError]:
    known = columns(model)
    required = [name for name, f in model.model_fields.items() if f.is_required()]
    named = [ALIASES.get(name, name) if ALIASES.get(name) in known else name for name in header]
    return csvfile.header_errors(named, known=known, required=required)


def _parse(
    text: str, model: type[T], keys: tuple[str, ...], context: Mapping[str, Any]
) -> ImportResult[T]:
    known = columns(model)
    rows: list[T] = []
    lines: list[int] = []
    errors: list[RowError] = []
    first_line_of: dict[str, dict[str, int]] = {key: {} for key in keys}
    read = csvfile.read_rows(
        text,
        errors,
        check_header=lambda header: _header_errors(header, model),
        if_empty=row_error(HEADER_LINE, None, "empty_file", expected=", ".join(known)),
    )
    try:
        for line, cells in read:
            named = {
                ALIASES.get(k, k) if ALIASES.get(k) in known else k: v for k, v in cells.items()
            }
            try:
                row = model.model_validate(named, context=context)
            except ValidationError as exc:
                errors.extend(errors_of(line, exc))
                continue
            duplicates = _duplicates(row, line, keys, first_line_of)
            if duplicates:
                errors.extend(duplicates)
            else:
                rows.append(row)
                lines.append(line)
    except csvfile.WholeFileError as exc:
        return ImportResult([], exc.errors)
    return ImportResult(rows, errors, tuple(lines))


def _duplicates(
    row: BaseModel, line: int, keys: tuple[str, ...], first_line_of: dict[str, dict[str, int]]
) -> list[RowError]:
    """Errors for each key this row repeats; the keys of a row with none are remembered."""
    errors = []
    for key in keys:
        first = first_line_of[key].get(getattr(row, key))
        if first is not None:
            errors.append(row_error(line, key, "duplicate", first=first))
    if not errors:
        for key in keys:
            first_line_of[key][getattr(row, key)] = line
    return errors


# --- the public functions ----------------------------------------------------------------------


def parse_kits(text: str, *, profiles: Collection[str] | None = None) -> ImportResult[KitRow]:
    """Parse a kits file (kit_id, profile, lifecycle); profiles, if given, are the known ones."""
    return _parse(text, KitRow, ("kit_id",), {"profiles": profiles})


def parse_components(
    text: str, *, kit_ids: Collection[str] | None = None, existing: Collection[str] | None = None
) -> ImportResult[ComponentRow]:
    """Parse a components file (serial, kind, model, condition, kit_id), kit_ids the known ones."""
    return _parse(text, ComponentRow, ("serial",), {"kit_ids": kit_ids, "existing": existing})


def parse_pupils(text: str, *, existing: Collection[str] | None = None) -> ImportResult[PupilRow]:
    """Parse a pupils file: pupil_ref, name, grade, program, basis, temporary_until, school, iin,
    and optionally teacher."""
    return _parse(text, PupilRow, ("pupil_ref", "iin"), {"existing": existing})


def parse_guardians(
    text: str,
    *,
    pupil_refs: Collection[str] | None = None,
    existing: Collection[str] | None = None,
) -> ImportResult[GuardianRow]:
    """Parse a guardians file (guardian_ref, pupil_ref, name, relation, phone, address, iin)."""
    return _parse(
        text,
        GuardianRow,
        ("guardian_ref", "iin"),
        {"pupil_refs": pupil_refs, "existing": existing},
    )
