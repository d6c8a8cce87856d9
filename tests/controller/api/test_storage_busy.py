"""A database that stays locked past its busy timeout is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from controller.api import errors


def _app(message: str) -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.post("/import")
    def import_file() -> None:
        raise OperationalError("INSERT INTO kits ...", {}, sqlite3.OperationalError(message))

    return app


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("message", "detail"),
    [
        ("database is locked", "the database is busy; try again shortly"),
        ("unable to open database file", "the database is unavailable"),
    ],
)
async def test_an_operational_error_is_a_503_with_retry_after(message: str, detail: str) -> None:
    transport = httpx.ASGITransport(app=_app(message))
    async with httpx.AsyncClient(transport=transport, base_url="http://kk") as client:
        response = await client.post("/import")
    assert response.status_code == 503
    assert response.headers["retry-after"] == errors.STORAGE_RETRY_AFTER
    assert response.json()["detail"] == response.json()["messages"]["en"] == detail
