"""Instants for tests that fix ``now``, derived from the real clock so the suite passes on any date.

A test that passes ``now=`` to a service must take every other date it uses (a deviation's
effective dates, a lot's expiry, a wave cut-off, an expected ship date) from that same instant,
never from a calendar date written in the test and never from ``date.today()``: services validate
against the real clock too (a deviation may not start before the site's local today), so a fixed
date in a test is a test that fails from some day on. ``make test-future`` runs the suite with the
clock of every process (PostgreSQL's included) moved 400 days ahead to prove it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BOSTON = "America/New_York"

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)


def at_local(day: dt.date, hour: int, minute: int = 0, *, tz: str = BOSTON) -> dt.datetime:
    """``day`` at ``hour:minute`` on the wall clock of ``tz``, as an aware UTC instant."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)


def coming(weekday: int, hour: int, minute: int = 0, *, tz: str = BOSTON,
           after: dt.datetime | None = None) -> dt.datetime:
    """The first ``weekday`` (Monday is 0) strictly after the local date of ``after`` (default: now), at
    ``hour:minute`` local time in ``tz``, as an aware UTC instant.

    Strictly after today, so anything a test may only date from today on (a deviation's start) can be
    dated on that day, and the instant is never already in the past of the running clock.
    """
    local_today = (after or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(tz)).date()
    ahead = (weekday - local_today.weekday() - 1) % 7 + 1
    return at_local(local_today + dt.timedelta(days=ahead), hour, minute, tz=tz)


def local_date(instant: dt.datetime, *, tz: str = BOSTON) -> dt.date:
    return instant.astimezone(ZoneInfo(tz)).date()


# A Wednesday morning in Boston, before its 15:00 shipping cut-off: the day the order tests confirm on.
WEDNESDAY_10AM = coming(WEDNESDAY, 10)
WEDNESDAY_DATE = local_date(WEDNESDAY_10AM)


def days_after_wednesday(days: int) -> dt.date:
    """A calendar date ``days`` after (or, negative, before) the tests' Wednesday: lot expiries, cut-offs."""
    return WEDNESDAY_DATE + dt.timedelta(days=days)
