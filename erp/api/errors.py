"""The one API error handler: every error is ``{"code", "message", "detail"}`` with its status.

DRF's own exceptions, Django's ``Http404``/``PermissionDenied``, domain errors and database
integrity conflicts all end here. Anything else is logged with the request id and answered with
a 500 in the same shape that says nothing about the internals but that id, for the caller to quote.

What Django answers itself, outside DRF (an unresolved URL, an exception escaping a plain view or a
middleware, a bad Host header), is put in the same shape by ``erp.middleware.ErrorResponseMiddleware``
and the error views of ``erp.views``, whatever DEBUG says.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import is_valid_path
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from erp import constraints
from erp.api.parsers import RequestTooLarge
from erp.exceptions import DomainError
from erp.logging import request_id_var

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


SERVER_ERROR_MESSAGE = "An internal error occurred; it has been logged."

# The errors Django answers outside DRF, in the API's words.
_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be understood."),
    403: ("permission_denied", "Your role may not do this."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("request_too_large", "The request body is too large."),
    500: ("server_error", SERVER_ERROR_MESSAGE),
}


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def request_id_of(request: Any) -> str:
    """The id ``erp.middleware.RequestIdMiddleware`` gave this request (and echoes as X-Request-ID)."""
    return getattr(request, "request_id", None) or request_id_var.get()


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
        # A refusal that ends by itself (a login lockout) says when, in the header clients read as well.
        wait = exc.detail.get("retry_after_seconds") if isinstance(exc.detail, dict) else None
        return Response(error_body(exc.code, exc.message, exc.detail), status=exc.status,
                        headers={"Retry-After": str(wait)} if wait else None)

    if isinstance(exc, drf.APIException):
        code, default = next(
            ((c, d) for klass, c, d in _DRF_CODES if isinstance(exc, klass)), ("error", "The request failed.")
        )
        headers: dict[str, str] = {}
        # DRF's APIView sets ``auth_header`` on a 401 it answers; ``wait`` is a Throttled's (None when unknown).
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait:
            headers["Retry-After"] = str(int(wait))
        return Response(
            error_body(code, _message(exc, default), _drf_detail(exc)), status=exc.status_code, headers=headers
        )

    if isinstance(exc, IntegrityError):
        logger.warning("integrity conflict answered as 409: %s", exc)
        # The field and the reason in words (``erp.constraints``), never the constraint's name.
        explained = constraints.explain(exc)
        first = next(iter(explained.values()))[0]
        return Response(error_body("conflict", f"{first} Nothing was written; reload and try again.", explained),
                        status=409)

    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away (a restart, a failover, a cut connection): the next request reconnects, so the
        # caller should retry, not report a fault (as after ConcurrencyExhausted, also a 503).
        logger.warning("database unavailable, answered as 503: %s", exc)
        return Response(error_body("database_unavailable", "The database is unavailable; retry in a moment."),
                        status=503, headers={"Retry-After": "2"})

    logger.exception("unhandled error in API view", exc_info=exc)
    request_id = request_id_of(context.get("request"))
    return Response(error_body("server_error", SERVER_ERROR_MESSAGE, {"request_id": request_id}), status=500)


def json_error_response(request: HttpRequest, status: int) -> JsonResponse:
    """The API's answer for an error status Django chose outside DRF."""
    code, message = _STATUS_ERRORS.get(
        status, ("server_error", SERVER_ERROR_MESSAGE) if status >= 500 else ("error", "The request failed.")
    )
    detail: dict[str, Any] = {}
    if status >= 500:
        detail = {"request_id": request_id_of(request)}
    elif status == 404 and not request.path_info.endswith("/") and is_valid_path(
        request.path_info + "/", getattr(request, "urlconf", None)
    ):
        # API paths are not redirected to their slashed form (erp.middleware.CommonMiddleware): say what it is.
        message = f"Not found. API paths end with a slash: {request.path}/"
    return JsonResponse(error_body(code, message, detail), status=status)


def json_response_for_exception(request: HttpRequest, exc: Exception) -> JsonResponse:
    """An exception escaping a plain Django view under /api/, answered as the DRF handler answers its views."""
    answer = exception_handler(exc, {"request": request})
    response = JsonResponse(answer.data, status=answer.status_code)
    for header in ("WWW-Authenticate", "Retry-After"):
        if header in answer:
            response[header] = answer[header]
    return response
