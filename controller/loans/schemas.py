"""What the HTTP API takes and answers about loans: one family per resource.

- pupils: `PupilCreate` (as an administrator enters one), `PupilPublic` (as a role may see one);
- guardians: `GuardianCreate`, `GuardianPublic`;
- components: `ComponentCreate`, `ComponentUpdate` (moved or its condition recorded),
  `ComponentPublic`;
- contracts: `ContractCreate` (a draft), `ContractAction` (what a step of its life needs, with
  `ActCreate` for a hand-over or return act), `ReplacementCreate` (a part replaced under an
  annex), `ContractPublic` (with the actions legal from its state);
- alerts: `AlertPublic`; imports: `ImportReport` (with one `ImportRowError` per bad row).

Input models refuse unknown fields, so a typo cannot drop a signature or a condition.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from controller.errors import InvalidValue
from controller.loans import lifecycle
from controller.loans.printable import Printable
from controller.loans.vocabulary import ComponentKind, Condition
from controller.platform.iin import IinError, parse_iin
from protocol.limits import KIT_ID_PATTERN
from protocol.timebounds import BoundedDate

REF_CHARS = r"0-9A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0400-\u0525"
"""A reference's letters and digits: ASCII digits, Latin (with the Kazakh Latin alphabet's
letters) and Cyrillic (with the Kazakh letters): what the documents print (`printable`)."""

REF = rf"^[{REF_CHARS}][{REF_CHARS}._-]{{0,63}}$"
"""The school's own reference for a pupil, a guardian or a contract number: 1 to 64 Latin or
Cyrillic letters (a Cyrillic "ШК-2025-017" as well as "C-2026-017") or digits, with '.', '_'
and '-' after the first; no spaces, control characters, '/' (it is a segment of the API's
paths) or letters of other scripts (a contract prints its number: a CJK one could never be
signed). Read the same by pydantic's regular expressions and by Python's `re`."""

_SPACE = r"[\s\u001c-\u001f\u0085]"
IIN_PATTERN = rf"^{_SPACE}*(?:[0-9]{_SPACE}*){{12}}$"
"""What an IIN field takes: 12 digits, spaces anywhere (`parse_iin` drops every `str.isspace`
character: those of `\\s` and the four separators and NEL it lacks). Declared in the OpenAPI
schema only: the validator checks the date and check digit and says what is wrong in words."""

_IIN_DESCRIPTION = (
    "the IIN: 12 digits (birth date YYMMDD, century and sex, serial, check digit), spaces "
    "allowed anywhere, e.g. 0802 1550 0016; stored as its 12 digits"
)


def _iin_field(default: Any = ...) -> Any:
    """An IIN field: documented with `IIN_PATTERN`; checked (with reasons) by `_iin`."""
    return Field(default, description=_IIN_DESCRIPTION, json_schema_extra={"pattern": IIN_PATTERN})


_KIT_ID_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
"""What `KIT_ID_PATTERN` says, in words."""


# --- pupils and guardians -----------------------------------------------------------------------


class Program(StrEnum):
    """The education program the PMPK (psychological-medical-pedagogical consultation) sets with
    the parents: general; delayed_development (delayed mental development, ZPR); correctional_1
    or correctional_2 (special correctional program of type 1 or 2). A temporarily home-schooled
    pupil follows the general program."""

    GENERAL = "general"
    DELAYED_DEVELOPMENT = "delayed_development"
    CORRECTIONAL_1 = "correctional_1"
    CORRECTIONAL_2 = "correctional_2"


class Basis(StrEnum):
    """Why the pupil learns at home."""

    DISABILITY = "disability"
    TEMPORARY = "temporary"


class Relation(StrEnum):
    """Who signs for the pupil."""

    MOTHER = "mother"
    FATHER = "father"
    LEGAL_REPRESENTATIVE = "legal_representative"
    OTHER = "other"


def _iin(value: str) -> str:
    try:
        return parse_iin(value).value
    except IinError as exc:
        raise InvalidValue("people", f"value.iin.{exc.reason}") from None


def normalise_phone(value: str) -> str:
    """+7 and ten digits, from the ways people write Kazakh numbers."""
    digits = re.sub(r"[\s()\-]", "", value)
    if re.fullmatch(r"8\d{10}", digits):
        digits = "+7" + digits[1:]
    elif re.fullmatch(r"7\d{10}", digits):
        digits = "+" + digits
    if not re.fullmatch(r"\+7\d{10}", digits):
        raise InvalidValue("people", "value.phone")
    return digits


def _no_nulls(model: Any, nullable: tuple[str, ...]) -> Any:
    """Refuse a field given as null that a person must have (a correction cannot erase it)."""
    nulls = sorted(
        f for f in model.model_fields_set if f not in nullable and getattr(model, f) is None
    )
    if nulls:
        raise InvalidValue("people", "update.not_empty", fields=", ".join(nulls))
    return model


class PupilCreate(BaseModel):
    """A pupil as an administrator enters one."""

    model_config = ConfigDict(extra="forbid")

    ref: str = Field(pattern=REF, description="the school's own reference for the pupil")
    name: Printable = Field(min_length=2, max_length=200)
    iin: str = _iin_field()
    grade: int = Field(ge=1, le=11)
    program: Program
    basis: Basis
    temporary_until: BoundedDate | None = None
    school: Printable = Field(min_length=2, max_length=255)
    teacher: str | None = Field(default=None, description="the teacher's user name")

    _check_iin = field_validator("iin")(classmethod(lambda cls, v: _iin(v)))

    @model_validator(mode="after")
    def _temporary(self) -> PupilCreate:
        if self.basis is Basis.TEMPORARY and self.temporary_until is None:
            raise InvalidValue("people", "value.temporary.required")
        if self.basis is Basis.TEMPORARY and self.program is not Program.GENERAL:
            raise InvalidValue("people", "value.temporary.program")
        if self.basis is Basis.DISABILITY and self.temporary_until is not None:
            raise InvalidValue("people", "value.temporary.unexpected")
        return self


class PupilUpdate(BaseModel):
    """A correction of a pupil: only the fields given change (checked as in `PupilCreate`).

    `teacher` and `temporary_until` may be given as null (no teacher; no end date); the others
    may not. Whether temporary home-schooling has its end date and the general program is checked
    on the pupil as it will be (`people_changes.update_pupil`).
    """

    model_config = ConfigDict(extra="forbid")

    name: Printable | None = Field(default=None, min_length=2, max_length=200)
    iin: str | None = _iin_field(None)
    grade: int | None = Field(default=None, ge=1, le=11)
    program: Program | None = None
    basis: Basis | None = None
    temporary_until: BoundedDate | None = None
    school: Printable | None = Field(default=None, min_length=2, max_length=255)
    teacher: str | None = Field(default=None, description="the teacher's user name; null: none")

    _check_iin = field_validator("iin")(classmethod(lambda cls, v: v if v is None else _iin(v)))
    _not_null = model_validator(mode="after")(
        lambda self: _no_nulls(self, ("teacher", "temporary_until"))
    )


class PupilPublic(BaseModel):
    """A pupil; health data for administrators and the teacher only, `iin` for administrators.

    Program, basis and `temporary_until` are null for a technician (`people.HEALTH_ROLES`).
    """

    ref: str
    name: str
    grade: int
    program: str | None = None
    basis: str | None = None
    temporary_until: date | None = None
    school: str
    teacher: str | None
    iin: str | None = None
    archived: bool = False
    left_on: date | None = Field(default=None, description="the day the pupil left the school")
    left_reason: str | None = Field(default=None, description="graduated, moved, transferred...")


class GuardianCreate(BaseModel):
    """A parent or legal representative as an administrator enters one."""

    model_config = ConfigDict(extra="forbid")

    ref: str = Field(pattern=REF)
    pupil_ref: str = Field(pattern=REF)
    relation: Relation
    name: Printable = Field(min_length=2, max_length=200)
    phone: str
    address: Printable = Field(min_length=5, max_length=500)
    iin: str = _iin_field()

    _check_iin = field_validator("iin")(classmethod(lambda cls, v: _iin(v)))
    _check_phone = field_validator("phone")(classmethod(lambda cls, v: normalise_phone(v)))


class GuardianUpdate(BaseModel):
    """A correction of a parent or representative: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    relation: Relation | None = None
    name: Printable | None = Field(default=None, min_length=2, max_length=200)
    phone: str | None = None
    address: Printable | None = Field(default=None, min_length=5, max_length=500)
    iin: str | None = _iin_field(None)

    _check_iin = field_validator("iin")(classmethod(lambda cls, v: v if v is None else _iin(v)))
    _check_phone = field_validator("phone")(
        classmethod(lambda cls, v: v if v is None else normalise_phone(v))
    )
    _not_null = model_validator(mode="after")(lambda self: _no_nulls(self, ()))


