"""Verify the order and allocation invariants over the whole database; exit non-zero on any violation.

Allocations and summaries: for every item and warehouse, the open allocations add up to
``ItemWarehouseSummary.allocated`` (no summary, no open allocation); an allocation holds its line's item, and
its lot, when it has one, is a lot of that item.
Lines: ``allocated_quantity`` is the sum of the line's open allocations; a cancelled line holds none;
allocated + backordered + shipped never exceed the quantity.
Orders: the status is what ``orders.rules.order_status`` makes of the lines' (a draft has only draft lines).
Shipping: a line's shipped quantity is what its shipped shipments took out, each shipped shipment line has its
ledger move of that quantity, and a line has a shipped-complete date exactly when all of it shipped. Returns
never exceed what shipped; no open allocation sits on a cancelled pick list.
Read-only: it reports, it never repairs. ``check_inventory_invariants`` checks the summaries against the ledger.

Orders' own tables are read in SQL; what it needs of inventory's (summaries, items, lots, ledger moves) it reads
through ``inventory.selectors`` and the ORM, never naming an inventory table (issue 11). Each check is one
set-based query however many rows there are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from inventory import selectors as stock
from orders import rules
from orders.models import Allocation, AllocationStatus, OrderStatus, ShipmentLine

# Orders are read this many at a time to judge their status against their lines'.
ORDER_BATCH = 2000


Rows = Iterable[Sequence[Any]]


class Check(NamedTuple):
    title: str
    rows: Callable[[Any], Rows]  # given a cursor, the violations, one row each
    line: str


def _sql(statement: str, params: dict[str, Any] | None = None) -> Callable[[Any], Rows]:
    def rows(cursor: Any) -> Rows:
        cursor.execute(statement, params)
        found: list[tuple[Any, ...]] = cursor.fetchall()
        return found

    return rows


OPEN = {"open": AllocationStatus.OPEN.value}
SHIPPED = ("shipped", "delivered")


def _summaries_off_their_open_allocations(cursor: Any) -> Rows:
    """Summaries whose ``allocated`` is not the sum of their item's open allocations at their warehouse (0 when
    there are none): one query, each summary's sum read through the partial index of open allocations."""
    open_total = (Allocation.objects.filter(status=AllocationStatus.OPEN, item_id=OuterRef("item_id"),
                                            warehouse_id=OuterRef("warehouse_id"))
                  .order_by().values("item_id").annotate(total=Sum("quantity")).values("total"))
    return (stock.item_warehouse_summaries()
            .annotate(open_total=Coalesce(Subquery(open_total), Value(Decimal(0))))
            .filter(~Q(allocated=F("open_total")))
            .order_by("sku", "warehouse_code")
            .values_list("sku", "warehouse_code", "allocated", "open_total"))


def _open_allocations_without_a_summary(cursor: Any) -> Rows:
    summary = stock.item_warehouse_summaries(codes=False).filter(item_id=OuterRef("item_id"),
                                                                  warehouse_id=OuterRef("warehouse_id"))
    return (Allocation.objects.filter(~Exists(summary), status=AllocationStatus.OPEN)
            .values("item__sku", "warehouse__code")
            .annotate(total=Sum("quantity"), count=Count("id"))
            .order_by("item__sku", "warehouse__code")
            .values_list("item__sku", "warehouse__code", "total", "count"))


def _allocations_of_another_item(cursor: Any) -> Rows:
    return (Allocation.objects.filter(~Q(item_id=F("line__item_id")))
            .order_by("id")
            .values_list("id", "line__order__number", "line__line_no", "item__sku", "line__item__sku"))


def _allocations_of_a_lot_of_another_item(cursor: Any) -> Rows:
    return (Allocation.objects.filter(~Q(lot__item_id=F("item_id")), lot__isnull=False)
            .order_by("id")
            .values_list("id", "line__order__number", "line__line_no", "item__sku", "lot__lot_number",
                         "lot__item__sku"))


def _shipped_lines_without_their_move(cursor: Any) -> Rows:
    """Shipped shipment lines with no ledger move, or one of another quantity (a move out is negative) or item."""
    return (ShipmentLine.objects.filter(shipment__status__in=SHIPPED)
            .filter(Q(stock_move__isnull=True) | ~Q(stock_move__quantity=-F("quantity"))
                    | ~Q(stock_move__item_id=F("item_id")))
            .order_by("shipment_id", "id")
            .values_list("shipment__number", "id", "quantity", "stock_move__quantity"))


