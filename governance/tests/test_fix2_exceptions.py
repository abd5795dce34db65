"""Exceptions without a site are worked by enterprise users only; the outbox relay re-queues lost sends."""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from governance.models import ExceptionStatus, Notification, OperationalException
from governance.services.exceptions import exception_raise_command, notifications_relay
from governance.tests.scope_approvals import make_user
from warehouses.models import Warehouse


@pytest.fixture(autouse=True)
def _without_demo_exceptions(demo):
    """The demo network raises a few exceptions; these tests count only their own."""
    OperationalException.objects.all().delete()


def _error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:400]
    assert response.json()["code"] == code


# --- 1. an exception with neither warehouse nor region ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "body"), [
    ("api:exception-acknowledge", {}),
    ("api:exception-resolve", {"root_cause": "data_error", "note": ""}),
    ("api:exception-cancel", {"note": "not mine to cancel"}),
])
def test_a_regional_planner_cannot_work_an_enterprise_exception_it_does_not_exist_for_them(
        api_as, action, body):
    make_user("ne.planner", "planner", regions=("NE",))
    anomaly = exception_raise_command(type="anomaly", business_key="fix2:siteless", title="Odd totals")
    assert (anomaly.warehouse_id, anomaly.region_id) == (None, None)

    _error(api_as("ne.planner").post(reverse(action, args=[anomaly.pk]), body, format="json"), 404, "not_found")

    anomaly.refresh_from_db()
    assert anomaly.status == ExceptionStatus.OPEN and anomaly.resolved_by is None
    assert anomaly.acknowledged_by is None


@pytest.mark.django_db
def test_an_enterprise_planner_works_an_enterprise_exception_and_a_regional_one_works_their_own_sites(api_as):
    make_user("ne.planner", "planner", regions=("NE",))
    anomaly = exception_raise_command(type="anomaly", business_key="fix2:siteless:2", title="Odd totals")
    boston = exception_raise_command(type="shortage", business_key="fix2:bos", title="Short at Boston",
                                     warehouse=Warehouse.objects.get(code="NE-BOS"))

    regional = api_as("ne.planner").post(reverse("api:exception-cancel", args=[boston.pk]), {"note": "dup"},
                                         format="json")
    enterprise = api_as("planner").post(reverse("api:exception-cancel", args=[anomaly.pk]), {"note": "dup"},
                                        format="json")

    assert (regional.status_code, regional.json()["status"]) == (200, "cancelled")
    assert (enterprise.status_code, enterprise.json()["status"]) == (200, "cancelled")


# --- 2. the outbox relay --------------------------------------------------------------------------------


def _notification(key: str, *, age: timedelta, attempts: int = 0, sent: bool = False) -> Notification:
    created = timezone.now() - age
    return Notification.objects.create(
        dedupe_key=f"fix2:{key}:{secrets.token_hex(3)}", kind="test", recipients=["owner@concord.example.com"],
        subject=f"Lost {key}", body="A notification whose send task never ran.", created_at=created,
        attempts=attempts, sent_at=created if sent else None,
    )


@pytest.mark.django_db
def test_the_relay_queues_again_only_unsent_notifications_past_the_threshold_with_attempts_left(
        demo, django_capture_on_commit_callbacks):
    lost = _notification("lost", age=timedelta(minutes=10))
    retried = _notification("retried", age=timedelta(hours=2), attempts=3)
    _notification("fresh", age=timedelta(seconds=30))  # its task may still be on its way
    _notification("sent", age=timedelta(hours=1), sent=True)
    _notification("given-up", age=timedelta(hours=3), attempts=8)

    with django_capture_on_commit_callbacks() as callbacks:
        queued = notifications_relay()

    assert queued == 2
    assert sorted(callback.keywords["notification_id"] for callback in callbacks) == sorted([lost.pk, retried.pk])
    assert {callback.func.__self__.name for callback in callbacks} == {"governance.notification_send"}


def test_the_relay_runs_every_five_minutes_on_beat():
    entries = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values()
               if entry["task"] == "governance.notifications_relay"]
    assert entries == [{"task": "governance.notifications_relay", "schedule": 300.0}]


@pytest.mark.django_db(transaction=True)
def test_a_lost_notification_relayed_twice_is_emailed_exactly_once_by_a_real_worker(demo):
    from celery.app.routes import MapRoute, Router
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    from erp.celery import app

    lost = _notification("worker", age=timedelta(minutes=10))
    mail.outbox = []
    # A queue of this test's own: the broker is shared with other test runs.
    queue = f"test-relay-{secrets.token_hex(4)}"
    usual_router = app.amqp.router
    app.amqp.router = Router((MapRoute({"governance.notification_send": {"queue": queue}}), *app.amqp.routes),
                             app.amqp.queues, True, app=app)
    deliveries: list[int] = []

    def count(sender=None, kwargs=None, **_):
        if getattr(sender, "name", "") == "governance.notification_send" and kwargs.get("notification_id") == lost.pk:
            deliveries.append(lost.pk)

    task_postrun.connect(count, weak=False)
    try:
        assert notifications_relay() == 1
        assert notifications_relay() == 1  # the next run before the worker got to it: queued again
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=[queue]):
            deadline = timezone.now() + timedelta(seconds=30)
            while timezone.now() < deadline and len(deliveries) < 2:
                threading.Event().wait(0.2)
    finally:
        task_postrun.disconnect(count)
        app.amqp.router = usual_router
    assert len(deliveries) == 2  # both queued sends ran
    lost.refresh_from_db()
    assert lost.sent_at is not None and lost.attempts == 1
    assert [m.subject for m in mail.outbox] == [lost.subject]
    assert notifications_relay() == 0  # sent: never queued again
