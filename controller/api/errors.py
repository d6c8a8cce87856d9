"""The one mapping from domain errors to HTTP: a `ControllerError` answers with its own status.

Routes do not catch domain errors; services raise them with the status that fits (404, 409, 422,
503, ...) and this handler turns them into `{"detail": ...}`, the shape FastAPI gives its own
errors, so every refusal reads the same.

An error that says itself in every language (its body carries `messages`: {kk, ru, en}, see
`controller.errors`) answers with `detail` in the request's language (`?lang=`, else
Accept-Language, else English: clients that ask for nothing read what they always did).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as _StarletteJSON
from sqlalchemy.exc import OperationalError

from common.i18n import catalogue
from controller.api.language import lang_of
from controller.api.validation import reported
from controller.errors import ControllerError

_LOGGER = logging.getLogger(__name__)


class JSONResponse(_StarletteJSON):
    """JSON that can always be sent: a lone surrogate (a JSON body may carry "\\udb03", which
    Python decodes to a character UTF-8 cannot encode) is written as its JSON escape, so an answer
    that names what the client sent (a refused field's name, say) is never a 500 instead.
    The app's default response class too (`controller.api.app`)."""

    def render(self, content: Any) -> bytes:
        """`content` as compact UTF-8 JSON; lone surrogates escaped (still valid JSON)."""
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


async def controller_error(request: Request, exc: Exception) -> JSONResponse:
    """The response for a domain error raised while serving `request`."""
    assert isinstance(exc, ControllerError)  # registered for ControllerError only
    if exc.status >= 500:
        _LOGGER.warning("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        status_code=exc.status, content=exc.body_in(lang_of(request)), headers=exc.headers
    )


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with each error's place, type and message in plain words in the request's language,
    never the submitted values (passwords, IINs) nor a regex (`controller.api.validation`)."""
    assert isinstance(exc, RequestValidationError)  # registered for it only
    lang = lang_of(request)
    detail = [reported(dict(error), lang) for error in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(detail)})


STORAGE_RETRY_AFTER = "2"
"""Seconds a client waits before trying again when the database was busy (Retry-After)."""


async def storage_busy(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After for a database that stayed locked past its busy timeout.

    Writers wait for each other (busy timeout, imports a few at a time), so this is the last
    resort; any other OperationalError (the database gone, full, damaged) is a 503 as well.
    """
    assert isinstance(exc, OperationalError)  # registered for it only
    _LOGGER.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc.orig)
    locked = "locked" in str(exc.orig) or "busy" in str(exc.orig)
    key = "storage.busy" if locked else "storage.unavailable"
    content = {
        "detail": catalogue("api").text(key, lang_of(request)),
        "messages": catalogue("api").texts(key),
    }
    return JSONResponse(
        status_code=503, content=content, headers={"Retry-After": STORAGE_RETRY_AFTER}
    )


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""
    app.add_exception_handler(ControllerError, controller_error)
    app.add_exception_handler(OperationalError, storage_busy)
    app.add_exception_handler(RequestValidationError, validation_error)
