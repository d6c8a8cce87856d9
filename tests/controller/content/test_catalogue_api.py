"""The content catalogue through the API of a running controller: upload, search and browse in
Kazakh and Russian, facets, edit, archive, roles, and refusals that store nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.platform.audit_table import AuditEntry
from tests.controller.content.catalogue_files import OGG, PDF, VTT, bomb, epub, html5, zipped
from tests.support import Controller, migrated, start_broker

pytestmark = pytest.mark.processes
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    """One controller (and broker) for the module, its blobs under its own folder."""
    tmp = tmp_path_factory.mktemp("catalogue")
    broker = start_broker(tmp)
    limits = {
        "KITKEEPER_CONTENT_DIR": str(tmp / "content"),
        "KITKEEPER_CONTENT_MAX_UPLOAD_BYTES": str(2 * MiB),
    }
    controller = Controller(tmp, broker, **limits)
    try:
        yield controller.start()
    finally:
        controller.stop()
        broker.stop()


@pytest.fixture(scope="module")
def client(served: Controller) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, verify=served.context, timeout=30) as http:
        yield http


def headers(served: Controller, role: str = "teacher", lang: str | None = None) -> dict[str, str]:
    out = {"Authorization": f"Bearer {served.tokens[role]}"}
    return out | ({"Accept-Language": lang} if lang else {})


def upload(
    served: Controller,
    client: httpx.Client,
    data: bytes,
    *,
    role: str = "teacher",
    captions: dict[str, bytes] | None = None,
    name: str = "file.bin",
    headers_lang: str | None = None,
    **meta: Any,
) -> httpx.Response:
    fields = {"title": "Сабақ", "subject": "Математика", "grade": "5", "language": "kk"}
    fields |= {k: str(v) for k, v in meta.items()}
    files = {"file": (name, data, "application/octet-stream")}
    files |= {
        f"captions_{lang}": (f"{lang}.vtt", vtt, "text/vtt")
        for lang, vtt in (captions or {}).items()
    }
    sent = headers(served, role, headers_lang)
    return client.post("/api/v1/content", data=fields, files=files, headers=sent)


def blob_files(served: Controller) -> list[Path]:
    root = Path(served.env["KITKEEPER_CONTENT_DIR"]) / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_uploads_are_stored_once_and_found_in_kazakh_and_russian(
    served: Controller, client: httpx.Client
) -> None:
    kazakh = {"title": "Зат есім", "author": "Ахмет Байтұрсынұлы", "provider": "Білімлэнд",
              "keywords": "грамматика, сөз таптары"}  # fmt: skip
    first = upload(served, client, PDF, kind="pdf", name="x.pdf", **kazakh)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["media_type"] == "application/pdf"
    assert body["created_by"] == "teacher"
    russian = {"title": "Имя существительное", "language": "ru", "subject": "Русский язык",
               "grade": 6, "description": "Склонение существительных"}  # fmt: skip
    again = upload(served, client, PDF, kind="pdf", **russian)
    assert again.status_code == 201, again.text
    assert again.json()["sha256"] == body["sha256"]
    assert len(blob_files(served)) == 1  # the same bytes in two resources: one file

    def titles(query: str, **filters: Any) -> list[str]:
        params = {"q": query, **filters}
        answer = client.get("/api/v1/content", params=params, headers=headers(served, "technician"))
        assert answer.status_code == 200, answer.text
        return [item["title"] for item in answer.json()["items"]]

    assert titles("ЗАТ") == ["Зат есім"]  # Kazakh, any case
    assert titles("байтұрсынұлы") == ["Зат есім"]  # the author
    assert titles("сөз") == ["Зат есім"]  # a keyword
    assert titles("білімлэнд") == ["Зат есім"]  # the provider
    assert titles("существительн") == ["Имя существительное"]  # Russian, a word's beginning
    assert titles("склонение") == ["Имя существительное"]  # the description
    assert titles("существительное", lang="kk") == []
    assert titles("", grade=6) == ["Имя существительное"]
    assert titles('"*) OR NEAR(') == []  # FTS5 syntax is read as words, not obeyed


def test_facets_count_per_grade_subject_language_kind(
    served: Controller, client: httpx.Client
) -> None:
    assert (
        upload(served, client, html5(), kind="html5", grade=7, title="Бөлшектер").status_code == 201
    )
    answer = client.get("/api/v1/content/facets", headers=headers(served))
    assert answer.status_code == 200
    facets = answer.json()
    kinds = {f["value"]: f["count"] for f in facets["kind"]}
    assert kinds["html5"] >= 1
    assert kinds["pdf"] >= 2
    assert sum(f["count"] for f in facets["grade"]) == facets["total"]
    only = client.get("/api/v1/content/facets", params={"kind": "html5"}, headers=headers(served))
    assert {f["value"] for f in only.json()["kind"]} == {"html5"}


def test_edit_archive_restore_are_audited(served: Controller, client: httpx.Client) -> None:
    created = upload(served, client, epub(), kind="epub", title="Ертегілер").json()
    path = f"/api/v1/content/{created['id']}"
    edited = client.patch(path, json={"title": "Қазақ ертегілері"}, headers=headers(served))
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Қазақ ертегілері"
    found = client.get("/api/v1/content", params={"q": "ертегілері"}, headers=headers(served))
    assert [i["id"] for i in found.json()["items"]] == [created["id"]]
    archived = client.post(f"{path}/archive", headers=headers(served))
    assert archived.status_code == 200
    assert archived.json()["archived_at"] is not None
    found = client.get("/api/v1/content", params={"q": "ертегілері"}, headers=headers(served))
    assert found.json()["total"] == 0
    assert client.post(f"{path}/archive", headers=headers(served)).status_code == 409
    assert client.patch(path, json={"grade": 3}, headers=headers(served)).status_code == 409
    assert client.post(f"{path}/restore", headers=headers(served)).status_code == 200
    database = migrated(served.db)
    with database.sessions() as session:
        actions = [
            e.action
            for e in session.query(AuditEntry)
            .filter_by(entity_id=created["id"])
            .order_by(AuditEntry.id)
        ]
    database.engine.dispose()
    assert actions == ["content.create", "content.update", "content.archive", "content.restore"]


def test_roles(served: Controller, client: httpx.Client) -> None:
    assert upload(served, client, PDF, kind="pdf", role="technician").status_code == 403
    assert client.get("/api/v1/content", headers=headers(served, "technician")).status_code == 200
    assert client.get("/api/v1/content").status_code == 401
    missing = client.get("/api/v1/content/" + "0" * 32, headers=headers(served, lang="kk"))
    assert missing.status_code == 404
    assert "0" * 32 in missing.json()["detail"]


def test_captions_are_stored_with_audio(served: Controller, client: httpx.Client) -> None:
    answer = upload(served, client, OGG, kind="audio", captions={"kk": VTT, "ru": VTT})
    assert answer.status_code == 201, answer.text
    assert [c["language"] for c in answer.json()["captions"]] == ["kk", "ru"]


@pytest.mark.parametrize(
    ("data", "meta", "captions", "status", "reason"),
    [
        (html5(), {"kind": "pdf"}, None, 422, "wrong_type"),
        (zipped([("index.html", b"x"), ("../../etc/cron.d/x", b"x")]), {"kind": "html5"}, None,
         422, "zip_traversal"),
        (bomb(16), {"kind": "html5"}, None, 422, "zip_bomb"),
        (zipped([("page.html", b"x")]), {"kind": "html5"}, None, 422, "no_entry"),
        (OGG, {"kind": "audio"}, {"en": b"1\n00:00:00,000 --> 00:00:01,000\nhi"}, 422,
         "captions_not_webvtt"),
        (PDF, {"kind": "pdf"}, {"kk": VTT}, 422, "captions_kind"),
    ],
)  # fmt: skip
def test_refusals_say_why_and_store_nothing(
    served: Controller,
    client: httpx.Client,
    data: bytes,
    meta: dict[str, str],
    captions: dict[str, bytes] | None,
    status: int,
    reason: str,
) -> None:
    before = blob_files(served)
    total = client.get("/api/v1/content", headers=headers(served)).json()["total"]
    answer = upload(served, client, data + b"\n" if reason == "captions_kind" else data,
                    captions=captions, **meta)  # fmt: skip
    assert answer.status_code == status, answer.text
    assert answer.json()["reason"] == reason
    assert set(answer.json()["messages"]) == {"kk", "ru", "en"}
    assert blob_files(served) == before
    assert client.get("/api/v1/content", headers=headers(served)).json()["total"] == total


def test_a_file_over_the_configured_limit_is_413(served: Controller, client: httpx.Client) -> None:
    answer = upload(served, client, PDF + bytes(2 * MiB), kind="pdf", headers_lang="ru")
    assert answer.status_code == 413, answer.text
    assert answer.json()["reason"] == "too_large"
    assert "байт" in answer.json()["detail"]


def test_bad_metadata_is_a_plain_422(served: Controller, client: httpx.Client) -> None:
    answer = upload(served, client, PDF, kind="pdf", grade=12)
    assert answer.status_code == 422
    assert "grade" in json.dumps(answer.json())
    assert upload(served, client, PDF, kind="film").status_code == 422
    assert upload(served, client, PDF, kind="pdf", language="de").status_code == 422
    nul = upload(served, client, PDF, kind="pdf", title="a\x00b", headers_lang="kk")
    assert nul.status_code == 422
    assert "басқару таңбалары" in json.dumps(nul.json(), ensure_ascii=False)
    search = client.get("/api/v1/content", params={"subject": "a\x00"}, headers=headers(served))
    assert search.status_code == 422
