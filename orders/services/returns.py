"""Returns (RMA): authorizing a return against shipped order lines, receiving it with a disposition per line,
and cancelling an authorization before anything came back.

Authorizing (customer service) takes quantities of shipped lines back, never more than shipped minus what the
other returns of that line already hold (an open authorization its quantity, a received one what came). A
lot-tracked line names the lot that shipped (or the one lot that did). The return is received at one
warehouse: the one that shipped most of its lines unless another of the same legal entity is named (the goods
come back into the books that shipped them, at the cost they left at).

Receiving (operators) is the inspection: each line that came back is posted in as
``returned_pending_inspection`` at a receiving location, at the unit cost it shipped at (the weighted cost
of the order line's shipment lines), and moved at once by its disposition to ``available`` (restock),
``quality_hold`` (quarantine) or ``damaged`` (reason ``INSPECTED``), each a ledger move in one posting. Goods
arriving in ``quality_hold`` or ``damaged`` raise a ``damaged_goods`` exception, as a status change does
(``inventory.services.DAMAGE_STATUSES``). Under ``returns.inspection_required`` (at the warehouse) every line
needs its disposition; without it a line with none is restocked. A return is received once.

Locks follow ``inventory.stock``'s lock order: the stock posting (``stock.post_moves``) first, then the return
(its status checked again). Authorizing locks only the order, so two authorizations of one line take turns
and never hold more than shipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from django.db.models import Case, F, Prefetch, QuerySet, Sum, When
from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.lifecycle import document_move, next_document_id
from erp.transactions import command, recorded_actor
from governance.selectors import policy_value
from governance.services.exceptions import exception_raise
from inventory import rules as stock_rules
from inventory import stock
from inventory.exceptions import (
    InvalidQuantity,
    InvalidStatusTransition,
    LocationRequired,
    LotNotAllowed,
    LotRequired,
    UnknownLot,
)
from inventory.models import Lot, ReasonCode, ReasonCodeUse, StatusTransition, StockStatus
from inventory.services import DAMAGE_STATUSES
from orders import rules
from orders.exceptions import (
    DispositionRequired,
    InvalidReturnTransition,
    LineNotShipped,
    ReturnExceedsAuthorized,
    ReturnExceedsShipped,
)
from orders.models import (
    Disposition,
    ReturnAuthorization,
    ReturnLine,
    ReturnStatus,
    SalesOrder,
    SalesOrderLine,
    ShipmentLine,
    ShipmentStatus,
)
from warehouses.models import Location, LocationKind, Warehouse

MAX_LINES = 500
MAX_REASON = 500
MAX_NOTE = 500
INSPECTION_POLICY = "returns.inspection_required"
RECEIVED_STATUS = "returned_pending_inspection"
INSPECTED_REASON = "INSPECTED"
# Where each disposition puts the goods (a standard status).
DISPOSITION_STATUS = {
    Disposition.RESTOCK: "available",
    Disposition.QUARANTINE: "quality_hold",
    Disposition.DAMAGED: "damaged",
}
# Shipments whose stock has left: what a return can come back from.
LEFT = (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED)

return_may_move = rules.may_move(rules.RETURN_TRANSITIONS)


@dataclass(frozen=True)
class ReturnLineSpec:
    """``quantity`` (base unit, more than 0) of the order's line ``line_no`` authorized back; ``lot_number`` is
    the lot that shipped (required for a lot-tracked line that shipped from more than one lot)."""

    line_no: int
    quantity: Decimal
    lot_number: str | None = None


@dataclass(frozen=True)
class ReceiptLineSpec:
    """What came back of the return's line ``line_no``: ``quantity`` (base unit, more than 0, at most what was
    authorized), its ``disposition`` (``restock``, ``quarantine``, ``damaged``; may be left empty when the
    warehouse does not require inspection: restock), where it was received (a location of the return's
    warehouse, its code or the object; default its receiving location) and a note."""

    line_no: int
    quantity: Decimal
    disposition: str = ""
    location: Location | str | None = None
    note: str = ""


S = TypeVar("S", ReturnLineSpec, ReceiptLineSpec)


def _specs(kind: type[S], rows: Iterable[S | Mapping[str, Any]]) -> list[S]:
    """The lines as specs: each a ``kind`` or a mapping of its fields (anything else is a 400 naming the line)."""
    allowed = {f.name for f in fields(kind)}
    specs: list[S] = []
    for number, row in enumerate(rows, start=1):
        if isinstance(row, kind):
            specs.append(row)
            continue
        if not isinstance(row, Mapping) or set(row) - allowed or not {"line_no", "quantity"} <= set(row):
            raise ValidationFailed(detail={"lines": [f"Entry {number}: give line_no and quantity"
                                                     f" (and only {', '.join(sorted(allowed))})."]})
        specs.append(kind(**row))
    return specs


def _quantity(value: Any, label: str) -> Decimal:
    """A base quantity as entered: finite, more than 0, at most 4 decimal places (never rounded)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidQuantity(detail={"lines": [f"{label}: the quantity is not a number."]})
    try:
        quantity = stock_rules.to_base(Decimal(value), Decimal(1))
    except (ValidationFailed, ArithmeticError, ValueError) as exc:
        raise InvalidQuantity(detail={"lines": [f"{label}: the quantity must be a number with at most 4 decimal "
                                                f"places."]}) from exc
    if quantity <= 0:
        raise InvalidQuantity(detail={"lines": [f"{label}: the quantity must be more than 0."]})
    return quantity


