"""The home page per role, and error pages that answer the API in its JSON shape."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import requires_csrf_token

from erp.api.errors import json_error_response
from erp.roles import roles_of
from erp.scoping import scope_of
from warehouses.selectors import warehouses_for


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = {
        "roles": roles_of(request.user),
        "scope": scope_of(request.user),
        "warehouses": warehouses_for(request.user),
    }
    return render(request, "home.html", context)


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if _is_api(request):
        return json_error_response(400, "bad_request", "The request could not be understood.")
    return render(request, "errors/400.html", status=400)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if _is_api(request):
        return json_error_response(403, "permission_denied", "Your role may not do this.")
    return render(request, "errors/403.html", status=403)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if _is_api(request):
        return json_error_response(404, "not_found", "Not found.")
    return render(request, "errors/404.html", status=404)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return json_error_response(500, "server_error", "An internal error occurred; it has been logged.")
    return render(request, "errors/500.html", status=500)
