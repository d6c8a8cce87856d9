"""`kitkeeper-controller`: serve the API and ingest, or migrate the database.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError

from controller.config import ControllerSettings
from controller.errors import ConfigError, ControllerError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
_LOGGER = logging.getLogger("kitkeeper-controller")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kitkeeper-controller", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="ingest from the broker and serve the HTTP API")
    serve.add_argument("--db", help="database URL (default sqlite:///var/kitkeeper.db)")
    serve.add_argument("--mqtt-host", help="broker host (default 127.0.0.1)")
    serve.add_argument("--mqtt-port", type=int, help="broker port (default 1883)")
    serve.add_argument("--http-host", help="API address (default 127.0.0.1)")
    serve.add_argument("--http-port", type=int, help="API port (default 8000)")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations up to the newest schema")
    upgrade.add_argument("--db", help="database URL (default sqlite:///var/kitkeeper.db)")
    return parser


def _settings(args: argparse.Namespace) -> ControllerSettings:
    keys = ("db", "mqtt_host", "mqtt_port", "http_host", "http_port")
    return ControllerSettings(
        **{k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    )


def _serve(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415 - only `serve` needs the web stack

    from controller.api.app import create_app  # noqa: PLC0415

    settings = _settings(args)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=args.log_level.lower(),
        log_config=None,
    )
    return EXIT_OK


def _db(args: argparse.Namespace) -> int:
    from controller.db.engine import make_engine  # noqa: PLC0415
    from controller.db.migrate import upgrade  # noqa: PLC0415

    engine = make_engine(_settings(args).db)
    upgrade(engine)
    sys.stdout.write("database is at the newest schema\n")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kitkeeper-controller`."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    try:
        return {"serve": _serve, "db": _db}[args.command](args)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            sys.stderr.write(f"kitkeeper-controller: invalid {where}: {err['msg']}\n")
        return EXIT_USAGE
    except ConfigError as exc:
        sys.stderr.write(f"kitkeeper-controller: {exc}\n")
        return EXIT_USAGE
    except ControllerError as exc:
        sys.stderr.write(f"kitkeeper-controller: {exc}\n")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
