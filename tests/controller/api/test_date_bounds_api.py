"""Every date the API takes is bounded: year 1, 9999 and 9999-12-31T23:59:59-14:00 are a 422."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.controller.records import CONTRACT, PUPIL, setup_loan, upcoming_schedule
from tests.support import Controller, call, days_from_today, put, start_broker

pytestmark = pytest.mark.processes  # one controller for the module (not the shared fixture)

RANGE = "the years 2000 to 2100 (2000-01-01 to 2100-12-31)"
FAR = ["9999-12-31", "0001-01-01", "9999-12-31T23:59:59-14:00"]
FAR_AWARE = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z", "9999-12-31T00:00:00+00:00"]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    """A controller with pupil p-001 and kit-l1 under a draft contract."""
    tmp: Path = tmp_path_factory.mktemp("dates")
    broker = start_broker(tmp)
    controller = Controller(tmp, broker).start()
    try:
        setup_loan(controller)
        yield controller
    finally:
        controller.stop()
        broker.stop()


def refused(status: int, body: Any) -> str:
    """The 422's text (never a 500): what the client is told."""
    assert status == 422, (status, body)
    return json.dumps(body, ensure_ascii=False)


def q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


@pytest.mark.parametrize("value", FAR)
@pytest.mark.parametrize("param", ["start", "end"])
def test_the_lessons_query_refuses_far_dates(running: Controller, param: str, value: str) -> None:
    other = "start=2031-01-01&" if param == "end" else ""
    status, body = running.get(f"/api/v1/pupils/p-001/lessons?{other}{param}={q(value)}")
    assert RANGE in refused(status, body)


def test_the_lessons_query_takes_the_edges_of_the_range(running: Controller) -> None:
    for start in ("2100-12-31T23:00", "2100-12-31", "2000-01-01T00:00:00Z"):
        status, body = running.get(f"/api/v1/pupils/p-001/lessons?start={q(start)}")
        assert status == 200, body
        assert body["lessons"] == []


@pytest.mark.parametrize("value", FAR_AWARE)
def test_the_incident_summary_refuses_far_dates(running: Controller, value: str) -> None:
    status, body = running.get(f"/api/v1/incidents/summary?since={q(value)}")
    assert RANGE in refused(status, body)


@pytest.mark.parametrize("value", FAR_AWARE)
def test_a_ticket_due_by_a_far_date_is_refused(running: Controller, value: str) -> None:
    ticket = {"kind": "repair", "kit_id": "kit-l1", "title": "no sound", "due_by": value}
    assert RANGE in refused(*running.post("/api/v1/tickets", ticket, "admin"))


@pytest.mark.parametrize("value", FAR[:2])
@pytest.mark.parametrize("field", ["start", "end"])
def test_a_contract_with_a_far_date_is_refused(running: Controller, field: str, value: str) -> None:
    contract = CONTRACT | {"number": "2031-0001", field: value}
    if field == "start":
        contract["end"] = days_from_today(30)
    assert RANGE in refused(*running.post("/api/v1/contracts", contract, "admin"))


@pytest.mark.parametrize("value", FAR[:2])
def test_a_pupil_temporarily_at_home_until_a_far_date_is_refused(
    running: Controller, value: str
) -> None:
    pupil = PUPIL | {
        "ref": "p-009",
        "program": "general",
        "basis": "temporary",
        "temporary_until": value,
    }
    assert RANGE in refused(*running.post("/api/v1/pupils", pupil, "admin"))


@pytest.mark.parametrize("value", FAR[:2])
@pytest.mark.parametrize("where", ["terms", "extras"])
def test_a_schedule_with_a_far_date_is_refused(running: Controller, where: str, value: str) -> None:
    schedule = upcoming_schedule()
    if where == "terms":
        schedule["terms"] = [{"start": value, "end": value}]
    else:
        schedule["extras"] = [
            {
                "date": value,
                "start": "12:00",
                "duration_min": 45,
                "subject": "Art",
                "mode": "home_visit",
            }
        ]
    text = refused(*put(running, "/api/v1/pupils/p-001/schedule", schedule))
    assert RANGE in text
    assert f"{where}.0." in text, "the body names where the date is"


def test_imports_name_the_far_date_by_line_and_column(running: Controller) -> None:
    csv = "kind,date,end_date,note\nterm,2031-09-01,9999-12-31,first\n"
    status, body = call(
        running, "POST", "/api/v1/pupils/p-001/schedule/import?format=csv", csv.encode()
    )
    refused(status, body)
    (error,) = body["errors"]
    assert {key: error[key] for key in ("row", "column", "reason")} == {
        "row": 2,
        "column": "end_date",
        "reason": f"9999-12-31 is not within {RANGE}",
    }
    assert "9999-12-31 вне промежутка 2000–2100 годов" in error["messages"]["ru"]
    assert "2000–2100 жылдар" in error["messages"]["kk"], "the bounds worded in each language"
    pupils = (
        "pupil_ref,name,grade,program,basis,temporary_until,school,iin\n"
        "p-010,Дана Ерланқызы,5,general,temporary,31.12.9999,№42 мектеп,070101500014\n"
    )
    status, body = call(
        running, "POST", "/api/v1/import/pupils", pupils.encode(), "admin", "text/csv"
    )
    refused(status, body)
    ((error),) = body["errors"]
    assert (error["row"], error["column"]) == (2, "temporary_until")
    assert RANGE in error["reason"]
    assert "Traceback" not in running.log()
