"""Read-side of orders: what allocation may use, and (below) what the screens and the API read."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Count, F, Max, Min, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from erp import generations
from erp.exceptions import NotFound, ValidationFailed
from erp.scoping import scope_of, scope_queryset
from inventory import rules as stock_rules
from inventory import stock
from inventory.exceptions import InvalidQuantity, UnknownUnit
from inventory.models import Item, ItemUom, ItemWarehouseSummary
from orders import rules
from orders.models import (
    Allocation,
    AllocationStatus,
    Customer,
    OrderStatus,
    PickList,
    ReturnAuthorization,
    SalesOrder,
    SalesOrderLine,
    Shipment,
    ShipTo,
)
from warehouses.models import CarrierLane, Region, Warehouse


@dataclass(frozen=True)
class Site:
    warehouse: Warehouse
    cutoff: dt.time
    transit_days: int | None  # None: no carrier lane to the ship-to region
    ship_date: dt.date

    def promise(self, *, now: dt.datetime, requested_date: dt.date | None,
                available_from: dt.date | None = None) -> rules.Promise:
        """What this warehouse promises, seen at ``now``, for stock it holds or (``available_from``) for stock that
        arrives on that local date (``rules.promise``)."""
        return rules.promise(now=now, calendar=rules.WarehouseCalendar(timezone=self.warehouse.timezone),
                             cutoff=self.cutoff, transit_days=self.transit_days or 0, requested_date=requested_date,
                             available_from=available_from)


def _lanes(destination_region_id: int) -> dict[int, int]:
    """Transit days of the fastest active carrier lane from each region to ``destination_region_id``."""
    return dict(CarrierLane.objects.filter(destination_region_id=destination_region_id, carrier__active=True)
                .values("origin_region_id").annotate(days=Min("transit_days"))
                .values_list("origin_region_id", "days"))


PLAN_POLICIES = ["fulfillment.allocation_sequence", "fulfillment.cross_region_allowed", "fulfillment.lot_selection",
                 "fulfillment.partial_shipments_allowed", "fulfillment.shipping_cutoff"]
# Renewed by every change to the warehouses, carriers, lanes, policies and deviations (migration orders 0006).
PLAN_GENERATION = "allocation_plan"
MAX_KEPT_FRAMES = 512


@dataclass(frozen=True)
class Plan:
    """Where one order may take stock from, by the policies at its customer's home warehouse."""

    home: Warehouse
    split_allowed: bool
    lot_rule: str
    candidate_ids: list[int]
    sites: dict[int, Site]


@dataclass(frozen=True)
class _Frame:
    """What a plan is made of, without the hour: for one home warehouse, ship-to region and exclusions, on one
    local date at every warehouse (deviations take effect by the local date)."""

    home: Warehouse
    split_policy: bool
    lot_rule: str
    site_ids: tuple[int, ...]  # the allocation sequence, less the exclusions
    candidate_ids: tuple[int, ...]  # those of them with a carrier lane to the ship-to's region
    cutoffs: dict[int, dt.time]
    transit: dict[int, int]  # origin region id -> transit days of the fastest lane


@dataclass(frozen=True)
class _Kept:
    """The frames this process keeps, valid while the ``allocation_plan`` generation is ``generation``."""

    generation: int | None
    warehouses: dict[int, Warehouse]
    frames: dict[tuple[Any, ...], _Frame]


_kept = _Kept(None, {}, {})


def default_ship_to(customer: Customer) -> ShipTo | None:
    """The address an order of ``customer`` goes to when it names none (at most one: a partial unique index)."""
    return ShipTo.objects.filter(customer=customer, default=True).select_related("region").first()


def _cutoff(value: Any) -> dt.time:
    hours, minutes = str(value).split(":")
    return dt.time(int(hours), int(minutes))


