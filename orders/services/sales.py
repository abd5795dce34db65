"""Sales orders: taking an order, confirming it (promising and allocating by policy) and cancelling it.

Confirming reads the policies at the customer's home warehouse (``fulfillment.allocation_sequence``,
``fulfillment.cross_region_allowed``, ``fulfillment.lot_selection``, ``fulfillment.partial_shipments_allowed``)
and, for each warehouse it may ship from, that warehouse's ``fulfillment.shipping_cutoff``. Allocation holds
stock by raising ``ItemWarehouseSummary.allocated`` (a check constraint keeps it within the allocatable
on-hand) beside an ``Allocation`` row per warehouse and lot, in one transaction.

Lock order, the one every stock writer follows: the warehouses (``FOR SHARE``, by id), the item-warehouse
summaries (``FOR UPDATE``, by item then warehouse), then the order. Reading the order's lines before taking
the locks is safe: they change only while the order is a draft, and the order's status is checked again
once it is locked.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from erp.exceptions import ValidationFailed
from erp.lifecycle import document_move, next_document_id
from erp.transactions import StaleRead, command, recorded_actor
from inventory import rules as stock_rules
from inventory.exceptions import InvalidQuantity, UnknownUnit
from inventory.models import Item, ItemUom, UnitOfMeasure
from orders import rules
from orders.exceptions import DuplicateExternalRef, InvalidOrderTransition, ShipToNotOfCustomer
from orders.models import Allocation, AllocationStatus, Customer, OrderStatus, SalesOrder, SalesOrderLine, ShipTo
from orders.selectors import Plan, Site, allocation_plan, default_ship_to
from warehouses.models import Warehouse

MAX_LINES = 500
EXTERNAL_REF_UNIQUE = "salesorder_external_ref_unique_per_customer"


@dataclass(frozen=True)
class OrderLineSpec:
    """One line as entered: ``quantity`` of ``item`` in unit ``uom`` (any of the item's units; blank: its base
    unit, as everywhere a line's unit may be left out)."""

    item: Item
    quantity: Decimal
    uom: str = ""
    requested_date: dt.date | None = None


def _order_move(order: SalesOrder, to_status: str, **fields: Any) -> SalesOrder:
    """Move a (locked) order along ``rules.ORDER_TRANSITIONS``; any other move is refused (409)."""
    return document_move(order, to_status, may_move=rules.order_may_move, refused=InvalidOrderTransition, **fields)


def with_default_units(lines: list[OrderLineSpec]) -> list[OrderLineSpec]:
    """``lines`` with every blank unit replaced by the item's base unit (one query, and only when one is blank)."""
    blank = {line.item.base_uom_id for line in lines if not line.uom}
    if not blank:
        return lines
    codes = dict(UnitOfMeasure.objects.filter(pk__in=blank).values_list("pk", "code"))
    return [line if line.uom else replace(line, uom=codes[line.item.base_uom_id]) for line in lines]


@command
def sales_order_create(*, customer: Customer, lines: list[OrderLineSpec], actor: AbstractBaseUser | None,
                       ship_to: ShipTo | None = None, external_ref: str = "",
                       requested_date: dt.date | None = None) -> SalesOrder:
    """Take an order as a draft: every quantity converted to the item's base unit exactly.

    ``ship_to`` left out is the customer's default address; a line's ``uom`` left blank is the item's base
    unit. Refuses an inactive customer or item, a ship-to of another customer, no ship-to when the customer
    has no default one, an unknown unit, a quantity that is not above zero, more than ``MAX_LINES`` lines,
    and an ``external_ref`` the customer already used (409 ``duplicate_external_ref`` naming the existing
    order; concurrent duplicates meet the unique index).
    """
    if not customer.active:
        raise ValidationFailed(detail={"customer": [f"{customer.code} is not active."]})
    if ship_to is None:
        ship_to = default_ship_to(customer)
    if ship_to is None:
        raise ValidationFailed(detail={"ship_to": [
            f"{customer.code} has no default ship-to address; name one of its addresses in ship_to."]})
    if ship_to.customer_id != customer.pk:
        raise ShipToNotOfCustomer(detail={"ship_to": [f"{ship_to.code} is not an address of {customer.code}."]})
    if not lines:
        raise ValidationFailed(detail={"lines": ["An order needs at least one line."]})
    if len(lines) > MAX_LINES:
        raise ValidationFailed(detail={"lines": [f"At most {MAX_LINES} lines per order."]})
    lines = with_default_units(lines)
    if len(external_ref) > 64:
        raise ValidationFailed(detail={"external_ref": ["At most 64 characters."]})
    factors = {(item_id, code): factor for item_id, code, factor in ItemUom.objects.filter(
        item_id__in={line.item.pk for line in lines}, uom__code__in={line.uom for line in lines},
    ).values_list("item_id", "uom__code", "factor")}
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.item.active:
            raise ValidationFailed(detail={"lines": [f"Line {number}: {line.item.sku} is not active."]})
        factor = factors.get((line.item.pk, line.uom))
        if factor is None:
            raise UnknownUnit(detail={"lines": [f"Line {number}: {line.item.sku} has no unit {line.uom}."]})
        base = stock_rules.to_base(line.quantity, factor)
        if base <= 0:
            raise InvalidQuantity(detail={"lines": [f"Line {number}: the quantity must be more than 0."]})
        rows.append((line, base))
    if external_ref:
        existing = SalesOrder.objects.filter(customer=customer, external_ref=external_ref).values_list(
            "number", flat=True).first()
        if existing:
            raise DuplicateExternalRef(detail={"external_ref": external_ref, "order": existing})
    pk = next_document_id(SalesOrder)
    order = SalesOrder(pk=pk, number=f"SO-{pk:06d}", customer=customer, ship_to=ship_to, region_id=customer.region_id,
                       external_ref=external_ref, requested_date=requested_date,
                       created_by=recorded_actor(actor))
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin trips the unique index, we answer 409
            order.save(force_insert=True)
    except IntegrityError as exc:
        if EXTERNAL_REF_UNIQUE not in str(exc):
            raise
        raise DuplicateExternalRef(detail={"external_ref": external_ref}) from exc
    SalesOrderLine.objects.bulk_create([
        SalesOrderLine(order=order, region_id=order.region_id, line_no=number, item=line.item, quantity=base,
                       uom_quantity=Decimal(line.quantity), uom_code=line.uom, requested_date=line.requested_date)
        for number, (line, base) in enumerate(rows, start=1)
    ])
    return order


# --- confirming: promise and allocate -----------------------------------------------------------------------


def lock_summaries(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], list[Any]]:
    """Lock the warehouses (share) and the summaries of ``pairs`` (item id, warehouse id) in the global order.

    Returns ``{pair: [id, allocatable_on_hand, allocated]}`` for the pairs that have a summary (no summary:
    nothing was ever there, so nothing to allocate).
    """
    if not pairs:
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM warehouses_warehouse WHERE id = ANY(%s) ORDER BY id FOR SHARE",
                       [sorted({pair[1] for pair in pairs})])
        cursor.execute(
            "SELECT t.item_id, t.warehouse_id, t.id, t.allocatable_on_hand, t.allocated "
            "FROM inventory_itemwarehousesummary t JOIN unnest(%s::bigint[], %s::bigint[]) AS k(item_id, warehouse_id) "
            "ON t.item_id = k.item_id AND t.warehouse_id = k.warehouse_id "
            "ORDER BY t.item_id, t.warehouse_id FOR UPDATE OF t",
            [[p[0] for p in pairs], [p[1] for p in pairs]],
        )
        return {(row[0], row[1]): [row[2], row[3], row[4]] for row in cursor.fetchall()}


