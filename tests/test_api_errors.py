"""Every answer under /api/ is JSON in the error shape, whatever DEBUG says, and no browser is shown
Django's technical 404 page with its listing of every URL pattern.

Each API test runs with DEBUG off and on: Django answers several errors itself (an unresolved URL,
an exception outside DRF, a missing trailing slash on a POST) with its technical HTML pages when
DEBUG is on, and ``make run`` starts with DEBUG=1.

This module doubles as a URLconf (see ``urlpatterns`` below): the real URLs plus views that fail on
purpose, so nothing test-only is added to the real ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from erp import login_guard
from erp.urls import urlpatterns as real_urlpatterns

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

SECRET = "internal-secret-3d9a: the database password is hunter2"
LEAKS = ("hunter2", "internal-secret", "Traceback", 'File "', "RuntimeError", "Using the URLconf", "DEBUG = True")
TECHNICAL_404 = ("Using the URLconf", "Django tried these URL patterns", "DEBUG = True")


class ExplodingApiView(APIView):
    """An API view with a bug: it raises something no handler knows about."""

    def get(self, request: Any) -> Response:
        raise RuntimeError(SECRET)


def exploding_plain_view(request: HttpRequest) -> HttpResponse:
    """A plain Django view under /api/ with a bug: DRF's handler never sees its exception."""
    raise RuntimeError(SECRET)


def missing_plain_view(request: HttpRequest) -> HttpResponse:
    raise Http404(SECRET)


def exploding_browser_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET)


class AlwaysThrottled(BaseThrottle):
    def allow_request(self, request: Any, view: Any) -> bool:
        return False

    def wait(self) -> float:
        return 30.0


class ThrottledApiView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [AlwaysThrottled]

    def get(self, request: Any) -> Response:
        return Response({})