def _frame(warehouses: dict[int, Warehouse], home: Warehouse, ship_to_region_id: int, exclude: frozenset[int],
           now: dt.datetime) -> _Frame:
    """Read a frame: the policies at every warehouse (one query) and the fastest lanes (one query)."""
    from governance.selectors import policy_values_at_warehouses

    # Policies are read at the home warehouse, the cutoff at each shipping warehouse.
    values = policy_values_at_warehouses(PLAN_POLICIES, [home, *(w for pk, w in warehouses.items() if pk != home.pk)],
                                         now)
    policies = values[home.pk]
    transit = _lanes(ship_to_region_id)
    candidate_ids = rules.candidate_order(
        sequence=list(policies["fulfillment.allocation_sequence"]), home_id=home.pk,
        home_region_id=home.region_id, cross_region_allowed=bool(policies["fulfillment.cross_region_allowed"]),
        warehouses=[(w.pk, w.region_id, w.code) for w in warehouses.values()], transit_days=transit,
    )
    site_ids = tuple(pk for pk in candidate_ids if pk not in exclude)
    return _Frame(home=home, split_policy=bool(policies["fulfillment.partial_shipments_allowed"]),
                  lot_rule=str(policies["fulfillment.lot_selection"]), site_ids=site_ids,
                  # A warehouse with no carrier lane to the ship-to's region cannot ship there: not a candidate.
                  candidate_ids=tuple(pk for pk in site_ids if warehouses[pk].region_id in transit),
                  cutoffs={pk: _cutoff(values[pk]["fulfillment.shipping_cutoff"]) for pk in site_ids},
                  transit=transit)


def plan_generation() -> int | None:
    """The ``allocation_plan`` generation this transaction sees (one query; see ``erp.generations``)."""
    return generations.current(PLAN_GENERATION)


def allocation_plan(*, home_warehouse_id: int, ship_to_region_id: int, split_accepted: bool, now: dt.datetime,
                    exclude: frozenset[int] = frozenset(), generation: int | Literal["read"] | None = "read") -> Plan:
    """Where an order of a customer at home at ``home_warehouse_id`` to an address in ``ship_to_region_id`` may
    take stock from, seen at ``now``: the candidates (``rules.candidate_order`` less ``exclude`` and warehouses
    with no carrier lane to the ship-to's region), their cutoffs and ship dates, and the split (the customer
    must accept partial shipments, ``split_accepted``, and the policy allow them) and lot rules. Reads only.

    The warehouses, policies and lanes behind a plan change rarely and are read by every confirm, so each
    process keeps them while the ``allocation_plan`` generation stands: ``generation`` is its number as the
    caller read it in this transaction (``"read"``: read it here, one query; None: unknown, keep nothing). A kept
    plan costs no query; a new one three. Ship dates are worked out from ``now`` each time.
    """
    global _kept
    number = plan_generation() if generation == "read" else generation
    kept = _kept
    if number is None or kept.generation != number:
        kept = _Kept(number, Warehouse.objects.filter(active=True).in_bulk(), {})
        if number is not None:
            _kept = kept  # one assignment: a thread of this process sees the old frames or the new, never a mix
    warehouses = kept.warehouses
    home = warehouses.get(home_warehouse_id) or Warehouse.objects.get(pk=home_warehouse_id)
    days = tuple(now.astimezone(ZoneInfo(w.timezone)).date() for w in warehouses.values())
    key = (home_warehouse_id, ship_to_region_id, exclude, days)
    frame = kept.frames.get(key)
    if frame is None:
        frame = _frame(warehouses, home, ship_to_region_id, exclude, now)
        if len(kept.frames) >= MAX_KEPT_FRAMES:
            kept.frames.clear()
        kept.frames[key] = frame
    sites = {}
    for pk in frame.site_ids:
        warehouse = warehouses[pk]
        cutoff = frame.cutoffs[pk]
        sites[pk] = Site(warehouse, cutoff, frame.transit.get(warehouse.region_id),
                         rules.ship_date(now=now, calendar=rules.WarehouseCalendar(timezone=warehouse.timezone),
                                         cutoff=cutoff))
    return Plan(home=home, split_allowed=split_accepted and frame.split_policy, lot_rule=frame.lot_rule,
                candidate_ids=list(frame.candidate_ids), sites=sites)


