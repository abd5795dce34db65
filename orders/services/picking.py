"""Picking: pick lists per warehouse over allocated stock, walked in location order and confirmed line by line.

A pick list takes the open allocations of one warehouse that are on no list yet: one order's
(``kind=order``) or every order's due to ship by a cut-off date (``kind=wave``, oldest order first). Each
allocation is taken from the locations that hold its item (and lot) in an allocatable status, in
``Location.path`` order (the walk through the warehouse), net of what other pick lines already hold there;
an allocation is split over locations when one does not hold it all. Lines are numbered (``sequence``) in
walking order.

Confirming records, for every line, what was picked and from which lot. A line picked short releases what
was not found: the allocation shrinks (or is released when nothing was picked), the summary's ``allocated``
falls, the order line takes the shortfall back as backordered, and ``order_lines_allocate`` looks for it
elsewhere in the network (never at the picking warehouse, whose book figure is in doubt until counted).
What cannot be had raises a ``shortage`` exception at the picking warehouse. Picked stock stays at its
location, available, until shipping posts it out; a pick line holds it there meanwhile.

What a pick line holds at its location: an open line its ``quantity``, a picked (or short) line its
``picked_quantity`` (in ``picked_lot``), while its allocation is open and no shipped shipment carries it.

Locks follow ``inventory.stock``'s lock order: the stock (``stock.lock``; at every active warehouse when a
short pick may reallocate, ``stock.lock_everywhere``), then the orders (by id), the pick list, and the
allocations (by id).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from typing import Any

from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.lifecycle import document_move, next_document_id
from erp.scoping import scope_queryset
from erp.transactions import command, recorded_actor
from inventory import stock
from inventory.exceptions import InsufficientStock, InvalidQuantity, LotNotAllowed, UnknownLot
from inventory.models import Lot, StockBalance
from orders import rules
from orders.exceptions import InvalidPickListTransition, NothingToPick, OverPick
from orders.models import (
    Allocation,
    AllocationStatus,
    PickLineStatus,
    PickList,
    PickListKind,
    PickListLine,
    PickListStatus,
    SalesOrder,
    SalesOrderLine,
    ShipmentStatus,
)
from orders.services.sales import order_lines_allocate, order_refresh
from warehouses.models import Warehouse

# At most this many lines per pick list: a wave stops at the order that would pass it (the rest waits for the
# next wave) and one order's list at the allocation that would.
MAX_LINES = 1000
QUANTUM = Decimal("0.0001")
ZERO = Decimal(0)
pick_list_may_move = rules.may_move(rules.PICK_LIST_TRANSITIONS)
HOLDING = (PickLineStatus.OPEN, PickLineStatus.PICKED, PickLineStatus.SHORT)
GONE = (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED)

Key = tuple[int, int, int | None]  # (location, item, lot)



def _move(pick_list: PickList, to_status: str, **fields: Any) -> PickList:
    """Move a (locked) pick list along ``rules.PICK_LIST_TRANSITIONS``; any other move is 409."""
    return document_move(pick_list, to_status, may_move=pick_list_may_move, refused=InvalidPickListTransition,
                         **fields)


# --- stock at locations -------------------------------------------------------------------------------------


def _location_stock(warehouse_id: int, item_ids: list[int]) -> dict[Key, tuple[Decimal, str, str]]:
    """On hand in allocatable statuses per (location, item, lot) of the warehouse, with the location's path and
    code. One query."""
    rows = (StockBalance.objects.filter(warehouse_id=warehouse_id, item_id__in=item_ids, status__allocatable=True,
                                        on_hand__gt=0)
            .values("location_id", "item_id", "lot_id", "location__path", "location__code")
            .annotate(total=Sum("on_hand")).order_by())
    return {(row["location_id"], row["item_id"], row["lot_id"]): (row["total"], row["location__path"],
                                                                   row["location__code"]) for row in rows}


def _location_holds(warehouse_id: int, item_ids: list[int], exclude_pick_list_id: int | None = None,
                    ) -> dict[Key, Decimal]:
    """What pick lines hold per (location, item, lot) of the warehouse (see the module's docstring). One query."""
    lines = (PickListLine.objects.filter(warehouse_id=warehouse_id, item_id__in=item_ids, status__in=HOLDING,
                                         allocation__status=AllocationStatus.OPEN)
             .exclude(shipment_line__shipment__status__in=GONE))
    if exclude_pick_list_id is not None:
        lines = lines.exclude(pick_list_id=exclude_pick_list_id)
    held = Case(When(status=PickLineStatus.OPEN, then=F("quantity")),
                default=Coalesce(F("picked_quantity"), Value(ZERO)), output_field=DecimalField(max_digits=18,
                                                                                               decimal_places=4))
    rows = (lines.annotate(held_lot=Coalesce("picked_lot_id", "lot_id"), held=held)
            .values("location_id", "item_id", "held_lot").annotate(total=Sum("held")).order_by())
    return {(row["location_id"], row["item_id"], row["held_lot"]): row["total"] for row in rows}


@dataclass
class _Spot:
    """A location holding an item (and lot) free to be listed: what is left after every hold."""

    location_id: int
    path: str
    code: str
    free: Decimal


def _spots(warehouse_id: int, item_ids: list[int]) -> dict[tuple[int, int | None], list[_Spot]]:
    """Per (item, lot): the locations with stock no pick line holds, in walking order (path, then code)."""
    holds = _location_holds(warehouse_id, item_ids)
    spots: dict[tuple[int, int | None], list[_Spot]] = defaultdict(list)
    for (location_id, item_id, lot_id), (on_hand, path, code) in _location_stock(warehouse_id, item_ids).items():
        free = on_hand - holds.get((location_id, item_id, lot_id), ZERO)
        if free > 0:
            spots[(item_id, lot_id)].append(_Spot(location_id, path, code, free))
    for rows in spots.values():
        rows.sort(key=lambda spot: (spot.path, spot.code))
    return spots


def _take_spots(quantity: Decimal, spots: list[_Spot]) -> list[tuple[_Spot, Decimal]] | None:
    """``quantity`` from the spots in walking order, each emptied before the next; None (and nothing taken) when
    they hold less than that."""
    if sum((spot.free for spot in spots), ZERO) < quantity:
        return None
    takes, left = [], quantity
    for spot in spots:
        if left <= 0:
            break
        take = min(left, spot.free)
        if take > 0:
            takes.append((spot, take))
            spot.free -= take
            left -= take
    return takes


# --- creating a list ----------------------------------------------------------------------------------------


def _unlisted(warehouse: Warehouse, order: SalesOrder | None, wave_cutoff: dt.date | None) -> QuerySet[Allocation]:
    due = Allocation.objects.filter(warehouse=warehouse, status=AllocationStatus.OPEN, pick_list__isnull=True)
    if order is not None:
        return due.filter(line__order=order)
    return due.filter(Q(ship_date__lte=wave_cutoff) | Q(ship_date__isnull=True))


def _nothing(warehouse: Warehouse, order: SalesOrder | None, wave_cutoff: dt.date | None,
             unlocatable: list[dict[str, str]] | None = None) -> NothingToPick:
    if order is not None:
        message = f"{order.number} has nothing allocated at {warehouse.code} waiting to be picked."
        detail: dict[str, Any] = {"warehouse": warehouse.code, "order": order.number}
    else:
        message = f"Nothing allocated at {warehouse.code} ships by {wave_cutoff} and waits to be picked."
        detail = {"warehouse": warehouse.code, "wave_cutoff": str(wave_cutoff)}
    if unlocatable:
        message += " Some allocated stock is at no location in an allocatable status: count or move it first."
        detail["unlocatable"] = unlocatable
    return NothingToPick(message, detail=detail)


@command
def pick_list_create(*, warehouse: Warehouse, actor: Actor, order: SalesOrder | None = None,
                     wave_cutoff: dt.date | None = None) -> PickList:
    """List the open, unlisted allocations at ``warehouse`` of ``order``, or of every order shipping by
    ``wave_cutoff`` (a local date; allocations without a ship date are always due), oldest order first.

    Each allocation is taken from the locations holding its item and lot in an allocatable status, in walking
    order, net of what other pick lines hold there; lines are numbered in walking order. An allocation the
    locations cannot cover (the book and the bins disagree) stays off the list. Nothing to list is 409
    ``nothing_to_pick``. The orders' lines move to ``picking``. Queries: constant in the number of lines, plus
    three per order for its status.
    """
    if (order is None) == (wave_cutoff is None):
        raise ValidationFailed("Pick one order, or a wave up to a cut-off date.", detail={
            "non_field_errors": ["Give either an order or a wave cut-off date, not both or neither."]})
    due = _unlisted(warehouse, order, wave_cutoff)
    seen = list(due.order_by().values_list("item_id", "line__order_id").distinct())
    if not seen:
        raise _nothing(warehouse, order, wave_cutoff)
    item_ids = sorted({item_id for item_id, _ in seen})
    order_ids = sorted({order_id for _, order_id in seen})
    stock.lock([(item_id, warehouse.pk) for item_id in item_ids])
    orders = {locked.pk: locked for locked in SalesOrder.objects.select_for_update(of=("self",))
              .filter(pk__in=order_ids).order_by("pk")}
    # Re-read under the locks: another list may have taken some meanwhile, an order may have been cancelled.
    allocations = list(due.filter(line__order_id__in=order_ids, item_id__in=item_ids)
                       .select_for_update(of=("self",)).select_related("item", "lot", "line").order_by("id"))
    allocations.sort(key=lambda a: (a.line.order_id, a.line.line_no, a.pk))
    spots = _spots(warehouse.pk, item_ids)
    listed: list[tuple[Allocation, list[tuple[_Spot, Decimal]]]] = []
    unlocatable: list[dict[str, str]] = []
    lines = 0
    for _, group in groupby(allocations, key=lambda a: a.line.order_id):
        planned, planned_lines, full = [], 0, False
        for allocation in group:
            takes = _take_spots(allocation.quantity, spots.get((allocation.item_id, allocation.lot_id), []))
            if takes is None:
                unlocatable.append({"sku": allocation.item.sku, "lot": allocation.lot.lot_number if allocation.lot
                                    else "", "quantity": str(allocation.quantity),
                                    "order": orders[allocation.line.order_id].number})
                continue
            if lines + planned_lines + len(takes) > MAX_LINES:
                full = True
                break
            planned.append((allocation, takes))
            planned_lines += len(takes)
        if full and listed:
            break  # the rest of the wave waits for the next one, whole orders at a time
        listed.extend(planned)
        lines += planned_lines
        if full:
            break
    if not listed:
        raise _nothing(warehouse, order, wave_cutoff, unlocatable)
    rows = sorted(
        ((spot, allocation, quantity) for allocation, takes in listed for spot, quantity in takes),
        key=lambda row: (row[0].path, row[0].code, row[1].item.sku, row[1].lot.lot_number if row[1].lot else "",
                         row[1].line.order_id, row[1].line.line_no, row[1].pk),
    )
    pk = next_document_id(PickList)
    pick_list = PickList.objects.create(
        pk=pk, number=f"PL-{pk:06d}", warehouse=warehouse, kind=PickListKind.ORDER if order else PickListKind.WAVE,
        order=order, wave_cutoff=wave_cutoff, created_by=recorded_actor(actor))
    PickListLine.objects.bulk_create([
        PickListLine(pick_list=pick_list, warehouse=warehouse, sequence=n, allocation=allocation,
                     order_line_id=allocation.line_id, item_id=allocation.item_id, location_id=spot.location_id,
                     lot_id=allocation.lot_id, quantity=quantity)
        for n, (spot, allocation, quantity) in enumerate(rows, start=1)
    ])
    Allocation.objects.filter(pk__in=[allocation.pk for allocation, _ in listed]).update(
        pick_list=pick_list, updated_at=timezone.now())
    for order_id in sorted({allocation.line.order_id for allocation, _ in listed}):
        order_refresh(orders[order_id])
    return pick_list


# --- confirming ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickAnswer:
    """What was picked for one line, named by its id or its sequence on the list: ``picked_quantity`` (0 up to
    the line's quantity, in the item's base unit) and, for a lot-tracked item, the lot (default: the one asked
    for)."""

    picked_quantity: Decimal
    line_id: int | None = None
    sequence: int | None = None
    lot_number: str | None = None


def _check_answers(answers: list[PickAnswer]) -> None:
    """Shapes that need no database: each answer names one line and a quantity of 0 or more, 4 places at most."""
    if not answers:
        raise ValidationFailed(detail={"lines": ["Answer every line of the list."]})
    if len(answers) > MAX_LINES:
        raise ValidationFailed(detail={"lines": [f"At most {MAX_LINES} lines."]})
    errors = []
    for answer in answers:
        problems: dict[str, list[str]] = {}
        if (answer.line_id is None) == (answer.sequence is None):
            problems["id"] = ["Name the line by its id or by its sequence."]
        quantity = answer.picked_quantity
        if not isinstance(quantity, Decimal) or not quantity.is_finite():
            problems["picked_quantity"] = ["A number of 0 or more."]
        elif quantity < 0:
            problems["picked_quantity"] = ["Cannot be negative: pick 0 for a line you found nothing for."]
        elif quantity != quantity.quantize(QUANTUM):
            problems["picked_quantity"] = ["At most 4 decimal places."]
        if answer.lot_number is not None and (len(answer.lot_number) > 64 or not answer.lot_number.isprintable()):
            problems["lot"] = ["At most 64 printable characters."]
        errors.append(problems)
    if any(errors):
        negative = any("Cannot be negative" in msg for row in errors for msg in row.get("picked_quantity", []))
        error = InvalidQuantity if negative else ValidationFailed
        raise error(detail={"lines": errors})


def _match(answers: list[PickAnswer], lines: list[tuple[int, int]]) -> dict[int, PickAnswer]:
    """Each answer's line id (lines are ``(id, sequence)``); an unknown or twice-answered line is 400."""
    by_id = {pk for pk, _ in lines}
    by_sequence = {sequence: pk for pk, sequence in lines}
    matched: dict[int, PickAnswer] = {}
    errors: list[dict[str, list[str]]] = []
    for answer in answers:
        pk = answer.line_id if answer.line_id is not None else by_sequence.get(answer.sequence or 0)
        if pk is None or pk not in by_id:
            named = f"id {answer.line_id}" if answer.line_id is not None else f"sequence {answer.sequence}"
            errors.append({"id": [f"No line with {named} on this list."]})
        elif pk in matched:
            errors.append({"id": ["This line is answered twice."]})
        else:
            matched[pk] = answer
            errors.append({})
    if any(errors):
        raise ValidationFailed(detail={"lines": errors})
    return matched


def _lot_free_at_warehouse(warehouse_id: int, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Decimal]:
    """Per (item, lot): on hand in allocatable statuses at the warehouse less what open allocations hold of it."""
    item_ids = sorted({item_id for item_id, _ in pairs})
    lot_ids = sorted({lot_id for _, lot_id in pairs})
    on_hand = {(row["item_id"], row["lot_id"]): row["total"] for row in StockBalance.objects.filter(
        warehouse_id=warehouse_id, item_id__in=item_ids, lot_id__in=lot_ids, status__allocatable=True)
        .values("item_id", "lot_id").annotate(total=Sum("on_hand")).order_by()}
    held = {(row["item_id"], row["lot_id"]): row["total"] for row in Allocation.objects.filter(
        warehouse_id=warehouse_id, item_id__in=item_ids, lot_id__in=lot_ids, status=AllocationStatus.OPEN)
        .values("item_id", "lot_id").annotate(total=Sum("quantity")).order_by()}
    return {pair: on_hand.get(pair, ZERO) - held.get(pair, ZERO) for pair in pairs}


@dataclass
class _Picked:
    """One open line and what its answer says: the quantity and the lot it came from."""

    line: PickListLine
    quantity: Decimal
    lot: Lot | None


def _resolve(open_lines: list[PickListLine], answered: dict[int, PickAnswer]) -> list[_Picked]:
    """Each open line's answer with its lot resolved (one query); over-picks and lots refused per line."""
    numbers = {(line.item_id, (answered[line.pk].lot_number or "").strip()) for line in open_lines
               if line.item.lot_tracked and (answered[line.pk].lot_number or "").strip()}
    lots = {(lot.item_id, lot.lot_number): lot for lot in Lot.objects.filter(
        item_id__in={item_id for item_id, _ in numbers}, lot_number__in={number for _, number in numbers})}
    picked, over, unknown, not_allowed, expired = [], {}, {}, {}, {}
    for line in open_lines:
        answer = answered[line.pk]
        number = (answer.lot_number or "").strip()
        label = f"line {line.sequence} ({line.location.code} {line.item.sku})"
        if answer.picked_quantity > line.quantity:
            over[label] = [f"Asks for {line.quantity}; {answer.picked_quantity} is more."]
        lot = line.lot
        if not line.item.lot_tracked:
            if number:
                not_allowed[label] = [f"{line.item.sku} is not lot-tracked: send no lot."]
        elif number:
            lot = lots.get((line.item_id, number))
            if lot is None:
                unknown[label] = [f"{line.item.sku} has no lot {number}."]
            elif lot.pk != line.lot_id and answer.picked_quantity > 0 and lot.expiry_date is not None \
                    and lot.expiry_date < (line.allocation.ship_date or timezone.localdate()):
                expired[label] = [f"Lot {number} expires on {lot.expiry_date}, before the line ships."]
        picked.append(_Picked(line, answer.picked_quantity, lot))
    if over:
        raise OverPick(detail={"lines": over})
    if not_allowed:
        raise LotNotAllowed(detail={"lines": not_allowed})
    if unknown:
        raise UnknownLot(detail={"lines": unknown})
    if expired:
        raise ValidationFailed("A lot picked instead of the one asked for has expired.", detail={"lines": expired})
    return picked


def _check_stock(pick_list: PickList, picked: list[_Picked]) -> None:
    """What was picked must be on the books where it was picked: per location, item and lot, no more than the
    allocatable on hand there less what other lists hold; and a lot picked instead of the one allocated must be
    free at the warehouse (409 ``insufficient_stock`` otherwise: count or adjust the location first)."""
    at: dict[Key, Decimal] = defaultdict(lambda: ZERO)
    for row in picked:
        if row.quantity > 0:
            at[(row.line.location_id, row.line.item_id, row.lot.pk if row.lot else None)] += row.quantity
    if not at:
        return
    item_ids = sorted({key[1] for key in at})
    stock = _location_stock(pick_list.warehouse_id, item_ids)
    holds = _location_holds(pick_list.warehouse_id, item_ids, exclude_pick_list_id=pick_list.pk)
    codes = {row.line.location_id: row.line.location.code for row in picked}
    skus = {row.line.item_id: row.line.item.sku for row in picked}
    lot_numbers = {row.lot.pk: row.lot.lot_number for row in picked if row.lot}
    short = []
    for key, quantity in sorted(at.items(), key=lambda kv: (codes[kv[0][0]], skus[kv[0][1]])):
        there = stock.get(key, (ZERO, "", ""))[0] - holds.get(key, ZERO)
        if quantity > there:
            short.append({"location": codes[key[0]], "sku": skus[key[1]], "lot": lot_numbers.get(key[2] or 0, ""),
                          "picked": str(quantity), "on_the_books": str(max(there, ZERO))})
    if short:
        raise InsufficientStock("More was picked than the books hold at the location: count or adjust it first.",
                                detail={"locations": short})
    moved: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for row in picked:
        if row.quantity > 0 and row.lot is not None and row.lot.pk != row.line.lot_id:
            moved[(row.line.item_id, row.lot.pk)] += row.quantity
            if row.line.lot_id is not None:
                moved[(row.line.item_id, row.line.lot_id)] -= row.quantity
    switched = {pair: quantity for pair, quantity in moved.items() if quantity > 0}
    if switched:
        free = _lot_free_at_warehouse(pick_list.warehouse_id, set(switched))
        taken = [{"sku": skus[item_id], "lot": lot_numbers[lot_id], "picked": str(quantity),
                  "free": str(max(free[(item_id, lot_id)], ZERO))}
                 for (item_id, lot_id), quantity in sorted(switched.items()) if quantity > free[(item_id, lot_id)]]
        if taken:
            raise InsufficientStock("A lot picked instead of the one asked for is held for other orders.",
                                    detail={"lots": taken})


@dataclass
class _Settled:
    """What confirming changes besides the lines: allocations, new allocations of switched lots, shortfalls."""

    allocations: list[Allocation]
    new: list[tuple[Allocation, list[PickListLine]]]
    short_by_line: dict[int, Decimal]  # order line -> quantity no longer allocated
    released: dict[tuple[int, int], Decimal]  # (item, warehouse) -> quantity off ``allocated``


def _settle(picked: list[_Picked], allocations: dict[int, Allocation], now: dt.datetime) -> _Settled:
    """Each allocation keeps what was picked for it: the unpicked rest is released; the lot most of it came
    from (the allocated one when picked from) stays on it and every other lot picked gets an allocation of its
    own, which its lines move to. Nothing picked at all releases the allocation."""
    settled = _Settled([], [], defaultdict(lambda: ZERO), defaultdict(lambda: ZERO))
    by_allocation: dict[int, list[_Picked]] = defaultdict(list)
    for row in picked:
        by_allocation[row.line.allocation_id].append(row)
    for allocation_id, rows in sorted(by_allocation.items()):
        allocation = allocations[allocation_id]
        asked = sum((row.line.quantity for row in rows), ZERO)
        got = sum((row.quantity for row in rows), ZERO)
        short = asked - got
        if short > 0:
            settled.short_by_line[allocation.line_id] += short
            settled.released[(allocation.item_id, allocation.warehouse_id)] += short
        allocation.updated_at = now
        if got == 0:
            allocation.status = AllocationStatus.RELEASED
            settled.allocations.append(allocation)
            continue
        by_lot: dict[int | None, list[_Picked]] = {}
        for row in rows:
            if row.quantity > 0:
                by_lot.setdefault(row.lot.pk if row.lot else None, []).append(row)
        keep = allocation.lot_id if allocation.lot_id in by_lot else next(iter(by_lot))
        allocation.lot_id = keep
        allocation.quantity = sum((row.quantity for row in by_lot[keep]), ZERO)
        settled.allocations.append(allocation)
        for lot_id, group in by_lot.items():
            if lot_id == keep:
                continue
            twin = Allocation(line_id=allocation.line_id, warehouse_id=allocation.warehouse_id,
                              item_id=allocation.item_id, lot_id=lot_id,
                              quantity=sum((row.quantity for row in group), ZERO), status=AllocationStatus.OPEN,
                              ship_date=allocation.ship_date, promised_date=allocation.promised_date,
                              pick_list_id=allocation.pick_list_id)
            settled.new.append((twin, [row.line for row in group]))
    return settled


def _raise_pick_shortages(pick_list: PickList, warehouse: Warehouse, still_short: dict[int, Decimal],
                          picked: list[_Picked], orders: dict[int, SalesOrder],
                          actor: Actor) -> None:
    """One ``shortage`` exception per SKU still short after reallocating, at the picking warehouse."""
    from governance.services.exceptions import exception_raise

    for item_id, quantity in sorted(still_short.items()):
        rows = [row for row in picked if row.line.item_id == item_id and row.quantity < row.line.quantity]
        sku = rows[0].line.item.sku
        exception_raise(
            type="shortage", business_key=f"shortage:{warehouse.code}:{sku}",
            title=f"Short pick of {sku} at {warehouse.code}: {quantity} not found and not available elsewhere",
            warehouse=warehouse, reference=pick_list.number,
            detail={"sku": sku, "warehouse": warehouse.code, "pick_list": pick_list.number,
                    "backordered": str(quantity),
                    "locations": sorted({row.line.location.code for row in rows}),
                    "orders": sorted({orders[row.line.order_line.order_id].number for row in rows})},
            actor=recorded_actor(actor),
        )


@command
def pick_list_confirm(*, pick_list: PickList, answers: list[PickAnswer], actor: Actor,
                      now: dt.datetime | None = None) -> PickList:
    """Confirm an open list: every line not cancelled is answered exactly once (400 otherwise) with what was
    picked, from 0 up to its quantity (more is 400 ``over_pick``), and for a lot-tracked item from which lot
    (default the one asked for; another lot is taken when it is on the books at that location and free at the
    warehouse, and the allocation follows it). What was picked must be on the books at its location (409
    ``insufficient_stock``).

    A short line releases what was not found (allocation, summary, order line back to backordered), then the
    order looks for it elsewhere in the network (``order_lines_allocate``, the picking warehouse excluded);
    what is still short raises a ``shortage`` exception at the picking warehouse. The list becomes ``picked``
    (confirming twice is 409 ``invalid_transition``) and each order is refreshed. Queries: constant in the
    number of lines when nothing is short; a short line adds the reallocation of its order.
    """
    now = now or timezone.now()
    _check_answers(answers)
    known = list(PickListLine.objects.filter(pick_list=pick_list).values_list(
        "pk", "sequence", "item_id", "order_line__order_id", "quantity"))
    answered = _match(answers, [(pk, sequence) for pk, sequence, *_ in known])
    item_ids = sorted({item_id for _, _, item_id, _, _ in known})
    order_ids = sorted({order_id for _, _, _, order_id, _ in known})
    warehouse = Warehouse.objects.select_related("region").get(pk=pick_list.warehouse_id)
    may_short = any(answered[pk].picked_quantity < quantity for pk, _, _, _, quantity in known if pk in answered)
    if may_short and known:
        # A short line may reallocate anywhere: lock the items' summaries at every warehouse before any document.
        stock.lock_everywhere(item_ids)
    held_stock = stock.lock([(item_id, warehouse.pk) for item_id in item_ids])
    orders = {locked.pk: locked for locked in SalesOrder.objects.select_for_update(of=("self",))
              .filter(pk__in=order_ids).order_by("pk")}
    locked = PickList.objects.select_for_update(of=("self",)).get(pk=pick_list.pk)
    _move(locked, PickListStatus.PICKED, picked_by=recorded_actor(actor), picked_at=now)
    lines = list(PickListLine.objects.filter(pick_list=locked)
                 .select_related("item", "lot", "location", "order_line").order_by("sequence"))
    open_lines = [line for line in lines if line.status == PickLineStatus.OPEN]
    if not open_lines:
        raise NothingToPick(f"Every line of {locked.number} was cancelled with its order: cancel the list.",
                            detail={"number": locked.number})
    missing = [f"Line {line.sequence} ({line.location.code} {line.item.sku}) has no answer."
               for line in open_lines if line.pk not in answered]
    if missing:
        raise ValidationFailed("Answer every line of the list.", detail={"lines": missing})
    allocations = {a.pk: a for a in Allocation.objects.select_for_update(of=("self",))
                   .filter(pk__in={line.allocation_id for line in open_lines}).order_by("pk")}
    for line in open_lines:
        line.allocation = allocations[line.allocation_id]
    picked = _resolve(open_lines, answered)
    _check_stock(locked, picked)
    settled = _settle(picked, allocations, now)

    for row in picked:
        row.line.picked_quantity = row.quantity
        row.line.picked_lot = row.lot if row.quantity > 0 else None
        row.line.status = PickLineStatus.PICKED if row.quantity == row.line.quantity else PickLineStatus.SHORT
        row.line.updated_at = now
    Allocation.objects.bulk_update(settled.allocations, ["quantity", "lot", "status", "updated_at"])
    if settled.new:
        Allocation.objects.bulk_create([twin for twin, _ in settled.new])
        for twin, moved in settled.new:
            for line in moved:
                line.allocation = twin
    PickListLine.objects.bulk_update([row.line for row in picked],
                                     ["picked_quantity", "picked_lot", "status", "allocation", "updated_at"])
    stock.release(held_stock, settled.released)

    still_short: dict[int, Decimal] = defaultdict(lambda: ZERO)
    if settled.short_by_line:
        order_lines = list(SalesOrderLine.objects.select_for_update(of=("self",))
                           .filter(pk__in=list(settled.short_by_line)).order_by("pk"))
        for order_line in order_lines:
            order_line.allocated_quantity -= settled.short_by_line[order_line.pk]
            order_line.backordered_quantity += settled.short_by_line[order_line.pk]
            order_line.updated_at = now
        SalesOrderLine.objects.bulk_update(order_lines, ["allocated_quantity", "backordered_quantity", "updated_at"])
        by_order: dict[int, dict[int, Decimal]] = defaultdict(dict)
        for order_line in order_lines:
            by_order[order_line.order_id][order_line.pk] = settled.short_by_line[order_line.pk]
        item_of = {order_line.pk: order_line.item_id for order_line in order_lines}
        for order_id, wanted in sorted(by_order.items()):
            got = order_lines_allocate(order=orders[order_id], wanted=wanted, actor=actor, now=now,
                                       exclude_warehouse_ids=frozenset({warehouse.pk}), raise_shortage=False)
            for pk, quantity in wanted.items():
                left = quantity - got.get(pk, ZERO)
                if left > 0:
                    still_short[item_of[pk]] += left
    for order in SalesOrder.objects.filter(pk__in=order_ids).order_by("pk"):
        order_refresh(order)  # re-read: a reallocation may have moved the order already
    if still_short:
        _raise_pick_shortages(locked, warehouse, still_short, picked, orders, actor)
    return locked


# --- cancelling ---------------------------------------------------------------------------------------------


@command
def pick_list_cancel(*, pick_list: PickList, actor: Actor) -> PickList:
    """Cancel an open list: its open lines are cancelled and its allocations wait for another list (still
    allocated); the orders' lines go back from ``picking``. A picked or cancelled list is 409
    ``invalid_transition``."""
    order_ids = sorted(set(PickListLine.objects.filter(pick_list=pick_list)
                           .values_list("order_line__order_id", flat=True)))
    orders = list(SalesOrder.objects.select_for_update(of=("self",)).filter(pk__in=order_ids).order_by("pk"))
    locked = PickList.objects.select_for_update(of=("self",)).get(pk=pick_list.pk)
    _move(locked, PickListStatus.CANCELLED)
    now = timezone.now()
    PickListLine.objects.filter(pick_list=locked, status=PickLineStatus.OPEN).update(
        status=PickLineStatus.CANCELLED, updated_at=now)
    Allocation.objects.filter(pick_list=locked, status=AllocationStatus.OPEN).update(pick_list=None, updated_at=now)
    for order in orders:
        order_refresh(order)
    return locked


# --- reads shared by the API and the screens ------------------------------------------------------------------


def pick_list_headers() -> QuerySet[PickList]:
    """Pick lists with what their headers show and their line count (neither scoped nor ordered)."""
    return (PickList.objects.select_related("warehouse", "order", "created_by", "picked_by")
            .annotate(line_count=Count("lines")))


def pick_lists(user: Any) -> QuerySet[PickList]:
    """The pick lists of the user's warehouses (``pick_list_headers``)."""
    return scope_queryset(pick_list_headers(), user)


def pick_list_lines(pick_list: PickList | None = None) -> QuerySet[PickListLine]:
    """Lines (of ``pick_list``, or for a prefetch) in walking order with everything a line shows, in one query."""
    lines = (PickListLine.objects.select_related("location", "item__base_uom", "lot", "picked_lot",
                                                 "order_line__order").order_by("sequence"))
    return lines if pick_list is None else lines.filter(pick_list=pick_list)


MAX_ID = 2**63 - 1


def order_to_pick(value: str, warehouse: Warehouse, user: Any) -> SalesOrder | None:
    """An order by id or number that ``user`` may list at ``warehouse``: in the user's scope, or with stock
    allocated at that warehouse (a warehouse picks every order it ships, whichever region took it). Anything
    else is None, like an order that does not exist."""
    value = value.strip()
    wanted = Q(number=value.upper())
    if value.isascii() and value.isdigit() and int(value) <= MAX_ID:
        wanted |= Q(pk=int(value))
    visible = Q(pk__in=scope_queryset(SalesOrder.objects.all(), user).values("pk")) | Q(
        pk__in=Allocation.objects.filter(warehouse=warehouse).values("line__order_id"))
    return SalesOrder.objects.filter(wanted).filter(visible).order_by("pk").first()
