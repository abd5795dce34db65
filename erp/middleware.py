"""Request ids, and error answers that are the project's whatever DEBUG says.

The request id is taken from X-Request-ID when a proxy sets one, else made here; logged and echoed.
"""

from __future__ import annotations

import re
import uuid
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware import common
from django.utils import timezone
from rest_framework.response import Response

from erp import views
from erp.api.errors import error_body, is_api_request, json_error_response, json_response_for_exception
from erp.logging import request_id_var
from erp.scoping import scope_of, time_zone_name_of

_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]  # our own attribute; erp.api.errors.request_id_of reads it with getattr
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ErrorResponseMiddleware:
    """Errors look the way the project decides, not the way DEBUG does.

    Under /api/ every answer is JSON in the error shape. DRF's handler answers its own views; this
    answers what Django would otherwise answer in HTML, or under DEBUG with its technical pages
    (every URL pattern, or a traceback): an unresolved URL, an exception escaping a plain view or
    a middleware, a bad Host header. A 500 carries the request id, for the caller to quote.

    Elsewhere, under DEBUG, a 404 is the project's own page rather than Django's technical 404,
    which lists the URL patterns to anyone who asks, and ``make run`` starts with DEBUG=1. DEBUG
    keeps its other conveniences, the traceback page for a 500 in a screen among them.

    It sits just inside ``RequestIdMiddleware`` so that it also sees what the other middleware raise.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request):
            refused = _query_with_nul(request)
            if refused is not None:
                return refused
        response = self.get_response(request)
        if is_api_request(request):
            if response.status_code >= 400 and not _is_json(response):
                return _with_body_of(response, json_error_response(request, response.status_code))
        elif settings.DEBUG and response.status_code == 404 and request.resolver_match is None:
            # The URL resolved to nothing: Django's answer under DEBUG is the technical 404.
            return _with_body_of(response, views.page_not_found(request))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_api_request(request):
            return json_response_for_exception(request, exception)
        if settings.DEBUG and isinstance(exception, Http404):
            return views.page_not_found(request, exception)
        return None


class CommonMiddleware(common.CommonMiddleware):
    """Django's, except that an API path missing its trailing slash is not redirected.

    A redirect turns a POST into a GET in most clients, and under DEBUG Django refuses to redirect a
    POST with a RuntimeError page. The answer is a JSON 404 that names the path with its slash.
    """

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        return not is_api_request(request) and super().should_redirect_with_slash(request)


def _query_with_nul(request: HttpRequest) -> HttpResponse | None:
    """A 400 for a query parameter holding NUL, which PostgreSQL refuses in any string (a 500 in whichever
    view handed it on): refused once here for every API route rather than parameter by parameter."""
    bad = sorted({name for name, values in request.GET.lists() if any("\x00" in value for value in values)})
    if not bad:
        return None
    return JsonResponse(error_body("validation_error", "The input is not valid.",
                                   {name: ["Must not contain NUL characters."] for name in bad}), status=400)


def _is_json(response: HttpResponse) -> bool:
    # A DRF response to a browser is the browsable API's HTML page, showing the same error body.
    return isinstance(response, Response) or response.get("Content-Type", "").startswith("application/json")


def _with_body_of(response: HttpResponse, replacement: HttpResponse) -> HttpResponse:
    """``response`` with the body of ``replacement``, keeping the headers and cookies set on the way out."""
    if response.streaming:
        return replacement
    response.content = replacement.content
    response["Content-Type"] = replacement["Content-Type"]
    if response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    return response


class TimeZoneMiddleware:
    """Screens show date-times on the reader's clock: the time zone of the warehouses in their scope when
    those share one (an NE operator reads New York time), else the site's (``settings.TIME_ZONE``).

    The zone is found once per scope and kept in the session beside the scope it was found for, so a
    grant that changes the scope changes the clock on the next page. API answers stay in UTC ISO 8601,
    as the contract says, and are not touched.
    """

    SESSION_KEY = "concord_time_zone"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = None if is_api_request(request) else self.zone_of(request)
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def zone_of(self, request: HttpRequest) -> zoneinfo.ZoneInfo | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return None
        scope = scope_of(user)
        if scope.enterprise or not scope.warehouse_ids:
            return None
        key = ",".join(str(pk) for pk in sorted(scope.warehouse_ids))
        kept = request.session.get(self.SESSION_KEY)
        if isinstance(kept, list) and len(kept) == 2 and kept[0] == key:
            name = kept[1]
        else:
            name = time_zone_name_of(user)
            request.session[self.SESSION_KEY] = [key, name]
        try:
            return zoneinfo.ZoneInfo(name) if name else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None
