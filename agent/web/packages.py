"""Files inside a zip blob (an HTML5 package, an EPUB), looked up by their exact names.

A member is served only when the zip lists that exact name: not a folder, no `..`, no absolute
path, no backslash, within a size cap and a compression ratio a real package has (a bomb is
refused even though the catalogue checked it on upload: the kit trusts no package). Media types
come from a fixed table of extensions, never from the package or the system's guesses.
"""

from __future__ import annotations

import functools
import logging
import posixpath
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final
from urllib.parse import unquote
from xml.etree import ElementTree

_LOGGER = logging.getLogger(__name__)

MAX_MEMBER_BYTES: Final = 1024 * 1024 * 1024
MAX_RATIO: Final = 200
"""Largest uncompressed / compressed size of a member over `RATIO_FLOOR` bytes."""
RATIO_FLOOR: Final = 1024 * 1024
MAX_XML_BYTES: Final = 1024 * 1024
MAX_CHAPTERS: Final = 2000
CHUNK: Final = 64 * 1024

MEDIA_TYPES: Final = {
    "html": "text/html; charset=utf-8",
    "htm": "text/html; charset=utf-8",
    "xhtml": "application/xhtml+xml",
    "js": "text/javascript",
    "mjs": "text/javascript",
    "css": "text/css",
    "json": "application/json",
    "xml": "application/xml",
    "txt": "text/plain; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "ico": "image/x-icon",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "ogv": "video/ogg",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "wasm": "application/wasm",
}
OCTETS: Final = "application/octet-stream"


class MemberRefusedError(Exception):
    """A name the zip does not hold as a file, or a member too large or too compressed."""


_UNREADABLE: Final = (
    KeyError,
    MemberRefusedError,
    zipfile.BadZipFile,
    OSError,
    ElementTree.ParseError,
)


def media_type(name: str) -> str:
    """The media type of a member by its extension (unknown: bytes)."""
    return MEDIA_TYPES.get(name.rpartition(".")[2].lower(), OCTETS) if "." in name else OCTETS


def safe_name(name: str) -> bool:
    """A relative path inside the package, without `..`, backslashes or empty parts."""
    parts = name.split("/")
    return (
        bool(name)
        and not name.startswith("/")
        and "\\" not in name
        and "\x00" not in name
        and all(p not in ("", ".", "..") for p in parts)
    )


def member(blob: Path, name: str) -> zipfile.ZipInfo:
    """The zip's entry for exactly `name` (MemberRefusedError when absent, unsafe, too big)."""
    if not safe_name(name):
        raise MemberRefusedError(f"not a file name inside a package: {name!r}")
    try:
        with zipfile.ZipFile(blob) as archive:
            info = archive.getinfo(name)
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        raise MemberRefusedError(f"no file {name!r} in the package") from exc
    if info.is_dir():
        raise MemberRefusedError(f"{name!r} is a folder")
    if info.file_size > MAX_MEMBER_BYTES:
        raise MemberRefusedError(f"{name!r} is too large ({info.file_size} bytes)")
    ratio_floor = max(info.compress_size, 1) * MAX_RATIO
    if info.file_size > RATIO_FLOOR and info.file_size > ratio_floor:
        raise MemberRefusedError(f"{name!r} expands too much: a zip bomb")
    return info


def read_member(blob: Path, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's bytes in chunks, never more than it declared."""
    left = info.file_size
    with zipfile.ZipFile(blob) as archive, archive.open(info) as handle:
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def _xml(archive: zipfile.ZipFile, name: str) -> ElementTree.Element:
    info = archive.getinfo(name)
    if info.file_size > MAX_XML_BYTES:
        raise MemberRefusedError(f"{name} is too large")
    # Small, from a signed manifest; expat refuses entity expansion attacks by itself.
    return ElementTree.fromstring(archive.read(info))  # noqa: S314


@functools.lru_cache(maxsize=32)
def chapters(blob: Path) -> tuple[str, ...]:
    """An EPUB's reading order: the spine's documents as names inside the zip (() if unreadable)."""
    ns = {
        "c": "urn:oasis:names:tc:opendocument:xmlns:container",
        "opf": "http://www.idpf.org/2007/opf",
    }
    try:
        with zipfile.ZipFile(blob) as archive:
            container = _xml(archive, "META-INF/container.xml")
            rootfile = container.find("c:rootfiles/c:rootfile", ns)
            opf_name = rootfile.get("full-path", "") if rootfile is not None else ""
            opf = _xml(archive, opf_name)
            names = set(archive.namelist())
    except _UNREADABLE as exc:
        _LOGGER.warning("cannot read the e-book %s: %s", blob.name, exc)
        return ()
    base = posixpath.dirname(opf_name)
    items = {
        item.get("id"): item.get("href", "") for item in opf.findall("opf:manifest/opf:item", ns)
    }
    found = []
    for ref in opf.findall("opf:spine/opf:itemref", ns)[:MAX_CHAPTERS]:
        href = items.get(ref.get("idref"))
        if href:
            name = posixpath.normpath(posixpath.join(base, unquote(href.split("#")[0])))
            if name in names and safe_name(name):
                found.append(name)
    return tuple(found)
