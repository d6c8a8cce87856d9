"""`kitkeeper-controller`: serve, and manage the database, the device CA, the broker and kits.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration, 3 refused (e.g. a CA that
already exists, a kit that may not be enrolled).

This module parses the options; what each command does is in `controller.commandline`, by domain,
imported only for the command that runs (so `--help` stays fast).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from controller.commandline.common import (
    EXIT_FAILURE,
    EXIT_REFUSED,
    EXIT_USAGE,
    log_level,
    said,
)
from controller.errors import ConfigError, ControllerError, PkiError

Handler = Callable[[argparse.Namespace], int]
_DB_HELP = "database URL (default sqlite:///var/kitkeeper.db)"
_PKI_HELP = "the device CA's directory (default var/pki)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kitkeeper-controller", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--log-level",
        help="DEBUG, INFO, WARNING or ERROR (default: INFO for serve, WARNING for the others)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-vv: everything)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="ingest from the broker and serve the HTTP API")
    serve.add_argument("--db", help=_DB_HELP)
    serve.add_argument("--mqtt-host", help="broker host (default 127.0.0.1)")
    serve.add_argument("--mqtt-port", type=int, help="broker port (default 1883)")
    serve.add_argument("--http-host", help="API address (default 127.0.0.1)")
    serve.add_argument("--http-port", type=int, help="API port (default 8000)")
    serve.add_argument("--pki-dir", type=Path, help=_PKI_HELP + "; with it, TLS everywhere")
    serve.add_argument("--broker-dir", type=Path, help="the broker's config dir (var/broker)")
    serve.add_argument("--public-mqtt-host", help="broker host told to kits at enrolment")
    serve.add_argument("--public-mqtt-port", type=int, help="broker port told to kits")
    serve.add_argument(
        "--plain", action="store_true", default=None, help="development only: no TLS"
    )

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations up to the newest schema")
    upgrade.add_argument("--db", help=_DB_HELP)

    pki_cmd = sub.add_parser("pki", help="the device CA")
    pki_sub = pki_cmd.add_subparsers(dest="pki_command", required=True)
    init = pki_sub.add_parser("init", help="create the device CA, broker and controller certs")
    init.add_argument("--pki-dir", type=Path, help=_PKI_HELP)
    init.add_argument(
        "--host",
        action="append",
        dest="hosts",
        help="a name or address the broker and controller are reached at (repeatable; "
        "default: 127.0.0.1, localhost and this host's name)",
    )

    broker = sub.add_parser("broker-config", help="write the Mosquitto configuration and ACL")
    broker.add_argument("--pki-dir", type=Path, help=_PKI_HELP)
    broker.add_argument("--out", type=Path, required=True, help="directory to write into")
    broker.add_argument("--port", type=int, default=8883, help="TLS listener port (8883)")
    broker.add_argument("--bind", default="127.0.0.1", help="listener address (127.0.0.1)")
    broker.add_argument("--data-dir", type=Path, help="persistence directory (OUT/data)")
    broker.add_argument("--db", help=_DB_HELP + "; revoked kits are read from it")

    token = sub.add_parser("enroll-token", help="one-time enrolment tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="print a one-time token for one kit")
    create.add_argument("--kit-id", required=True, help="the kit the token enrols")
    create.add_argument("--hours", type=float, help="lifetime in hours (default 24)")
    create.add_argument("--db", help=_DB_HELP)
    create.add_argument("--pki-dir", type=Path, help=_PKI_HELP)

    _people_parsers(sub)
    _schedule_parsers(sub)  # schedules (controller/schedules)
    _content_parsers(sub)  # the content catalogue (controller/content)
    _bundle_parsers(sub)  # playbook bundles (controller/remediation)
    _content_key_parsers(sub)  # the content manifests' key (controller/content/keys.py)
    return parser


def _content_key_parsers(sub: Any) -> None:
    """`content-key rotate` and `content-key show`: the key that signs content manifests."""
    key = sub.add_parser("content-key", help="the key that signs kits' content manifests")
    key_sub = key.add_subparsers(dest="content_key_command", required=True)
    rotate = key_sub.add_parser(
        "rotate", help="a new content key, handed over to kits by a statement the old signs"
    )
    show = key_sub.add_parser("show", help="the content key's file and fingerprint (made once)")
    for command in (rotate, show):
        command.add_argument("--pki-dir", type=Path, help=_PKI_HELP)


def _bundle_parsers(sub: Any) -> None:
    """`bundle build` and `bundle rotate-key`: the signed playbook bundle and its key."""
    bundle = sub.add_parser("bundle", help="the signed playbook bundle and its signing key")
    bundle_sub = bundle.add_subparsers(dest="bundle_command", required=True)
    build = bundle_sub.add_parser(
        "build", help="build the bundle of the playbooks (a new version if they changed)"
    )
    rotate = bundle_sub.add_parser(
        "rotate-key", help="a new signing key, handed over to kits by a statement the old signs"
    )
    for command in (build, rotate):
        command.add_argument("--pki-dir", type=Path, help=_PKI_HELP)
        command.add_argument("--db", help=_DB_HELP + "; bundle versions are recorded in it")


def _people_parsers(sub: Any) -> None:
    """`user create` and `kit mark`: the commands that change who may do what."""
    user = sub.add_parser("user", help="staff accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    create_user = user_sub.add_parser("create", help="add a member of staff (the first admin)")
    create_user.add_argument("--username", required=True)
    create_user.add_argument("--role", required=True, choices=["admin", "technician", "teacher"])
    create_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create_user.add_argument("--db", help=_DB_HELP)
    _staff_parsers(user_sub)

    keys = sub.add_parser("keys", help="the keys that encrypt personal data")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("generate", help="print a new key")
    rotate = keys_sub.add_parser(
        "rotate",
        help="re-encrypt all personal data under the first of KITKEEPER_PII_KEYS "
        "(then the older keys can be dropped)",
    )
    rotate.add_argument("--db", help=_DB_HELP)

    imp = sub.add_parser("import", help="import kits, components, pupils or guardians from CSV")
    imp.add_argument("kind", choices=["kits", "components", "pupils", "guardians"])
    imp.add_argument("file", type=Path, help="a CSV file (UTF-8, comma or semicolon)")
    imp.add_argument(
        "--partial", action="store_true", help="import the good rows even if some are bad"
    )
    imp.add_argument("--update", action="store_true", help="update the references already recorded")
    imp.add_argument("--db", help=_DB_HELP)

    pupils = sub.add_parser("pupils", help="pupils' records")
    pupils_sub = pupils.add_subparsers(dest="pupils_command", required=True)
    promote = pupils_sub.add_parser(
        "promote",
        help="the new school year: every pupil at school a grade up, the 11th grade graduates "
        "(once per school year)",
    )
    promote.add_argument("--school", help="only the pupils of this school")
    promote.add_argument("--dry-run", action="store_true", help="say what would change, only")
    promote.add_argument("--force", action="store_true", help="again in the same school year")
    promote.add_argument("--db", help=_DB_HELP)

    kit = sub.add_parser("kit", help="kit lifecycle")
    kit_sub = kit.add_subparsers(dest="kit_command", required=True)
    mark = kit_sub.add_parser(
        "mark", help="mark a kit active, lost, retired or returned (the last three revoke it)"
    )
    mark.add_argument("--kit-id", required=True)
    mark.add_argument("state", choices=["active", "in_repair", "lost", "retired", "returned"])
    mark.add_argument("--db", help=_DB_HELP)
    mark.add_argument("--pki-dir", type=Path, help=_PKI_HELP)
    mark.add_argument("--broker-dir", type=Path, help="the broker's config dir (var/broker)")


def _staff_parsers(user_sub: Any) -> None:
    """`user disable|enable|password`: take a member of staff's access away, give it back."""
    for name, text in (
        ("disable", "disable a member of staff: their tokens are revoked, sign-in refused"),
        ("enable", "let a disabled member of staff sign in again"),
        ("password", "set a member of staff's password (every token of theirs is revoked)"),
    ):
        command = user_sub.add_parser(name, help=text)
        command.add_argument("--username", required=True)
        if name == "password":
            command.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the password from standard input",
            )
        command.add_argument("--db", help=_DB_HELP)


