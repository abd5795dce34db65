"""Every command on items, units of measure and stock. Each public ``@command`` function is one command.

The stock rows are locked and written by ``inventory.stock`` (the lock order, typed rows, reserving and
posting to the ledger); the commands here validate, build ``MoveSpec`` lines and call ``stock.post_moves``.

Valuation is a moving average per item and legal entity (``ItemCost``): a legal entity is where the
books are kept, so stock of one item in two warehouses of the same entity has one cost, and a
transfer between them moves no value. Receipts with a cost move the average over the entity's
valued on-hand; every other move carries the current average; every move stores its ``value``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.lifecycle import document_move, next_document_id
from erp.transactions import command, recorded_actor
from erp.validation import clean_or_raise
from erp.validators import sku_validator
from inventory import rules
from inventory.exceptions import (
    BaseUnitConversion,
    InsufficientStock,
    InvalidAdjustmentTransition,
    InvalidQuantity,
    InvalidStatusTransition,
    LocationMismatch,
    LocationRequired,
    LotNotAllowed,
    LotRequired,
    UnknownLot,
    UnknownReason,
    UnknownStatus,
    UnknownUnit,
)
from inventory.models import (
    AdjustmentStatus,
    Item,
    ItemCost,
    ItemUom,
    Lot,
    ReasonCode,
    ReasonCodeUse,
    StatusTransition,
    StockAdjustment,
    StockBalance,
    StockMove,
    StockStatus,
    UnitOfMeasure,
)
from inventory.stock import MoveSpec, post_moves
from warehouses.models import Location, Warehouse

ITEM_FIELDS = ("name", "category", "base_uom", "lot_tracked", "shelf_life_days", "weight_kg", "active")


@command
def uom_upsert(*, code: str, name: str, actor: Actor) -> UnitOfMeasure:
    uom = UnitOfMeasure.objects.select_for_update().filter(code=code).first() or UnitOfMeasure(code=code)
    uom.name = name
    clean_or_raise(uom)
    uom.save()
    return uom


def _set_conversions(item: Item, uoms: list[tuple[UnitOfMeasure, Decimal]]) -> None:
    """Replace the item's conversions; the base unit is always present with factor 1."""
    factors = {uom.pk: (uom, Decimal(factor)) for uom, factor in uoms}
    base = factors.get(item.base_uom_id)
    if base is not None and base[1] != 1:
        raise BaseUnitConversion(detail={"uoms": [f"{item.base_uom.code} is the base unit; its factor must be 1."]})
    factors[item.base_uom_id] = (item.base_uom, Decimal(1))
    ItemUom.objects.filter(item=item).exclude(uom_id__in=factors).delete()
    existing = {row.uom_id: row for row in ItemUom.objects.filter(item=item)}
    to_create, to_update = [], []
    for uom_id, (uom, factor) in factors.items():
        row = existing.get(uom_id)
        if row is None:
            to_create.append(ItemUom(item=item, uom=uom, factor=factor))
        elif row.factor != factor:
            row.factor = factor
            to_update.append(row)
    for row in to_create + to_update:
        clean_or_raise(row, exclude=["item"])
    ItemUom.objects.bulk_create(to_create)
    ItemUom.objects.bulk_update(to_update, ["factor", "updated_at"])


@command
def item_create(*, sku: str, name: str, base_uom: UnitOfMeasure, actor: Actor,
                uoms: list[tuple[UnitOfMeasure, Decimal]] | None = None, **extra: Any) -> Item:
    """Create an item with its unit conversions (the base unit is added with factor 1)."""
    item = Item(sku=sku, name=name, base_uom=base_uom)
    for field, value in extra.items():
        if field not in ITEM_FIELDS:
            raise TypeError(f"item_create got an unexpected field {field!r}")
        setattr(item, field, value)
    clean_or_raise(item)
    item.save()
    _set_conversions(item, uoms or [])
    return item


