"""The pupil's page in Debian's Chromium: accessible, keyboard-only, offline, materials sandboxed.

One browser and one page server for the module (the server runs in this process over a content
store filled with a signed manifest and its blobs; no controller, no broker, nothing outside
127.0.0.1). axe-core checks every page in each language, plain and with large text and high
contrast; a keyboard walk reaches every task and sends help; an HTML5 package whose script tries
every way to the help endpoint sends nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.base import AxeResults
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from agent.help import REQUESTS_DIR
from common.i18n import LANGS, catalogue
from tests.agent.web.content import Content, serving

pytestmark = pytest.mark.processes  # the browser

PAGES = (
    "/",
    "/task/t-fractions",
    "/task/t-book",
    "/material/r-html5",
    "/material/r-pdf",
    "/material/r-epub",
    "/material/r-audio",
    "/material/r-video",
    "/help",
    "/help?sent=1",
    "/nowhere",
)


@dataclass
class Site:
    """The running page, its content and the browser."""

    port: int
    content: Content
    state_dir: Path
    browser: Browser
    outside: list[str] = field(default_factory=list)
    """What a page tried to fetch beyond 127.0.0.1 (nothing: the page needs no internet)."""

    @property
    def origin(self) -> str:
        """The page's origin."""
        return f"http://127.0.0.1:{self.port}"

    def context(self, **cookies: str) -> BrowserContext:
        """A fresh browser context that lets nothing leave 127.0.0.1 (the network is cut)."""
        context = self.browser.new_context()
        jar = [{"name": k, "value": v, "url": self.origin} for k, v in cookies.items()]
        context.add_cookies(jar)  # type: ignore[arg-type]
        context.route(re.compile(r"^(?:https?|wss?|ftp)://(?!127\.0\.0\.1:)"), self._cut)
        return context

    def _cut(self, route: Route) -> None:
        self.outside.append(route.request.url)
        route.abort("internetdisconnected")

    def requests(self) -> list[Path]:
        """The help requests waiting for the agent."""
        return sorted((self.state_dir / REQUESTS_DIR).glob("help-*.json"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    state_dir = tmp_path_factory.mktemp("kit")
    with (
        serving(state_dir, datetime.now(UTC)) as (server, content),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield Site(server.port, content, state_dir, browser)
        finally:
            browser.close()


AXE_RUN = "axe.run(document, {resultTypes: ['violations'], iframes: false})"
"""The page's own markup (a material in its frame is the teacher's, not the page's: the frame
itself, its title, is checked); axe is loaded before each page (init script), which saves
sending its 500 KB with every run."""


def _violations(page: Page) -> list[dict[str, Any]]:
    result = AxeResults(page.evaluate(AXE_RUN))
    return [
        {"rule": v["id"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result.response["violations"]
    ]


@pytest.mark.parametrize("display", ["plain", "large-contrast"])
@pytest.mark.parametrize("lang", LANGS)
def test_axe_finds_no_violation_on_any_page(site: Site, lang: str, display: str) -> None:
    on = "1" if display == "large-contrast" else "0"
    context = site.context(lang=lang, large=on, contrast=on)
    context.add_init_script(Axe().axe_script)
    page = context.new_page()
    found = {}
    for path in PAGES:
        page.goto(site.origin + path)
        assert page.locator("html").get_attribute("lang") == lang
        if display == "large-contrast":
            assert page.locator("html").get_attribute("class") == "large contrast"
        found[path] = _violations(page)
    context.close()
    assert {path: v for path, v in found.items() if v} == {}


def test_the_keyboard_alone_reaches_every_task_and_asks_for_help(site: Site) -> None:
    context = site.context(lang="en")
    page = context.new_page()
    page.goto(site.origin + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    reached: list[str] = []
    for _ in range(100):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "(() => { const e = document.activeElement;"
            " return e.id || e.getAttribute('href') || e.textContent.trim(); })()"
        )
        reached.append(focused)
        if focused == "help-message":
            break
    tasks = [f"/task/{t.id}" for t in site.content.manifest.tasks]
    assert [t for t in tasks if t not in reached] == []
    assert "help-message" in reached
    before = site.requests()
    page.keyboard.type("The camera does not work")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/help?sent=1")
    assert catalogue("page").text("help.sent", "en") in page.locator("[role=status]").inner_text()
    after = site.requests()
    assert len(after) == len(before) + 1
    assert "The camera does not work" in after[-1].read_text()
    context.close()


def test_a_materials_script_cannot_reach_the_help_endpoint(site: Site) -> None:
    before = site.requests()
    context = site.context(lang="en")
    page = context.new_page()
    page.goto(site.origin + "/material/r-html5")
    frame = page.frame_locator("iframe.material")
    frame.locator("body[data-ran='1']").wait_for()
    tried = frame.locator("body[data-tried*='fetch-']")
    tried.wait_for()
    attempts = set((tried.get_attribute("data-tried") or "").split(","))
    assert {"fetch-blocked", "top-blocked", "cookie-blocked"} <= attempts
    page.wait_for_timeout(300)  # a form or a request on its way would land by now
    assert page.url == site.origin + "/material/r-html5"
    assert site.requests() == before
    context.close()


def _media_state(page: Page, selector: str) -> list[Any]:
    return page.evaluate(
        """async (selector) => {
            const media = document.querySelector(selector);
            for (let i = 0; i < 50 && media.readyState < 1 && !media.error; i++)
                await new Promise(r => setTimeout(r, 100));
            const tracks = [...media.textTracks];
            tracks.forEach(t => { t.mode = "showing"; });
            for (let i = 0; i < 50 && tracks.some(t => !t.cues || !t.cues.length); i++)
                await new Promise(r => setTimeout(r, 100));
            return [media.readyState, media.error && media.error.code,
                    tracks.map(t => t.language + ":" + (t.cues ? t.cues.length : 0))];
        }""",
        selector,
    )


def test_every_material_opens_with_the_network_cut(site: Site) -> None:
    context = site.context(lang="ru")
    page = context.new_page()
    page.goto(site.origin + "/material/r-html5")
    assert page.frame_locator("iframe.material").locator("h1").inner_text() == "Fractions"
    page.goto(site.origin + "/material/r-epub")
    assert page.frame_locator("iframe.material").locator("h1").inner_text() == "Глава 1"
    page.get_by_role("link", name="Глава 2").click()
    assert page.frame_locator("iframe.material").locator("h1").inner_text() == "Глава 2"
    with page.expect_response(re.compile(r"/blob/[0-9a-f]{64}$")) as pdf:
        page.goto(site.origin + "/material/r-pdf")
    assert pdf.value.status == 200
    assert pdf.value.headers["content-type"] == "application/pdf"
    page.goto(site.origin + "/material/r-audio")
    ready, error, _tracks = _media_state(page, "audio")
    assert (ready >= 1, error) == (True, None)
    page.goto(site.origin + "/material/r-video")
    ready, error, tracks = _media_state(page, "video")
    assert (ready >= 1, error) == (True, None)
    assert sorted(tracks) == ["en:1", "kk:1", "ru:1"]
    epub = site.content.manifest.resource("r-epub")
    assert epub is not None
    download = page.request.get(f"http://127.0.0.1:{site.port + 1}/blob/{epub.sha256}?download=1")
    assert download.status == 200
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.body() == site.content.files["r-epub"]
    assert site.outside == []  # nothing above needed the internet
    webinar = "https://webinar.example.kz/room/1"
    with pytest.raises(PlaywrightError, match="INTERNET_DISCONNECTED"):
        page.goto(webinar)  # and the internet is indeed cut
    assert site.outside == [webinar]
    site.outside.clear()
    context.close()
