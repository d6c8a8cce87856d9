"""What every command shares: its exit codes, its settings, its database and who it acts as.

Settings come from the command's options, over `KITKEEPER_*` variables, over one configuration
file of `KITKEEPER_*=value` lines (a dotenv file):

- `$KITKEEPER_CONFIG` when set (empty: no file at all);
- else `var/kitkeeper.env` when it exists (a site's own);
- else `var/demo/kitkeeper.env`, which `make demo` writes (mode 0600: the demo's database, PKI,
  broker directory, ports and personal-data keys), when it exists and the default database
  `var/kitkeeper.db` does not: run from the project's folder, the command line works on the demo.
  Never for a command given its own database (`--db` or `KITKEEPER_DB`: the demo's keys and PKI
  must not reach a real site's data), nor for `serve` and `pki`, which set a site up.

A command that opens the database but was given none (no `--db`, no `KITKEEPER_DB`, no file) while
the default database does not exist refuses rather than create a second, empty one;
`kitkeeper-controller db upgrade` (or `serve`) creates it on purpose.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Final

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from common.i18n import default_lang
from controller.config import DEFAULT_DB_URL, ControllerSettings
from controller.errors import ConfigError, ControllerError
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


CONFIG_VARIABLE: Final = "KITKEEPER_CONFIG"
SITE_CONFIG: Final = Path("var/kitkeeper.env")
DEMO_CONFIG: Final = Path("var/demo/kitkeeper.env")


_SETS_UP: Final = frozenset({"serve", "pki"})
"""Commands that set a site up: they never fall back on the demo's configuration (`db upgrade`
does: run in the demo's folder, it migrates the demo's database rather than create another)."""


def config_file(
    args: argparse.Namespace | None = None, environ: dict[str, str] | None = None
) -> Path | None:
    """The configuration file the command line reads (see the module's docstring), if any."""
    env = os.environ if environ is None else environ
    if CONFIG_VARIABLE in env:
        named = env[CONFIG_VARIABLE]
        if not named:
            return None
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_VARIABLE}={named}: no such file")
        return path
    if SITE_CONFIG.is_file():
        return SITE_CONFIG
    own_db = getattr(args, "db", None) is not None or "KITKEEPER_DB" in env
    if own_db or getattr(args, "command", None) in _SETS_UP:
        return None
    default_db = _sqlite_path(DEFAULT_DB_URL)
    if DEMO_CONFIG.is_file() and default_db is not None and not default_db.exists():
        sys.stderr.write(f"kitkeeper-controller: using the demo's configuration {DEMO_CONFIG}\n")
        return DEMO_CONFIG
    return None


def settings_of(args: argparse.Namespace) -> ControllerSettings:
    """The controller's settings: the command's options over `KITKEEPER_*` variables over the
    configuration file (`config_file`)."""
    return ControllerSettings(
        _env_file=config_file(args),  # pydantic-settings' own argument: the dotenv file
        **{k: getattr(args, k) for k in _SETTING_KEYS if getattr(args, k, None) is not None},
    )


def _sqlite_path(url: str) -> Path | None:
    """The file of an SQLite database URL (None: another database, or in memory)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _refuse_a_second_database(settings: ControllerSettings) -> None:
    """Refuse to create the default database silently when none was chosen."""
    if "db" in settings.model_fields_set:
        return
    path = _sqlite_path(settings.db)
    if path is None or path.exists():
        return
    raise ConfigError(
        f"no database at {path} (the default) and none was given, so none is created. "
        f"The demo's: {CONFIG_VARIABLE}={DEMO_CONFIG} kitkeeper-controller ... "
        "(or --db sqlite:///var/demo/kitkeeper.db); another: --db URL or KITKEEPER_DB; "
        "a new one here: kitkeeper-controller db upgrade first"
    )


def sessions_of(settings: ControllerSettings) -> sessionmaker[Session]:
    """Sessions on the configured database, migrated to the newest schema first (refused when
    no database was given and the default one does not exist)."""
    _refuse_a_second_database(settings)
    engine = make_engine(settings.db)
    upgrade(engine)
    return make_sessionmaker(engine)


def log_level(args: argparse.Namespace) -> str:
    """`--log-level` when given; else quiet (WARNING) but for `serve` (INFO), one step more
    per `-v`."""
    if args.log_level:
        return str(args.log_level).upper()
    levels = ("WARNING", "INFO", "DEBUG")
    start = 1 if args.command == "serve" else 0
    return levels[min(start + args.verbose, len(levels) - 1)]


def said(error: Exception) -> str:
    """What the command line prints for `error`: in the user's language (LANG, LC_ALL) when the
    error has its message in every language, else as it is."""
    if isinstance(error, ControllerError):
        messages = error.messages()
        lang = default_lang()
        if messages and lang in messages:
            return messages[lang]
    return str(error)


def actor() -> str:
    """Who the audit log names for a command: the user at the terminal."""
    return f"cli:{getpass.getuser()}"
