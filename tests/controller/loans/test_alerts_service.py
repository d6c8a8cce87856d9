"""Alerts on contracts at the service level, dated from today: rerun under libfaketime at a leap
day and a year's end, so a contract ending on 29 February or 31 December is judged right."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controller.fleet.tables import Kit
from controller.loans import alerts
from controller.loans.tables import LoanContract
from tests.support import MigratedDb

LEAD_DAYS = 14


@pytest.fixture
def sessions(migrated_db: MigratedDb) -> sessionmaker[Session]:
    return migrated_db.sessions


def lend(session: Session, number: str, state: str, end: date) -> None:
    """A contract of `state` ending on `end`, for a kit of its own."""
    kit_id = f"kit-{number}"
    session.add(Kit(kit_id=kit_id))
    session.flush()
    session.add(
        LoanContract(
            number=number,
            school="№1",
            city="Астана",
            guardian_ref="g-1",
            pupil_ref="p-1",
            kit_id=kit_id,
            state=state,
            start=end - timedelta(days=270),
            end=end,
            terms_version="1",
            components=[],
            annexes=[],
            created_at=datetime.now(UTC),
        )
    )


def found(session: Session, today: date) -> set[tuple[str, str | None]]:
    return {(a.kind, a.contract) for a in alerts.compute(session, today=today, lead_days=LEAD_DAYS)}


def test_contracts_ending_and_overdue_are_judged_from_today(
    sessions: sessionmaker[Session],
) -> None:
    today = datetime.now(UTC).date()
    cases = {
        # number: (state, days from today to its end, the alerts it must raise)
        "ends-soon": ("active", 10, {"contract_ending"}),
        "ends-today": ("active", 0, {"contract_ending"}),
        "ends-at-lead": ("active", LEAD_DAYS, {"contract_ending"}),
        "ends-later": ("active", LEAD_DAYS + 1, set()),
        "ended-yesterday": ("active", -1, {"return_overdue"}),
        "due-back": ("return_due", -3, {"return_overdue"}),
        "signed-only": ("signed", 5, set()),
        "returned": ("returned", -30, set()),
    }
    with sessions.begin() as session:
        for number, (state, days, _) in cases.items():
            lend(session, number, state, today + timedelta(days=days))
    with sessions() as session:
        raised = found(session, today)
    for number, (_, days, expected) in cases.items():
        got = {kind for kind, contract in raised if contract == number}
        assert got == expected, f"{number} (ends {today + timedelta(days=days)}, today {today})"


@pytest.mark.parametrize(
    ("end", "today", "expected"),
    [
        (date(2028, 2, 29), date(2028, 2, 29), {"contract_ending"}),
        (date(2028, 2, 29), date(2028, 3, 1), {"return_overdue"}),
        (date(2027, 12, 31), date(2028, 1, 1), {"return_overdue"}),
        (date(2028, 1, 13), date(2027, 12, 30), {"contract_ending"}),  # 14 days across the year
        (date(2028, 1, 14), date(2027, 12, 30), set()),
    ],
)
def test_across_a_leap_day_and_a_new_year(
    sessions: sessionmaker[Session], end: date, today: date, expected: set[str]
) -> None:
    with sessions.begin() as session:
        lend(session, "c-1", "active", end)
    with sessions() as session:
        assert {kind for kind, _ in found(session, today)} == expected
