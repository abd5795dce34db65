"""Governance's scheduled work. Thin: each task calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="governance.deviations_expire", ignore_result=True)
def deviations_expire() -> int:
    """Expire approved deviations past their last day; ask owners to review those about to expire."""
    from governance.services.deviations import deviations_expire as expire
    from governance.services.deviations import deviations_review_notify

    return expire(actor=None) + deviations_review_notify(actor=None)


@shared_task(name="governance.exceptions_escalate", ignore_result=True)
def exceptions_escalate() -> int:
    """Escalate every exception past its SLA by one level (exactly once per level)."""
    from governance.services.exceptions import exceptions_escalate as escalate

    return escalate(actor=None)


@shared_task(name="governance.notification_send", ignore_result=True, autoretry_for=(OSError,),
             retry_backoff=True, max_retries=8)
def notification_send(notification_id: int) -> None:
    """Send one outbox notification by email; a sent notification is never sent again."""
    from governance.services.exceptions import notification_send as send

    send(notification_id=notification_id, actor=None)


@shared_task(name="governance.notifications_relay", ignore_result=True)
def notifications_relay() -> int:
    """Queue again the outbox notifications whose send was lost (broker down, retries spent)."""
    from governance.services.exceptions import notifications_relay as relay

    return relay(actor=None)
