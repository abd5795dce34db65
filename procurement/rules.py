"""Pure rules of procure to pay: the lifecycles of requisitions and purchase orders, the receiving tolerance, and
how freight is spread over a receipt's lines. No ORM here."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

# A requisition: a draft is submitted to the approval engine; approval lets its lines be ordered (``ordered``
# once every line is on a purchase order); a rejection ends it (a new requisition asks again).
REQUISITION_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"submitted", "cancelled"}),
    "submitted": frozenset({"approved", "rejected", "cancelled"}),
    "approved": frozenset({"ordered", "cancelled"}),
    "rejected": frozenset(),
    "ordered": frozenset(),
    "cancelled": frozenset(),
}

# A purchase order: a draft is submitted to the approval engine (``procurement.approval_matrix``); approval
# freezes its terms; a rejection returns it to draft. Sending it to the supplier is optional before receiving
# (a phoned order is received as approved). Receipts take it to ``partially_received`` and ``received``;
# ``close`` ends one that will receive no more (short-closed), ``cancel`` one that received nothing. A change to
# an approved order is a new revision: it goes back to ``draft`` (``revise``) and through approval again; the
# database refuses any other way of changing its terms.
PURCHASE_ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"pending_approval", "cancelled"}),
    "pending_approval": frozenset({"approved", "draft", "cancelled"}),
    "approved": frozenset({"sent", "partially_received", "received", "draft", "cancelled", "closed"}),
    "sent": frozenset({"partially_received", "received", "draft", "cancelled", "closed"}),
    "partially_received": frozenset({"partially_received", "received", "closed"}),
    "received": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}
EDITABLE_STATUSES = ("draft",)
RECEIVABLE_STATUSES = ("approved", "sent", "partially_received")
REVISABLE_STATUSES = ("pending_approval", "approved", "sent")
OPEN_STATUSES = ("draft", "pending_approval", "approved", "sent", "partially_received")
# What counts as on order and as inbound supply for promising: approved, not yet received in full.
ON_ORDER_STATUSES = RECEIVABLE_STATUSES
RECEIPT_STATUSES = ("available", "quality_hold")
FREIGHT_METHODS = ("quantity", "value", "weight")
CENT = Decimal("0.01")


def requisition_may_move(from_status: str, to_status: str) -> bool:
    return to_status in REQUISITION_TRANSITIONS.get(from_status, frozenset())


def purchase_order_may_move(from_status: str, to_status: str) -> bool:
    return to_status in PURCHASE_ORDER_TRANSITIONS.get(from_status, frozenset())


def after_receipt_status(lines: Sequence[tuple[Decimal, Decimal]]) -> str:
    """Where a receipt leaves an order, from its lines' (ordered, received): received when every line is."""
    return "received" if all(received >= ordered for ordered, received in lines) else "partially_received"


def receipt_limit(ordered: Decimal, tolerance_percent: Decimal) -> Decimal:
    """The most a line may receive in all: its quantity plus the tolerance, in base units (4 places, down)."""
    return (ordered * (1 + tolerance_percent / 100)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)


def spread(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``total`` (to the cent) split in proportion to ``weights``, each part to the cent, the parts summing to
    ``total`` exactly: each part rounded down, the cents left over to the largest remainders (the earlier line
    on a tie). All-zero weights split evenly."""
    if not weights:
        return []
    if total == 0:
        return [Decimal(0).quantize(CENT) for _ in weights]
    if sum(weights) <= 0:
        weights = [Decimal(1)] * len(weights)
    whole = sum(weights)
    cents = int((total / CENT).to_integral_value())
    exact = [Decimal(cents) * w / whole for w in weights]
    parts = [int(e.to_integral_value(rounding=ROUND_DOWN)) for e in exact]
    left = cents - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return [Decimal(p) * CENT for p in parts]
