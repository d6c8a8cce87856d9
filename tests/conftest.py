"""Fixtures shared by every test: a real TLS broker and a real controller process.

Tests that start processes (the broker, the controller, agents, command-line programs, ansible)
carry the `processes` marker: those whose fixtures start them get it here, the others say so
themselves. `make test` runs everything else a second time under libfaketime at other dates;
there `KITKEEPER_TEST_NO_PROCESSES=1` turns any process a test starts into a failure, so a test
that starts one without the marker cannot slip into those runs unnoticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Broker, Controller, start_broker

# Fixtures that start a process: a test using any of them (directly or through another
# fixture) starts processes.
PROCESS_FIXTURES = frozenset({"broker", "controller"})
NO_PROCESSES = os.environ.get("KITKEEPER_TEST_NO_PROCESSES") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test whose fixtures start a process."""
    for item in items:
        if PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.processes)


@pytest.fixture(autouse=True)
def _no_processes_in_the_pure_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under KITKEEPER_TEST_NO_PROCESSES=1, starting a process fails the test with a reason."""
    if not NO_PROCESSES:
        return

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(
            "this test starts a process but is not marked `processes`: mark it, or keep it pure"
        )

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp"):
        monkeypatch.setattr(os, name, refuse)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto with TLS, per-kit ACL and CRL, on a free port."""
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.fail("mosquitto is not installed: run `make test`, which installs it")
    proc = start_broker(tmp_path)
    yield proc
    proc.stop()


@pytest.fixture
def controller(tmp_path: Path, broker: Broker) -> Iterator[Controller]:
    """A real `kitkeeper-controller serve` process on that broker, SQLite in tmp_path."""
    proc = Controller(tmp_path, broker).start()
    yield proc
    proc.stop()
