"""The variables a command may give a playbook: declared in the signed bundle, checked twice.

A playbook declares under `kitkeeper: vars:` each variable a `run_playbook` command may set, with
its type and bounds (a pattern or choices for text, a range for numbers). The declarations go into
the bundle's manifest, so they are signed with the playbooks: a command cannot widen them. The
agent refuses a command whose variables are undeclared or out of bounds before anything runs, and
the controller checks the same declarations before it sends, so staff hear why at once. Text never
carries control characters (a newline would add lines to a unit file or a config) nor Jinja
delimiters. Reasons name the variable and the rule, never the value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from protocol.base import WireModel

VAR_NAME_PATTERN: Final = r"^[a-z_][a-z0-9_]{0,63}$"
MAX_TEXT: Final = 1000
"""Longest text any variable may carry, whatever its declaration says."""
MAX_COMMAND_VARS: Final = 32
_JINJA: Final = ("{{", "{%", "{#")
_UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})

Value = str | int | bool


class VarsError(ValueError):
    """Command variables refused: `name` is the variable, the message says which rule."""

    def __init__(self, name: str, rule: str) -> None:
        super().__init__(f"{name}: {rule}")
        self.name = name
        self.rule = rule


class VarSpec(WireModel):
    """One variable a command may set: its type and what values it may take."""

    type: Literal["str", "int", "bool"]
    pattern: str | None = Field(
        default=None, max_length=500, description="text: the whole value must match (re.fullmatch)"
    )
    choices: list[str | int] | None = Field(default=None, min_length=1, max_length=50)
    min: int | None = Field(default=None, description="int: the smallest value")
    max: int | None = Field(default=None, description="int: the largest value")
    max_length: int = Field(default=200, ge=1, le=MAX_TEXT, description="text: longest value")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"the pattern does not compile: {exc}") from exc
        return pattern

    @model_validator(mode="after")
    def _bounded(self) -> VarSpec:
        if self.type == "str" and self.pattern is None and self.choices is None:
            raise ValueError("a text variable needs a pattern or choices")
        if self.type != "str" and self.pattern is not None:
            raise ValueError("only text variables have a pattern")
        return self


def _name_ok(name: str) -> bool:
    return bool(re.match(VAR_NAME_PATTERN, name)) and not name.startswith("ansible_")


def _declarations(declared: dict[str, VarSpec]) -> dict[str, VarSpec]:
    """Refuse declarations of names no command may ever set (`ansible_*`, not identifiers)."""
    for name in declared:
        if not _name_ok(name):
            raise ValueError(f"{name!r} cannot be declared: a command may never set it")
    return declared


Declarations = Annotated[
    dict[str, VarSpec], Field(max_length=MAX_COMMAND_VARS), AfterValidator(_declarations)
]
"""A playbook's declared variables, by name (a field type of the bundle's manifest)."""


def safe_text(value: str) -> bool:
    """Whether text is free of control, format and line-separator characters and of Jinja."""
    if any(mark in value for mark in _JINJA):
        return False
    return not any(unicodedata.category(char) in _UNSAFE_CATEGORIES for char in value)


def _check_one(name: str, spec: VarSpec, value: object) -> Value:
    if spec.type == "bool":
        if not isinstance(value, bool):
            raise VarsError(name, "must be true or false")
        return value
    if spec.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise VarsError(name, "must be a whole number")
        if spec.min is not None and value < spec.min:
            raise VarsError(name, f"must be at least {spec.min}")
        if spec.max is not None and value > spec.max:
            raise VarsError(name, f"must be at most {spec.max}")
        if spec.choices is not None and value not in spec.choices:
            raise VarsError(name, "is not one of the declared choices")
        return value
    if not isinstance(value, str):
        raise VarsError(name, "must be text")
    if len(value) > min(spec.max_length, MAX_TEXT):
        raise VarsError(name, f"is longer than {spec.max_length} characters")
    if not safe_text(value):
        raise VarsError(name, "carries control characters or template delimiters")
    if spec.choices is not None and value not in spec.choices:
        raise VarsError(name, "is not one of the declared choices")
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        raise VarsError(name, "does not match its declared pattern")
    return value


def check_vars(declared: Mapping[str, VarSpec], values: Mapping[str, object]) -> dict[str, Value]:
    """The command's variables if each is declared and within its declaration; else VarsError."""
    if len(values) > MAX_COMMAND_VARS:
        raise VarsError("extra_vars", f"more than {MAX_COMMAND_VARS} variables")
    accepted: dict[str, Value] = {}
    for name, value in values.items():
        spec = declared.get(name) if _name_ok(name) else None
        if spec is None:
            shown = name if re.match(VAR_NAME_PATTERN, name) else "(a variable)"
            raise VarsError(shown, "is not declared by this playbook in the signed bundle")
        accepted[name] = _check_one(name, spec, value)
    return accepted
