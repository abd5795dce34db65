"""When purchase orders arrive: a supplier's new date re-promises the customers waiting on it, and lines past their
date raise ``late_receipt`` for the buyer.

``purchase_order_reschedule`` moves lines' expected dates and, in the same transaction, promises again every sales
order line backordered at the receiving warehouse for those SKUs (``orders.services.repromise``: first come first
served over all inbound supply, purchase orders counted from their expected date plus
``fulfillment.inbound_buffer_days``); each order promised later raises ``promise_at_risk`` for customer service
there, and a later supplier date raises ``late_receipt`` for the buyer. ``late_receipts_raise`` (nightly on beat)
raises ``late_receipt`` for every order with a line past its expected date and not received in full.

Locking order: the purchase order, its lines, then the sales orders and their lines (``backorders_repromise``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.transactions import command, joined_command, recorded_actor
from governance.services.exceptions import exception_raise
from orders.services.repromise import Repromised, backorders_repromise, repromised_detail
from procurement import rules
from procurement.exceptions import NotReceivable
from procurement.models import PurchaseOrder, PurchaseOrderLine
from procurement.purchasing import local_date
from warehouses.models import Warehouse

LATE_RECEIPT = "late_receipt"


@dataclass(frozen=True)
class RescheduleSpec:
    """A supplier's new date for one line."""

    line_no: int
    expected_date: dt.date


@dataclass(frozen=True)
class Rescheduled:
    """What a reschedule did: the order, the lines whose date moved (line no, old, new) and the customer lines
    promised again."""

    order: PurchaseOrder
    lines: list[tuple[int, dt.date, dt.date]]
    repromised: list[Repromised]


def _late_key(order: PurchaseOrder) -> str:
    return f"late_receipt:{order.number}"


@command
def purchase_order_reschedule(*, order: PurchaseOrder, lines: list[RescheduleSpec], actor: Actor,
                              reason: str = "") -> Rescheduled:
    """Set the supplier's new expected date on lines of an approved, sent or partly received order, and promise
    again, in this transaction, every customer line waiting on those SKUs at its warehouse.

    Refuses (nothing changes): an order in any other status (409 ``not_receivable``), no lines, a line the order does
    not have or named twice, a line received in full, and a date before today at the warehouse. A later date raises
    (or raises again) the order's ``late_receipt`` for the buyer, naming the customer orders it moved.
    """
    if not lines:
        raise ValidationFailed(detail={"lines": ["Name at least one line and its new date."]})
    if not isinstance(reason, str) or len(reason) > 500:
        raise ValidationFailed(detail={"reason": ["At most 500 characters."]})
    locked = (PurchaseOrder.objects.select_for_update(of=("self",)).select_related("warehouse__region", "supplier")
              .get(pk=order.pk))
    if locked.status not in rules.RECEIVABLE_STATUSES:
        raise NotReceivable(f"{locked.number} is {locked.status}; only an open approved order is rescheduled.",
                            detail={"number": locked.number, "status": locked.status})
    warehouse = locked.warehouse
    today = local_date(warehouse)
    current = {line.line_no: line for line in PurchaseOrderLine.objects.select_for_update(of=("self",))
               .filter(order=locked).select_related("item").order_by("line_no")}
    seen: set[int] = set()
    moves: list[tuple[PurchaseOrderLine, dt.date]] = []
    for spec in lines:
        line = current.get(spec.line_no) if isinstance(spec.line_no, int) else None
        if line is None:
            raise ValidationFailed(detail={"lines": [f"{locked.number} has no line {spec.line_no}."]})
        if spec.line_no in seen:
            raise ValidationFailed(detail={"lines": [f"Line {spec.line_no} is named twice."]})
        seen.add(spec.line_no)
        if not isinstance(spec.expected_date, dt.date) or spec.expected_date < today:
            raise ValidationFailed(detail={"lines": [f"Line {spec.line_no}: the new date may not be before today at "
                                                     f"{warehouse.code} ({today.isoformat()})."]})
        if line.open_quantity <= 0:
            raise NotReceivable(f"Line {spec.line_no} of {locked.number} is received in full.",
                                detail={"line_no": spec.line_no})
        if spec.expected_date != line.expected_date:
            moves.append((line, spec.expected_date))
    if not moves:
        return Rescheduled(locked, [], [])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procurement_purchaseorderline AS l SET expected_date = v.expected_date, late_raised_on = NULL "
            "FROM unnest(%s::bigint[], %s::date[]) AS v(id, expected_date) WHERE l.id = v.id",
            [[line.pk for line, _ in moves], [date for _, date in moves]])
    with joined_command():
        repromised = backorders_repromise(item_ids=sorted({line.item_id for line, _ in moves}),
                                          warehouse_ids=[warehouse.pk], actor=actor)
    later = [(line, date) for line, date in moves if date > line.expected_date]
    if later:
        exception_raise(
            type=LATE_RECEIPT, business_key=_late_key(locked),
            title=f"{locked.supplier.code} moved {locked.number} for {warehouse.code} later", warehouse=warehouse,
            reference=locked.number, actor=recorded_actor(actor),
            detail={"purchase_order": locked.number, "supplier": locked.supplier.code, "reason": reason,
                    "lines": [{"line_no": line.line_no, "sku": line.item.sku, "open": str(line.open_quantity),
                               "old_date": line.expected_date.isoformat(), "new_date": date.isoformat()}
                              for line, date in later],
                    "repromised": repromised_detail(repromised)},
        )
    return Rescheduled(locked, [(line.line_no, line.expected_date, date) for line, date in moves], repromised)


