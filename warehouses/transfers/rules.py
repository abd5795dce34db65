"""Pure rules of transfers: the lifecycle, the expected arrival, whether approval is needed. No ORM here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from orders.rules import WarehouseCalendar, add_transit

# The lifecycle of a transfer. Submitting moves a draft to ``approved`` at once (at or below
# ``transfers.approval_threshold``) or to ``pending_approval``; a rejection sends it back to ``draft``, where it
# may be changed by cancelling and requesting again, or submitted again. One dispatch ships it; receipts take it
# to ``partially_received`` while anything is still in transit, and to ``received`` when nothing is (every
# dispatched unit received or written off). Only a transfer nothing has left for can be cancelled.
TRANSFER_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"pending_approval", "approved", "cancelled"}),
    "pending_approval": frozenset({"approved", "draft", "cancelled"}),
    "approved": frozenset({"dispatched", "cancelled"}),
    "dispatched": frozenset({"partially_received", "received"}),
    "partially_received": frozenset({"partially_received", "received"}),
    "received": frozenset(),
    "cancelled": frozenset(),
}
OPEN_STATUSES = ("draft", "pending_approval", "approved", "dispatched", "partially_received")
IN_TRANSIT_STATUSES = ("dispatched", "partially_received")
RECEIVABLE_STATUSES = IN_TRANSIT_STATUSES
RECEIPT_STATUSES = ("available", "quality_hold", "damaged")


def transfer_may_move(from_status: str, to_status: str) -> bool:
    return to_status in TRANSFER_TRANSITIONS.get(from_status, frozenset())


def expected_arrival(*, ship_date: dt.date, transit_days: int, receiving: WarehouseCalendar) -> dt.date:
    """The day a transfer shipped on ``ship_date`` arrives: ``transit_days`` working days of the receiving
    warehouse later, on the first day it works (a lane of 0 days arrives the day it ships, if the target works)."""
    return receiving.next_working(add_transit(ship_date, transit_days, receiving.working_days))


def needs_approval(*, value: Decimal, threshold: Decimal) -> bool:
    """Above the threshold (strictly) a transfer waits for the approval engine; at or below it, it is approved."""
    return value > threshold


def after_receipt_status(in_transit_left: Decimal) -> str:
    """Where a receipt leaves a transfer: received when nothing is in transit any more."""
    return "received" if in_transit_left <= 0 else "partially_received"