def plan_for(customer: Customer, ship_to: ShipTo, now: dt.datetime, exclude: frozenset[int] = frozenset()) -> Plan:
    """``allocation_plan`` for an order of ``customer`` to ``ship_to``."""
    return allocation_plan(home_warehouse_id=customer.home_warehouse_id, ship_to_region_id=ship_to.region_id,
                           split_accepted=customer.allow_partial_shipment, now=now, exclude=exclude)



# --- customer service: the order screens, the fill-rate KPI and the promise preview (issue 5, points 7-8) ---
#
# Reads only. The order list and detail narrow to the caller's scope like every screen; fill rate counts the
# lines of the caller's scope; the promise preview reads stock network-wide (as allocation does) and locks
# nothing, so it is what confirming now would most likely do, never a reservation.

ORDER_DATE_BASES = ("created", "requested")
# Lines whose promise is still to keep: not shipped, delivered, closed or cancelled.
PROMISE_OPEN_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.ALLOCATED, OrderStatus.PARTIALLY_ALLOCATED,
                         OrderStatus.BACKORDERED, OrderStatus.PICKING, OrderStatus.PACKED)
# The promise filter of the order list: orders with an open line promised before today (late) or today.
PROMISE_FILTERS = {"late": "Promised before today, not shipped", "today": "Promised for today, not shipped"}


def promise_at_risk(when: str, today: dt.date) -> Q:
    """Orders with an open line promised before ``today`` (``late``) or on it (``today``)."""
    dates = {"promised_date__lt": today} if when == "late" else {"promised_date": today}
    return Q(pk__in=SalesOrderLine.objects.filter(status__in=PROMISE_OPEN_STATUSES, **dates).values("order_id"))


def sales_order_list(user: Any, *, status: str = "", warehouse: str = "", date_basis: str = "created",
                     date_from: dt.date | None = None, date_to: dt.date | None = None, promise: str = "",
                     today: dt.date | None = None) -> QuerySet[SalesOrder]:
    """The orders ``user`` may see, newest first, narrowed by status, by the warehouse of a line (allocated
    there, or waiting there for stock), by a date range (inclusive) of the day taken (``created``, on the
    active time zone's calendar: the reader's, see ``erp.middleware.TimeZoneMiddleware``) or the requested date
    (``requested``) and by a promise at risk (``PROMISE_FILTERS``, as of ``today``). Each row carries
    ``line_count``, ``warehouse_codes`` and ``promised_until`` (the latest promised date of its lines):
    one query for a page, whatever its size."""
    queryset = scope_queryset(SalesOrder.objects.select_related("customer", "ship_to", "region"), user)
    if status:
        queryset = queryset.filter(status=status)
    if promise in PROMISE_FILTERS:
        queryset = queryset.filter(promise_at_risk(promise, today or timezone.localdate()))
    if warehouse:
        queryset = queryset.filter(pk__in=SalesOrderLine.objects.filter(warehouse__code=warehouse)
                                   .values("order_id"))
    field = "requested_date" if date_basis == "requested" else "created_at__date"
    if date_from is not None:
        queryset = queryset.filter(**{f"{field}__gte": date_from})
    if date_to is not None:
        queryset = queryset.filter(**{f"{field}__lte": date_to})
    return queryset.annotate(
        line_count=Count("lines"),
        warehouse_codes=ArrayAgg("lines__warehouse__code", distinct=True, order_by="lines__warehouse__code",
                                 filter=Q(lines__warehouse__isnull=False), default=[]),
        promised_until=Max("lines__promised_date"),
    ).order_by("-id")


def sales_order_details() -> QuerySet[SalesOrder]:
    """Orders with their lines (item, unit, warehouse) and each line's allocations (warehouse, lot, pick list),
    in three queries; not yet scoped (the caller narrows with ``scope_queryset``). Allocations belong to their
    line, so an order in scope shows them wherever they are held, as the API does."""
    allocations = Allocation.objects.select_related("warehouse", "lot", "pick_list").order_by("id")
    lines = (SalesOrderLine.objects.select_related("item__base_uom", "warehouse").order_by("line_no")
             .prefetch_related(Prefetch("allocations", queryset=allocations)))
    return (SalesOrder.objects.select_related("customer__home_warehouse", "ship_to__region", "region", "created_by")
            .prefetch_related(Prefetch("lines", queryset=lines)))