@command
def item_update(*, item: Item, actor: Actor,
                uoms: list[tuple[UnitOfMeasure, Decimal]] | None = None, **changes: Any) -> Item:
    """Change an item; ``uoms``, when given, replaces its conversions. The SKU never changes."""
    locked = Item.objects.select_for_update(of=("self",)).select_related("base_uom").get(pk=item.pk)
    if uoms is None and "base_uom" in changes and changes["base_uom"].pk != locked.base_uom_id:
        # The stored factors count the old base unit; kept as they are they would silently change meaning.
        raise BaseUnitConversion(detail={"uoms": ["Send the conversions relative to the new base unit."]})
    for field, value in changes.items():
        if field not in ITEM_FIELDS:
            raise TypeError(f"item_update got an unexpected field {field!r}")
        setattr(locked, field, value)
    clean_or_raise(locked)
    locked.save()
    if uoms is not None or "base_uom" in changes:
        current = [(row.uom, row.factor) for row in locked.uoms.select_related("uom")] if uoms is None else uoms
        _set_conversions(locked, current)
    return locked


# --- thin commands over the ledger ---------------------------------------------------------------------


def _factor(item: Item, uom: UnitOfMeasure | str) -> Decimal:
    code = uom.code if isinstance(uom, UnitOfMeasure) else str(uom)
    factor = ItemUom.objects.filter(item=item, uom__code=code).values_list("factor", flat=True).first()
    if factor is None:
        raise UnknownUnit(detail={"uom": [f"{item.sku} has no unit {code}."]})
    return factor


def stock_status(code: str) -> StockStatus:
    status = StockStatus.objects.filter(code=code).first()
    if status is None:
        raise UnknownStatus(detail={"status": [f"There is no stock status {code}."]})
    return status


def _reason(reason: ReasonCode | str, applies_to: str) -> ReasonCode:
    code = reason.code if isinstance(reason, ReasonCode) else str(reason)
    found = ReasonCode.objects.filter(code=code, applies_to=applies_to).first()
    if found is None:
        raise UnknownReason(detail={"reason": [f"{code} is not a reason code for a {applies_to.replace('_', ' ')}."]})
    return found


def _local_date(warehouse: Warehouse) -> date:
    return timezone.now().astimezone(ZoneInfo(warehouse.timezone)).date()


def _lot(item: Item, lot_number: str | None, *, warehouse: Warehouse, create: bool,
         expiry_date: date | None = None) -> Lot | None:
    """The item's lot ``lot_number``: required for a lot-tracked item, refused for any other.

    With ``create`` a missing lot is made: its expiry is ``expiry_date`` or, failing that, the
    warehouse's local date plus the item's shelf life (none when the item has no shelf life).
    """
    if not item.lot_tracked:
        if lot_number:
            raise LotNotAllowed(detail={"lot": [f"{item.sku} is not lot-tracked."]})
        return None
    if not lot_number:
        raise LotRequired(detail={"lot": [f"{item.sku} is lot-tracked: name the lot."]})
    lot = Lot.objects.filter(item=item, lot_number=lot_number).first()
    if lot is not None:
        if expiry_date is not None and lot.expiry_date != expiry_date:
            raise ValidationFailed(detail={"expiry_date": [f"Lot {lot_number} expires on {lot.expiry_date}."]})
        return lot
    if not create:
        raise UnknownLot(detail={"lot": [f"{item.sku} has no lot {lot_number}."]})
    received_on = _local_date(warehouse)
    if expiry_date is None and item.shelf_life_days:
        expiry_date = received_on + timedelta(days=item.shelf_life_days)
    lot = Lot(item=item, lot_number=lot_number, expiry_date=expiry_date, received_on=received_on)
    clean_or_raise(lot, exclude=["item"])
    lot, _ = Lot.objects.get_or_create(item=item, lot_number=lot_number,
                                       defaults={"expiry_date": expiry_date, "received_on": received_on})
    return lot


