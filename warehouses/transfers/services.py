"""Every command on transfers: request, submit (approved at once or through the approval engine), dispatch,
receive, cancel. Each public ``@command`` function is one command.

Valuation. Dispatch posts each part out of the source's ``available`` stock at the sending entity's
moving-average cost and, in the same posting, into ``in_transit`` at the receiving warehouse's transit location
at that cost times the dated exchange rate to the receiving entity's currency (``stock.MoveSpec.carry``: the
transit leg takes its cost from the source leg inside the posting, so no read of the cost can go stale between
them). ``in_transit`` is not part of any moving average; receipt posts each part out of transit and into the
target at exactly the cost it carries, where the target's moving average absorbs it. Value in transit is
therefore value dispatched minus value received, to the cent, and ``check_inventory_invariants`` proves it.

Locks follow ``inventory.stock``'s order: the stock rows first (``post_moves``), then the transfer, then its
lines and parts. A dispatch and a cancel of one transfer meet on the transfer's row (``document_move_from``);
two receipts of the same lines meet on the stock summaries and then on the transfer, where the second finds the
parts it read have changed and runs again (``StaleRead``), to be refused with nothing left in transit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, models
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.lifecycle import document_move, document_move_from, next_document_id
from erp.transactions import StaleRead, command, recorded_actor
from governance.selectors import policy_value
from governance.services.approvals import (
    Approvable,
    approval_request_cancel,
    approval_request_open,
    exchange_rate_on,
    register_approvable,
)
from governance.services.exceptions import exception_raise
from inventory import rules as stock_rules
from inventory import stock
from inventory.exceptions import (
    InsufficientStock,
    InvalidQuantity,
    LotNotAllowed,
    UnknownLot,
    UnknownStatus,
    UnknownUnit,
)
from inventory.models import Item, ItemCost, ItemUom, Lot, ReasonCode, StockBalance, StockStatus, UnitOfMeasure
from orders.rules import WarehouseCalendar
from warehouses.models import CarrierLane, Location, LocationKind, Warehouse
from warehouses.transfers import rules
from warehouses.transfers.exceptions import (
    ExceedsApproved,
    InvalidTransferTransition,
    NoCarrierLane,
    NothingInTransit,
    NoTransitLocation,
    SameWarehouse,
)
from warehouses.transfers.models import (
    Transfer,
    TransferLine,
    TransferLineLot,
    TransferStatus,
    TransferWriteOff,
    TransferWriteOffLine,
    WriteOffStatus,
)

MAX_LINES = 500
MAX_NOTE = 500
DOCUMENT_TYPE = "transfer"
WRITE_OFF_DOCUMENT_TYPE = "transfer_write_off"
WRITE_OFF_REASON = "LOST"
REFERENCE_TYPE = "transfer"
THRESHOLD_POLICY = "transfers.approval_threshold"
DISCREPANCY = "transfer_discrepancy"
SHIP_REASON = "SHIP-TRANSFER"
RECEIVE_REASON = "RECEIVE-TRANSFER"
DAMAGE_REASON = "DAMAGE"
FOUND_REASON = "FOUND"  # more received than was in transit: found stock, apart in the ledger
CENT = Decimal("0.01")
# Where a dispatch never takes stock from: goods in transit or in quarantine are not the source's to send.
NOT_PICKABLE = (LocationKind.TRANSIT, LocationKind.QUARANTINE)


@dataclass(frozen=True)
class TransferLineSpec:
    """One line as requested: ``quantity`` of ``item`` in ``uom`` (blank: its base unit), of ``lot_number`` when
    the requester wants that lot (a lot-tracked item without one is picked first-expiry-first at dispatch)."""

    item: Item
    quantity: Decimal
    uom: str = ""
    lot_number: str | None = None


@dataclass(frozen=True)
class DispatchSpec:
    """What leaves for one line: ``quantity`` in base units, from ``lot_number`` and ``location`` when scanned
    (otherwise by pick path and first expiry)."""

    line_no: int
    quantity: Decimal
    lot_number: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class ReceiveSpec:
    """What arrived of one line, in base units, and in which status (``available``, ``quality_hold``,
    ``damaged``). A line may come in several specs, one per status."""

    line_no: int
    quantity: Decimal
    status: str = "available"


# --- writing lines and parts in bulk ---------------------------------------------------------------------------
#
# A 500-line dispatch or receipt writes 500 lines and parts; Django's ``bulk_update`` builds a CASE per field and
# row, which cost more than the stock posting itself. These write each batch in one statement over arrays.


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{name} is not a column of {model._meta.label}")
    return str(field.column)


def _update_numbers(model: type[models.Model], fields: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """``UPDATE`` the numeric ``fields`` of ``model``'s rows given as ``(id, *values)``, in one statement."""
    if not rows:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [_column(model, name) for name in fields]
    arrays = [[row[i] for row in rows] for i in range(len(fields) + 1)]
    casts = ", ".join(["%s::bigint[]"] + ["%s::numeric[]"] * len(fields))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} t SET {', '.join(f'{quote(c)} = v.{quote(c)}' for c in columns)} "
            f"FROM unnest({casts}) AS v(id, {', '.join(quote(c) for c in columns)}) WHERE t.id = v.id",  # nosec B608 # identifiers come from the model's meta, values are bound
            arrays,
        )


def _insert_parts(parts: list[TransferLineLot]) -> None:
    """Insert the dispatched parts in one statement (the audit trigger is per statement, so it sees them all)."""
    if not parts:
        return
    fields = ("line_id", "transfer_id", "from_warehouse_id", "to_warehouse_id", "lot_id", "transit_location_id",
              "source_unit_cost", "rate", "unit_cost", "dispatched_quantity", "received_quantity",
              "written_off_quantity")
    types = ["bigint"] * 6 + ["numeric"] * 6
    arrays = [[getattr(part, name) for part in parts] for name in fields]
    table = connection.ops.quote_name(TransferLineLot._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(fields)}) SELECT * FROM unnest("  # nosec B608 # the table comes from the model's meta, the columns are this module's constants; values are bound
            f"{', '.join(f'%s::{kind}[]' for kind in types)})",
            arrays,
        )


