"""Transfers' scheduled work. Thin: each task calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="transfers.recommendations_refresh", ignore_result=True)
def recommendations_refresh() -> dict[str, int]:
    """Recompute the network's transfer recommendations (hourly, on beat): a repeat finds the same ones."""
    from warehouses.transfers.recommendations import recommendations_refresh as refresh

    return refresh(actor=None)
