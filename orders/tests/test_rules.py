"""Promise dates at their edges: the cutoff, daylight-saving changes, weekends and the warehouse's calendar."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from orders import rules

NY = "America/New_York"
BOS = rules.WarehouseCalendar(timezone=NY)
CUTOFF = dt.time(15, 0)


def at(local: str, zone: str = NY) -> dt.datetime:
    """An aware instant from a local wall-clock time, given in UTC as a server would hold it."""
    return dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


@pytest.mark.parametrize(("local", "ships"), [
    ("2026-11-25T14:59:59", "2026-11-25"),  # Wednesday, a second before the cutoff: today
    ("2026-11-25T15:00:00", "2026-11-26"),  # at the cutoff: tomorrow
    ("2026-11-27T16:00:00", "2026-11-30"),  # Friday after the cutoff: Monday
    ("2026-11-28T09:00:00", "2026-11-30"),  # Saturday morning: Monday
    ("2026-11-29T23:59:00", "2026-11-30"),  # Sunday night: Monday
])
def test_the_ship_date_follows_the_local_cutoff_and_skips_the_weekend(local, ships):
    assert rules.ship_date(now=at(local), calendar=BOS, cutoff=CUTOFF) == dt.date.fromisoformat(ships)


def test_the_cutoff_is_read_in_the_warehouses_own_time_zone_not_the_servers():
    instant = dt.datetime(2026, 11, 25, 19, 30, tzinfo=dt.UTC)  # 14:30 in Boston, 20:30 in Rotterdam
    assert rules.ship_date(now=instant, calendar=BOS, cutoff=CUTOFF) == dt.date(2026, 11, 25)
    rotterdam = rules.WarehouseCalendar(timezone="Europe/Amsterdam")
    assert rules.ship_date(now=instant, calendar=rotterdam, cutoff=CUTOFF) == dt.date(2026, 11, 26)


@pytest.mark.parametrize(("utc", "ships"), [
    # US clocks go forward on Sunday 8 March 2026 and back on Sunday 1 November 2026: the cutoff stays 15:00 local.
    ("2026-03-09T18:59:00", "2026-03-09"),  # Monday after spring forward: 14:59 EDT (UTC-4), before
    ("2026-03-09T19:00:00", "2026-03-10"),  # 15:00 EDT: at the cutoff
    ("2026-03-06T19:59:00", "2026-03-06"),  # the Friday before: 14:59 EST (UTC-5), before
    ("2026-11-02T19:59:00", "2026-11-02"),  # Monday after fall back: 14:59 EST
    ("2026-11-02T20:00:00", "2026-11-03"),  # 15:00 EST
])
def test_daylight_saving_changes_move_the_cutoff_with_the_wall_clock(utc, ships):
    instant = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC)
    assert rules.ship_date(now=instant, calendar=BOS, cutoff=CUTOFF) == dt.date.fromisoformat(ships)


def test_a_closed_date_in_the_warehouses_calendar_is_skipped():
    thanksgiving = rules.WarehouseCalendar(timezone=NY, closed_dates=frozenset({dt.date(2026, 11, 26)}))
    after_cutoff = at("2026-11-25T16:00:00")
    assert rules.ship_date(now=after_cutoff, calendar=thanksgiving, cutoff=CUTOFF) == dt.date(2026, 11, 27)
    six_days = rules.WarehouseCalendar(timezone=NY, working_days=frozenset({0, 1, 2, 3, 4, 5}))
    assert rules.ship_date(now=at("2026-11-27T16:00:00"), calendar=six_days, cutoff=CUTOFF) == dt.date(2026, 11, 28)


def test_stock_arriving_later_ships_on_the_first_working_day_from_its_arrival():
    monday = at("2026-11-23T09:00:00")
    assert rules.ship_date(now=monday, calendar=BOS, cutoff=CUTOFF,
                           available_from=dt.date(2026, 11, 28)) == dt.date(2026, 11, 30)
    assert rules.ship_date(now=monday, calendar=BOS, cutoff=CUTOFF,
                           available_from=dt.date(2026, 11, 20)) == dt.date(2026, 11, 23)


@pytest.mark.parametrize(("ships", "transit", "delivered"), [
    ("2026-11-25", 0, "2026-11-25"),
    ("2026-11-25", 2, "2026-11-27"),  # Wednesday + 2 working days: Friday
    ("2026-11-27", 1, "2026-11-30"),  # Friday + 1: Monday
    ("2026-11-27", 5, "2026-12-04"),
])
def test_transit_days_are_carrier_working_days(ships, transit, delivered):
    assert rules.add_transit(dt.date.fromisoformat(ships), transit) == dt.date.fromisoformat(delivered)


def test_the_promise_is_the_delivery_date_and_never_before_the_requested_date():
    early = rules.promise(now=at("2026-11-25T10:00:00"), calendar=BOS, cutoff=CUTOFF, transit_days=2)
    assert early == rules.Promise(dt.date(2026, 11, 25), dt.date(2026, 11, 27))
    later = rules.promise(now=at("2026-11-25T10:00:00"), calendar=BOS, cutoff=CUTOFF, transit_days=2,
                          requested_date=dt.date(2026, 12, 9))
    assert later.delivery_date == dt.date(2026, 12, 9) and later.ship_date == dt.date(2026, 12, 7)
    sooner = rules.promise(now=at("2026-11-25T10:00:00"), calendar=BOS, cutoff=CUTOFF, transit_days=2,
                           requested_date=dt.date(2026, 11, 24))
    assert sooner == early


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError, match="aware"):
        rules.ship_date(now=dt.datetime(2026, 11, 25, 10), calendar=BOS, cutoff=CUTOFF)


def test_other_regions_are_tried_fastest_lane_first_then_by_code():
    # Home NE-BOS (1, region 1), NE-NYC (2, region 1); EU-DUS (3, region 3, 7 days); SE-ATL (4, region 2, 3 days);
    # EU-AMS (5, region 3, 7 days); XX-ZZZ (6, region 9: no lane, last).
    warehouses = [(1, 1, "NE-BOS"), (2, 1, "NE-NYC"), (3, 3, "EU-DUS"), (4, 2, "SE-ATL"), (5, 3, "EU-AMS"),
                  (6, 9, "XX-ZZZ")]
    order = rules.candidate_order(sequence=["home_warehouse", "same_region", "other_regions"], home_id=1,
                                  home_region_id=1, warehouses=warehouses, cross_region_allowed=True,
                                  transit_days={1: 1, 2: 3, 3: 7})
    assert order == [1, 2, 4, 5, 3, 6]
    closed = rules.candidate_order(sequence=["home_warehouse", "same_region", "other_regions"], home_id=1,
                                   home_region_id=1, warehouses=warehouses, cross_region_allowed=False,
                                   transit_days={1: 1, 2: 3, 3: 7})
    assert closed == [1, 2]
