"""The OpenAPI fuzzer against the live controller: no input an operation's schema allows, or breaks,
gets a server error (issue 12, item 13).

Schemathesis generates requests for every operation of the controller's own OpenAPI document,
both inside the schema (positive) and outside it (negative), signed in as an administrator, with
a seeded loan (a pupil, a guardian, a kit's components, a signed contract), a schedule and a
ticket, so that path parameters hit real records half of the time instead of stopping at 404.
Every operation is run; the failures of all of them are reported together.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.controller.records import PARTS, lend, upcoming_schedule
from tests.support import Controller, put, start_broker

pytestmark = [pytest.mark.processes, pytest.mark.slow]

# Examples per operation and generation mode: enough to reach each operation's validation and
# its service with seeded records, small enough for `make test` (KITKEEPER_FUZZ_EXAMPLES raises it).
EXAMPLES = int(os.environ.get("KITKEEPER_FUZZ_EXAMPLES", "10"))

SEEDS: dict[str, list[Any]] = {
    "kit_id": ["kit-l1"],
    "ref": ["p-001", "g-001"],
    "number": ["2026-0042"],
    "serial": [p["serial"] for p in PARTS],
    "ticket_id": [1],
    "incident_id": [1],
    "command_id": [1],
    "diagnostics_id": [1],
    "playbook": ["agent-restart", "audio-restart"],
}

# Operations that could end the session the fuzzer works with (signing out, a new password,
# disabling a user) are left out: they have tests of their own.
SKIP_ENDINGS = ("/logout", "/password", "/disable")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    tmp = tmp_path_factory.mktemp("fuzz")
    broker = start_broker(tmp)
    controller = Controller(tmp, broker).start()
    try:
        lend(controller)
        assert put(controller, "/api/v1/pupils/p-001/schedule", upcoming_schedule())[0] == 200
        ticket = {
            "kind": "help_request",
            "kit_id": "kit-l1",
            "title": "No sound in the webinar",
            "detail": "The mother called: the pupil hears nothing.",
            "priority": "high",
        }
        status, body = controller.post("/api/v1/tickets", ticket, "admin")
        assert status == 201, body
        yield controller
    finally:
        controller.stop()
        broker.stop()


def _session(controller: Controller, tmp: Path) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would win over `verify`
    session.verify = str(controller.pki.ca_cert)
    session.headers["Authorization"] = f"Bearer {controller.tokens['admin']}"
    return session


def _with_seeds(case: Any, use: bool) -> Any:
    """Half the cases get path parameters that name seeded records."""
    if use and case.path_parameters:
        for name in case.path_parameters:
            if name in SEEDS:
                case.path_parameters[name] = SEEDS[name][hash(case.path) % len(SEEDS[name])]
    return case


def _schema(controller: Controller, session: requests.Session) -> Any:
    response = session.get(controller.url + "/openapi.json", timeout=30)
    assert response.status_code == 200, response.text[:200]
    return schemathesis.openapi.from_dict(response.json())


def _fuzz(operation: Any, mode: GenerationMode, call: Any, statuses: Counter[int]) -> list[str]:
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), seeded=st.booleans())
    def run(case: Any, seeded: bool) -> None:
        response = call(_with_seeds(case, seeded))
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(
                f"{operation.method.upper()} {operation.path} ({mode.value}) -> "
                f"{response.status_code} for {case.path_parameters} {case.query} "
                f"{json.dumps(case.body, default=str)[:300] if case.body is not None else ''}"
            )

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, f"{operation.path}: no valid request to make"
        # An operation with nothing to get wrong (no parameters, no body) has no negative cases.
    return failures


def test_no_operation_answers_with_a_server_error(seeded: Controller, tmp_path: Path) -> None:
    session = _session(seeded, tmp_path)
    schema = _schema(seeded, session)
    failures: list[str] = []
    operations = 0
    statuses: Counter[int] = Counter()

    def call(case: Any) -> Any:
        return case.call(
            base_url=seeded.url, session=session, timeout=30, verify=str(seeded.pki.ca_cert)
        )

    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path.endswith(SKIP_ENDINGS):
                continue
            operations += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures.extend(_fuzz(operation, mode, call, statuses))
    finally:
        session.close()  # uvicorn waits for open connections before it stops
    print(f"{operations} operations, answers by status: {sorted(statuses.items())}")
    assert operations > 30, "the whole API was fuzzed"
    assert sum(n for code, n in statuses.items() if code < 300) > operations, "past the 4xx"
    log = seeded.log()
    tracebacks = log[log.find("Traceback") :][:6000] if "Traceback" in log else ""
    assert not failures, "\n".join([*failures[:40], tracebacks])
    assert not tracebacks, f"no unhandled error in the controller's log:\n{tracebacks}"