def add_to_allocated(summaries: dict[tuple[int, int], list[Any]], deltas: dict[tuple[int, int], Decimal]) -> None:
    """Add each signed delta to the ``allocated`` of its (locked) summary, in one statement."""
    if not deltas:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inventory_itemwarehousesummary t SET allocated = t.allocated + v.quantity, updated_at = now() "
            "FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, quantity) WHERE t.id = v.id",
            [[summaries[pair][0] for pair in deltas], list(deltas.values())],
        )


def _free_lots(item_ids: list[int], sites: dict[int, Site], lot_rule: str,
               ) -> dict[tuple[int, int], list[list[Any]]]:
    """Per (item, warehouse): ``[lot id, free quantity]`` in lot-selection order (FEFO: first expiring first,
    lots without expiry last; FIFO: first received first), unexpired on the warehouse's ship date, net of what
    open allocations already hold of each lot. Two queries. Call with the summaries locked."""
    if not item_ids or not sites:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.item_id, b.warehouse_id, b.lot_id, sum(b.on_hand), l.expiry_date, l.received_on, l.lot_number "
            "FROM inventory_stockbalance b JOIN inventory_stockstatus s ON s.id = b.status_id "
            "JOIN inventory_lot l ON l.id = b.lot_id "
            "WHERE s.allocatable AND b.on_hand > 0 AND b.item_id = ANY(%s) AND b.warehouse_id = ANY(%s) "
            "GROUP BY b.item_id, b.warehouse_id, b.lot_id, l.expiry_date, l.received_on, l.lot_number",
            [item_ids, list(sites)],
        )
        lots = cursor.fetchall()
        cursor.execute(
            "SELECT item_id, warehouse_id, lot_id, sum(quantity) FROM orders_allocation "
            "WHERE status = 'open' AND lot_id IS NOT NULL AND item_id = ANY(%s) AND warehouse_id = ANY(%s) "
            "GROUP BY item_id, warehouse_id, lot_id",
            [item_ids, list(sites)],
        )
        held = {(row[0], row[1], row[2]): row[3] for row in cursor.fetchall()}
    by_pair: dict[tuple[int, int], list[tuple[Any, ...]]] = defaultdict(list)
    for item_id, warehouse_id, lot_id, on_hand, expiry, received, number in lots:
        if expiry is not None and expiry < sites[warehouse_id].ship_date:
            continue  # expired by the time it would leave: not allocatable
        free = on_hand - held.get((item_id, warehouse_id, lot_id), Decimal(0))
        if free > 0:
            by_pair[(item_id, warehouse_id)].append((lot_id, free, expiry, received, number))
    ordered = {}
    for pair, rows in by_pair.items():
        if lot_rule == "fifo":
            rows.sort(key=lambda r: (r[3], r[4]))
        else:
            rows.sort(key=lambda r: (r[2] is None, r[2] or dt.date.max, r[4]))
        ordered[pair] = [[row[0], row[1]] for row in rows]
    return ordered


