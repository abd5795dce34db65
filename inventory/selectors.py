"""Reads of stock shared by the API, screens and reports, each in a constant number of queries.

Expired stock is not allocatable: balances of a lot whose ``expiry_date`` is before the day asked
about stay in ``on_hand`` and ``allocatable_on_hand`` of the summary (the ledger records what is on
the shelf), but ``fefo_lots`` leaves them out, so nothing allocated or suggested through it is
expired. A lot is still good on its expiry date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Upper

from erp.exceptions import NotFound, ValidationFailed
from erp.scoping import scope_queryset
from inventory import rules, supply
from inventory.models import (
    CycleCount,
    CycleCountLine,
    CycleCountLineState,
    CycleCountStatus,
    Item,
    ItemCost,
    ItemWarehouseSummary,
    Lot,
    StockBalance,
    StockMove,
)
from warehouses.models import Warehouse


@dataclass(frozen=True)
class FefoLot:
    lot: Lot
    on_hand: Decimal


def fefo_lots(*, item: Item, warehouse: Warehouse, at: date) -> list[FefoLot]:
    """The item's unexpired lots with allocatable stock in ``warehouse``, first expiring first.

    Ordered by expiry date (lots without one last), then lot number; one query.
    """
    rows = (
        StockBalance.objects.filter(item=item, warehouse=warehouse, status__allocatable=True, on_hand__gt=0,
                                    lot__isnull=False)
        .filter(Q(lot__expiry_date__isnull=True) | Q(lot__expiry_date__gte=at))
        .values("lot")
        .annotate(total=Sum("on_hand"))
        .order_by(F("lot__expiry_date").asc(nulls_last=True), "lot__lot_number")
        .values_list("lot", "total")
    )
    totals = list(rows)
    lots = Lot.objects.in_bulk([lot_id for lot_id, _ in totals])
    return [FefoLot(lot=lots[lot_id], on_hand=total) for lot_id, total in totals]


def items_by_sku(items: QuerySet[Item], skus: list[str] | set[str]) -> dict[str, Item]:
    """The items of ``items`` for SKUs as a person or a scanner typed them, keyed by the SKU as typed.

    A SKU matches whatever its case (``cln-0008`` finds ``CLN-0008``): the item with exactly that SKU when one
    exists, else the one item whose SKU equals it ignoring case. A SKU that matches nothing, or only several
    items that differ from it and from each other by case alone, is left out. One query, on the functional index
    of upper-cased SKUs.
    """
    typed = {sku.strip() for sku in skus if sku and sku.strip()}
    if not typed:
        return {}
    found = list(items.annotate(sku_upper=Upper("sku")).filter(sku_upper__in={sku.upper() for sku in typed}))
    by_upper: dict[str, list[Item]] = {}
    for item in found:
        by_upper.setdefault(item.sku.upper(), []).append(item)
    result = {}
    for sku in typed:
        candidates = by_upper.get(sku.upper(), [])
        exact = [item for item in candidates if item.sku == sku]
        if exact or len(candidates) == 1:
            result[sku] = (exact or candidates)[0]
    return result


def item_by_sku(items: QuerySet[Item], sku: str) -> Item | None:
    """``items_by_sku`` for one SKU: the item, or None."""
    return items_by_sku(items, [sku]).get(sku.strip())


def item_warehouse_summaries(*, codes: bool = True) -> QuerySet[ItemWarehouseSummary]:
    """Every item-warehouse summary, unscoped: for invariant checks and internal reports (a screen scopes it
    first). With ``codes`` the item's SKU comes as ``sku`` and the warehouse's code as ``warehouse_code``; an
    existence test leaves them out and saves the two joins.

    A queryset, so a caller narrows it, correlates it (``OuterRef``), annotates it with its own figures (open
    allocations beside ``allocated``) and orders it, and still reads everything in one query.
    """
    summaries = ItemWarehouseSummary.objects.all()
    return summaries.annotate(sku=F("item__sku"), warehouse_code=F("warehouse__code")) if codes else summaries


def stock_moves(user: Any) -> QuerySet[StockMove]:
    """The ledger as ``user`` may see it, with everything a listing shows joined in."""
    return scope_queryset(
        StockMove.objects.select_related("item", "warehouse", "location", "lot", "status", "reason"), user
    )


def stock_value(*, user: Any = None, warehouse: Warehouse | None = None) -> list[dict[str, Any]]:
    """Stock value by warehouse and status: on hand times the moving-average cost of its legal entity.

    One query. Rows: ``warehouse``, ``status``, ``quantity``, ``value`` (rounded half-even to 4
    places), for every status; only ``valued`` statuses count on the books (``valued`` is given).
    ``user`` narrows to their scope (``None``: the whole enterprise, for internal use).
    """
    balances = StockBalance.objects.filter(on_hand__gt=0)
    if user is not None:
        balances = scope_queryset(balances, user)
    if warehouse is not None:
        balances = balances.filter(warehouse=warehouse)
    unit_cost = ItemCost.objects.filter(item=OuterRef("item"), legal_entity=OuterRef("warehouse__legal_entity"))
    money: DecimalField[Decimal, Decimal] = DecimalField(max_digits=40, decimal_places=10)
    rows = (
        balances.annotate(cost=Coalesce(Subquery(unit_cost.values("unit_cost")[:1]), Decimal(0)))
        .values("warehouse__code", "status__code", "status__valued")
        .annotate(quantity=Sum("on_hand"),
                  value=Sum(ExpressionWrapper(F("on_hand") * F("cost"), output_field=money)))
        .order_by("warehouse__code", "status__sort_order")
    )
    return [
        {"warehouse": row["warehouse__code"], "status": row["status__code"], "valued": row["status__valued"],
         "quantity": row["quantity"],
         "value": Decimal(row["value"]).quantize(rules.VALUE_QUANTUM, rounding=ROUND_HALF_EVEN)}
        for row in rows
    ]


MAX_AVAILABILITY_SKUS = 500
_ZERO = Decimal(0)


def _clean_code(value: str | None, field: str) -> str:
    code = (value or "").strip()
    if "\x00" in code:
        raise ValidationFailed(detail={field: ["Must not contain NUL characters."]})
    return code


def network_availability(*, user: Any, skus: list[str] | None = None, warehouse: str | None = None,
                         region: str | None = None) -> list[dict[str, Any]]:
    """Availability per requested SKU and warehouse in ``user``'s scope, ordered by SKU then warehouse.

    ``skus`` is required (1 to ``MAX_AVAILABILITY_SKUS`` distinct SKUs, blanks ignored, else
    ``ValidationFailed``); a SKU that is not an item is ``ValidationFailed`` listing every unknown
    one. ``warehouse`` and ``region`` (codes) narrow the warehouses; one outside the scope, or
    unknown, is ``NotFound``. Every warehouse in scope (active or not) gets a row for every SKU, with
    zeros where the item has never had stock there: the requested items crossed with the scoped
    warehouses, left-joined to ``ItemWarehouseSummary``.

    Rows: ``sku``, ``warehouse``, ``on_hand``, ``allocated``, ``available`` (allocatable on hand
    minus allocated, never below 0), ``blocked`` (statuses that do not count toward available:
    quality hold, damaged ...), ``in_transit_in`` (dispatched to the warehouse on a transfer and not yet
    received: the ``in_transit`` stock held against it, which ``on_hand`` and ``blocked`` leave out, since it is
    not on its shelves yet) and ``on_order`` (the open quantity of approved purchase orders to the warehouse, not
    yet received, whatever their expected date: ``inventory.supply.on_order_sql``). Quantities in base units,
    quantized to 4 places. Expired stock counts, as in the summary: it stays in ``on_hand`` and ``available``
    until it leaves the shelf (it is never allocated or suggested: see the module docstring).

    Two queries whatever the number of SKUs (the items, then the cross join, which joins in the ``on_order``
    providers' query), plus the caller's scope when it is not yet cached on ``user``.
    """
    wanted = list(dict.fromkeys(code for code in (_clean_code(sku, "sku") for sku in skus or []) if code))
    if not wanted:
        raise ValidationFailed(detail={"sku": ["Give at least one SKU (?sku=A&sku=B)."]})
    if len(wanted) > MAX_AVAILABILITY_SKUS:
        raise ValidationFailed(detail={"sku": [f"At most {MAX_AVAILABILITY_SKUS} SKUs per request; "
                                               f"{len(wanted)} were given."]})
    warehouse_code = _clean_code(warehouse, "warehouse")
    region_code = _clean_code(region, "region")

    item_ids = dict(scope_queryset(Item.objects.filter(sku__in=wanted), user).values_list("sku", "pk"))
    unknown = [sku for sku in wanted if sku not in item_ids]
    if unknown:
        raise ValidationFailed(f"Unknown SKU{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.",
                               detail={"sku": [f"Unknown SKU: {sku}." for sku in unknown]})

    warehouses = scope_queryset(Warehouse.objects.all(), user)
    if warehouse_code:
        warehouses = warehouses.filter(code=warehouse_code)
    if region_code:
        warehouses = warehouses.filter(region__code=region_code)
    try:
        warehouse_sql, warehouse_params = warehouses.order_by().values("id", "code").query.sql_with_params()
    except EmptyResultSet:  # an empty scope: no warehouse at all
        warehouse_sql, warehouse_params = "SELECT NULL::bigint AS id, NULL::varchar AS code WHERE false", ()
    # On order comes from the apps that register it (procurement), joined in: no query of its own.
    on_order = supply.on_order_sql(list(item_ids.values()))
    on_order_column, on_order_join, on_order_params = "NULL::numeric", "", []
    if on_order is not None:
        on_order_column = "COALESCE(o.quantity, 0)::numeric(18, 4)"
        on_order_join = (f"LEFT JOIN (SELECT item_id, warehouse_id, sum(quantity) AS quantity FROM ({on_order[0]}) u"  # nosec B608 # the providers' compiled querysets; every value is a bound parameter
                         " GROUP BY item_id, warehouse_id) o ON o.item_id = i.id AND o.warehouse_id = w.id")
        on_order_params = on_order[1]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.sku, w.code,
                   (COALESCE(s.on_hand, 0) - COALESCE(t.quantity, 0))::numeric(18, 4),
                   COALESCE(s.allocated, 0)::numeric(18, 4),
                   GREATEST(COALESCE(s.allocatable_on_hand, 0) - COALESCE(s.allocated, 0), 0)::numeric(18, 4),
                   (COALESCE(s.blocked, 0) - COALESCE(t.quantity, 0))::numeric(18, 4),
                   COALESCE(t.quantity, 0)::numeric(18, 4),
                   {on_order_column}
              FROM inventory_item i
             CROSS JOIN ({warehouse_sql}) w
              LEFT JOIN (SELECT item_id, warehouse_id, on_hand, allocated, allocatable_on_hand, blocked
                           FROM inventory_itemwarehousesummary WHERE item_id = ANY(%s)) s
                     ON s.item_id = i.id AND s.warehouse_id = w.id
              LEFT JOIN (SELECT b.item_id, b.warehouse_id, sum(b.on_hand) AS quantity
                           FROM inventory_stockbalance b JOIN inventory_stockstatus st ON st.id = b.status_id
                          WHERE st.code = 'in_transit' AND b.on_hand > 0 AND b.item_id = ANY(%s)
                          GROUP BY b.item_id, b.warehouse_id) t
                     ON t.item_id = i.id AND t.warehouse_id = w.id
              {on_order_join}
             WHERE i.id = ANY(%s)
             ORDER BY i.sku, w.code
            """,  # nosec B608 # only Django-compiled SQL (the scoped warehouses, the on-order rows) is spliced in; values are params
            # The summaries are narrowed to the requested items first, so the join reads them by index
            # instead of hashing the whole table (16 ms -> under 1 ms at 10,000 SKUs x 6 warehouses).
            [*warehouse_params, list(item_ids.values()), list(item_ids.values()), *on_order_params,
             list(item_ids.values())],
        )
        rows = cursor.fetchall()
    if not rows and (warehouse_code or region_code):
        # The items exist, so an empty cross product means no warehouse matched within the scope.
        raise NotFound(detail={"warehouse" if warehouse_code else "region": ["Not found."]})

    # The SQL casts to numeric(18, 4): every quantity arrives exact at 4 places; nothing to round here.
    zero = _ZERO.quantize(rules.QUANTITY_QUANTUM)
    return [
        {"sku": sku, "warehouse": code, "on_hand": on_hand, "allocated": allocated, "available": available,
         "blocked": blocked, "in_transit_in": in_transit, "on_order": ordered if ordered is not None else zero}
        for sku, code, on_hand, allocated, available, blocked, in_transit, ordered in rows
    ]


