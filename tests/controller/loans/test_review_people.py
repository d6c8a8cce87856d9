"""Fixes after the loans review (issue 13) about people, pure: which school year a promotion is."""

from __future__ import annotations

import datetime as dt

import pytest

from controller.loans.people_schemas import school_year


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (dt.date(2026, 4, 30), "2025-2026"),  # a late promotion, in the year under way
        (dt.date(2026, 5, 1), "2026-2027"),  # from 1 May on: the coming year
        (dt.date(2026, 5, 25), "2026-2027"),  # schools finish around 25 May
        (dt.date(2026, 9, 1), "2026-2027"),  # the same year as a late-May run
        (dt.date(2027, 1, 10), "2026-2027"),
    ],
)
def test_a_promotion_from_may_on_is_for_the_coming_school_year(day: dt.date, year: str) -> None:
    assert school_year(day) == year
