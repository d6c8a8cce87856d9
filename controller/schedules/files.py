"""A school's file as a pupil's schedule: its format, its text, the reader for it.

A CSV file (`csv_format`) or an iCalendar file (`ics_format`) becomes a `ScheduleContent`; the
format is the caller's, else the content type's, else the text's own (`BEGIN:VCALENDAR`). An
upload is at most `MAX_UPLOAD` bytes of UTF-8 text. A CSV may name the pupil by IIN, checked
through its keyed hash (`iin_matcher`), never compared in the clear.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

from sqlalchemy.orm import Session

from controller.loans import queries as loans
from controller.platform import csvfile
from controller.platform.crypto import FieldCipher
from controller.platform.iin import IinError, parse_iin
from controller.schedules import csv_format, ics_format, model
from controller.schedules.errors import DOMAIN

MAX_UPLOAD: Final = 1024 * 1024
"""The largest schedule file accepted (a year of lessons as CSV is a few tens of KiB)."""

Format = Literal["csv", "ics"]


def decode(raw: bytes) -> str:
    """The text of an uploaded schedule file; 413 over MAX_UPLOAD bytes, 422 if not UTF-8
    (said in kk/ru/en from the schedules catalogue)."""
    if len(raw) > MAX_UPLOAD:
        raise csvfile.FileTooLargeError(
            key="import.too_large", params={"limit": MAX_UPLOAD}, domain=DOMAIN
        )
    try:
        return csvfile.decode(raw)
    except csvfile.FileRefusedError as exc:
        raise csvfile.FileRefusedError(key="import.not_text", domain=DOMAIN) from exc


def iin_matcher(
    session: Session, pupil_ref: str, cipher: FieldCipher | None
) -> Callable[[str], bool] | None:
    """Whether an IIN is the pupil's (by its keyed hash); None without the personal-data keys."""
    index = loans.pupil_iin_index(session, pupil_ref)
    if cipher is None or index is None:
        return None

    def matches(iin: str) -> bool:
        try:
            return cipher.blind_index(parse_iin(iin).value) == index
        except IinError:
            return False

    return matches


def detect_format(text: str, content_type: str | None = None) -> Format:
    """csv or ics: from the content type if it says, else from the text itself."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("text/calendar", "application/ics"):
        return "ics"
    if kind in ("text/csv", "application/csv"):
        return "csv"
    return "ics" if text.lstrip("\ufeff \r\n\t").upper().startswith("BEGIN:VCALENDAR") else "csv"


def parse(
    text: str,
    *,
    fmt: Format,
    pupil_ref: str,
    base: model.ScheduleContent | None = None,
    timezone: str | None = None,
    iin_matches: Callable[[str], bool] | None = None,
) -> model.ScheduleContent:
    """The schedule a CSV or iCalendar file describes; ScheduleImportError naming what is wrong."""
    if fmt == "ics":
        return ics_format.parse_ics(text, timezone=timezone)
    return csv_format.parse_csv(
        text, pupil_ref=pupil_ref, timezone=timezone, base=base, iin_matches=iin_matches
    )
