"""Packing and shipping: picked stock packed into a shipment, shipped (the stock leaves the ledger at its current
cost) and delivered.

A pick line is ready to pack once its pick list is ``picked`` and the line was picked (in full or short) with
something in hand, its allocation still open and the line in no live shipment. Packing puts every ready line of
one order at one warehouse (or those named) into a ``packed`` shipment with its packages and its packing slip;
the order's lines become ``packed``. Shipping checks ``documents.required_for_shipment`` at the warehouse and
that a carrier is named, then posts each line's quantity out of the pick line's location (status ``available``)
at the current moving-average cost; the move's unit cost and value stay on the shipment line (the cost of goods
sold, for finance). The allocations are shipped, the summaries' ``allocated`` falls by what left, the order
lines' ``shipped_quantity`` rises and a line shipped complete records the local date it did. Delivery
confirmation closes the loop: once every open line is shipped in full and each of the order's shipments is
delivered, the order is ``delivered``. A packed shipment may be cancelled: its lines wait for a shipment again.

Shipping locks and posts the stock through ``inventory.stock``, in its lock order (the stock rows, then the
documents: the order, the shipment, the order's lines). Packing, cancelling and delivering change no stock:
they lock the order, then what they change.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Min, Prefetch, QuerySet, Sum
from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.lifecycle import document_move, next_document_id
from erp.transactions import command, recorded_actor
from governance.selectors import local_date, policy_value
from inventory import stock
from inventory.services import stock_status
from orders import rules
from orders.exceptions import (
    CarrierRequired,
    DocumentsMissing,
    InvalidOrderTransition,
    InvalidShipmentTransition,
    NothingPicked,
    PickUnsettled,
)
from orders.models import (
    Allocation,
    AllocationStatus,
    OrderStatus,
    Package,
    PickLineStatus,
    PickListLine,
    PickListStatus,
    SalesOrder,
    SalesOrderLine,
    Shipment,
    ShipmentDocument,
    ShipmentDocumentKind,
    ShipmentLine,
    ShipmentStatus,
)
from orders.services.sales import order_refresh
from warehouses.models import Carrier, Warehouse

DOCUMENTS_POLICY = "documents.required_for_shipment"
MAX_PACKAGES = 100
MAX_PICK_LINES = 500
# A shipment whose lines hold their pick lines: the pick lines are spoken for.
LIVE_SHIPMENT_STATUSES = (ShipmentStatus.PACKED, ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED)
READY_PICK_LINE_STATUSES = (PickLineStatus.PICKED, PickLineStatus.SHORT)
PACKAGE_FIELDS = ("weight_kg", "length_cm", "width_cm", "height_cm", "tracking_number")
MAX_WEIGHT_KG = Decimal("9999999.999")  # Package.weight_kg: 10 digits, 3 decimal places
MAX_DIMENSION_CM = Decimal("9999999.9")  # 8 digits, 1 decimal place
# Delivery confirmations from a carrier's clock may run a little ahead of ours.
DELIVERY_CLOCK_SKEW = dt.timedelta(minutes=5)



def _shipment_move(shipment: Shipment, to_status: str, **fields: Any) -> Shipment:
    """Move a (locked) shipment along ``rules.SHIPMENT_TRANSITIONS``; any other move is 409 ``invalid_transition``."""
    return document_move(shipment, to_status, may_move=rules.may_move(rules.SHIPMENT_TRANSITIONS),
                         refused=InvalidShipmentTransition, **fields)


def _refuse_unless_may_move(shipment: Shipment, to_status: str) -> None:
    """The early refusal, before any lock: the same answer ``_shipment_move`` gives under the lock."""
    if not rules.may_move(rules.SHIPMENT_TRANSITIONS)(shipment.status, to_status):
        raise InvalidShipmentTransition(f"{shipment.number} is {shipment.status}; it cannot become {to_status}.",
                                        detail={"number": shipment.number, "status": shipment.status,
                                                "to": to_status})


# --- reads shared by the API and the screens ---------------------------------------------------------------


def shipments() -> QuerySet[Shipment]:
    """Shipments with their order, customer, ship-to, warehouse, carrier, lines, packages and documents, in a
    constant number of queries whatever their count (not yet scoped: callers scope)."""
    lines = ShipmentLine.objects.select_related("item__base_uom", "order_line", "location", "lot").order_by("id")
    documents = ShipmentDocument.objects.select_related("attached_by").order_by("kind")
    return (Shipment.objects
            .select_related("order__customer", "order__ship_to", "warehouse__region", "carrier", "created_by",
                            "shipped_by")
            .prefetch_related(Prefetch("lines", queryset=lines),
                              Prefetch("packages", queryset=Package.objects.order_by("number")),
                              Prefetch("documents", queryset=documents)))


def ready_pick_lines() -> QuerySet[PickListLine]:
    """Pick lines whose stock is picked and waits for a shipment (not yet scoped: callers scope or filter)."""
    return (PickListLine.objects
            .filter(status__in=READY_PICK_LINE_STATUSES, picked_quantity__gt=0, pick_list__status=PickListStatus.PICKED,
                    allocation__status=AllocationStatus.OPEN)
            .exclude(shipment_line__shipment__status__in=LIVE_SHIPMENT_STATUSES))


def ready_to_pack(pick_lines: QuerySet[PickListLine]) -> list[dict[str, Any]]:
    """``pick_lines`` (ready ones, scoped by the caller) grouped by order and warehouse: what a packer picks up
    next, oldest pick first. One query."""
    rows = (pick_lines.values("order_line__order_id", "order_line__order__number", "order_line__order__customer__code",
                              "warehouse_id", "warehouse__code")
            .annotate(lines=Count("id"), quantity=Sum("picked_quantity"), picked_at=Min("pick_list__picked_at"))
            .order_by("picked_at", "order_line__order_id", "warehouse__code"))
    return [{"order_id": row["order_line__order_id"], "order": row["order_line__order__number"],
             "customer": row["order_line__order__customer__code"], "warehouse_id": row["warehouse_id"],
             "warehouse": row["warehouse__code"], "lines": row["lines"], "quantity": row["quantity"],
             "picked_at": row["picked_at"]} for row in rows]


def documents_missing(shipment: Shipment) -> list[str]:
    """The kinds ``documents.required_for_shipment`` asks for at the shipment's warehouse that are not attached,
    in the policy's order. Two queries (the policy, the documents)."""
    warehouse = shipment.warehouse
    required = policy_value(DOCUMENTS_POLICY, warehouse=warehouse).value or []
    present = set(ShipmentDocument.objects.filter(shipment_id=shipment.pk).values_list("kind", flat=True))
    return [kind for kind in required if kind not in present]