@dataclass(frozen=True)
class OrderDocuments:
    """The warehouse documents of one order that the viewer's scope covers (each is a warehouse's)."""

    pick_lists: list[PickList]
    shipments: list[Shipment]
    returns: list[ReturnAuthorization]


def sales_order_documents(order: SalesOrder, user: Any) -> OrderDocuments:
    """The pick lists (by order, or waves holding its allocations), shipments and returns of ``order`` in
    ``user``'s scope, oldest first. Three queries."""
    pick_lists = scope_queryset(
        PickList.objects.filter(Q(order=order) | Q(allocations__line__order=order)).select_related("warehouse"),
        user).distinct().order_by("id")
    shipments = scope_queryset(Shipment.objects.filter(order=order).select_related("warehouse", "carrier"), user)
    returns = scope_queryset(ReturnAuthorization.objects.filter(order=order).select_related("warehouse"), user)
    return OrderDocuments(list(pick_lists), list(shipments.order_by("id")), list(returns.order_by("id")))


def sales_order_cancel_undoes(order: SalesOrder) -> list[str]:
    """What cancelling ``order`` undoes, one sentence each, for its confirm step: the open allocations released
    (units per SKU and warehouse), the open pick lists they leave, and the lines cancelled. Two queries."""
    from erp.formats import plain_number

    held: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    pick_lists: set[str] = set()
    allocations = (Allocation.objects.filter(line__order=order, status=AllocationStatus.OPEN)
                   .values_list("item__sku", "item__base_uom__code", "warehouse__code", "quantity",
                                "pick_list__number"))
    count = 0
    for sku, uom, warehouse, quantity, pick_list in allocations:
        count += 1
        held[(sku, uom, warehouse)] += quantity
        if pick_list:
            pick_lists.add(pick_list)
    undone: list[str] = []
    if count:
        what = "; ".join(f"{plain_number(q)} {uom} of {sku} at {warehouse}"
                         for (sku, uom, warehouse), q in sorted(held.items()))
        undone.append(f"Releases {count} allocation{'s' if count != 1 else ''}: {what}.")
    if pick_lists:
        undone.append(f"Drops its open lines from pick list{'s' if len(pick_lists) != 1 else ''} "
                      f"{', '.join(sorted(pick_lists))}.")
    open_lines = (SalesOrderLine.objects.filter(order=order)
                  .exclude(status__in=(OrderStatus.DELIVERED, OrderStatus.CLOSED, OrderStatus.CANCELLED))
                  .values_list("line_no", "shipped_quantity"))
    cancelled = [no for no, shipped in open_lines if not shipped]
    closed = [no for no, shipped in open_lines if shipped]
    if cancelled:
        undone.append(f"Cancels line{'s' if len(cancelled) != 1 else ''} {', '.join(map(str, cancelled))}: "
                      f"nothing of {'them' if len(cancelled) != 1 else 'it'} will ship.")
    if closed:
        undone.append(f"Closes line{'s' if len(closed) != 1 else ''} {', '.join(map(str, closed))}, shipped in part: "
                      f"the rest will not ship.")
    if not undone:
        undone.append("Nothing is allocated; the order stops here.")
    return undone


def _quantities(rows: Any) -> str:
    """``5 EA of SKU-1, 2 BX of SKU-2`` from ``(sku, uom, quantity)`` rows, summed per SKU."""
    from erp.formats import plain_number

    summed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for sku, uom, quantity in rows:
        summed[(sku, uom)] += quantity
    return ", ".join(f"{plain_number(q)} {uom} of {sku}" for (sku, uom), q in sorted(summed.items()))


def pick_list_cancel_undoes(pick_list: PickList) -> list[str]:
    """What cancelling ``pick_list`` undoes, for its confirm step. Two queries."""
    from orders.models import PickLineStatus, PickListLine

    lines = PickListLine.objects.filter(pick_list=pick_list, status=PickLineStatus.OPEN)
    rows = list(lines.values_list("item__sku", "item__base_uom__code", "quantity"))
    orders = sorted(set(lines.values_list("order_line__order__number", flat=True)))
    if not rows:
        return [f"{pick_list.number} has no open line left; it closes as cancelled."]
    return [f"Cancels {len(rows)} open line{'s' if len(rows) != 1 else ''} at {pick_list.warehouse.code}: "
            f"{_quantities(rows)}.",
            f"The allocations stay with {', '.join(orders)} and wait for another pick list."]


