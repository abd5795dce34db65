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
from dataclasses import dataclass
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