def _schedule_parsers(sub: Any) -> None:
    """`schedule import` and `schedule show`: a pupil's individual lesson schedule."""
    schedule = sub.add_parser("schedule", help="pupils' individual lesson schedules")
    schedule_sub = schedule.add_subparsers(dest="schedule_command", required=True)
    imp = schedule_sub.add_parser(
        "import", help="import a pupil's schedule from CSV or iCalendar (.ics) as a new version"
    )
    imp.add_argument("pupil_ref", metavar="PUPIL_REF")
    imp.add_argument("file", type=Path, metavar="FILE", help="a .csv or .ics file (UTF-8)")
    imp.add_argument(
        "--format", choices=["csv", "ics"], dest="file_format", help="default: from the file"
    )
    imp.add_argument("--timezone", help="IANA zone of the file's local times (Asia/Almaty)")
    imp.add_argument("--approve", action="store_true", help="also record the director's approval")
    imp.add_argument("--approved-by", help="who approved it (default: you)")
    imp.add_argument("--db", help=_DB_HELP)
    show = schedule_sub.add_parser("show", help="print a pupil's schedule")
    show.add_argument("pupil_ref", metavar="PUPIL_REF")
    show.add_argument("--version", type=int, help="an older version (default: the current one)")
    show.add_argument("--json", action="store_true", help="as JSON, for machines")
    show.add_argument("--db", help=_DB_HELP)


