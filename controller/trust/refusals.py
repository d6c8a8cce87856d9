"""Refusals of the API's own routes that a person or a kit's owner reads (the metrics, the
throughput probe, the API docs), in kk/ru/en from the trust catalogue (`route.*`)."""

from __future__ import annotations

from controller.errors import ControllerError


class RouteRefusedError(ControllerError):
    """A request one of those routes refuses, with the status (and headers) that fit."""

    domain = "trust"

    def __init__(
        self, status: int, key: str, /, *, headers: dict[str, str] | None = None, **params: object
    ) -> None:
        super().__init__(key=key, params=params)
        self.status = status
        self.headers = headers  # type: ignore[misc]  # a Retry-After for this refusal only
