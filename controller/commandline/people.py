"""`pupils promote`: the new school year, every pupil at school a grade up, as the API does it."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from pydantic import ValidationError

from controller.commandline.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    actor,
    said,
    sessions_of,
    settings_of,
)
from controller.loans import people_service
from controller.loans.errors import PeopleError
from controller.loans.people_schemas import PromoteRequest


def pupils(args: argparse.Namespace) -> int:
    """Promote the pupils (of `--school`), or with `--dry-run` only say what would change."""
    settings = settings_of(args)
    try:
        request = PromoteRequest(school=args.school, dry_run=args.dry_run, force=args.force)
    except ValidationError:
        sys.stderr.write("kitkeeper-controller: --school: 2 to 255 characters\n")
        return EXIT_USAGE
    with sessions_of(settings)() as session:
        try:
            report = people_service.promote(
                session,
                request=request,
                actor=actor(),
                now=datetime.now(UTC),
                zone=settings.school_zone,
            )
        except PeopleError as exc:
            sys.stderr.write(f"kitkeeper-controller: {said(exc)}\n")
            return EXIT_REFUSED
    for line in report["pupils"]:
        note = f"  ({line['note']})" if line.get("note") else ""
        sys.stdout.write(f"{line['ref']}\t{line['from_grade']} -> {line['to_grade']}{note}\n")
    done = "would be" if args.dry_run else "were"
    sys.stdout.write(
        f"school year {report['school_year']}: {report['promoted']} pupils {done} promoted, "
        f"{report['graduated']} graduated{' (dry run: nothing changed)' if args.dry_run else ''}\n"
    )
    return EXIT_OK