# --- input checks -------------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal("NaN")
    return number


def _checked_packages(packages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each package as model fields: a weight above 0 kg (3 decimals at most), dimensions above 0 cm when given
    (1 decimal), a tracking number of 64 characters at most. At least one package, at most ``MAX_PACKAGES``."""
    rows = list(packages)
    if not rows:
        raise ValidationFailed(detail={"packages": ["A shipment needs at least one package."]})
    if len(rows) > MAX_PACKAGES:
        raise ValidationFailed(detail={"packages": [f"At most {MAX_PACKAGES} packages per shipment."]})
    checked, problems = [], []
    for number, row in enumerate(rows, start=1):
        unknown = set(row) - set(PACKAGE_FIELDS)
        if unknown:
            raise TypeError(f"unexpected package fields {sorted(unknown)}")
        weight = _decimal(row.get("weight_kg"))
        if weight is None or not weight.is_finite() or weight <= 0 or weight > MAX_WEIGHT_KG:
            problems.append(f"Package {number}: the weight must be more than 0 kg.")
        elif weight != weight.quantize(Decimal("0.001")):
            problems.append(f"Package {number}: weigh to the gram (3 decimal places at most).")
        sizes = {}
        for name in ("length_cm", "width_cm", "height_cm"):
            size = _decimal(row.get(name))
            if size is not None and (not size.is_finite() or size <= 0 or size > MAX_DIMENSION_CM
                                     or size != size.quantize(Decimal("0.1"))):
                problems.append(f"Package {number}: the {name.removesuffix('_cm')} must be more than 0 cm, "
                                f"to 1 decimal place.")
            sizes[name] = size
        tracking = str(row.get("tracking_number") or "").strip()
        if len(tracking) > 64:
            problems.append(f"Package {number}: the tracking number has at most 64 characters.")
        checked.append({"number": number, "weight_kg": weight, "tracking_number": tracking, **sizes})
    if problems:
        raise ValidationFailed(detail={"packages": problems})
    return checked


def _checked_document(kind: str, reference: str) -> tuple[str, str]:
    if kind == ShipmentDocumentKind.PACKING_SLIP:
        raise ValidationFailed(detail={"kind": ["The packing slip is made when the shipment is packed."]})
    if kind not in ShipmentDocumentKind.values:
        raise ValidationFailed(detail={"kind": [f"{kind!r} is not a shipment document; choose from "
                                                f"{', '.join(ShipmentDocumentKind.values)}."]})
    reference = (reference or "").strip()
    if not reference or len(reference) > 200:
        raise ValidationFailed(detail={"reference": ["Give the document's reference (1 to 200 characters)."]})
    return kind, reference


def _checked_carrier(carrier: Carrier | None) -> Carrier | None:
    if carrier is not None and not carrier.active:
        raise ValidationFailed(detail={"carrier": [f"{carrier.code} is not an active carrier."]})
    return carrier


def _checked_tracking(tracking_number: str) -> str:
    tracking_number = (tracking_number or "").strip()
    if len(tracking_number) > 64:
        raise ValidationFailed(detail={"tracking_number": ["At most 64 characters."]})
    return tracking_number


# --- packing -----------------------------------------------------------------------------------------------


@command
def shipment_create(*, order: SalesOrder, warehouse: Warehouse, actor: Actor,
                    packages: Iterable[Mapping[str, Any]], carrier: Carrier | None = None, tracking_number: str = "",
                    documents: Iterable[Mapping[str, str]] = (), pick_line_ids: Iterable[int] | None = None,
                    ) -> Shipment:
    """Pack the order's picked stock at ``warehouse`` into a new ``packed`` shipment.

    Takes every ready pick line of the order there, or only ``pick_line_ids`` (each must be one of them, else
    409 ``nothing_picked`` naming those that are not). Nothing ready (shipping before picking) is 409
    ``nothing_picked``. At least one package with a weight above 0; the carrier and tracking number may wait
    until shipping. The packing slip is attached at once (its reference is the shipment's number), with any
    ``documents`` (``{"kind", "reference"}``) given. The order's lines in it become ``packed``.
    Locks the order, then the pick lines: a concurrent pack of the same lines finds them taken.
    """
    boxes = _checked_packages(packages)
    carrier = _checked_carrier(carrier)
    tracking_number = _checked_tracking(tracking_number)
    attached: dict[str, str] = {}
    for document in documents:
        kind, reference = _checked_document(document.get("kind", ""), document.get("reference", ""))
        if kind in attached:
            raise ValidationFailed(detail={"documents": [f"{kind} is listed more than once."]})
        attached[kind] = reference
    wanted = None if pick_line_ids is None else sorted(set(pick_line_ids))
    if wanted is not None and not wanted:
        raise ValidationFailed(detail={"pick_lines": ["Name at least one pick line, or leave the list out."]})
    if wanted is not None and len(wanted) > MAX_PICK_LINES:
        raise ValidationFailed(detail={"pick_lines": [f"At most {MAX_PICK_LINES} pick lines per shipment."]})

    locked = SalesOrder.objects.select_for_update(of=("self",)).get(pk=order.pk)
    ready = ready_pick_lines().filter(order_line__order=locked, warehouse=warehouse)
    if wanted is not None:
        ready = ready.filter(pk__in=wanted)
    lines = list(ready.select_for_update(of=("self",)).order_by("id"))
    if not lines:
        raise NothingPicked(f"Nothing of {locked.number} is picked and waiting to be packed at {warehouse.code}.",
                            detail={"order": locked.number, "warehouse": warehouse.code})
    if wanted is not None and len(lines) < len(wanted):
        missing = sorted(set(wanted) - {line.pk for line in lines})
        raise NothingPicked(f"Pick lines {', '.join(map(str, missing))} are not picked lines of {locked.number} "
                            f"waiting at {warehouse.code}.",
                            detail={"order": locked.number, "warehouse": warehouse.code, "pick_lines": missing})

    pk = next_document_id(Shipment)
    shipment = Shipment(pk=pk, number=f"SH-{pk:06d}", order=locked, warehouse=warehouse, carrier=carrier,
                        tracking_number=tracking_number, created_by=recorded_actor(actor))
    shipment.save(force_insert=True)
    try:
        with transaction.atomic():  # a savepoint: the one-to-one on the pick line is the last word on a twin pack
            ShipmentLine.objects.bulk_create([
                ShipmentLine(shipment=shipment, warehouse=warehouse, pick_line=line, order_line_id=line.order_line_id,
                             allocation_id=line.allocation_id, item_id=line.item_id, location_id=line.location_id,
                             lot_id=line.picked_lot_id or line.lot_id,
                             quantity=line.picked_quantity)  # type: ignore[misc]  # ready lines have picked_quantity > 0 (the query's filter)
                for line in lines
            ])
    except IntegrityError as exc:
        raise NothingPicked(f"Some of {locked.number}'s picked lines were packed meanwhile; try again.",
                            detail={"order": locked.number, "warehouse": warehouse.code}) from exc
    Package.objects.bulk_create([Package(shipment=shipment, warehouse=warehouse, **box) for box in boxes])
    ShipmentDocument.objects.bulk_create([
        ShipmentDocument(shipment=shipment, warehouse=warehouse, kind=kind, reference=reference,
                         attached_by=recorded_actor(actor))
        for kind, reference in [(ShipmentDocumentKind.PACKING_SLIP.value, shipment.number), *attached.items()]
    ])
    order_refresh(locked, list(SalesOrderLine.objects.select_for_update(of=("self",)).filter(order=locked)
                               .order_by("line_no")))
    return shipment


@command
def shipment_document_attach(*, shipment: Shipment, kind: str, reference: str,
                             actor: Actor) -> ShipmentDocument:
    """Attach a document (a commercial invoice, a bill of lading...) to a packed shipment by its reference.
    Attaching a kind already there replaces its reference. The packing slip is made on packing (400); a shipment
    that left is 409 ``invalid_transition``."""
    kind, reference = _checked_document(kind, reference)
    locked = Shipment.objects.select_for_update(of=("self",)).get(pk=shipment.pk)
    if locked.status != ShipmentStatus.PACKED:
        raise InvalidShipmentTransition(
            f"{locked.number} is {locked.status}; documents are attached while it is packed.",
            detail={"number": locked.number, "status": locked.status})
    document, _ = ShipmentDocument.objects.update_or_create(
        shipment=locked, kind=kind,
        defaults={"reference": reference, "warehouse_id": locked.warehouse_id, "attached_by": recorded_actor(actor)})
    return document


# --- shipping ----------------------------------------------------------------------------------------------


def _taken_from_allocations(lines: list[ShipmentLine]) -> dict[int, Decimal]:
    """Allocation id -> what the shipment's lines take from it (an allocation picked from several locations has
    a pick line, and so a shipment line, per location)."""
    taking: dict[int, Decimal] = defaultdict(lambda: Decimal(0))
    for line in lines:
        taking[line.allocation_id] += line.quantity
    return dict(taking)


def _ship_allocations(allocations: list[Allocation], taking: dict[int, Decimal], lines: list[ShipmentLine],
                      now: dt.datetime) -> None:
    """Settle the (locked) allocations the shipment takes from: one it takes whole is ``shipped``; one it takes
    part of (its other pick lines wait in another shipment) keeps the rest open and a shipped twin takes what
    left, with this shipment's lines and their pick lines moved to it. Four statements whatever the count."""
    whole, shrunk, twins = [], [], {}
    for allocation in allocations:
        quantity = taking[allocation.pk]
        allocation.updated_at = now
        if quantity == allocation.quantity:
            allocation.status = AllocationStatus.SHIPPED
            whole.append(allocation)
            continue
        allocation.quantity -= quantity
        shrunk.append(allocation)
        twins[allocation.pk] = Allocation(
            line_id=allocation.line_id, warehouse_id=allocation.warehouse_id, item_id=allocation.item_id,
            lot_id=allocation.lot_id, quantity=quantity, status=AllocationStatus.SHIPPED,
            ship_date=allocation.ship_date, promised_date=allocation.promised_date,
            pick_list_id=allocation.pick_list_id)
    Allocation.objects.bulk_update([*whole, *shrunk], ["status", "quantity", "updated_at"])
    if not twins:
        return
    Allocation.objects.bulk_create(list(twins.values()))
    moved = [line for line in lines if line.allocation_id in twins]
    for line in moved:
        line.allocation = twins[line.allocation_id]
    PickListLine.objects.bulk_update(
        [PickListLine(pk=line.pick_line_id, allocation=line.allocation, updated_at=now) for line in moved],
        ["allocation", "updated_at"])


@command
def shipment_ship(*, shipment: Shipment, actor: Actor, carrier: Carrier | None = None,
                  tracking_number: str | None = None, now: dt.datetime | None = None) -> Shipment:
    """Ship a packed shipment: its stock leaves the ledger at the current cost.

    ``carrier`` and ``tracking_number`` replace the shipment's when given; a carrier is required (400
    ``carrier_required``). Every kind ``documents.required_for_shipment`` names at the warehouse must be attached
    (409 ``documents_missing``, naming them). Each line posts its quantity out of its location and lot (status
    ``available``, reference the shipment's number) at the moving-average cost, kept with the move on the line;
    its allocation is shipped, the summary's ``allocated`` falls by as much (before the posting, which refuses
    allocatable stock below allocated), the order line's ``shipped_quantity`` rises and, once it covers the line,
    ``shipped_complete_on`` is the local date at the warehouse. Shipping twice is 409 ``invalid_transition``.
    Queries: constant in the number of lines.
    """
    now = now or timezone.now()
    current = Shipment.objects.select_related("warehouse__region", "carrier").get(pk=shipment.pk)
    _refuse_unless_may_move(current, ShipmentStatus.SHIPPED)
    carrier = _checked_carrier(carrier or current.carrier)
    if carrier is None:
        raise CarrierRequired(f"Name the carrier that takes {current.number}.",
                              detail={"carrier": ["Required to ship."]})
    tracking = _checked_tracking(current.tracking_number if tracking_number is None else tracking_number)
    missing = documents_missing(current)
    if missing:
        raise DocumentsMissing(f"{current.number} cannot leave without: {', '.join(missing)}.",
                               detail={"number": current.number, "missing": missing})
    lines = list(ShipmentLine.objects.filter(shipment=current).select_related("item", "location", "lot")
                 .order_by("id"))
    pairs = sorted({(line.item_id, line.warehouse_id) for line in lines})
    held_stock = stock.lock(pairs)
    # Shipping takes these locks first, so a ship of this shipment that committed while we waited is seen now,
    # and none can start until we end: re-reading here keeps a twin from taking ``allocated`` down twice.
    status = Shipment.objects.filter(pk=current.pk).values_list("status", flat=True).get()
    if status != ShipmentStatus.PACKED:
        current.status = status
        _refuse_unless_may_move(current, ShipmentStatus.SHIPPED)
    taking = _taken_from_allocations(lines)
    held = {pk: (state, quantity) for pk, state, quantity in Allocation.objects.filter(pk__in=list(taking))
            .values_list("pk", "status", "quantity")}
    unsettled = [line for line in lines if held.get(line.allocation_id, (None, Decimal(0)))[0] != AllocationStatus.OPEN
                 or taking[line.allocation_id] > held[line.allocation_id][1]]
    if unsettled or set(pairs) - set(held_stock.summaries):
        raise PickUnsettled(f"{current.number}: the stock held for some lines no longer matches what was packed; "
                            f"cancel the shipment and pack again.",
                            detail={"number": current.number, "lines": [line.pk for line in unsettled]})
    leaving: dict[tuple[int, int], Decimal] = defaultdict(lambda: Decimal(0))
    for line in lines:
        leaving[(line.item_id, line.warehouse_id)] += line.quantity
    stock.release(held_stock, leaving)
    available = stock_status("available")
    moves = stock.post_moves(
        moves=[stock.MoveSpec(item=line.item, warehouse=current.warehouse, location=line.location, status=available,
                        quantity=-line.quantity, lot=line.lot) for line in lines],
        reference_type="shipment", reference_id=str(current.pk), reference=current.number, actor=actor,
    )

    order = SalesOrder.objects.select_for_update(of=("self",)).get(pk=current.order_id)
    locked = Shipment.objects.select_for_update(of=("self",)).get(pk=current.pk)
    shipped_on = local_date(now, current.warehouse)
    _shipment_move(locked, ShipmentStatus.SHIPPED, carrier=carrier, tracking_number=tracking,
                   shipped_by=recorded_actor(actor), shipped_at=now, ship_date=shipped_on)
    allocations = list(Allocation.objects.select_for_update(of=("self",)).filter(pk__in=list(taking)).order_by("pk"))
    order_lines = list(SalesOrderLine.objects.select_for_update(of=("self",)).filter(order=order).order_by("line_no"))
    _ship_allocations(allocations, taking, lines, now)
    by_id = {line.pk: line for line in order_lines}
    for line, move in zip(lines, moves, strict=True):
        line.unit_cost, line.value, line.stock_move = move.unit_cost, -move.value, move
        ordered = by_id[line.order_line_id]
        ordered.shipped_quantity += line.quantity
        ordered.allocated_quantity -= line.quantity
        if ordered.shipped_quantity >= ordered.quantity and ordered.shipped_complete_on is None:
            ordered.shipped_complete_on = shipped_on
    ShipmentLine.objects.bulk_update(lines, ["unit_cost", "value", "stock_move", "allocation"])
    SalesOrderLine.objects.bulk_update(order_lines, ["shipped_quantity", "allocated_quantity", "shipped_complete_on",
                                                     "updated_at"])
    order_refresh(order, order_lines)
    return locked


@command
def shipment_deliver(*, shipment: Shipment, actor: Actor, delivered_at: dt.datetime | None = None,
                     note: str = "") -> Shipment:
    """Confirm a shipped shipment delivered (at ``delivered_at``, default now; not before it shipped, not in the
    future). Once every open line of the order is shipped in full and each of its shipments is delivered, the
    lines and the order are ``delivered``. A shipment not shipped is 409 ``invalid_transition``."""
    now = timezone.now()
    delivered_at = delivered_at or now
    if timezone.is_naive(delivered_at):
        raise ValidationFailed(detail={"delivered_at": ["Give the time with its offset."]})
    if len(note) > 500:
        raise ValidationFailed(detail={"note": ["At most 500 characters."]})
    current = Shipment.objects.get(pk=shipment.pk)
    _refuse_unless_may_move(current, ShipmentStatus.DELIVERED)
    order = SalesOrder.objects.select_for_update(of=("self",)).get(pk=current.order_id)
    locked = Shipment.objects.select_for_update(of=("self",)).get(pk=current.pk)
    _refuse_unless_may_move(locked, ShipmentStatus.DELIVERED)
    if delivered_at > now + DELIVERY_CLOCK_SKEW:
        raise ValidationFailed(detail={"delivered_at": ["A delivery cannot be confirmed in the future."]})
    if locked.shipped_at is not None and delivered_at < locked.shipped_at:
        raise ValidationFailed(detail={"delivered_at": [f"{locked.number} shipped at {locked.shipped_at.isoformat()};"
                                                        f" it cannot arrive before."]})
    _shipment_move(locked, ShipmentStatus.DELIVERED, delivered_at=delivered_at, delivery_note=note.strip())
    lines = list(SalesOrderLine.objects.select_for_update(of=("self",)).filter(order=order).order_by("line_no"))
    live = [line for line in lines
            if line.status not in (OrderStatus.CANCELLED, OrderStatus.CLOSED, OrderStatus.DELIVERED)]
    underway = Shipment.objects.filter(order=order, status__in=(ShipmentStatus.PACKED, ShipmentStatus.SHIPPED))
    if live and all(line.shipped_quantity >= line.quantity for line in live) and not underway.exists():
        for line in live:
            line.status = OrderStatus.DELIVERED
        SalesOrderLine.objects.bulk_update(live, ["status", "updated_at"])
        target = rules.order_status([line.status for line in lines])
        if target != order.status:
            document_move(order, target, may_move=rules.order_may_move, refused=InvalidOrderTransition)
    return locked


@command
def shipment_cancel(*, shipment: Shipment, actor: Actor) -> Shipment:
    """Cancel a packed shipment: its picked lines wait for a shipment again (the order's lines go back to
    ``picking``); nothing was posted, nothing is. Anything but a packed shipment is 409 ``invalid_transition``.

    The shipment keeps its packages and documents as they were; its lines are removed, since a pick line belongs
    to one shipment line (the model's one-to-one) and must be free to be packed again.
    """
    current = Shipment.objects.get(pk=shipment.pk)
    _refuse_unless_may_move(current, ShipmentStatus.CANCELLED)
    order = SalesOrder.objects.select_for_update(of=("self",)).get(pk=current.order_id)
    locked = Shipment.objects.select_for_update(of=("self",)).get(pk=current.pk)
    _shipment_move(locked, ShipmentStatus.CANCELLED)
    ShipmentLine.objects.filter(shipment=locked).delete()
    order_refresh(order, list(SalesOrderLine.objects.select_for_update(of=("self",)).filter(order=order)
                              .order_by("line_no")))
    return locked