class ExplodingMiddleware:
    """A bug in a middleware: Django, not DRF, answers it (with its traceback page under DEBUG)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "explode-in-middleware" in request.path:
            raise RuntimeError(SECRET)
        return self.get_response(request)


urlpatterns = [
    path("api/v1/test-only/explode/", ExplodingApiView.as_view()),
    path("api/v1/test-only/explode-plain/", exploding_plain_view),
    path("api/v1/test-only/missing-plain/", missing_plain_view),
    path("api/v1/test-only/throttled/", ThrottledApiView.as_view()),
    path("test-only/explode-browser/", exploding_browser_view),
    *real_urlpatterns,
]
handler400 = "erp.views.bad_request"
handler403 = "erp.views.permission_denied"
handler404 = "erp.views.page_not_found"
handler500 = "erp.views.server_error"


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request: Any, settings: Any) -> bool:
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def admin_api(demo: Any) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(get_user_model().objects.get(username="admin"))
    return client


def assert_error(response: Any, status: int, code: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert body["detail"] == ({} if detail is None else detail), body
    text = response.content.decode()
    for leak in LEAKS:
        assert leak not in text, leak
    return body


# --- 404 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/api/v1/no-such-thing/", "/api/v1/warehouses/NE-BOS/nope/", "/api/v2/items/",
                                 "/api/", "/api/no/such/thing/"])
def test_an_unknown_url_under_the_api_is_a_json_404_for_a_get_and_a_post(debug, admin_api, url):
    assert_error(admin_api.get(url), 404, "not_found")
    assert_error(admin_api.post(url, {"a": 1}, format="json"), 404, "not_found")
    assert_error(APIClient().get(url, HTTP_ACCEPT="text/html"), 404, "not_found")


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_a_missing_trailing_slash_under_the_api_is_a_json_404_naming_the_right_path(debug, admin_api, method):
    response = getattr(admin_api, method)("/api/v1/locations", {"code": "X"}, format="json")
    body = assert_error(response, 404, "not_found")
    assert "/api/v1/locations/" in body["message"]
    assert "Location" not in response


def test_an_unknown_url_without_a_slash_is_a_plain_json_404(debug, admin_api):
    body = assert_error(admin_api.post("/api/v1/no-such-thing", {}, format="json"), 404, "not_found")
    assert body["message"] == "Not found."


def test_an_http404_raised_by_a_plain_view_under_the_api_is_a_json_404(debug, demo):
    assert_error(APIClient().get("/api/v1/test-only/missing-plain/"), 404, "not_found")


# --- 400, 405, 406, 413, 415, 429 -----------------------------------------------------------------

def test_a_host_the_server_does_not_serve_is_a_json_400(debug, demo, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    client = APIClient(raise_request_exception=False)
    assert_error(client.get("/api/v1/warehouses/", HTTP_HOST="evil.example"), 400, "bad_request")


def test_a_method_the_resource_does_not_offer_is_a_json_405(debug, admin_api):
    response = admin_api.delete("/api/v1/warehouses/NE-BOS/")
    assert_error(response, 405, "method_not_allowed")
    assert "DELETE" not in response["Allow"]


def test_asking_for_a_format_the_api_does_not_speak_is_a_json_406(debug, admin_api):
    assert_error(admin_api.get("/api/v1/warehouses/", HTTP_ACCEPT="application/xml"), 406, "not_acceptable")


def test_a_body_larger_than_the_upload_limit_is_a_json_413(debug, admin_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"code": "BIG", "name": "' + "x" * 2000 + '"}'
    response = admin_api.post("/api/v1/locations/", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"code", "message", "detail"}
    assert response.json()["code"] == "request_too_large"


def test_a_plain_text_body_is_a_json_415(debug, admin_api):
    response = admin_api.post("/api/v1/locations/", data="code=X", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_a_username_locked_out_after_failed_logins_gets_a_json_429(debug, demo, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    username = f"nobody-{uuid.uuid4().hex[:8]}"
    client = APIClient()
    try:
        for _ in range(2):
            wrong = client.post("/api/v1/auth/token/", {"username": username, "password": "x"}, format="json")
            assert_error(wrong, 400, "invalid_credentials")
        locked = client.post("/api/v1/auth/token/", {"username": username, "password": "x"}, format="json")
        assert_error(locked, 429, "throttled", {"retry_after_seconds": settings.LOGIN_FAILURE_WINDOW})
        assert locked["Retry-After"] == str(settings.LOGIN_FAILURE_WINDOW)
    finally:
        login_guard.clear(username)


def test_a_throttled_request_is_a_json_429_that_says_when_to_retry(debug, admin_api):
    response = admin_api.get("/api/v1/test-only/throttled/")
    assert_error(response, 429, "throttled")
    assert response["Retry-After"] == "30"


@pytest.mark.parametrize("url", [
    "/api/v1/approvals/?warehouse=NE%00BOS",
    "/api/v1/exchange-rates/?from_currency=E%00R",
    "/api/v1/difference-from-core/?region=N%00E",
    "/api/v1/policies/fulfillment.shipping_cutoff/resolve/?warehouse=NE-BOS%00",
    "/api/v1/stock-moves/?sku=CLN%00-0001",
    "/api/v1/sales-orders/?customer=C%00",
])
def test_a_nul_in_any_query_parameter_is_a_400_naming_it_whatever_the_route(debug, admin_api, url):
    name = url.split("?")[1].split("=")[0]
    response = admin_api.get(url)
    assert_error(response, 400, "validation_error", {name: ["Must not contain NUL characters."]})


# --- 500 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/api/v1/test-only/explode/", "/api/v1/test-only/explode-plain/"],
                         ids=["drf-view", "plain-view"])
def test_an_unhandled_error_in_a_view_is_a_json_500_carrying_the_request_id(debug, admin_api, url):
    response = admin_api.get(url, HTTP_X_REQUEST_ID="support-ticket-42")
    assert_error(response, 500, "server_error", {"request_id": "support-ticket-42"})
    assert response["X-Request-ID"] == "support-ticket-42"


def test_a_500_without_an_incoming_request_id_carries_the_one_made_for_it(debug, admin_api):
    response = admin_api.get("/api/v1/test-only/explode-plain/")
    assert_error(response, 500, "server_error", {"request_id": response["X-Request-ID"]})


def test_an_error_in_a_middleware_under_the_api_is_a_json_500_carrying_the_request_id(debug, demo, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.ExplodingMiddleware"]
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/warehouses/explode-in-middleware/", HTTP_X_REQUEST_ID="mw-1")
    assert_error(response, 500, "server_error", {"request_id": "mw-1"})


# --- browser pages -------------------------------------------------------------------------------

def test_a_browser_never_sees_the_url_pattern_listing_for_an_unknown_url(debug, demo):
    response = Client().get("/no-such-page/", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    text = response.content.decode()
    assert "Page not found" in text
    for leak in TECHNICAL_404:
        assert leak not in text


def test_a_browser_never_sees_the_url_pattern_listing_for_a_missing_object(debug, demo):
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    response = client.get("/warehouses/XX-NOPE/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "Page not found" in text
    for leak in TECHNICAL_404:
        assert leak not in text


def test_a_browser_url_without_its_slash_is_still_redirected(debug, demo):
    response = Client().get("/accounts/login")
    assert response.status_code == 301
    assert response["Location"] == "/accounts/login/"


def test_debug_keeps_its_traceback_page_for_a_server_error_in_a_browser_screen(demo, settings):
    settings.DEBUG = True
    response = Client(raise_request_exception=False).get("/test-only/explode-browser/")
    assert response.status_code == 500
    assert "Traceback" in response.content.decode()
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get("/test-only/explode-browser/")
    assert response.status_code == 500
    assert "Traceback" not in response.content.decode() and "hunter2" not in response.content.decode()
