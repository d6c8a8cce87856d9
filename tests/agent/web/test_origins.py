"""The two origins' rules over HTTP (in-process): hosts, tokens, headers, what a material may be."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from agent.help import REQUESTS_DIR
from agent.web import packages
from tests.agent.web.content import Content, serving


@dataclass
class Site:
    """The page and materials origins of one running server, and its content."""

    page: httpx.Client
    materials: httpx.Client
    content: Content
    state_dir: Path
    port: int

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    state_dir = tmp_path_factory.mktemp("kit")
    with serving(state_dir, datetime.now(UTC)) as (server, content):
        base = "http://127.0.0.1"
        with (
            httpx.Client(base_url=f"{base}:{server.port}") as page,
            httpx.Client(base_url=f"{base}:{server.material_port}") as materials,
        ):
            yield Site(page, materials, content, state_dir, server.port)


def token(client: httpx.Client) -> str:
    found = re.search(r'name="token" value="([^"]+)"', client.get("/help").text)
    assert found
    return found[1]


def asked(state_dir: Path) -> list[Path]:
    return sorted((state_dir / REQUESTS_DIR).glob("help-*.json"))


def test_the_page_answers_only_to_its_own_host_names(site: Site) -> None:
    port = site.port
    assert site.page.get("/").status_code == 200
    assert site.page.get("/", headers={"host": f"localhost:{port}"}).status_code == 200
    for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1", "127.0.0.1:80"):
        assert site.page.get("/", headers={"host": host}).status_code == 421, host


def test_the_page_is_never_framed_and_runs_no_script(site: Site) -> None:
    headers = site.page.get("/").headers
    assert headers["x-frame-options"] == "DENY"
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'none'" in policy
    assert f"frame-src http://127.0.0.1:{site.port + 1}" in policy


def test_help_needs_the_pages_token_and_origin(site: Site) -> None:
    page, before = site.page, asked(site.state_dir)
    good, materials_origin = token(page), f"http://127.0.0.1:{site.port + 1}"
    refused = [
        page.post("/help", data={"message": "no token"}),
        page.post("/help", data={"message": "bad", "token": "x" * len(good)}),
        page.post("/help", data={"token": good}, headers={"origin": "null"}),
        page.post("/help", data={"token": good}, headers={"origin": materials_origin}),
        page.post("/help", content=b"token=" + good.encode() + b"&message=" + b"x" * 20000),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert asked(site.state_dir) == before
    sent = page.post(
        "/help", data={"token": good, "message": "no sound"}, headers={"origin": site.origin}
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/help?sent=1"
    assert len(asked(site.state_dir)) == len(before) + 1
    assert "no sound" in asked(site.state_dir)[-1].read_text()


def test_the_language_is_chosen_kept_and_set_on_the_page(site: Site) -> None:
    page = site.page
    assert '<html lang="kk"' in page.get("/").text  # the manifest's language first
    chosen = page.get("/task/t-fractions?lang=ru")
    assert '<html lang="ru"' in chosen.text
    assert "Домашнее задание" in chosen.text
    assert '<html lang="ru"' in page.get("/").text  # kept in the cookie
    assert '<html lang="en"' in page.get("/?lang=en").text
    assert '<html lang="en"' in page.get("/?lang=xx").text  # unknown: ignored, the cookie's


def test_large_text_toggles_with_the_token_and_goes_back_only_here(site: Site) -> None:
    page, good = site.page, token(site.page)
    answer = page.post("/display", data={"token": good, "what": "large", "next": "/task/t-book"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/task/t-book"
    assert 'class="large"' in page.get("/").text
    away = page.post("/display", data={"token": good, "what": "large", "next": "//evil.example/"})
    assert away.headers["location"] == "/"
    assert 'class="large"' not in page.get("/").text
    assert page.post("/display", data={"what": "contrast"}).status_code == 403


@pytest.mark.parametrize("profile", ["low-vision", "blind"])
def test_low_vision_and_blind_kits_start_with_large_text_and_contrast(
    tmp_path: Path, profile: str
) -> None:
    with serving(tmp_path, datetime.now(UTC), profile=profile) as (server, _content):
        home = httpx.get(f"http://127.0.0.1:{server.port}/")
        assert 'class="large contrast"' in home.text


def test_an_unknown_task_or_material_is_a_page_that_says_so(site: Site) -> None:
    for path in ("/task/nope", "/material/nope", "/nowhere"):
        answer = site.page.get(path)
        assert answer.status_code == 404
        assert '<html lang="' in answer.text


def test_materials_are_sandboxed_and_framed_only_by_the_page(site: Site) -> None:
    sha = next(r.sha256 for r in site.content.manifest.resources if r.id == "r-pdf")
    answer = site.materials.get(f"/blob/{sha}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    policy = answer.headers["content-security-policy"]
    assert policy.startswith("sandbox allow-scripts;")
    assert "allow-same-origin" not in policy
    assert site.origin in policy.split("frame-ancestors")[1]
    wrong_host = {"host": f"127.0.0.1:{site.port}"}
    assert site.materials.get(f"/blob/{sha}", headers=wrong_host).status_code == 421


def test_media_have_range_and_are_readable_by_the_page_only(site: Site) -> None:
    video = next(r for r in site.content.manifest.resources if r.id == "r-video")
    blob = f"/blob/{video.sha256}"
    part = site.materials.get(blob, headers={"range": "bytes=0-99", "origin": site.origin})
    assert part.status_code == 206
    assert len(part.content) == 100
    assert part.headers["access-control-allow-origin"] == site.origin
    other = site.materials.get(blob, headers={"origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    whole = site.materials.get(blob)
    assert whole.content == site.content.files["r-video"]
    assert whole.headers["etag"] == f'"{video.sha256}"'  # content-addressed: the hash is the tag
    assert (
        site.materials.get(blob, headers={"if-none-match": whole.headers["etag"]}).status_code
        == 304
    )
    vtt = site.materials.get(f"/blob/{video.captions[0].sha256}")
    assert vtt.headers["content-type"].startswith("text/vtt")


def test_only_blobs_the_manifest_names_are_served(site: Site) -> None:
    for path in ("/blob/" + "0" * 64, "/blob/not-a-hash", "/blob/..%2Fcontent%2Fcurrent.json"):
        assert site.materials.get(path).status_code == 404, path


def test_a_package_file_is_served_by_its_exact_name_only(site: Site) -> None:
    materials = site.materials
    page = materials.get("/pkg/r-html5/index.html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    script = materials.get("/pkg/r-html5/js/app.js").headers["content-type"]
    assert script.startswith("text/javascript")
    assert materials.get("/pkg/r-epub/OEBPS/text/one.xhtml").status_code == 200
    for path in (
        "/pkg/r-html5/js",
        "/pkg/r-html5/..%2Fr-epub%2Fmimetype",
        "/pkg/r-html5/%2e%2e/%2e%2e/content/current.json",
        "/pkg/r-html5/missing.html",
        "/pkg/r-pdf/anything",
        "/pkg/nope/index.html",
    ):
        assert materials.get(path).status_code == 404, path


def test_a_zip_bomb_member_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.html", b"\0" * (packages.RATIO_FLOOR * 4))
    with pytest.raises(packages.MemberRefusedError, match="bomb"):
        packages.member(bomb, "big.html")


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a//b", "a/./b", "a\\b", "", "a/../../b"])
def test_unsafe_member_names(name: str) -> None:
    assert not packages.safe_name(name)


def test_an_epub_reading_order_comes_from_its_spine(site: Site) -> None:
    store = site.content.store
    epub = next(r for r in site.content.manifest.resources if r.id == "r-epub")
    found = packages.chapters(store.blob_path(epub.sha256))
    assert found == ("OEBPS/text/one.xhtml", "OEBPS/text/two.xhtml")
    broken = store.root / "broken.epub"
    broken.write_bytes(io.BytesIO(b"not a zip").getvalue())
    assert packages.chapters(broken) == ()