def shipment_cancel_undoes(shipment: Shipment) -> list[str]:
    """What cancelling (unpacking) ``shipment`` undoes, for its confirm step. Two queries."""
    rows = list(shipment.lines.values_list("item__sku", "item__base_uom__code", "quantity"))
    packages = shipment.packages.count()
    undone = [f"Unpacks {shipment.number} at {shipment.warehouse.code}: {_quantities(rows) or 'nothing packed'}."]
    if packages:
        undone.append(f"Its {packages} package{'s are' if packages != 1 else ' is'} no longer shipping; the picked "
                      f"lines wait to be packed again for {shipment.order.number}.")
    else:
        undone.append(f"The picked lines wait to be packed again for {shipment.order.number}.")
    return undone


def return_cancel_undoes(rma: ReturnAuthorization) -> list[str]:
    """What cancelling ``rma`` undoes, for its confirm step. One query."""
    rows = list(rma.lines.values_list("item__sku", "item__base_uom__code", "quantity"))
    return [f"Withdraws the authorization to return {_quantities(rows) or 'nothing'} of {rma.order.number} to "
            f"{rma.warehouse.code}.",
            "Those quantities may be authorized again on another return."]


def sales_order_history(order: SalesOrder, user: Any, *, limit: int = 50) -> list[Any]:
    """The audit events of ``order`` and its lines that ``user`` may read, newest first (at most ``limit``).

    Each event carries ``line_no``: None for the order's own events, else the line's number. One query for
    the events (plus the lines' ids when they are not prefetched)."""
    from governance.audit import audit_events_for

    line_nos = {str(line.pk): line.line_no for line in order.lines.all()}
    events = list(audit_events_for(user).filter(
        Q(table_name=SalesOrder._meta.db_table, row_id=str(order.pk))
        | Q(table_name=SalesOrderLine._meta.db_table, row_id__in=list(line_nos))
    ).order_by("-occurred_at", "-id")[:limit])
    for event in events:
        event.line_no = line_nos.get(event.row_id) if event.table_name == SalesOrderLine._meta.db_table else None
    return events


# --- fill rate ----------------------------------------------------------------------------------------------

FILL_RATE_QUANTUM = Decimal("0.0001")
FILL_RATE_DEFAULT_DAYS = 30
FILL_RATE_MAX_DAYS = 366


@dataclass(frozen=True)
class FillRateRow:
    warehouse: str
    lines_due: int
    lines_filled: int
    fill_rate: Decimal | None


@dataclass(frozen=True)
class FillRate:
    date_from: dt.date
    date_to: dt.date
    region: str | None
    warehouse: str | None
    lines_due: int
    lines_filled: int
    fill_rate: Decimal | None  # None: nothing was due
    warehouses: list[FillRateRow]


def _rate(filled: int, due: int) -> Decimal | None:
    if not due:
        return None
    return (Decimal(filled) / Decimal(due)).quantize(FILL_RATE_QUANTUM, rounding=ROUND_HALF_EVEN)


def fill_rate_lines(user: Any) -> QuerySet[SalesOrderLine]:
    """The order lines whose fill rate ``user`` may read: the lines of the regions in their scope (an order is
    its customer's region's), and where a region is covered only through some of its warehouses, the lines
    shipping from (or waiting at) those warehouses."""
    lines = scope_queryset(SalesOrderLine.objects.all(), user)
    scope = scope_of(user)
    if scope.enterprise:
        return lines
    return lines.filter(Q(region_id__in=scope.full_region_ids)
                        | Q(region_id__in=scope.region_ids, warehouse_id__in=scope.warehouse_ids))