# --- cycle counts ---------------------------------------------------------------------------------------

# Only first counts measure accuracy: a recount re-measures pairs its original already scored.
ACCURACY_ORIGINS = ("plan", "manual")
ACCURACY_STATES = ("posted", "pending_approval", "rejected", "recount")


def cycle_counts(user: Any) -> QuerySet[CycleCount]:
    """The counts ``user`` may see, newest first, with their line tallies (one query for a page)."""
    return scope_queryset(
        CycleCount.objects.select_related("warehouse", "recount_of", "approval_request", "created_by",
                                          "submitted_by")
        .annotate(line_count=Count("lines"),
                  counted_count=Count("lines", filter=~Q(lines__state=CycleCountLineState.PENDING))),
        user,
    )


def count_is_blind(count: CycleCount) -> bool:
    """Whether the system's side of ``count`` (expected quantities, variances, values) must stay hidden.

    While the count is open, and also while a recount of it (or a recount of that) is open: whoever is
    sent to count those lines again must not find the figures on the original. One query per level of
    recounting (a chain is rarely more than one deep).
    """
    if count.status == CycleCountStatus.OPEN:
        return True
    frontier = [count.pk]
    while frontier:
        children = list(CycleCount.objects.filter(recount_of_id__in=frontier).values_list("id", "status"))
        if any(status == CycleCountStatus.OPEN for _, status in children):
            return True
        frontier = [pk for pk, _ in children]
    return False


