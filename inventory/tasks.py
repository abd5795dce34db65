"""Inventory's scheduled work. Thin: each task calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="inventory.cycle_counts_plan", ignore_result=True)
def cycle_counts_plan() -> int:
    """Make today's planned cycle count of every active warehouse (one per warehouse and local date)."""
    from inventory.services.counts import cycle_counts_plan_all

    return cycle_counts_plan_all(actor=None)