def lots_ensure(*, lots: Sequence[tuple[Item, str, date | None]], received_on: date) -> dict[tuple[int, str], Lot]:
    """The lots named for receipts, made when new, by (item id, lot number), in two queries whatever their number.

    Each is ``(item, lot number, expiry)``: a new lot expires on the expiry given or, failing that, ``received_on``
    plus the item's shelf life (none without one); an existing lot given another expiry is refused (400), since a
    lot has one expiry. Joins the caller's transaction.
    """
    wanted: dict[tuple[int, str], tuple[Item, date | None]] = {}
    for item, number, expiry in lots:
        wanted.setdefault((item.pk, number), (item, expiry))
    if not wanted:
        return {}
    Lot.objects.bulk_create(
        [Lot(item=item, lot_number=number, received_on=received_on,
             expiry_date=expiry or (received_on + timedelta(days=item.shelf_life_days) if item.shelf_life_days
                                    else None))
         for (_, number), (item, expiry) in wanted.items()],
        ignore_conflicts=True,
    )
    found = {(lot.item_id, lot.lot_number): lot for lot in Lot.objects.filter(
        item_id__in={key[0] for key in wanted}, lot_number__in={key[1] for key in wanted})}
    for key, (item, expiry) in wanted.items():
        lot = found[key]
        if expiry is not None and lot.expiry_date != expiry:
            raise ValidationFailed(detail={"expiry_date": [f"{item.sku} lot {key[1]} expires on {lot.expiry_date}, "
                                                           f"not {expiry.isoformat()}."]})
    return found


@command
def stock_receive(*, warehouse: Warehouse, location: Location, item: Item, quantity: Decimal,
                  uom: UnitOfMeasure | str, unit_cost: Decimal, reference: str, actor: Actor,
                  lot_number: str | None = None, expiry_date: date | None = None) -> list[StockMove]:
    """Receive ``quantity`` (in ``uom``, more than 0) into ``available`` at ``location``.

    ``unit_cost`` is the cost of one *base* unit; it moves the moving average of the item in the
    warehouse's legal entity. A lot-tracked item needs ``lot_number``; a new lot is created with
    ``expiry_date`` or the local receipt date plus the item's shelf life.
    """
    base = rules.to_base(quantity, _factor(item, uom))
    if base <= 0:
        raise InvalidQuantity(detail={"quantity": ["A receipt must be more than 0."]})
    lot = _lot(item, lot_number, warehouse=warehouse, create=True, expiry_date=expiry_date)
    spec = MoveSpec(item=item, warehouse=warehouse, location=location, status=stock_status("available"),
                    quantity=base, lot=lot, unit_cost=unit_cost)
    return post_moves(moves=[spec], reference_type="receipt", reference_id=uuid.uuid4().hex,
                            reference=reference, actor=actor)


@command
def stock_adjust_post(*, warehouse: Warehouse, location: Location, item: Item, quantity: Decimal,
                      uom: UnitOfMeasure | str, reason: ReasonCode | str, actor: Actor,
                      lot_number: str | None = None, reference: str = "") -> StockMove:
    """Post a signed adjustment of ``available`` stock at once, at the current moving-average cost.

    ``reason`` must be an adjustment reason code. A positive adjustment of a lot-tracked item may
    name a new lot (it is created); a negative one needs an existing lot. This slice posts every
    adjustment immediately; routing one beyond ``inventory.count_variance_tolerance`` to the approval
    engine comes with the adjustment documents (issue 4, point 6).
    """
    base = rules.to_base(quantity, _factor(item, uom))
    if base == 0:
        raise InvalidQuantity(detail={"quantity": ["Must not be zero."]})
    reason_code = _reason(reason, ReasonCodeUse.ADJUSTMENT)
    lot = _lot(item, lot_number, warehouse=warehouse, create=base > 0)
    spec = MoveSpec(item=item, warehouse=warehouse, location=location, status=stock_status("available"),
                    quantity=base, lot=lot, reason=reason_code)
    (move,) = post_moves(moves=[spec], reference_type="adjustment", reference_id=uuid.uuid4().hex,
                               reference=reference or f"Adjustment {reason_code.code}", actor=actor)
    return move


