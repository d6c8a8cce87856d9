"""The pupil's page origin (`--web-port`): home, a task, a material, help; no JavaScript.

Routes are thin: they read the store and the readiness, build the view (`agent.web.view`) and
render a template. The language comes from `?lang=` (kept in a cookie), else the cookie, else the
manifest's, else the kit's locale; large text and high contrast from their cookies, else on for
the kits whose profile needs them (low vision, blind). Help goes to `agent.help.ask`, which the
running agent sends to the controller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from agent import help as help_request
from agent.content.store import ContentStore
from agent.doctor import Check
from agent.web import guard, packages, view
from agent.web.status import status_lines
from common.i18n import LANGS, Lang
from protocol.content import ResourceKind

_LOGGER = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
LANG_COOKIE: Final = "lang"
DISPLAY: Final = ("large", "contrast")
ACCESSIBLE_PROFILES: Final = frozenset({"low-vision", "blind"})
"""Profiles whose page starts with large text and high contrast on."""
MAX_WAITING_HELP: Final = 50
YEAR: Final = 365 * 24 * 3600


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PageConfig:
    """What the page needs from the agent."""

    store: ContentStore
    state_dir: Path
    port: int
    material_port: int
    profile: str = "base"
    kit_lang: Lang = "en"
    checks: Callable[[], list[Check] | None] = lambda: None
    """The doctor's checks on the latest snapshot (None: none yet)."""
    clock: Callable[[], datetime] = _now


