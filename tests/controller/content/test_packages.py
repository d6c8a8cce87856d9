"""What an upload must be: each kind's magic bytes, safe zips, an HTML5 entry page, WebVTT
captions (controller/content/packages.py, pure: files in memory)."""

from __future__ import annotations

import contextlib
import io
import random
import warnings
import zipfile

import pytest

from controller.content import packages
from controller.content.errors import ContentRefusedError, ContentTooLargeError
from protocol.content import ResourceKind
from tests.controller.content.catalogue_files import (
    MP3,
    MP4,
    OGG,
    PAGE,
    PDF,
    VTT,
    WAV,
    WEBM,
    bomb,
    epub,
    html5,
    zipped,
)

GiB = 1024**3
K = ResourceKind


def check(kind: ResourceKind, data: bytes, entry: str | None = None) -> packages.Checked:
    return packages.check(
        io.BytesIO(data), kind=kind, size=len(data), configured=2 * GiB, entry=entry
    )


def refusal(kind: ResourceKind, data: bytes, entry: str | None = None) -> str:
    with pytest.raises(ContentRefusedError) as caught:
        check(kind, data, entry)
    return caught.value.reason


@pytest.mark.parametrize(
    ("kind", "data", "media_type"),
    [
        (K.PDF, PDF, "application/pdf"),
        (K.EPUB, epub(), "application/epub+zip"),
        (K.HTML5, html5(), "application/zip"),
        (K.AUDIO, OGG, "audio/ogg"),
        (K.AUDIO, MP3, "audio/mpeg"),
        (K.AUDIO, WAV, "audio/wav"),
        (K.AUDIO, MP4, "audio/mp4"),
        (K.VIDEO, MP4, "video/mp4"),
        (K.VIDEO, WEBM, "video/webm"),
        (K.VIDEO, OGG, "video/ogg"),
    ],
)
def test_the_media_type_is_read_from_the_bytes(
    kind: ResourceKind, data: bytes, media_type: str
) -> None:
    assert check(kind, data).media_type == media_type


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (K.PDF, html5()),  # a zip named .pdf
        (K.PDF, b"<html>not a pdf</html>" + bytes(50)),
        (K.EPUB, html5()),  # a zip without the EPUB's mimetype
        (K.HTML5, epub()),  # an EPUB is not an HTML5 package
        (K.HTML5, PDF),
        (K.AUDIO, PDF),
        (K.VIDEO, MP3),  # sound only
        (K.VIDEO, WAV),
        (K.AUDIO, b"MZ\x90\x00" + bytes(60)),  # a Windows program
    ],
)
def test_a_file_that_is_not_what_its_kind_says_is_refused(kind: ResourceKind, data: bytes) -> None:
    assert refusal(kind, data) == "wrong_type"


@pytest.mark.parametrize(
    ("entries", "links", "reason"),
    [
        ([("index.html", PAGE), ("../evil.sh", b"x")], (), "zip_traversal"),
        ([("index.html", PAGE), ("a/../../evil", b"x")], (), "zip_traversal"),
        ([("index.html", PAGE), ("/etc/passwd", b"x")], (), "zip_traversal"),
        ([("index.html", PAGE), ("C:/evil.bat", b"x")], (), "zip_traversal"),
        ([("index.html", PAGE), ("a\\..\\evil", b"x")], (), "zip_traversal"),
        ([("index.html", PAGE), ("link", b"/etc/passwd")], ("link",), "zip_link"),
        ([("index.html", PAGE), ("a.js", b"1"), ("a.js", b"2")], (), "zip_duplicate"),
        ([("index.html", PAGE), ("A.JS", b"1"), ("a.js", b"2")], (), "zip_duplicate"),
        ([("page.html", PAGE)], (), "no_entry"),
        ([("a/index.html", PAGE), ("b/x.js", b"1")], (), "no_entry"),
    ],
)
def test_unsafe_or_incomplete_packages_are_refused(
    entries: list[tuple[str, bytes]], links: tuple[str, ...], reason: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of a duplicate name as it writes it
        data = zipped(entries, links=links)
    assert refusal(K.HTML5, data) == reason


def test_a_zip_bomb_is_refused_by_its_ratio() -> None:
    assert refusal(K.HTML5, bomb(8)) == "zip_bomb"


def test_a_package_that_unpacks_past_the_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages, "MAX_RATIO", 10**6)  # the ratio alone would let it pass
    monkeypatch.setattr(packages, "MAX_UNPACKED_BYTES", 4 * 1024 * 1024)
    assert refusal(K.HTML5, bomb(8)) == "zip_bomb"
    text = zipped([("index.html", PAGE), ("book.txt", b"lorem ipsum " * 300_000)])
    monkeypatch.setattr(packages, "MAX_UNPACKED_BYTES", 2 * 1024**3)
    assert check(K.HTML5, text).entry == "index.html"  # 3.6 MB of text: not a bomb


