"""`schedule show` and `schedule import`: a pupil's individual lesson schedule."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from common.i18n import catalogue, default_lang
from controller.commandline.common import EXIT_OK, EXIT_REFUSED, actor, sessions_of, settings_of
from controller.config import ControllerSettings
from controller.errors import ConfigError
from controller.loans import people
from controller.schedules import service
from controller.schedules.errors import DOMAIN, ScheduleError, ScheduleImportError


def schedule(args: argparse.Namespace) -> int:
    """Show a pupil's schedule, or import one from a file as a new version."""
    settings = settings_of(args)
    if args.schedule_command == "show":
        return _show(args, sessions_of(settings))
    return _import(args, settings)


def _show(args: argparse.Namespace, sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        stored = service.get(session, args.pupil_ref, version=args.version)
        if stored is None:
            said = catalogue(DOMAIN).text(
                "refused.no_schedule", default_lang(), pupil=args.pupil_ref
            )
            sys.stderr.write(f"kitkeeper-controller: {said}\n")
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
        sys.stdout.write(
            service.describe(stored, kit_ids=kit_ids, now=datetime.now(UTC), lang=default_lang())
        )
    return EXIT_OK


def _import(args: argparse.Namespace, settings: ControllerSettings) -> int:
    sessions = sessions_of(settings)
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
        try:  # the service commits the new version (nothing on a refusal)
            change = service.import_schedule(
                session,
                pupil_ref=args.pupil_ref,
                text=text,
                fmt=fmt,
                actor=actor(),
                now=datetime.now(UTC),
                timezone=args.timezone,
                approve_now=args.approve,
                approved_by=args.approved_by,
                iin_matches=service.iin_matcher(session, args.pupil_ref, cipher),
            )
        except ScheduleImportError as exc:
            for error in exc.errors:
                where = f"line {error.row}" if error.row else fmt
                column = f", {error.column}" if error.column else ""
                sys.stderr.write(f"{args.file}: {where}{column}: {error.reason}\n")
            sys.stderr.write("nothing imported\n")
            return EXIT_REFUSED
        except ScheduleError as exc:
            sys.stderr.write(f"kitkeeper-controller: {exc}\n")
            return EXIT_REFUSED
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