@dataclass
class _Stock:
    """The locked summaries of a plan's candidates for some items, and what each can still give."""

    summaries: dict[tuple[int, int], list[Any]]
    lots: dict[tuple[int, int], list[list[Any]]]
    free: dict[tuple[int, int], Decimal]


def _lock_stock(plan: Plan, lines: list[SalesOrderLine]) -> _Stock:
    """Lock the candidates' summaries of the lines' items (global order) and read their free lots."""
    item_ids = sorted({line.item_id for line in lines})
    summaries = lock_summaries([(item_id, pk) for item_id in item_ids for pk in sorted(plan.candidate_ids)])
    lot_items = sorted({line.item_id for line in lines if line.item.lot_tracked})
    lots = _free_lots(lot_items, {pk: plan.sites[pk] for pk in plan.candidate_ids}, plan.lot_rule)
    free: dict[tuple[int, int], Decimal] = {}
    for pair, (_, allocatable, allocated) in summaries.items():
        free[pair] = allocatable - allocated
        if pair[0] in lot_items:
            free[pair] = min(free[pair], sum((row[1] for row in lots.get(pair, [])), Decimal(0)))
    return _Stock(summaries, lots, free)


@dataclass
class _Taken:
    allocations: list[Allocation]
    deltas: dict[tuple[int, int], Decimal]  # (item, warehouse) -> quantity added to ``allocated``
    short: dict[int, Decimal]  # item -> quantity left unallocated
    got: dict[int, tuple[Decimal, int | None, list[rules.Promise]]]  # line -> (quantity, first warehouse, promises)