def fill_rate(*, user: Any, date_from: dt.date, date_to: dt.date, region: str | None = None,
              warehouse: str | None = None, today: dt.date | None = None) -> FillRate:
    """Fill rate (``product.md``): order lines shipped complete on or before their promised date over the
    order lines due in the period, computed from the lines, never stored.

    A line is due on its ``promised_date``: it is due in the period when that date is from ``date_from`` to
    ``date_to`` (inclusive) and not after ``today``, or when it already shipped complete (a line promised for
    tomorrow that has not shipped is not due yet; one that shipped early has met its promise and counts). A
    backordered line is due too (its promised date is what its home warehouse would have delivered). Cancelled lines
    are not due; a line shipped in part and then closed is due and not filled. A due line is filled when
    ``shipped_complete_on <= promised_date``.

    Only the lines of ``user``'s scope (``fill_rate_lines``); ``region`` (the order's region) and
    ``warehouse`` (the line's) narrow them, and either outside the scope, or unknown, is ``NotFound``.
    ``date_from`` after ``date_to`` or a period longer than ``FILL_RATE_MAX_DAYS`` is ``ValidationFailed``.
    ``warehouses`` breaks the figure down by the lines' warehouse. Constant queries (the grouped count, plus
    one per region or warehouse named).
    """
    if date_from > date_to:
        raise ValidationFailed("The period ends before it starts.", detail={"from": ["Must not be after to."]})
    if (date_to - date_from).days + 1 > FILL_RATE_MAX_DAYS:
        raise ValidationFailed(detail={"from": [f"At most {FILL_RATE_MAX_DAYS} days from from to to."]})
    today = today or timezone.localdate()
    lines = fill_rate_lines(user)
    if region:
        found = scope_queryset(Region.objects.filter(code=region), user).values_list("pk", flat=True).first()
        if found is None:
            raise NotFound(f"No region {region} in your scope.", detail={"region": ["Not found."]})
        lines = lines.filter(region_id=found)
    if warehouse:
        found = scope_queryset(Warehouse.objects.filter(code=warehouse), user).values_list("pk", flat=True).first()
        if found is None:
            raise NotFound(f"No warehouse {warehouse} in your scope.", detail={"warehouse": ["Not found."]})
        lines = lines.filter(warehouse_id=found)
    # Due in the period: promised in it, and either fallen due by today or already decided (shipped complete
    # early: that line has met its promise, whatever happens next).
    rows = list(
        lines.filter(promised_date__gte=date_from, promised_date__lte=date_to)
        .filter(Q(promised_date__lte=today) | Q(shipped_complete_on__isnull=False))
        .exclude(status=OrderStatus.CANCELLED)
        .values("warehouse__code")
        .annotate(due=Count("id"), filled=Count("id", filter=Q(shipped_complete_on__lte=F("promised_date"))))
        .order_by("warehouse__code")
    )
    due = sum(row["due"] for row in rows)
    filled = sum(row["filled"] for row in rows)
    return FillRate(
        date_from=date_from, date_to=date_to, region=region or None, warehouse=warehouse or None,
        lines_due=due, lines_filled=filled, fill_rate=_rate(filled, due),
        warehouses=[FillRateRow(row["warehouse__code"], row["due"], row["filled"], _rate(row["filled"], row["due"]))
                    for row in rows if row["warehouse__code"]],
    )


# --- the promise preview of order entry ---------------------------------------------------------------------


@dataclass(frozen=True)
class CandidatePreview:
    """One warehouse the line could ship from, in allocation order: what it could give now and the delivery
    date it would promise."""

    warehouse: Warehouse
    available: Decimal
    ship_date: dt.date
    promised_date: dt.date


@dataclass(frozen=True)
class LinePreview:
    """What confirming one line now would most likely do: ``takes`` (warehouse, quantity) in order, what would
    be backordered, the warehouse the line would show and its promised date (for a backorder, the home
    warehouse's promise: its due date). Quantities in the item's base unit."""

    item: Item
    quantity: Decimal
    candidates: list[CandidatePreview]
    takes: list[tuple[Warehouse, Decimal]]
    backordered: Decimal
    warehouse: Warehouse | None
    promised_date: dt.date | None
    split_allowed: bool


