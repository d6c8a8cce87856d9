"""`kitkeeper-controller`: serve, and manage the database, the device CA, the broker and kits.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration, 3 refused (e.g. a CA that
already exists, a kit that may not be enrolled).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from controller.config import ControllerSettings
from controller.errors import ConfigError, ControllerError, PkiError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
MAX_TOKEN_HOURS = 8760
"""An enrolment token lives at most a year."""
_LOGGER = logging.getLogger("kitkeeper-controller")
_DB_HELP = "database URL (default sqlite:///var/kitkeeper.db)"
_PKI_HELP = "the device CA's directory (default var/pki)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kitkeeper-controller", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
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
    return parser


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
    imp.add_argument("--db", help=_DB_HELP)

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


def _settings(args: argparse.Namespace) -> ControllerSettings:
    return ControllerSettings(
        **{k: getattr(args, k) for k in _SETTING_KEYS if getattr(args, k, None) is not None}
    )


def _serve(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415 - only `serve` needs the web stack

    from controller.api.app import create_app  # noqa: PLC0415
    from controller.trust import pki  # noqa: PLC0415

    settings = _settings(args)
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
    )
    return EXIT_OK


def _check_ladder(settings: ControllerSettings) -> None:
    """Refuse to start with rules or playbooks that cannot be used (clear message, exit 2)."""
    from controller.remediation.bundles import BundleBuildError  # noqa: PLC0415
    from controller.remediation.remediator import default_rules_path, load_bundle  # noqa: PLC0415
    from policy.rules import RulesError, load_rules  # noqa: PLC0415

    path = default_rules_path(settings)
    try:
        load_rules(path.read_bytes())
        load_bundle(settings, datetime.now(UTC))
    except OSError as exc:
        raise ConfigError(f"cannot read the fault rules {path}: {exc}") from exc
    except (RulesError, BundleBuildError, ValueError) as exc:
        raise ConfigError(f"the playbooks or rules cannot be used: {exc}") from exc


def _db(args: argparse.Namespace) -> int:
    from controller.platform.db.engine import make_engine  # noqa: PLC0415
    from controller.platform.db.migrate import upgrade  # noqa: PLC0415

    upgrade(make_engine(_settings(args).db))
    sys.stdout.write("database is at the newest schema\n")
    return EXIT_OK


def _pki(args: argparse.Namespace) -> int:
    from controller.trust import pki  # noqa: PLC0415

    settings = _settings(args)
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


def _sessions(settings: ControllerSettings) -> sessionmaker[Session]:
    from controller.platform.db.engine import make_engine, make_sessionmaker  # noqa: PLC0415
    from controller.platform.db.migrate import upgrade  # noqa: PLC0415

    engine = make_engine(settings.db)
    upgrade(engine)
    return make_sessionmaker(engine)


def _broker_config(args: argparse.Namespace) -> int:
    from controller.trust import broker, pki  # noqa: PLC0415
    from controller.trust import enrolment as trust  # noqa: PLC0415

    settings = _settings(args)
    revoked: list[str] = []
    if args.db is not None or Path("var/kitkeeper.db").exists():
        sessions = _sessions(settings)
        with sessions() as session:
            revoked = trust.revoked_kits(session)
    config = broker.BrokerConfig(
        port=args.port,
        data_dir=args.data_dir or args.out / "data",
        pki=pki.PkiPaths(settings.pki_dir),
        bind_address=args.bind,
    )
    path = broker.write(config, args.out, revoked_kits=revoked)
    sys.stdout.write(
        f"wrote {path} and {args.out / broker.ACL_FILE}\n"
        f"start the broker with: mosquitto -c {path}\n"
    )
    return EXIT_OK


def _enroll_token(args: argparse.Namespace) -> int:
    from controller.trust import enrolment as trust  # noqa: PLC0415
    from controller.trust import pki  # noqa: PLC0415

    settings = _settings(args)
    hours = args.hours if args.hours is not None else settings.token_hours
    if not 0 < hours <= MAX_TOKEN_HOURS:
        raise ConfigError(f"--hours must be more than 0 and at most {MAX_TOKEN_HOURS} (a year)")
    sessions = _sessions(settings)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        token = trust.create_token(
            session,
            kit_id=args.kit_id,
            paths=pki.PkiPaths(settings.pki_dir),
            now=now,
            ttl=timedelta(hours=hours),
            actor=_actor(),
        )
        previous = trust.latest_certificate(session, args.kit_id)
    sys.stdout.write(token.text + "\n")
    sys.stderr.write(
        f"one-time token for kit {args.kit_id}, valid until {trust.instant(token.expires_at)}; "
        "on the kit run:\n"
        "  kitkeeper-agent enroll --controller https://CONTROLLER:PORT --token <the token>\n"
    )
    if previous is not None:
        state = "expired" if previous.not_after < now else "is valid until"  # valid at it
        sys.stderr.write(
            f"kit {args.kit_id}'s certificate {state} {trust.instant(previous.not_after)}: "
            "enrolling replaces it and keeps the kit's outbox and schedule; a running agent "
            "reconnects with the new certificate by itself\n"
        )
    return EXIT_OK


def _keys(args: argparse.Namespace) -> int:
    from controller.loans import people  # noqa: PLC0415
    from controller.platform import audit  # noqa: PLC0415
    from controller.platform.crypto import generate_key  # noqa: PLC0415

    if args.keys_command == "generate":
        sys.stdout.write(generate_key() + "\n")
        return EXIT_OK
    settings = _settings(args)
    cipher = people.cipher(settings)
    now = datetime.now(UTC)
    with _sessions(settings).begin() as session:
        count = people.rotate(session, cipher=cipher)
        audit.record(
            session,
            actor=_actor(),
            action="keys_rotated",
            entity="pii",
            entity_id="all",
            now=now,
            after={"rows": count, "keys": len(settings.pii_keys)},
        )
    sys.stdout.write(
        f"{count} people re-encrypted under the newest key; the older keys can now be removed "
        "from KITKEEPER_PII_KEYS\n"
    )
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from controller.loans import imports, kit_status, people  # noqa: PLC0415

    settings = _settings(args)
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {args.file}: {exc}") from exc
    cipher = people.cipher(settings) if args.kind in ("pupils", "guardians") else None
    session = _sessions(settings)()
    with session:
        report = imports.import_csv(
            session,
            kind=args.kind,
            text=text,
            partial=args.partial,
            cipher=cipher,
            revocations=kit_status.Revocations.of(settings),
            actor=_actor(),
            now=datetime.now(UTC),
        )
        for error in report["errors"]:
            where = f"line {error['row']}" if error["row"] else "row"
            column = f", {error['column']}" if error["column"] else ""
            sys.stderr.write(f"{args.file}: {where}{column}: {error['reason']}\n")
        if report["errors"] and not args.partial:
            session.rollback()
            sys.stderr.write("nothing imported (use --partial to import the good rows)\n")
            return EXIT_REFUSED
        session.commit()
    sys.stdout.write(f"{report['imported']} {args.kind} imported\n")
    return EXIT_OK


# --- schedules (controller/schedules) ------------------------------------------------------------


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


def _schedule(args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415

    from controller.loans import people  # noqa: PLC0415
    from controller.schedules import service  # noqa: PLC0415
    from controller.schedules.errors import ScheduleError, ScheduleImportError  # noqa: PLC0415

    settings = _settings(args)
    sessions = _sessions(settings)
    now = datetime.now(UTC)
    if args.schedule_command == "show":
        with sessions() as session:
            stored = service.get(session, args.pupil_ref, version=args.version)
            if stored is None:
                sys.stderr.write(f"kitkeeper-controller: no schedule for {args.pupil_ref}\n")
                return EXIT_REFUSED
            kit_ids = service.kits_for_pupil(session, args.pupil_ref)
        if args.json:
            out = {
                **service.summary(stored),
                "kit_ids": kit_ids,
                "schedule": stored.schedule.model_dump(mode="json"),
            }
            sys.stdout.write(json.dumps(out, default=str, ensure_ascii=False, indent=2) + "\n")
        else:
            sys.stdout.write(service.describe(stored, kit_ids=kit_ids, now=now))
        return EXIT_OK
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {args.file}: {exc}") from exc
    fmt = args.file_format or (
        "ics" if args.file.suffix.lower() in (".ics", ".ical") else service.detect_format(text)
    )
    try:
        cipher = people.cipher(settings)
    except ConfigError:
        cipher = None
    with sessions() as session:
        try:
            change = service.import_schedule(
                session,
                pupil_ref=args.pupil_ref,
                text=text,
                fmt=fmt,
                actor=_actor(),
                now=now,
                timezone=args.timezone,
                approve_now=args.approve,
                approved_by=args.approved_by,
                iin_matches=service.iin_matcher(session, args.pupil_ref, cipher),
            )
        except ScheduleImportError as exc:
            session.rollback()
            for error in exc.errors:
                where = f"line {error.row}" if error.row else fmt
                column = f", {error.column}" if error.column else ""
                sys.stderr.write(f"{args.file}: {where}{column}: {error.reason}\n")
            sys.stderr.write("nothing imported\n")
            return EXIT_REFUSED
        except ScheduleError as exc:
            session.rollback()
            sys.stderr.write(f"kitkeeper-controller: {exc}\n")
            return EXIT_REFUSED
        session.commit()
        summary = service.summary(change.stored)
    sys.stdout.write(
        f"schedule of {args.pupil_ref} imported as version {summary['version']} "
        f"({summary['status']}): {summary['slots']} weekly lessons, {summary['lessons']} lessons "
        f"from {summary['first_day']} to {summary['last_day']}\n"
    )
    if change.kit_ids:
        sys.stdout.write(
            f"  kits {', '.join(change.kit_ids)} get it at the controller's next schedule pass\n"
        )
    return EXIT_OK


# --- end of schedules ----------------------------------------------------------------------------


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _user(args: argparse.Namespace) -> int:
    from controller.trust.staff import create_user  # noqa: PLC0415

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ")
    sessions = _sessions(_settings(args))
    now = datetime.now(UTC)
    with sessions.begin() as session:
        create_user(
            session,
            username=args.username,
            password=password,
            role=args.role,
            now=now,
            actor=_actor(),
        )
    sys.stdout.write(f"user {args.username} ({args.role}) created\n")
    return EXIT_OK


def _kit(args: argparse.Namespace) -> int:
    from controller.trust import enrolment as trust  # noqa: PLC0415
    from controller.trust import pki  # noqa: PLC0415

    settings = _settings(args)
    sessions = _sessions(settings)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        serials = trust.set_lifecycle(
            session, kit_id=args.kit_id, lifecycle=args.state, now=now, actor=_actor()
        )
        # Every change rewrites the CRL and the ACL: marking a kit active again lifts its deny.
        reloaded = trust.publish_revocations(
            session,
            paths=pki.PkiPaths(settings.pki_dir),
            broker_dir=settings.broker_dir,
            now=now,
        )
    sys.stdout.write(f"kit {args.kit_id} marked {args.state}\n")
    if serials:
        sys.stdout.write(f"  revoked certificates: {', '.join(serials)}\n")
    if args.state != "active":
        sys.stdout.write(
            "  broker reloaded its CRL and ACL\n"
            if reloaded
            else f"  the broker was not running (no pid in {settings.broker_dir}); it will "
            "read the new CRL and ACL when it starts\n"
        )
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kitkeeper-controller`."""
    from controller.trust.enrolment import TrustError  # noqa: PLC0415
    from controller.trust.staff import AuthError  # noqa: PLC0415

    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": _serve,
        "db": _db,
        "pki": _pki,
        "broker-config": _broker_config,
        "enroll-token": _enroll_token,
        "kit": _kit,
        "user": _user,
        "keys": _keys,
        "import": _import,
        "schedule": _schedule,  # schedules (controller/schedules)
    }
    try:
        return commands[args.command](args)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            sys.stderr.write(f"kitkeeper-controller: invalid {where}: {err['msg']}\n")
        return EXIT_USAGE
    except ConfigError as exc:
        sys.stderr.write(f"kitkeeper-controller: {exc}\n")
        return EXIT_USAGE
    except (PkiError, TrustError, AuthError) as exc:
        sys.stderr.write(f"kitkeeper-controller: {exc}\n")
        return EXIT_REFUSED
    except ControllerError as exc:
        sys.stderr.write(f"kitkeeper-controller: {exc}\n")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
