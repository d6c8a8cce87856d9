"""A controller shared by the issue-13 scenario modules of the loans tests, to keep `make test`
short: test_inventory_integrity.py and test_import_inputs.py (their records do not overlap:
kit-a1, kit-l1, p-001 and contract 2026-0042 there; the templates' kit-001, ШК-2025-017, p-012
and p-20 to p-30 here); test_people_records.py too (e-*, t-*, a-*, y-*, kit-pr1, PR-2026-001).
Started by the first test that asks for it, stopped at the session's end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Broker, Controller, start_broker


@pytest.fixture(scope="session")
def shared_controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    """One controller (and its broker) for the modules that ask for it."""
    tmp = tmp_path_factory.mktemp("loans-shared")
    broker: Broker = start_broker(tmp)
    controller = Controller(tmp, broker)
    try:
        yield controller.start()
    finally:
        controller.stop()
        broker.stop()
