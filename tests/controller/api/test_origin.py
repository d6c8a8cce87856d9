"""Cross-site writes: a page of another origin cannot write with the session cookie (issue 12,
item 10), and a text/plain body never reaches a JSON route."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from controller.api import origin
from controller.api.deps import SESSION_COOKIE
from tests.support import Controller

HOST = "kk.school.example:8443"
OWN = f"https://{HOST}"
SIBLING = "https://blog.school.example"  # same site, another origin: SameSite lets cookies go
COOKIE = f"{SESSION_COOKIE}=t0ken"


def scope(method: str = "POST", path: str = "/api/v1/pupils", **headers: str) -> dict:
    """An ASGI scope of a request that reached the controller as `OWN`."""
    raw = [(b"host", HOST.encode())]
    raw += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "method": method, "path": path, "scheme": "https", "headers": raw}


JSON_BODY = {"content_type": "application/json", "content_length": "2"}
CASES = [
    # (why, scope, refused with)
    ("cookie, own origin", scope(cookie=COOKIE, origin=OWN, **JSON_BODY), None),
    ("cookie, sibling origin", scope(cookie=COOKIE, origin=SIBLING, **JSON_BODY), 403),
    ("cookie, sandboxed page", scope(cookie=COOKIE, origin="null", **JSON_BODY), 403),
    ("cookie, no origin", scope(cookie=COOKIE, **JSON_BODY), 403),
    ("cookie, own referer", scope(cookie=COOKIE, referer=OWN + "/docs", **JSON_BODY), None),
    ("cookie, sibling referer", scope(cookie=COOKIE, referer=SIBLING + "/x", **JSON_BODY), 403),
    ("cookie, own origin in capitals", scope(cookie=COOKIE, origin=OWN.upper(), **JSON_BODY), None),
    ("cookie, DELETE", scope("DELETE", cookie=COOKIE, origin=SIBLING), 403),
    ("cookie, GET", scope("GET", cookie=COOKIE, origin=SIBLING), None),
    ("bearer, sibling", scope(authorization="Bearer x", origin=SIBLING, **JSON_BODY), None),
    (
        "bearer and cookie: the bearer counts",
        scope(authorization="Bearer x", cookie=COOKIE, **JSON_BODY),
        None,
    ),
    ("no credentials", scope(origin=SIBLING, **JSON_BODY), None),
    (
        "text/plain to a JSON route",
        scope(authorization="Bearer x", content_type="text/plain", content_length="2"),
        415,
    ),
    ("a body without a type", scope(authorization="Bearer x", content_length="2"), 415),
    (
        "chunked form to a JSON route",
        scope(content_type="application/x-www-form-urlencoded", transfer_encoding="chunked"),
        415,
    ),
    ("JSON with a charset", scope(content_type="application/json; charset=utf-8"), None),
    ("no body, no type", scope(content_length="0"), None),
    (
        "a CSV import takes its bytes",
        scope(
            path="/api/v1/import/kits",
            authorization="Bearer x",
            content_type="text/csv",
            content_length="9",
        ),
        None,
    ),
]


@pytest.mark.parametrize(("why", "request_scope", "status"), CASES, ids=[c[0] for c in CASES])
def test_what_is_refused(why: str, request_scope: dict, status: int | None) -> None:
    refused = origin.refusal(request_scope, frozenset())
    assert (refused[0] if refused else None) == status, why


def test_a_configured_origin_may_write_with_the_cookie() -> None:
    request = scope(cookie=COOKIE, origin="https://admin.school.example", **JSON_BODY)
    check = origin.OriginCheck(app=None, allowed_origins=["https://ADMIN.school.example:443"])  # type: ignore[arg-type]
    assert origin.refusal(request, check.allowed) is None
    assert origin.refusal(request, frozenset())[0] == 403  # type: ignore[index]


def _post(
    controller: Controller, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict]:
    request = urllib.request.Request(controller.url + path, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, context=controller.context, timeout=30) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_a_sibling_page_cannot_import_with_the_session_cookie(controller: Controller) -> None:
    """The attack of the review: a text/plain POST from a sibling subdomain, with the cookie."""
    cookie = f"{SESSION_COOKIE}={controller.tokens['admin']}"
    own = controller.url
    csv = b"kit_id,profile,status\n{kit},base,active\n"

    def kit_known(kit_id: str) -> bool:
        return controller.get(f"/api/v1/kits/{kit_id}")[0] == 200

    forged = {"Content-Type": "text/plain", "Cookie": cookie, "Origin": SIBLING}
    status, body = _post(controller, "/api/v1/import/kits", csv.replace(b"{kit}", b"k-x"), forged)
    assert status == 403, body
    assert not kit_known("k-x"), "nothing imported"
    no_origin = {"Content-Type": "text/csv", "Cookie": cookie}
    assert (
        _post(controller, "/api/v1/import/kits", csv.replace(b"{kit}", b"k-y"), no_origin)[0] == 403
    )
    # the controller's own pages and bearer-token clients still write
    same = {"Content-Type": "text/csv", "Cookie": cookie, "Origin": own}
    status, body = _post(controller, "/api/v1/import/kits", csv.replace(b"{kit}", b"k-own"), same)
    assert status == 200, body
    bearer = {"Content-Type": "text/csv", "Authorization": f"Bearer {controller.tokens['admin']}"}
    status, body = _post(controller, "/api/v1/import/kits", csv.replace(b"{kit}", b"k-tok"), bearer)
    assert status == 200, body
    assert kit_known("k-own")
    assert kit_known("k-tok")
    # a JSON route never takes a text/plain body, cookie or not
    pupil = json.dumps({"ref": "p-csrf"}).encode()
    status, body = _post(
        controller,
        "/api/v1/pupils",
        pupil,
        {"Content-Type": "text/plain", "Cookie": cookie, "Origin": own},
    )
    assert status == 415, body
    status, body = _post(
        controller,
        "/api/v1/guardians",
        pupil,
        {"Content-Type": "text/plain", "Authorization": f"Bearer {controller.tokens['admin']}"},
    )
    assert status == 415, body
    status, body = _post(
        controller, "/api/v1/auth/token", b'{"username": "admin"}', {"Content-Type": "text/plain"}
    )
    assert status == 415, "no sign-in from a form either"
