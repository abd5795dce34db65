"""The conventions every /api/v1/ endpoint shares: error shape, pagination, request ids.

The 500 tests mount the views that fail on purpose of ``tests.test_api_errors``' URLconf, without
adding anything to the real URLs.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Group
from rest_framework.exceptions import ParseError
from rest_framework.test import APIClient

from erp.api.parsers import ApiJSONParser, RequestTooLarge

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"code", "message", "detail"}


FAILING_URLS = "tests.test_api_errors"  # its URLconf mounts views that fail on purpose under /api/


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["detail"], dict)
    return body


def valid_location(code: str = "CONV-1") -> dict[str, Any]:
    return {"code": code, "warehouse": "NE-BOS", "kind": "storage", "parent": "STOR"}


# --- 400 ---------------------------------------------------------------------------------------

def test_malformed_json_is_a_400_malformed_request(api_as):
    response = api_as("admin").post("/api/v1/locations/", data='{"code": "X",', content_type="application/json")
    assert_error(response, 400, "malformed_request")


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000 + "]" * 100_000, '{"a":' * 5_000 + "1" + "}" * 5_000, '{"code": NaN}', "\xff\xfe", ""],
    ids=["deep-array", "deep-object", "nan", "not-utf8", "empty"],
)
def test_hostile_bodies_are_a_400_never_a_500(api_as, body):
    client = api_as("admin")
    client.raise_request_exception = False
    response = client.post("/api/v1/locations/", data=body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"malformed_request", "validation_error"}


def test_a_body_larger_than_the_upload_limit_is_a_413(api_as, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = api_as("admin")
    body = '{"code": "BIG", "name": "' + "x" * 2000 + '"}'
    response = client.post("/api/v1/locations/", data=body, content_type="application/json")
    assert_error(response, 413, "request_too_large")
    small = client.post("/api/v1/locations/", valid_location(), format="json")
    assert small.status_code == 201


def test_the_json_parser_bounds_a_streamed_body_too(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    parser = ApiJSONParser()
    with pytest.raises(RequestTooLarge):
        parser.parse(io.BytesIO(b'{"name": "' + b"x" * 2000 + b'"}'))
    assert parser.parse(io.BytesIO(b'{"name": "x"}')) == {"name": "x"}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200_000
    with pytest.raises(ParseError):
        parser.parse(io.BytesIO(b"[" * 50_000 + b"]" * 50_000))  # within the limit, nested beyond the stack


def test_a_request_for_a_host_the_server_does_not_serve_is_a_json_400(demo):
    response = APIClient().get("/api/v1/warehouses/", HTTP_HOST="evil.example")
    assert_error(response, 400, "bad_request")


def test_a_json_body_that_is_not_an_object_is_a_400_validation_error(api_as):
    response = api_as("admin").post("/api/v1/locations/", data="[1, 2]", content_type="application/json")
    body = assert_error(response, 400, "validation_error")
    assert "non_field_errors" in body["detail"]


def test_invalid_input_is_a_400_validation_error_naming_each_field(api_as):
    response = api_as("admin").post(
        "/api/v1/locations/", {"code": "lower case!", "warehouse": "NE-BOS"}, format="json"
    )
    body = assert_error(response, 400, "validation_error")
    assert set(body["detail"]) == {"code", "kind"}
    assert all(isinstance(messages, list) and messages for messages in body["detail"].values())


def test_unknown_input_fields_are_refused_not_dropped(api_as):
    response = api_as("admin").post(
        "/api/v1/locations/", {**valid_location(), "is_superuser": True}, format="json"
    )
    body = assert_error(response, 400, "validation_error")
    assert body["detail"] == {"is_superuser": ["Unknown field."]}


def test_a_reference_outside_the_callers_scope_is_reported_like_a_missing_one(api_as, user):
    supervisor = user("ne.operator")
    supervisor.groups.add(Group.objects.get(name="Warehouse supervisor"))
    client = APIClient()
    client.force_authenticate(supervisor)
    outside = client.post("/api/v1/locations/", {**valid_location(), "warehouse": "EU-RTM"}, format="json")
    missing = client.post("/api/v1/locations/", {**valid_location(), "warehouse": "XX-NOPE"}, format="json")
    outside_body = assert_error(outside, 400, "validation_error")
    missing_body = assert_error(missing, 400, "validation_error")
    assert set(outside_body["detail"]) == {"warehouse"}
    assert outside_body["detail"]["warehouse"][0].replace("EU-RTM", "?") == (
        missing_body["detail"]["warehouse"][0].replace("XX-NOPE", "?")
    )


# --- 401 and 403 -------------------------------------------------------------------------------

@pytest.mark.smoke
def test_no_credentials_is_a_401_that_names_the_token_scheme():
    response = APIClient().get("/api/v1/warehouses/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_an_unknown_token_is_a_401_authentication_failed(demo):
    response = APIClient().get("/api/v1/warehouses/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_error(response, 401, "authentication_failed")


@pytest.mark.parametrize(
    "header", ["Token", "Token a b", "Token \xff\xfe", "Token \u20ac\udcff", "Token " + "a" * 5000, "Token \x00"],
    ids=["no-token", "two-tokens", "latin-1", "not-encodable", "huge", "nul"],
)
def test_a_garbled_authorization_header_is_a_401_not_a_500(demo, header):
    response = APIClient().get("/api/v1/warehouses/", HTTP_AUTHORIZATION=header)
    assert_error(response, 401, "authentication_failed")


def test_a_role_without_the_permission_gets_403(api_as):
    response = api_as("ne.operator").post(
        "/api/v1/warehouses/",
        {"code": "NE-BOS2", "name": "x", "region": "NE", "legal_entity": "US", "timezone": "UTC"},
        format="json",
    )
    assert_error(response, 403, "permission_denied")


# --- 404 ---------------------------------------------------------------------------------------

def test_an_unknown_natural_key_is_a_404(api_as):
    assert_error(api_as("admin").get("/api/v1/warehouses/XX-NOPE/"), 404, "not_found")


def test_an_object_outside_the_callers_scope_is_a_404_like_a_missing_one(api_as):
    client = api_as("ne.operator")
    outside = assert_error(client.get("/api/v1/warehouses/EU-RTM/"), 404, "not_found")
    missing = assert_error(client.get("/api/v1/warehouses/XX-NOPE/"), 404, "not_found")
    assert outside == missing


def test_an_unknown_url_under_the_api_is_a_json_404_in_the_error_shape(api_as):
    assert_error(api_as("admin").get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error(APIClient().get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error(api_as("admin").post("/api/v1/no-such-thing/", {}, format="json"), 404, "not_found")


def test_an_unknown_url_outside_the_api_is_still_an_html_page(demo):
    response = APIClient().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_page_number_past_the_end_is_a_404(api_as):
    assert_error(api_as("admin").get("/api/v1/warehouses/?page=99"), 404, "not_found")


# --- 405 and 415 -------------------------------------------------------------------------------

def test_a_method_the_resource_does_not_offer_is_a_405(api_as):
    response = api_as("admin").delete("/api/v1/warehouses/NE-BOS/")
    assert_error(response, 405, "method_not_allowed")
    assert "DELETE" not in response["Allow"]


def test_a_form_encoded_post_is_a_415(api_as):
    response = api_as("admin").post("/api/v1/locations/", valid_location(), format="multipart")
    assert_error(response, 415, "unsupported_media_type")
    response = api_as("admin").post(
        "/api/v1/locations/", "code=X&kind=storage", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415, "unsupported_media_type")


# --- 500 ---------------------------------------------------------------------------------------

@pytest.mark.urls(FAILING_URLS)
def test_an_unhandled_error_in_an_api_view_is_a_500_that_reveals_nothing(api_as):
    client = api_as("admin")
    client.raise_request_exception = False
    response = client.get("/api/v1/test-only/explode/")
    body = assert_error(response, 500, "server_error")
    assert body["detail"] == {"request_id": response["X-Request-ID"]}  # for the caller to quote, nothing more
    text = response.content.decode()
    for leak in ("hunter2", "internal-secret", "Traceback", "RuntimeError", "File \""):
        assert leak not in text
    assert response["X-Request-ID"]


@pytest.mark.urls(FAILING_URLS)
def test_an_unhandled_error_in_a_plain_view_under_the_api_is_a_json_500(demo):
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/test-only/explode-plain/")
    assert_error(response, 500, "server_error")
    assert response["X-Request-ID"]
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


# --- pagination --------------------------------------------------------------------------------

def test_lists_are_paginated_with_count_next_previous_results(api_as):
    body = api_as("admin").get("/api/v1/locations/?page_size=5").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 168
    assert len(body["results"]) == 5
    assert body["previous"] is None
    assert "page=2" in body["next"] and "page_size=5" in body["next"]


def test_following_next_walks_every_row_exactly_once(api_as):
    client = api_as("ne.operator")
    url, seen = "/api/v1/locations/?page_size=10", []
    while url:
        body = client.get(url).json()
        seen += [(row["warehouse"], row["code"]) for row in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 56  # NE-BOS and NE-NYC, 28 locations each
    assert {warehouse for warehouse, _ in seen} == {"NE-BOS", "NE-NYC"}


def test_page_size_defaults_to_50_and_is_capped_at_500(api_as):
    from erp.api.pagination import StandardPagination

    client = api_as("admin")
    assert len(client.get("/api/v1/locations/").json()["results"]) == 50
    assert StandardPagination.max_page_size == 500
    everything = client.get("/api/v1/locations/?page_size=10000").json()
    assert len(everything["results"]) == 168 and everything["next"] is None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StandardPagination, "max_page_size", 5)
        capped = client.get("/api/v1/locations/?page_size=10000").json()
    assert len(capped["results"]) == 5
    assert "page_size=10000" in capped["next"]


@pytest.mark.parametrize("page_size", ["0", "-3", "abc", ""])
def test_a_nonsensical_page_size_falls_back_to_the_default(api_as, page_size):
    response = api_as("admin").get(f"/api/v1/locations/?page_size={page_size}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 50


# --- request ids -------------------------------------------------------------------------------

def test_every_response_carries_a_request_id(api_as):
    client = api_as("admin")
    responses = [
        client.get("/api/v1/warehouses/"),
        client.get("/api/v1/no-such-thing/"),
        client.delete("/api/v1/warehouses/NE-BOS/"),
        APIClient().get("/api/v1/warehouses/"),
    ]
    ids = [response["X-Request-ID"] for response in responses]
    assert all(ids)
    assert len(set(ids)) == len(ids)


def test_a_valid_incoming_request_id_is_echoed_and_an_invalid_one_replaced(api_as):
    client = api_as("admin")
    echoed = client.get("/api/v1/warehouses/", HTTP_X_REQUEST_ID="lb-7f3a.42_x")
    assert echoed["X-Request-ID"] == "lb-7f3a.42_x"
    for bad in ("has spaces", "x" * 65, "semi;colon", "new\\nline"):
        replaced = client.get("/api/v1/warehouses/", HTTP_X_REQUEST_ID=bad)
        assert replaced["X-Request-ID"] and replaced["X-Request-ID"] != bad