def _take(order: SalesOrder, plan: Plan, stock: _Stock, lines: list[SalesOrderLine], wanted: dict[int, Decimal],
          now: dt.datetime) -> _Taken:
    """Allocate ``wanted[line.pk]`` of each line from the plan's candidates (pure bookkeeping on ``stock``)."""
    taken = _Taken([], defaultdict(lambda: Decimal(0)), defaultdict(lambda: Decimal(0)), {})
    for line in lines:
        quantity = wanted.get(line.pk, Decimal(0))
        if quantity <= 0:
            continue
        candidates = [rules.Candidate(pk, max(stock.free.get((line.item_id, pk), Decimal(0)), Decimal(0)))
                      for pk in plan.candidate_ids]
        result = rules.allocate_line(quantity, candidates, split_allowed=plan.split_allowed)
        requested = line.requested_date or order.requested_date
        promises = []
        for warehouse_id, part_quantity in result.takes:
            pair = (line.item_id, warehouse_id)
            stock.free[pair] -= part_quantity
            taken.deltas[pair] += part_quantity
            promise = plan.sites[warehouse_id].promise(now=now, requested_date=requested)
            promises.append(promise)
            parts = (rules.take_lots(part_quantity, stock.lots[pair]) if line.item.lot_tracked
                     else [(None, part_quantity)])
            for lot_id, part in parts:
                if lot_id is not None:
                    for row in stock.lots[pair]:
                        if row[0] == lot_id:
                            row[1] -= part
                taken.allocations.append(Allocation(
                    line=line, warehouse_id=warehouse_id, item_id=line.item_id, lot_id=lot_id, quantity=part,
                    ship_date=promise.ship_date, promised_date=promise.delivery_date))
        got = sum((q for _, q in result.takes), Decimal(0))
        taken.got[line.pk] = (got, result.takes[0][0] if result.takes else None, promises)
        if result.backordered > 0:
            taken.short[line.item_id] += result.backordered
    return taken


def _home_promise(order: SalesOrder, plan: Plan, line: SalesOrderLine, now: dt.datetime) -> rules.Promise | None:
    """The promise the home warehouse would make had it the stock: the due date of a backordered line."""
    site = plan.sites.get(plan.home.pk)
    if site is None or site.transit_days is None:
        return None
    return site.promise(now=now, requested_date=line.requested_date or order.requested_date)


def _raise_shortages(order: SalesOrder, home: Warehouse, short: dict[int, Decimal], skus: dict[int, str],
                     actor: AbstractBaseUser | None) -> None:
    """One ``shortage`` exception per SKU at the customer's home warehouse (raised again, never twinned)."""
    from governance.services.exceptions import exception_raise

    for item_id, quantity in sorted(short.items()):
        exception_raise(
            type="shortage", business_key=f"shortage:{home.code}:{skus[item_id]}",
            title=f"Not enough {skus[item_id]} to allocate in the network for {home.code}'s customers",
            warehouse=home, reference=order.number,
            detail={"sku": skus[item_id], "order": order.number, "backordered": str(quantity),
                    "customer": order.customer.code},
            actor=recorded_actor(actor),
        )


def _update_confirmed_lines(lines: list[SalesOrderLine]) -> None:
    """Write what confirming decided for each line in one ``UPDATE ... FROM unnest`` (``bulk_update`` builds a
    CASE per field and line: most of a confirm's time went there)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_salesorderline t SET allocated_quantity = v.allocated, backordered_quantity = v.backordered,"
            " warehouse_id = v.warehouse_id, ship_date = v.ship_date, promised_date = v.promised_date,"
            " status = v.status, updated_at = now() "
            "FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::bigint[], %s::date[], %s::date[], %s::text[])"
            " AS v(id, allocated, backordered, warehouse_id, ship_date, promised_date, status) WHERE t.id = v.id",
            [[line.pk for line in lines], [line.allocated_quantity for line in lines],
             [line.backordered_quantity for line in lines], [line.warehouse_id for line in lines],
             [line.ship_date for line in lines], [line.promised_date for line in lines],
             [line.status for line in lines]],
        )


def _lock_order(order: SalesOrder) -> SalesOrder:
    """Lock ``order``'s row and bring its status up to date (the rest of it is what was read before the locks;
    only its status moves from here, through ``document_move``)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT status FROM orders_salesorder WHERE id = %s FOR UPDATE", [order.pk])
        order.status = cursor.fetchone()[0]
    return order