CHECKS = [
    Check(
        "summary's allocated differs from its open allocations",
        _summaries_off_their_open_allocations,
        "{0} at {1}: summary allocated {2}, open allocations sum to {3}",
    ),
    Check(
        "open allocations without an item-warehouse summary",
        _open_allocations_without_a_summary,
        "{0} at {1}: {2} held by {3} open allocation(s)",
    ),
    Check(
        "line's allocated quantity differs from its open allocations",
        _sql("""
        SELECT o.number, l.line_no, l.allocated_quantity, coalesce(a.total, 0)
        FROM orders_salesorderline l JOIN orders_salesorder o ON o.id = l.order_id
        LEFT JOIN (
            SELECT line_id, sum(quantity) AS total FROM orders_allocation WHERE status = %(open)s GROUP BY line_id
        ) a ON a.line_id = l.id
        WHERE l.allocated_quantity <> coalesce(a.total, 0)
        ORDER BY o.id, l.line_no
        """, OPEN),
        "{0} line {1}: allocated {2}, open allocations sum to {3}",
    ),
    Check(
        "cancelled line with an open allocation",
        _sql("""
        SELECT o.number, l.line_no, a.id, a.quantity, w.code
        FROM orders_allocation a JOIN orders_salesorderline l ON l.id = a.line_id
        JOIN orders_salesorder o ON o.id = l.order_id JOIN warehouses_warehouse w ON w.id = a.warehouse_id
        WHERE a.status = %(open)s AND l.status = %(cancelled)s
        ORDER BY o.id, l.line_no, a.id
        """, {**OPEN, "cancelled": OrderStatus.CANCELLED.value}),
        "{0} line {1}: allocation {2} of {3} at {4}",
    ),
    Check(
        "line's allocated, backordered and shipped exceed its quantity",
        _sql("""
        SELECT o.number, l.line_no, l.quantity, l.allocated_quantity, l.backordered_quantity, l.shipped_quantity
        FROM orders_salesorderline l JOIN orders_salesorder o ON o.id = l.order_id
        WHERE l.allocated_quantity + l.backordered_quantity + l.shipped_quantity > l.quantity
        ORDER BY o.id, l.line_no
        """),
        "{0} line {1}: quantity {2}, allocated {3} + backordered {4} + shipped {5}",
    ),
    Check(
        "allocation of another item than its line's",
        _allocations_of_another_item,
        "allocation {0} ({1} line {2}) holds {3}, the line is for {4}",
    ),
    Check(
        "allocation of a lot of another item",
        _allocations_of_a_lot_of_another_item,
        "allocation {0} ({1} line {2}) of {3} holds lot {4}, a lot of {5}",
    ),
    Check(
        "line's shipped quantity differs from what its shipments took out",
        _sql("""
        SELECT o.number, l.line_no, l.shipped_quantity, coalesce(s.total, 0)
        FROM orders_salesorderline l JOIN orders_salesorder o ON o.id = l.order_id
        LEFT JOIN (
            SELECT sl.order_line_id, sum(sl.quantity) AS total FROM orders_shipmentline sl
            JOIN orders_shipment sh ON sh.id = sl.shipment_id WHERE sh.status IN ('shipped', 'delivered')
            GROUP BY sl.order_line_id
        ) s ON s.order_line_id = l.id
        WHERE l.shipped_quantity <> coalesce(s.total, 0)
        ORDER BY o.id, l.line_no
        """),
        "{0} line {1}: shipped {2}, its shipped shipment lines sum to {3}",
    ),
    Check(
        "shipped shipment line without its ledger move",
        _shipped_lines_without_their_move,
        "{0} line {1}: shipped {2}, its ledger move took {3}",
    ),
    Check(
        "shipped-complete date that disagrees with the shipped quantity",
        _sql("""
        SELECT o.number, l.line_no, l.quantity, l.shipped_quantity, l.shipped_complete_on
        FROM orders_salesorderline l JOIN orders_salesorder o ON o.id = l.order_id
        WHERE (l.shipped_complete_on IS NOT NULL) <> (l.shipped_quantity >= l.quantity)
        ORDER BY o.id, l.line_no
        """),
        "{0} line {1}: quantity {2}, shipped {3}, shipped complete on {4}",
    ),
    Check(
        "returns authorized beyond what shipped",
        _sql("""
        SELECT o.number, l.line_no, l.shipped_quantity, sum(r.quantity)
        FROM orders_returnline r JOIN orders_returnauthorization ra ON ra.id = r.rma_id
        JOIN orders_salesorderline l ON l.id = r.order_line_id JOIN orders_salesorder o ON o.id = l.order_id
        WHERE ra.status <> 'cancelled'
        GROUP BY o.id, o.number, l.line_no, l.shipped_quantity
        HAVING sum(r.quantity) > l.shipped_quantity
        ORDER BY o.id, l.line_no
        """),
        "{0} line {1}: shipped {2}, returns authorized {3}",
    ),
    Check(
        "open allocation on a cancelled pick list",
        _sql("""
        SELECT a.id, p.number, o.number, l.line_no
        FROM orders_allocation a JOIN orders_picklist p ON p.id = a.pick_list_id
        JOIN orders_salesorderline l ON l.id = a.line_id JOIN orders_salesorder o ON o.id = l.order_id
        WHERE a.status = %(open)s AND p.status = 'cancelled'
        ORDER BY a.id
        """, OPEN),
        "allocation {0} is on cancelled pick list {1} ({2} line {3})",
    ),
]

