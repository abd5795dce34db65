"""Exception queues: raise (deduplicated by business key), work, escalate past SLA, notify by email.

Entry points:

- ``exception_raise(...)`` joins the caller's transaction (a domain service raising an exception as
  part of its own command calls this one); ``exception_raise_command(...)`` is the same in its own
  command, for callers outside a transaction (management commands, tasks, the shell).
- ``exception_acknowledge``, ``exception_resolve``, ``exception_cancel``: commands of a user who works
  the queue (``governance.change_operationalexception`` and the exception in their scope).
- ``exceptions_escalate(now=...)``: the beat task's service; each exception escalates in its own short
  command, exactly once per level (compare-and-set on the level, and a unique (exception, level)
  escalation row as the database guarantee).
- ``notification_send(notification_id=...)``: the outbox sender; a notification recorded as sent is never sent
  again, and a send a dying worker left unfinished is sent again under the same Message-ID.
- ``notifications_relay(...)``: the beat task's service that queues again what the sender lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from erp.actors import Actor, acting_user
from erp.exceptions import NotFound, PermissionDenied, ValidationFailed
from erp.roles import ROLE_BY_KEY
from erp.scoping import scope_of, scope_queryset
from erp.transactions import command
from governance import rules
from governance.exceptions import InvalidTransition
from governance.models import EscalationEvent, ExceptionStatus, Notification, OperationalException
from governance.selectors import policy_value

logger = logging.getLogger(__name__)

WORK_PERMISSION = "governance.change_operationalexception"
SLA_POLICY = "exceptions.sla"
RELAY_BATCH = 1000


# --- SLA ------------------------------------------------------------------------------------------


def exception_sla_hours(type_code: str, *, warehouse: Any = None, region: Any = None) -> Decimal:
    """Hours an exception of ``type_code`` may stay open at this site (``exceptions.sla``, localizable)."""
    return Decimal(str(policy_value(SLA_POLICY, warehouse=warehouse, region=region).value[type_code]))


# --- Raising --------------------------------------------------------------------------------------

_RAISE_SQL = """
WITH new AS (SELECT nextval(pg_get_serial_sequence('governance_operationalexception', 'id')) AS id)
INSERT INTO governance_operationalexception AS e (
    id, number, created_at, updated_at, type, severity, status, warehouse_id, region_id, owner_role,
    business_key, reference, title, detail, raised_count, first_raised_at, last_raised_at, due_at,
    escalation_level, root_cause, resolution_note
)
SELECT new.id,
       'EXC-' || CASE WHEN new.id < 1000000 THEN lpad(new.id::text, 6, '0') ELSE new.id::text END,
       %(now)s, %(now)s, %(type)s, %(severity)s, 'open', %(warehouse_id)s, %(region_id)s, %(owner_role)s,
       %(business_key)s, %(reference)s, %(title)s, %(detail)s::jsonb, 1, %(now)s, %(now)s, %(due_at)s,
       0, '', ''
FROM new
ON CONFLICT (type, business_key) WHERE status IN ('open', 'acknowledged')
DO UPDATE SET
    raised_count = e.raised_count + 1,
    last_raised_at = GREATEST(e.last_raised_at, EXCLUDED.last_raised_at),
    updated_at = now(),
    title = EXCLUDED.title,
    detail = EXCLUDED.detail,
    reference = CASE WHEN EXCLUDED.reference <> '' THEN EXCLUDED.reference ELSE e.reference END,
    severity = CASE
        WHEN array_position(%(severities)s::text[], EXCLUDED.severity)
             > array_position(%(severities)s::text[], e.severity)
        THEN EXCLUDED.severity ELSE e.severity END
