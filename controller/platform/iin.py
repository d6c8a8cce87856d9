"""Kazakhstan's individual identification number (IIN, ЖСН, ИИН): parsing and validation.

An IIN is 12 ASCII digits: the birth date as YYMMDD, one digit for century and sex (1/2: 1800s
male/female, 3/4: 1900s, 5/6: 2000s), a 4-digit serial and a check digit. The check digit is the
sum of digits 1..11 times weights 1..11, mod 11; when that is 10 the sum is taken again with weights
3..11, 1, 2, and a second 10 means no valid IIN starts with those 11 digits.

The 7th digit 0 (sometimes said to mark foreigners) is refused: no rule we could find documents it,
and without it the century of the birth date is unknown.

Pure functions, no clock reads: a birth date in the future is not detected here. Error messages
never repeat the number, so they are safe to log; they are meant for administrators, and the
`reason` of an `IinError` lets a user interface translate them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

IIN_LENGTH = 12
_DIGITS = frozenset("0123456789")
_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_FALLBACK_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

Sex = Literal["male", "female"]
IinErrorReason = Literal["empty", "non_digit", "length", "century", "date", "check_digit"]

_CENTURY_AND_SEX: dict[str, tuple[int, Sex]] = {
    "1": (1800, "male"),
    "2": (1800, "female"),
    "3": (1900, "male"),
    "4": (1900, "female"),
    "5": (2000, "male"),
    "6": (2000, "female"),
}
"""The 7th digit: the century of the birth year and the person's sex."""


class IinError(ValueError):
    """A text is not a valid IIN; the message says why, without repeating the number."""

    def __init__(self, reason: IinErrorReason, message: str) -> None:
        """Keep a machine-readable reason next to the English message."""
        super().__init__(message)
        self.reason: IinErrorReason = reason


@dataclass(frozen=True, slots=True)
class Iin:
    """A valid IIN and what it says about its holder."""

    value: str
    """The 12 digits, without spaces."""
    birth_date: date
    sex: Sex


def check_digit(first11: str) -> int | None:
    """Return the check digit for the first 11 digits of an IIN, or None when none is valid."""
    if len(first11) != IIN_LENGTH - 1 or not _DIGITS.issuperset(first11):
        raise IinError("length", "the check digit is computed from exactly 11 digits")
    digits = [int(char) for char in first11]
    remainder = sum(d * w for d, w in zip(digits, _WEIGHTS, strict=True)) % 11
    if remainder != 10:
        return remainder
    remainder = sum(d * w for d, w in zip(digits, _FALLBACK_WEIGHTS, strict=True)) % 11
    return None if remainder == 10 else remainder


def parse_iin(text: str) -> Iin:
    """Parse an IIN typed by a person (spaces allowed anywhere); raise IinError if it is invalid."""
    value = "".join(text.split())
    if not value:
        raise IinError("empty", "the IIN is empty")
    for position, char in enumerate(value, start=1):
        if char not in _DIGITS:
            raise IinError(
                "non_digit", f"an IIN has only digits 0-9, but character {position} is not one"
            )
    if len(value) != IIN_LENGTH:
        raise IinError("length", f"an IIN has {IIN_LENGTH} digits, this one has {len(value)}")
    century_and_sex = _CENTURY_AND_SEX.get(value[6])
    if century_and_sex is None:
        raise IinError(
            "century",
            f"digit 7 of an IIN gives the century of birth and sex and must be 1 to 6, "
            f"not {value[6]}",
        )
    century, sex = century_and_sex
    try:
        birth_date = date(century + int(value[0:2]), int(value[2:4]), int(value[4:6]))
    except ValueError as exc:
        raise IinError(
            "date", "digits 1-6 of an IIN are the birth date (YYMMDD), and this date does not exist"
        ) from exc
    expected = check_digit(value[:11])
    if expected is None:
        raise IinError(
            "check_digit",
            "no valid IIN starts with these 11 digits: a digit is probably mistyped",
        )
    if expected != int(value[11]):
        raise IinError(
            "check_digit",
            "the last digit of the IIN (the check digit) does not match the others: "
            "a digit is probably mistyped",
        )
    return Iin(value=value, birth_date=birth_date, sex=sex)


def is_valid_iin(text: str) -> bool:
    """Tell whether a text is a valid IIN (spaces allowed anywhere)."""
    try:
        parse_iin(text)
    except IinError:
        return False
    return True
