"""`content import DIR --metadata FILE [--partial] [--json]`: a batch of catalogue resources.

Exit codes: 0 every row created; 1 some rows refused (with `--partial` the others are stored,
without it nothing is); 2 bad input (a metadata file that cannot be read, no such folder).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from common.i18n import Lang, catalogue, default_lang
from controller.commandline.common import EXIT_OK, EXIT_USAGE, actor, said, sessions_of, settings_of
from controller.content import imports
from controller.content.blobstore import BlobStore
from controller.content.errors import DOMAIN
from controller.content.schemas import ImportReport

EXIT_REFUSED_ROWS = 1
"""Some rows were refused (the report says which and why)."""


def content(args: argparse.Namespace) -> int:
    """Run a `content` subcommand (today: `import`)."""
    return _import(args)


def _import(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    if args.content_dir is not None:
        settings = settings.model_copy(update={"content_dir": args.content_dir})
    if not args.folder.is_dir():
        sys.stderr.write(f"kitkeeper-controller: {args.folder}: no such folder\n")
        return EXIT_USAGE
    try:
        raw = args.metadata.read_bytes()
        rows = imports.read_rows(raw, name=args.metadata.name)
    except OSError as exc:
        sys.stderr.write(f"kitkeeper-controller: {args.metadata}: {exc.strerror}\n")
        return EXIT_USAGE
    except imports.ImportInputError as exc:
        sys.stderr.write(f"kitkeeper-controller: {args.metadata}: {said(exc)}\n")
        return EXIT_USAGE
    lang = default_lang()
    sessions = sessions_of(settings)
    with sessions() as session:
        report = imports.run(
            session,
            BlobStore(settings.content_dir),
            root=args.folder,
            rows=rows,
            partial=args.partial,
            actor=actor(),
            now=datetime.now(UTC),
            configured=settings.content_max_upload_bytes,
            lang=lang,
        )
    if args.json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(table(report, lang))
    return EXIT_OK if report.refused == 0 else EXIT_REFUSED_ROWS


def table(report: ImportReport, lang: Lang) -> str:
    """The report as a table a person reads: row, outcome, file, id or why; then the counts."""
    texts = catalogue(DOMAIN)
    lines = []
    width = max((len(r.file) for r in report.rows), default=4)
    for row in report.rows:
        outcome = texts.text(f"import.{row.outcome}", lang) if row.outcome != "not_stored" else "-"
        said_row = (
            (row.id or "")
            if row.outcome == "created"
            else f"{row.reason or ''} {row.message or ''}"
        )
        lines.append(f"{row.row:>5}  {outcome:<12} {row.file:<{width}}  {said_row.strip()}")
    summary = texts.text(
        "import.summary",
        lang,
        created=report.created,
        refused=report.refused,
        rows=len(report.rows),
    )
    return "\n".join([*lines, summary]) + "\n"
