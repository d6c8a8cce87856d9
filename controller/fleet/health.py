"""The controller's own health: its database, its broker connection and the broker's CRL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from controller import __version__
from controller.fleet.schemas import Health
from controller.trust import crl, pki


def _database(engine: Engine) -> str:
    """'ok' when the database answers a trivial query; else why not."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def _crl(pki_dir: Path, *, plain: bool, now: datetime) -> str:
    """The revocation list's check, when the controller runs with TLS."""
    paths = pki.PkiPaths(pki_dir)
    if plain or not paths.exists():
        return "not used"
    return crl.crl_check(paths, now)


def check(
    *, engine: Engine, mqtt_connected: bool, pki_dir: Path, plain: bool, now: datetime
) -> Health:
    """ok when the database answers, the broker is connected and the CRL valid for a week."""
    database = _database(engine)
    mqtt = "connected" if mqtt_connected else "disconnected"
    crl_state = _crl(pki_dir, plain=plain, now=now)
    ok = database == "ok" and mqtt == "connected" and crl_state in ("ok", "not used")
    return Health(
        status="ok" if ok else "degraded",
        database=database,
        mqtt=mqtt,
        version=__version__,
        crl=crl_state,
    )