def cycle_count_lines(count: CycleCount) -> QuerySet[CycleCountLine]:
    return (CycleCountLine.objects.filter(count=count).select_related("location", "item", "lot", "counted_by", "move")
            .order_by("line_no"))


@dataclass(frozen=True)
class WarehouseAccuracy:
    warehouse: str
    pairs_counted: int
    pairs_within_tolerance: int
    accuracy_percent: Decimal | None


def inventory_accuracy(*, user: Any, since: date, until: date, warehouse: str | None = None,
                       ) -> list[WarehouseAccuracy]:
    """Inventory accuracy per warehouse in ``user``'s scope: counted location-item pairs within tolerance
    over pairs counted, by first counts submitted from ``since`` to ``until`` (local dates, inclusive).

    A pair counted in several lots scores as one, within tolerance only when every lot was; a pair
    counted twice in the period scores twice (it was measured twice). Warehouses with no counts are
    listed with ``accuracy_percent`` None. Two queries.
    """
    warehouses = scope_queryset(Warehouse.objects.all(), user).order_by("code")
    if warehouse:
        warehouses = warehouses.filter(code=_clean_code(warehouse, "warehouse"))
        if not warehouses.exists():
            raise NotFound(f"No warehouse {warehouse} in your scope.")
    sites = list(warehouses.values_list("id", "code", "timezone"))
    if not sites:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.warehouse_id, count(*), count(*) FILTER (WHERE p.within) FROM ("
            "  SELECT l.warehouse_id, bool_and(coalesce(l.within_tolerance, false)) AS within "
            "  FROM inventory_cyclecountline l JOIN inventory_cyclecount c ON c.id = l.count_id "
            "  JOIN warehouses_warehouse w ON w.id = l.warehouse_id "
            "  WHERE l.warehouse_id = ANY(%s) AND c.origin = ANY(%s) AND l.state = ANY(%s) "
            "  AND (l.counted_at AT TIME ZONE w.timezone)::date BETWEEN %s AND %s "
            "  GROUP BY l.count_id, l.warehouse_id, l.location_id, l.item_id) p GROUP BY p.warehouse_id",
            [[site[0] for site in sites], list(ACCURACY_ORIGINS), list(ACCURACY_STATES), since, until],
        )
        tallies = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    result = []
    for pk, code, _ in sites:
        counted, within = tallies.get(pk, (0, 0))
        result.append(WarehouseAccuracy(code, counted, within, rules.accuracy_percent(within, counted)))
    return result
