"""What the assignments, manifests, delivery and sync status refuse, said in kk/ru/en.

Each is a `ContentError` (the content domain's root) whose texts are in the `assignments`
catalogue (`common/locale/<lang>/assignments.toml`, keys `refused.*`).
"""

from __future__ import annotations

from typing import Final

from controller.content.errors import ContentError

DOMAIN: Final = "assignments"


class AssignmentError(ContentError):
    """An assignment, a manifest or a blob refused; `status` is the HTTP status that fits."""

    status = 409
    domain = DOMAIN


class AssignmentNotFoundError(AssignmentError):
    """No such assignment, pupil or kit (that this member of staff may see)."""

    status = 404


class AssignmentInvalidError(AssignmentError):
    """An assignment that cannot be set as asked (unknown resources, no such lesson, no date)."""

    status = 422


class DeliveryRefusedError(AssignmentError):
    """A manifest or blob asked for by someone who may not have it."""

    status = 403


class ContentKeyError(AssignmentError):
    """The content signing key cannot be made, read or rotated."""

    status = 503
