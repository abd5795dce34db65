"""Shared fixtures: the demo network (loaded once per session), API clients per demo user."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient


def _ensure_demo() -> None:
    from erp import demo as demo_module
    from warehouses.models import Warehouse

    if not Warehouse.objects.filter(code="NE-BOS").exists():
        demo_module.load()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """Load the demo network once into the test database; each test then rolls back its changes."""
    with django_db_blocker.unblock():
        _ensure_demo()


@pytest.fixture
def demo(request: Any) -> None:
    """The demo network. Transactional tests flush the database afterwards; this reloads it."""
    if "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        request.getfixturevalue("transactional_db")
    else:
        request.getfixturevalue("db")
    _ensure_demo()


@pytest.fixture
def user(demo: Any) -> Any:
    """``user("ne.operator")`` returns that demo user."""
    return lambda username: get_user_model().objects.get(username=username)


@pytest.fixture
def api_as(demo: Any) -> Any:
    """``api_as("ne.operator")`` returns an APIClient authenticated as that demo user."""

    def make(username: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(get_user_model().objects.get(username=username))
        return client

    return make