RETURNING e.id
"""


def _validate_raise(type: str, business_key: str, title: str, severity: str | None, warehouse: Any,
                    region: Any, reference: str, detail: Any) -> None:
    errors: dict[str, list[str]] = {}
    if type not in rules.EXCEPTION_KINDS:
        errors["type"] = [f"Unknown exception type; one of: {', '.join(rules.EXCEPTION_KINDS)}."]
    if not isinstance(business_key, str) or not business_key.strip() or len(business_key) > 200:
        errors["business_key"] = ["Give a business key of 1 to 200 characters."]
    if not isinstance(title, str) or not title.strip() or len(title) > 300:
        errors["title"] = ["Give a title of 1 to 300 characters."]
    if severity is not None and severity not in rules.SEVERITIES:
        errors["severity"] = [f"One of: {', '.join(rules.SEVERITIES)}."]
    if not isinstance(reference, str) or len(reference) > 200:
        errors["reference"] = ["At most 200 characters."]
    if detail is not None and not isinstance(detail, dict):
        errors["detail"] = ["Must be an object."]
    if warehouse is not None and region is not None and warehouse.region_id != region.pk:
        errors["region"] = ["The warehouse is not in this region."]
    if errors:
        raise ValidationFailed(detail=errors)


def exception_raise(*, type: str, business_key: str, title: str, warehouse: Any = None, region: Any = None,
                    reference: str = "", detail: dict[str, Any] | None = None, severity: str | None = None,
                    raised_at: datetime | None = None, actor: Actor = None) -> OperationalException:
    """Raise an exception, or raise again the open (or acknowledged) one with this type and business key.

    Joins the caller's transaction: call it inside your command. Raising again updates the open
    exception (``raised_count``, ``last_raised_at``, title, detail, severity never lowered) instead of
    creating a twin; one ``INSERT ... ON CONFLICT`` on the partial unique index makes that hold under
    concurrent raises too. After a resolve or cancel, the same business key opens a new exception.
    ``region`` defaults to the warehouse's; the owner role and default severity come from the kind; the
    deadline from the ``exceptions.sla`` policy resolved at the site, counted from ``raised_at`` (when the
    problem was observed; default now, never in the future).
    """
    _validate_raise(type, business_key, title, severity, warehouse, region, reference, detail)
    kind = rules.EXCEPTION_KINDS[type]
    if warehouse is not None and region is None:
        region = warehouse.region
    now = timezone.now()
    if raised_at is not None:
        if raised_at.tzinfo is None or raised_at > now:
            raise ValidationFailed(detail={"raised_at": ["Give a past instant with its time zone."]})
        now = raised_at
    due_at = rules.sla_due(now, exception_sla_hours(type, warehouse=warehouse, region=region))
    params = {
        "now": now,
        "type": type,
        "severity": severity or kind.severity,
        "warehouse_id": getattr(warehouse, "pk", None),
        "region_id": getattr(region, "pk", None),
        "owner_role": kind.owner_role,
        "business_key": business_key.strip(),
        "reference": reference,
        "title": title.strip(),
        "detail": json.dumps(detail or {}, cls=DjangoJSONEncoder),
        "due_at": due_at,
        "severities": list(rules.SEVERITIES),
    }
    with connection.cursor() as cursor:
        cursor.execute(_RAISE_SQL, params)
        (exception_id,) = cursor.fetchone()
    return OperationalException.objects.select_related("warehouse", "region").get(pk=exception_id)


@command
def exception_raise_command(*, type: str, business_key: str, title: str, warehouse: Any = None,
                            region: Any = None, reference: str = "", detail: dict[str, Any] | None = None,
                            severity: str | None = None, raised_at: datetime | None = None,
                            actor: Actor = None) -> OperationalException:
    """``exception_raise`` in its own command, for callers that are not inside a transaction."""
    return exception_raise(type=type, business_key=business_key, title=title, warehouse=warehouse, region=region,
                           reference=reference, detail=detail, severity=severity, raised_at=raised_at, actor=actor)


# --- Working the queue ----------------------------------------------------------------------------


def _locked_for_work(exception: OperationalException, actor: Actor) -> OperationalException:
    """The exception, locked, after checking the actor may work it (scope, then permission).

    An exception with neither warehouse nor region (an enterprise-level one, such as most anomalies)
    is listed to every reader (``unscoped_visible``) but worked by enterprise-scope users only, the
    same people ``escalation_recipients`` notifies; to anyone else it does not exist (404).
    """
    if actor is not None:
        site = scope_queryset(OperationalException.objects.filter(pk=exception.pk), actor).values_list(
            "warehouse_id", "region_id").first()
        if site is None or (site == (None, None) and not scope_of(actor).enterprise):
            raise NotFound()
        worker = acting_user(actor)
        if worker is None or not worker.has_perm(WORK_PERMISSION):
            raise PermissionDenied("Your role may not work exception queues.")
    try:
        return OperationalException.objects.select_for_update(of=("self",)).get(pk=exception.pk)
    except OperationalException.DoesNotExist as exc:
        raise NotFound() from exc


def _exception_move(locked: OperationalException, target: str, **fields: Any) -> OperationalException:
    """The one function that changes an exception's status; refuses any move not in the lifecycle."""
    if not rules.exception_may_move(locked.status, target):
        raise InvalidTransition(
            f"An exception that is {locked.status} cannot become {target}.",
            detail={"status": locked.status, "target": target},
        )
    fields["status"] = target
    fields["updated_at"] = timezone.now()
    OperationalException.objects.filter(pk=locked.pk).update(**fields)
    return OperationalException.objects.select_related(
        "warehouse", "region", "acknowledged_by", "resolved_by").get(pk=locked.pk)


