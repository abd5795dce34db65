"""The one API error handler: every error is ``{"code", "message", "detail"}`` with its status.

DRF's own exceptions, Django's ``Http404``/``PermissionDenied``, domain errors and database
integrity conflicts all end here. Anything else is logged with the request id and answered with
a 500 in the same shape that says nothing about the internals.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import IntegrityError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from erp.api.parsers import RequestTooLarge
from erp.exceptions import DomainError

logger = logging.getLogger("erp.api")

_DRF_CODES: list[tuple[type[Exception], str, str]] = [
    (drf.ParseError, "malformed_request", "The request body is not valid JSON."),
    (drf.ValidationError, "validation_error", "The input is not valid."),
    (drf.NotAuthenticated, "not_authenticated", "Authentication credentials were not provided."),
    (drf.AuthenticationFailed, "authentication_failed", "Authentication failed."),
    (drf.PermissionDenied, "permission_denied", "Your role may not do this."),
    (drf.NotFound, "not_found", "Not found."),
    (drf.MethodNotAllowed, "method_not_allowed", "This method is not allowed here."),
    (drf.NotAcceptable, "not_acceptable", "The requested format is not available."),
    (drf.UnsupportedMediaType, "unsupported_media_type", "Send JSON (Content-Type: application/json)."),
    (drf.Throttled, "throttled", "Too many requests; slow down."),
    (RequestTooLarge, "request_too_large", "The request body is too large."),
]


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "detail": detail if detail is not None else {}}


def _drf_detail(exc: drf.APIException) -> Any:
    detail = exc.detail
    if isinstance(exc, drf.ValidationError):
        if isinstance(detail, list):
            return {"non_field_errors": detail}
        return detail
    return {}


def _message(exc: drf.APIException, default: str) -> str:
    if isinstance(exc, drf.ValidationError):
        return default
    detail = exc.detail
    return str(detail) if isinstance(detail, str) else default


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    # Under ATOMIC_REQUESTS an error response must not commit what the view wrote before failing.
    set_rollback()
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        # Django answers these 400 outside DRF; the request was bad, so it is not a 500 here either.
        logging.getLogger(f"django.security.{type(exc).__name__}").warning("%s", exc)
        return Response(error_body("bad_request", "The request could not be understood."), status=400)

    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.detail), status=exc.status)

    if isinstance(exc, drf.APIException):
        code, default = next(
            ((c, d) for klass, c, d in _DRF_CODES if isinstance(exc, klass)), ("error", "The request failed.")
        )
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        return Response(
            error_body(code, _message(exc, default), _drf_detail(exc)), status=exc.status_code, headers=headers
        )

    if isinstance(exc, IntegrityError):
        logger.warning("integrity conflict answered as 409: %s", exc)
        return Response(
            error_body("conflict", "The change conflicts with existing data; reload and try again."), status=409
        )

    logger.exception("unhandled error in API view", exc_info=exc)
    return Response(error_body("server_error", "An internal error occurred; it has been logged."), status=500)


def json_error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)
