"""Running the Alembic migrations shipped inside the package (no alembic.ini needed).

Alembic's own lines ("Context impl SQLiteImpl", one "Running upgrade" per migration) are INFO
messages nobody at a command line asked for: they are kept below WARNING unless the `alembic`
logger was given a level on purpose (`kitkeeper-controller -vv`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from controller.errors import StorageError

MIGRATIONS = Path(__file__).parent / "migrations"
_ALEMBIC = logging.getLogger("alembic")


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs warnings only, unless someone set its level."""
    quiet = _ALEMBIC.level == logging.NOTSET
    if quiet:
        _ALEMBIC.setLevel(logging.WARNING)
    try:
        yield
    finally:
        if quiet:
            _ALEMBIC.setLevel(logging.NOTSET)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to `engine`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to `revision`."""
    try:
        with _quiet_alembic():
            command.upgrade(alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate the database: {exc}") from exc
