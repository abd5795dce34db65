"""How a screen or a CSV export writes a quantity, an amount, a date and a status: one way everywhere.

Quantities are stored with four decimal places; people read ``120`` and ``2.5``, with the unit beside
them. Amounts keep their currency's two places and name the currency. Date-times are shown in the
reader's time zone (``erp.middleware.TimeZoneMiddleware`` activates it) in one format, with the zone's
abbreviation so a reader in another region knows whose clock it is. A status wears a badge whose colour
says whether someone still has to act on it, its name shown and its code in the tooltip.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%d %H:%M"

# A status's badge by what it asks of the reader: done, waiting on someone, stopped, in trouble.
# Keyed by status code; a code no document uses yet gets the plain badge.
BADGE_OK = "badge--ok"
BADGE_WAITING = "badge--soon"
BADGE_OFF = "badge--off"
BADGE_TROUBLE = "appr-status--rejected"
BADGE_PARTIAL = "appr-status--pending"
STATUS_BADGES: dict[str, str] = {
    "draft": BADGE_WAITING, "open": BADGE_WAITING, "pending": BADGE_WAITING, "pending_approval": BADGE_WAITING,
    "authorized": BADGE_WAITING, "packed": BADGE_WAITING, "submitted": BADGE_WAITING, "counting": BADGE_WAITING,
    "released": BADGE_WAITING, "queued": BADGE_WAITING, "running": BADGE_WAITING, "picking": BADGE_WAITING,
    "dispatched": BADGE_WAITING,  # a transfer on its way: the receiving warehouse has to act
    "allocated": BADGE_OK, "confirmed": BADGE_OK, "picked": BADGE_OK, "shipped": BADGE_OK, "delivered": BADGE_OK,
    "received": BADGE_OK, "approved": BADGE_OK, "posted": BADGE_OK, "done": BADGE_OK, "active": BADGE_OK,
    "partially_allocated": BADGE_PARTIAL, "partially_received": BADGE_PARTIAL, "partially_picked": BADGE_PARTIAL,
    "backordered": BADGE_TROUBLE, "rejected": BADGE_TROUBLE, "failed": BADGE_TROUBLE, "short": BADGE_TROUBLE,
    "cancelled": BADGE_OFF, "closed": BADGE_OFF, "withdrawn": BADGE_OFF, "expired": BADGE_OFF,
    "inactive": BADGE_OFF, "superseded": BADGE_OFF, "recounted": BADGE_OFF,
}


def badge_class(status: str) -> str:
    return STATUS_BADGES.get(status, "")


def plain_number(value: Decimal | int | float | None) -> str:
    """A number without its storage padding: ``120.0000`` -> ``120``, ``2.5000`` -> ``2.5``, None -> ``""``."""
    if value is None or value == "":
        return ""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number:
        return "0"
    return format(number.normalize(), "f")


def quantity_text(value: Decimal | int | float | None, unit: Any = "") -> str:
    """``120 EA``: the quantity without padding and the unit's code (a unit or its code) beside it."""
    if value is None or value == "":
        return ""
    code = getattr(unit, "code", unit) or ""
    return f"{plain_number(value)} {code}".strip()


def money_text(amount: Decimal | int | float | None, currency: Any = "") -> str:
    """``1,234.50 USD``: two places, thousands grouped, the currency's code beside it."""
    if amount is None or amount == "":
        return ""
    number = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    code = getattr(currency, "code", currency) or ""
    return f"{number.quantize(Decimal('0.01')):,} {code}".strip()


def local(value: dt.datetime) -> dt.datetime:
    """An aware date-time in the active time zone (the reader's); a naive one is taken as it is."""
    return timezone.localtime(value) if timezone.is_aware(value) else value


def date_text(value: dt.date | dt.datetime | None) -> str:
    """``2026-12-04``; a date-time gives the reader's local day."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = local(value)
    return value.strftime(DATE_FORMAT)


def datetime_text(value: dt.datetime | dt.date | None, *, zone: bool = True) -> str:
    """``2026-12-04 09:05 EST`` in the reader's time zone; a plain date is shown as a date."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return date_text(value)
    shown = local(value)
    text = shown.strftime(DATETIME_FORMAT)
    return f"{text} {shown.strftime('%Z')}".strip() if zone and timezone.is_aware(shown) else text


def cell_text(value: Any) -> str:
    """A value as a CSV cell: numbers without padding, dates in the one format, None empty, booleans yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, dt.datetime):
        return datetime_text(value)
    if isinstance(value, dt.date):
        return date_text(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(cell_text(item) for item in value)
    return str(value)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula: text starting with ``= + - @`` gets a leading quote.

    A negative number stays a number (``-5`` is data, not a formula).
    """
    if not text.startswith(_FORMULA_STARTS):
        return text
    try:
        Decimal(text)
    except ArithmeticError:
        return "'" + text
    return text