def _write(stock: _Stock, taken: _Taken) -> None:
    """Insert the allocations (one ``INSERT ... SELECT FROM unnest``) and add them to the summaries."""
    rows = taken.allocations
    if rows:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO orders_allocation (line_id, warehouse_id, item_id, lot_id, quantity, status, ship_date,"
                " promised_date, created_at, updated_at) "
                "SELECT v.line_id, v.warehouse_id, v.item_id, v.lot_id, v.quantity, 'open', v.ship_date, "
                "v.promised_date, now(), now() "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[], %s::date[],"
                " %s::date[]) AS v(line_id, warehouse_id, item_id, lot_id, quantity, ship_date, promised_date)",
                [[a.line_id for a in rows], [a.warehouse_id for a in rows], [a.item_id for a in rows],
                 [a.lot_id for a in rows], [a.quantity for a in rows], [a.ship_date for a in rows],
                 [a.promised_date for a in rows]],
            )
    add_to_allocated(stock.summaries, taken.deltas)


@command
def sales_order_confirm(*, order: SalesOrder, actor: AbstractBaseUser | None,
                        now: dt.datetime | None = None) -> SalesOrder:
    """Confirm a draft: promise and allocate every line by policy; backorder what cannot be had.

    Candidates come from ``rules.candidate_order`` (home warehouse, its region, other regions when
    allowed). A line is split over warehouses only when the customer accepts partial shipments and the
    policy allows them; otherwise it is taken whole from one warehouse or backordered whole. A lot-tracked
    item is allocated lot by lot by ``fulfillment.lot_selection``, never from a lot expired by its ship date.
    Each allocation's promise is ``rules.promise`` at its warehouse (cutoff, calendar, fastest carrier lane to
    the ship-to's region); the line keeps the latest. A line with nothing allocated is promised what its home
    warehouse would have promised (its due date for fill rate: a backorder counts against it). Backordered
    quantities raise one ``shortage`` exception per SKU at the customer's home warehouse. The order becomes
    ``allocated``, ``partially_allocated`` or ``backordered``; confirming twice is 409 ``invalid_transition``.
    Queries: constant in the number of lines (plus one exception raise per short SKU).
    """
    now = now or timezone.now()
    order = (SalesOrder.objects.select_related("customer__home_warehouse__region", "ship_to", "region")
             .get(pk=order.pk))
    if order.status != OrderStatus.DRAFT:
        raise InvalidOrderTransition(f"{order.number} is {order.status}; only a draft can be confirmed.",
                                     detail={"number": order.number, "status": order.status})
    lines = list(SalesOrderLine.objects.filter(order=order).select_related("item").order_by("line_no"))
    plan = allocation_plan(order.customer, order.ship_to, now)
    stock = _lock_stock(plan, lines)
    locked = _lock_order(order)
    if locked.status != OrderStatus.DRAFT:
        raise InvalidOrderTransition(f"{order.number} is {locked.status}; only a draft can be confirmed.",
                                     detail={"number": order.number, "status": locked.status})
    taken = _take(order, plan, stock, lines, {line.pk: line.quantity for line in lines}, now)
    for line in lines:
        got, first, promises = taken.got[line.pk]
        line.allocated_quantity = got
        line.backordered_quantity = line.quantity - got
        line.warehouse_id = first or plan.home.pk
        line.ship_date = max((p.ship_date for p in promises), default=None)
        due = _home_promise(order, plan, line, now) if not promises else None
        line.promised_date = max((p.delivery_date for p in promises), default=due.delivery_date if due else None)
        line.status = rules.line_status(quantity=line.quantity, allocated=line.allocated_quantity,
                                        backordered=line.backordered_quantity)
    _write(stock, taken)
    _update_confirmed_lines(lines)
    _order_move(locked, rules.order_status([line.status for line in lines]), confirmed_at=now)
    _raise_shortages(order, plan.home, taken.short, {line.item_id: line.item.sku for line in lines}, actor)
    return locked


