"""A kit's content made in the test: every kind of material, signed, in a real ContentStore.

The lessons and due dates are relative to `now` (one lesson under way now, others in the coming
days), so the page shows the same at any date.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import struct
import wave
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.content.store import ContentStore
from agent.web.server import PupilPage
from protocol.content import (
    BlobRef,
    Caption,
    ContentManifest,
    ManifestLesson,
    ManifestResource,
    ManifestTask,
    sign_manifest,
)
from protocol.models import LessonMode
from tests.support import free_port_pair, wait_for

KIT = "kit-web-1"
ZONE = "Asia/Almaty"


def pdf() -> bytes:
    """A one-page PDF saying hello."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        None,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    stream = b"BT /F1 18 Tf 20 100 Td (Hello, lesson) Tj ET"
    objects[3] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def wav(seconds: float = 1.0) -> bytes:
    """A short tone as 8 kHz mono PCM WAV (every browser plays it)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        frames = int(8000 * seconds)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                for i in range(frames)
            )
        )
    return out.getvalue()


def vtt(text: str) -> bytes:
    """A WebVTT file with one cue."""
    return f"WEBVTT\n\n00:00.000 --> 00:01.000\n{text}\n".encode()


def zipped(files: dict[str, bytes | str]) -> bytes:
    """A zip of these files (EPUB's mimetype first and stored)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            kind = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=kind)
    return out.getvalue()


EVIL_SCRIPT = """
const page = "http://127.0.0.1:{port}";
const tried = [];
function note(what) {{ tried.push(what); document.body.dataset.tried = tried.join(","); }}
fetch(page + "/help", {{method: "POST", mode: "no-cors", body: "message=from-a-package",
  headers: {{"Content-Type": "application/x-www-form-urlencoded"}}}})
  .then(() => note("fetch-sent"), () => note("fetch-blocked"));
try {{ const x = new XMLHttpRequest(); x.open("POST", page + "/help"); x.send("message=xhr");
  note("xhr-tried"); }} catch (e) {{ note("xhr-blocked"); }}
try {{ const f = document.createElement("form"); f.method = "post"; f.action = page + "/help";
  const m = document.createElement("input"); m.name = "message"; m.value = "form";
  f.appendChild(m); document.body.appendChild(f); f.submit(); note("form-tried"); }}
  catch (e) {{ note("form-blocked"); }}
try {{ window.top.location = page + "/help?sent=1"; note("top-tried"); }}
  catch (e) {{ note("top-blocked"); }}
try {{ document.cookie = "lang=en"; note("cookie-set"); }} catch (e) {{ note("cookie-blocked"); }}
document.body.dataset.ran = "1";
"""


def html5(page_port: int) -> bytes:
    """An HTML5 package whose script tries every way to the page's help endpoint."""
    return zipped(
        {
            "index.html": (
                '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fractions'
                '</title><link rel="stylesheet" href="css/style.css"></head><body><main>'
                "<h1>Fractions</h1><p>One half is two quarters.</p></main>"
                '<script src="js/app.js"></script></body></html>'
            ),
            "css/style.css": "body { font-family: sans-serif; }",
            "js/app.js": EVIL_SCRIPT.format(port=page_port),
        }
    )


def epub() -> bytes:
    """A two-chapter EPUB 3."""
    chapter = (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
        'lang="ru" xml:lang="ru"><head><title>{n}</title></head><body><main><h1>Глава {n}'
        "</h1><p>Текст главы {n}.</p></main></body></html>"
    )
    return zipped(
        {
            "mimetype": "application/epub+zip",
            "META-INF/container.xml": (
                '<?xml version="1.0"?><container version="1.0" '
                'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                '<rootfile full-path="OEBPS/book.opf" media-type="application/oebps-package+xml"/>'
                "</rootfiles></container>"
            ),
            "OEBPS/book.opf": (
                '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
                '<manifest><item id="c1" href="text/one.xhtml" media-type="application/xhtml+xml"/>'
                '<item id="c2" href="text/two.xhtml" media-type="application/xhtml+xml"/>'
                '</manifest><spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>'
            ),
            "OEBPS/text/one.xhtml": chapter.format(n=1),
            "OEBPS/text/two.xhtml": chapter.format(n=2),
        }
    )


@dataclass
class Content:
    """The store, the manifest in it and the files by resource id."""

    store: ContentStore
    manifest: ContentManifest
    files: dict[str, bytes]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def resources(page_port: int) -> tuple[list[ManifestResource], dict[str, tuple[bytes, str]]]:
    """One material of each kind and its blobs (bytes, media type) by sha256."""
    captions = {lang: vtt(f"Caption {lang}") for lang in ("kk", "ru", "en")}
    mains = {
        "r-html5": (html5(page_port), "application/zip"),
        "r-pdf": (pdf(), "application/pdf"),
        "r-epub": (epub(), "application/epub+zip"),
        "r-audio": (wav(), "audio/wav"),
        "r-video": (wav(1.5), "audio/wav"),
    }
    kinds = {"r-html5": "html5", "r-pdf": "pdf", "r-epub": "epub", "r-audio": "audio"}
    found = [
        ManifestResource(
            id=rid,
            title=f"Material {rid[2:]}",
            kind=kinds.get(rid, "video"),
            language="ru" if rid == "r-epub" else "kk",
            subject="Mathematics",
            sha256=_sha(data),
            entry="index.html" if rid == "r-html5" else None,
            captions=[Caption(language=k, sha256=_sha(v)) for k, v in captions.items()]
            if rid == "r-video"
            else [],
        )
        for rid, (data, _type) in mains.items()
    ]
    blobs = {_sha(d): (d, t) for d, t in mains.values()}
    blobs.update({_sha(v): (v, "text/vtt") for v in captions.values()})
    return found, blobs


def manifest(now: datetime, page_port: int, version: int = 1) -> tuple[ContentManifest, dict]:
    """A fortnight's manifest around `now` with every kind of material; its blobs."""
    found, blobs = resources(page_port)
    midnight = now.astimezone(ZoneInfo(ZONE)).replace(hour=0, minute=0, second=0, microsecond=0)
    under_way = max(now.replace(microsecond=0) - timedelta(minutes=10), midnight)  # today there
    lessons = [
        ManifestLesson(
            start=under_way,
            end=under_way + timedelta(minutes=40),
            subject="Mathematics",
            webinar_url="https://webinar.example.kz/room/1",
        ),
        ManifestLesson(
            start=under_way + timedelta(days=1),
            end=under_way + timedelta(days=1, minutes=40),
            subject="Reading",
            mode=LessonMode.HOME_VISIT,
        ),
        ManifestLesson(
            start=under_way + timedelta(days=2),
            end=under_way + timedelta(days=2, minutes=40),
            subject="Music",
            webinar_url="javascript:alert(1)",
        ),
    ]
    tasks = [
        ManifestTask(
            id="t-fractions",
            type="homework",
            text="Read the lesson.\nSolve the exercises.",
            subject="Mathematics",
            lesson_start=under_way,
            due_at=under_way + timedelta(days=1),
            resources=["r-html5", "r-pdf"],
        ),
        ManifestTask(
            id="t-book",
            type="classwork",
            difficulty="basic",
            subject="Reading",
            lesson_start=under_way + timedelta(days=1),
            resources=["r-epub"],
        ),
        ManifestTask(
            id="t-song",
            type="independent",
            difficulty="advanced",
            subject="Music",
            lesson_start=under_way + timedelta(days=2),
            due_at=under_way + timedelta(days=3),
            resources=["r-audio", "r-video"],
        ),
    ]
    made = ContentManifest(
        kit_id=KIT,
        version=version,
        issued_at=now - timedelta(hours=1),
        expires_at=now + timedelta(days=30),
        language="kk",
        timezone=ZONE,
        lessons=lessons,
        tasks=tasks,
        resources=found,
        blobs=[BlobRef(sha256=s, size=len(d), media_type=t) for s, (d, t) in blobs.items()],
    )
    return made, blobs


def filled_store(state_dir: Path, now: datetime, page_port: int) -> Content:
    """A store holding a signed manifest and every blob it names, switched to it."""
    store = ContentStore(state_dir)
    made, blobs = manifest(now, page_port)
    for sha, (data, _type) in blobs.items():
        part = store.partial_path(sha)
        part.write_bytes(data)
        store.adopt(sha, part)
    store.switch(sign_manifest(made, Ed25519PrivateKey.generate()))
    by_id = {r.id: blobs[r.sha256][0] for r in made.resources}
    return Content(store, made, by_id)


@contextlib.contextmanager
def serving(state_dir: Path, now: datetime, **page: Any) -> Iterator[tuple[PupilPage, Content]]:
    """The pupil's page (in this process: threads, no network beyond 127.0.0.1) over a store
    filled for it."""
    port = free_port_pair()
    content = filled_store(state_dir, now, port)
    server = PupilPage(state_dir=state_dir, port=port, store=content.store, **page)
    assert server.start()
    wait_for(server.started, 10, "the pupil's page to listen")
    try:
        yield server, content
    finally:
        server.stop()
