"""Every write to requisitions and purchase orders. Each public function is one command.

A purchase order is priced from the supplier's items in the supplier's currency; submitting it values it in the
buying legal entity's currency at the dated rate and opens its approval request, whose steps come from the engine's
``purchase_order`` rules (``procurement.approval_matrix``: amount band x category x region). From submission on its
terms are frozen, by these services and by the database (``procurement/migrations/0003``): a change is
``purchase_order_revise`` (back to draft as a new revision, through approval again). Nobody approves what they
requested (the engine and its constraints); a duplicate copies lines, never an approval.

Locking order: the requisition, then the orders it makes (by id); an order's approval request before the order
(the engine's order); the order before its lines.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.lifecycle import document_move, next_document_id
from erp.transactions import command, joined_command, recorded_actor
from governance.services.approvals import (
    Approvable,
    approval_request_cancel,
    approval_request_open,
    exchange_rate_on,
    register_approvable,
)
from inventory import rules as stock_rules
from inventory.models import Item, ItemUom, UnitOfMeasure
from procurement import rules
from procurement.exceptions import (
    BelowMinimumOrder,
    InvalidPrice,
    InvalidPurchaseOrderTransition,
    InvalidQuantity,
    InvalidRequisitionTransition,
    NoSupplier,
    NotSoldBySupplier,
    PurchaseOrderFrozen,
    UnknownUnit,
)
from procurement.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderRevision,
    PurchaseOrderStatus,
    PurchaseRequisition,
    PurchaseRequisitionLine,
    RequisitionSource,
    RequisitionStatus,
    Supplier,
    SupplierItem,
)
from warehouses.models import Warehouse

ORDER_DOCUMENT_TYPE = "purchase_order"
REQUISITION_DOCUMENT_TYPE = "purchase_requisition"
MAX_LINES = 1000
MAX_NOTE = 500
CENT = Decimal("0.01")
PRICE_PLACES = Decimal("0.000001")
RATE_PLACES = Decimal("0.00000001")


def local_date(warehouse: Warehouse, now: dt.datetime | None = None) -> dt.date:
    """Today at the warehouse."""
    return (now or timezone.now()).astimezone(ZoneInfo(warehouse.timezone)).date()


def _requester(actor: Actor, what: str) -> None:
    """An approval is asked for by a person (the engine keeps them from deciding it): a system run cannot."""
    if recorded_actor(actor) is None:
        raise ValidationFailed(f"Only a signed-in user can submit a {what} for approval.",
                               detail={"actor": [f"Only a signed-in user can submit a {what} for approval."]})


def _note(value: Any, field: str = "note") -> str:
    if not isinstance(value, str) or len(value) > MAX_NOTE:
        raise ValidationFailed(detail={field: [f"At most {MAX_NOTE} characters."]})
    return value


def _positive(value: Any) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and value > 0


def _factors(item_ids: set[int], codes: set[str]) -> dict[tuple[int, str], Decimal]:
    """(item id, unit code) -> base units per unit, for the given items and codes (one query)."""
    return {(item_id, code): factor for item_id, code, factor in ItemUom.objects.filter(
        item_id__in=item_ids, uom__code__in=codes).values_list("item_id", "uom__code", "factor")}


def _base_codes(items: list[Item]) -> dict[int, str]:
    ids = {item.base_uom_id for item in items}
    return dict(UnitOfMeasure.objects.filter(pk__in=ids).values_list("pk", "code")) if ids else {}


# --- purchase orders ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLineSpec:
    """One line as ordered: ``quantity`` of ``item`` in ``uom`` (blank: the unit the supplier sells it in), at
    ``unit_price`` per that unit in the order's currency (None: the supplier's price), expected on
    ``expected_date`` (None: the order date plus the supplier's lead time)."""

    item: Item
    quantity: Decimal
    uom: str = ""
    unit_price: Decimal | None = None
    expected_date: dt.date | None = None


@dataclass(frozen=True)
class _PricedLine:
    spec: OrderLineSpec
    uom: str
    base_quantity: Decimal
    unit_price: Decimal
    line_total: Decimal
    expected_date: dt.date


def _price_lines(supplier: Supplier, currency: str, order_date: dt.date, specs: list[OrderLineSpec],
                 ) -> list[_PricedLine]:
    """Check and price the lines: each SKU sold by the supplier (an active supplier item), a unit of the item, a
    quantity above 0 that is at least the supplier's minimum and a whole number of its packs, a price above 0 (the
    supplier item's, converted to the ordered unit and the order's currency when not given). Three queries."""
    if not specs:
        raise ValidationFailed(detail={"lines": ["A purchase order needs at least one line."]})
    if len(specs) > MAX_LINES:
        raise ValidationFailed(detail={"lines": [f"At most {MAX_LINES} lines per purchase order."]})
    items = [spec.item for spec in specs]
    offers = {si.item_id: si for si in SupplierItem.objects.filter(
        supplier=supplier, item_id__in={item.pk for item in items}, active=True).select_related("uom")}
    base_codes = _base_codes(items)
    wanted = {spec.uom or base_codes[spec.item.base_uom_id] for spec in specs} | {
        offer.uom.code for offer in offers.values()}
    factors = _factors({item.pk for item in items}, wanted)
    priced: list[_PricedLine] = []
    seen: set[int] = set()
    for number, spec in enumerate(specs, start=1):
        label = f"Line {number}"
        item = spec.item
        if not item.active:
            raise ValidationFailed(detail={"lines": [f"{label}: {item.sku} is not active."]})
        if item.pk in seen:
            raise ValidationFailed(detail={"lines": [f"{label}: {item.sku} is on the order twice; give it one line."]})
        seen.add(item.pk)
        offer = offers.get(item.pk)
        if offer is None:
            raise NotSoldBySupplier(f"{supplier.code} does not sell {item.sku}.",
                                    detail={"lines": [f"{label}: {supplier.code} does not sell {item.sku} (no active "
                                                      f"supplier item)."]})
        uom = spec.uom or offer.uom.code
        factor = factors.get((item.pk, uom))
        if factor is None:
            raise UnknownUnit(detail={"lines": [f"{label}: {item.sku} has no unit {uom}."]})
        if not _positive(spec.quantity):
            raise InvalidQuantity(detail={"lines": [f"{label}: the quantity must be more than 0."]})
        base = stock_rules.to_base(spec.quantity, factor)
        offer_factor = factors[(item.pk, offer.uom.code)]
        in_offer_units = base / offer_factor
        if in_offer_units < offer.min_order_quantity:
            raise BelowMinimumOrder(detail={"lines": [
                f"{label}: {supplier.code} sells {item.sku} from {offer.min_order_quantity.normalize():f} "
                f"{offer.uom.code}; this is {in_offer_units.normalize():f}."]})
        if (in_offer_units / offer.pack_multiple) != (in_offer_units / offer.pack_multiple).to_integral_value():
            raise BelowMinimumOrder(detail={"lines": [
                f"{label}: {supplier.code} sells {item.sku} in packs of {offer.pack_multiple.normalize():f} "
                f"{offer.uom.code}; {in_offer_units.normalize():f} is not a whole number of packs."]})
        if spec.unit_price is None:
            per_base = offer.unit_price / offer_factor
            if offer.currency != currency:
                per_base *= exchange_rate_on(offer.currency, currency, order_date)
            unit_price = (per_base * factor).quantize(PRICE_PLACES)
        else:
            unit_price = spec.unit_price
        if not _positive(unit_price) or unit_price.quantize(PRICE_PLACES) != unit_price:
            raise InvalidPrice(detail={"lines": [f"{label}: the unit price must be more than 0, with at most 6 "
                                                 f"decimal places."]})
        lead = offer.lead_time_days if offer.lead_time_days is not None else supplier.lead_time_days
        expected = spec.expected_date or order_date + dt.timedelta(days=lead)
        if expected < order_date:
            raise ValidationFailed(detail={"lines": [f"{label}: the expected date may not be before the order date "
                                                     f"({order_date.isoformat()})."]})
        priced.append(_PricedLine(spec, uom, base, unit_price, (spec.quantity * unit_price).quantize(CENT), expected))
    return priced


def _category(priced: list[_PricedLine]) -> str:
    """The category holding most of the order's value (the approval matrix routes by it)."""
    by_category: dict[str, Decimal] = defaultdict(Decimal)
    for line in priced:
        by_category[line.spec.item.category] += line.line_total
    return max(sorted(by_category), key=lambda c: by_category[c]) if by_category else ""


def _write_lines(order: PurchaseOrder, priced: list[_PricedLine]) -> None:
    PurchaseOrderLine.objects.bulk_create([
        PurchaseOrderLine(order=order, warehouse_id=order.warehouse_id, line_no=number, item=line.spec.item,
                          quantity=line.base_quantity, uom_quantity=line.spec.quantity, uom_code=line.uom,
                          unit_price=line.unit_price, line_total=line.line_total, expected_date=line.expected_date,
                          promised_date=line.expected_date)
        for number, line in enumerate(priced, start=1)
    ])


def _check_order_head(supplier: Supplier, warehouse: Warehouse, currency: str) -> None:
    errors: dict[str, list[str]] = {}
    if not supplier.active:
        errors["supplier"] = [f"{supplier.code} is not active."]
    if not warehouse.active:
        errors["warehouse"] = [f"{warehouse.code} is not active."]
    if currency != supplier.currency:
        errors["currency"] = [f"{supplier.code} is bought from in {supplier.currency}; an order to it is in "
                              f"{supplier.currency}."]
    if errors:
        raise ValidationFailed(detail=errors)


@command
def purchase_order_create(*, supplier: Supplier, warehouse: Warehouse, lines: list[OrderLineSpec], actor: Actor,
                          currency: str | None = None, order_date: dt.date | None = None, note: str = "",
                          supplier_reference: str = "", copied_from: PurchaseOrder | None = None) -> PurchaseOrder:
    """Raise a purchase order as a draft, in the supplier's currency, for one receiving warehouse.

    Refuses an inactive supplier or warehouse, another currency than the supplier's, no lines or more than
    ``MAX_LINES``, a SKU the supplier does not sell (400 ``not_sold_by_supplier``), an unknown unit (400
    ``unknown_uom``), a quantity not above 0 or below the supplier's minimum or not whole packs, a price not above 0,
    an expected date before the order date, and (400/409) a currency with no rate to the buying entity's on the order
    date. An order date before today at the warehouse is refused too.
    """
    currency = currency or supplier.currency
    _check_order_head(supplier, warehouse, currency)
    note, supplier_reference = _note(note), _note(supplier_reference, "supplier_reference")[:64]
    today = local_date(warehouse)
    order_date = order_date or today
    if order_date < today:
        raise ValidationFailed(detail={"order_date": [f"May not be before today at {warehouse.code} "
                                                      f"({today.isoformat()})."]})
    legal_entity = warehouse.legal_entity
    exchange_rate_on(currency, legal_entity.currency, order_date)  # no rate: refused now, not at submission
    priced = _price_lines(supplier, currency, order_date, lines)
    pk = next_document_id(PurchaseOrder)
    order = PurchaseOrder.objects.create(
        pk=pk, number=f"PO-{pk:06d}", supplier=supplier, warehouse=warehouse, legal_entity=legal_entity,
        currency=currency, base_currency=legal_entity.currency, order_date=order_date, note=note,
        supplier_reference=supplier_reference, total=sum((line.line_total for line in priced), Decimal(0)),
        category=_category(priced), requested_by=recorded_actor(actor), copied_from=copied_from,
    )
    _write_lines(order, priced)
    return order


def _read(order_id: int) -> PurchaseOrder:
    return PurchaseOrder.objects.select_related("supplier", "warehouse__region", "legal_entity").get(pk=order_id)


def _locked(order_id: int) -> PurchaseOrder:
    return (PurchaseOrder.objects.select_for_update(of=("self",))
            .select_related("supplier", "warehouse__region", "legal_entity").get(pk=order_id))


def _move(order: PurchaseOrder, to_status: str, **fields: Any) -> PurchaseOrder:
    return document_move(order, to_status, may_move=rules.purchase_order_may_move,
                         refused=InvalidPurchaseOrderTransition, **fields)


def _frozen(order: PurchaseOrder) -> PurchaseOrderFrozen:
    return PurchaseOrderFrozen(f"{order.number} is {order.status}: its terms are frozen; revise it to change them.",
                               detail={"number": order.number, "status": order.status})


@command
def purchase_order_update(*, order: PurchaseOrder, actor: Actor, lines: list[OrderLineSpec] | None = None,
                          note: str | None = None, supplier_reference: str | None = None) -> PurchaseOrder:
    """Change a draft: its lines (all of them, replaced), note or supplier reference. Anything but a draft is 409
    ``purchase_order_frozen`` (the database refuses it too)."""
    locked = _locked(order.pk)
    if locked.status not in rules.EDITABLE_STATUSES:
        raise _frozen(locked)
    fields: list[str] = []
    if note is not None:
        locked.note = _note(note)
        fields.append("note")
    if supplier_reference is not None:
        locked.supplier_reference = _note(supplier_reference, "supplier_reference")[:64]
        fields.append("supplier_reference")
    if lines is not None:
        priced = _price_lines(locked.supplier, locked.currency, locked.order_date, lines)
        PurchaseOrderLine.objects.filter(order=locked).delete()
        _write_lines(locked, priced)
        locked.total = sum((line.line_total for line in priced), Decimal(0))
        locked.category = _category(priced)
        fields += ["total", "category"]
    if fields:
        locked.save(update_fields=[*fields, "updated_at"])
    return locked


@command
def purchase_order_submit(*, order: PurchaseOrder, actor: Actor) -> PurchaseOrder:
    """Submit a draft for approval: valued in the buying entity's currency at today's rate (``rate``,
    ``base_total``), routed by the engine's ``purchase_order`` rules (``procurement.approval_matrix``) by that amount,
    the order's category and the warehouse's region. Anything but a draft is 409 ``invalid_transition``."""
    locked = _locked(order.pk)
    if locked.status != PurchaseOrderStatus.DRAFT:
        raise InvalidPurchaseOrderTransition(f"{locked.number} is {locked.status}; only a draft can be submitted.",
                                             detail={"number": locked.number, "status": locked.status})
    _requester(actor, "purchase order")
    warehouse = locked.warehouse
    rate = exchange_rate_on(locked.currency, locked.base_currency, timezone.localdate()).quantize(RATE_PLACES)
    base_total = (locked.total * rate).quantize(CENT)
    request = approval_request_open(
        document_type=ORDER_DOCUMENT_TYPE, document_id=locked.pk,
        title=(f"{locked.number} rev {locked.revision}: {locked.supplier.code} for {warehouse.code}, "
               f"{locked.total:,} {locked.currency}"),
        actor=recorded_actor(actor), amount=locked.total, currency=locked.currency,
        legal_entity=locked.legal_entity, region=warehouse.region, warehouse=warehouse, category=locked.category,
    )
    return _move(locked, PurchaseOrderStatus.PENDING_APPROVAL, rate=rate, base_total=base_total,
                 submitted_at=timezone.now(), approval_request=request)


def _snapshot(order: PurchaseOrder) -> list[dict[str, str | int]]:
    return [{"line_no": line_no, "sku": sku, "quantity": str(quantity), "uom": uom, "uom_quantity": str(uom_quantity),
             "unit_price": str(price), "line_total": str(total), "expected_date": expected.isoformat()}
            for line_no, sku, quantity, uom, uom_quantity, price, total, expected in PurchaseOrderLine.objects
            .filter(order=order).order_by("line_no")
            .values_list("line_no", "item__sku", "quantity", "uom_code", "uom_quantity", "unit_price", "line_total",
                         "expected_date")]


def _on_order_approved(document_id: int, actor: Actor) -> None:
    locked = _locked(document_id)
    now = timezone.now()
    _move(locked, PurchaseOrderStatus.APPROVED, approved_at=now)
    assert locked.base_total is not None  # a submitted order is valued (constraint purchaseorder_submitted_is_valued)
    PurchaseOrderRevision.objects.create(
        order=locked, warehouse_id=locked.warehouse_id, revision=locked.revision, total=locked.total,
        currency=locked.currency, base_total=locked.base_total, lines=_snapshot(locked),
        approval_request=locked.approval_request, approved_at=now,
    )


def _on_order_rejected(document_id: int, actor: Actor) -> None:
    """A rejected order goes back to draft: its buyer changes it and submits it again, or cancels it."""
    _move(_locked(document_id), PurchaseOrderStatus.DRAFT, submitted_at=None, rate=None, base_total=None)


@command
def purchase_order_revise(*, order: PurchaseOrder, actor: Actor, reason: str = "") -> PurchaseOrder:
    """Take an order back to draft to change it. Pending approval: its request is withdrawn (same revision).
    Approved or sent with nothing received: a new revision (the approved one stays in its revision record), and it
    must be approved again before anything is received. Anything else is 409 ``invalid_transition``."""
    _note(reason, "reason")
    current = _read(order.pk)
    if current.status not in rules.REVISABLE_STATUSES:
        raise InvalidPurchaseOrderTransition(
            f"{current.number} is {current.status}; only an order in approval, approved or sent can be revised.",
            detail={"number": current.number, "status": current.status})
    if current.status == PurchaseOrderStatus.PENDING_APPROVAL and current.approval_request is not None:
        approval_request_cancel(request=current.approval_request, actor=recorded_actor(actor),
                                reason=reason or "Revised by the buyer.")
    locked = _locked(order.pk)
    if locked.status != current.status:  # moved while we withdrew the request: decide again on what it is now
        raise InvalidPurchaseOrderTransition(f"{locked.number} became {locked.status}; reload it.",
                                             detail={"number": locked.number, "status": locked.status})
    if PurchaseOrderLine.objects.filter(order=locked, received_quantity__gt=0).exists():
        raise InvalidPurchaseOrderTransition(f"{locked.number} has receipts; close it and order the rest anew.",
                                             detail={"number": locked.number, "status": locked.status})
    revision = locked.revision + (0 if locked.status == PurchaseOrderStatus.PENDING_APPROVAL else 1)
    return _move(locked, PurchaseOrderStatus.DRAFT, revision=revision, submitted_at=None, approved_at=None,
                 sent_at=None, rate=None, base_total=None, approval_request=None)


@command
def purchase_order_send(*, order: PurchaseOrder, actor: Actor) -> PurchaseOrder:
    """Mark an approved order as sent to the supplier."""
    return _move(_locked(order.pk), PurchaseOrderStatus.SENT, sent_at=timezone.now())


@command
def purchase_order_cancel(*, order: PurchaseOrder, actor: Actor, reason: str = "") -> PurchaseOrder:
    """Cancel an order nothing was received on (draft, in approval, approved or sent); a pending approval request
    is withdrawn with it. An order with receipts is closed instead (409 ``invalid_transition``)."""
    _note(reason, "reason")
    current = _read(order.pk)
    if current.status == PurchaseOrderStatus.PENDING_APPROVAL and current.approval_request is not None:
        approval_request_cancel(request=current.approval_request, actor=recorded_actor(actor), reason=reason)
    locked = _locked(order.pk)
    if PurchaseOrderLine.objects.filter(order=locked, received_quantity__gt=0).exists():
        raise InvalidPurchaseOrderTransition(f"{locked.number} has receipts; close it instead.",
                                             detail={"number": locked.number, "status": locked.status})
    return _move(locked, PurchaseOrderStatus.CANCELLED, cancelled_at=timezone.now(), cancel_reason=reason)


@command
def purchase_order_close(*, order: PurchaseOrder, actor: Actor, reason: str = "") -> PurchaseOrder:
    """Close an approved order that will receive no more (what is still open is no longer on order)."""
    _note(reason, "reason")
    return _move(_locked(order.pk), PurchaseOrderStatus.CLOSED, closed_at=timezone.now(), cancel_reason=reason)


@command
def purchase_order_duplicate(*, order: PurchaseOrder, actor: Actor) -> PurchaseOrder:
    """A new draft with the same supplier, warehouse and lines at the supplier's prices today; it copies no
    approval, no revision and no receipt, and must be submitted like any other."""
    source = _read(order.pk)
    today = local_date(source.warehouse)
    lines = [OrderLineSpec(item=line.item, quantity=line.uom_quantity, uom=line.uom_code)
             for line in PurchaseOrderLine.objects.filter(order=source).select_related("item").order_by("line_no")]
    with joined_command():
        return purchase_order_create(supplier=source.supplier, warehouse=source.warehouse, lines=lines, actor=actor,
                                     order_date=today, note=source.note, copied_from=source)


# --- requisitions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequisitionLineSpec:
    """``quantity`` of ``item`` in ``uom`` (blank: its base unit) needed by ``needed_by``, from ``supplier`` (None:
    the preferred one, when there is one)."""

    item: Item
    quantity: Decimal
    needed_by: dt.date
    uom: str = ""
    supplier: Supplier | None = None


def _preferred(item_ids: set[int], warehouse: Warehouse) -> dict[int, SupplierItem]:
    """The supplier item to buy each SKU from at the warehouse (the site's governed choice, else the preferred)."""
    from procurement.selectors import preferred_supplier_items

    return preferred_supplier_items(item_ids, warehouse)


@command
def requisition_create(*, warehouse: Warehouse, lines: list[RequisitionLineSpec], actor: Actor,
                       source: str = RequisitionSource.MANUAL, note: str = "") -> PurchaseRequisition:
    """Raise a requisition as a draft for one warehouse: items active, units of theirs, quantities above 0,
    needed-by dates from today at the warehouse, a named supplier selling the SKU (otherwise the preferred one is
    suggested when there is one)."""
    errors: dict[str, list[str]] = {}
    if not warehouse.active:
        errors["warehouse"] = [f"{warehouse.code} is not active."]
    if source not in RequisitionSource.values:
        errors["source"] = [f"One of {', '.join(RequisitionSource.values)}."]
    if not lines:
        errors["lines"] = ["A requisition needs at least one line."]
    elif len(lines) > MAX_LINES:
        errors["lines"] = [f"At most {MAX_LINES} lines per requisition."]
    if errors:
        raise ValidationFailed(detail=errors)
    note = _note(note)
    today = local_date(warehouse)
    items = [line.item for line in lines]
    base_codes = _base_codes(items)
    codes = {line.uom or base_codes[line.item.base_uom_id] for line in lines}
    factors = _factors({item.pk for item in items}, codes)
    named = {(si.supplier_id, si.item_id) for si in SupplierItem.objects.filter(
        item_id__in={item.pk for item in items}, supplier_id__in={line.supplier.pk for line in lines if line.supplier},
        active=True)}
    preferred = _preferred({line.item.pk for line in lines if line.supplier is None}, warehouse)
    rows: list[PurchaseRequisitionLine] = []
    for number, line in enumerate(lines, start=1):
        label = f"Line {number}"
        if not line.item.active:
            raise ValidationFailed(detail={"lines": [f"{label}: {line.item.sku} is not active."]})
        uom = line.uom or base_codes[line.item.base_uom_id]
        factor = factors.get((line.item.pk, uom))
        if factor is None:
            raise UnknownUnit(detail={"lines": [f"{label}: {line.item.sku} has no unit {uom}."]})
        if not _positive(line.quantity):
            raise InvalidQuantity(detail={"lines": [f"{label}: the quantity must be more than 0."]})
        if not isinstance(line.needed_by, dt.date) or line.needed_by < today:
            raise ValidationFailed(detail={"lines": [f"{label}: needed by may not be before today at "
                                                     f"{warehouse.code} ({today.isoformat()})."]})
        supplier_id = None
        if line.supplier is not None:
            if not line.supplier.active:
                raise ValidationFailed(detail={"lines": [f"{label}: {line.supplier.code} is not active."]})
            if (line.supplier.pk, line.item.pk) not in named:
                raise NotSoldBySupplier(detail={"lines": [f"{label}: {line.supplier.code} does not sell "
                                                          f"{line.item.sku}."]})
            supplier_id = line.supplier.pk
        elif line.item.pk in preferred:
            supplier_id = preferred[line.item.pk].supplier_id
        rows.append(PurchaseRequisitionLine(
            warehouse=warehouse, line_no=number, item=line.item, quantity=stock_rules.to_base(line.quantity, factor),
            uom_quantity=line.quantity, uom_code=uom, needed_by=line.needed_by, supplier_id=supplier_id))
    pk = next_document_id(PurchaseRequisition)
    requisition = PurchaseRequisition.objects.create(
        pk=pk, number=f"PR-{pk:06d}", warehouse=warehouse, source=source, note=note,
        currency=warehouse.legal_entity.currency, requested_by=recorded_actor(actor))
    for row in rows:
        row.requisition = requisition
    PurchaseRequisitionLine.objects.bulk_create(rows)
    return requisition


def _locked_requisition(requisition_id: int) -> PurchaseRequisition:
    return (PurchaseRequisition.objects.select_for_update(of=("self",))
            .select_related("warehouse__region", "warehouse__legal_entity").get(pk=requisition_id))


def _move_requisition(requisition: PurchaseRequisition, to_status: str, **fields: Any) -> PurchaseRequisition:
    return document_move(requisition, to_status, may_move=rules.requisition_may_move,
                         refused=InvalidRequisitionTransition, **fields)


def requisition_value(requisition: PurchaseRequisition) -> Decimal:
    """The lines at their suppliers' prices, in the buying entity's currency at today's rates (two queries)."""
    lines = list(PurchaseRequisitionLine.objects.filter(requisition=requisition).select_related("item"))
    offers = {(si.supplier_id, si.item_id): si for si in SupplierItem.objects.filter(
        supplier_id__in={line.supplier_id for line in lines}, item_id__in={line.item_id for line in lines})
        .select_related("uom")}
    factors = _factors({line.item_id for line in lines}, {si.uom.code for si in offers.values()})
    today = timezone.localdate()
    total = Decimal(0)
    for line in lines:
        if line.supplier_id is None:
            raise NoSupplier(detail={"lines": [f"Line {line.line_no}: {line.item.sku} has no supplier; name one or "
                                               f"make one preferred for the SKU."]})
        offer = offers[(line.supplier_id, line.item_id)]
        per_base = offer.unit_price / factors[(line.item_id, offer.uom.code)]
        rate = exchange_rate_on(offer.currency, requisition.currency, today)
        total += line.quantity * per_base * rate
    return total.quantize(CENT)


@command
def requisition_submit(*, requisition: PurchaseRequisition, actor: Actor) -> PurchaseRequisition:
    """Submit a draft for approval by the engine's ``purchase_requisition`` rules (its value at the suppliers'
    prices in the entity's currency, the warehouse's region). Every line needs a supplier (400 ``no_supplier``)."""
    locked = _locked_requisition(requisition.pk)
    if locked.status != RequisitionStatus.DRAFT:
        raise InvalidRequisitionTransition(f"{locked.number} is {locked.status}; only a draft can be submitted.",
                                           detail={"number": locked.number, "status": locked.status})
    _requester(actor, "requisition")
    value = requisition_value(locked)
    warehouse = locked.warehouse
    request = approval_request_open(
        document_type=REQUISITION_DOCUMENT_TYPE, document_id=locked.pk,
        title=f"{locked.number}: {warehouse.code}, {value:,} {locked.currency}", actor=recorded_actor(actor),
        amount=value, currency=locked.currency, legal_entity=warehouse.legal_entity, region=warehouse.region,
        warehouse=warehouse,
    )
    return _move_requisition(locked, RequisitionStatus.SUBMITTED, value=value, submitted_at=timezone.now(),
                             approval_request=request)


def _on_requisition_approved(document_id: int, actor: Actor) -> None:
    _move_requisition(_locked_requisition(document_id), RequisitionStatus.APPROVED, decided_at=timezone.now())


def _on_requisition_rejected(document_id: int, actor: Actor) -> None:
    _move_requisition(_locked_requisition(document_id), RequisitionStatus.REJECTED, decided_at=timezone.now())


@command
def requisition_cancel(*, requisition: PurchaseRequisition, actor: Actor) -> PurchaseRequisition:
    """Cancel a requisition not yet ordered; a pending approval request is withdrawn with it."""
    current = PurchaseRequisition.objects.select_related("approval_request").get(pk=requisition.pk)
    if current.status == RequisitionStatus.SUBMITTED and current.approval_request is not None:
        approval_request_cancel(request=current.approval_request, actor=recorded_actor(actor))
    return _move_requisition(_locked_requisition(requisition.pk), RequisitionStatus.CANCELLED,
                             cancelled_at=timezone.now())


def _round_to_offer(base: Decimal, offer: SupplierItem, factor: Decimal) -> Decimal:
    """``base`` units as a quantity of the supplier's unit: at least its minimum, whole packs, rounded up."""
    wanted = max(base / factor, offer.min_order_quantity)
    packs = (wanted / offer.pack_multiple).to_integral_value(rounding=ROUND_CEILING)
    return (packs * offer.pack_multiple).normalize()


@command
def requisition_order(*, requisition: PurchaseRequisition, actor: Actor) -> list[PurchaseOrder]:
    """Turn an approved requisition into draft purchase orders, one per supplier (and the requisition's
    warehouse), each line in the supplier's unit rounded up to its minimum and packs, expected by the later of its
    needed-by date and the supplier's lead time. The requisition becomes ``ordered``; its lines name their order
    lines. Anything but an approved requisition is 409 ``invalid_transition``."""
    locked = _locked_requisition(requisition.pk)
    if locked.status != RequisitionStatus.APPROVED:
        raise InvalidRequisitionTransition(f"{locked.number} is {locked.status}; only an approved requisition is "
                                           f"ordered.", detail={"number": locked.number, "status": locked.status})
    lines = list(PurchaseRequisitionLine.objects.select_for_update(of=("self",)).filter(requisition=locked)
                 .select_related("item", "supplier").order_by("line_no"))
    offers = {(si.supplier_id, si.item_id): si for si in SupplierItem.objects.filter(
        supplier_id__in={line.supplier_id for line in lines}, item_id__in={line.item_id for line in lines},
        active=True).select_related("uom")}
    factors = _factors({line.item_id for line in lines}, {si.uom.code for si in offers.values()})
    by_supplier: dict[int, list[PurchaseRequisitionLine]] = defaultdict(list)
    for line in lines:
        if line.supplier_id is None or (line.supplier_id, line.item_id) not in offers:
            raise NoSupplier(detail={"lines": [f"Line {line.line_no}: {line.item.sku} has no supplier selling it."]})
        by_supplier[line.supplier_id].append(line)
    warehouse = locked.warehouse
    today = local_date(warehouse)
    orders: list[PurchaseOrder] = []
    for supplier_id in sorted(by_supplier):
        group = by_supplier[supplier_id]
        supplier = group[0].supplier
        assert supplier is not None
        specs = []
        for line in group:
            offer = offers[(supplier_id, line.item_id)]
            lead = offer.lead_time_days if offer.lead_time_days is not None else supplier.lead_time_days
            specs.append(OrderLineSpec(
                item=line.item, quantity=_round_to_offer(line.quantity, offer, factors[(line.item_id, offer.uom.code)]),
                uom=offer.uom.code, expected_date=max(line.needed_by, today + dt.timedelta(days=lead))))
        with joined_command():
            order = purchase_order_create(supplier=supplier, warehouse=warehouse, lines=specs, actor=actor,
                                          note=f"From {locked.number}")
        order_lines = {ol.item_id: ol.pk for ol in PurchaseOrderLine.objects.filter(order=order)}
        for line in group:
            line.order_line_id = order_lines[line.item_id]
        PurchaseRequisitionLine.objects.bulk_update(group, ["order_line"])
        orders.append(order)
    _move_requisition(locked, RequisitionStatus.ORDERED, ordered_at=timezone.now())
    return orders


# --- reading ----------------------------------------------------------------------------------------------------


def purchase_orders() -> QuerySet[PurchaseOrder]:
    """Every purchase order with what its lists show, newest first (callers narrow it to a scope)."""
    return PurchaseOrder.objects.select_related("supplier", "warehouse", "requested_by").order_by("-id")


def _url(name: str) -> Callable[[int], str]:
    """A document's screen, or nothing while the screen is not routed (links from "my approvals")."""
    def url(pk: int) -> str:
        try:
            return reverse(name, args=[pk])
        except NoReverseMatch:
            return ""
    return url


def register() -> None:
    """Register purchase orders and requisitions with the approval engine, and procure to pay's invariants with
    ``check_inventory_invariants`` (``ProcurementConfig.ready``)."""
    from procurement import invariants

    invariants.register()
    register_approvable(Approvable(
        document_type=ORDER_DOCUMENT_TYPE, label="Purchase order", on_approved=_on_order_approved,
        on_rejected=_on_order_rejected, url=_url("procurement:purchase-order-detail"),
    ))
    register_approvable(Approvable(
        document_type=REQUISITION_DOCUMENT_TYPE, label="Purchase requisition", on_approved=_on_requisition_approved,
        on_rejected=_on_requisition_rejected,
        url=_url("procurement:requisition-detail"),
    ))