def order_lines_allocate(*, order: SalesOrder, wanted: dict[int, Decimal], actor: AbstractBaseUser | None,
                         now: dt.datetime | None = None, exclude_warehouse_ids: frozenset[int] = frozenset(),
                         raise_shortage: bool = True) -> dict[int, Decimal]:
    """Allocate more of a confirmed order's open lines: ``wanted`` maps line id to a quantity now backordered
    (a backorder when stock arrives, or what a short pick left). Joins the caller's ``@command``.

    Locks the candidates' summaries, then the order; a caller holding document locks must have locked these
    summaries first (``lock_order_stock``). What is found moves from ``backordered_quantity`` to
    ``allocated_quantity``; the line keeps its promised date (a backorder's due date) and its ship date
    becomes the latest of its allocations'. What is still short raises the ``shortage`` exception when
    ``raise_shortage``. Returns line id -> quantity allocated now.
    """
    now = now or timezone.now()
    order = (SalesOrder.objects.select_related("customer__home_warehouse__region", "ship_to", "region")
             .get(pk=order.pk))
    plan = allocation_plan(order.customer, order.ship_to, now, exclude_warehouse_ids)
    lines = list(SalesOrderLine.objects.filter(order=order, pk__in=list(wanted)).select_related("item")
                 .order_by("line_no"))
    stock = _lock_stock(plan, lines)
    locked = SalesOrder.objects.select_for_update(of=("self",)).get(pk=order.pk)
    lines = list(SalesOrderLine.objects.select_for_update(of=("self",)).filter(order=locked, pk__in=list(wanted))
                 .select_related("item").order_by("line_no"))
    # Re-read under the order lock: never allocate more than is still backordered.
    wanted = {line.pk: min(wanted[line.pk], line.backordered_quantity) for line in lines
              if line.status not in (OrderStatus.CANCELLED, OrderStatus.DRAFT)}
    taken = _take(locked, plan, stock, lines, wanted, now)
    changed = []
    for line in lines:
        if line.pk not in taken.got:
            continue
        got, first, promises = taken.got[line.pk]
        if got <= 0:
            continue
        if line.allocated_quantity == 0 and first is not None:
            line.warehouse_id = first
        line.allocated_quantity += got
        line.backordered_quantity -= got
        line.ship_date = max([p.ship_date for p in promises] + ([line.ship_date] if line.ship_date else []))
        if line.promised_date is None:
            line.promised_date = max(p.delivery_date for p in promises)
        changed.append(line)
    _write(stock, taken)
    if changed:
        SalesOrderLine.objects.bulk_update(changed, ["allocated_quantity", "backordered_quantity", "warehouse",
                                                     "ship_date", "promised_date", "updated_at"])
        order_refresh(locked)
    if raise_shortage:
        _raise_shortages(locked, plan.home, taken.short, {line.item_id: line.item.sku for line in lines}, actor)
    return {pk: got for pk, (got, _, _) in taken.got.items()}


def lock_order_stock(item_ids: list[int]) -> None:
    """Lock the summaries of ``item_ids`` at every active warehouse: what a service that locks documents first
    calls before anything else, so a later ``order_lines_allocate`` takes no lock out of the global order."""
    pks = sorted(Warehouse.objects.filter(active=True).values_list("pk", flat=True))
    lock_summaries([(item_id, pk) for item_id in sorted(set(item_ids)) for pk in pks])


def order_refresh(order: SalesOrder, lines: list[SalesOrderLine] | None = None) -> SalesOrder:
    """Recompute the status of a (locked) order's lines from their quantities and work (on a pick list,
    packed in a shipment), then move the order to what its lines say (``rules.order_status``). Lines that
    are cancelled, delivered or closed keep their status. Three queries and the writes."""
    from orders.models import ShipmentLine, ShipmentStatus

    lines = lines if lines is not None else list(SalesOrderLine.objects.filter(order=order).order_by("line_no"))
    ids = [line.pk for line in lines]
    picking = set(Allocation.objects.filter(line_id__in=ids, status=AllocationStatus.OPEN, pick_list__isnull=False)
                  .values_list("line_id", flat=True))
    packed = set(ShipmentLine.objects.filter(order_line_id__in=ids, shipment__status=ShipmentStatus.PACKED)
                 .values_list("order_line_id", flat=True))
    changed = []
    for line in lines:
        if line.status in (OrderStatus.CANCELLED, OrderStatus.DELIVERED, OrderStatus.CLOSED, OrderStatus.DRAFT):
            continue
        status = rules.line_status(quantity=line.quantity, allocated=line.allocated_quantity,
                                   backordered=line.backordered_quantity, shipped=line.shipped_quantity,
                                   picking=line.pk in picking, packed=line.pk in packed)
        if status != line.status:
            line.status = status
            changed.append(line)
    if changed:
        SalesOrderLine.objects.bulk_update(changed, ["status", "updated_at"])
    target = rules.order_status([line.status for line in lines])
    if target != order.status:
        _order_move(order, target)
    return order


