"""A CSV file handed out for a spreadsheet: UTF-8 with a byte-order mark, as an attachment."""

from __future__ import annotations

from importlib import resources

from fastapi import Response

from controller.platform.csvfile import BOM


def csv_download(text: str, filename: str) -> Response:
    """The CSV `text` (a byte-order mark first, so Excel reads UTF-8), saved as `filename`."""
    body = text if text.startswith(BOM) else BOM + text
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def package_text(package: str, path: str) -> str:
    """A text file shipped in a package (package data: a template), as UTF-8 text."""
    return (resources.files(package) / path).read_text("utf-8")