class GuardianPublic(BaseModel):
    """A parent or legal representative; `address` and `iin` only for administrators."""

    ref: str
    pupil_ref: str
    relation: str
    name: str
    phone: str
    address: str | None = None
    iin: str | None = None
    archived: bool = False
    left_on: date | None = None
    left_reason: str | None = None


# --- components ---------------------------------------------------------------------------------


class ComponentCreate(BaseModel):
    """A serial-numbered component, in a kit or in spare stock."""

    model_config = ConfigDict(extra="forbid")

    serial: Printable = Field(min_length=1, max_length=64)
    kind: ComponentKind = Field(description="what it is (`controller.loans.vocabulary`)")
    model: Printable = Field(min_length=1, max_length=128)
    condition: Condition = Condition.GOOD
    kit_id: str | None = Field(
        default=None, pattern=KIT_ID_PATTERN, description=f"the kit ({_KIT_ID_RULE}); null: stock"
    )


class ComponentUpdate(BaseModel):
    """Move a component to another kit (or to stock) and/or record its condition."""

    model_config = ConfigDict(extra="forbid")

    kit_id: str | None = Field(
        default=None,
        pattern=KIT_ID_PATTERN,
        description=f"the kit to move it to ({_KIT_ID_RULE}); null: to stock",
    )
    condition: Condition | None = None


