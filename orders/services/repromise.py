"""Backorders promised again when the supply they wait on moves (issue 14, point 7).

A backordered line is promised against stock on its way to its warehouse (``inventory.supply``: a transfer in
transit, a purchase order by its expected date plus ``fulfillment.inbound_buffer_days``), first come first served,
when its order is confirmed (``sales._inbound_promises``). When that supply moves (a purchase order line
rescheduled, received in part, cancelled) the promises of every line waiting on it move too: the app that moved
the supply calls ``backorders_repromise`` for the items and warehouses concerned, inside its own command
(``with joined_command():``), so the supply and the promises change in one transaction.

A customer whose promise moved later is the customer service's to tell: one ``promise_at_risk`` exception per
order (owned by ``customer_service``, so it is that queue's item; raised again, never twinned, while it is open).
A promise that moves earlier raises nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Max
from django.utils import timezone

from erp.actors import Actor
from erp.transactions import command, recorded_actor
from inventory import supply
from orders import rules
from orders.models import Allocation, SalesOrder, SalesOrderLine
from orders.selectors import Plan, Site, allocation_plan, plan_generation

_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Repromised:
    """One line whose promised date moved: ``old_date`` to ``new_date`` (its warehouse's ``warehouse`` code)."""

    order_number: str
    line_no: int
    sku: str
    warehouse: str
    old_date: dt.date | None
    new_date: dt.date | None

    @property
    def later(self) -> bool:
        return self.old_date is not None and self.new_date is not None and self.new_date > self.old_date


@dataclass(frozen=True, slots=True)
class _Order:
    number: str
    confirmed_at: dt.datetime | None
    requested_date: dt.date | None
    ship_to_region_id: int
    split_accepted: bool
    customer_code: str


@dataclass(frozen=True, slots=True)
class _Line:
    pk: int
    order_id: int
    line_no: int
    item_id: int
    sku: str
    warehouse_id: int
    backordered_quantity: Decimal
    allocated_quantity: Decimal
    requested_date: dt.date | None
    ship_date: dt.date | None
    promised_date: dt.date | None


def _lock(item_ids: list[int], warehouse_ids: list[int]) -> tuple[dict[int, _Order], list[_Line]]:
    """Lock the orders with a line waiting at the pairs (by id), then those lines (by id): the house lock order
    (the document, then its lines). A line that starts waiting after the orders are locked is not repromised
    (its confirmation promised it against this supply already)."""
    waiting = SalesOrderLine.objects.filter(item_id__in=item_ids, warehouse_id__in=warehouse_ids,
                                            backordered_quantity__gt=0, status__in=rules.BACKORDER_WAITING_STATUSES)
    orders = {pk: _Order(number, confirmed_at, requested_date, region_id, split_accepted, customer_code)
              for pk, number, confirmed_at, requested_date, region_id, split_accepted, customer_code in (
                  SalesOrder.objects.select_for_update(of=("self",)).filter(pk__in=waiting.values("order_id"))
                  .order_by("pk").values_list("pk", "number", "confirmed_at", "requested_date", "ship_to__region_id",
                                              "customer__allow_partial_shipment", "customer__code"))}
    if not orders:
        return {}, []
    lines = [_Line(*row) for row in (
        waiting.filter(order_id__in=list(orders)).select_for_update(of=("self",)).order_by("pk")
        .values_list("pk", "order_id", "line_no", "item_id", "item__sku", "warehouse_id", "backordered_quantity",
                     "allocated_quantity", "requested_date", "ship_date", "promised_date"))]
    return orders, lines


def _allocated_promises(lines: list[_Line]) -> dict[int, rules.Promise]:
    """The latest ship and delivery dates of the allocations each line already has (lines with none are absent):
    what the allocated part of a line is promised, which the backordered part's promise can only add to. One
    query, none when no line has anything allocated."""
    lines = [line for line in lines if line.allocated_quantity > 0]
    if not lines:
        return {}
    return {line_id: rules.Promise(ship, due) for line_id, ship, due in (
        Allocation.objects.filter(line_id__in=[line.pk for line in lines]).values("line_id")
        .annotate(ship=Max("ship_date"), due=Max("promised_date")).order_by()
        .values_list("line_id", "ship", "due")) if ship is not None and due is not None}


class _Sites:
    """The promising site of each (warehouse, ship-to region, split) an order needs, from its allocation plan
    (kept by the process per ``allocation_plan`` generation: one query for the generation, few for new plans)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.generation = plan_generation()
        self.plans: dict[tuple[int, int, bool], Plan] = {}

    def plan(self, warehouse_id: int, order: _Order) -> Plan:
        key = (warehouse_id, order.ship_to_region_id, order.split_accepted)
        if key not in self.plans:
            self.plans[key] = allocation_plan(home_warehouse_id=warehouse_id,
                                              ship_to_region_id=order.ship_to_region_id,
                                              split_accepted=order.split_accepted, now=self.now,
                                              generation=self.generation)
        return self.plans[key]

    def site(self, warehouse_id: int, order: _Order) -> Site | None:
        site = self.plan(warehouse_id, order).sites.get(warehouse_id)
        return site if site is not None and site.transit_days is not None else None


def _promise(line: _Line, order: _Order, site: Site, arrives: dt.date | None, allocated: rules.Promise | None,
             now: dt.datetime) -> tuple[dt.date | None, dt.date | None]:
    """A line's (ship date, promised date) as confirming makes them: the latest of its allocations' promises and
    the promise of the supply covering its backorder; with neither, the promise its warehouse would have made at
    confirmation had it the stock (``sales._home_promise``: the due date, no ship date)."""
    requested = line.requested_date or order.requested_date
    promises = [allocated] if allocated is not None else []
    if arrives is not None:
        promises.append(site.promise(now=now, requested_date=requested, available_from=arrives))
    if promises:
        return max(p.ship_date for p in promises), max(p.delivery_date for p in promises)
    due = site.promise(now=order.confirmed_at or now, requested_date=requested)
    return None, due.delivery_date


def _write(changed: list[tuple[_Line, dt.date | None, dt.date | None]]) -> None:
    """The new ship and promised dates of the (locked) lines, in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_salesorderline t SET ship_date = v.ship_date, promised_date = v.promised_date,"
            " updated_at = now() FROM unnest(%s::bigint[], %s::date[], %s::date[]) AS v(id, ship_date, promised_date)"
            " WHERE t.id = v.id",
            [[line.pk for line, _, _ in changed], [ship for _, ship, _ in changed], [due for _, _, due in changed]],
        )


