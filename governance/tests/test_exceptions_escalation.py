"""Escalation past SLA: one level per run, exactly once per level, notified by email after commit."""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from governance.models import EscalationEvent, Notification, OperationalException
from governance.services.exceptions import (
    escalation_recipients,
    exception_raise_command,
    exceptions_escalate,
    notification_send,
)
from warehouses.models import Warehouse


@pytest.fixture(autouse=True)
def _without_demo_exceptions(demo):
    """The demo network raises a few exceptions; these tests count only their own."""
    OperationalException.objects.all().delete()


def _raise_overdue(key: str, *, type: str = "shortage", site: str = "NE-BOS",
                   overdue_by: timedelta = timedelta(minutes=1)) -> OperationalException:
    exc = exception_raise_command(type=type, business_key=key, title=f"Exception {key}",
                                  warehouse=Warehouse.objects.get(code=site))
    OperationalException.objects.filter(pk=exc.pk).update(due_at=timezone.now() - overdue_by)
    return OperationalException.objects.get(pk=exc.pk)


@pytest.mark.django_db
def test_an_exception_past_its_sla_escalates_one_level_to_the_next_role_with_a_fresh_deadline(
        demo, django_capture_on_commit_callbacks):
    exc = _raise_overdue("esc:1")
    missed = exc.due_at
    now = timezone.now()
    with django_capture_on_commit_callbacks() as callbacks:
        assert exceptions_escalate(now=now) == 1
    exc.refresh_from_db()
    assert exc.escalation_level == 1
    assert exc.owner_role == "warehouse_supervisor"
    assert exc.due_at == now + timedelta(hours=4)  # the shortage SLA again, from the escalation
    event = EscalationEvent.objects.get(exception=exc)
    assert (event.level, event.to_role, event.due_at) == (1, "warehouse_supervisor", missed)
    notification = Notification.objects.get(exception=exc)
    assert notification.dedupe_key == f"escalation:{exc.pk}:1"
    assert exc.number in notification.subject and "NE-BOS" in notification.subject
    assert len(callbacks) == 1  # the send task is queued only after commit


@pytest.mark.django_db
def test_an_exception_within_its_sla_or_closed_does_not_escalate(demo, user):
    from governance.services.exceptions import exception_resolve

    exception_raise_command(type="shortage", business_key="fresh", title="t",
                            warehouse=Warehouse.objects.get(code="NE-BOS"))
    done = _raise_overdue("closed")
    exception_resolve(exception=done, actor=user("planner"), root_cause="data_error", note="")
    assert exceptions_escalate() == 0
    assert not EscalationEvent.objects.exists()


@pytest.mark.django_db
def test_a_retried_run_escalates_nothing_twice_and_the_next_miss_climbs_one_more_level(demo):
    exc = _raise_overdue("esc:ladder", type="anomaly")  # anomaly: planner -> process_owner, a one-step ladder
    now = timezone.now()
    assert exceptions_escalate(now=now) == 1
    assert exceptions_escalate(now=now) == 0  # the retried task: the new deadline is in the future
    later = now + timedelta(days=3)
    assert exceptions_escalate(now=later) == 0  # at the top of its ladder: it stays there
    exc.refresh_from_db()
    assert (exc.escalation_level, exc.owner_role) == (1, "process_owner")
    assert EscalationEvent.objects.filter(exception=exc).count() == 1
    assert Notification.objects.filter(exception=exc).count() == 1


@pytest.mark.django_db
def test_the_ladder_is_climbed_one_level_per_missed_deadline_until_its_top(demo):
    exc = _raise_overdue("esc:climb")  # shortage: planner -> warehouse_supervisor -> process_owner
    now = timezone.now()
    assert exceptions_escalate(now=now) == 1
    assert exceptions_escalate(now=now + timedelta(hours=5)) == 1
    assert exceptions_escalate(now=now + timedelta(hours=10)) == 0
    exc.refresh_from_db()
    assert (exc.escalation_level, exc.owner_role) == (2, "process_owner")
    assert list(EscalationEvent.objects.filter(exception=exc).values_list("level", "to_role")) == [
        (1, "warehouse_supervisor"), (2, "process_owner")]
    assert sorted(Notification.objects.filter(exception=exc).values_list("dedupe_key", flat=True)) == [
        f"escalation:{exc.pk}:1", f"escalation:{exc.pk}:2"]