@command
def stock_moves_post_command(*, moves: list[MoveSpec], reference_type: str, reference: str = "",
                             actor: Actor) -> list[StockMove]:
    """``stock.post_moves`` as one command (a batch adjustment, a bulk load): one transaction, retried."""
    return post_moves(moves=moves, reference_type=reference_type, reference_id=uuid.uuid4().hex,
                            reference=reference, actor=actor)


@dataclass(frozen=True)
class OpeningLine:
    """One opening balance: ``quantity`` in base units at ``unit_cost`` per base unit."""

    item: Item
    location: Location
    quantity: Decimal
    unit_cost: Decimal
    lot_number: str | None = None


@command
def stock_opening_post(*, warehouse: Warehouse, lines: list[OpeningLine], reference: str,
                       actor: Actor) -> list[StockMove]:
    """Post a warehouse's opening balances (go-live, or the demo) as one ledger document.

    Lots named for lot-tracked items are created in bulk (expiry: receipt date plus shelf life);
    the moves are posted at status ``available`` in one ``stock.post_moves``, so the whole load
    costs a constant number of queries however many lines it has.
    """
    received_on = _local_date(warehouse)
    for line in lines:
        if line.item.lot_tracked and not line.lot_number:
            raise LotRequired(detail={"lot": [f"{line.item.sku} is lot-tracked: name the lot."]})
        if not line.item.lot_tracked and line.lot_number:
            raise LotNotAllowed(detail={"lot": [f"{line.item.sku} is not lot-tracked."]})
    lots = lots_ensure(lots=[(line.item, line.lot_number, None) for line in lines if line.lot_number],
                       received_on=received_on)
    available = stock_status("available")
    specs = [MoveSpec(item=line.item, warehouse=warehouse, location=line.location, status=available,
                      quantity=line.quantity, unit_cost=line.unit_cost,
                      lot=lots[(line.item.pk, line.lot_number)] if line.lot_number else None)
             for line in lines]
    return post_moves(moves=specs, reference_type="opening", reference_id=uuid.uuid4().hex,
                            reference=reference, actor=actor)


def stock_statuses_seed() -> None:
    """Make the standard statuses, reason codes and transitions exist (migration 0003's seed).

    Migrations seed them; a test database flushed by a transactional test needs them again, and
    ``load_demo`` calls this so the demo never depends on how the database was emptied.
    """
    import importlib

    from django.apps import apps as django_apps

    if not StockStatus.objects.filter(code="available").exists():
        importlib.import_module("inventory.migrations.0003_standard_statuses").seed(django_apps, None)


# --- adjustment documents and status changes (issue 4, point 6) ---------------------------------------

ADJUSTMENT_DOCUMENT_TYPE = "stock_adjustment"
TOLERANCE_POLICY = "inventory.count_variance_tolerance"
# Statuses whose arrival means goods are not sellable as they are: each raises a ``damaged_goods`` exception.
DAMAGE_STATUSES = frozenset({"damaged", "quality_hold"})


def _adjustment_move(adjustment: StockAdjustment, to_status: str, **fields: Any) -> StockAdjustment:
    """Move a (locked) adjustment along ``rules.ADJUSTMENT_TRANSITIONS``; any other move is refused (409)."""
    return document_move(adjustment, to_status, may_move=rules.adjustment_may_move,
                         refused=InvalidAdjustmentTransition, **fields)


