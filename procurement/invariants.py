"""What ``check_inventory_invariants`` holds of procure to pay (registered at start-up, ``inventory.invariants``).

- every receipt line has its ledger move, at its quantity, cost, item, location, lot and status, referencing its
  receipt; every ``purchase_receipt`` move belongs to a receipt line (nothing posted beside a receipt);
- what an order line has received is the sum of its receipt lines; what a receipt records as beyond the ordered
  quantity is exactly what the line received beyond it; over-receipt beyond the tolerance's ceiling (100%) was
  allowed by someone;
- a receipt's freight lines add up to its freight, and each line's cost is its price plus its freight per unit;
- an order's total is its lines'; its status fits what it received; an approved order has the record of its
  approved revision.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from inventory.invariants import Probe, register_probes
from inventory.models import StockMove
from procurement.models import PurchaseOrder, PurchaseOrderLine, PurchaseOrderRevision, Receipt, ReceiptLine

REFERENCE_TYPE = "purchase_receipt"
APPROVED_ON = ("approved", "sent", "partially_received", "received", "closed")
NOTHING_RECEIVED = ("draft", "pending_approval", "approved", "sent", "cancelled")
COST_PLACES = Decimal("0.000001")


def _receipt_moves() -> Iterator[str]:
    """Each receipt line against its move; no receipt move without its line."""
    lines = (ReceiptLine.objects
             .values("pk", "receipt__number", "line_no", "quantity", "unit_cost", "item_id", "location_id", "lot_id",
                     "status", "move_id", "move__quantity", "move__unit_cost", "move__item_id",
                     "move__location_id", "move__lot_id", "move__status__code", "move__reference_type",
                     "move__reference_id"))
    for row in lines:
        expected = (row["quantity"], row["unit_cost"], row["item_id"], row["location_id"], row["lot_id"],
                    row["status"], REFERENCE_TYPE, row["receipt__number"])
        posted = (row["move__quantity"], row["move__unit_cost"], row["move__item_id"], row["move__location_id"],
                  row["move__lot_id"], row["move__status__code"], row["move__reference_type"],
                  row["move__reference_id"])
        if expected != posted:
            yield (f"{row['receipt__number']} line {row['line_no']}: {expected} but its move {row['move_id']} is "
                   f"{posted}")
    orphans = (StockMove.objects.filter(reference_type=REFERENCE_TYPE)
               .exclude(pk__in=ReceiptLine.objects.values("move_id")).values_list("pk", "reference_id")[:20])
    for move_id, reference in orphans:
        yield f"move {move_id} ({reference}) is a purchase receipt move without a receipt line"


def _received_adds_up() -> Iterator[str]:
    """An order line's received quantity is its receipt lines'; their over-quantities are what it took beyond."""
    sums = {row["order_line_id"]: row for row in ReceiptLine.objects.values("order_line_id").annotate(
        quantity=Sum("quantity"), over=Sum("over_quantity"),
        allowed=Sum("over_quantity", filter=Q(over_allowed_by__isnull=False))).order_by()}
    for line in PurchaseOrderLine.objects.filter(Q(received_quantity__gt=0) | Q(pk__in=list(sums))).values(
            "pk", "order__number", "line_no", "quantity", "received_quantity"):
        row = sums.get(line["pk"], {"quantity": Decimal(0), "over": Decimal(0), "allowed": Decimal(0)})
        label = f"{line['order__number']} line {line['line_no']}"
        if row["quantity"] != line["received_quantity"]:
            yield f"{label}: received {line['received_quantity']}, its receipt lines {row['quantity']}"
        beyond = max(line["received_quantity"] - line["quantity"], Decimal(0))
        if row["over"] != beyond:
            yield f"{label}: {beyond} received beyond the order, receipt lines record {row['over']}"
        unallowed = (row["over"] or Decimal(0)) - (row["allowed"] or Decimal(0))
        if unallowed > line["quantity"]:
            yield f"{label}: {unallowed} received beyond the order without anyone allowing it"


def _freight_adds_up() -> Iterator[str]:
    lines = {row["receipt_id"]: row["total"] for row in ReceiptLine.objects.values("receipt_id").annotate(
        total=Sum("freight")).order_by()}
    for receipt in Receipt.objects.exclude(freight_base=0).values("pk", "number", "freight_base"):
        if lines.get(receipt["pk"], Decimal(0)) != receipt["freight_base"]:
            yield f"{receipt['number']}: freight {receipt['freight_base']}, its lines {lines.get(receipt['pk'])}"
    for line in ReceiptLine.objects.values("receipt__number", "line_no", "price_cost", "freight", "quantity",
                                           "unit_cost"):
        landed = (line["price_cost"] + line["freight"] / line["quantity"]).quantize(COST_PLACES)
        if landed != line["unit_cost"]:
            yield f"{line['receipt__number']} line {line['line_no']}: cost {line['unit_cost']}, landed {landed}"


def _orders_fit() -> Iterator[str]:
    totals = {row["order_id"]: row for row in PurchaseOrderLine.objects.values("order_id").annotate(
        total=Sum("line_total"), lines=Count("pk"), received=Count("pk", filter=Q(received_quantity__gt=0)),
        full=Count("pk", filter=Q(received_quantity__gte=F("quantity")))).order_by()}
    revisions: dict[int, set[int]] = defaultdict(set)
    for order_id, revision in PurchaseOrderRevision.objects.values_list("order_id", "revision"):
        revisions[order_id].add(revision)
    for order in PurchaseOrder.objects.values("pk", "number", "status", "total", "revision"):
        row = totals.get(order["pk"], {"total": Decimal(0), "lines": 0, "received": 0, "full": 0})
        number, status = order["number"], order["status"]
        if (row["total"] or Decimal(0)) != order["total"]:
            yield f"{number}: total {order['total']}, its lines {row['total']}"
        if status in NOTHING_RECEIVED and row["received"]:
            yield f"{number} is {status} but {row['received']} line(s) received goods"
        if status == "partially_received" and (not row["received"] or row["full"] == row["lines"]):
            yield f"{number} is partially received but its lines say otherwise"
        if status == "received" and row["full"] != row["lines"]:
            yield f"{number} is received but {row['lines'] - row['full']} line(s) are open"
        if status in APPROVED_ON and order["revision"] not in revisions[order["pk"]]:
            yield f"{number} is {status} without the record of its approved revision {order['revision']}"


def register() -> None:
    register_probes("procurement", [
        Probe("receipt line disagrees with its ledger move", _receipt_moves),
        Probe("purchase order line disagrees with its receipts", _received_adds_up),
        Probe("receipt freight does not add up", _freight_adds_up),
        Probe("purchase order does not fit its lines", _orders_fit),
    ])