@pytest.mark.django_db
def test_recipients_are_the_next_roles_users_whose_scope_covers_the_site(demo, user):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from erp import services as platform
    from warehouses.models import Region

    eu_owner = get_user_model().objects.create_user("eu.owner", email="eu.owner@example.com")
    eu_owner.groups.add(Group.objects.get(name="Process owner"))
    platform.scope_grant(user=eu_owner, actor=None, regions=[Region.objects.get(code="EU")])
    bos = _raise_overdue("rcpt:bos")
    rtm = _raise_overdue("rcpt:rtm", site="EU-RTM")
    assert "owner@concord.example.com" in escalation_recipients("process_owner", bos)
    assert "eu.owner@example.com" not in escalation_recipients("process_owner", bos)
    assert "eu.owner@example.com" in escalation_recipients("process_owner", rtm)


@pytest.mark.django_db
def test_a_notification_is_sent_by_email_once_even_when_the_task_runs_twice(demo):
    exc = _raise_overdue("mail:once", type="anomaly")
    exceptions_escalate()
    notification = Notification.objects.get(exception=exc)
    assert notification.recipients, "the demo process owner should receive it"
    mail.outbox.clear()
    assert notification_send(notification_id=notification.pk) is True
    assert notification_send(notification_id=notification.pk) is False
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == notification.subject
    assert mail.outbox[0].to == notification.recipients
    notification.refresh_from_db()
    assert notification.sent_at is not None and notification.attempts == 1


@pytest.mark.django_db
def test_a_failing_send_records_the_error_and_raises_so_the_task_retries(demo, settings):
    exc = _raise_overdue("mail:fail", type="anomaly")
    exceptions_escalate()
    notification = Notification.objects.get(exception=exc)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    with pytest.raises(OSError):
        notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.sent_at is None and notification.attempts == 1 and notification.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    assert notification_send(notification_id=notification.pk) is True
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_escalation_runs_escalate_each_level_exactly_once(demo):
    exceptions = [_raise_overdue(f"race:{n}", site=("NE-BOS", "EU-RTM", "SE-ATL")[n % 3]) for n in range(6)]
    now = timezone.now()
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            counts.append(exceptions_escalate(now=now))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(counts) == 6
    assert exceptions_escalate(now=now) == 0  # and the retried task finds nothing left to do
    ids = [e.pk for e in exceptions]
    assert EscalationEvent.objects.filter(exception_id__in=ids).count() == 6
    assert set(EscalationEvent.objects.filter(exception_id__in=ids).values_list("level", flat=True)) == {1}
    assert Notification.objects.filter(exception_id__in=ids).count() == 6
    assert set(OperationalException.objects.filter(pk__in=ids).values_list("escalation_level", flat=True)) == {1}


@pytest.mark.django_db(transaction=True)
def test_end_to_end_escalation_queues_the_send_after_commit_and_a_real_worker_emails_it(demo):
    from celery.app.routes import MapRoute, Router
    from celery.contrib.testing.worker import start_worker

    from erp.celery import app

    exc = _raise_overdue("e2e:worker", type="anomaly")
    mail.outbox = []
    # A queue of this test's own: the broker is shared with other test runs, whose workers must not take
    # this task and whose tasks this worker must not take. The route is what .delay() consults.
    queue = f"test-exceptions-{secrets.token_hex(4)}"
    usual_router = app.amqp.router
    app.amqp.router = Router((MapRoute({"governance.notification_send": {"queue": queue}}), *app.amqp.routes),
                             app.amqp.queues, True, app=app)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=[queue]):
            assert exceptions_escalate() == 1
            deadline = timezone.now() + timedelta(seconds=20)
            notification = Notification.objects.get(exception=exc)
            while timezone.now() < deadline:
                notification.refresh_from_db()
                if notification.sent_at is not None:
                    break
                threading.Event().wait(0.2)
    finally:
        app.amqp.router = usual_router
    assert notification.sent_at is not None
    assert [m.subject for m in mail.outbox] == [notification.subject]