@command
def exception_acknowledge(*, exception: OperationalException, actor: Actor) -> OperationalException:
    """Take ownership of an open exception; its SLA clock keeps running until it is resolved."""
    locked = _locked_for_work(exception, actor)
    return _exception_move(locked, ExceptionStatus.ACKNOWLEDGED, acknowledged_by=actor,
                           acknowledged_at=timezone.now())


@command
def exception_resolve(*, exception: OperationalException, actor: Actor, root_cause: str,
                      note: str = "") -> OperationalException:
    """Close an exception with a root-cause code (``rules.ROOT_CAUSES``); "other" needs a note."""
    errors: dict[str, list[str]] = {}
    if root_cause not in rules.ROOT_CAUSES:
        errors["root_cause"] = [f"One of: {', '.join(rules.ROOT_CAUSES)}."]
    note = (note or "").strip() if isinstance(note, str) else note
    if not isinstance(note, str):
        errors["note"] = ["Must be text."]
    elif root_cause == "other" and not note:
        errors["note"] = ["Explain the root cause when it is 'other'."]
    if errors:
        raise ValidationFailed(detail=errors)
    locked = _locked_for_work(exception, actor)
    return _exception_move(locked, ExceptionStatus.RESOLVED, resolved_by=actor, resolved_at=timezone.now(),
                           root_cause=root_cause, resolution_note=note)


@command
def exception_cancel(*, exception: OperationalException, actor: Actor, note: str = "") -> OperationalException:
    """Withdraw an exception raised in error (no root cause); the note says why."""
    if not isinstance(note, str):
        raise ValidationFailed(detail={"note": ["Must be text."]})
    locked = _locked_for_work(exception, actor)
    return _exception_move(locked, ExceptionStatus.CANCELLED, resolved_by=actor, resolved_at=timezone.now(),
                           resolution_note=note.strip())


# --- Escalation -----------------------------------------------------------------------------------


def escalation_recipients(role_key: str, exception: OperationalException) -> list[str]:
    """E-mail addresses of the active users holding ``role_key`` whose scope covers the exception's site."""
    role = ROLE_BY_KEY.get(role_key)
    if role is None:
        return []
    users = get_user_model().objects.filter(groups__name=role.group, is_active=True).exclude(email="").order_by("pk")
    recipients = []
    for user in users:
        scope = scope_of(user)
        if exception.warehouse_id is not None:
            covered = scope.covers_warehouse(exception.warehouse_id)
        elif exception.region_id is not None:
            covered = scope.covers_region(exception.region_id)
        else:
            covered = scope.enterprise
        if covered:
            recipients.append(user.email)
    return recipients


