"""Test session plumbing: real PostgreSQL and Redis (embedded unless DATABASE_URL/REDIS_URL are set)."""

from __future__ import annotations

import pytest

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
