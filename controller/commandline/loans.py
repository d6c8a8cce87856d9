"""`keys generate|rotate` and `import`: the keys of personal data, and CSV imports."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.commandline.common import EXIT_OK, EXIT_REFUSED, actor, sessions_of, settings_of
from controller.errors import ConfigError
from controller.loans import people, service
from controller.loans.errors import ImportRefusedError, UnreadableFileError
from controller.platform.crypto import generate_key


def keys(args: argparse.Namespace) -> int:
    """Print a new key, or re-encrypt all personal data under the newest one (audited)."""
    if args.keys_command == "generate":
        sys.stdout.write(generate_key() + "\n")
        return EXIT_OK
    settings = settings_of(args)
    cipher = people.cipher(settings)
    now = datetime.now(UTC)
    with sessions_of(settings).begin() as session:
        count = people.rotate(
            session, cipher=cipher, keys=len(settings.pii_keys), actor=actor(), now=now
        )
    sys.stdout.write(
        f"{count} people re-encrypted under the newest key; the older keys can now be removed "
        "from KITKEEPER_PII_KEYS\n"
    )
    return EXIT_OK


def import_csv(args: argparse.Namespace) -> int:
    """Import kits, components, pupils or guardians as the API does; each bad row on stderr."""
    settings = settings_of(args)
    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc}") from exc
    with sessions_of(settings)() as session:
        try:
            report = service.import_file(
                session,
                kind=args.kind,
                raw=raw,
                partial=args.partial,
                update=args.update,
                settings=settings,
                actor=actor(),
                now=datetime.now(UTC),
            )
        except UnreadableFileError as exc:  # the decoding error says where
            raise ConfigError(f"cannot read {args.file}: {exc.__cause__}") from exc
        except ImportRefusedError as exc:
            _row_errors(args.file, exc.report["errors"])
            sys.stderr.write("nothing imported (use --partial to import the good rows)\n")
            return EXIT_REFUSED
    _row_errors(args.file, report["errors"])
    outcomes = [row["outcome"] for row in report.get("rows", [])]
    counts = ", ".join(f"{outcomes.count(o)} {o}" for o in ("created", "updated", "unchanged"))
    sys.stdout.write(f"{report['imported']} {args.kind} imported ({counts})\n")
    return EXIT_OK


def _row_errors(file: Path, errors: list[dict[str, Any]]) -> None:
    """Each refused row of an import, with its line and column, on standard error."""
    for error in errors:
        where = f"line {error['row']}" if error["row"] else "row"
        column = f", {error['column']}" if error["column"] else ""
        sys.stderr.write(f"{file}: {where}{column}: {error['reason']}\n")
