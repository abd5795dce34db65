"""Platform tasks. ``beat_heartbeat`` proves that beat schedules and a worker runs what it schedules."""

from __future__ import annotations

import time
from datetime import timedelta

import redis
from celery import shared_task
from django.conf import settings

HEARTBEAT_KEY = "concord:beat:heartbeat"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


@shared_task(name="erp.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    _redis().set(HEARTBEAT_KEY, str(time.time()), ex=3600)


def heartbeat_age() -> float | None:
    """Seconds since the last heartbeat, or None when there has been none."""
    value = _redis().get(HEARTBEAT_KEY)
    return None if value is None else max(0.0, time.time() - float(value))


@shared_task(name="erp.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    from erp.services import idempotency_keys_purge

    return idempotency_keys_purge(older_than=timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS))


@shared_task(name="erp.csv_job_run", ignore_result=True)
def csv_job_run_task(job_id: int) -> None:
    from erp.csv_jobs import csv_job_run

    csv_job_run(job_id=job_id)


@shared_task(name="erp.csv_jobs_purge", ignore_result=True)
def csv_jobs_purge_task() -> int:
    from erp.csv_jobs import csv_jobs_purge

    return csv_jobs_purge(older_than=timedelta(days=settings.CSV_JOB_TTL_DAYS))