class ComponentPublic(BaseModel):
    """A component."""

    model_config = ConfigDict(from_attributes=True)

    serial: str
    kind: str
    model: str
    condition: str
    kit_id: str | None


# --- contracts ----------------------------------------------------------------------------------


class ContractCreate(BaseModel):
    """A new contract (a draft) for a kit, a pupil and the guardian who signs."""

    model_config = ConfigDict(extra="forbid")

    number: Printable = Field(pattern=REF)
    school: Printable = Field(min_length=2, max_length=255)
    city: Printable = Field(min_length=2, max_length=128)
    guardian_ref: str = Field(pattern=REF)
    pupil_ref: str = Field(pattern=REF)
    kit_id: str = Field(pattern=KIT_ID_PATTERN, description=f"the kit lent ({_KIT_ID_RULE})")
    start: BoundedDate
    end: BoundedDate
    terms_version: Printable = Field(default="2026-1", min_length=1, max_length=32)

    @model_validator(mode="after")
    def _term(self) -> ContractCreate:
        if self.end <= self.start:
            raise InvalidValue("contracts", "value.term")
        return self


class ActCreate(BaseModel):
    """A hand-over or return act: every component's condition and who signed.

    A return act says what is damaged or missing through the conditions, and the school's claim.
    """

    model_config = ConfigDict(extra="forbid")

    conditions: dict[str, str] = Field(
        description="serial -> condition, one of: new, good, worn, damaged, faulty, missing "
        "(missing: not brought back; it leaves the kit)",
        json_schema_extra={"additionalProperties": {"enum": [c.value for c in Condition]}},
    )
    signed_by: Printable = Field(min_length=2, max_length=200)
    notes: dict[str, Annotated[Printable, Field(max_length=500)]] = Field(
        default_factory=dict, description="serial -> a note on that component (optional)"
    )
    claim: Printable | None = Field(
        default=None,
        max_length=1000,
        description="a return act: what the school asks of the family for what is damaged or "
        "missing; null when it asks nothing",
    )