def _raise_at_risk(orders: dict[int, _Order], moved: dict[int, list[Repromised]], sites: _Sites,
                   warehouses: dict[int, int], actor: Actor) -> None:
    """One ``promise_at_risk`` per order with a line promised later than before (the customer service's queue)."""
    from governance.services.exceptions import exception_raise

    for order_id, rows in sorted(moved.items()):
        later = [row for row in rows if row.later]
        if not later:
            continue
        order = orders[order_id]
        home = sites.plan(warehouses[order_id], order).home
        exception_raise(
            type="promise_at_risk", business_key=f"promise_at_risk:{order.number}",
            title=f"{order.number}: the supply it waits for moved; {len(later)} line(s) now promised later",
            warehouse=home, reference=order.number,
            detail={"order": order.number, "customer": order.customer_code, "lines": [
                {"line_no": row.line_no, "sku": row.sku, "warehouse": row.warehouse,
                 "old_date": row.old_date, "new_date": row.new_date} for row in later]},
            actor=recorded_actor(actor),
        )


@command
def backorders_repromise(*, item_ids: Sequence[int], warehouse_ids: Sequence[int], actor: Actor,
                         now: dt.datetime | None = None) -> list[Repromised]:
    """Promise again every line backordered and waiting (``rules.BACKORDER_WAITING_STATUSES``) for an item of
    ``item_ids`` at a warehouse of ``warehouse_ids``, against the inbound supply there now; return the lines whose
    promised date moved (by order number and line number).

    The lines are served first come first served, as confirming serves them (``supply.covered_first_come``): by
    their order's confirmation, then order id, then line number; a line's backorder is covered on the first arrival
    by which the supply adds up to it and every backorder before it at its pair, and promised from there
    (``Site.promise`` at its warehouse, seen at ``now``). A line no supply covers is promised what it would be
    with none (``_promise``). A changed ship or promised date is written in one statement; an order with a line
    promised later raises ``promise_at_risk`` (customer service). Lines whose warehouse has no carrier lane to the
    ship-to region (no promise at all) are left as they are.

    Locks the orders, then the lines, each by id (no stock is touched). Joins the caller's transaction under
    ``joined_command()``: the supply's owner calls it from the command that moved the supply. Queries, whatever the
    number of lines: two locks, the allocations (when a line has some), the providers' supply (one each), the plan
    generation (and any plan not kept), one update, and one exception raise per order promised later.
    """
    now = now or timezone.now()
    items, warehouses = sorted(set(item_ids)), sorted(set(warehouse_ids))
    if not items or not warehouses:
        return []
    orders, lines = _lock(items, warehouses)
    if not lines:
        return []
    lines.sort(key=lambda line: (orders[line.order_id].confirmed_at or _EARLIEST, line.order_id, line.line_no))
    arriving = supply.inbound(sorted({line.item_id for line in lines}), sorted({line.warehouse_id for line in lines}))
    covered = supply.covered_first_come(
        [supply.Need(line.pk, line.item_id, line.warehouse_id, line.backordered_quantity) for line in lines],
        arriving)
    allocated = _allocated_promises(lines)
    sites = _Sites(now)
    changed: list[tuple[_Line, dt.date | None, dt.date | None]] = []
    moved: dict[int, list[Repromised]] = {}
    home_of: dict[int, int] = {}
    for line in lines:
        order = orders[line.order_id]
        site = sites.site(line.warehouse_id, order)
        if site is None:
            continue
        ship, due = _promise(line, order, site, covered.get(line.pk), allocated.get(line.pk), now)
        if (ship, due) == (line.ship_date, line.promised_date):
            continue
        changed.append((line, ship, due))
        if due != line.promised_date:
            moved.setdefault(line.order_id, []).append(Repromised(
                order.number, line.line_no, line.sku, site.warehouse.code, line.promised_date, due))
            home_of.setdefault(line.order_id, line.warehouse_id)
    if changed:
        _write(changed)
    _raise_at_risk(orders, moved, sites, home_of, actor)
    return [row for _, rows in sorted(moved.items(), key=lambda kv: orders[kv[0]].number) for row in rows]


def repromised_detail(rows: Sequence[Repromised]) -> list[dict[str, Any]]:
    """``rows`` as JSON-ready dicts (dates as ISO strings), for a caller's exception detail or audit note."""
    return [{"order": row.order_number, "line_no": row.line_no, "sku": row.sku, "warehouse": row.warehouse,
             "old_date": row.old_date.isoformat() if row.old_date else None,
             "new_date": row.new_date.isoformat() if row.new_date else None} for row in rows]
