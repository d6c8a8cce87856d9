"""`serve`, `db upgrade` and `pki init`: run the controller, migrate its database, make its CA."""

from __future__ import annotations

import argparse
import logging
import socket
import ssl
import sys
from datetime import UTC, datetime

import uvicorn

from controller.api.app import create_app
from controller.api.peer import ClientCertProtocol
from controller.commandline.common import EXIT_OK, settings_of
from controller.config import ControllerSettings
from controller.errors import ConfigError
from controller.platform.db.engine import make_engine
from controller.platform.db.migrate import upgrade
from controller.remediation.bundles import BundleBuildError
from controller.remediation.playbooks import default_rules_path, load_bundle
from controller.trust import pki
from policy.rules import RulesError, load_rules

_LOGGER = logging.getLogger("kitkeeper-controller")


def serve(args: argparse.Namespace) -> int:
    """Ingest from the broker and serve the HTTP API (TLS unless --plain) until stopped."""
    settings = settings_of(args)
    paths = pki.PkiPaths(settings.pki_dir)
    tls = not settings.plain
    if tls and not paths.exists():
        raise ConfigError(
            f"no device CA in {settings.pki_dir}: run `kitkeeper-controller pki init "
            f"--pki-dir {settings.pki_dir}` first (or pass --plain for development without TLS)"
        )
    if not tls:
        _LOGGER.warning("--plain: MQTT and HTTP without TLS (development only)")
    if settings.remediation:
        _check_ladder(settings)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=args.log_level.lower(),
        log_config=None,
        ssl_certfile=str(paths.controller_cert) if tls else None,
        ssl_keyfile=str(paths.controller_key) if tls else None,
        # a kit presents its certificate (the throughput probe admits enrolled kits only)
        ssl_cert_reqs=ssl.CERT_OPTIONAL if tls else ssl.CERT_NONE,
        ssl_ca_certs=str(paths.ca_cert) if tls else None,
        http=ClientCertProtocol,
        # a stop (systemd, Ctrl+C) waits this long for open requests and keep-alive clients
        timeout_graceful_shutdown=5,
    )
    return EXIT_OK


def _check_ladder(settings: ControllerSettings) -> None:
    """Refuse to start with rules or playbooks that cannot be used (clear message, exit 2)."""
    path = default_rules_path(settings)
    try:
        load_rules(path.read_bytes())
        load_bundle(settings, datetime.now(UTC))
    except OSError as exc:
        raise ConfigError(f"cannot read the fault rules {path}: {exc}") from exc
    except (RulesError, BundleBuildError, ValueError) as exc:
        raise ConfigError(f"the playbooks or rules cannot be used: {exc}") from exc


def db(args: argparse.Namespace) -> int:
    """Migrate the database to the newest schema."""
    upgrade(make_engine(settings_of(args).db))
    sys.stdout.write("database is at the newest schema\n")
    return EXIT_OK


def pki_init(args: argparse.Namespace) -> int:
    """Create the device CA and the broker's and controller's certificates."""
    settings = settings_of(args)
    hosts = args.hosts or ["127.0.0.1", "localhost", socket.gethostname()]
    paths = pki.init_pki(settings.pki_dir, hosts=hosts, now=datetime.now(UTC))
    _, ca = pki.load_ca(paths)
    sys.stdout.write(
        f"device CA created in {paths.root}\n"
        f"  CA fingerprint (sha256): {pki.fingerprint(ca)}\n"
        f"  broker and controller certificates for: {', '.join(hosts)}\n"
        f"  keep {paths.ca_key} secret and backed up: it signs every kit's certificate\n"
    )
    return EXIT_OK
