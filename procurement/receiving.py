"""Receiving against an approved purchase order: one command posts the receipt, its lines and their ledger moves.

Each received part lands at the location the operator scanned or, failing that, where the warehouse's put-away
rules propose (``procurement.putaway``), in ``available`` or, where ``procurement.inspection_required`` holds,
``quality_hold``. It is posted at the order's price converted to the buying entity's currency at the receipt's
date, plus its share of the receipt's freight (landed cost), so the moving average takes both. A line may receive
in all up to its quantity plus ``procurement.over_receipt_tolerance`` percent; beyond it the receipt is refused
(409 ``over_receipt``) unless the person receiving may allow it (``procurement.allow_over_receipt``, a supervisor
or approver of the warehouse) and says so. Available stock raises allocatable stock, so backorders allocate after
the commit (``inventory.signals``).

Locking order: the purchase order, then its lines by number, then the ledger's (``inventory.stock``). Two receipts
of one order wait for each other on the order's row, as a receipt and a cancel do.

A 500-line receipt costs the same number of queries as a 5-line one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from erp.actors import Actor, acting_user
from erp.exceptions import PermissionDenied, ValidationFailed
from erp.lifecycle import document_move, next_document_id
from erp.scoping import scope_of
from erp.transactions import command, recorded_actor
from governance.selectors import policy_values_at_warehouses
from governance.services.approvals import exchange_rate_on
from inventory import rules as stock_rules
from inventory import stock
from inventory.models import Item, ItemUom, Lot, StockStatus
from inventory.services import lots_ensure
from procurement import rules
from procurement.exceptions import (
    InvalidQuantity,
    LotNotAllowed,
    LotRequired,
    NotReceivable,
    OverReceipt,
    UnknownUnit,
)
from procurement.models import FreightMethod, PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine
from procurement.purchasing import local_date
from warehouses.models import Location, LocationKind, Warehouse

TOLERANCE_POLICY = "procurement.over_receipt_tolerance"
INSPECTION_POLICY = "procurement.inspection_required"
ALLOW_OVER = "procurement.allow_over_receipt"
MAX_LINES = 2000
CENT = Decimal("0.01")
COST_PLACES = Decimal("0.000001")
RATE_PLACES = Decimal("0.00000001")
# Where received goods may be put: not in transit, not on the shipping dock.
RECEIVABLE_KINDS = (LocationKind.RECEIVING, LocationKind.STORAGE, LocationKind.PICK, LocationKind.QUARANTINE)


@dataclass(frozen=True)
class ReceiptLineSpec:
    """What arrived of one order line: ``quantity`` in ``uom`` (blank: the order line's unit), of ``lot_number``
    expiring ``expiry_date`` (lot-tracked items), in ``status`` (blank: ``available``, or ``quality_hold`` where
    inspection is required), at the scanned ``location`` code (None: where the put-away rules say)."""

    line_no: int
    quantity: Decimal
    uom: str = ""
    lot_number: str | None = None
    expiry_date: dt.date | None = None
    status: str = ""
    location: str | None = None


@dataclass(frozen=True)
class Freight:
    """Freight paid on the receipt: ``amount`` in ``currency``, spread over its lines by ``method`` (``quantity``,
    ``value`` or ``weight``)."""

    amount: Decimal
    currency: str
    method: str


@dataclass
class _Part:
    """One receipt line to write: a part of an order line at one location, lot and status."""

    order_line: PurchaseOrderLine
    spec: ReceiptLineSpec
    quantity: Decimal
    uom_quantity: Decimal
    uom_code: str
    lot: Lot | None
    status: StockStatus
    location: Location
    price_cost: Decimal
    freight: Decimal = Decimal(0)
    over: Decimal = Decimal(0)

    @property
    def unit_cost(self) -> Decimal:
        return (self.price_cost + self.freight / self.quantity).quantize(COST_PLACES)


def _locked(order_id: int) -> PurchaseOrder:
    return (PurchaseOrder.objects.select_for_update(of=("self",))
            .select_related("warehouse__legal_entity", "warehouse__region", "supplier").get(pk=order_id))


def check_freight(freight: Freight | None) -> None:
    if freight is None:
        return
    errors: list[str] = []
    if not isinstance(freight.amount, Decimal) or not freight.amount.is_finite() or freight.amount < 0 \
            or freight.amount.quantize(CENT) != freight.amount:
        errors.append("The amount must be 0 or more, to the cent.")
    if not isinstance(freight.currency, str) or len(freight.currency) != 3 or not freight.currency.isalpha() \
            or not freight.currency.isupper():
        errors.append("The currency is a three-letter ISO code in capitals, such as EUR.")
    if freight.method not in FreightMethod.values:
        errors.append(f"The method is one of {', '.join(FreightMethod.values)}.")
    if errors:
        raise ValidationFailed(detail={"freight": errors})


def _may_allow_over(actor: Actor, warehouse: Warehouse) -> bool:
    user = acting_user(actor)
    return bool(user is not None and user.has_perm(ALLOW_OVER) and scope_of(user).covers_warehouse(warehouse.pk))


def _lots(specs: list[tuple[ReceiptLineSpec, Item]], today: dt.date) -> dict[tuple[int, str], Lot]:
    """The lots named for lot-tracked items, made when new (``inventory.services.lots_ensure``)."""
    return lots_ensure(lots=[(item, spec.lot_number, spec.expiry_date) for spec, item in specs if spec.lot_number],
                       received_on=today)


def _locations(warehouse: Warehouse, codes: set[str]) -> dict[str, Location]:
    found = {loc.code: loc for loc in Location.objects.filter(warehouse=warehouse, code__in=codes)} if codes else {}
    for code in sorted(codes):
        location = found.get(code)
        if location is None:
            raise ValidationFailed(detail={"lines": [f"{warehouse.code} has no location {code}."]})
        if not location.active or location.kind not in RECEIVABLE_KINDS:
            raise ValidationFailed(detail={"lines": [f"{code} cannot take received goods (inactive, in transit or "
                                                     f"a shipping dock)."]})
    return found


def _proposed(warehouse: Warehouse, rows: list[tuple[int, Item, Decimal]]) -> dict[int, list[tuple[Location, Decimal]]]:
    """Where the put-away rules put each row (key, item, base quantity): [(location, quantity)] adding up to it."""
    from procurement import putaway

    proposals = putaway.putaway_proposals(warehouse=warehouse, lines=rows)
    return {proposal.key: [(part.location, part.quantity) for part in proposal.parts] for proposal in proposals}


@command
def receipt_post(*, purchase_order: PurchaseOrder, lines: list[ReceiptLineSpec], actor: Actor,
                 freight: Freight | None = None, supplier_reference: str = "", allow_over: bool = False) -> Receipt:
    """Receive goods against an approved (or sent, or partly received) order and post them.

    Refuses (nothing written): an order in any other status (409 ``not_receivable``); no lines; a line number the
    order does not have; a quantity not above 0 or an unknown unit; a lot missing for a lot-tracked item (400
    ``lot_required``) or given for one that is not (400 ``lot_not_allowed``); an expiry before today; a status other
    than ``available`` or ``quality_hold``, or ``available`` where inspection is required; a location not in the
    warehouse or unable to take goods; a freight without amount, currency or method, or with no rate to the
    entity's currency; and a line received beyond its tolerance (409 ``over_receipt``) unless ``allow_over`` by a
    person who may allow it (403 otherwise).
    """
    if not lines:
        raise ValidationFailed(detail={"lines": ["A receipt needs at least one line."]})
    if len(lines) > MAX_LINES:
        raise ValidationFailed(detail={"lines": [f"At most {MAX_LINES} lines per receipt."]})
    if not isinstance(supplier_reference, str) or len(supplier_reference) > 64:
        raise ValidationFailed(detail={"supplier_reference": ["At most 64 characters."]})
    check_freight(freight)
    order = _locked(purchase_order.pk)
    if order.status not in rules.RECEIVABLE_STATUSES:
        raise NotReceivable(f"{order.number} is {order.status}; only an approved or sent order is received.",
                            detail={"number": order.number, "status": order.status})
    warehouse = order.warehouse
    if allow_over and not _may_allow_over(actor, warehouse):
        raise PermissionDenied(f"Only a supervisor or approver of {warehouse.code} may allow an over-receipt.")
    entity_currency = warehouse.legal_entity.currency
    today = local_date(warehouse)
    order_lines = {line.line_no: line for line in PurchaseOrderLine.objects.select_for_update(of=("self",))
                   .filter(order=order).select_related("item").order_by("line_no")}
    policies = policy_values_at_warehouses([TOLERANCE_POLICY, INSPECTION_POLICY], [warehouse])[warehouse.pk]
    tolerance = Decimal(str(policies[TOLERANCE_POLICY]))
    inspection = bool(policies[INSPECTION_POLICY])
    rate = exchange_rate_on(order.currency, entity_currency, today).quantize(RATE_PLACES)
    freight_base = Decimal(0)
    if freight is not None:
        freight_base = (freight.amount * exchange_rate_on(freight.currency, entity_currency, today)).quantize(CENT)

    # Check every line before anything is written.
    items: list[tuple[ReceiptLineSpec, Item]] = []
    for number, spec in enumerate(lines, start=1):
        label = f"Line {number}"
        line = order_lines.get(spec.line_no) if isinstance(spec.line_no, int) else None
        if line is None:
            raise ValidationFailed(detail={"lines": [f"{label}: {order.number} has no line {spec.line_no}."]})
        if not isinstance(spec.quantity, Decimal) or not spec.quantity.is_finite() or spec.quantity <= 0:
            raise InvalidQuantity(detail={"lines": [f"{label}: the quantity must be more than 0."]})
        if line.item.lot_tracked and not spec.lot_number:
            raise LotRequired(detail={"lines": [f"{label}: {line.item.sku} is lot-tracked: give its lot."]})
        if not line.item.lot_tracked and (spec.lot_number or spec.expiry_date):
            raise LotNotAllowed(detail={"lines": [f"{label}: {line.item.sku} is not lot-tracked: give no lot or "
                                                  f"expiry."]})
        if spec.expiry_date is not None and spec.expiry_date < today:
            raise ValidationFailed(detail={"lines": [f"{label}: the expiry date may not be before today at "
                                                     f"{warehouse.code} ({today.isoformat()})."]})
        status = spec.status or ("quality_hold" if inspection else "available")
        if status not in rules.RECEIPT_STATUSES:
            raise ValidationFailed(detail={"lines": [f"{label}: the status is one of "
                                                     f"{', '.join(rules.RECEIPT_STATUSES)}."]})
        if inspection and status != "quality_hold":
            raise ValidationFailed(detail={"lines": [f"{label}: {warehouse.code} inspects what it receives "
                                                     f"(procurement.inspection_required): receive into quality_hold."]})
        items.append((spec, line.item))
    codes = {spec.uom for spec in lines if spec.uom}
    factors = {(item_id, code): factor for item_id, code, factor in ItemUom.objects.filter(
        item_id__in={line.item_id for line in order_lines.values()}, uom__code__in=codes)
        .values_list("item_id", "uom__code", "factor")} if codes else {}
    statuses = {status.code: status for status in StockStatus.objects.filter(code__in=rules.RECEIPT_STATUSES)}
    scanned = _locations(warehouse, {spec.location for spec in lines if spec.location})
    lots = _lots(items, today)

    # Quantities, tolerance, where each part goes.
    received: dict[int, Decimal] = defaultdict(Decimal)
    wanted: list[tuple[ReceiptLineSpec, PurchaseOrderLine, Decimal]] = []
    for number, spec in enumerate(lines, start=1):
        line = order_lines[spec.line_no]
        if spec.uom and spec.uom != line.uom_code:
            factor = factors.get((line.item_id, spec.uom))
            if factor is None:
                raise UnknownUnit(detail={"lines": [f"Line {number}: {line.item.sku} has no unit {spec.uom}."]})
        else:
            factor = line.quantity / line.uom_quantity
        base = stock_rules.to_base(spec.quantity, factor)
        if base <= 0:
            raise InvalidQuantity(detail={"lines": [f"Line {number}: the quantity must be more than 0."]})
        received[line.line_no] += base
        wanted.append((spec, line, base))
    over_by_line: dict[int, Decimal] = {}
    for line_no, quantity in received.items():
        line = order_lines[line_no]
        total = line.received_quantity + quantity
        limit = rules.receipt_limit(line.quantity, tolerance)
        if total > limit and not allow_over:
            raise OverReceipt(
                f"Line {line_no} ({line.item.sku}) would receive {total.normalize():f} of {line.quantity.normalize():f}"
                f" ordered; {tolerance.normalize():f}% tolerance allows {limit.normalize():f}.",
                detail={"line_no": line_no, "sku": line.item.sku, "ordered": str(line.quantity),
                        "received": str(line.received_quantity), "receiving": str(quantity), "limit": str(limit)})
        over_by_line[line_no] = max(total - max(line.quantity, line.received_quantity), Decimal(0))
    to_propose = [(index, line.item, base) for index, (spec, line, base) in enumerate(wanted) if not spec.location]
    proposals = _proposed(warehouse, to_propose) if to_propose else {}
    parts: list[_Part] = []
    for index, (spec, line, base) in enumerate(wanted):
        price_cost = (line.unit_price * line.uom_quantity / line.quantity * rate).quantize(COST_PLACES)
        places = [(scanned[spec.location], base)] if spec.location else proposals[index]
        for location, quantity in places:
            parts.append(_Part(
                order_line=line, spec=spec, quantity=quantity,
                uom_quantity=(spec.quantity * quantity / base if spec.uom
                              else quantity * line.uom_quantity / line.quantity),
                uom_code=spec.uom or line.uom_code, lot=lots.get((line.item_id, spec.lot_number or "")),
                status=statuses[spec.status or ("quality_hold" if inspection else "available")], location=location,
                price_cost=price_cost))
    # What is over the tolerance-free quantity is marked on the last parts of its line.
    for part in reversed(parts):
        over = over_by_line.get(part.order_line.line_no, Decimal(0))
        if over > 0:
            part.over = min(over, part.quantity)
            over_by_line[part.order_line.line_no] = over - part.over
    if freight is not None:
        for part, share in zip(parts, rules.spread(freight_base, _weights(parts, freight.method)), strict=True):
            part.freight = share

    # Post: the ledger, then the receipt and its lines (naming their moves), then the order's lines and status.
    pk = next_document_id(Receipt)
    receipt_number = f"RCV-{pk:06d}"
    moves = stock.post_moves(
        moves=[stock.MoveSpec(item=part.order_line.item, warehouse=warehouse, location=part.location,
                              status=part.status, quantity=part.quantity, lot=part.lot, unit_cost=part.unit_cost)
               for part in parts],
        reference_type="purchase_receipt", reference_id=receipt_number,
        reference=f"{order.number} {receipt_number}", actor=actor)
    now = timezone.now()
    receipt = Receipt.objects.create(
        pk=pk, number=receipt_number, purchase_order=order, warehouse=warehouse, supplier_reference=supplier_reference,
        currency=entity_currency, rate=rate, freight_amount=freight.amount if freight else None,
        freight_currency=freight.currency if freight else "", freight_method=freight.method if freight else "",
        freight_base=freight_base, received_by=recorded_actor(actor), posted_at=now)
    allowed_by = recorded_actor(actor) if allow_over else None
    ReceiptLine.objects.bulk_create([
        ReceiptLine(receipt=receipt, order_line=part.order_line, warehouse=warehouse, line_no=index,
                    item=part.order_line.item, lot=part.lot, location=part.location, status=part.status.code,
                    quantity=part.quantity,
                    uom_quantity=part.uom_quantity.quantize(Decimal("0.0001")), uom_code=part.uom_code,
                    price_cost=part.price_cost, freight=part.freight, unit_cost=part.unit_cost,
                    over_quantity=part.over, over_allowed_by=allowed_by if part.over > 0 else None, move=move)
        for index, (part, move) in enumerate(zip(parts, moves, strict=True), start=1)
    ])
    _add_received(received, order_lines)
    after = [(line.quantity, line.received_quantity + received.get(line.line_no, Decimal(0)))
             for line in order_lines.values()]
    to_status = rules.after_receipt_status(after)
    document_move(order, to_status, may_move=rules.purchase_order_may_move, refused=NotReceivable,
                  **({"received_at": now} if to_status == "received" else {}))
    return receipt


def _weights(parts: list[_Part], method: str) -> list[Decimal]:
    if method == FreightMethod.QUANTITY:
        return [part.quantity for part in parts]
    if method == FreightMethod.VALUE:
        return [part.quantity * part.price_cost for part in parts]
    missing = sorted({part.order_line.item.sku for part in parts if part.order_line.item.weight_kg is None})
    if missing:
        raise ValidationFailed(detail={"freight": [f"Freight by weight needs every item's weight; "
                                                   f"{', '.join(missing)} has none."]})
    return [part.quantity * (part.order_line.item.weight_kg or Decimal(0)) for part in parts]


def _add_received(received: dict[int, Decimal], order_lines: dict[int, PurchaseOrderLine]) -> None:
    """Add what arrived to the order lines' ``received_quantity`` in one statement."""
    ids = [order_lines[line_no].pk for line_no in sorted(received)]
    quantities = [received[line_no] for line_no in sorted(received)]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procurement_purchaseorderline AS l SET received_quantity = l.received_quantity + v.quantity "
            "FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, quantity) WHERE l.id = v.id",
            [ids, quantities])


def receipt_lines_of(receipt: Receipt) -> Any:
    return ReceiptLine.objects.filter(receipt=receipt).select_related("item", "lot", "location", "order_line")
