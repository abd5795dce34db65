"""docker-compose.yml is the production shape; with no Docker engine here, its structure is tested."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_compose_has_web_worker_beat_postgres_redis_and_a_one_shot_migrate(compose):
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


@pytest.mark.parametrize("name", ["postgres", "redis", "web", "worker", "beat"])
def test_every_long_running_service_has_a_health_check(compose, name):
    check = compose["services"][name]["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert len(check["test"]) > 1
    assert check["interval"] and check["retries"] >= 1


def test_migrate_runs_once_after_the_databases_are_healthy(compose):
    migrate = compose["services"]["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["command"][:3] == ["python", "manage.py", "migrate"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                     "redis": {"condition": "service_healthy"}}


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_app_services_wait_for_healthy_servers_and_a_completed_migration(compose, name):
    service = compose["services"][name]
    assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert service["depends_on"]["redis"] == {"condition": "service_healthy"}
    env = service["environment"]
    assert env["DEBUG"] == "0"
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert "SECRET_KEY" in env


def test_the_processes_are_gunicorn_celery_worker_and_database_scheduled_beat(compose):
    services = compose["services"]
    assert services["web"]["command"][0] == "gunicorn" and "erp.wsgi:application" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "erp", "worker"]
    beat = services["beat"]["command"]
    assert beat[:4] == ["celery", "-A", "erp", "beat"]
    assert "django_celery_beat.schedulers:DatabaseScheduler" in beat
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "heartbeat_check" in services["beat"]["healthcheck"]["test"]


def test_databases_keep_their_data_in_named_volumes(compose):
    assert set(compose["volumes"]) == {"pgdata", "redisdata"}
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


def test_the_image_installs_from_the_lockfile_and_runs_as_a_non_root_user():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "USER concord" in dockerfile
    assert "collectstatic" in dockerfile