def _escalation_message(exception: OperationalException, level: int, role_key: str,
                        missed: datetime) -> tuple[str, str]:
    kind = rules.EXCEPTION_KINDS[exception.type]
    role = ROLE_BY_KEY.get(role_key)
    site = exception.warehouse.code if exception.warehouse else (exception.region.code if exception.region
                                                                  else "enterprise")
    subject = f"[Concord] {exception.number} {kind.label} at {site} escalated to level {level}"
    body = "\n".join([
        f"{exception.number}: {exception.title}",
        f"Type: {kind.label}   Severity: {exception.severity}   Site: {site}",
        f"Business key: {exception.business_key}" + (f"   Reference: {exception.reference}"
                                                     if exception.reference else ""),
        f"It missed its SLA deadline of {missed.isoformat()} and is now owned by "
        f"{role.group if role else role_key} (escalation level {level}).",
        f"New deadline: {exception.due_at.isoformat()}.",
    ])
    return subject, body


@command
def _exception_escalate_one(*, exception_id: int, level: int, now: datetime, actor: Actor = None) -> bool:
    """Escalate one exception from ``level`` to ``level + 1``; False when someone else already did."""
    from governance.tasks import notification_send as notification_send_task

    current = OperationalException.objects.select_related("warehouse", "region").filter(pk=exception_id).first()
    if current is None:
        return False
    role_key = rules.next_escalation_role(current.type, level)
    if role_key is None:
        return False
    new_due = rules.sla_due(now, exception_sla_hours(current.type, warehouse=current.warehouse,
                                                     region=current.region))
    # Compare-and-set: a concurrent run that escalated first has moved the level on, so this matches nothing.
    moved = OperationalException.objects.filter(
        pk=exception_id, escalation_level=level, status__in=rules.EXCEPTION_OPEN_STATUSES, due_at__lt=now,
    ).update(escalation_level=level + 1, owner_role=role_key, due_at=new_due, updated_at=now)
    if not moved:
        return False
    EscalationEvent.objects.create(exception_id=exception_id, level=level + 1, to_role=role_key,
                                   escalated_at=now, due_at=current.due_at)
    missed = current.due_at
    current.refresh_from_db()
    subject, body = _escalation_message(current, level + 1, role_key, missed)
    notification = Notification.objects.create(
        dedupe_key=f"escalation:{exception_id}:{level + 1}", kind="exception_escalated",
        recipients=escalation_recipients(role_key, current), subject=subject, body=body,
        exception_id=exception_id, created_at=now,
    )
    transaction.on_commit(partial(notification_send_task.delay, notification_id=notification.pk))
    return True


def exceptions_escalate(*, actor: Actor = None, now: datetime | None = None) -> int:
    """Escalate every open or acknowledged exception past its deadline by one level; return how many.

    Safe to run twice at once and to retry: each escalation is its own short command that
    compare-and-sets the level, and ``EscalationEvent`` is unique per (exception, level). One failing
    exception is logged and does not stop the rest. An exception at the top of its ladder stays there.
    """
    now = now or timezone.now()
    due = (OperationalException.objects
           .filter(status__in=rules.EXCEPTION_OPEN_STATUSES, due_at__lt=now)
           .order_by("due_at", "pk")
           .values_list("pk", "type", "escalation_level"))
    escalated = 0
    for exception_id, type_code, level in due.iterator(chunk_size=500):
        if rules.next_escalation_role(type_code, level) is None:
            continue
        try:
            if _exception_escalate_one(exception_id=exception_id, level=level, now=now, actor=actor):
                escalated += 1
        except Exception:
            logger.exception("escalating exception %s from level %s failed", exception_id, level)
    return escalated


# --- The outbox -----------------------------------------------------------------------------------


