"""What an uploaded file must be before the catalogue keeps it (pure: file objects in, no disk).

The real type is read from the file's first bytes (its magic), never from its name or the type
the browser declared, and must fit the resource's kind. Zips (HTML5 packages and EPUBs) are read
from their central directory and then decompressed once, counting, without writing anything: no
absolute names or `..`, no links, no duplicate names, no encrypted entries, at most
`MAX_ZIP_ENTRIES` entries, `MAX_UNPACKED_BYTES` unpacked and `MAX_RATIO` times their packed size
(bombs); a zip inside is kept as a file, never opened. An HTML5 package must have its entry page.
Captions are WebVTT in UTF-8, for audio and video only. Every refusal is a `ContentRefusedError`
with a reason code (`ContentTooLargeError`, 413, for sizes).
"""

from __future__ import annotations

import lzma
import posixpath
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Final

from common.i18n import catalogue
from controller.content.errors import DOMAIN, ContentRefusedError, ContentTooLargeError
from protocol.content import ResourceKind

MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB
KIND_MAX_BYTES: Final[Mapping[ResourceKind, int]] = {
    ResourceKind.PDF: 512 * MiB,
    ResourceKind.EPUB: 512 * MiB,
    ResourceKind.HTML5: 1 * GiB,
    ResourceKind.AUDIO: 1 * GiB,
    ResourceKind.VIDEO: 4 * GiB,
}
"""Each kind's own cap; the settings' `content_max_upload_bytes` caps them all."""
MAX_CAPTIONS_BYTES: Final = 1 * MiB
MAX_REQUEST: Final = max(KIND_MAX_BYTES.values()) + 3 * MAX_CAPTIONS_BYTES + 1 * MiB
"""The largest upload request the API reads at all (the file, captions, form fields); the
settings' smaller limit is applied to the file as it is checked."""
MAX_ZIP_ENTRIES: Final = 10_000
MAX_UNPACKED_BYTES: Final = 2 * GiB
MAX_RATIO: Final = 100
"""Unpacked bytes per packed byte a zip may reach (text compresses ~10x; bombs ~1000x)."""
_RATIO_FLOOR: Final = 1 * MiB
"""A zip that unpacks to less than this is never a bomb, whatever its ratio."""
_READ: Final = 1 * MiB
HEAD_BYTES: Final = 512
"""The first bytes read to tell a file's type."""
EPUB_MIMETYPE: Final = b"application/epub+zip"
ENTRY_PAGES: Final = ("index.html", "index.htm")

AUDIO_TYPES: Final = {
    "ogg": "audio/ogg",
    "webm": "audio/webm",
    "mp4": "audio/mp4",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
}
VIDEO_TYPES: Final = {"ogg": "video/ogg", "webm": "video/webm", "mp4": "video/mp4"}


def _mp3(head: bytes) -> bool:
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


_MAGIC: Final[tuple[tuple[str, Callable[[bytes], bool]], ...]] = (
    ("pdf", lambda h: h.startswith(b"%PDF-")),
    ("zip", lambda h: h.startswith((b"PK\x03\x04", b"PK\x05\x06"))),
    ("ogg", lambda h: h.startswith(b"OggS")),
    ("webm", lambda h: h.startswith(b"\x1a\x45\xdf\xa3")),
    ("mp4", lambda h: h[4:8] == b"ftyp"),
    ("wav", lambda h: h.startswith(b"RIFF") and h[8:12] == b"WAVE"),
    ("mp3", _mp3),
)
"""Each container and how its first bytes look (checked in this order)."""


def sniff(head: bytes) -> str | None:
    """The container a file's first bytes (at least 64) say it is: `pdf`, `zip`, `ogg`, `webm`,
    `mp4`, `mp3`, `wav`, or None when nothing known."""
    return next((name for name, looks in _MAGIC if looks(head)), None)


def _is_epub(head: bytes) -> bool:
    """An EPUB's zip starts with its `mimetype` entry, stored, holding `application/epub+zip`
    (OCF); read from the first local header (name and extra lengths at 26 and 28)."""
    if len(head) < 30 or head[8:10] != b"\x00\x00":  # not stored (compressed)
        return False
    name_length = int.from_bytes(head[26:28], "little")
    extra_length = int.from_bytes(head[28:30], "little")
    start = 30 + name_length + extra_length
    return (
        head[30 : 30 + name_length] == b"mimetype"
        and head[start : start + len(EPUB_MIMETYPE)] == EPUB_MIMETYPE
    )


def media_type(kind: ResourceKind, head: bytes) -> str:
    """The media type a file of `kind` is stored with, read from its first bytes; refused when
    the bytes are not what the kind says (`wrong_type`)."""
    found = sniff(head)
    media: str | None = None
    if kind is ResourceKind.PDF and found == "pdf":
        media = "application/pdf"
    elif kind is ResourceKind.EPUB and found == "zip" and _is_epub(head):
        media = "application/epub+zip"
    elif kind is ResourceKind.HTML5 and found == "zip" and not _is_epub(head):
        media = "application/zip"
    elif kind is ResourceKind.AUDIO and found is not None:
        media = AUDIO_TYPES.get(found)
    elif kind is ResourceKind.VIDEO and found is not None:
        media = VIDEO_TYPES.get(found)
    if media is None:
        unknown = catalogue(DOMAIN).texts("refused.unknown_type")
        raise ContentRefusedError("wrong_type", kind=kind.value, found=found or unknown)
    return media


