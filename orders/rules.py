"""Pure rules of order to fulfillment: promise dates. No ORM here; services gather the data and call these.

A promise is made in the shipping warehouse's own time zone: an order confirmed before the
``fulfillment.shipping_cutoff`` local time on a working day ships that day; otherwise it ships on the
next working day. Stock that is not on hand yet (an inbound purchase order or transfer) ships on the
first working day on or after it arrives. The carrier's transit days to the ship-to region are working
days (carriers do not deliver at weekends), and the promised date is the delivery date, never before
the date the customer asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

# Monday = 0 ... Sunday = 6: the standard working week of a warehouse and of carriers.
STANDARD_WORKING_DAYS = frozenset({0, 1, 2, 3, 4})
# A promise further out than this is refused rather than searched for (a calendar with no working day).
MAX_SEARCH_DAYS = 366


@dataclass(frozen=True)
class WarehouseCalendar:
    """When a warehouse ships: its time zone, working weekdays and closed dates (local)."""

    timezone: str
    working_days: frozenset[int] = STANDARD_WORKING_DAYS
    closed_dates: frozenset[dt.date] = frozenset()

    def is_working(self, day: dt.date) -> bool:
        return day.weekday() in self.working_days and day not in self.closed_dates

    def next_working(self, day: dt.date) -> dt.date:
        """``day`` itself when the warehouse works then, else the next day it does."""
        for offset in range(MAX_SEARCH_DAYS):
            candidate = day + dt.timedelta(days=offset)
            if self.is_working(candidate):
                return candidate
        raise ValueError(f"No working day within {MAX_SEARCH_DAYS} days of {day}.")


@dataclass(frozen=True)
class Promise:
    ship_date: dt.date  # local date at the warehouse
    delivery_date: dt.date  # the promised date


def add_transit(ship_date: dt.date, transit_days: int, working_days: frozenset[int] = STANDARD_WORKING_DAYS,
                ) -> dt.date:
    """``ship_date`` plus ``transit_days`` carrier working days (0: delivered the day it ships)."""
    if transit_days < 0:
        raise ValueError("Transit days cannot be negative.")
    day, left = ship_date, transit_days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() in working_days:
            left -= 1
    return day


def ship_date(*, now: dt.datetime, calendar: WarehouseCalendar, cutoff: dt.time,
              available_from: dt.date | None = None) -> dt.date:
    """The local date the warehouse can ship, seen at the aware instant ``now``.

    Confirmed before ``cutoff`` (wall-clock time at the warehouse, so daylight-saving changes move
    nothing) on a working day: that day; at or after the cutoff, or on a closed day: the next working
    day. ``available_from`` (a local date the stock arrives) pushes the ship date to the first working
    day on or after it; stock arriving today ships today only before the cutoff.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime.")
    local = now.astimezone(ZoneInfo(calendar.timezone))
    today = local.date()
    earliest = today if (calendar.is_working(today) and local.time() < cutoff) else today + dt.timedelta(days=1)
    if available_from is not None and available_from > earliest:
        earliest = available_from
    return calendar.next_working(earliest)


def promise(*, now: dt.datetime, calendar: WarehouseCalendar, cutoff: dt.time, transit_days: int,
            requested_date: dt.date | None = None, available_from: dt.date | None = None) -> Promise:
    """The ship date and the promised delivery date of one line from one warehouse.

    When the customer asked for a later date than the earliest delivery, the promise is that date and
    the ship date moves back so the goods arrive then (the latest working day that still makes it,
    never before the earliest ship date).
    """
    shipping = ship_date(now=now, calendar=calendar, cutoff=cutoff, available_from=available_from)
    delivery = add_transit(shipping, transit_days)
    if requested_date is None or requested_date <= delivery:
        return Promise(shipping, delivery)
    latest = shipping
    candidate = shipping
    for _ in range(MAX_SEARCH_DAYS):
        candidate = calendar.next_working(candidate + dt.timedelta(days=1))
        if add_transit(candidate, transit_days) > requested_date:
            break
        latest = candidate
    return Promise(latest, max(requested_date, add_transit(latest, transit_days)))