@command
def sales_order_cancel(*, order: SalesOrder, actor: AbstractBaseUser | None, reason: str = "") -> SalesOrder:
    """Cancel what of an order has not shipped: every open allocation is released (the summaries' ``allocated``
    falls back), its open pick lines are cancelled, and every line not shipped is cancelled. A line shipped in
    part keeps what shipped and is closed (it never counts as shipped complete). A shipped, delivered or closed
    order, or one with goods packed in a shipment, is 409 ``invalid_transition`` (cancel the shipment first)."""
    from orders.models import PickLineStatus, PickListLine, Shipment, ShipmentStatus

    if len(reason) > 500:
        raise ValidationFailed(detail={"reason": ["At most 500 characters."]})
    pairs = sorted(set(Allocation.objects.filter(line__order=order, status=AllocationStatus.OPEN)
                       .values_list("item_id", "warehouse_id")))
    summaries = lock_summaries(pairs)
    locked = SalesOrder.objects.select_for_update(of=("self",)).get(pk=order.pk)
    if not rules.order_may_move(locked.status, OrderStatus.CANCELLED):
        raise InvalidOrderTransition(f"{locked.number} is {locked.status}; it cannot be cancelled.",
                                     detail={"number": locked.number, "status": locked.status})
    packed = list(Shipment.objects.filter(order=locked, status=ShipmentStatus.PACKED).values_list("number", flat=True))
    if packed:
        raise InvalidOrderTransition(f"{locked.number} has goods packed in {', '.join(packed)}; cancel the shipment "
                                     f"first.", detail={"number": locked.number, "shipments": packed})
    open_allocations = list(Allocation.objects.select_for_update(of=("self",))
                            .filter(line__order=locked, status=AllocationStatus.OPEN).order_by("id"))
    released: dict[tuple[int, int], Decimal] = defaultdict(lambda: Decimal(0))
    for allocation in open_allocations:
        released[(allocation.item_id, allocation.warehouse_id)] += allocation.quantity
    missing = set(released) - set(summaries)
    if missing:  # the order was confirmed between our read and our locks: run again with the right locks
        raise StaleRead(f"{locked.number} was allocated while being cancelled")
    now = timezone.now()
    add_to_allocated(summaries, {pair: -quantity for pair, quantity in released.items()})
    Allocation.objects.filter(pk__in=[a.pk for a in open_allocations]).update(
        status=AllocationStatus.RELEASED, updated_at=now)
    PickListLine.objects.filter(allocation_id__in=[a.pk for a in open_allocations],
                                status=PickLineStatus.OPEN).update(status=PickLineStatus.CANCELLED, updated_at=now)
    lines = list(SalesOrderLine.objects.select_for_update(of=("self",)).filter(order=locked).order_by("line_no"))
    for line in lines:
        line.allocated_quantity = Decimal(0)
        line.backordered_quantity = Decimal(0)
        if line.shipped_quantity > 0 and line.status not in (OrderStatus.DELIVERED, OrderStatus.CLOSED):
            line.status = OrderStatus.CLOSED  # shipped in part, the rest cancelled: never "shipped complete"
        elif line.status not in (OrderStatus.DELIVERED, OrderStatus.CLOSED):
            line.status = OrderStatus.CANCELLED
    SalesOrderLine.objects.bulk_update(lines, ["allocated_quantity", "backordered_quantity", "status", "updated_at"])
    target = rules.order_status([line.status for line in lines])
    return _order_move(locked, target, cancelled_at=now if target == OrderStatus.CANCELLED else None)