def _adjustment_post(adjustment: StockAdjustment, actor: Actor) -> StockMove:
    """Post the adjustment's one ledger line (at the current cost); ``stock.post_moves`` re-checks the stock."""
    spec = MoveSpec(item=adjustment.item, warehouse=adjustment.warehouse, location=adjustment.location,
                    status=stock_status("available"), quantity=adjustment.quantity, lot=adjustment.lot,
                    reason=adjustment.reason)
    (move,) = post_moves(moves=[spec], reference_type="adjustment", reference_id=str(adjustment.pk),
                               reference=adjustment.number, actor=actor)
    return move


@command
def stock_adjustment_create(*, warehouse: Warehouse, location: Location, item: Item, quantity: Decimal,
                            uom: UnitOfMeasure | str, reason: ReasonCode | str, actor: Actor,
                            lot_number: str | None = None) -> StockAdjustment:
    """Adjust ``available`` stock at ``location`` by signed ``quantity`` (in ``uom``), as a document.

    Validates like ``stock_adjust_post`` (unit, non-zero, adjustment reason, lot rules; a negative
    adjustment may not exceed what is on hand: 409 ``insufficient_stock``). Within the
    ``inventory.count_variance_tolerance`` policy at the warehouse (``rules.adjustment_within_tolerance``
    against the on-hand of that item, location and lot in ``available``, and the value at the current
    moving-average cost) it posts at once. Beyond it the document waits as ``pending_approval`` with an
    approval request (amount: the absolute value in the legal entity's currency), routed by the engine's
    ``stock_adjustment`` rules (amount band, the item's category, the warehouse's region; the default rule
    has an approver of the region decide), and the stock moves only when the request is approved
    (``_on_adjustment_approved``). No active rule covering it: 409 ``no_approval_rule``, nothing written.
    """
    from governance.selectors import policy_value
    from governance.services.approvals import approval_request_open

    uom_code = uom.code if isinstance(uom, UnitOfMeasure) else str(uom)
    base = rules.to_base(quantity, _factor(item, uom))
    if base == 0:
        raise InvalidQuantity(detail={"quantity": ["Must not be zero."]})
    if location.warehouse_id != warehouse.pk:
        raise LocationMismatch(detail={"location": [f"{location.code} is not in {warehouse.code}."]})
    reason_code = _reason(reason, ReasonCodeUse.ADJUSTMENT)
    lot = _lot(item, lot_number, warehouse=warehouse, create=base > 0)
    available = stock_status("available")
    on_hand = (StockBalance.objects.filter(item=item, location=location, lot=lot, status=available)
               .values_list("on_hand", flat=True).first()) or Decimal(0)
    if on_hand + base < 0:
        raise InsufficientStock(
            f"Only {on_hand} of {item.sku} at {location.code} (available).",
            detail={"sku": item.sku, "warehouse": warehouse.code, "location": location.code,
                    "lot": lot.lot_number if lot else None, "status": available.code,
                    "available": str(on_hand), "requested": str(-base)},
        )
    unit_cost = (ItemCost.objects.filter(item=item, legal_entity_id=warehouse.legal_entity_id)
                 .values_list("unit_cost", flat=True).first()) or Decimal(0)
    value = rules.move_value(base, unit_cost)
    tolerance = policy_value(TOLERANCE_POLICY, warehouse=warehouse).value
    within = rules.adjustment_within_tolerance(
        quantity=base, value=value, on_hand=on_hand, quantity_pct=Decimal(str(tolerance["quantity_pct"])),
        value_limit=Decimal(str(tolerance["value"])),
    )
    pk = next_document_id(StockAdjustment)
    adjustment = StockAdjustment(
        pk=pk, number=f"ADJ-{pk:06d}", warehouse=warehouse, location=location, item=item, lot=lot, quantity=base,
        uom_quantity=Decimal(quantity), uom_code=uom_code, reason=reason_code, unit_cost=unit_cost, value=value,
        requested_by=recorded_actor(actor),
        status=AdjustmentStatus.POSTED if within else AdjustmentStatus.PENDING_APPROVAL,
    )
    if within:
        adjustment.move = _adjustment_post(adjustment, actor)
        adjustment.posted_at = timezone.now()
        adjustment.save(force_insert=True)
        return adjustment
    adjustment.save(force_insert=True)
    legal_entity = warehouse.legal_entity
    adjustment.approval_request = approval_request_open(
        document_type=ADJUSTMENT_DOCUMENT_TYPE, document_id=adjustment.pk,
        title=f"{adjustment.number}: {base:+} {item.sku} at {location.code} ({reason_code.code})",
        actor=actor, amount=abs(value), currency=legal_entity.currency, legal_entity=legal_entity,
        region=warehouse.region, warehouse=warehouse, category=item.category, steps=None,
    )
    adjustment.save(update_fields=["approval_request", "updated_at"])
    return adjustment