# --- reading the network -------------------------------------------------------------------------------------


def _local_date(warehouse: Warehouse, now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(ZoneInfo(warehouse.timezone)).date()


def _calendar(warehouse: Warehouse) -> WarehouseCalendar:
    return WarehouseCalendar(timezone=warehouse.timezone)


def fastest_lane(from_warehouse: Warehouse, to_warehouse: Warehouse) -> CarrierLane:
    """The fastest active carrier lane from the source's region to the target's (ties: by carrier code)."""
    lane = (CarrierLane.objects.select_related("carrier")
            .filter(origin_region_id=from_warehouse.region_id, destination_region_id=to_warehouse.region_id,
                    carrier__active=True)
            .order_by("transit_days", "carrier__code").first())
    if lane is None:
        raise NoCarrierLane(f"No carrier lane runs from region {from_warehouse.region.code} to region "
                            f"{to_warehouse.region.code}.",
                            detail={"to_warehouse": [f"No carrier lane from {from_warehouse.code} to "
                                                     f"{to_warehouse.code}."]})
    return lane


def _kind_location(warehouse: Warehouse, kind: str, error: type[ValidationFailed], field: str) -> Location:
    location = (Location.objects.select_related("warehouse")
                .filter(warehouse=warehouse, kind=kind, active=True).order_by("path").first())
    if location is None:
        raise error(f"{warehouse.code} has no active {kind} location.",
                    detail={field: [f"{warehouse.code} has no active {kind} location; add one."]})
    return location


def _transit_location(warehouse: Warehouse) -> Location:
    return _kind_location(warehouse, LocationKind.TRANSIT, NoTransitLocation, "to_warehouse")


def _statuses(*codes: str) -> dict[str, StockStatus]:
    return {status.code: status for status in StockStatus.objects.filter(code__in=codes)}


def _reasons(*codes: str) -> dict[str, ReasonCode]:
    return {reason.code: reason for reason in ReasonCode.objects.filter(code__in=codes)}


def _base_units(lines: list[TransferLineSpec]) -> list[TransferLineSpec]:
    blank = {line.item.base_uom_id for line in lines if not line.uom}
    codes = dict(UnitOfMeasure.objects.filter(pk__in=blank).values_list("pk", "code")) if blank else {}
    return [line if line.uom else TransferLineSpec(line.item, line.quantity, codes[line.item.base_uom_id],
                                                   line.lot_number) for line in lines]


# --- requesting ----------------------------------------------------------------------------------------------


@command
def transfer_create(*, from_warehouse: Warehouse, to_warehouse: Warehouse, lines: list[TransferLineSpec],
                    actor: Actor, requested_date: dt.date | None = None, note: str = "") -> Transfer:
    """Request a transfer as a draft: every quantity in the item's base unit exactly.

    Refuses one warehouse at both ends (400 ``same_warehouse``), an inactive warehouse or item, no lines or more
    than ``MAX_LINES``, an unknown unit (400 ``unknown_uom``), a quantity not above 0, a lot the item does not
    have (400 ``unknown_lot``) or a lot for an item that is not lot-tracked, the same SKU and lot twice, a
    requested date before today at the source, no carrier lane between the two regions (400 ``no_carrier_lane``)
    and a target without a transit location. ``expected_arrival`` is the requested date plus the fastest lane's
    transit days in the receiving warehouse's working days (set again from the day it is dispatched).
    """
    errors: dict[str, list[str]] = {}
    if from_warehouse.pk == to_warehouse.pk:
        raise SameWarehouse(f"{from_warehouse.code} cannot send a transfer to itself.",
                            detail={"to_warehouse": ["Must differ from from_warehouse."]})
    for field, warehouse in (("from_warehouse", from_warehouse), ("to_warehouse", to_warehouse)):
        if not warehouse.active:
            errors[field] = [f"{warehouse.code} is not active."]
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        errors["note"] = [f"At most {MAX_NOTE} characters."]
    if not lines:
        errors["lines"] = ["A transfer needs at least one line."]
    elif len(lines) > MAX_LINES:
        errors["lines"] = [f"At most {MAX_LINES} lines per transfer."]
    today = _local_date(from_warehouse)
    if requested_date is not None and requested_date < today:
        errors["requested_date"] = [f"May not be before today at {from_warehouse.code} ({today.isoformat()})."]
    if errors:
        raise ValidationFailed(detail=errors)
    lines = _base_units(lines)
    factors = {(item_id, code): factor for item_id, code, factor in ItemUom.objects.filter(
        item_id__in={line.item.pk for line in lines}, uom__code__in={line.uom for line in lines},
    ).values_list("item_id", "uom__code", "factor")}
    lots = {(lot.item_id, lot.lot_number): lot for lot in Lot.objects.filter(
        item_id__in={line.item.pk for line in lines if line.lot_number},
        lot_number__in={line.lot_number for line in lines if line.lot_number})}
    rows: list[tuple[TransferLineSpec, Decimal, Lot | None]] = []
    seen: set[tuple[int, int | None]] = set()
    for number, line in enumerate(lines, start=1):
        label = f"Line {number}"
        if not line.item.active:
            raise ValidationFailed(detail={"lines": [f"{label}: {line.item.sku} is not active."]})
        factor = factors.get((line.item.pk, line.uom))
        if factor is None:
            raise UnknownUnit(detail={"lines": [f"{label}: {line.item.sku} has no unit {line.uom}."]})
        if not isinstance(line.quantity, Decimal) or not line.quantity.is_finite() or line.quantity <= 0:
            raise InvalidQuantity(detail={"lines": [f"{label}: the quantity must be more than 0."]})
        base = stock_rules.to_base(line.quantity, factor)
        if base <= 0:
            raise InvalidQuantity(detail={"lines": [f"{label}: the quantity must be more than 0."]})
        lot = None
        if line.lot_number:
            if not line.item.lot_tracked:
                raise LotNotAllowed(detail={"lines": [f"{label}: {line.item.sku} is not lot-tracked."]})
            lot = lots.get((line.item.pk, line.lot_number))
            if lot is None:
                raise UnknownLot(detail={"lines": [f"{label}: {line.item.sku} has no lot {line.lot_number}."]})
        key = (line.item.pk, lot.pk if lot else None)
        if key in seen:
            raise ValidationFailed(detail={"lines": [f"{label}: {line.item.sku} is on the transfer twice; "
                                                     f"give it one line."]})
        seen.add(key)
        rows.append((line, base, lot))
    lane = fastest_lane(from_warehouse, to_warehouse)
    _transit_location(to_warehouse)
    requested = requested_date or today
    pk = next_document_id(Transfer)
    transfer = Transfer.objects.create(
        pk=pk, number=f"TR-{pk:06d}", from_warehouse=from_warehouse, to_warehouse=to_warehouse,
        requested_date=requested, intercompany=from_warehouse.legal_entity_id != to_warehouse.legal_entity_id,
        currency=from_warehouse.legal_entity.currency, carrier=lane.carrier, transit_days=lane.transit_days,
        expected_arrival=rules.expected_arrival(ship_date=requested, transit_days=lane.transit_days,
                                                receiving=_calendar(to_warehouse)),
        note=note, requested_by=recorded_actor(actor),
    )
    TransferLine.objects.bulk_create([
        TransferLine(transfer=transfer, from_warehouse=from_warehouse, to_warehouse=to_warehouse, line_no=number,
                     item=line.item, lot=lot, quantity=base, uom_quantity=line.quantity, uom_code=line.uom)
        for number, (line, base, lot) in enumerate(rows, start=1)
    ])
    return transfer


def _read(transfer_id: int) -> Transfer:
    return (Transfer.objects.select_related("from_warehouse__legal_entity", "from_warehouse__region",
                                            "to_warehouse__legal_entity", "to_warehouse__region")
            .get(pk=transfer_id))


def _locked(transfer_id: int) -> Transfer:
    return (Transfer.objects.select_for_update(of=("self",))
            .select_related("from_warehouse__legal_entity", "from_warehouse__region",
                            "to_warehouse__legal_entity", "to_warehouse__region").get(pk=transfer_id))


def _move(transfer: Transfer, to_status: str, **fields: Any) -> Transfer:
    return document_move(transfer, to_status, may_move=rules.transfer_may_move, refused=InvalidTransferTransition,
                         **fields)


def transfer_value(transfer: Transfer) -> Decimal:
    """The lines at the sending entity's moving-average cost now, to the cent, in its currency (one query)."""
    lines = list(TransferLine.objects.filter(transfer=transfer).values_list("item_id", "quantity"))
    costs = dict(ItemCost.objects.filter(item_id__in={item_id for item_id, _ in lines},
                                         legal_entity_id=transfer.from_warehouse.legal_entity_id)
                 .values_list("item_id", "unit_cost"))
    return sum((quantity * costs.get(item_id, Decimal(0)) for item_id, quantity in lines),
               Decimal(0)).quantize(CENT)


@command
def transfer_submit(*, transfer: Transfer, actor: Actor) -> Transfer:
    """Submit a draft: valued at the sending entity's moving-average cost, it is approved at once when that
    value is at or below ``transfers.approval_threshold`` at the source, and otherwise waits for the approval
    engine's rules for ``transfer`` (amount bands in the sending entity's currency, the source's region). The
    requester never decides their own request (the engine and the database refuse it). Anything but a draft is
    409 ``invalid_transition``."""
    locked = _locked(transfer.pk)
    if locked.status != TransferStatus.DRAFT:
        raise InvalidTransferTransition(f"{locked.number} is {locked.status}; only a draft can be submitted.",
                                        detail={"number": locked.number, "status": locked.status})
    source = locked.from_warehouse
    value = transfer_value(locked)
    threshold = Decimal(str(policy_value(THRESHOLD_POLICY, warehouse=source).value))
    now = timezone.now()
    if not rules.needs_approval(value=value, threshold=threshold):
        return _move(locked, TransferStatus.APPROVED, value=value, submitted_at=now, approved_at=now)
    _requester(actor)
    request = approval_request_open(
        document_type=DOCUMENT_TYPE, document_id=locked.pk,
        title=f"{locked.number}: {source.code} to {locked.to_warehouse.code}, {value:,} {locked.currency} at cost",
        actor=recorded_actor(actor), amount=value, currency=locked.currency, legal_entity=source.legal_entity,
        region=source.region, warehouse=source,
    )
    return _move(locked, TransferStatus.PENDING_APPROVAL, value=value, submitted_at=now, approval_request=request)


def _requester(actor: Actor) -> None:
    """An approval is asked for by a person (the engine keeps them from deciding it): a system run cannot."""
    if recorded_actor(actor) is None:
        raise ValidationFailed("An approval needs a signed-in requester.",
                               detail={"actor": ["Only a signed-in user can ask for an approval."]})


def _on_approved(document_id: int, actor: Actor) -> None:
    _move(_locked(document_id), TransferStatus.APPROVED, approved_at=timezone.now())


def _on_rejected(document_id: int, actor: Actor) -> None:
    """A rejected transfer goes back to draft: its requester submits it again or cancels it."""
    _move(_locked(document_id), TransferStatus.DRAFT, submitted_at=None)


@command
def transfer_cancel(*, transfer: Transfer, actor: Actor, reason: str = "") -> Transfer:
    """Cancel a transfer nothing has left for (draft, pending approval or approved); a pending approval request
    is cancelled with it. Anything dispatched is 409 ``invalid_transition``: it is received (or written off)."""
    if not isinstance(reason, str) or len(reason) > MAX_NOTE:
        raise ValidationFailed(detail={"reason": [f"At most {MAX_NOTE} characters."]})
    current = _read(transfer.pk)
    if current.status == TransferStatus.PENDING_APPROVAL and current.approval_request is not None:
        # The approval engine's order: the request before its document.
        approval_request_cancel(request=current.approval_request, actor=recorded_actor(actor), reason=reason)
    locked = _locked(transfer.pk)
    return _move(locked, TransferStatus.CANCELLED, cancelled_at=timezone.now(), cancel_reason=reason)


# --- dispatch ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Take:
    line: TransferLine
    location: Location
    lot: Lot | None
    quantity: Decimal


def _named_line(lines: Mapping[int, TransferLine], line_no: int) -> TransferLine:
    """The line a dispatch, receipt or write-off row names; 400 for a number that is not on the transfer."""
    line = lines.get(line_no)
    if line is None:
        raise ValidationFailed(detail={"lines": [f"The transfer has no line {line_no}."]})
    return line


def _row_quantity(line_no: int, quantity: Decimal) -> Decimal:
    """A dispatch, receipt or write-off row's quantity as posted: a finite number more than 0 in the base unit's
    precision (never rounded); 400 otherwise, naming the row's line."""
    if not isinstance(quantity, Decimal) or not quantity.is_finite() or quantity <= 0:
        raise InvalidQuantity(detail={"lines": [f"Line {line_no}: the quantity must be more than 0."]})
    return stock_rules.base_quantity(quantity)


def _dispatch_specs(lines: Mapping[int, TransferLine], specs: list[DispatchSpec] | None) -> list[DispatchSpec]:
    if specs is None:
        return [DispatchSpec(line.line_no, line.quantity, line.lot.lot_number if line.lot else None)
                for line in lines.values()]
    if not specs:
        raise ValidationFailed(detail={"lines": ["Dispatch at least one line, or leave lines out to send all."]})
    if len(specs) > MAX_LINES * 4:
        raise ValidationFailed(detail={"lines": [f"At most {MAX_LINES * 4} dispatch rows."]})
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for spec in specs:
        line = _named_line(lines, spec.line_no)
        _row_quantity(spec.line_no, spec.quantity)
        if line.lot is not None and spec.lot_number and spec.lot_number != line.lot.lot_number:
            raise ValidationFailed(detail={"lines": [f"Line {spec.line_no} asks for lot {line.lot.lot_number}."]})
        totals[spec.line_no] += spec.quantity
    for line_no, total in totals.items():
        line = lines[line_no]
        if total > line.quantity:
            raise ExceedsApproved(f"Line {line_no} ({line.item.sku}) was approved for {line.quantity}; "
                                  f"{total} cannot be dispatched.",
                                  detail={"line_no": line_no, "sku": line.item.sku, "approved": str(line.quantity),
                                          "requested": str(total)})
    return specs


@dataclass(frozen=True, slots=True)
class _Shelf:
    """Available stock of an item at one location (and lot) of the source."""

    pk: int
    item_id: int
    location: Location
    lot: Lot | None
    on_hand: Decimal


def _source_stock(transfer: Transfer, item_ids: Iterable[int]) -> dict[int, list[_Shelf]]:
    """The source's available stock of the items, by item, in pick order: first expiry first (lot-tracked items),
    then by location path. Three queries (the balances, then their locations and lots once each)."""
    rows = list(StockBalance.objects
                .filter(warehouse_id=transfer.from_warehouse_id, item_id__in=set(item_ids), status__code="available",
                        on_hand__gt=0)
                .exclude(location__kind__in=NOT_PICKABLE)
                .order_by("item_id", F("lot__expiry_date").asc(nulls_last=True), "location__path", "lot_id")
                .values_list("pk", "item_id", "location_id", "lot_id", "on_hand"))
    locations = Location.objects.select_related("warehouse").in_bulk({row[2] for row in rows})
    lots = Lot.objects.in_bulk({row[3] for row in rows if row[3] is not None})
    found: dict[int, list[_Shelf]] = defaultdict(list)
    for pk, item_id, location_id, lot_id, on_hand in rows:
        found[item_id].append(_Shelf(pk, item_id, locations[location_id], lots[lot_id] if lot_id else None, on_hand))
    return found


def _takes(transfer: Transfer, lines: Mapping[int, TransferLine], specs: list[DispatchSpec],
           today: dt.date) -> list[_Take]:
    """Where each spec's quantity comes from: the scanned location and lot, or the pick path and first expiry
    (never an expired lot unless scanned). Short of stock is 409 ``insufficient_stock``."""
    stock_by_item = _source_stock(transfer, {lines[spec.line_no].item_id for spec in specs})
    left = {row.pk: row.on_hand for rows in stock_by_item.values() for row in rows}
    takes: list[_Take] = []
    for spec in specs:
        line = lines[spec.line_no]
        lot_number = spec.lot_number or (line.lot.lot_number if line.lot else None)
        if lot_number and not line.item.lot_tracked:
            raise LotNotAllowed(detail={"lines": [f"Line {spec.line_no}: {line.item.sku} is not lot-tracked."]})
        candidates = [row for row in stock_by_item.get(line.item_id, [])
                      if (spec.location is None or row.location.code == spec.location)
                      and (lot_number is None or (row.lot is not None and row.lot.lot_number == lot_number))
                      and (lot_number is not None or row.lot is None or row.lot.expiry_date is None
                           or row.lot.expiry_date >= today)]
        wanted = spec.quantity
        for row in candidates:
            part = min(wanted, left[row.pk])
            if part <= 0:
                continue
            left[row.pk] -= part
            wanted -= part
            takes.append(_Take(line, row.location, row.lot, part))
            if wanted == 0:
                break
        if wanted > 0:
            where = f" at {spec.location}" if spec.location else ""
            lot_label = f" of lot {lot_number}" if lot_number else ""
            raise InsufficientStock(
                f"{transfer.from_warehouse.code} has only {spec.quantity - wanted} {line.item.sku}{lot_label} "
                f"available{where}; line {spec.line_no} needs {spec.quantity}.",
                detail={"line_no": spec.line_no, "sku": line.item.sku, "warehouse": transfer.from_warehouse.code,
                        "location": spec.location, "lot": lot_number, "available": str(spec.quantity - wanted),
                        "requested": str(spec.quantity)})
    return takes


@command
def transfer_dispatch(*, transfer: Transfer, actor: Actor, lines: list[DispatchSpec] | None = None) -> Transfer:
    """Ship an approved transfer: each line's quantity (default: all of it) leaves the source's available stock
    and enters ``in_transit`` at the target's transit location, at the source's cost carried unchanged (converted
    at the day's rate between two currencies). One posting for every line; the expected arrival is set from
    today. Before approval, after a cancel or a second time: 409 ``invalid_transition``; more than a line
    approved: 409 ``exceeds_approved``; more than the source has free (on hand in ``available`` and not
    allocated to orders): 409 ``insufficient_stock``. Queries: constant in the number of lines."""
    current = _read(transfer.pk)
    if current.status != TransferStatus.APPROVED:
        raise InvalidTransferTransition(f"{current.number} is {current.status}; only an approved transfer can be "
                                        f"dispatched.", detail={"number": current.number, "status": current.status})
    by_no = {line.line_no: line for line in TransferLine.objects.filter(transfer=current)
             .select_related("item", "lot").order_by("line_no")}
    specs = _dispatch_specs(by_no, lines)
    source, target = current.from_warehouse, current.to_warehouse
    today = _local_date(source)
    takes = _takes(current, by_no, specs, today)
    rate = exchange_rate_on(source.legal_entity.currency, target.legal_entity.currency, today)
    statuses = _statuses("available", "in_transit")
    reason = _reasons(SHIP_REASON)[SHIP_REASON]
    transit = _transit_location(target)
    moves: list[stock.MoveSpec] = []
    for take in takes:
        moves.append(stock.MoveSpec(item=take.line.item, warehouse=source, location=take.location,
                                    status=statuses["available"], quantity=-take.quantity, lot=take.lot,
                                    reason=reason))
        moves.append(stock.MoveSpec(item=take.line.item, warehouse=target, location=transit,
                                    status=statuses["in_transit"], quantity=take.quantity, lot=take.lot,
                                    reason=reason, carry=(len(moves) - 1, rate)))
    posted = stock.post_moves(moves=moves, reference_type=REFERENCE_TYPE, reference_id=str(current.pk),
                              reference=current.number, actor=actor)
    now = timezone.now()
    document_move_from(current, TransferStatus.APPROVED, TransferStatus.DISPATCHED,
                       may_move=rules.transfer_may_move, refused=InvalidTransferTransition,
                       dispatched_at=now, dispatched_by_id=getattr(recorded_actor(actor), "pk", None),
                       expected_arrival=rules.expected_arrival(ship_date=today, transit_days=current.transit_days,
                                                               receiving=_calendar(target)))
    parts: dict[tuple[int, int | None, Decimal], TransferLineLot] = {}
    for index, take in enumerate(takes):
        out, into = posted[2 * index], posted[2 * index + 1]
        key = (take.line.pk, take.lot.pk if take.lot else None, into.unit_cost)
        part = parts.get(key)
        if part is None:
            parts[key] = TransferLineLot(line=take.line, transfer=current, from_warehouse=source, to_warehouse=target,
                                         lot=take.lot, transit_location=transit, source_unit_cost=out.unit_cost,
                                         rate=rate, unit_cost=into.unit_cost, dispatched_quantity=take.quantity)
        else:
            part.dispatched_quantity += take.quantity
        take.line.dispatched_quantity += take.quantity
    _insert_parts(list(parts.values()))
    _update_numbers(TransferLine, ("dispatched_quantity",),
                    [(line.pk, line.dispatched_quantity) for line in {t.line.pk: t.line for t in takes}.values()])
    return current


# --- receipt -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Arrival:
    line: TransferLine
    part: TransferLineLot
    status: str
    quantity: Decimal
    from_transit: bool  # False: beyond what was in transit (an over-receipt), posted in only


def _arrivals(lines: Mapping[int, TransferLine], parts: Mapping[int, list[TransferLineLot]],
              specs: list[ReceiveSpec]) -> list[_Arrival]:
    left = {part.pk: part.in_transit for rows in parts.values() for part in rows}
    arrivals: list[_Arrival] = []
    for spec in specs:
        line = lines[spec.line_no]
        rows = parts.get(line.pk, [])
        wanted = spec.quantity
        for part in rows:
            take = min(wanted, left[part.pk])
            if take <= 0:
                continue
            left[part.pk] -= take
            wanted -= take
            arrivals.append(_Arrival(line, part, spec.status, take, True))
        if wanted > 0:
            arrivals.append(_Arrival(line, rows[-1], spec.status, wanted, False))
    return arrivals


def _receive_specs(lines: Mapping[int, TransferLine], parts: Mapping[int, list[TransferLineLot]],
                   specs: list[ReceiveSpec]) -> None:
    if not specs:
        raise ValidationFailed(detail={"lines": ["Receive at least one line."]})
    if len(specs) > MAX_LINES * 3:
        raise ValidationFailed(detail={"lines": [f"At most {MAX_LINES * 3} receipt rows."]})
    for spec in specs:
        line = _named_line(lines, spec.line_no)
        _row_quantity(spec.line_no, spec.quantity)
        if spec.status not in rules.RECEIPT_STATUSES:
            raise UnknownStatus(detail={"lines": [f"Line {spec.line_no}: status must be one of "
                                                  f"{', '.join(rules.RECEIPT_STATUSES)}."]})
        if sum((part.in_transit for part in parts.get(line.pk, [])), Decimal(0)) <= 0:
            raise NothingInTransit(f"Nothing of line {spec.line_no} ({line.item.sku}) is in transit any more.",
                                   detail={"line_no": spec.line_no, "sku": line.item.sku})


def _parts_of(transfer: Transfer) -> dict[int, list[TransferLineLot]]:
    query = (TransferLineLot.objects.filter(transfer=transfer).order_by("line_id", "id")
             .select_related("lot", "transit_location__warehouse"))
    found: dict[int, list[TransferLineLot]] = defaultdict(list)
    for part in query:
        found[part.line_id].append(part)
    return found


@command
def transfer_receive(*, transfer: Transfer, lines: list[ReceiveSpec], actor: Actor) -> Transfer:
    """Receive what arrived of a dispatched transfer at the target's receiving location.

    Each spec takes its quantity out of the line's parts still in transit, oldest first, and posts it into its
    status (``available``, ``quality_hold`` or ``damaged``) at the cost the part carries, which the target's
    moving average absorbs; more than is left in transit (an over-receipt) comes in at the line's last carried
    cost. A receipt that leaves anything in transit, brings anything in damaged, or receives more than was
    dispatched raises one ``transfer_discrepancy`` exception for the sending warehouse's supervisor, naming the
    differences, which stay visible on the lines. The transfer becomes ``received`` when nothing is in transit,
    else ``partially_received``. Receiving a transfer that was never dispatched, is cancelled or fully received
    is 409 ``invalid_transition``; a line with nothing in transit 409 ``nothing_in_transit``. Queries: constant
    in the number of lines.
    """
    current = _read(transfer.pk)
    if current.status not in rules.RECEIVABLE_STATUSES:
        raise InvalidTransferTransition(f"{current.number} is {current.status}; only a dispatched transfer can be "
                                        f"received.", detail={"number": current.number, "status": current.status})
    by_no = {line.line_no: line for line in TransferLine.objects.filter(transfer=current)
             .select_related("item", "lot").order_by("line_no")}
    by_id = {line.pk: line for line in by_no.values()}
    parts = _parts_of(current)
    _receive_specs(by_no, parts, lines)
    arrivals = _arrivals(by_no, parts, lines)
    target = current.to_warehouse
    receiving = _kind_location(target, LocationKind.RECEIVING, ValidationFailed, "lines")
    statuses = _statuses("in_transit", *rules.RECEIPT_STATUSES)
    reasons = _reasons(RECEIVE_REASON, DAMAGE_REASON, FOUND_REASON)
    moves: list[stock.MoveSpec] = []
    for arrival in arrivals:
        reason = reasons[FOUND_REASON if not arrival.from_transit
                         else DAMAGE_REASON if arrival.status == "damaged" else RECEIVE_REASON]
        part = arrival.part
        if arrival.from_transit:
            moves.append(stock.MoveSpec(item=arrival.line.item, warehouse=target, location=part.transit_location,
                                        status=statuses["in_transit"], quantity=-arrival.quantity, lot=part.lot,
                                        unit_cost=part.unit_cost, reason=reason))
        moves.append(stock.MoveSpec(item=arrival.line.item, warehouse=target, location=receiving,
                                    status=statuses[arrival.status], quantity=arrival.quantity, lot=part.lot,
                                    unit_cost=part.unit_cost, reason=reason))
    stock.post_moves(moves=moves, reference_type=REFERENCE_TYPE, reference_id=str(current.pk),
                     reference=current.number, actor=actor)

    locked = _locked(current.pk)
    held = {pk: (received, written_off) for pk, received, written_off in TransferLineLot.objects
            .select_for_update(of=("self",)).filter(transfer=locked).order_by("id")
            .values_list("pk", "received_quantity", "written_off_quantity")}
    read = {part.pk: (part.received_quantity, part.written_off_quantity) for rows in parts.values() for part in rows}
    if locked.status != current.status or held != read:
        raise StaleRead("the transfer was received or written off while this receipt was read")
    changed_parts: dict[int, TransferLineLot] = {}
    for arrival in arrivals:
        line = by_id[arrival.line.pk]
        line.received_quantity += arrival.quantity
        if arrival.status == "damaged":
            line.damaged_quantity += arrival.quantity
        if arrival.from_transit:
            part = changed_parts.setdefault(arrival.part.pk, arrival.part)
            part.received_quantity += arrival.quantity
        else:
            line.over_quantity += arrival.quantity
    _update_numbers(TransferLineLot, ("received_quantity",),
                    [(part.pk, part.received_quantity) for part in changed_parts.values()])
    _update_numbers(TransferLine, ("received_quantity", "damaged_quantity", "over_quantity"),
                    [(line.pk, line.received_quantity, line.damaged_quantity, line.over_quantity)
                     for line in {a.line.pk: by_id[a.line.pk] for a in arrivals}.values()])
    left = sum((line.in_transit for line in by_no.values()), Decimal(0))
    now = timezone.now()
    status = rules.after_receipt_status(left)
    _move(locked, status, **({"received_at": now} if status == TransferStatus.RECEIVED else {}))
    _raise_discrepancy(locked, list(by_no.values()), arrivals, actor)
    return locked


def _quantity(value: Decimal) -> str:
    return str(value.quantize(stock_rules.QUANTITY_QUANTUM))


def _raise_discrepancy(transfer: Transfer, lines: list[TransferLine], arrivals: list[_Arrival],
                       actor: Actor) -> None:
    """One ``transfer_discrepancy`` per transfer (raised again, never twinned) when this receipt left anything in
    transit, brought anything in damaged, or took in more than was in transit."""
    touched = {arrival.line.pk for arrival in arrivals}
    damaged: dict[int, Decimal] = defaultdict(Decimal)
    over: dict[int, Decimal] = defaultdict(Decimal)
    for arrival in arrivals:
        if arrival.status == "damaged":
            damaged[arrival.line.pk] += arrival.quantity
        if not arrival.from_transit:
            over[arrival.line.pk] += arrival.quantity
    rows: list[dict[str, Any]] = []
    for line in lines:
        short = line.in_transit
        if short > 0 or damaged[line.pk] > 0 or over[line.pk] > 0:
            rows.append({"line_no": line.line_no, "sku": line.item.sku, "short": _quantity(short),
                         "damaged": _quantity(damaged[line.pk]), "over": _quantity(over[line.pk]),
                         "received": line.pk in touched})
    if not rows:
        return
    totals = {key: sum((Decimal(row[key]) for row in rows), Decimal(0)) for key in ("short", "damaged", "over")}
    said = ", ".join(f"{_quantity(value)} {key}" for key, value in totals.items() if value > 0)
    exception_raise(
        type=DISCREPANCY, business_key=f"transfer:{transfer.number}",
        title=f"{transfer.number} from {transfer.from_warehouse.code} to {transfer.to_warehouse.code}: {said}",
        warehouse=transfer.from_warehouse, reference=transfer.number,
        detail={"transfer": transfer.number, "to_warehouse": transfer.to_warehouse.code,
                "sku": rows[0]["sku"], "lines": rows, **{key: _quantity(value) for key, value in totals.items()}},
        actor=recorded_actor(actor),
    )


# --- writing off what was lost in transit ---------------------------------------------------------------------


@dataclass(frozen=True)
class WriteOffSpec:
    """``quantity`` (base units) of one line to write off: lost in transit, not found."""

    line_no: int
    quantity: Decimal


def _oldest_first(parts: list[TransferLineLot], quantity: Decimal, taken: dict[int, Decimal],
                  ) -> list[tuple[TransferLineLot, Decimal]]:
    """Where ``quantity`` comes from among ``parts`` still in transit, oldest first, after what ``taken`` already
    holds of each; less than asked when they hold less."""
    takes = []
    for part in parts:
        take = min(quantity, part.in_transit - taken.get(part.pk, Decimal(0)))
        if take <= 0:
            continue
        taken[part.pk] = taken.get(part.pk, Decimal(0)) + take
        takes.append((part, take))
        quantity -= take
        if quantity == 0:
            break
    return takes


@command
def transfer_write_off_request(*, transfer: Transfer, lines: list[WriteOffSpec], reason: str,
                               actor: Actor) -> TransferWriteOff:
    """Ask to write off what a dispatched transfer lost in transit: each line's quantity at most what is still in
    transit less what other pending write-offs of it ask (409 ``nothing_in_transit`` beyond it), with a reason.
    The write-off waits for the approval engine's ``transfer_write_off`` rules (the sending warehouse's supervisor,
    then finance); its value is the quantities at the cost they carry, in the receiving entity's currency. A
    transfer that is not in transit is 409 ``invalid_transition``."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > MAX_NOTE:
        raise ValidationFailed(detail={"reason": [f"Say why it is written off (1 to {MAX_NOTE} characters)."]})
    if not lines:
        raise ValidationFailed(detail={"lines": ["Write off at least one line."]})
    current = _read(transfer.pk)
    if current.status not in rules.IN_TRANSIT_STATUSES:
        raise InvalidTransferTransition(f"{current.number} is {current.status}; only what is in transit can be "
                                        f"written off.", detail={"number": current.number, "status": current.status})
    locked = _locked(current.pk)  # one request at a time per transfer: the pending ones below stay true
    by_no = {line.line_no: line for line in TransferLine.objects.filter(transfer=locked)
             .select_related("item").order_by("line_no")}
    parts = _parts_of(locked)
    pending: dict[int, Decimal] = defaultdict(Decimal)
    for line_id, quantity in TransferWriteOffLine.objects.filter(
            write_off__transfer=locked, write_off__status=WriteOffStatus.PENDING_APPROVAL).values_list(
            "line_id", "quantity"):
        pending[line_id] += quantity
    value = Decimal(0)
    rows: list[tuple[TransferLine, Decimal]] = []
    for spec in lines:
        line = _named_line(by_no, spec.line_no)
        if any(row[0].pk == line.pk for row in rows):
            raise ValidationFailed(detail={"lines": [f"Line {spec.line_no} is named twice."]})
        quantity = _row_quantity(spec.line_no, spec.quantity)
        left = line.in_transit - pending[line.pk]
        if quantity > left:
            raise NothingInTransit(f"Only {_quantity(max(left, Decimal(0)))} of line {spec.line_no} "
                                   f"({line.item.sku}) is in transit and not already being written off.",
                                   detail={"line_no": spec.line_no, "sku": line.item.sku,
                                           "in_transit": _quantity(max(left, Decimal(0))),
                                           "requested": _quantity(quantity)})
        taken = {part.pk: Decimal(0) for part in parts.get(line.pk, [])}
        _oldest_first(parts.get(line.pk, []), pending[line.pk], taken)  # the pending ones take the oldest first
        value += sum((take * part.unit_cost for part, take in _oldest_first(parts.get(line.pk, []), quantity, taken)),
                     Decimal(0))
        rows.append((line, quantity))
    _requester(actor)
    pk = next_document_id(TransferWriteOff)
    target = locked.to_warehouse
    write_off = TransferWriteOff.objects.create(
        pk=pk, number=f"TWO-{pk:06d}", transfer=locked, from_warehouse=locked.from_warehouse, to_warehouse=target,
        reason=reason, value=value.quantize(CENT), currency=target.legal_entity.currency,
        requested_by=recorded_actor(actor))
    TransferWriteOffLine.objects.bulk_create([
        TransferWriteOffLine(write_off=write_off, line=line, from_warehouse=locked.from_warehouse, to_warehouse=target,
                             quantity=quantity) for line, quantity in rows])
    write_off.approval_request = approval_request_open(
        document_type=WRITE_OFF_DOCUMENT_TYPE, document_id=write_off.pk,
        title=f"{write_off.number}: write off {', '.join(f'{q.normalize():f} {ln.item.sku}' for ln, q in rows)} "
              f"lost in transit on {locked.number} ({write_off.value:,} {write_off.currency})",
        actor=recorded_actor(actor), amount=write_off.value, currency=write_off.currency,
        legal_entity=target.legal_entity, region=locked.from_warehouse.region, warehouse=locked.from_warehouse)
    write_off.save(update_fields=["approval_request", "updated_at"])
    return write_off


def _locked_write_off(write_off_id: int) -> TransferWriteOff:
    return TransferWriteOff.objects.select_for_update(of=("self",)).get(pk=write_off_id)


def _on_write_off_approved(document_id: int, actor: Actor) -> None:
    """Post the write-off inside the deciding transaction: each quantity leaves transit at the cost it carries
    (oldest parts first), reason ``LOST``; a transfer with nothing left in transit is received. What was since
    received (found after all) is no longer in transit: then the decision is 409 ``nothing_in_transit`` and the
    request stays pending, for the approver to reject."""
    write_off = _locked_write_off(document_id)
    if write_off.status != WriteOffStatus.PENDING_APPROVAL:
        raise InvalidTransferTransition(f"{write_off.number} is {write_off.status}.",
                                        detail={"number": write_off.number, "status": write_off.status})
    current = _read(write_off.transfer_id)
    asked = list(TransferWriteOffLine.objects.filter(write_off=write_off).select_related("line__item")
                 .order_by("line__line_no"))
    parts = _parts_of(current)
    taken: dict[int, Decimal] = {}
    plan: list[tuple[TransferLine, TransferLineLot, Decimal]] = []
    for row in asked:
        takes = _oldest_first(parts.get(row.line_id, []), row.quantity, taken)
        if sum((take for _, take in takes), Decimal(0)) < row.quantity:
            raise NothingInTransit(f"{row.line.item.sku} on line {row.line.line_no} of {current.number} is no longer "
                                   f"in transit as asked (received since?); reject {write_off.number}.",
                                   detail={"line_no": row.line.line_no, "sku": row.line.item.sku})
        plan += [(row.line, part, take) for part, take in takes]
    status = _statuses("in_transit")["in_transit"]
    reason = _reasons(WRITE_OFF_REASON)[WRITE_OFF_REASON]
    stock.post_moves(moves=[
        stock.MoveSpec(item=line.item, warehouse=current.to_warehouse, location=part.transit_location, status=status,
                       quantity=-take, lot=part.lot, unit_cost=part.unit_cost, reason=reason)
        for line, part, take in plan], reference_type=REFERENCE_TYPE, reference_id=str(current.pk),
        reference=f"{current.number} {write_off.number}", actor=actor)
    locked = _locked(current.pk)
    held = {pk: (received, written_off) for pk, received, written_off in TransferLineLot.objects
            .select_for_update(of=("self",)).filter(transfer=locked).order_by("id")
            .values_list("pk", "received_quantity", "written_off_quantity")}
    if held != {part.pk: (part.received_quantity, part.written_off_quantity)
                for rows in parts.values() for part in rows}:
        raise StaleRead("the transfer was received or written off while this write-off was read")
    lines = {line.pk: line for line, _, _ in plan}
    for line, part, take in plan:
        part.written_off_quantity += take
        lines[line.pk].written_off_quantity += take
    _update_numbers(TransferLineLot, ("written_off_quantity",),
                    [(part.pk, part.written_off_quantity) for part in {p.pk: p for _, p, _ in plan}.values()])
    _update_numbers(TransferLine, ("written_off_quantity",),
                    [(line.pk, line.written_off_quantity) for line in lines.values()])
    now = timezone.now()
    write_off.status, write_off.decided_at = WriteOffStatus.POSTED, now
    write_off.save(update_fields=["status", "decided_at", "updated_at"])
    left = sum((part.in_transit for rows in parts.values() for part in rows), Decimal(0))
    if left <= 0:
        _move(locked, TransferStatus.RECEIVED, received_at=now)


def _on_write_off_rejected(document_id: int, actor: Actor) -> None:
    write_off = _locked_write_off(document_id)
    write_off.status, write_off.decided_at = WriteOffStatus.REJECTED, timezone.now()
    write_off.save(update_fields=["status", "decided_at", "updated_at"])


def _write_off_url(pk: int) -> str:
    transfer_id = TransferWriteOff.objects.values_list("transfer_id", flat=True).get(pk=pk)
    return reverse("transfers:transfer-detail", args=[transfer_id])


# --- reading -------------------------------------------------------------------------------------------------


def transfers() -> QuerySet[Transfer]:
    """Every transfer with what its lists and pages show, newest first (callers narrow it to a scope)."""
    return (Transfer.objects.select_related("from_warehouse", "to_warehouse", "carrier", "requested_by")
            .order_by("-id"))


def register() -> None:
    """Register ``transfer`` with the approval engine and its invariants with ``check_inventory_invariants``
    (``TransfersConfig.ready``)."""
    from warehouses.transfers import invariants

    invariants.register()
    register_approvable(Approvable(
        document_type=DOCUMENT_TYPE, label="Transfer", on_approved=_on_approved, on_rejected=_on_rejected,
        url=lambda pk: reverse("transfers:transfer-detail", args=[pk]),
    ))
    register_approvable(Approvable(
        document_type=WRITE_OFF_DOCUMENT_TYPE, label="Transfer write-off", on_approved=_on_write_off_approved,
        on_rejected=_on_write_off_rejected, url=_write_off_url,
    ))