def _content_parsers(sub: Any) -> None:
    """`content import`: a batch of catalogue resources from a folder and a metadata file."""
    content = sub.add_parser("content", help="the content catalogue")
    content_sub = content.add_subparsers(dest="content_command", required=True)
    imp = content_sub.add_parser(
        "import",
        help="import resources from a folder and a CSV or JSON metadata file "
        "(exit 0 all created, 1 rows refused, 2 bad input)",
    )
    imp.add_argument("folder", type=Path, metavar="DIR", help="the folder holding the files")
    imp.add_argument("--metadata", type=Path, required=True, metavar="FILE", help=".csv or .json")
    imp.add_argument(
        "--partial", action="store_true", help="store the valid rows even if some are refused"
    )
    imp.add_argument("--json", action="store_true", help="the report as JSON, for machines")
    imp.add_argument("--content-dir", type=Path, help="the blobs' folder (default var/content)")
    imp.add_argument("--db", help=_DB_HELP)


def _server() -> dict[str, Handler]:
    from controller.commandline import server  # noqa: PLC0415 - the web stack only to serve

    return {"serve": server.serve, "db": server.db, "pki": server.pki_init}


def _trust() -> dict[str, Handler]:
    from controller.commandline import trust  # noqa: PLC0415

    return {
        "broker-config": trust.broker_config,
        "enroll-token": trust.enroll_token,
        "kit": trust.kit_mark,
    }


def _staff() -> dict[str, Handler]:
    from controller.commandline import staff  # noqa: PLC0415

    return {"user": staff.user}


def _loans() -> dict[str, Handler]:
    from controller.commandline import loans  # noqa: PLC0415

    return {"keys": loans.keys, "import": loans.import_csv}


def _people() -> dict[str, Handler]:
    from controller.commandline import people  # noqa: PLC0415

    return {"pupils": people.pupils}


def _bundles() -> dict[str, Handler]:
    from controller.commandline import bundles  # noqa: PLC0415

    return {"bundle": bundles.bundle}


def _content_keys() -> dict[str, Handler]:
    from controller.commandline import content_keys  # noqa: PLC0415

    return {"content-key": content_keys.content_key}


def _schedules() -> dict[str, Handler]:
    from controller.commandline import schedules  # noqa: PLC0415

    return {"schedule": schedules.schedule}


def _content() -> dict[str, Handler]:
    from controller.commandline import content  # noqa: PLC0415

    return {"content": content.content}


_COMMANDS: dict[str, Callable[[], dict[str, Handler]]] = {
    "serve": _server,
    "db": _server,
    "pki": _server,
    "broker-config": _trust,
    "enroll-token": _trust,
    "kit": _trust,
    "user": _staff,
    "keys": _loans,
    "import": _loans,
    "pupils": _people,
    "schedule": _schedules,
    "bundle": _bundles,
    "content-key": _content_keys,
    "content": _content,
}
"""Each command's domain: its module is imported only when the command runs."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kitkeeper-controller`."""
    args = _parser().parse_args(argv)

    from controller.trust.enrolment import TrustError  # noqa: PLC0415
    from controller.trust.staff import AuthError  # noqa: PLC0415

    args.log_level = log_level(args)  # serve hands it on to uvicorn
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.verbose >= 2:
        logging.getLogger("alembic").setLevel(logging.INFO)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    try:
        return _COMMANDS[args.command]()[args.command](args)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            sys.stderr.write(f"kitkeeper-controller: invalid {where}: {err['msg']}\n")
        return EXIT_USAGE
    except ConfigError as exc:
        sys.stderr.write(f"kitkeeper-controller: {said(exc)}\n")
        return EXIT_USAGE
    except (PkiError, TrustError, AuthError) as exc:
        sys.stderr.write(f"kitkeeper-controller: {said(exc)}\n")
        return EXIT_REFUSED
    except ControllerError as exc:
        sys.stderr.write(f"kitkeeper-controller: {said(exc)}\n")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
