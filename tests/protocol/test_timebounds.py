"""Dates from outside are bounded: the envelope's `ts`, API dates and imports, as plain tables."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from protocol.codec import decode
from protocol.errors import ProtocolError, RejectReason
from protocol.limits import MAX_TS, MAX_TS_AHEAD, MIN_TS
from protocol.timebounds import (
    BoundedAwareDatetime,
    BoundedDate,
    BoundedDatetime,
    dates_within,
    outside,
    within,
)

NOW = datetime(2031, 3, 14, 9, 0, tzinfo=UTC)
"""The receiver's clock, injected: no test here reads the real one."""
MINUS_14 = timezone(-timedelta(hours=14))
PLUS_14 = timezone(timedelta(hours=14))

WITHIN = [
    (date(2000, 1, 1), True),
    (date(1999, 12, 31), False),
    (date(2100, 12, 31), True),
    (date(2101, 1, 1), False),
    (date(1, 1, 1), False),
    (date(9999, 12, 31), False),
    (MIN_TS, True),
    (MIN_TS - timedelta(microseconds=1), False),
    (MAX_TS - timedelta(microseconds=1), True),
    (MAX_TS, False),
    # Judged as the moment it is, in UTC, without converting (the conversion would overflow).
    (datetime(9999, 12, 31, 23, 59, 59, tzinfo=MINUS_14), False),
    (datetime(1, 1, 1, tzinfo=PLUS_14), False),
    (datetime(2000, 1, 1, 3, tzinfo=timezone(timedelta(hours=5))), False),  # 1999 in UTC
    (datetime(2100, 12, 31, 12, tzinfo=MINUS_14), False),  # 2101 in UTC
    (datetime(2100, 12, 31, 9, tzinfo=MINUS_14), True),
    # A naive time by its wall clock (the lessons query reads it in the schedule's zone).
    (datetime(2100, 12, 31, 23, 59), True),
    (datetime(9999, 12, 31, 23, 59, 59), False),
    (datetime(1, 1, 1), False),
]


@pytest.mark.parametrize(("value", "expected"), WITHIN, ids=[str(v) for v, _ in WITHIN])
def test_within_the_years_2000_to_2100(value: date, expected: bool) -> None:
    assert within(value) is expected


def envelope(ts: str, kind: str = "test") -> bytes:
    return json.dumps(
        {
            "schema": 1,
            "kit_id": "kit-1",
            "msg_id": "m1",
            "seq": 7,
            "ts": ts,
            "body": {"kind": kind},
        }
    ).encode()


FAR_TS = [
    ("0001-01-01T00:00:00Z", RejectReason.TS_OUT_OF_RANGE),
    ("0001-01-01T00:00:00+01:00", RejectReason.TS_OUT_OF_RANGE),  # no UTC form at all
    ("1970-01-01T00:00:00Z", RejectReason.TS_OUT_OF_RANGE),  # a clock without its battery
    ("1999-12-31T23:59:59Z", RejectReason.TS_OUT_OF_RANGE),
    ("9999-12-31T23:59:59Z", RejectReason.TS_OUT_OF_RANGE),
    ("9999-12-31T23:59:59-14:00", RejectReason.TS_OUT_OF_RANGE),  # no UTC form at all
    ("2101-01-01T00:00:00Z", RejectReason.TS_OUT_OF_RANGE),
    ((NOW + timedelta(days=2)).isoformat(), RejectReason.TS_AHEAD),
    ((NOW + MAX_TS_AHEAD + timedelta(seconds=1)).isoformat(), RejectReason.TS_AHEAD),
    ((NOW + timedelta(days=2)).astimezone(MINUS_14).isoformat(), RejectReason.TS_AHEAD),
    ("0000-01-01T00:00:00Z", RejectReason.INVALID),  # not a date pydantic can even read
]


@pytest.mark.parametrize(("ts", "reason"), FAR_TS, ids=[t for t, _ in FAR_TS])
def test_a_far_ts_is_refused_for_its_own_reason(ts: str, reason: RejectReason) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode("kits/kit-1/events", envelope(ts), now=NOW)
    assert caught.value.reason is reason
    if reason is not RejectReason.INVALID:
        assert ts[:10] in caught.value.detail


GOOD_TS = [
    NOW,
    NOW + MAX_TS_AHEAD,  # a clock a day fast is still heard (and flagged by the controller)
    NOW + timedelta(hours=2),
    NOW - timedelta(days=200),  # a kit back after months replays its outbox
    MIN_TS,
    (NOW + timedelta(hours=20)).astimezone(PLUS_14),
]


@pytest.mark.parametrize("ts", GOOD_TS, ids=[t.isoformat() for t in GOOD_TS])
def test_a_ts_within_the_bounds_is_accepted(ts: datetime) -> None:
    _, message = decode("kits/kit-1/events", envelope(ts.isoformat()), now=NOW)
    assert message.ts == ts


def test_without_now_only_the_fixed_bounds_apply() -> None:
    """The agent decodes the controller's messages without a clock check of its own."""
    later = (NOW + timedelta(days=400)).isoformat()
    assert decode("kits/kit-1/events", envelope(later))[1].ts == NOW + timedelta(days=400)
    with pytest.raises(ProtocolError, match="ts_out_of_range"):
        decode("kits/kit-1/events", envelope("9999-12-31T23:59:59-14:00"))


API_TYPES: list[tuple[Any, str]] = [
    (BoundedDate, "9999-12-31"),
    (BoundedDate, "0001-01-01"),
    (BoundedDatetime, "9999-12-31T23:59:59"),
    (BoundedDatetime, "9999-12-31T23:59:59-14:00"),
    (BoundedDatetime, "0001-01-01T00:00:00+01:00"),
    (BoundedAwareDatetime, "9999-12-31T23:59:59-14:00"),
    (BoundedAwareDatetime, "0001-01-01T00:00:00Z"),
]


@pytest.mark.parametrize(("kind", "text"), API_TYPES, ids=[t for _, t in API_TYPES])
def test_the_api_types_refuse_far_dates_saying_the_range(kind: Any, text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(kind).validate_json(json.dumps(text))
    error = caught.value.errors()[0]
    assert error["type"] == "date_out_of_range"
    assert "the years 2000 to 2100 (2000-01-01 to 2100-12-31)" in error["msg"]


def test_the_api_types_take_dates_of_this_century() -> None:
    assert TypeAdapter(BoundedDate).validate_python("2100-12-31") == date(2100, 12, 31)
    assert TypeAdapter(BoundedDatetime).validate_python("2031-03-14T09:00") == datetime(
        2031, 3, 14, 9
    )
    assert TypeAdapter(BoundedAwareDatetime).validate_python(NOW.isoformat()) == NOW


class _Term(BaseModel):
    start: date
    end: date


class _Plan(BaseModel):
    terms: tuple[_Term, ...]
    extras: list[dict[str, Any]]


def test_every_date_in_a_nested_body_is_found_with_where_it_is() -> None:
    plan = _Plan(
        terms=(
            _Term(start=date(2031, 1, 1), end=date(2031, 5, 31)),
            _Term(start=date(2031, 9, 1), end=date(9999, 12, 31)),
        ),
        extras=[{"date": date(1, 1, 1), "note": "x"}],
    )
    assert list(outside(plan)) == [
        ("terms.1.end", date(9999, 12, 31)),
        ("extras.0.date", date(1, 1, 1)),
    ]
    with pytest.raises(ValueError, match=r"terms\.1\.end: 9999-12-31"):
        dates_within(plan)
    fine = _Plan(terms=(plan.terms[0],), extras=[])
    assert dates_within(fine) is fine