# --- the order lifecycle (one table for orders and their lines) ------------------------------------------

# Confirming moves a draft straight to where allocation left it (``confirmed`` is the state of an order
# accepted but not yet allocated, e.g. when allocation is deferred). An order's status is derived from its
# lines' (``order_status``), so the open states move among themselves as stock arrives (a backorder
# allocates), is released to picking, is picked short or packed. Packed goods cannot be cancelled (the
# shipment is cancelled first, which puts them back to picking); nothing shipped can be cancelled (cancelling
# the rest of an order shipped in part closes it); shipped, delivered and closed follow; closed and cancelled
# are final.
_OPEN = ("confirmed", "allocated", "partially_allocated", "backordered", "picking", "packed")
# Line states whose backordered quantity still waits for stock (inbound supply is promised to them first).
BACKORDER_WAITING_STATUSES = ("backordered", "partially_allocated", "picking", "packed")


def _open_moves(state: str, *extra: str) -> frozenset[str]:
    return frozenset({s for s in _OPEN if s not in (state, "confirmed")} | set(extra))


ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"confirmed", "allocated", "partially_allocated", "backordered", "cancelled"}),
    "confirmed": _open_moves("confirmed", "cancelled"),
    "backordered": _open_moves("backordered", "shipped", "cancelled", "closed"),
    "partially_allocated": _open_moves("partially_allocated", "shipped", "cancelled", "closed"),
    "allocated": _open_moves("allocated", "shipped", "cancelled", "closed"),
    "picking": _open_moves("picking", "shipped", "cancelled", "closed"),
    "packed": _open_moves("packed", "shipped"),
    "shipped": frozenset({"delivered", "closed"}),
    "delivered": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}

# A pick list is picked (every line confirmed) or cancelled (its allocations released or re-listed).
PICK_LIST_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"picked", "cancelled"}),
    "picked": frozenset(),
    "cancelled": frozenset(),
}

# A shipment is packed, then shipped (stock leaves), then delivered; a packed one may be cancelled (its
# picked lines go back to waiting for a shipment).
SHIPMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    "packed": frozenset({"shipped", "cancelled"}),
    "shipped": frozenset({"delivered"}),
    "delivered": frozenset(),
    "cancelled": frozenset(),
}

# A return is authorized, received (goods in, each line with its disposition), closed; or cancelled before
# anything came back.
RETURN_TRANSITIONS: dict[str, frozenset[str]] = {
    "authorized": frozenset({"received", "cancelled"}),
    "received": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}


def may_move(table: dict[str, frozenset[str]]) -> Callable[[str, str], bool]:
    """The ``may_move`` predicate of one transitions table (for ``erp.lifecycle.document_move``)."""
    return lambda from_status, to_status: to_status in table.get(from_status, frozenset())


order_may_move = may_move(ORDER_TRANSITIONS)


def line_status(*, quantity: Decimal, allocated: Decimal, backordered: Decimal, shipped: Decimal = Decimal(0),
                picking: bool = False, packed: bool = False) -> str:
    """The state of a confirmed line from its quantities: ``shipped`` once all of it left; otherwise the most
    advanced work on its open part (``packed`` in a shipment waiting to leave, ``picking`` on a pick list),
    else the allocation state of what is still open."""
    if shipped >= quantity:
        return "shipped"
    if packed:
        return "packed"
    if picking:
        return "picking"
    if allocated >= quantity - shipped:
        return "allocated"
    if allocated > 0:
        return "partially_allocated"
    if backordered > 0:
        return "backordered"
    return "confirmed"


# Which line state makes an order what: the order takes the "least advanced" state of its open lines.
_ORDER_RANK = ("backordered", "partially_allocated", "confirmed", "allocated", "picking", "packed", "shipped",
               "delivered", "closed")


def order_status(line_statuses: list[str]) -> str:
    """An order's status from its lines': all cancelled is cancelled; lines allocated beside lines waiting make it
    partially allocated; otherwise the least advanced state of the lines that are not cancelled."""
    live = [s for s in line_statuses if s != "cancelled"]
    if not live:
        return "cancelled"
    if "backordered" in live and any(s in ("allocated", "partially_allocated") for s in live):
        return "partially_allocated"
    return min(live, key=_ORDER_RANK.index)