def _preview_free(item: Item, plan: Plan) -> dict[int, Decimal]:
    """What each candidate could allocate of ``item`` now, read without locks the way confirming reads it
    locked: allocatable on hand less allocated; for a lot-tracked item no more than its lots unexpired on the
    warehouse's ship date, net of what open allocations hold of each lot. Three queries at most."""
    ids = list(plan.candidate_ids)
    free = {pk: Decimal(0) for pk in ids}
    summaries = ItemWarehouseSummary.objects.filter(item=item, warehouse_id__in=ids)
    for pk, allocatable, allocated in summaries.values_list("warehouse_id", "allocatable_on_hand", "allocated"):
        free[pk] = max(allocatable - allocated, Decimal(0))
    if not item.lot_tracked or not ids:
        return free
    held = {(row["warehouse_id"], row["lot_id"]): row["quantity"] for row in (
        Allocation.objects.filter(item=item, warehouse_id__in=ids, status=AllocationStatus.OPEN, lot__isnull=False)
        .values("warehouse_id", "lot_id").annotate(quantity=Sum("quantity")).order_by())}
    lots: dict[int, Decimal] = defaultdict(Decimal)
    for (_, warehouse_id), found in stock.lot_stock([item.pk], ids).items():
        net = [replace(lot, quantity=lot.quantity - held.get((warehouse_id, lot.lot_id), Decimal(0))) for lot in found]
        usable = stock_rules.usable_lots(net, rule=plan.lot_rule, ship_date=plan.sites[warehouse_id].ship_date)
        lots[warehouse_id] = sum((lot.quantity for lot in usable), Decimal(0))
    return {pk: min(free[pk], lots.get(pk, Decimal(0))) for pk in ids}


def sales_order_line_preview(*, customer: Customer, ship_to: ShipTo, item: Item, quantity: Decimal, uom: str,
                             requested_date: dt.date | None = None, now: dt.datetime | None = None) -> LinePreview:
    """The warehouse and promised date one line of ``quantity`` ``uom`` of ``item`` would get if the order were
    confirmed now, by the standard policies (``allocation_plan``, ``rules.allocate_line``, ``rules.promise``).

    A read-only preview: no locks, and each line is previewed alone (two lines of one SKU each see all the
    stock). Stock is read network-wide, as allocation reads it. An unknown unit is ``UnknownUnit``, a quantity
    that is not above zero ``InvalidQuantity``, one needing more than 4 places of the base unit
    ``UomPrecision``.
    """
    now = now or timezone.now()
    factor = ItemUom.objects.filter(item=item, uom__code=uom).values_list("factor", flat=True).first()
    if factor is None:
        raise UnknownUnit(f"{item.sku} has no unit {uom}.", detail={"uom": [f"{item.sku} has no unit {uom}."]})
    base = stock_rules.to_base(Decimal(quantity), factor)
    if base <= 0:
        raise InvalidQuantity(detail={"quantity": ["Must be more than 0."]})
    plan = plan_for(customer, ship_to, now)
    free = _preview_free(item, plan)

    promises = {pk: plan.sites[pk].promise(now=now, requested_date=requested_date) for pk in plan.candidate_ids}
    candidates = [CandidatePreview(plan.sites[pk].warehouse, free[pk], promises[pk].ship_date,
                                   promises[pk].delivery_date) for pk in plan.candidate_ids]
    result = rules.allocate_line(base, [rules.Candidate(pk, free[pk]) for pk in plan.candidate_ids],
                                 split_allowed=plan.split_allowed)
    takes = [(plan.sites[pk].warehouse, part) for pk, part in result.takes]
    if result.takes:
        promised: dt.date | None = max(promises[pk].delivery_date for pk, _ in result.takes)
        warehouse: Warehouse | None = plan.sites[result.takes[0][0]].warehouse
    else:
        home = plan.sites.get(plan.home.pk)
        known = home is not None and home.transit_days is not None
        promised = home.promise(now=now, requested_date=requested_date).delivery_date if home and known else None
        warehouse = plan.home
    return LinePreview(item=item, quantity=base, candidates=candidates, takes=takes, backordered=result.backordered,
                       warehouse=warehouse, promised_date=promised, split_allowed=plan.split_allowed)
