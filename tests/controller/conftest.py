"""Fixtures for the controller's tests: a migrated database, a lent contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controller.records import lend
from tests.support import Controller, MigratedDb, migrated


@pytest.fixture
def migrated_db(tmp_path: Path) -> Iterator[MigratedDb]:
    """A fresh SQLite file under tmp_path (in a folder of its own) at the latest schema."""
    database = migrated(f"sqlite:///{tmp_path / 'db' / 'k.db'}")
    yield database
    database.engine.dispose()


@pytest.fixture
def lent_contract(controller: Controller) -> Controller:
    """The real controller with contract 2026-0042 signed: kit-l1 lent to pupil p-001."""
    lend(controller)
    return controller
