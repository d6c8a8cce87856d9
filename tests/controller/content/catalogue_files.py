"""Small files of every kind the catalogue takes or refuses, built in memory for its tests."""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Iterable

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
OGG = b"OggS\x00\x02" + bytes(58) + b"audio data"
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(40)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(60)
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(60)
WEBM = b"\x1a\x45\xdf\xa3" + bytes(60)
VTT = "WEBVTT\n\n00:00.000 --> 00:02.000\nСәлем, балалар!\n".encode()
PAGE = b"<!doctype html><title>t</title><p>hi</p>"


def zipped(
    entries: Iterable[tuple[str, bytes]],
    *,
    links: Iterable[str] = (),
    method: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """A zip of (name, bytes) entries, in order; names in `links` stored as symbolic links."""
    out = io.BytesIO()
    link_names = set(links)
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            if name in link_names:
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
    return out.getvalue()


def html5(entry: str = "index.html", extra: Iterable[tuple[str, bytes]] = ()) -> bytes:
    """An HTML5 package with its entry page and a script."""
    return zipped([(entry, PAGE), ("app.js", b"console.log(1)"), *extra])


def epub() -> bytes:
    """A minimal EPUB: `mimetype` first and stored, then its container."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", b"application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", b"<container/>", zipfile.ZIP_DEFLATED)
        archive.writestr("OEBPS/ch1.xhtml", b"<html/>", zipfile.ZIP_DEFLATED)
    return out.getvalue()


def bomb(megabytes: int = 64) -> bytes:
    """A zip whose one entry unpacks to `megabytes` MiB of zeros (about 1000 times its size)."""
    return zipped([("index.html", PAGE), ("zeros.bin", bytes(megabytes * 1024 * 1024))])
