"""Request bodies over a route's limit are refused before they are read; 422s echo no input."""

from __future__ import annotations

import json
import select
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from controller.api import errors, limits
from controller.schedules import files
from tests.support import Controller, password

MIB = 1024 * 1024
TOKEN = "/api/v1/auth/token"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _pid(controller: Controller) -> int:
    assert controller.process is not None
    return controller.process.pid


def _readable(sock: ssl.SSLSocket) -> bool:
    return bool(sock.pending() or select.select([sock], [], [], 0)[0])


def _raw_post(controller: Controller, *, chunked: bool, size: int) -> tuple[int, bytes]:
    """POST `size` bytes of JSON-looking junk to the sign-in, stopping as soon as the
    controller answers; the status and body of its answer."""
    raw = socket.create_connection(("127.0.0.1", controller.http_port), timeout=30)
    with controller.context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        length = b"Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}".encode()
        sock.sendall(
            b"POST " + TOKEN.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n" + length + b"\r\n\r\n"
        )
        piece = b'{"username": "admin", "password": "' + b"x" * (16 * 1024)
        sent = 0
        try:
            # past the limit before looking for an answer (a TLS session ticket is readable too)
            while sent < size and (sent <= 4 * limits.DEFAULT_LIMIT or not _readable(sock)):
                data = piece[: size - sent]
                sock.sendall(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                sent += len(data)
        except OSError:  # closed after its answer, which is still there to read
            pass
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < 2:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert sent < size, "the controller read the whole body before answering"
    return int(head.split()[1]), body


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_sign_in_is_refused_before_it_is_read(
    controller: Controller, chunked: bool
) -> None:
    before = _rss_kib(_pid(controller))
    status, body = _raw_post(controller, chunked=chunked, size=300 * MIB)
    assert status == 413
    assert json.loads(body)["detail"] == "the request body is larger than 65536 bytes"
    assert (_rss_kib(_pid(controller)) - before) * 1024 < 32 * MIB  # well under 300 MiB
    status, answer = controller.post(TOKEN, {"username": "admin", "password": password("admin")})
    assert status == 200, answer
    assert answer["access_token"]


def test_a_bad_sign_in_is_refused_without_echoing_the_password(controller: Controller) -> None:
    secret = "correct-horse-battery-staple-9"
    status, body = controller.post(TOKEN, {"username": ["admin"], "password": secret, "x": 1})
    assert status == 422
    assert secret not in json.dumps(body)
    assert body["detail"]
    assert all(set(error) <= {"type", "loc", "msg", "ctx"} for error in body["detail"])
    assert {"type", "loc", "msg"} <= set(body["detail"][0])


def test_each_upload_keeps_its_own_limit() -> None:
    assert limits.limit_for("POST", TOKEN) == limits.DEFAULT_LIMIT
    assert limits.limit_for("POST", "/api/v1/enroll") == limits.DEFAULT_LIMIT
    assert limits.limit_for("POST", "/api/v1/import/kits") == limits.MAX_CSV_IMPORT
    assert limits.limit_for("POST", "/api/v1/pupils/p-1/schedule/import") == files.MAX_UPLOAD
    assert limits.limit_for("PUT", "/api/v1/pupils/p-1/schedule") == files.MAX_UPLOAD
    assert limits.limit_for("GET", "/api/v1/pupils/p-1/schedule") == limits.DEFAULT_LIMIT


class _Credentials(BaseModel):
    username: str = Field(max_length=8)
    password: str


def _app() -> FastAPI:
    app = FastAPI()
    errors.install(app)
    app.add_middleware(limits.BodyLimit)

    @app.post(TOKEN)
    def token(credentials: _Credentials) -> dict[str, str]:
        return {"username": credentials.username}

    @app.post("/api/v1/import/{kind}")
    async def upload(kind: str, request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return app


async def _stream(total: int, seen: list[int]) -> AsyncIterator[bytes]:
    while sum(seen) < total:
        seen.append(16 * 1024)
        yield b"x" * (16 * 1024)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        (TOKEN, limits.DEFAULT_LIMIT + 1, 413),
        ("/api/v1/import/kits", limits.MAX_CSV_IMPORT, 200),
        ("/api/v1/import/kits", limits.MAX_CSV_IMPORT + 1, 413),
    ],
)
async def test_the_middleware_counts_a_body_with_or_without_its_length(
    path: str, size: int, status: int
) -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://kk") as client:
        declared = await client.post(path, content=b"x" * size)
        seen: list[int] = []
        streamed = await client.post(path, content=_stream(size, seen))
    assert (declared.status_code, streamed.status_code) == (status, status)
    if status == 413:
        assert "larger than" in declared.json()["detail"]
        assert streamed.json() == declared.json()
    else:
        assert streamed.json() == {"bytes": size}


@pytest.mark.anyio
async def test_a_validation_error_keeps_its_place_but_not_the_input() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://kk") as client:
        answer = await client.post(TOKEN, json={"username": "123456789012", "password": 7})
    assert answer.status_code == 422
    assert "123456789012" not in answer.text
    assert answer.json()["detail"] == [
        {
            "type": "string_too_long",
            "loc": ["body", "username"],
            "msg": "Must have at most 8 characters.",
            "ctx": {"max_length": 8},
        },
        {
            "type": "string_type",
            "loc": ["body", "password"],
            "msg": "Expected text.",
        },
    ]