def _locked_adjustment(adjustment_id: int) -> StockAdjustment:
    return (StockAdjustment.objects.select_for_update(of=("self",))
            .select_related("warehouse", "location", "item", "lot", "reason").get(pk=adjustment_id))


def _on_adjustment_approved(document_id: int, actor: Actor) -> None:
    """Post the approved adjustment, inside the deciding transaction.

    The stock is checked again now: if it is no longer there, ``InsufficientStock`` (409) undoes the
    whole decision, so the request stays pending and nothing moves.
    """
    adjustment = _locked_adjustment(document_id)
    move = _adjustment_post(adjustment, actor)
    _adjustment_move(adjustment, AdjustmentStatus.POSTED, move=move, posted_at=timezone.now())


def _on_adjustment_rejected(document_id: int, actor: Actor) -> None:
    _adjustment_move(_locked_adjustment(document_id), AdjustmentStatus.REJECTED)


def register_approvable_types() -> None:
    """Register ``stock_adjustment`` and ``cycle_count`` with the approval engine (``InventoryConfig.ready``)."""
    from governance.services.approvals import Approvable, register_approvable
    from inventory.services import counts

    counts.register_approvable_types()

    register_approvable(Approvable(
        document_type=ADJUSTMENT_DOCUMENT_TYPE, label="Stock adjustment",
        on_approved=_on_adjustment_approved, on_rejected=_on_adjustment_rejected,
    ))


def _status_change_location(warehouse: Warehouse, item: Item, lot: Lot | None, status: StockStatus) -> Location:
    """The one location holding ``item`` (and ``lot``) in ``status`` at ``warehouse``, when none was named."""
    rows = list(StockBalance.objects.filter(warehouse=warehouse, item=item, lot=lot, status=status, on_hand__gt=0)
                .select_related("location__warehouse").order_by("location_id")[:2])
    if not rows:
        raise InsufficientStock(f"No {item.sku} is {status.code} at {warehouse.code}.",
                                detail={"sku": item.sku, "warehouse": warehouse.code, "status": status.code,
                                        "available": "0"})
    if len(rows) > 1:
        raise LocationRequired(detail={"location": [f"{item.sku} is {status.code} in more than one location at "
                                                    f"{warehouse.code}; name one."]})
    return rows[0].location


