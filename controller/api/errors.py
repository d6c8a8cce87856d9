"""The one mapping from domain errors to HTTP: a `ControllerError` answers with its own status.

Routes do not catch domain errors; services raise them with the status that fits (404, 409, 422,
503, ...) and this handler turns them into `{"detail": ...}`, the shape FastAPI gives its own
errors, so every refusal reads the same.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from controller.errors import ControllerError

_LOGGER = logging.getLogger(__name__)


async def controller_error(request: Request, exc: Exception) -> JSONResponse:
    """The response for a domain error raised while serving `request`."""
    assert isinstance(exc, ControllerError)  # registered for ControllerError only
    if exc.status >= 500:
        _LOGGER.warning("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(status_code=exc.status, content=exc.body(), headers=exc.headers)


def install(app: FastAPI) -> None:
    """Register the handler on the app."""
    app.add_exception_handler(ControllerError, controller_error)
