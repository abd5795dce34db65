"""Operations: health and readiness, production settings, structured logs."""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from erp.celery import app as celery_app
from erp.logging import JsonFormatter, RequestIdFilter, request_id_var

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.smoke
@pytest.mark.django_db
def test_healthz_answers_ok_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_readyz_is_ready_when_database_redis_and_a_celery_worker_answer(client):
    with start_worker(celery_app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["celery"]["ok"] is True
    assert body["checks"]["celery"]["workers"]


@pytest.mark.django_db
def test_readyz_reports_an_unreachable_redis_as_not_ready(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["redis"]["ok"] is False
    assert "error" in body["checks"]["redis"]
    assert body["checks"]["database"]["ok"] is True


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=120)


def _production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    env.update(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="erp.example.com")
    env.update(overrides)
    return env


def test_check_deploy_with_production_settings_reports_nothing():
    result = _manage("check", "--deploy", "--fail-level", "DEBUG", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_with_debug_off_it_refuses_to_start_without_a_secret_key():
    result = _manage("check", env=_production_env(SECRET_KEY=""))
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_log_records_are_one_json_object_carrying_the_request_id():
    record = logging.LogRecord("concord.test", logging.WARNING, __file__, 1, "stock %s", ("low",), None)
    record.warehouse = "NE-BOS"
    token = request_id_var.set("req-42")
    try:
        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    payload = json.loads(line)
    assert payload["message"] == "stock low"
    assert payload["level"] == "WARNING"
    assert payload["request_id"] == "req-42"
    assert payload["warehouse"] == "NE-BOS"


@pytest.mark.django_db
def test_each_response_carries_a_request_id_and_keeps_a_valid_incoming_one(client):
    generated = client.get("/healthz")["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/healthz", HTTP_X_REQUEST_ID="edge-proxy-123")["X-Request-ID"] == "edge-proxy-123"
    assert client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"] != "bad id with spaces"
