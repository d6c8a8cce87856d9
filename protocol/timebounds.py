"""Bounds on the dates and times that come from outside, so that nothing downstream overflows.

A kit's clock, an API query, a schedule or a CSV cell may say year 1 or 9999-12-31T23:59:59-14:00
(a moment whose UTC conversion does not exist); every later step (a UTC conversion, `start +
timedelta(days=7)`, a database column, a lesson's next week) assumes this century. So every date
and time is checked once, where it enters: the decoder refuses an envelope `ts` outside
[MIN_TS, MAX_TS) (`protocol.codec`), the API answers 422 (the `Bounded*` types and
`dates_within` below), an import names the row. Aware times are compared as they are (Python
compares them without converting), so the check itself cannot overflow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Final, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel
from pydantic_core import PydanticCustomError

from protocol.limits import MAX_TS, MIN_TS

EARLIEST: Final = MIN_TS.date()
"""The first day a date may be (2000-01-01)."""
LATEST: Final = (MAX_TS - timedelta(days=1)).date()
"""The last day a date may be (2100-12-31)."""
RANGE: Final = f"the years {EARLIEST.year} to {LATEST.year} ({EARLIEST} to {LATEST})"
"""The bounds, as a person reads them in an error (English)."""
BOUNDS: Final = {
    "first_year": EARLIEST.year,
    "last_year": LATEST.year,
    "first": EARLIEST,
    "last": LATEST,
}
"""The bounds as the parameters of a catalogue's text, so that each language words them."""
ERROR_TYPE: Final = "date_out_of_range"

_NAIVE_MIN: Final = MIN_TS.replace(tzinfo=None)
_NAIVE_MAX: Final = MAX_TS.replace(tzinfo=None)

D = TypeVar("D", date, datetime)
M = TypeVar("M", bound=BaseModel)


def within(value: date | datetime) -> bool:
    """Whether a date or time lies in the years 2000 to 2100 (a naive time by its wall clock)."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            return _NAIVE_MIN <= value < _NAIVE_MAX
        return MIN_TS <= value < MAX_TS
    return EARLIEST <= value <= LATEST


def _bounded(value: D) -> D:
    if not within(value):
        raise PydanticCustomError(
            ERROR_TYPE, "must be within {range}, not {value}", {"range": RANGE, "value": str(value)}
        )
    return value


BoundedDate = Annotated[date, AfterValidator(_bounded)]
"""A date in the years 2000 to 2100 (422 at the API otherwise)."""
BoundedDatetime = Annotated[datetime, AfterValidator(_bounded)]
"""A time, naive or aware, in the years 2000 to 2100."""
BoundedAwareDatetime = Annotated[AwareDatetime, AfterValidator(_bounded)]
"""A time with its zone, in the years 2000 to 2100."""


def outside(value: object, where: tuple[str | int, ...] = ()) -> Iterator[tuple[str, object]]:
    """Every date or time in a model, mapping or sequence outside the bounds, and where it is."""
    if isinstance(value, date):
        if not within(value):
            yield ".".join(str(part) for part in where) or "value", value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from outside(getattr(value, name), (*where, name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from outside(item, (*where, str(key)))
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from outside(item, (*where, index))


def dates_within(model: M) -> M:
    """A model whose every date and time is within the bounds (an AfterValidator for a body)."""
    found = list(outside(model))
    if found:
        shown = "; ".join(f"{where}: {value}" for where, value in found[:5])
        more = f" (+{len(found) - 5} more)" if len(found) > 5 else ""
        raise PydanticCustomError(
            ERROR_TYPE,
            "dates must be within {range}: {found}",
            {"range": RANGE, "found": shown + more},
        )
    return model
