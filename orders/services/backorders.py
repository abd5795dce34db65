"""Backorders allocate themselves when stock arrives.

``inventory.signals.allocatable_stock_raised`` (sent after the commit of a posting that raised allocatable
stock) queues the Celery task ``orders.backorders_allocate`` with the items concerned; a beat sweep runs the
same task over every backorder, so a lost message only delays an allocation. Orders are served oldest
confirmation first, each in its own transaction (a conflict on one order delays that order, not the rest),
by the same policy-driven allocation as confirming (``sales.order_lines_allocate``): the order's customer's
allocation sequence, cross-region rule, lot selection and split rule. A backorder keeps its promised date
(its due date for fill rate); the allocation carries the new ship and delivery dates. No new ``shortage``
exception is raised for what is still short: the one raised at confirmation stays with the planner, who
resolves it with its root cause (supplier delay, forecast error...), which only a person can tell.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from erp.actors import Actor
from erp.transactions import command
from orders.models import OrderStatus, SalesOrder, SalesOrderLine
from orders.services.sales import order_lines_allocate

# Orders one run looks at; the sweep's next run takes the rest.
BATCH = 500
_NOT_WAITING = (OrderStatus.DRAFT, OrderStatus.CANCELLED, OrderStatus.CLOSED)


@command
def order_backorders_allocate(*, order: SalesOrder, actor: Actor = None,
                              now: dt.datetime | None = None) -> dict[int, Decimal]:
    """Allocate what stock there now is for an order's backordered lines. Returns line id -> quantity got."""
    wanted = dict(SalesOrderLine.objects.filter(order=order, backordered_quantity__gt=0)
                  .exclude(status__in=_NOT_WAITING).values_list("pk", "backordered_quantity"))
    if not wanted:
        return {}
    got = order_lines_allocate(order=order, wanted=wanted, actor=actor, now=now, raise_shortage=False)
    return {pk: quantity for pk, quantity in got.items() if quantity > 0}


def backorders_allocate(*, item_ids: list[int] | None = None, actor: Actor = None,
                        now: dt.datetime | None = None) -> int:
    """Serve the backorders of ``item_ids`` (all items when None), oldest confirmation first. Returns how many
    orders got stock. Each order is its own command."""
    lines = SalesOrderLine.objects.filter(backordered_quantity__gt=0).exclude(status__in=_NOT_WAITING)
    if item_ids is not None:
        lines = lines.filter(item_id__in=item_ids)
    order_ids = list(SalesOrder.objects.filter(pk__in=lines.values("order_id")).exclude(status__in=_NOT_WAITING)
                     .order_by("confirmed_at", "id").values_list("pk", flat=True)[:BATCH])
    served = 0
    for order in SalesOrder.objects.filter(pk__in=order_ids).order_by("confirmed_at", "id"):
        if order_backorders_allocate(order=order, actor=actor, now=now):
            served += 1
    return served
