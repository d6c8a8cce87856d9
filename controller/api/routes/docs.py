"""The API docs (Swagger UI) and the OpenAPI schema, served by the controller to signed-in staff.

Swagger UI's script and style come from the `swagger-ui-py` package (which vendors the
swagger-ui dist files), not from a CDN: the page works offline, and a token pasted into its
"Authorize" dialog meets no third-party script. Each file is checked against the SHA-256 recorded
here before it is served, so a changed package shows up as a refusal rather than as new code.
The page's own start-up script is a file too, so the content security policy (`headers.py`)
allows scripts from the controller only.

The docs, their files and `/openapi.json` need a signed-in member of staff (bearer token or the
session cookie). `/docs/sign-in` is the one open page: a form that signs in (which sets the
cookie) and goes on to `/docs`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path
from typing import Any, Final, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from controller.api.deps import UserDep
from controller.trust.refusals import RouteRefusedError

router = APIRouter(include_in_schema=False)

Asset = Literal["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"]
ASSETS: Final[dict[str, tuple[str, str]]] = {
    # name: (sha256 of the file in swagger-ui-py 25.7.1, media type)
    "swagger-ui-bundle.js": (
        "2c2e2bfe20fc7cb996862067de67c3d34157929792b77988abf3aabef4663028",
        "text/javascript",
    ),
    "swagger-ui.css": (
        "4f76417253f37d7fe5aab8d69beaf3017570e2ab611289c504968b2078a07236",
        "text/css",
    ),
    "favicon-32x32.png": (
        "974139464776b35885c2091c39f4971d6fa998a04b26f604113935e4427ab4d9",
        "image/png",
    ),
}
ASSET_CACHE: Final = "private, max-age=86400"

DOCS_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kitkeeper controller: API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
"""

START_SCRIPT: Final = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""

SIGN_IN_PAGE: Final = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>kitkeeper controller: sign in</title></head>
<body>
<form id="sign-in">
<p><label>User name <input name="username" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password"
 required></label></p>
<p><button type="submit">Sign in to the API docs</button></p>
<p id="refused" hidden>Wrong user name or password, or too many tries: wait and try again.</p>
</form>
<script src="/docs/sign-in.js"></script>
</body>
</html>
"""

SIGN_IN_SCRIPT: Final = """const form = document.getElementById("sign-in");
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const fields = new FormData(form);
  const answer = await fetch("/api/v1/auth/token", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username: fields.get("username"), password: fields.get("password")}),
  });
  if (answer.ok) { window.location.assign("/docs"); }
  else { document.getElementById("refused").hidden = false; }
});
"""


def _static_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RouteRefusedError(503, "route.docs_missing")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@functools.cache
def asset_bytes(name: str) -> bytes:
    """The file `name` of Swagger UI, once its SHA-256 is the one recorded (503 otherwise)."""
    expected, _ = ASSETS[name]
    try:
        data = (_static_dir() / name).read_bytes()
    except OSError as exc:
        raise RouteRefusedError(503, "route.docs_missing") from exc
    if hashlib.sha256(data).hexdigest() != expected:
        raise RouteRefusedError(503, "route.docs_changed", name=name)
    return data


@router.get("/openapi.json")
async def openapi(request: Request, user: UserDep) -> JSONResponse:
    """The OpenAPI schema (signed-in staff; built once, on the event loop as FastAPI's own)."""
    schema: dict[str, Any] = request.app.openapi()
    return JSONResponse(schema)


@router.get("/docs")
def docs(user: UserDep) -> HTMLResponse:
    """Swagger UI (signed-in staff)."""
    return HTMLResponse(DOCS_PAGE)


@router.get("/docs/start.js")
def start_script(user: UserDep) -> Response:
    """The docs page's start-up script."""
    return Response(START_SCRIPT, media_type="text/javascript")


@router.get("/docs/assets/{name}")
def asset(name: Asset, user: UserDep) -> Response:
    """A file of Swagger UI, from the installed package (signed-in staff)."""
    return Response(
        asset_bytes(name),
        media_type=ASSETS[name][1],
        headers={"Cache-Control": ASSET_CACHE},
    )


@router.get("/docs/sign-in")
def sign_in_page() -> HTMLResponse:
    """A form that signs in (setting the session cookie) and opens the docs."""
    return HTMLResponse(SIGN_IN_PAGE)


@router.get("/docs/sign-in.js")
def sign_in_script() -> Response:
    """The sign-in form's script."""
    return Response(SIGN_IN_SCRIPT, media_type="text/javascript")
