"""Test session plumbing (real PostgreSQL and Redis, embedded unless DATABASE_URL/REDIS_URL are set) and the
fixtures every test directory shares: the demo network, loaded once per session, and clients per demo user."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from erp import embedded

_started_here = False


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # Demo users are created in every fresh test database; a fast hasher keeps that cheap.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_sessionstart(session: pytest.Session) -> None:
    global _started_here
    was_running = embedded.configured() or embedded.running()
    embedded.bootstrap()
    _started_here = not was_running


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _started_here:
        embedded.stop()



def _ensure_demo() -> None:
    from erp import demo as demo_module
    from warehouses.models import Warehouse

    if not Warehouse.objects.filter(code="NE-BOS").exists():
        demo_module.load(fulfil=False)  # tests count pick lists, shipments and returns from zero


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
