"""``Idempotency-Key`` on creating POSTs: one object per user and key, whatever the timing."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from erp.models import IdempotencyKey
from warehouses.models import Location

URL = "/api/v1/locations/"


def location(code: str = "IDEM-1", **extra: Any) -> dict[str, Any]:
    return {"code": code, "warehouse": "NE-BOS", "kind": "storage", "parent": "STOR", **extra}


def post(client: APIClient, body: Any, key: str | None) -> Any:
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(URL, body, format="json", **headers)


def created(code: str) -> int:
    return Location.objects.filter(warehouse__code="NE-BOS", code=code).count()


@pytest.mark.django_db
class TestSequentialRequests:
    @pytest.mark.smoke
    def test_the_same_key_and_body_replays_the_first_response_without_a_second_object(self, api_as):
        client = api_as("admin")
        first = post(client, location(), "k-1")
        second = post(client, location(), "k-1")
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert second["Idempotent-Replayed"] == "true"
        assert not first.has_header("Idempotent-Replayed")
        assert created("IDEM-1") == 1

    def test_key_order_in_the_json_body_does_not_matter(self, api_as):
        client = api_as("admin")
        first = post(client, location(), "k-order")
        body = location()
        reordered = {name: body[name] for name in reversed(list(body))}
        assert post(client, reordered, "k-order").json() == first.json()
        assert created("IDEM-1") == 1

    def test_the_same_key_with_a_different_body_is_a_409(self, api_as):
        client = api_as("admin")
        assert post(client, location(), "k-2").status_code == 201
        response = post(client, location("IDEM-2"), "k-2")
        assert response.status_code == 409
        body = response.json()
        assert set(body) == {"code", "message", "detail"}
        assert body["code"] == "idempotency_key_reused"
        assert created("IDEM-2") == 0

    def test_the_same_key_on_another_endpoint_is_a_409(self, api_as):
        client = api_as("admin")
        assert post(client, location(), "k-cross").status_code == 201
        response = client.post(
            "/api/v1/warehouses/",
            {"code": "NE-NEW", "name": "New", "region": "NE", "legal_entity": "US", "timezone": "UTC"},
            format="json", HTTP_IDEMPOTENCY_KEY="k-cross",
        )
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_key_reused"

    def test_keys_belong_to_a_user_so_another_user_with_the_same_key_creates_their_own(self, api_as):
        admin_response = post(api_as("admin"), location("IDEM-A"), "shared-key")
        integrator_response = post(api_as("integrator"), location("IDEM-B"), "shared-key")
        assert admin_response.status_code == integrator_response.status_code == 201
        assert integrator_response.json()["code"] == "IDEM-B"
        assert created("IDEM-A") == created("IDEM-B") == 1
        assert IdempotencyKey.objects.filter(key="shared-key").count() == 2

    def test_a_failed_request_does_not_burn_the_key(self, api_as):
        client = api_as("admin")
        invalid = post(client, location(kind="no-such-kind"), "k-retry")
        assert invalid.status_code == 400
        assert invalid.json()["code"] == "validation_error"
        assert not IdempotencyKey.objects.filter(key="k-retry").exists()
        fixed = post(client, location(), "k-retry")
        assert fixed.status_code == 201
        assert created("IDEM-1") == 1

    def test_without_a_key_every_post_is_a_new_attempt(self, api_as):
        client = api_as("admin")
        assert post(client, location(), None).status_code == 201
        duplicate = post(client, location(), None)
        assert duplicate.status_code == 400
        assert "code" in duplicate.json()["detail"]
        assert not IdempotencyKey.objects.exists()

    @pytest.mark.parametrize("key", ["x" * 256, "   ", "", "tab\there", "nul\x00"])
    def test_a_key_that_is_empty_too_long_or_has_control_characters_is_a_400(self, api_as, key):
        response = post(api_as("admin"), location(), key)
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "validation_error"
        assert set(body["detail"]) == {"Idempotency-Key"}
        assert created("IDEM-1") == 0

    def test_a_key_of_exactly_255_characters_is_accepted(self, api_as):
        client = api_as("admin")
        assert post(client, location(), "k" * 255).status_code == 201
        assert post(client, location(), "k" * 255).status_code == 201
        assert created("IDEM-1") == 1

    def test_an_unauthenticated_request_with_a_key_is_a_401_and_stores_nothing(self, demo):
        response = post(APIClient(), location(), "k-anon")
        assert response.status_code == 401
        assert not IdempotencyKey.objects.exists()

    def test_a_role_without_the_permission_gets_403_and_stores_nothing(self, api_as):
        response = api_as("planner").post(URL, location(), format="json", HTTP_IDEMPOTENCY_KEY="k-planner")
        assert response.status_code == 403
        assert not IdempotencyKey.objects.exists()


def _fire_concurrently(bodies_and_keys: list[tuple[dict[str, Any], str]], username: str) -> list[Any]:
    """POST each (body, key) from its own thread, all released at once; return the responses."""
    barrier = threading.Barrier(len(bodies_and_keys))
    results: list[Any] = [None] * len(bodies_and_keys)

    def worker(index: int, body: dict[str, Any], key: str) -> None:
        try:
            client = APIClient(raise_request_exception=False)
            client.force_authenticate(get_user_model().objects.get(username=username))
            barrier.wait(timeout=30)
            results[index] = post(client, body, key)
        except BaseException as exc:  # reported to the main thread, which asserts on it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, body, key)) for i, (body, key) in enumerate(bodies_and_keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    return results


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_eight_simultaneous_requests_with_one_key_create_exactly_one_location(demo):
    responses = _fire_concurrently([(location("RACE-1"), "race-key")] * 8, "admin")
    assert not [r for r in responses if isinstance(r, BaseException)], responses
    assert [r.status_code for r in responses] == [201] * 8, [r.content for r in responses]
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert created("RACE-1") == 1
    assert sum(r.has_header("Idempotent-Replayed") for r in responses) == 7
    assert IdempotencyKey.objects.filter(key="race-key").count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_eight_simultaneous_requests_with_eight_keys_create_eight_locations(demo):
    responses = _fire_concurrently([(location(f"RACE-{n}"), f"race-key-{n}") for n in range(8)], "admin")
    assert not [r for r in responses if isinstance(r, BaseException)], responses
    assert [r.status_code for r in responses] == [201] * 8, [r.content for r in responses]
    assert sorted(r.json()["code"] for r in responses) == [f"RACE-{n}" for n in range(8)]
    assert Location.objects.filter(code__startswith="RACE-").count() == 8