class ContractAction(BaseModel):
    """What an action needs: `sign` the names of who signed for the family (`guardian`) and for
    the school (`school`); `hand_over` the hand-over `act` and `training_recorded: true`;
    `return_kit` the return `act`; `terminate` a `reason`; `mark_return_due` and `report_lost`
    nothing. What an action needs and lacks (and is not on the contract already) is a 409 saying
    so; an unknown field is refused, so a typo cannot drop a signature.
    """

    model_config = ConfigDict(extra="forbid")

    guardian: Printable | None = Field(
        default=None,
        max_length=200,
        description="sign: the name of the parent or representative who signed",
    )
    school: Printable | None = Field(
        default=None,
        max_length=200,
        description="sign: the name of who signed for the school (the director)",
    )
    act: ActCreate | None = Field(
        default=None, description="hand_over, return_kit: the act, a condition for every part"
    )
    training_recorded: bool | None = Field(
        default=None, description="hand_over: true once the parent and the pupil were trained"
    )
    reason: Printable | None = Field(
        default=None, max_length=500, description="terminate: why the contract ends early"
    )


class ReplacementCreate(BaseModel):
    """A component replaced during the loan (the contract gets an annex)."""

    model_config = ConfigDict(extra="forbid")

    old_serial: str = Field(min_length=1, max_length=64)
    new_serial: str = Field(min_length=1, max_length=64)
    reason: Printable = Field(min_length=3, max_length=500)
    old_condition: Condition = Field(
        default=Condition.FAULTY, description="the condition the part is taken back in"
    )
    ticket: int | None = Field(
        default=None,
        ge=1,
        description="the replacement ticket this carries out (the annex cites it)",
    )


class ContractPublic(BaseModel):
    """A contract: state, parties by reference, the components it lends, what was signed.

    Who signed (`signed_by_guardian`, `signed_by_school`, each act's `signed_by`) only for
    administrators: null, or left out of the act, for other roles.
    """

    model_config = ConfigDict(from_attributes=True)

    number: str
    school: str
    city: str
    guardian_ref: str
    pupil_ref: str
    kit_id: str
    state: str
    start: date
    end: date
    terms_version: str
    components: list[dict[str, str]]
    signed_by_guardian: str | None
    signed_by_school: str | None
    training_recorded: bool
    handover: dict[str, Any] | None
    return_act: dict[str, Any] | None
    termination_reason: str | None
    annexes: list[dict[str, Any]] = []
    allowed_actions: list[str] = Field(
        default=[], description="the actions legal from its state (computed from `state`)"
    )

    @model_validator(mode="after")
    def _legal_actions(self) -> ContractPublic:
        state = lifecycle.ContractState(self.state)
        self.allowed_actions = [a.value for a in lifecycle.actions_from(state)]
        return self


class FrozenDocumentPublic(BaseModel):
    """A document a party signed, kept as signed: GET .../documents/{kind}.pdf returns it."""

    kind: str = Field(description="contract, handover, return or annex")
    annex: int | None = Field(description="the annex's number (annex only)")
    lang: str = Field(description="kk or ru")
    sha256: str = Field(description="the sha256 of the PDF's bytes (hex), as in the audit log")
    at: datetime = Field(description="when it was frozen (UTC)")


# --- alerts and imports -------------------------------------------------------------------------


class AlertPublic(BaseModel):
    """One thing a person should act on (`controller.loans.alerts`)."""

    model_config = ConfigDict(from_attributes=True)

    kind: str = Field(
        description="contract_ending, return_overdue, loaned_without_contract or reconciliation"
    )
    severity: str
    contract: str | None
    kit_id: str | None
    message: str


class ImportRowError(BaseModel):
    """Why a row was not imported: its line (the header is line 1) and column, when known."""

    row: int = Field(description="the line in the file (the header is line 1)")
    column: str | None = Field(description="the column at fault; null: the whole line")
    reason: str = Field(description="why, in English")
    messages: dict[str, str] = Field(description="why, in kk, ru and en")


class ImportRowResult(BaseModel):
    """What an import did with one row."""

    row: int = Field(description="the line in the file (the header is line 1)")
    key: str = Field(description="the row's kit id, serial or reference")
    outcome: Literal["created", "updated", "unchanged"]


class ImportReport(BaseModel):
    """What an import did: the rows imported (each created, updated or unchanged), and every row
    refused with why."""

    imported: int
    errors: list[ImportRowError]
    rows: list[ImportRowResult] = []
