"""Procure to pay's scheduled work. Thin: each task calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="procurement.late_receipts_raise", ignore_result=True)
def late_receipts_raise() -> int:
    """Raise ``late_receipt`` for every order line past its expected date (nightly, on beat)."""
    from procurement.schedule import late_receipts_raise as raise_late

    return raise_late(actor=None)
