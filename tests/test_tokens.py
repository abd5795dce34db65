"""API tokens: issued for a username and password, stored hashed, revocable; sessions work too."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from erp import services
from erp.api.authentication import token_with_user
from erp.exceptions import NotFound
from erp.models import ApiToken, IdempotencyKey
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
REVOKE_URL = "/api/v1/auth/token/revoke/"


def issue(username: str = "integrator", password: str = "demo", **extra: Any) -> Any:
    return APIClient().post(TOKEN_URL, {"username": username, "password": password, **extra}, format="json")


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == code
    return body


@pytest.mark.smoke
def test_a_username_and_password_get_a_token_that_authenticates_api_calls(demo):
    response = issue()
    assert response.status_code == 201
    assert set(response.json()) == {"token"}
    token = response.json()["token"]
    listing = with_token(token).get("/api/v1/warehouses/")
    assert listing.status_code == 200
    assert listing.json()["count"] == 6


def test_only_a_sha256_digest_of_the_token_is_stored(demo):
    token = issue(name="erp-sync").json()["token"]
    row = ApiToken.objects.get(user__username="integrator", name="erp-sync")
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(value) for value in ApiToken.objects.filter(pk=row.pk).values().get().values()]
    assert not any(token in value for value in stored)
    assert row.prefix == token[:8] and len(row.prefix) < len(token) // 4


def test_each_issue_is_a_new_independent_token(demo):
    first, second = issue().json()["token"], issue().json()["token"]
    assert first != second
    assert ApiToken.objects.filter(user__username="integrator").count() == 2


def test_a_revoked_token_is_refused_with_401(demo):
    token = issue().json()["token"]
    client = with_token(token)
    assert client.delete(REVOKE_URL).status_code == 204
    assert_error(client.get("/api/v1/warehouses/"), 401, "authentication_failed")
    assert_error(client.delete(REVOKE_URL), 401, "authentication_failed")
    assert ApiToken.objects.get(digest=ApiToken.digest_of(token)).revoked_at is not None


def test_revoking_one_token_leaves_the_users_other_tokens_working(demo):
    kept, revoked = issue().json()["token"], issue().json()["token"]
    with_token(revoked).delete(REVOKE_URL)
    assert with_token(kept).get("/api/v1/warehouses/").status_code == 200


def test_revoking_needs_the_token_itself_not_a_session(demo):
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username="integrator"))
    assert_error(client.delete(REVOKE_URL), 400, "invalid_credentials")
    assert_error(APIClient().delete(REVOKE_URL), 401, "not_authenticated")


def test_an_expired_token_is_refused_with_401(demo):
    token = issue().json()["token"]
    ApiToken.objects.filter(digest=ApiToken.digest_of(token)).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(with_token(token).get("/api/v1/warehouses/"), 401, "authentication_failed")


def test_a_wrong_password_and_an_unknown_user_get_the_same_400_invalid_credentials(demo):
    wrong_password = assert_error(issue(password="not-demo"), 400, "invalid_credentials")
    unknown_user = assert_error(issue(username="nobody"), 400, "invalid_credentials")
    assert wrong_password == unknown_user
    assert not ApiToken.objects.exists()


def test_an_inactive_user_gets_no_token_and_their_existing_tokens_stop_working(demo):
    token = issue().json()["token"]
    get_user_model().objects.filter(username="integrator").update(is_active=False)
    assert_error(issue(), 400, "invalid_credentials")
    assert_error(with_token(token).get("/api/v1/warehouses/"), 401, "authentication_failed")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": "integrator", "password": "demo", "is_superuser": True}, "is_superuser"),
        ({"username": "integrator", "password": "demo", "expires_at": "2999-01-01T00:00:00Z"}, "expires_at"),
        ({"username": "integrator"}, "password"),
        ({"password": "demo"}, "username"),
    ],
)
def test_the_token_endpoint_refuses_unknown_and_missing_fields(demo, body, field):
    response = APIClient().post(TOKEN_URL, body, format="json")
    detail = assert_error(response, 400, "validation_error")["detail"]
    assert set(detail) == {field}
    assert not ApiToken.objects.exists()


def test_the_token_endpoint_only_accepts_json_posts(demo):
    assert_error(APIClient().get(TOKEN_URL), 405, "method_not_allowed")
    form = APIClient().post(TOKEN_URL, {"username": "integrator", "password": "demo"}, format="multipart")
    assert_error(form, 415, "unsupported_media_type")
    garbled = APIClient().post(TOKEN_URL, '{"username":', content_type="application/json")
    assert_error(garbled, 400, "malformed_request")


def test_a_stale_token_in_the_header_does_not_stop_getting_a_new_one(demo):
    client = with_token("revoked-or-garbage")
    response = client.post(TOKEN_URL, {"username": "integrator", "password": "demo"}, format="json")
    assert response.status_code == 201


def test_using_a_token_records_when_it_was_last_used(demo):
    token = issue().json()["token"]
    assert ApiToken.objects.get().last_used_at is None
    with_token(token).get("/api/v1/regions/")
    assert ApiToken.objects.get().last_used_at is not None


def test_a_token_carries_its_users_scope(demo):
    token = issue(username="ne.operator").json()["token"]
    codes = [row["code"] for row in with_token(token).get("/api/v1/warehouses/").json()["results"]]
    assert codes == ["NE-BOS", "NE-NYC"]


def test_a_token_is_read_with_its_user_and_the_users_permissions_in_one_query(demo):
    token = issue().json()["token"]
    stored = ApiToken.objects.select_related("user").get(digest=ApiToken.digest_of(token))

    with CaptureQueriesContext(connection) as captured:
        found = token_with_user(ApiToken.digest_of(token))
        assert found is not None
        permissions = (found.user.get_user_permissions(), found.user.get_group_permissions(),
                       found.user.get_all_permissions(), found.user.has_perm("orders.add_salesorder"))

    assert len(captured) == 1
    fresh = get_user_model().objects.get(username="integrator")
    assert permissions == (fresh.get_user_permissions(), fresh.get_group_permissions(), fresh.get_all_permissions(),
                           True)
    assert permissions[0] and permissions[1]  # the integrator has both: the enterprise scope and a role
    for field in ApiToken._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(stored, field.attname), field.name
    for field in get_user_model()._meta.concrete_fields:
        assert getattr(found.user, field.attname) == getattr(stored.user, field.attname), field.name
    assert token_with_user(ApiToken.digest_of("never-issued")) is None


def test_a_role_or_scope_taken_away_counts_from_the_next_request_with_the_same_token(demo):
    token = issue(username="ne.operator").json()["token"]
    client = with_token(token)
    assert client.get("/api/v1/warehouses/").json()["count"] == 2
    operator = get_user_model().objects.get(username="ne.operator")

    services.scope_revoke(user=operator, actor=None, warehouses=list(Warehouse.objects.filter(code="NE-NYC")))
    assert [row["code"] for row in client.get("/api/v1/warehouses/").json()["results"]] == ["NE-BOS"]
    operator.groups.clear()
    assert_error(client.get("/api/v1/warehouses/"), 403, "permission_denied")


def test_a_superusers_token_may_do_everything_and_an_inactive_users_nothing(demo):
    token = issue(username="admin").json()["token"]
    assert with_token(token).get("/api/v1/sales-orders/").status_code == 200
    get_user_model().objects.filter(username="admin").update(is_active=False)
    assert_error(with_token(token).get("/api/v1/sales-orders/"), 401, "authentication_failed")


# --- sessions ----------------------------------------------------------------------------------

def test_a_logged_in_browser_session_reads_the_api_as_json_and_browsable_html(demo):
    client = Client()
    assert client.login(username="ne.operator", password="demo")
    as_json = client.get("/api/v1/warehouses/", HTTP_ACCEPT="application/json")
    assert as_json.status_code == 200
    assert [row["code"] for row in as_json.json()["results"]] == ["NE-BOS", "NE-NYC"]
    as_html = client.get("/api/v1/warehouses/", HTTP_ACCEPT="text/html")
    assert as_html.status_code == 200
    assert as_html["Content-Type"].startswith("text/html")
    assert b"NE-BOS" in as_html.content


def test_the_browsable_api_renders_a_create_form_for_an_admin(demo):
    client = Client()
    assert client.login(username="admin", password="demo")
    for url in ("/api/v1/locations/", "/api/v1/warehouses/", "/api/v1/warehouses/NE-BOS/", TOKEN_URL):
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code in (200, 405), (url, response.status_code)
        assert response["Content-Type"].startswith("text/html")


def test_a_session_write_without_a_csrf_token_is_refused_with_403(demo):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="admin", password="demo")
    response = client.post(
        "/api/v1/locations/", {"code": "CSRF-1", "warehouse": "NE-BOS", "kind": "storage"},
        content_type="application/json",
    )
    assert_error(response, 403, "permission_denied")


# --- admin -------------------------------------------------------------------------------------

@pytest.fixture
def admin_client_logged_in(demo: Any) -> Client:
    client = Client()
    assert client.login(username="admin", password="demo")
    return client


def test_the_token_admin_never_shows_the_digest(admin_client_logged_in):
    token = issue().json()["token"]
    row = ApiToken.objects.get()
    for url in ("/admin/erp/apitoken/", f"/admin/erp/apitoken/{row.pk}/change/"):
        response = admin_client_logged_in.get(url)
        assert response.status_code == 200
        content = response.content.decode()
        assert row.digest not in content
        assert token not in content
        assert 'name="digest"' not in content
        assert row.prefix in content


def test_tokens_cannot_be_added_edited_or_deleted_in_the_admin(admin_client_logged_in):
    issue()
    row = ApiToken.objects.get()
    assert admin_client_logged_in.get("/admin/erp/apitoken/add/").status_code == 403
    assert admin_client_logged_in.get(f"/admin/erp/apitoken/{row.pk}/delete/").status_code == 403
    admin_client_logged_in.post(f"/admin/erp/apitoken/{row.pk}/change/", {"name": "renamed", "revoked_at": ""})
    assert ApiToken.objects.get().name == ""


def test_the_admin_revoke_action_revokes_through_the_service(admin_client_logged_in):
    token = issue().json()["token"]
    row = ApiToken.objects.get()
    response = admin_client_logged_in.post(
        "/admin/erp/apitoken/", {"action": "revoke", "_selected_action": [row.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Revoked 1 token(s)." in response.content.decode()
    assert ApiToken.objects.get().revoked_at is not None
    assert_error(with_token(token).get("/api/v1/warehouses/"), 401, "authentication_failed")


def test_the_revoke_service_lets_users_revoke_only_their_own_tokens(demo):
    issue(username="ne.operator")
    row = ApiToken.objects.get()
    planner = get_user_model().objects.get(username="planner")
    with pytest.raises(NotFound):
        services.api_token_revoke(token_id=row.pk, actor=planner)
    assert ApiToken.objects.get().revoked_at is None


def test_idempotency_keys_are_read_only_in_the_admin(admin_client_logged_in):
    api = APIClient()
    api.force_authenticate(get_user_model().objects.get(username="admin"))
    created = api.post(
        "/api/v1/locations/", {"code": "ADM-1", "warehouse": "NE-BOS", "kind": "storage"}, format="json",
        HTTP_IDEMPOTENCY_KEY="admin-readonly-1",
    )
    assert created.status_code == 201
    row = IdempotencyKey.objects.get(key="admin-readonly-1")
    assert admin_client_logged_in.get("/admin/erp/idempotencykey/").status_code == 200
    assert admin_client_logged_in.get(f"/admin/erp/idempotencykey/{row.pk}/change/").status_code == 200
    assert admin_client_logged_in.get("/admin/erp/idempotencykey/add/").status_code == 403
    assert admin_client_logged_in.get(f"/admin/erp/idempotencykey/{row.pk}/delete/").status_code == 403


def test_repeated_wrong_passwords_lock_that_username_out_even_with_the_right_password(demo, settings):
    from erp import login_guard

    settings.LOGIN_FAILURE_LIMIT = 3
    login_guard.clear("buyer")
    client = APIClient()
    try:
        for _ in range(3):
            wrong = client.post("/api/v1/auth/token/", {"username": "buyer", "password": "guess"}, format="json")
            assert wrong.status_code == 400
        locked = client.post("/api/v1/auth/token/", {"username": "buyer", "password": "demo"}, format="json")
        assert locked.status_code == 429
        assert locked.json()["code"] == "throttled"
        other = client.post("/api/v1/auth/token/", {"username": "approver", "password": "demo"}, format="json")
        assert other.status_code == 201
    finally:
        login_guard.clear("buyer")
    assert client.post("/api/v1/auth/token/", {"username": "buyer", "password": "demo"},
                       format="json").status_code == 201


def test_stored_idempotency_responses_are_purged_after_their_time_to_live(demo):
    user = get_user_model().objects.get(username="admin")
    common = {"user": user, "method": "POST", "path": "/api/v1/locations/", "request_hash": "0" * 64,
              "status_code": 201, "response_body": {}}
    old = IdempotencyKey.objects.create(key="old", created_at=timezone.now() - timedelta(hours=100), **common)
    fresh = IdempotencyKey.objects.create(key="fresh", **common)
    assert services.idempotency_keys_purge(older_than=timedelta(hours=72)) == 1
    assert not IdempotencyKey.objects.filter(pk=old.pk).exists()
    assert IdempotencyKey.objects.filter(pk=fresh.pk).exists()