STATUS_TITLE = "order status disagrees with its lines"
# One row per order with its lines' states in line order (none: an order without lines).
ORDERS_SQL = """
    SELECT o.id, o.number, o.status,
           coalesce(array_agg(l.line_no ORDER BY l.line_no) FILTER (WHERE l.id IS NOT NULL), '{}'),
           coalesce(array_agg(l.status ORDER BY l.line_no) FILTER (WHERE l.id IS NOT NULL), '{}')
    FROM orders_salesorder o LEFT JOIN orders_salesorderline l ON l.order_id = o.id
    WHERE o.id > %s GROUP BY o.id ORDER BY o.id LIMIT %s
"""


def status_of_lines(line_statuses: list[str]) -> str | None:
    """The status an order with lines in ``line_statuses`` must have; ``None`` when no status fits (no lines,
    or draft lines beside lines that were confirmed: an order is confirmed as a whole)."""
    if not line_statuses:
        return None
    drafts = line_statuses.count(OrderStatus.DRAFT)
    if drafts:
        return OrderStatus.DRAFT.value if drafts == len(line_statuses) else None
    return rules.order_status(line_statuses)


class Command(BaseCommand):
    help = ("Check that open allocations add up to the summaries' allocated and to their lines', that lines "
            "hold no more than their quantity and cancelled lines nothing, and that orders agree with their lines.")

    def handle(self, *args: Any, **options: Any) -> None:
        violations = 0
        with connection.cursor() as cursor:
            for check in CHECKS:
                for row in check.rows(cursor):
                    violations += 1
                    self.stderr.write(f"{check.title}: {check.line.format(*row)}")
            for line in self._status_violations(cursor):
                violations += 1
                self.stderr.write(f"{STATUS_TITLE}: {line}")
        if violations:
            raise CommandError(f"{violations} order invariant violation(s).")
        self.stdout.write(self.style.SUCCESS("Order invariants hold."))

    def _status_violations(self, cursor: Any) -> list[str]:
        found, after = [], 0
        while True:
            cursor.execute(ORDERS_SQL, [after, ORDER_BATCH])
            rows = cursor.fetchall()
            for _, number, status, line_nos, line_statuses in rows:
                expected = status_of_lines(list(line_statuses))
                if expected == status:
                    continue
                lines = ", ".join(f"line {n} {s}" for n, s in zip(line_nos, line_statuses, strict=True))
                if not lines:
                    found.append(f"{number} is {status} and has no lines")
                elif expected is None:
                    found.append(f"{number} is {status}; its lines ({lines}) mix draft with confirmed states")
                else:
                    found.append(f"{number} is {status}; its lines ({lines}) make it {expected}")
            if len(rows) < ORDER_BATCH:
                return found
            after = rows[-1][0]
