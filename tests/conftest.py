"""Fixtures shared by every test: a real TLS broker and a real controller process."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Broker, Controller, start_broker


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