@command
def late_receipts_raise(*, actor: Actor = None, now: dt.datetime | None = None) -> int:
    """Raise (or raise again) ``late_receipt`` for every open approved order with a line past its expected date at
    its warehouse and not received in full; return how many orders it raised. Beat runs it hourly, so each
    warehouse's lines are found soon after its own midnight; each order is raised once per local day (its lines are
    marked with the day they were found late) and an open exception is raised again, never twinned."""
    now = now or timezone.now()
    candidates = list(PurchaseOrderLine.objects
                      .filter(order__status__in=rules.ON_ORDER_STATUSES, expected_date__lt=now.date()
                              + dt.timedelta(days=1), quantity__gt=0)
                      .select_related("item", "order__supplier", "order__warehouse__region")
                      .order_by("order_id", "line_no"))
    today_at: dict[int, dt.date] = {}
    late: dict[int, list[PurchaseOrderLine]] = defaultdict(list)
    for line in candidates:
        warehouse: Warehouse = line.order.warehouse
        today = today_at.setdefault(warehouse.pk, local_date(warehouse, now))
        if line.expected_date < today and line.open_quantity > 0:
            late[line.order_id].append(line)
    for order_id in list(late):
        if all(line.late_raised_on == today_at[line.order.warehouse_id] for line in late[order_id]):
            del late[order_id]  # found late already today at its warehouse: raised once a day, not every hour
    for order_lines in late.values():
        order = order_lines[0].order
        today = today_at[order.warehouse_id]
        open_total = sum((line.open_quantity for line in order_lines), Decimal(0))
        exception_raise(
            type=LATE_RECEIPT, business_key=_late_key(order),
            title=f"{order.number} from {order.supplier.code} is late at {order.warehouse.code}",
            warehouse=order.warehouse, reference=order.number, actor=actor,
            detail={"purchase_order": order.number, "supplier": order.supplier.code, "open": str(open_total),
                    "lines": [{"line_no": line.line_no, "sku": line.item.sku, "open": str(line.open_quantity),
                               "expected_date": line.expected_date.isoformat(),
                               "days_late": (today - line.expected_date).days} for line in order_lines]},
        )
        PurchaseOrderLine.objects.filter(pk__in=[line.pk for line in order_lines]).update(late_raised_on=today)
    return len(late)