def _line_no(value: Any, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationFailed(detail={"lines": [f"{label}: line_no must be a whole number from 1."]})
    return int(value)


def _shipped(line_ids: list[int]) -> dict[int, dict[tuple[int, int | None], Decimal]]:
    """Per order line: what left, by (warehouse id, lot id). One query."""
    parts: dict[int, dict[tuple[int, int | None], Decimal]] = defaultdict(dict)
    rows = (ShipmentLine.objects.filter(order_line_id__in=line_ids, shipment__status__in=LEFT)
            .values("order_line_id", "warehouse_id", "lot_id").annotate(quantity=Sum("quantity"))
            .order_by("order_line_id", "warehouse_id", "lot_id"))
    for row in rows:
        parts[row["order_line_id"]][(row["warehouse_id"], row["lot_id"])] = row["quantity"]
    return parts


def _already_returned(line_ids: list[int]) -> dict[tuple[int, int | None], Decimal]:
    """Per (order line, lot): what returns not cancelled hold of it (authorized: the quantity; received or
    closed: what came back). One query."""
    held = Case(When(rma__status=ReturnStatus.AUTHORIZED, then=F("quantity")), default=F("received_quantity"))
    rows = (ReturnLine.objects.filter(order_line_id__in=line_ids).exclude(rma__status=ReturnStatus.CANCELLED)
            .values("order_line_id", "lot_id").annotate(quantity=Sum(held)).order_by("order_line_id", "lot_id"))
    return {(row["order_line_id"], row["lot_id"]): row["quantity"] or Decimal(0) for row in rows}


def return_warehouse_default(*, order: SalesOrder, line_nos: Iterable[int]) -> Warehouse | None:
    """Where a return of these lines of ``order`` is received unless another warehouse is named: the one that
    shipped most of them (ties: the first by code); None when none of them shipped. Two queries."""
    wanted = set(line_nos)
    totals: dict[int, Decimal] = defaultdict(Decimal)
    rows = (ShipmentLine.objects.filter(order_line__order=order, order_line__line_no__in=wanted,
                                        shipment__status__in=LEFT)
            .values("warehouse_id").annotate(quantity=Sum("quantity")).order_by("warehouse_id"))
    for row in rows:
        totals[row["warehouse_id"]] += row["quantity"]
    if not totals:
        fallback = (SalesOrderLine.objects.filter(order=order, line_no__in=wanted, shipped_quantity__gt=0,
                                                  warehouse__isnull=False)
                    .order_by("line_no").values_list("warehouse_id", flat=True).first())
        if fallback is None:
            return None
        totals[fallback] = Decimal(0)
    sites = {site.pk: site for site in Warehouse.objects.select_related("region", "legal_entity")
             .filter(pk__in=list(totals))}
    return min(sites.values(), key=lambda site: (-totals[site.pk], site.code))


@command
def return_authorize(*, order: SalesOrder, lines: list[ReturnLineSpec | Mapping[str, Any]],
                     actor: Actor, warehouse: Warehouse | None = None,
                     reason: str = "") -> ReturnAuthorization:
    """Authorize a return (status ``authorized``, number ``RMA-000042``) of shipped lines of ``order``.

    Each line names the order's ``line_no``, a quantity in the item's base unit and, for a lot-tracked item, the
    lot that shipped (it may be left out when the line shipped from one lot). Refuses (400) an unknown line,
    a line with nothing shipped (``line_not_shipped``), a quantity that is not above zero, more than shipped
    minus what other returns hold of the line or lot (``return_exceeds_shipped``), a lot that did not ship on
    the line (``unknown_lot``), the same line and lot twice, a warehouse that is inactive or of another legal
    entity than the one the goods shipped from. ``warehouse`` defaults to ``return_warehouse_default``.
    Locks the order, so concurrent authorizations of one line take turns.
    """
    specs = _specs(ReturnLineSpec, lines)
    if not specs:
        raise ValidationFailed(detail={"lines": ["A return needs at least one line."]})
    if len(specs) > MAX_LINES:
        raise ValidationFailed(detail={"lines": [f"At most {MAX_LINES} lines per return."]})
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise ValidationFailed(detail={"reason": [f"At most {MAX_REASON} characters."]})
    wanted = []
    for number, spec in enumerate(specs, start=1):
        label = f"Entry {number}"
        line_no = _line_no(spec.line_no, label)
        quantity = _quantity(spec.quantity, f"Line {line_no}")
        lot_number = spec.lot_number.strip() if isinstance(spec.lot_number, str) else spec.lot_number
        if lot_number is not None and not isinstance(lot_number, str):
            raise ValidationFailed(detail={"lines": [f"Line {line_no}: the lot is not text."]})
        wanted.append((line_no, quantity, lot_number or None))

    locked = SalesOrder.objects.select_for_update(of=("self",)).get(pk=order.pk)
    order_lines = {line.line_no: line for line in SalesOrderLine.objects.filter(
        order=locked, line_no__in={w[0] for w in wanted}).select_related("item")}
    unknown = sorted({w[0] for w in wanted} - set(order_lines))
    if unknown:
        raise ValidationFailed(detail={"lines": [f"{locked.number} has no line {n}." for n in unknown]})
    not_shipped = sorted({n for n, _, _ in wanted if order_lines[n].shipped_quantity <= 0})
    if not_shipped:
        raise LineNotShipped(detail={"lines": [f"Line {n} of {locked.number} has not shipped." for n in not_shipped]})

    line_ids = sorted({line.pk for line in order_lines.values()})
    shipped = _shipped(line_ids)
    lot_ids = {pk for parts in shipped.values() for _, pk in parts}
    lots = {lot.pk: lot for lot in Lot.objects.filter(pk__in=lot_ids)}
    held = _already_returned(line_ids)

    rows: list[tuple[SalesOrderLine, Decimal, int | None]] = []
    seen: set[tuple[int, int | None]] = set()
    for line_no, quantity, lot_number in wanted:
        line = order_lines[line_no]
        shipped_lots = {pk: lots[pk] for _, pk in shipped.get(line.pk, {}) if pk is not None}
        lot_id: int | None = None
        if not line.item.lot_tracked:
            if lot_number:
                raise LotNotAllowed(detail={"lines": [f"Line {line_no}: {line.item.sku} is not lot-tracked."]})
        elif lot_number:
            lot_id = next((pk for pk, lot in shipped_lots.items() if lot.lot_number == lot_number), None)
            if lot_id is None:
                raise UnknownLot(detail={"lines": [f"Line {line_no}: lot {lot_number} of {line.item.sku} did "
                                                         f"not ship on this line."]})
        elif len(shipped_lots) == 1:
            (lot_id,) = shipped_lots
        else:
            shipped_from = ", ".join(sorted(lot.lot_number for lot in shipped_lots.values())) or "none recorded"
            raise LotRequired(detail={"lines": [f"Line {line_no}: {line.item.sku} is lot-tracked and shipped from "
                                                f"lots {shipped_from}; name the lot."]})
        if (line.pk, lot_id) in seen:
            raise ValidationFailed(detail={"lines": [f"Line {line_no} is listed more than once"
                                                     f"{' for that lot' if lot_id else ''}."]})
        seen.add((line.pk, lot_id))
        rows.append((line, quantity, lot_id))

    by_line: dict[int, Decimal] = defaultdict(Decimal)
    for line, quantity, _ in rows:
        by_line[line.pk] += quantity
    for line, quantity, lot_id in rows:
        returned = sum((q for (pk, _), q in held.items() if pk == line.pk), Decimal(0))
        left = line.shipped_quantity - returned
        if by_line[line.pk] > left:
            raise ReturnExceedsShipped(detail={"lines": [
                f"Line {line.line_no} of {locked.number}: {line.shipped_quantity} shipped, {returned} already on "
                f"returns, {by_line[line.pk]} asked; at most {max(left, Decimal(0))} more may come back."]})
        if lot_id is not None:
            lot_shipped = sum((q for (_, pk), q in shipped[line.pk].items() if pk == lot_id), Decimal(0))
            lot_left = lot_shipped - held.get((line.pk, lot_id), Decimal(0))
            if quantity > lot_left:
                raise ReturnExceedsShipped(detail={"lines": [
                    f"Line {line.line_no} of {locked.number}: {lot_shipped} of lot {lots[lot_id].lot_number} shipped, "
                    f"{quantity} asked; at most {max(lot_left, Decimal(0))} more may come back."]})

    if warehouse is None:
        warehouse = return_warehouse_default(order=locked, line_nos=[line.line_no for line, _, _ in rows])
        if warehouse is None:  # shipped quantities without shipments or a warehouse: nothing to receive against
            raise LineNotShipped(detail={"lines": ["None of these lines shipped from a warehouse."]})
    warehouse = Warehouse.objects.get(pk=warehouse.pk)
    if not warehouse.active:
        raise ValidationFailed(detail={"warehouse": [f"{warehouse.code} is not active; name the warehouse that "
                                                     f"receives the goods."]})
    _check_same_books(warehouse, rows, shipped)

    pk = next_document_id(ReturnAuthorization)
    rma = ReturnAuthorization(pk=pk, number=f"RMA-{pk:06d}", order=locked, customer_id=locked.customer_id,
                              warehouse=warehouse, reason=reason,
                              created_by=recorded_actor(actor))
    rma.save(force_insert=True)
    ReturnLine.objects.bulk_create([
        ReturnLine(rma=rma, warehouse=warehouse, line_no=number, order_line=line, item_id=line.item_id, lot_id=lot_id,
                   quantity=quantity)
        for number, (line, quantity, lot_id) in enumerate(rows, start=1)
    ])
    return rma


def _check_same_books(warehouse: Warehouse, rows: list[tuple[SalesOrderLine, Decimal, int | None]],
                      shipped: dict[int, dict[tuple[int, int | None], Decimal]]) -> None:
    """The goods come back into the legal entity that shipped them (their cost is in its books and currency)."""
    site_ids = {site for line, _, _ in rows for site, _ in shipped.get(line.pk, {})}
    site_ids |= {line.warehouse_id for line, _, _ in rows if not shipped.get(line.pk) and line.warehouse_id}
    entities = dict(Warehouse.objects.filter(pk__in=site_ids).values_list("pk", "legal_entity_id"))
    for line, _, _ in rows:
        sources = {site for site, _ in shipped.get(line.pk, {})} or {line.warehouse_id or 0}  # 0: no warehouse
        if warehouse.legal_entity_id not in {entities.get(site) for site in sources if site is not None}:
            raise ValidationFailed(detail={"warehouse": [
                f"Line {line.line_no} shipped from another legal entity than {warehouse.code}'s; return it to a "
                f"warehouse of the legal entity that shipped it."]})


# --- receiving --------------------------------------------------------------------------------------------


def return_inspection_required(warehouse: Warehouse) -> bool:
    """``returns.inspection_required`` at the warehouse: whether every line received needs its disposition."""

    return bool(policy_value(INSPECTION_POLICY, warehouse=warehouse).value)


def _shipped_costs(lines: list[ReturnLine], legal_entity_id: int) -> dict[tuple[int, int | None], Decimal]:
    """Per (order line, lot): the weighted unit cost it shipped at from the legal entity's warehouses (a lot with
    no shipment of its own takes the line's). One query."""
    rows = (ShipmentLine.objects.filter(order_line_id__in={line.order_line_id for line in lines},
                                        shipment__status__in=LEFT, unit_cost__isnull=False,
                                        warehouse__legal_entity_id=legal_entity_id)
            .values_list("order_line_id", "lot_id", "quantity", "unit_cost"))
    sums: dict[tuple[int, int | None], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for line_id, lot_id, quantity, unit_cost in rows:
        for key in ((line_id, lot_id), (line_id, None)) if lot_id is not None else ((line_id, None),):
            sums[key][0] += quantity
            sums[key][1] += quantity * unit_cost  # type: ignore[operator]  # the query keeps only lines with a unit cost
    return {key: (value / quantity).quantize(stock_rules.UNIT_COST_QUANTUM, rounding=ROUND_HALF_EVEN)
            for key, (quantity, value) in sums.items() if quantity > 0}


def _receiving_location(warehouse: Warehouse) -> Location:
    location = (Location.objects.select_related("warehouse").filter(warehouse=warehouse, kind=LocationKind.RECEIVING,
                                                                    active=True).order_by("path").first())
    if location is None:
        raise LocationRequired(detail={"lines": [f"{warehouse.code} has no receiving location; name one per line."]})
    return location


@dataclass
class _Receipt:
    line: ReturnLine
    quantity: Decimal
    disposition: str
    location: Location
    note: str


def _receipts(rma: ReturnAuthorization, specs: list[ReceiptLineSpec], required: bool) -> list[_Receipt]:
    """Validate what came back against the return's lines (all or nothing: a 400 names the first problem)."""
    rma_lines = {line.line_no: line for line in ReturnLine.objects.filter(rma=rma).select_related("item", "lot")}
    named = {spec.location for spec in specs if isinstance(spec.location, str) and spec.location.strip()}
    locations = {loc.code: loc for loc in Location.objects.select_related("warehouse").filter(
        warehouse=rma.warehouse, code__in={code.strip().upper() for code in named}, active=True)}
    default: Location | None = None
    receipts: list[_Receipt] = []
    seen: set[int] = set()
    for number, spec in enumerate(specs, start=1):
        line_no = _line_no(spec.line_no, f"Entry {number}")
        line = rma_lines.get(line_no)
        if line is None:
            raise ValidationFailed(detail={"lines": [f"{rma.number} has no line {line_no}."]})
        if line_no in seen:
            raise ValidationFailed(detail={"lines": [f"Line {line_no} is listed more than once."]})
        seen.add(line_no)
        quantity = _quantity(spec.quantity, f"Line {line_no}")
        if quantity > line.quantity:
            raise ReturnExceedsAuthorized(detail={"lines": [
                f"Line {line_no} of {rma.number}: {line.quantity} authorized, {quantity} received."]})
        disposition = spec.disposition if isinstance(spec.disposition, str) else None
        if disposition is None or (disposition and disposition not in Disposition.values):
            raise ValidationFailed(detail={"lines": [f"Line {line_no}: the disposition must be one of "
                                                     f"{', '.join(Disposition.values)}."]})
        if not disposition:
            if required:
                raise DispositionRequired(detail={"lines": [
                    f"Line {line_no}: {rma.warehouse.code} inspects returns; give each line its disposition "
                    f"({', '.join(Disposition.values)})."]})
            disposition = Disposition.RESTOCK
        note = spec.note if isinstance(spec.note, str) else None
        if note is None or len(note) > MAX_NOTE:
            raise ValidationFailed(detail={"lines": [f"Line {line_no}: the note is text of at most {MAX_NOTE} "
                                                     f"characters."]})
        if isinstance(spec.location, Location):
            location = spec.location
            if location.warehouse_id != rma.warehouse_id:
                raise ValidationFailed(detail={"lines": [f"Line {line_no}: {location.code} is not in "
                                                         f"{rma.warehouse.code}."]})
        elif isinstance(spec.location, str) and spec.location.strip():
            found = locations.get(spec.location.strip().upper())
            if found is None:
                raise ValidationFailed(detail={"lines": [f"Line {line_no}: no location {spec.location.strip()} in "
                                                         f"{rma.warehouse.code}."]})
            location = found
        elif spec.location in (None, ""):
            default = default or _receiving_location(rma.warehouse)
            location = default
        else:
            raise ValidationFailed(detail={"lines": [f"Line {line_no}: the location is a location code."]})
        receipts.append(_Receipt(line, quantity, disposition, location, note.strip()))
    return receipts


def _inspection_statuses(targets: set[str]) -> tuple[dict[str, StockStatus], ReasonCode]:
    """The statuses a receipt moves through and the ``INSPECTED`` reason; each move must be an allowed status
    transition for that reason (``StatusTransition``), else 409 ``invalid_status_transition``."""
    statuses = {status.code: status for status in StockStatus.objects.filter(code__in={RECEIVED_STATUS, *targets})}
    reason = ReasonCode.objects.filter(code=INSPECTED_REASON, applies_to=ReasonCodeUse.STATUS_CHANGE).first()
    allowed = set(StatusTransition.objects.filter(from_status__code=RECEIVED_STATUS, to_status__code__in=targets,
                                                  reason_codes__code=INSPECTED_REASON)
                  .values_list("to_status__code", flat=True))
    refused = sorted(code for code in targets if code not in allowed or code not in statuses)
    if reason is None or RECEIVED_STATUS not in statuses or refused:
        raise InvalidStatusTransition(
            f"Returned stock may not move from {RECEIVED_STATUS} to {', '.join(refused) or 'its disposition'} for "
            f"reason {INSPECTED_REASON}.",
            detail={"from_status": RECEIVED_STATUS, "to_status": refused, "reason": INSPECTED_REASON})
    return statuses, reason


def _raise_damaged(rma: ReturnAuthorization, receipts: list[_Receipt], statuses: dict[str, StockStatus],
                   actor: Actor) -> None:
    """One ``damaged_goods`` raise per item and lot that arrived in a damage status (the business key a status
    change uses, so a return and a status change of the same goods meet in one exception)."""
    grouped: dict[tuple[int, int | None], list[_Receipt]] = defaultdict(list)
    for receipt in receipts:
        if DISPOSITION_STATUS[Disposition(receipt.disposition)] in DAMAGE_STATUSES:
            grouped[(receipt.line.item_id, receipt.line.lot_id)].append(receipt)
    warehouse = rma.warehouse
    for (_, _), group in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        first = group[0].line
        lot_label = first.lot.lot_number if first.lot else "-"
        quantity = sum((r.quantity for r in group), Decimal(0))
        targets = sorted({DISPOSITION_STATUS[Disposition(r.disposition)] for r in group})
        exception_raise(
            type="damaged_goods", business_key=stock_rules.damaged_goods_key(warehouse.code, first.item.sku, lot_label),
            title=f"{quantity} {first.item.sku} (lot {lot_label}) returned on {rma.number} put on "
                  f"{' and '.join(targets)} at {warehouse.code}",
            warehouse=warehouse, reference=rma.number,
            detail={"sku": first.item.sku, "lot": first.lot.lot_number if first.lot else None,
                    "location": group[0].location.code, "quantity": str(quantity), "status": targets[0],
                    "statuses": targets, "reason": INSPECTED_REASON, "rma": rma.number,
                    "order": rma.order.number, "lines": [r.line.line_no for r in group]},
            actor=recorded_actor(actor),
        )


@command
def return_receive(*, rma: ReturnAuthorization, lines: list[ReceiptLineSpec | Mapping[str, Any]],
                   actor: Actor) -> ReturnAuthorization:
    """Receive an authorized return at its warehouse: the receipt is the inspection.

    Each line that came back (at most its authorized quantity; lines not listed came back with nothing) is
    posted in as ``returned_pending_inspection`` at its location at the weighted unit cost its order line shipped
    at, then moved to its disposition's status with reason ``INSPECTED``: three ledger moves per line, all in one
    posting. Under ``returns.inspection_required`` a line without a disposition is 400 ``disposition_required``;
    otherwise it is restocked. Goods put on ``quality_hold`` or ``damaged`` raise a ``damaged_goods`` exception
    at the warehouse. The return becomes ``received``; receiving anything but an authorized return (received,
    closed, cancelled) is 409 ``invalid_transition`` and posts nothing. Queries: constant in the number of lines.
    """
    specs = _specs(ReceiptLineSpec, lines)
    if not specs:
        raise ValidationFailed(detail={"lines": ["Receive at least one line; cancel the return if nothing came "
                                                 "back."]})
    if len(specs) > MAX_LINES:
        raise ValidationFailed(detail={"lines": [f"At most {MAX_LINES} lines per receipt."]})
    current = (ReturnAuthorization.objects.select_related("warehouse__region", "warehouse__legal_entity", "order")
               .get(pk=rma.pk))
    if not return_may_move(current.status, ReturnStatus.RECEIVED):
        raise InvalidReturnTransition(f"{current.number} is {current.status}; only an authorized return can be "
                                      f"received.", detail={"number": current.number, "status": current.status})
    receipts = _receipts(current, specs, return_inspection_required(current.warehouse))
    statuses, reason = _inspection_statuses({DISPOSITION_STATUS[Disposition(r.disposition)] for r in receipts})
    costs = _shipped_costs([r.line for r in receipts], current.warehouse.legal_entity_id)
    arriving = statuses[RECEIVED_STATUS]
    moves = []
    for receipt in receipts:
        line = receipt.line
        target = statuses[DISPOSITION_STATUS[Disposition(receipt.disposition)]]
        cost = costs.get((line.order_line_id, line.lot_id)) or costs.get((line.order_line_id, None))
        arrival = stock.MoveSpec(item=line.item, warehouse=current.warehouse, location=receipt.location,
                                 lot=line.lot, status=arriving, quantity=receipt.quantity, unit_cost=cost)
        moves += [
            arrival,
            replace(arrival, quantity=-receipt.quantity, unit_cost=None, reason=reason),
            replace(arrival, status=target, unit_cost=None, reason=reason),
        ]
    stock.post_moves(moves=moves, reference_type="return", reference_id=str(current.pk), reference=current.number,
                     actor=actor)

    locked = ReturnAuthorization.objects.select_for_update(of=("self",)).get(pk=current.pk)
    document_move(locked, ReturnStatus.RECEIVED, may_move=return_may_move, refused=InvalidReturnTransition,
                  received_by=recorded_actor(actor), received_at=timezone.now())
    for receipt in receipts:
        receipt.line.received_quantity = receipt.quantity
        receipt.line.disposition = receipt.disposition
        receipt.line.location = receipt.location
        receipt.line.note = receipt.note
    ReturnLine.objects.bulk_update([r.line for r in receipts], ["received_quantity", "disposition", "location",
                                                                "note"])
    _raise_damaged(current, receipts, statuses, actor)
    return locked


@command
def return_cancel(*, rma: ReturnAuthorization, actor: Actor) -> ReturnAuthorization:
    """Cancel an authorized return (nothing came back): its quantities are free for another return. A received,
    closed or cancelled return is 409 ``invalid_transition``."""
    locked = ReturnAuthorization.objects.select_for_update(of=("self",)).get(pk=rma.pk)
    return document_move(locked, ReturnStatus.CANCELLED, may_move=return_may_move, refused=InvalidReturnTransition)


# --- reads shared by the API and the screens (the lead may move them to orders.selectors) -------------------


def return_authorizations() -> QuerySet[ReturnAuthorization]:
    """Returns with everything their output shows, in a constant number of queries (not yet scoped)."""
    lines = (ReturnLine.objects.select_related("item__base_uom", "lot", "location", "order_line")
             .order_by("line_no"))
    return (ReturnAuthorization.objects.select_related("order", "customer", "warehouse", "created_by", "received_by")
            .prefetch_related(Prefetch("lines", queryset=lines)))


@dataclass(frozen=True)
class Returnable:
    """A shipped line of an order and what of it may still come back (base unit)."""

    line: SalesOrderLine
    shipped: Decimal
    returned: Decimal
    lots: tuple[str, ...]

    @property
    def left(self) -> Decimal:
        return max(self.shipped - self.returned, Decimal(0))


def returnable_lines(order: SalesOrder) -> list[Returnable]:
    """The order's shipped lines with what other returns hold of them and the lots that shipped. Four queries."""
    lines = list(SalesOrderLine.objects.filter(order=order, shipped_quantity__gt=0).select_related("item__base_uom")
                 .order_by("line_no"))
    ids = [line.pk for line in lines]
    held = _already_returned(ids)
    lot_rows = (ShipmentLine.objects.filter(order_line_id__in=ids, shipment__status__in=LEFT, lot__isnull=False)
                .values_list("order_line_id", "lot__lot_number").distinct().order_by("order_line_id",
                                                                                     "lot__lot_number"))
    lots: dict[int, list[str]] = defaultdict(list)
    for line_id, number in lot_rows:
        lots[line_id].append(number)
    return [Returnable(line=line, shipped=line.shipped_quantity,
                       returned=sum((q for (pk, _), q in held.items() if pk == line.pk), Decimal(0)),
                       lots=tuple(lots.get(line.pk, ()))) for line in lines]
