"""Fixtures shared by every test: real broker, controller and agent processes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.broker import MosquittoProcess
from tests.support import Controller, start_broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """A real Mosquitto on a free port."""
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.fail("mosquitto is not installed: run `make test`, which installs it")
    proc = start_broker(tmp_path)
    yield proc
    proc.stop()


@pytest.fixture
def controller(tmp_path: Path, broker: MosquittoProcess) -> Iterator[Controller]:
    """A real `kitkeeper-controller serve` process on that broker, SQLite in tmp_path."""
    proc = Controller(tmp_path, broker.port).start()
    yield proc
    proc.stop()
