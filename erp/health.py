"""``/healthz`` (the process is alive) and ``/readyz`` (database, Redis and a Celery worker answer)."""

from __future__ import annotations

import time
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> dict[str, Any]:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchone()
    return {"ok": True}


def _check_redis() -> dict[str, Any]:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        return {"ok": bool(client.ping())}
    finally:
        client.close()


def _check_celery() -> dict[str, Any]:
    from erp.celery import app

    replies = app.control.ping(timeout=1.0) or []
    return {"ok": bool(replies), "workers": sorted(name for reply in replies for name in reply)}


CHECKS = {"database": _check_database, "redis": _check_redis, "celery": _check_celery}


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, Any] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            result = check()
        except Exception as exc:  # a readiness probe reports any failure instead of raising
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        result["ms"] = round((time.monotonic() - started) * 1000, 1)
        results[name] = result
    ready = all(result["ok"] for result in results.values())
    return JsonResponse({"status": "ready" if ready else "not_ready", "checks": results},
                        status=200 if ready else 503)
