"""Pure inventory rules: unit conversion, the moving-average cost, the standard status model and lot choice.

No ORM here; services gather the data, call these and persist.

Units and rounding: stock is kept in the item's base unit with 4 decimal places
(``settings.QUANTITY_PLACES``). ``to_base`` multiplies exactly and *refuses* (``uom_precision``) a
quantity whose base quantity would need more than 4 places, so stock is never silently created or
lost by rounding. ``from_base`` (display only) rounds once, half-even, to 4 places. Unit costs are
kept to 6 places and values to 4, each rounded half-even once, where they are computed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Any

from inventory.exceptions import InvalidQuantity, UomPrecision

QUANTITY_QUANTUM = Decimal("0.0001")
UNIT_COST_QUANTUM = Decimal("0.000001")
VALUE_QUANTUM = Decimal("0.0001")
# Enough digits that no product of two stored decimals (18 digits each) is rounded by the context.
_EXACT_PRECISION = 60
# The largest base quantity a balance column holds (Decimal(18, 4)).
MAX_QUANTITY = Decimal("99999999999999.9999")
# The largest unit cost a move accepts (the column is Decimal(18, 6)).
MAX_UNIT_COST = Decimal("999999999999.999999")


def _finite(value: Decimal) -> Decimal:
    try:
        decimal_value = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise InvalidQuantity(detail={"quantity": ["Not a number."]}) from exc
    if not decimal_value.is_finite():
        raise InvalidQuantity(detail={"quantity": ["Not a finite number."]})
    return decimal_value


def to_base(quantity: Decimal, factor: Decimal) -> Decimal:
    """``quantity`` of a unit holding ``factor`` base units, in base units, exactly.

    The product is computed without rounding; if it needs more than 4 decimal places it is refused
    with ``UomPrecision`` (400 ``uom_precision``) rather than rounded. The result is quantized to 4
    places (a no-op for the accepted values, so it carries the standard exponent).
    """
    quantity, factor = _finite(quantity), _finite(factor)
    if factor <= 0:
        raise InvalidQuantity(detail={"factor": ["A conversion factor must be positive."]})
    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        exact = quantity * factor
        rounded = exact.quantize(QUANTITY_QUANTUM, rounding=ROUND_HALF_EVEN)
    if rounded != exact:
        raise UomPrecision(detail={"quantity": [f"{quantity} x {factor} = {exact} needs more than 4 decimal places "
                                                f"of the base unit."]})
    if abs(rounded) > MAX_QUANTITY:
        raise InvalidQuantity(detail={"quantity": ["Too large."]})
    return rounded


def from_base(quantity: Decimal, factor: Decimal) -> Decimal:
    """Base ``quantity`` expressed in a unit holding ``factor`` base units, rounded half-even to 4 places.

    For display and suggestions only: nothing is posted from this value.
    """
    quantity, factor = _finite(quantity), _finite(factor)
    if factor <= 0:
        raise InvalidQuantity(detail={"factor": ["A conversion factor must be positive."]})
    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        return (quantity / factor).quantize(QUANTITY_QUANTUM, rounding=ROUND_HALF_EVEN)


def base_quantity(quantity: Decimal) -> Decimal:
    """A base quantity as posted: finite, non-zero, at most 4 places (never rounded), within range."""
    value = _finite(quantity)
    if value == 0:
        raise InvalidQuantity(detail={"quantity": ["Must not be zero."]})
    return to_base(value, Decimal(1))


@dataclass(frozen=True)
class CostState:
    """The valued quantity of an item in a legal entity and its moving-average unit cost."""

    quantity: Decimal
    unit_cost: Decimal


def cost_after(state: CostState, quantity: Decimal, unit_cost: Decimal | None) -> CostState:
    """The cost state after a valued move of signed ``quantity``.

    A receipt with a cost (``unit_cost`` given, ``quantity`` > 0) moves the average:
    ``(q * avg + quantity * cost) / (q + quantity)``; when there was nothing valued on hand (q <= 0)
    the receipt's cost becomes the average. Anything else (issues, moves in at the current cost)
    changes the quantity and keeps the average.
    """
    new_quantity = state.quantity + quantity
    if quantity <= 0 or unit_cost is None:
        return CostState(new_quantity, state.unit_cost)
    if state.quantity <= 0 or new_quantity <= 0:
        return CostState(new_quantity, unit_cost.quantize(UNIT_COST_QUANTUM, rounding=ROUND_HALF_EVEN))
    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        average = (state.quantity * state.unit_cost + quantity * unit_cost) / new_quantity
    return CostState(new_quantity, average.quantize(UNIT_COST_QUANTUM, rounding=ROUND_HALF_EVEN))


def move_value(quantity: Decimal, unit_cost: Decimal) -> Decimal:
    """The value a move carries: ``quantity * unit_cost``, rounded half-even once to 4 places."""
    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        return (quantity * unit_cost).quantize(VALUE_QUANTUM, rounding=ROUND_HALF_EVEN)


# --- the standard status model (seeded by migration 0003; identical in every warehouse) ---------------

# code, name, counts toward available, allocatable, valued, GL account, sort order
STANDARD_STATUSES = [
    ("available", "Available", True, True, True, "1400", 10),
    ("quality_hold", "Quality hold", False, False, True, "1410", 20),
    ("returned_pending_inspection", "Returned, pending inspection", False, False, True, "1420", 30),
    ("damaged", "Damaged", False, False, False, "1490", 40),
    ("in_transit", "In transit", False, False, False, "1450", 50),
]
# code, description, applies to
STANDARD_REASONS = [
    ("COUNT", "Cycle count variance", "adjustment"),
    ("FOUND", "Stock found", "adjustment"),
    ("LOST", "Stock lost or stolen", "adjustment"),
    ("SCRAP", "Scrapped", "adjustment"),
    ("CORRECTION", "Correction of a booking error", "adjustment"),
    ("QC-HOLD", "Held for quality control", "status_change"),
    ("QC-RELEASE", "Released by quality control", "status_change"),
    ("DAMAGE", "Found damaged", "status_change"),
    ("INSPECTED", "Inspected after return", "status_change"),
    ("SHIP-TRANSFER", "Shipped on a transfer", "status_change"),
    ("RECEIVE-TRANSFER", "Received from a transfer", "status_change"),
]
# from, to, reason codes
STANDARD_TRANSITIONS = [
    ("available", "quality_hold", ("QC-HOLD",)),
    ("available", "damaged", ("DAMAGE",)),
    ("available", "in_transit", ("SHIP-TRANSFER",)),
    ("quality_hold", "available", ("QC-RELEASE",)),
    ("quality_hold", "damaged", ("DAMAGE", "QC-HOLD")),
    ("returned_pending_inspection", "available", ("INSPECTED",)),
    ("returned_pending_inspection", "damaged", ("INSPECTED", "DAMAGE")),
    ("returned_pending_inspection", "quality_hold", ("INSPECTED", "QC-HOLD")),
    ("in_transit", "available", ("RECEIVE-TRANSFER",)),
    ("in_transit", "damaged", ("DAMAGE",)),
]


def damaged_goods_key(warehouse_code: str, sku: str, lot_number: str | None) -> str:
    """The business key of the ``damaged_goods`` exception for goods of one SKU and lot at one warehouse: a
    status change and a returned-goods inspection raise the same exception again, never a twin."""
    return f"damaged:{warehouse_code}:{sku}:{lot_number or '-'}"


# --- adjustments -----------------------------------------------------------------------------------------

# The lifecycle of a stock adjustment: it is created ``posted`` (within tolerance) or
# ``pending_approval``; an approval posts it, a rejection ends it. Posted and rejected are final.
ADJUSTMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_approval": frozenset({"posted", "rejected"}),
    "posted": frozenset(),
    "rejected": frozenset(),
}


def adjustment_may_move(from_status: str, to_status: str) -> bool:
    return to_status in ADJUSTMENT_TRANSITIONS.get(from_status, frozenset())


def adjustment_within_tolerance(*, quantity: Decimal, value: Decimal, on_hand: Decimal, quantity_pct: Decimal,
                                value_limit: Decimal) -> bool:
    """Whether a signed adjustment of ``quantity`` (worth ``value``) may post without approval.

    Within tolerance means both: ``|quantity| <= quantity_pct % of on_hand`` and
    ``|value| <= value_limit`` (limits inclusive). On a balance with nothing on hand no percentage
    can be taken, so there the value limit alone decides.
    """
    value_ok = abs(value) <= value_limit
    if on_hand <= 0:
        return value_ok
    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        quantity_limit = on_hand * quantity_pct / 100
    return value_ok and abs(quantity) <= quantity_limit


# --- cycle counts ----------------------------------------------------------------------------------------

# The lifecycle of a cycle count. An open count is counted line by line; submitting posts the lines within
# tolerance and ends ``posted``, or, with any line beyond tolerance, waits as ``pending_approval``. The
# approval posts the rest; a rejection ends it; a recount (asked by someone who could approve) ends it
# ``recounted`` and opens a new count of the lines beyond tolerance. Posted, rejected, recounted and
# cancelled are final.
CYCLE_COUNT_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"posted", "pending_approval", "cancelled"}),
    "pending_approval": frozenset({"posted", "rejected", "recounted"}),
    "posted": frozenset(),
    "rejected": frozenset(),
    "recounted": frozenset(),
    "cancelled": frozenset(),
}


def cycle_count_may_move(from_status: str, to_status: str) -> bool:
    return to_status in CYCLE_COUNT_TRANSITIONS.get(from_status, frozenset())


# ABC classification: ranked by value, the items making up the first 80 % of the total are A, the next
# 15 % B, the rest C (the usual Pareto cut). An item with no value at all is C.
ABC_CUTS = (("A", Decimal("0.80")), ("B", Decimal("0.95")))


def abc_classes(values: dict[Any, Decimal]) -> dict[Any, str]:
    """The ABC class of each key from its value (issued value or on-hand value; negatives count as 0).

    Keys are ranked by value, highest first (ties in key order, so the result is stable). A key is in
    the class whose cut its cumulative share *before* it falls under: the item that crosses 80 % is
    still A, so one dominant item is A even when it alone is more than 80 %.
    """
    ranked = sorted(values.items(), key=lambda kv: (-max(kv[1], Decimal(0)), kv[0]))
    total = sum((max(value, Decimal(0)) for _, value in ranked), Decimal(0))
    classes: dict[Any, str] = {}
    running = Decimal(0)
    for key, value in ranked:
        value = max(value, Decimal(0))
        if total <= 0 or value <= 0:
            classes[key] = "C"
            continue
        share_before = running / total
        classes[key] = next((label for label, cut in ABC_CUTS if share_before < cut), "C")
        running += value
    return classes


def daily_quota(pairs: int, frequency_days: int) -> int:
    """How many of a class's ``pairs`` to count each day so each is counted once per ``frequency_days``."""
    if pairs <= 0:
        return 0
    return -(-pairs // max(frequency_days, 1))


def accuracy_percent(within: int, counted: int) -> Decimal | None:
    """Inventory accuracy: pairs counted within tolerance over pairs counted, in percent to 2 places."""
    if counted <= 0:
        return None
    return (Decimal(within) * 100 / Decimal(counted)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class PlanPair:
    """A location-item pair with stock, as the count plan sees it."""

    location_id: int
    item_id: int
    sort_key: tuple[str, str]  # (location code, SKU): the walking order among equals
    last_counted: date | None  # the warehouse's local date of its last count, None when never counted
    busy: bool  # a count still open or waiting for approval holds it


def plan_pairs(pairs: list[PlanPair], *, classes: dict[int, str], frequency_days: dict[str, int],
               on: date) -> list[PlanPair]:
    """The pairs to count on ``on``: per ABC class, its daily share of the pairs that are due.

    A class of ``n`` pairs counted every ``d`` days has a daily quota of ``ceil(n / d)``, so each pair
    comes round about once per ``d`` days and the work is spread evenly. Due means never counted, or
    last counted ``d`` or more days before ``on``; pairs held by an unfinished count wait. The longest
    uncounted go first (never counted before any), then in walking order. An item with no class is C.
    """
    by_class: dict[str, list[PlanPair]] = {}
    for pair in pairs:
        by_class.setdefault(classes.get(pair.item_id, "C"), []).append(pair)
    chosen: list[PlanPair] = []
    for label in sorted(by_class):
        members = by_class[label]
        days = max(int(frequency_days.get(label, 1)), 1)
        due = [p for p in members if not p.busy and (p.last_counted is None or (on - p.last_counted).days >= days)]
        due.sort(key=lambda p: (p.last_counted is not None, p.last_counted or date.min, p.sort_key))
        chosen.extend(due[:daily_quota(len(members), days)])
    return chosen


# --- lot choice: which lots an order takes, and in which order (FEFO or FIFO) ---------------------------

LOT_RULES = ("fefo", "fifo")


@dataclass(frozen=True, slots=True)
class LotStock:
    """What one lot of an item at a warehouse can still give: ``quantity`` free (on hand in allocatable
    statuses, less what is already held of it), its expiry (None: it never expires), receipt date and number."""

    lot_id: int
    quantity: Decimal
    expiry_date: date | None
    received_on: date
    lot_number: str


def usable_lots(lots: Iterable[LotStock], *, rule: str, ship_date: date) -> list[LotStock]:
    """The lots that may leave on ``ship_date``, in the order they are taken.

    Never a lot expired by the ship date (one expiring *on* it may still leave), never an empty one.
    ``fefo``: the first to expire first, lots that never expire last; ``fifo``: the first received first.
    Ties go to the lower lot number, so the choice never depends on the order the rows were read in.
    """
    if rule not in LOT_RULES:
        raise ValueError(f"unknown lot rule {rule!r}")
    usable = [lot for lot in lots
              if lot.quantity > 0 and (lot.expiry_date is None or lot.expiry_date >= ship_date)]
    if rule == "fifo":
        return sorted(usable, key=lambda lot: (lot.received_on, lot.lot_number))
    return sorted(usable, key=lambda lot: (lot.expiry_date is None, lot.expiry_date or date.max, lot.lot_number))


def choose_lots(quantity: Decimal, lots: Iterable[LotStock], *, rule: str,
                ship_date: date) -> list[tuple[int, Decimal]]:
    """Split ``quantity`` over the usable lots (``usable_lots``), taking each in turn until it is covered:
    ``[(lot id, quantity)]``. When the lots hold less, the takes add up to what they hold; the caller decides
    whether a short take is a backorder."""
    takes: list[tuple[int, Decimal]] = []
    left = quantity
    for lot in usable_lots(lots, rule=rule, ship_date=ship_date):
        if left <= 0:
            break
        take = min(left, lot.quantity)
        takes.append((lot.lot_id, take))
        left -= take
    return takes