def max_bytes(kind: ResourceKind, configured: int) -> int:
    """The largest file of `kind` accepted: its own cap or the configured one, the smaller."""
    return min(KIND_MAX_BYTES[kind], configured)


def check_size(kind: ResourceKind, size: int, configured: int) -> None:
    """Refuse (413, `too_large`) a file over its kind's limit, or an empty one (`empty`)."""
    limit = max_bytes(kind, configured)
    if size > limit:
        raise ContentTooLargeError("too_large", size=size, limit=limit)
    if size == 0:
        raise ContentRefusedError("empty")


@dataclass(frozen=True, slots=True)
class Checked:
    """What a checked file is: its media type and, for an HTML5 package, its entry page."""

    media_type: str
    entry: str | None = None


def check(
    file: IO[bytes], *, kind: ResourceKind, size: int, configured: int, entry: str | None = None
) -> Checked:
    """Check a resource's main file (seekable, `size` bytes) against its kind; refused with a
    reason otherwise. The file is left at its start."""
    check_size(kind, size, configured)
    file.seek(0)
    head = file.read(HEAD_BYTES)
    file.seek(0)
    media = media_type(kind, head)
    if entry is not None and kind is not ResourceKind.HTML5:
        raise ContentRefusedError("entry_not_html5")
    if kind in (ResourceKind.HTML5, ResourceKind.EPUB):
        names = check_zip(file)
        file.seek(0)
        if kind is ResourceKind.HTML5:
            return Checked(media, entry_page(names, entry))
    return Checked(media)


def _unsafe_name(name: str) -> bool:
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return True
    if re.match(r"^[A-Za-z]:", name):
        return True
    return any(part == ".." for part in name.split("/"))


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def _check_entries(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ContentRefusedError("zip_entries", limit=MAX_ZIP_ENTRIES)
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if _unsafe_name(name):
            raise ContentRefusedError("zip_traversal", name=name[:200])
        if _is_link(info):
            raise ContentRefusedError("zip_link", name=name[:200])
        if info.flag_bits & 0x1:
            raise ContentRefusedError("zip_encrypted", name=name[:200])
        normal = posixpath.normpath(name).casefold()
        if normal in seen:
            raise ContentRefusedError("zip_duplicate", name=name[:200])
        seen.add(normal)
    declared = sum(i.file_size for i in infos)
    if declared > MAX_UNPACKED_BYTES:
        raise ContentRefusedError("zip_bomb", limit=MAX_UNPACKED_BYTES)


def _unpack_counting(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Decompress every entry once, counting (never kept): headers may lie about sizes."""
    packed = sum(i.compress_size for i in infos)
    unpacked = 0
    for info in infos:
        if info.is_dir():
            continue
        with archive.open(info) as member:
            while block := member.read(_READ):
                unpacked += len(block)
                if unpacked > MAX_UNPACKED_BYTES or (
                    unpacked > _RATIO_FLOOR and unpacked > MAX_RATIO * max(packed, 1)
                ):
                    raise ContentRefusedError("zip_bomb", limit=MAX_UNPACKED_BYTES)


_DAMAGED: Final = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,  # a compression method zipfile does not have
    EOFError,
    zlib.error,
    lzma.LZMAError,
    struct.error,
    ValueError,  # offsets that point before the file's start
    OSError,  # bz2's damaged stream
    RuntimeError,
)
"""What reading a damaged zip raises (found by corrupting zips at random)."""


def check_zip(file: IO[bytes]) -> set[str]:
    """Check a zip's entries and unpack it once, counting; returns the names of its files."""
    try:
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
            _check_entries(infos)
            _unpack_counting(archive, infos)
    except _DAMAGED as exc:
        raise ContentRefusedError("zip_damaged") from exc
    return {i.filename for i in infos if not i.is_dir()}


def entry_page(names: set[str], entry: str | None) -> str:
    """An HTML5 package's entry page: `entry` if given (it must be in the zip), else index.html
    at the top or in the package's single top folder; refused (`no_entry`) otherwise."""
    if entry is not None:
        if entry not in names or not entry.lower().endswith((".html", ".htm")):
            raise ContentRefusedError("no_entry", entry=entry[:200])
        return entry
    for page in ENTRY_PAGES:
        if page in names:
            return page
    tops = {name.split("/", 1)[0] for name in names} - {"__MACOSX"}  # macOS's resource forks
    if len(tops) == 1:
        (top,) = tops
        for page in ENTRY_PAGES:
            if f"{top}/{page}" in names:
                return f"{top}/{page}"
    raise ContentRefusedError("no_entry", entry="index.html")


def check_captions(kind: ResourceKind, data: bytes) -> None:
    """Refuse captions that are not WebVTT in UTF-8, too large, or for a kind without sound."""
    if kind not in (ResourceKind.AUDIO, ResourceKind.VIDEO):
        raise ContentRefusedError("captions_kind", kind=kind.value)
    if len(data) > MAX_CAPTIONS_BYTES:
        raise ContentTooLargeError("captions_too_large", limit=MAX_CAPTIONS_BYTES)
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ContentRefusedError("captions_not_utf8") from exc
    if not re.match(r"WEBVTT(?:[ \t]|\r?\n|\r|$)", text):
        raise ContentRefusedError("captions_not_webvtt")