def test_too_many_entries_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages, "MAX_ZIP_ENTRIES", 5)
    data = zipped([("index.html", PAGE), *((f"f{i}.js", b"1") for i in range(5))])
    assert refusal(K.HTML5, data) == "zip_entries"


def test_a_damaged_zip_is_refused() -> None:
    data = html5()
    assert refusal(K.HTML5, data[: len(data) // 2]) == "zip_damaged"


def test_a_nested_zip_is_kept_as_a_file_not_opened() -> None:
    inner = bomb(2)
    data = zipped([("index.html", PAGE), ("inner.zip", inner)], method=zipfile.ZIP_STORED)
    assert check(K.HTML5, data).entry == "index.html"


@pytest.mark.parametrize(
    ("names", "given", "entry"),
    [
        (["index.html", "a.js"], None, "index.html"),
        (["lesson/index.html", "lesson/a.js"], None, "lesson/index.html"),
        (["start.html", "a.js"], "start.html", "start.html"),
        (["index.htm"], None, "index.htm"),
        (["lesson/index.html", "__MACOSX/lesson/._index.html"], None, "lesson/index.html"),
    ],
)
def test_the_entry_page_is_found(names: list[str], given: str | None, entry: str) -> None:
    data = zipped((name, PAGE) for name in names)
    assert check(K.HTML5, data, given).entry == entry


def test_an_epub_whose_mimetype_entry_has_an_extra_field_is_an_epub() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("mimetype")
        info.extra = b"\x55\x54\x05\x00\x01\x00\x00\x00\x00"  # a timestamp field
        archive.writestr(info, b"application/epub+zip")
        archive.writestr("OEBPS/ch1.xhtml", b"<html/>", zipfile.ZIP_DEFLATED)
    assert check(K.EPUB, out.getvalue()).media_type == "application/epub+zip"
    compressed = zipped([("mimetype", b"application/epub+zip"), ("a.xhtml", b"<html/>")])
    assert refusal(K.EPUB, compressed) == "wrong_type"  # OCF: the mimetype entry is stored


def test_a_named_entry_page_must_be_in_the_package() -> None:
    assert refusal(K.HTML5, html5(), "missing.html") == "no_entry"
    assert refusal(K.PDF, PDF, "index.html") == "entry_not_html5"


def test_sizes_are_capped_by_the_kind_and_the_settings() -> None:
    with pytest.raises(ContentTooLargeError):
        packages.check_size(K.PDF, 600 * 1024 * 1024, 2 * GiB)  # over the PDF's own cap
    with pytest.raises(ContentTooLargeError) as caught:
        packages.check_size(K.VIDEO, 3 * GiB, 2 * GiB)  # over the configured cap
    assert caught.value.status == 413
    assert refusal(K.PDF, b"") == "empty"


@pytest.mark.parametrize(
    ("kind", "data", "reason"),
    [
        (K.VIDEO, VTT, None),
        (K.AUDIO, b"\xef\xbb\xbf" + VTT, None),
        (K.AUDIO, b"WEBVTT", None),
        (K.PDF, VTT, "captions_kind"),
        (K.VIDEO, b"1\n00:00:00,000 --> 00:00:02,000\nhi\n", "captions_not_webvtt"),
        (K.VIDEO, b"WEBVTTX\n", "captions_not_webvtt"),
        (K.VIDEO, b"WEBVTT\n\xff\xfe", "captions_not_utf8"),
        (K.VIDEO, b"WEBVTT\n" + b"a" * (1024 * 1024), "captions_too_large"),
    ],
)
def test_captions_must_be_webvtt_for_sound(
    kind: ResourceKind, data: bytes, reason: str | None
) -> None:
    if reason is None:
        packages.check_captions(kind, data)
        return
    with pytest.raises(ContentRefusedError) as caught:
        packages.check_captions(kind, data)
    assert caught.value.reason == reason


def test_every_refusal_says_itself_in_each_language() -> None:
    with pytest.raises(ContentRefusedError) as caught:
        check(K.HTML5, zipped([("index.html", PAGE), ("../x", b"1")]))
    messages = caught.value.messages()
    assert messages is not None
    assert "../x" in messages["kk"]
    assert "../x" in messages["ru"]
    assert messages["kk"] != messages["ru"] != messages["en"]
    body = caught.value.body_in("ru")
    assert body["reason"] == "zip_traversal"
    assert body["detail"] == messages["ru"]


def test_a_damaged_package_is_refused_never_an_error() -> None:
    """Bytes of real packages changed at random: each is accepted or refused with a reason."""
    rng = random.Random(14)
    packed = [html5(), epub(), zipped([("index.html", PAGE * 300)], method=zipfile.ZIP_BZIP2)]
    for _ in range(600):
        data = bytearray(rng.choice(packed))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        kind = K.EPUB if data[30:38] == b"mimetype" else K.HTML5
        with contextlib.suppress(ContentRefusedError):
            check(kind, bytes(data))
