"""The suite's clock: tests derive their dates from it, and ``make test-future`` really moves it for every process."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from django.db import connection

from tests.clock import SUNDAY, WEDNESDAY, at_local, coming, local_date


@pytest.mark.parametrize(("today", "expected"), [
    ("2026-11-24", "2026-11-25"),  # a Tuesday: the next day
    ("2026-11-25", "2026-12-02"),  # a Wednesday: never today, the one after
    ("2026-11-26", "2026-12-02"),
    ("2027-12-31", "2028-01-05"),  # across a year end
])
def test_the_coming_wednesday_is_strictly_after_the_local_today(today, expected):
    after = at_local(dt.date.fromisoformat(today), 9)
    wednesday = coming(WEDNESDAY, 10, after=after)
    assert local_date(wednesday) == dt.date.fromisoformat(expected)
    assert wednesday.astimezone(dt.UTC).hour in (14, 15)  # 10:00 in Boston, summer or winter time


def test_the_local_date_decides_not_utc():
    # 23:30 on a Saturday in Boston is already Sunday in UTC: the coming Sunday is the next day, not today.
    saturday_night = at_local(dt.date(2026, 11, 28), 23, 30)
    assert saturday_night.astimezone(dt.UTC).date() == dt.date(2026, 11, 29)
    assert local_date(coming(SUNDAY, 8, after=saturday_night)) == dt.date(2026, 11, 29)


def test_across_the_spring_change_the_wall_clock_hour_is_kept():
    before = at_local(dt.date(2027, 3, 10), 10)  # Wednesday 10 March 2027: New York on summer time since the 14th
    after = coming(WEDNESDAY, 10, after=before)
    assert local_date(after) == dt.date(2027, 3, 17)
    assert (before.hour, after.hour) == (15, 14)


@pytest.mark.django_db
def test_python_and_postgresql_agree_on_the_time():
    """Both run on one clock: moved together under ``make test-future``, so a test cannot pass only because
    the database still lives on the real date."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM clock_timestamp())")
        database = float(cursor.fetchone()[0])
    assert abs(database - time.time()) < 60


def test_under_make_test_future_the_clock_is_moved_by_the_days_asked():
    shift = os.environ.get("CONCORD_CLOCK_SHIFT_DAYS")
    started = float(os.environ.get("CONCORD_CLOCK_SHIFT_FROM", time.time()))
    moved_by = (time.time() - started) / 86400
    # Without the variables the run is on the real clock; with them, the clock must really have moved.
    assert moved_by == pytest.approx(float(shift or 0), abs=0.5)