# --- allocation --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A warehouse allocation may take from, in the policy's order, with what it can give now."""

    warehouse_id: int
    available: Decimal


@dataclass(frozen=True)
class LineAllocation:
    takes: tuple[tuple[int, Decimal], ...]  # (warehouse id, quantity), in the order taken
    backordered: Decimal


def allocate_line(quantity: Decimal, candidates: list[Candidate], *, split_allowed: bool) -> LineAllocation:
    """Take ``quantity`` from the candidates in order.

    With ``split_allowed`` (the customer accepts partial shipments and the policy allows them) the line takes
    what each warehouse has, in order, until it is covered; the rest is backordered. Without it the line is
    taken whole from the first warehouse that has all of it, or backordered whole.
    """
    if quantity <= 0:
        raise ValueError("A line's quantity is positive.")
    if not split_allowed:
        for candidate in candidates:
            if candidate.available >= quantity:
                return LineAllocation(((candidate.warehouse_id, quantity),), Decimal(0))
        return LineAllocation((), quantity)
    takes, left = [], quantity
    for candidate in candidates:
        if left <= 0:
            break
        take = min(left, candidate.available)
        if take > 0:
            takes.append((candidate.warehouse_id, take))
            left -= take
    return LineAllocation(tuple(takes), left)


def take_lots(quantity: Decimal, lots: list[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    """Split ``quantity`` over ``lots`` (lot id, free quantity), already in the lot-selection order."""
    takes, left = [], quantity
    for lot_id, free in lots:
        if left <= 0:
            break
        take = min(left, free)
        if take > 0:
            takes.append((lot_id, take))
            left -= take
    if left > 0:
        raise ValueError("The lots hold less than asked for.")
    return takes


def candidate_order(*, sequence: list[str], home_id: int, home_region_id: int,
                    warehouses: list[tuple[int, int, str]], cross_region_allowed: bool,
                    transit_days: dict[int, int] | None = None) -> list[int]:
    """Warehouse ids in the order of ``fulfillment.allocation_sequence``.

    ``warehouses`` are (id, region id, code) of the active warehouses. ``home_warehouse`` is the customer's
    home; ``same_region`` the rest of its region; ``other_regions`` everything else, only when
    ``fulfillment.cross_region_allowed``. Within a step, the fastest delivery first (``transit_days`` by the
    warehouse's region: the fastest carrier lane to the ship-to's region), then by code (stable and
    explainable); a region with no lane sorts last.
    """
    lanes = transit_days or {}
    ordered: list[int] = []
    by_speed = sorted(warehouses, key=lambda w: (lanes.get(w[1], MAX_SEARCH_DAYS), w[2]))
    for step in sequence:
        if step == "home_warehouse":
            chosen = [w[0] for w in by_speed if w[0] == home_id]
        elif step == "same_region":
            chosen = [w[0] for w in by_speed if w[1] == home_region_id and w[0] != home_id]
        elif step == "other_regions":
            chosen = [w[0] for w in by_speed if w[1] != home_region_id] if cross_region_allowed else []
        else:
            chosen = []
        ordered.extend(pk for pk in chosen if pk not in ordered)
    return ordered


# --- a customer's default ship-to address -------------------------------------------------------------------


def default_ship_to_after(ship_tos: list[dict[str, Any]], current: str | None) -> str | None:
    """The code of the customer's default address once its ship-tos are replaced by ``ship_tos``.

    A row with ``default: True`` becomes the default (the caller refuses more than one); otherwise the
    ``current`` default stays if it is still listed and not marked ``default: False``; otherwise there is none.
    A row without ``default`` says nothing about it, so lists written before the flag existed keep the default.
    """
    chosen = [row["code"] for row in ship_tos if row.get("default")]
    if chosen:
        return str(chosen[0])
    kept = next((row for row in ship_tos if row["code"] == current), None)
    if kept is not None and kept.get("default", True) is not False:
        return current
    return None
