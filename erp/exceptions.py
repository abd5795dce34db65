"""Domain errors: every refusal a user can cause, each with a stable code and an HTTP status.

Apps subclass ``DomainError`` in their own ``exceptions.py``. The one API error handler
(``erp.api.errors``) turns any of them into ``{"code", "message", "detail"}``; screens show the
message. Nothing a user can do wrong should surface as a 500.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    status = 409
    default_message = "The request cannot be carried out in the current state."

    def __init__(self, message: str | None = None, *, detail: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.detail = detail or {}
        super().__init__(self.message)


class ValidationFailed(DomainError):
    """Input that is well-formed but not acceptable; ``detail`` maps field names to messages."""

    code = "validation_error"
    status = 400
    default_message = "The input is not valid."


class NotFound(DomainError):
    """Absent, or outside the caller's scope: the two are indistinguishable on purpose."""

    code = "not_found"
    status = 404
    default_message = "Not found."


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    default_message = "Your role may not do this."


class Conflict(DomainError):
    code = "conflict"
    status = 409


class IdempotencyMismatch(Conflict):
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used with a different request."


class ConcurrencyExhausted(Conflict):
    """Raised only after the retry budget for deadlocks and serialization failures is spent."""

    code = "busy"
    status = 503
    default_message = "The system is busy; please retry the request."


class OutsideScope(DomainError):
    """A grant reaching beyond the granting administrator's own scope."""

    code = "outside_scope"
    status = 403
    default_message = "You may grant only inside your own scope."


class UserExists(Conflict):
    code = "user_exists"
    default_message = "A user with this username already exists."
