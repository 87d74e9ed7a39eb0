"""The hub's one domain error type. Services raise these; the API maps each to one error body."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class HubError(Exception):
    status = HTTPStatus.BAD_REQUEST
    code = "invalid"

    def __init__(
        self, message: str, *, fields: dict[str, Any] | None = None, extra: dict | None = None
    ):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}


class InvalidInput(HubError):
    """The request is well-formed JSON but its content is wrong (field messages in `fields`)."""


class Conflict(HubError):
    status = HTTPStatus.CONFLICT
    code = "conflict"


class IllegalTransition(Conflict):
    """The row is in a state the action cannot start from (cancel a COMPLETED job, …)."""

    code = "illegal_transition"


class LeaseLost(Conflict):
    """A worker reported on a job it no longer holds (reaped, cancelled or claimed by another)."""

    code = "lease_lost"


class NotFound(HubError):
    status = HTTPStatus.NOT_FOUND
    code = "not_found"


class TooLarge(HubError):
    """A request body (an upload) over its limit: refused before it is read whole."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "too_large"
