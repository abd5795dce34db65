"""Orders' background work. Thin: each task calls one service and is safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="orders.backorders_allocate", ignore_result=True)
def backorders_allocate(item_ids: list[int] | None = None) -> int:
    """Allocate the backorders of ``item_ids`` (every backorder when None: the beat sweep)."""
    from orders.services.backorders import backorders_allocate as serve

    return serve(item_ids=item_ids)


def on_allocatable_stock_raised(sender: Any, pairs: list[tuple[int, int]], **kwargs: Any) -> None:
    """Receiver of ``inventory.signals.allocatable_stock_raised`` (after the posting's commit): queue the
    allocation of the backorders of those items. A broker outage loses nothing: the sweep catches up."""
    try:
        backorders_allocate.delay(item_ids=sorted({item_id for item_id, _ in pairs}))
    except Exception:  # the stock is posted; the beat sweep allocates what this would have
        import logging

        logging.getLogger(__name__).warning("could not queue the allocation of backorders", exc_info=True)