@command
def stock_status_change(*, warehouse: Warehouse, item: Item, quantity: Decimal, uom: UnitOfMeasure | str,
                        from_status: StockStatus | str, to_status: StockStatus | str, reason: ReasonCode | str,
                        actor: Actor, location: Location | None = None,
                        lot_number: str | None = None) -> list[StockMove]:
    """Move ``quantity`` (in ``uom``, more than 0) of stock from one status to another, at the current cost.

    The pair ``from_status -> to_status`` must be a ``StatusTransition`` that lists ``reason`` (else 409
    ``invalid_status_transition``; a reason that is not a status-change reason is 400). ``location``
    may be left out when the stock in ``from_status`` sits in exactly one location of the warehouse.
    Posts the two lines (minus in the old status, plus in the new) in one ``stock.post_moves``.
    Arriving in ``damaged`` or ``quality_hold`` raises a ``damaged_goods`` exception, one open per
    warehouse, item and lot (a repeat raises it again: ``raised_count`` grows).
    """
    from governance.services.exceptions import exception_raise

    base = rules.to_base(quantity, _factor(item, uom))
    if base <= 0:
        raise InvalidQuantity(detail={"quantity": ["A status change must move more than 0."]})
    source = from_status if isinstance(from_status, StockStatus) else stock_status(str(from_status))
    target = to_status if isinstance(to_status, StockStatus) else stock_status(str(to_status))
    reason_code = _reason(reason, ReasonCodeUse.STATUS_CHANGE)
    allowed = StatusTransition.objects.filter(from_status=source, to_status=target,
                                              reason_codes=reason_code).exists()
    if not allowed:
        raise InvalidStatusTransition(
            f"Stock may not move from {source.code} to {target.code} for reason {reason_code.code}.",
            detail={"from_status": source.code, "to_status": target.code, "reason": reason_code.code},
        )
    lot = _lot(item, lot_number, warehouse=warehouse, create=False)
    if location is None:
        location = _status_change_location(warehouse, item, lot, source)
    specs = [
        MoveSpec(item=item, warehouse=warehouse, location=location, status=source, quantity=-base, lot=lot,
                 reason=reason_code),
        MoveSpec(item=item, warehouse=warehouse, location=location, status=target, quantity=base, lot=lot,
                 reason=reason_code),
    ]
    reference = f"Status change {source.code} -> {target.code} ({reason_code.code})"
    moves = post_moves(moves=specs, reference_type="status_change", reference_id=uuid.uuid4().hex,
                             reference=reference, actor=actor)
    if target.code in DAMAGE_STATUSES:
        lot_label = lot.lot_number if lot else "-"
        exception_raise(
            type="damaged_goods", business_key=rules.damaged_goods_key(warehouse.code, item.sku, lot_label),
            title=f"{base} {item.sku} (lot {lot_label}) put on {target.code} at {warehouse.code}",
            warehouse=warehouse, reference=reference,
            detail={"sku": item.sku, "lot": lot.lot_number if lot else None, "location": location.code,
                    "quantity": str(base), "status": target.code, "reason": reason_code.code},
            actor=recorded_actor(actor),
        )
    return moves


# --- scaling a network up (benchmarks, load tests) ------------------------------------------------------


@command
def items_bulk_seed(*, count: int, actor: Actor, prefix: str = "BENCH") -> int:
    """Make sure the items ``<prefix>-00001`` to ``<prefix>-<count>`` exist; return how many were created.

    For scaling a network up (``manage.py bench``): each new item is counted in ``EA`` (created when
    missing), not lot-tracked, with its base-unit conversion. Existing items are left as they are.
    Bulk inserts, so a constant number of round trips per 2,000 items, instead of ``item_create``'s
    per-item validation.
    """
    if not 1 <= count <= 99999:
        raise ValidationFailed(detail={"count": ["Must be from 1 to 99999."]})
    skus = [f"{prefix}-{n:05d}" for n in range(1, count + 1)]
    if any(not re.match(sku_validator.regex, sku) for sku in (skus[0], skus[-1])):
        raise ValidationFailed(detail={"prefix": ["Makes SKUs that are not valid: " + str(sku_validator.message)]})
    base, _ = UnitOfMeasure.objects.get_or_create(code="EA", defaults={"name": "Each"})
    existing = set(Item.objects.filter(sku__in=skus).values_list("sku", flat=True))
    created = Item.objects.bulk_create(
        [Item(sku=sku, name=f"Bench item {sku[len(prefix) + 1:]}", category="Bench", base_uom=base)
         for sku in skus if sku not in existing],
        batch_size=2000,
    )
    ItemUom.objects.bulk_create([ItemUom(item=item, uom=base, factor=Decimal(1)) for item in created],
                                batch_size=2000)
    return len(created)