class Page:
    """The page's handlers."""

    def __init__(self, config: PageConfig) -> None:
        self.config = config
        self.token = guard.FormToken()
        self.material_origin = f"http://127.0.0.1:{config.material_port}"
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.filters["path"] = lambda name: quote(str(name), safe="/")

    # --- what every page shares ------------------------------------------------------------

    def _lang(self, request: Request) -> tuple[Lang, bool]:
        """The page's language and whether `?lang=` chose it (to be kept)."""
        asked = request.query_params.get("lang")
        for lang in LANGS:
            if asked == lang:
                return lang, True
        for lang in LANGS:
            if request.cookies.get(LANG_COOKIE) == lang:
                return lang, False
        manifest = self.config.store.current()
        return (manifest.language if manifest else self.config.kit_lang), False

    def _display(self, request: Request) -> dict[str, bool]:
        default = self.config.profile in ACCESSIBLE_PROFILES
        return {
            name: {"1": True, "0": False}.get(request.cookies.get(name, ""), default)
            for name in DISPLAY
        }

    def render(
        self, request: Request, template: str, code: int = 200, **context: Any
    ) -> HTMLResponse:
        """A template in the request's language, with the page's settings."""
        lang, chosen = self._lang(request)
        words = view.Words(lang)
        query = {k: v for k, v in request.query_params.items() if k != "lang"}
        links = {
            other: request.url.path + "?" + urlencode({**query, "lang": other}) for other in LANGS
        }
        here = request.url.path + (f"?{urlencode(query)}" if query else "")
        html = self.env.get_template(template).render(
            _=words,
            words=words,
            lang=lang,
            lang_names=view.LANG_NAMES,
            lang_links=links,
            display=self._display(request),
            token=self.token.value,
            here=here,
            material_origin=self.material_origin,
            **context,
        )
        response = HTMLResponse(html, status_code=code, headers={"cache-control": "no-store"})
        if chosen:
            _keep(response, LANG_COOKIE, lang)
        return response

    # --- pages ------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        """Today, the week, the tasks, the kit's status and the help form."""
        lang, _ = self._lang(request)
        store = self.config.store
        pending = store.pending()
        page = view.home(
            store.current(),
            pending.manifest if pending else None,
            self.config.clock(),
            store.has,
            view.Words(lang),
        )
        status = status_lines(self.config.checks(), lang)
        return self.render(request, "home.html", page=page, status=status)

    async def task(self, request: Request) -> Response:
        """One task: its text, due date, level and materials."""
        lang, _ = self._lang(request)
        manifest = self.config.store.current()
        task_id = request.path_params["task_id"]
        found = next((t for t in manifest.tasks if t.id == task_id), None) if manifest else None
        if manifest is None or found is None:
            return self.not_found(request)
        item = view.task_item(found, manifest, view.Words(lang))
        return self.render(request, "task.html", task=item)

    async def material(self, request: Request) -> Response:
        """One material, opened the way its kind opens offline."""
        lang, _ = self._lang(request)
        manifest = self.config.store.current()
        resource = manifest.resource(request.path_params["rid"]) if manifest else None
        if manifest is None or resource is None:
            return self.not_found(request)
        words = view.Words(lang)
        context: dict[str, Any] = {
            "resource": resource,
            "item": view.material(resource, words),
            "here_on_kit": not view.missing_materials(resource, self.config.store.has),
            "kind": resource.kind.value,
            "caption_names": ", ".join(words.language(c.language) for c in resource.captions),
            "default_caption": next(
                (c.language for c in resource.captions if c.language == lang),
                resource.captions[0].language if resource.captions else None,
            ),
        }
        if resource.kind is ResourceKind.EPUB:
            context.update(self._chapters(request, resource.sha256))
        return self.render(request, "material.html", **context)

    def _chapters(self, request: Request, sha256: str) -> dict[str, Any]:
        store = self.config.store
        found = packages.chapters(store.blob_path(sha256)) if store.has(sha256) else ()
        try:
            number = int(request.query_params.get("chapter", "1"))
        except ValueError:
            number = 1
        return {"chapters": found, "chapter": min(max(number, 1), max(len(found), 1))}

    async def help_form(self, request: Request) -> Response:
        """The help form, or the word that the request was sent."""
        sent = request.query_params.get("sent") == "1"
        return self.render(request, "help.html", sent=sent, problem=None)

    async def ask_help(self, request: Request) -> Response:
        """Store a help request for the agent to send; say so in the page's language."""
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        state_dir = self.config.state_dir
        waiting = state_dir / help_request.REQUESTS_DIR
        if waiting.is_dir() and len(list(waiting.glob("help-*.json"))) >= MAX_WAITING_HELP:
            return self.render(request, "help.html", 429, sent=False, problem="help.too_many")
        help_request.ask(state_dir, form.get("message", ""), self.config.clock())
        _LOGGER.info("help asked from the pupil's page")
        return RedirectResponse("/help?sent=1", status_code=303)

    async def set_display(self, request: Request) -> Response:
        """Turn large text or high contrast on or off (kept in a cookie), then go back."""
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        back = form.get("next", "/")
        if not back.startswith("/") or back.startswith("//") or "\\" in back:
            back = "/"
        response = RedirectResponse(back, status_code=303)
        what = form.get("what")
        if what in DISPLAY:
            _keep(response, what, "0" if self._display(request)[what] else "1")
        return response

    async def _form(self, request: Request) -> dict[str, str] | Response:
        """The posted form when it comes from the page with its token, else the refusal."""
        origin = request.headers.get("origin")
        form = None
        if guard.same_origin(origin, guard.origins(self.config.port)):
            try:
                form = await guard.read_form(request.stream())
            except guard.FormTooLargeError:
                form = None
        if form is None or not self.token.accepts(form.get("token")):
            _LOGGER.warning("refused a form posted to %s (origin %s)", request.url.path, origin)
            return self.render(request, "help.html", 403, sent=False, problem="help.refused")
        return form

    def not_found(self, request: Request) -> Response:
        """The page that says a page is not here."""
        return self.render(request, "not_found.html", 404)

    async def stylesheet(self, request: Request) -> Response:
        """The page's one stylesheet (no fonts or scripts from the internet)."""
        return FileResponse(HERE / "static" / "page.css", media_type="text/css")


def _keep(response: Response, name: str, value: str) -> None:
    response.set_cookie(name, value, max_age=YEAR, httponly=True, samesite="strict")


def create_page_app(config: PageConfig) -> guard.Guard:
    """The page's origin on `config.port`."""
    page = Page(config)

    async def missing(request: Request, exc: Exception) -> Response:
        return page.not_found(request)

    app = Starlette(
        routes=[
            Route("/", page.home),
            Route("/task/{task_id:str}", page.task),
            Route("/material/{rid:str}", page.material),
            Route("/help", page.help_form, methods=["GET"]),
            Route("/help", page.ask_help, methods=["POST"]),
            Route("/display", page.set_display, methods=["POST"]),
            Route("/static/page.css", page.stylesheet),
        ],
        exception_handlers={404: missing},
    )
    headers = {
        "content-security-policy": guard.page_policy(page.material_origin),
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        # same-origin, not no-referrer: with no-referrer the page's own forms say `Origin: null`
        "referrer-policy": "same-origin",
        "cross-origin-opener-policy": "same-origin",
    }
    return guard.Guard(app, guard.hosts(config.port), headers)
