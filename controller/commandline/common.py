"""What every command shares: its exit codes, its settings, its database and who it acts as."""

from __future__ import annotations

import argparse
import getpass

from sqlalchemy.orm import Session, sessionmaker

from controller.config import ControllerSettings
from controller.platform.db.engine import make_engine, make_sessionmaker
from controller.platform.db.migrate import upgrade

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
"""Success, a runtime failure, bad usage or configuration, refused (e.g. a CA that exists)."""

_SETTING_KEYS = (
    "db",
    "mqtt_host",
    "mqtt_port",
    "http_host",
    "http_port",
    "pki_dir",
    "broker_dir",
    "public_mqtt_host",
    "public_mqtt_port",
    "plain",
)


def settings_of(args: argparse.Namespace) -> ControllerSettings:
    """The controller's settings: the command's options over `KITKEEPER_*` variables."""
    return ControllerSettings(
        **{k: getattr(args, k) for k in _SETTING_KEYS if getattr(args, k, None) is not None}
    )


def sessions_of(settings: ControllerSettings) -> sessionmaker[Session]:
    """Sessions on the configured database, migrated to the newest schema first."""
    engine = make_engine(settings.db)
    upgrade(engine)
    return make_sessionmaker(engine)


def actor() -> str:
    """Who the audit log names for a command: the user at the terminal."""
    return f"cli:{getpass.getuser()}"
