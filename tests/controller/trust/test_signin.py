"""Sign-in under attack, against a real controller: throttling, bounded hashing, revocation.

One controller serves the whole module (its start signs three users in). Each test speaks from an
address of its own (X-Forwarded-For, which uvicorn takes from 127.0.0.1 only) and uses users of
its own, so the throttle's counts do not mix between tests.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from controller.trust.staff import create_user
from controller.trust.staff_tables import SignInAttempt
from tests.support import Controller, migrated, start_broker

pytestmark = pytest.mark.processes
TOKEN = "/api/v1/auth/token"
PASSWORD = "a long enough pass phrase 7"
WINDOW = timedelta(seconds=900)  # the controller's default `signin_window`


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    tmp: Path = tmp_path_factory.mktemp("signin")
    broker = start_broker(tmp)
    # a short queue for the hash gate: the flood below is over sooner (the default is 8)
    proc = Controller(tmp, broker, KITKEEPER_HASH_QUEUE="2").start()
    yield proc
    proc.stop()
    broker.stop()


def add_user(controller: Controller, username: str, role: str = "teacher") -> None:
    database = migrated(controller.db)
    with database.sessions.begin() as session:
        create_user(session, username=username, password=PASSWORD, role=role, now=datetime.now(UTC))
    database.engine.dispose()


def request(
    controller: Controller,
    method: str,
    path: str,
    body: Any = None,
    *,
    address: str,
    token: str | None = None,
) -> tuple[int, Any, Message]:
    """(status, parsed JSON or None, headers), from `address`."""
    headers = {"Content-Type": "application/json", "X-Forwarded-For": address}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(controller.url + path, data, headers, method=method)
    try:
        with urllib.request.urlopen(req, context=controller.context, timeout=60) as resp:
            raw, status, got = resp.read(), resp.status, resp.headers
    except urllib.error.HTTPError as exc:
        raw, status, got = exc.read(), exc.code, exc.headers
    return status, json.loads(raw) if raw else None, got


def sign_in(
    controller: Controller, username: str, password: str, address: str
) -> tuple[int, Any, Message]:
    return request(
        controller, "POST", TOKEN, {"username": username, "password": password}, address=address
    )


def audit(controller: Controller, username: str) -> list[dict[str, Any]]:
    status, log = controller.get(f"/api/v1/audit?entity=user&entity_id={username}&limit=1000")
    assert status == 200, log
    return list(reversed(log))


def test_thirty_wrong_passwords_are_throttled_and_audited(controller: Controller) -> None:
    add_user(controller, "victim")
    answers = [
        sign_in(controller, "victim", f"guess number {i:02}", "203.0.113.10") for i in range(30)
    ]
    statuses = [status for status, _, _ in answers]
    assert statuses == [401] * 5 + [429] * 25
    for _, body, headers in answers[5:]:
        assert 0 < int(headers["Retry-After"]) <= WINDOW.total_seconds()
        assert "guess" not in json.dumps(body)
    # the right password is refused too while the account is locked (nothing to learn from it)
    assert sign_in(controller, "victim", PASSWORD, "203.0.113.10")[0] == 429
    # a user name that does not exist gets exactly the same answers
    ghost = [sign_in(controller, "nobody-here", f"guess {i}", "203.0.113.11")[0] for i in range(6)]
    assert ghost == [401] * 5 + [429]
    entries = audit(controller, "victim")
    failures = [e for e in entries if e["action"] == "sign_in_failed"]
    assert [e["after"] for e in failures] == [
        {"address": "203.0.113.10", "reason": "wrong_password"}
    ] * 5
    locked = [e for e in entries if e["action"] == "sign_in_locked"]
    assert len(locked) == 1
    assert locked[0]["after"]["scope"] == "account"
    assert "guess" not in json.dumps(entries)
    ghost_log = audit(controller, "nobody-here")
    assert {e["after"]["reason"] for e in ghost_log if e["action"] == "sign_in_failed"} == {
        "unknown_user"
    }


def test_a_lock_ends_and_the_user_signs_in_from_elsewhere(controller: Controller) -> None:
    add_user(controller, "locked-out")
    assert sign_in(controller, "locked-out", PASSWORD, "198.51.100.7")[0] == 200  # their desk
    # an attacker's five failures, the oldest nearly out of the window: the lock ends in ~2 s
    now = datetime.now(UTC)
    database = migrated(controller.db)
    with database.sessions.begin() as session:
        for i in range(5):
            at = now - WINDOW + timedelta(seconds=2 + i)
            session.add(SignInAttempt(username="locked-out", address="192.0.2.66", at=at, ok=False))
    database.engine.dispose()
    status, _, headers = sign_in(controller, "locked-out", PASSWORD, "192.0.2.99")
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 3
    # from the desk they signed in at before, the account's lock does not hold them
    assert sign_in(controller, "locked-out", PASSWORD, "198.51.100.7")[0] == 200
    time.sleep(int(headers["Retry-After"]))
    assert sign_in(controller, "locked-out", PASSWORD, "192.0.2.99")[0] == 200


def _rss_peak(controller: Controller) -> int:
    assert controller.process is not None
    status = Path(f"/proc/{controller.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))


def test_forty_parallel_sign_ins_cost_bounded_memory_and_the_api_stays_quick(
    controller: Controller,
) -> None:
    before = _rss_peak(controller)
    connections = [
        http.client.HTTPSConnection("127.0.0.1", controller.http_port, context=controller.context)
        for _ in range(40)
    ]
    for connection in connections:
        connection.connect()  # the TLS handshakes first: then 40 sign-ins at the same instant
    go = threading.Barrier(41)
    results: list[tuple[int, str | None]] = []

    def attempt(i: int) -> None:
        body = json.dumps({"username": f"flood-{i}", "password": "wrong password 123"})
        headers = {"Content-Type": "application/json", "X-Forwarded-For": f"10.9.0.{i}"}
        go.wait()
        connections[i].request("POST", TOKEN, body, headers)
        answer = connections[i].getresponse()
        answer.read()
        results.append((answer.status, answer.getheader("Retry-After")))
        connections[i].close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    go.wait()
    slowest = 0.0
    while any(t.is_alive() for t in threads):
        started = time.monotonic()
        assert controller.get("/healthz", None)[0] == 200
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.1)
    for thread in threads:
        thread.join()
    grown_mib = (_rss_peak(controller) - before) / 1024
    statuses = sorted(status for status, _ in results)
    assert set(statuses) <= {401, 503}, statuses
    assert statuses.count(401) >= 2, "the gate's workers check passwords"
    assert all(0 < int(retry or 0) <= 5 for status, retry in results if status == 503)
    assert grown_mib < 400, f"the controller's peak memory grew by {grown_mib:.0f} MiB"
    assert slowest < 1.0, f"/healthz took {slowest:.2f} s during the flood"


def test_logout_makes_the_token_useless(controller: Controller) -> None:
    add_user(controller, "leaving-now")
    _, first, _ = sign_in(controller, "leaving-now", PASSWORD, "198.51.100.20")
    status, _, headers = request(
        controller,
        "POST",
        "/api/v1/auth/logout",
        address="198.51.100.20",
        token=first["access_token"],
    )
    assert status == 204
    assert (
        headers["set-cookie"].startswith('kitkeeper_session=""')
        or "Max-Age=0" in headers["set-cookie"]
    )
    me = request(controller, "GET", "/api/v1/auth/me", address="x", token=first["access_token"])
    assert me[0] == 401
    assert controller.get("/api/v1/auth/me", "teacher")[0] == 200, "other sessions stay"
    assert "sign_out" in [e["action"] for e in audit(controller, "leaving-now")]


def test_a_password_change_revokes_the_other_tokens(controller: Controller) -> None:
    add_user(controller, "changer")
    here = "198.51.100.30"
    tokens = [sign_in(controller, "changer", PASSWORD, here)[1]["access_token"] for _ in range(2)]
    change = "/api/v1/auth/password"

    def post(body: dict[str, str]) -> tuple[int, Any, Message]:
        return request(controller, "POST", change, body, address=here, token=tokens[0])

    status, body, _ = post({"current_password": PASSWORD, "new_password": "aaaaaaaaaaaaaaaa"})
    assert status == 422
    assert body["reason"] == "password.too_simple"
    assert set(body["messages"]) == {"kk", "ru", "en"}
    assert "aaaa" not in json.dumps(body)
    status, body, _ = post(
        {"current_password": "not it at all", "new_password": "a new pass phrase 9"}
    )
    assert status == 403
    assert post({"current_password": PASSWORD, "new_password": "a new pass phrase 8"})[0] == 204
    assert request(controller, "GET", "/api/v1/auth/me", address=here, token=tokens[1])[0] == 401
    assert request(controller, "GET", "/api/v1/auth/me", address=here, token=tokens[0])[0] == 200
    assert sign_in(controller, "changer", "a new pass phrase 8", here)[0] == 200
    actions = [e["action"] for e in audit(controller, "changer")]
    assert "password_change_refused" in actions
    assert "password_changed" in actions


def test_a_disabled_user_cannot_sign_in_and_their_token_stops_working(
    controller: Controller,
) -> None:
    add_user(controller, "leaver", role="technician")
    here = "198.51.100.40"
    token = sign_in(controller, "leaver", PASSWORD, here)[1]["access_token"]
    status, body, _ = request(
        controller,
        "POST",
        "/api/v1/users/leaver/disable",
        address=here,
        token=controller.tokens["admin"],
    )
    assert (status, body) == (200, {"username": "leaver", "role": "technician", "disabled": True})
    assert request(controller, "GET", "/api/v1/kits", address=here, token=token)[0] == 401
    status, body, _ = sign_in(controller, "leaver", PASSWORD, here)
    assert (status, body["detail"]) == (401, "wrong user name or password")
    # enabled again, then disabled from the command line (test_staff_cli.py has the rest of it)
    enable = "/api/v1/users/leaver/enable"
    assert request(controller, "POST", enable, address=here, token=controller.tokens["admin"])[
        1
    ] == {"username": "leaver", "role": "technician", "disabled": False}
    token = sign_in(controller, "leaver", PASSWORD, here)[1]["access_token"]
    assert request(controller, "GET", "/api/v1/kits", address=here, token=token)[0] == 200
    result = controller.cli("user", "disable", "--username", "leaver")
    assert result.returncode == 0, result.stderr
    assert request(controller, "GET", "/api/v1/kits", address=here, token=token)[0] == 401
    # only admins disable, and never the last admin
    teacher = controller.tokens["teacher"]
    assert (
        request(controller, "POST", "/api/v1/users/admin/disable", address=here, token=teacher)[0]
        == 403
    )
    admin = controller.tokens["admin"]
    assert (
        request(controller, "POST", "/api/v1/users/admin/disable", address=here, token=admin)[0]
        == 409
    )
    actions = [(e["action"], e["actor"]) for e in audit(controller, "leaver")]
    assert ("user_disabled", "admin") in actions
    assert ("user_enabled", "admin") in actions
    assert any(act == "user_disabled" and who.startswith("cli:") for act, who in actions)
    assert [
        e["after"]["reason"] for e in audit(controller, "leaver") if e["action"] == "sign_in_failed"
    ] == ["disabled"]