# Session advisory locks of the outbox: one key space for "sending notification N".
_SEND_LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext('governance.notification_send'), %s)"
_SEND_UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtext('governance.notification_send'), %s)"


def notification_message_id(notification: Notification) -> str:
    """The Message-ID of ``notification``: derived from the row alone (never from the sending host), so every
    send of it, on any worker, carries the same one."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "concord.localhost"
    return f"<concord.notification.{notification.pk}.{int(notification.created_at.timestamp())}@{domain}>"


@contextmanager
def _sending_lock(notification_id: int) -> Iterator[bool]:
    """Hold PostgreSQL's session lock on sending ``notification_id`` (False: another sender holds it).

    A session lock, not a row lock: it spans the claim's commit, the email and the mark's commit, and
    PostgreSQL frees it the moment the holder's connection dies, so a killed worker never leaves it behind."""
    key = notification_id % 2**31
    with connection.cursor() as cursor:
        cursor.execute(_SEND_LOCK_SQL, [key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute(_SEND_UNLOCK_SQL, [key])


@command
def _notification_claim(*, notification_id: int, actor: Actor = None) -> Notification | None:
    notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
    if notification is None or notification.sent_at is not None:
        return None
    if notification.claimed_at is not None and not notification.last_error:
        logger.warning("notification %s: a send that began at %s never finished (its worker died); sending it "
                       "again under the same Message-ID", notification_id, notification.claimed_at.isoformat())
    notification.claimed_at = timezone.now()
    notification.attempts += 1
    notification.message_id = notification.message_id or notification_message_id(notification)
    Notification.objects.filter(pk=notification_id).update(claimed_at=notification.claimed_at,
                                                           attempts=notification.attempts,
                                                           message_id=notification.message_id, last_error="")
    return notification


@command
def _notification_mark_sent(*, notification_id: int, actor: Actor = None) -> None:
    Notification.objects.filter(pk=notification_id, sent_at__isnull=True).update(sent_at=timezone.now(),
                                                                                last_error="")


@command
def _notification_record_failure(*, notification_id: int, error: str, actor: Actor = None) -> None:
    Notification.objects.filter(pk=notification_id, sent_at__isnull=True).update(last_error=error[:2000])


def notification_send(*, notification_id: int, actor: Actor = None) -> bool:
    """Send one outbox notification by email: True when it was sent now.

    Delivery semantics. The database guarantees that one sender at a time works on a notification (a
    PostgreSQL session lock, freed when its holder's connection closes or dies: another delivery of the
    task meanwhile returns False) and that a notification recorded as sent is never sent again. The send
    runs in three steps: claim (a committed transaction: ``claimed_at``, ``attempts`` + 1 and the
    ``message_id``), the email, then mark sent (``sent_at``, a second transaction). No row lock is held
    while the mail server is talked to.

    A worker that dies between the mail server accepting the email and the mark's commit leaves the
    notification claimed but unsent; no database can tell whether that email left. The next delivery (the
    task redelivered, or ``notifications_relay``) sends it again, with a warning in the log, under the
    same ``Message-ID`` (``notification_message_id``; ``X-Concord-Attempt`` tells the attempts apart): the
    copies are one message, which a receiving mail system or a reader recognises. So each notification
    is recorded as sent exactly once and reaches its recipients at least once, as one Message-ID.

    A failure of the email is recorded (``last_error``) in its own transaction and re-raised so the task
    retries. A notification without recipients is marked sent without an email.
    """
    with _sending_lock(notification_id) as held:
        if not held:
            return False
        notification = _notification_claim(notification_id=notification_id, actor=actor)
        if notification is None:
            return False
        if notification.recipients:
            try:
                EmailMessage(subject=notification.subject, body=notification.body, to=list(notification.recipients),
                             headers={"Message-ID": notification.message_id,
                                      "X-Concord-Attempt": str(notification.attempts)}).send()
            except Exception as exc:
                _notification_record_failure(notification_id=notification_id,
                                             error=f"{type(exc).__name__}: {exc}", actor=actor)
                raise
        _notification_mark_sent(notification_id=notification_id, actor=actor)
        return True


@command
def notifications_relay(*, actor: Actor = None, older_than_seconds: int = 300, max_attempts: int = 8) -> int:
    """Queue again the unsent notifications the send task lost; return how many were queued.

    The outbox row is written in the deciding transaction and its send task queued after commit; a
    broker that was down then, or a task that ran out of retries, leaves the row unsent for good.
    This relay (a beat task) picks up every unsent notification created more than
    ``older_than_seconds`` ago with fewer than ``max_attempts`` sends begun (failed, or cut short by a dying
    worker) and queues its send task again, after commit. Queuing one twice is harmless:
    ``notification_send`` lets one sender at a time work on a notification and never sends one recorded as
    sent again. A notification tried ``max_attempts`` times stays for a person to look at (its
    ``last_error`` says why). At most ``RELAY_BATCH`` per run, oldest first.
    """
    from governance.tasks import notification_send as notification_send_task

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(Notification.objects.filter(sent_at__isnull=True, created_at__lt=cutoff, attempts__lt=max_attempts)
               .order_by("created_at", "pk").values_list("pk", flat=True)[:RELAY_BATCH])
    for notification_id in ids:
        # robust: one enqueue failing (the broker still down) is logged and does not stop the rest.
        transaction.on_commit(partial(notification_send_task.delay, notification_id=notification_id), robust=True)
    return len(ids)


# --- Reads shared by the API and the dashboard ----------------------------------------------------


def exceptions_for(user: Any) -> Any:
    """The exceptions ``user`` may see, with what a list shows, in one query."""
    return scope_queryset(
        OperationalException.objects.select_related("warehouse", "region", "acknowledged_by", "resolved_by"),
        user,
    )


def sla_state_filters(now: datetime) -> dict[str, Any]:
    """Q objects for the SLA states of a live (open or acknowledged) exception."""
    from django.db.models import Q

    soon = now + timedelta(hours=rules.DUE_SOON_HOURS)
    live = Q(status__in=rules.EXCEPTION_OPEN_STATUSES)
    return {
        "overdue": live & Q(due_at__lt=now),
        "due_soon": live & Q(due_at__gte=now, due_at__lt=soon),
        "on_time": live & Q(due_at__gte=soon),
    }


def exceptions_summary(queryset: Any, *, now: datetime | None = None) -> dict[str, Any]:
    """Counts of ``queryset`` (already scoped) in one SQL query.

    ``by_status`` counts every exception; ``by_type``, ``by_severity`` and ``by_sla`` count the live
    queue (open and acknowledged), which is what a planner works.
    """
    from django.db.models import Count, Q

    now = now or timezone.now()
    live = Q(status__in=rules.EXCEPTION_OPEN_STATUSES)
    aggregates: dict[str, Any] = {"total": Count("pk"), "live": Count("pk", filter=live)}
    for status in ExceptionStatus.values:
        aggregates[f"status__{status}"] = Count("pk", filter=Q(status=status))
    for code in rules.EXCEPTION_KINDS:
        aggregates[f"type__{code}"] = Count("pk", filter=live & Q(type=code))
    for severity in rules.SEVERITIES:
        aggregates[f"severity__{severity}"] = Count("pk", filter=live & Q(severity=severity))
    for state, condition in sla_state_filters(now).items():
        aggregates[f"sla__{state}"] = Count("pk", filter=condition)
    row = queryset.order_by().aggregate(**aggregates)
    return {
        "total": row["total"],
        "open": row["live"],
        "by_status": {status: row[f"status__{status}"] for status in ExceptionStatus.values},
        "by_type": {code: row[f"type__{code}"] for code in rules.EXCEPTION_KINDS},
        "by_severity": {severity: row[f"severity__{severity}"] for severity in rules.SEVERITIES},
        "by_sla": {state: row[f"sla__{state}"] for state in ("on_time", "due_soon", "overdue")},
    }
