"""Pure rules of transfers: the lifecycle, the expected arrival, whether approval is needed, and what to recommend
across the network (need, surplus, freight, score, explanation). No ORM here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import cached_property

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


# --- network transfer recommendations --------------------------------------------------------------------------
#
# For each SKU, a warehouse short of what it must ship within its lead time (the lane's transit days) beside one
# holding stock beyond its own cover gives a candidate transfer of min(need, surplus), scored by the service at
# stake against freight and transit time. Quantities are whole base units: a need is rounded up, a surplus down.

RECENT_DAYS = 7  # recent demand: the last week ...
BASELINE_DAYS = 56  # ... against the eight weeks before it
SPIKE_FACTOR = Decimal(2)  # a spike: recent daily demand at least twice the baseline's
MIN_SPIKE_UNITS = Decimal(5)  # and at least this much of it, so one stray order is not a spike
COVER_DAYS = 30  # a source keeps this many days of its own expected demand beyond the lane's transit days
TRANSIT_HALF_SCORE_DAYS = Decimal(10)  # a lane this many days long halves a score
# How much of a unit's value is at stake, by why it is wanted: a backordered unit is a customer waiting.
URGENCY = {"shortage": Decimal(1), "demand_spike": Decimal("0.8"), "service_risk": Decimal("0.6"),
           "surplus": Decimal("0.3")}
SCORE_QUANTUM = Decimal("0.01")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class SiteStock:
    """One SKU at one warehouse, in base units: ``on_hand`` that may be allocated, ``allocated`` of it,
    ``backordered`` on order lines waiting there, ``inbound`` on open transfers to it (not yet received),
    ``outbound`` on open transfers from it (not yet dispatched), and the quantity ordered there in the last
    ``RECENT_DAYS`` (``recent_demand``) and the ``BASELINE_DAYS`` before (``baseline_demand``)."""

    warehouse_id: int
    code: str
    on_hand: Decimal = Decimal(0)
    allocated: Decimal = Decimal(0)
    backordered: Decimal = Decimal(0)
    inbound: Decimal = Decimal(0)
    outbound: Decimal = Decimal(0)
    recent_demand: Decimal = Decimal(0)
    baseline_demand: Decimal = Decimal(0)

    @cached_property
    def free(self) -> Decimal:
        return max(self.on_hand - self.allocated, Decimal(0))

    @cached_property
    def baseline_daily(self) -> Decimal:
        return self.baseline_demand / BASELINE_DAYS

    @cached_property
    def recent_daily(self) -> Decimal:
        return self.recent_demand / RECENT_DAYS

    @cached_property
    def spike(self) -> bool:
        """Recent daily demand well above its own baseline (and more than a stray order). Without a baseline
        there is nothing to be above: a new SKU's first orders are backorders or stock, not a spike."""
        return (self.baseline_demand > 0 and self.recent_demand >= MIN_SPIKE_UNITS
                and self.recent_daily >= SPIKE_FACTOR * self.baseline_daily)

    @cached_property
    def daily_demand(self) -> Decimal:
        """What it is expected to ship a day: the recent rate in a spike, otherwise the baseline's."""
        return self.recent_daily if self.spike else self.baseline_daily

    @cached_property
    def cover_days(self) -> Decimal | None:
        """Days its free stock lasts at its expected demand; None without demand."""
        daily = self.daily_demand
        return None if daily <= 0 else self.free / daily


@dataclass(frozen=True)
class Lane:
    """The fastest lane of a pair: transit days, carrier, and freight per unit and per kg in ``currency``;
    ``rate`` converts one unit of that currency into the sending entity's (for the score only)."""

    transit_days: int
    carrier_id: int | None = None
    per_unit: Decimal | None = None
    per_kg: Decimal | None = None
    currency: str = ""
    rate: Decimal = Decimal(1)


@dataclass(frozen=True)
class Need:
    quantity: Decimal  # whole base units, 0 when none
    reason: str


@dataclass(frozen=True)
class Candidate:
    """A recommended transfer of one SKU between two warehouses."""

    from_warehouse_id: int
    to_warehouse_id: int
    quantity: Decimal
    reason: str
    score: Decimal
    freight_cost: Decimal | None
    lane: Lane
    explanation: str
    figures: dict[str, str]


def _whole_up(value: Decimal) -> Decimal:
    return max(value, Decimal(0)).to_integral_value(rounding=ROUND_CEILING)


def _whole_down(value: Decimal) -> Decimal:
    return max(value, Decimal(0)).to_integral_value(rounding=ROUND_FLOOR)


def need_within(site: SiteStock, *, lead_days: int) -> Need:
    """What ``site`` is short of within ``lead_days``: its backorders plus its expected demand over those days,
    less its free stock and what is already on its way. The reason: ``shortage`` when it has backorders,
    ``demand_spike`` in a spike, otherwise ``service_risk`` (its cover runs out before a transfer could land)."""
    short = site.backordered + site.daily_demand * lead_days - site.free - site.inbound
    reason = "shortage" if site.backordered > 0 else "demand_spike" if site.spike else "service_risk"
    return Need(_whole_up(short), reason)


def rebalance_need(site: SiteStock, *, lead_days: int) -> Decimal:
    """Where a source's stock sells nowhere: what ``site`` will sell over the lead time and ``COVER_DAYS`` beyond
    its free and inbound stock (whole units; 0 without demand)."""
    if site.daily_demand <= 0:
        return Decimal(0)
    return _whole_up(site.daily_demand * (lead_days + COVER_DAYS) - site.free - site.inbound)


def surplus_beyond_cover(site: SiteStock, *, transit_days: int) -> Decimal:
    """What ``site`` may send: on hand less allocated, its own backorders, what it already sends, and its own
    expected demand over the lane's transit days plus ``COVER_DAYS`` (whole units, never below 0)."""
    keep = site.daily_demand * (transit_days + COVER_DAYS)
    return _whole_down(site.on_hand - site.allocated - site.backordered - site.outbound - keep)


def freight_cost(*, quantity: Decimal, weight_kg: Decimal | None, lane: Lane) -> Decimal | None:
    """The lane's charge for ``quantity`` (per unit plus per kg of the item's weight), to the cent in the lane's
    currency; None when the lane names no freight."""
    if lane.per_unit is None and lane.per_kg is None:
        return None
    total = quantity * (lane.per_unit or Decimal(0))
    if lane.per_kg is not None and weight_kg:
        total += quantity * weight_kg * lane.per_kg
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def score(*, quantity: Decimal, backordered: Decimal, reason: str, unit_value: Decimal,
          freight_in_value_currency: Decimal, transit_days: int) -> Decimal:
    """0 to 100: the urgency-weighted value at stake as a share of itself plus freight, halved by a lane of
    ``TRANSIT_HALF_SCORE_DAYS``. Backordered units weigh 1, the rest by their reason (``URGENCY``); the value of
    a unit is its cost (1 where the item has none yet, so freight still counts)."""
    if quantity <= 0:
        return Decimal(0)
    waiting = min(quantity, max(backordered, Decimal(0)))
    weighted = waiting * URGENCY["shortage"] + (quantity - waiting) * URGENCY[reason]
    at_stake = weighted * (unit_value if unit_value > 0 else Decimal(1))
    worth = at_stake / (at_stake + max(freight_in_value_currency, Decimal(0)))
    speed = TRANSIT_HALF_SCORE_DAYS / (TRANSIT_HALF_SCORE_DAYS + transit_days)
    urgency = weighted / quantity
    return (Decimal(100) * urgency * worth * speed).quantize(SCORE_QUANTUM, rounding=ROUND_HALF_UP)


def _number(value: Decimal) -> str:
    """A quantity as a person writes it: 40, 12.5 (no trailing zeros)."""
    text = f"{value.quantize(Decimal('0.0001')).normalize():f}"
    return text


def _cover(site: SiteStock) -> str:
    value = site.cover_days
    if site.free <= 0:
        return "no free stock"
    if value is None:
        return "no recent demand"
    whole = value.to_integral_value(rounding=ROUND_FLOOR)
    return f"{_number(whole)} day{'' if whole == 1 else 's'} of cover"


def explain(*, target: SiteStock, source: SiteStock, reason: str, surplus: Decimal, lane: Lane,
            freight: Decimal | None) -> str:
    """Words and figures: "NE-BOS: 40 backordered, 3 days of cover; SE-ATL: 310 surplus beyond 30 days;
    2 transit days; freight 18.00 USD"."""
    if reason == "shortage":
        wants = f"{target.code}: {_number(target.backordered)} backordered, {_cover(target)}"
    elif reason == "demand_spike":
        wants = (f"{target.code}: demand {_number(target.recent_daily.quantize(CENT))}/day over {RECENT_DAYS} "
                 f"days against {_number(target.baseline_daily.quantize(CENT))}/day before, "
                 f"{_cover(target)}")
    else:
        wants = f"{target.code}: {_cover(target)}"
    if reason == "surplus":
        has = f"{source.code}: {_number(surplus)} surplus, no demand in {RECENT_DAYS + BASELINE_DAYS} days"
    else:
        has = f"{source.code}: {_number(surplus)} surplus beyond {COVER_DAYS} days"
    transit = f"{lane.transit_days} transit day{'' if lane.transit_days == 1 else 's'}"
    charge = "no freight rate on the lane" if freight is None else f"freight {freight:.2f} {lane.currency}"
    return f"{wants}; {has}; {transit}; {charge}"


def recommend(*, sites: Mapping[int, SiteStock], lanes: Mapping[tuple[int, int], Lane],
              unit_values: Mapping[int, Decimal], weight_kg: Decimal | None) -> list[Candidate]:
    """The transfers to recommend for one SKU, best first.

    ``sites`` is the SKU at each warehouse (by id); ``lanes`` the pairs (from, to) allowed to carry it, each with
    its fastest lane (the caller leaves out pairs with no lane or where the receiving site's policy refuses
    cross-region supply); ``unit_values`` the SKU's unit cost at each source in its entity's currency. Each pair
    is scored at min(need, surplus); the best pairs are served first, and a target's need and a source's surplus
    are each spent once across pairs."""
    options: list[tuple[Decimal, Decimal, int, int, Need, Decimal]] = []
    # A lane's figures depend on its transit days only: each site's are worked out once per length of lane.
    surpluses: dict[tuple[int, int], Decimal] = {}
    needs: dict[tuple[int, int], Need] = {}
    for (source_id, target_id), lane in lanes.items():
        source, target = sites.get(source_id), sites.get(target_id)
        if source is None or target is None or source_id == target_id:
            continue
        surplus = surpluses.get((source_id, lane.transit_days))
        if surplus is None:
            surplus = surpluses[(source_id, lane.transit_days)] = surplus_beyond_cover(
                source, transit_days=lane.transit_days)
        if surplus <= 0:
            continue
        need = needs.get((target_id, lane.transit_days))
        if need is None:
            need = needs[(target_id, lane.transit_days)] = need_within(target, lead_days=lane.transit_days)
        if need.quantity <= 0 and source.daily_demand <= 0:
            need = Need(rebalance_need(target, lead_days=lane.transit_days), "surplus")
        if need.quantity <= 0:
            continue
        quantity = min(need.quantity, surplus)
        rank = _score(quantity, target, need.reason, unit_values.get(source_id, Decimal(0)), weight_kg, lane)
        options.append((rank, quantity, source_id, target_id, need, surplus))
    options.sort(key=lambda o: (-o[0], -o[1], sites[o[3]].code, sites[o[2]].code))
    given: dict[int, Decimal] = {}
    taken: dict[int, Decimal] = {}
    chosen: list[Candidate] = []
    for _, _, source_id, target_id, need, surplus in options:
        lane = lanes[(source_id, target_id)]
        quantity = min(need.quantity - given.get(target_id, Decimal(0)),
                       surplus - taken.get(source_id, Decimal(0)))
        if quantity <= 0:
            continue
        given[target_id] = given.get(target_id, Decimal(0)) + quantity
        taken[source_id] = taken.get(source_id, Decimal(0)) + quantity
        source, target = sites[source_id], sites[target_id]
        freight = freight_cost(quantity=quantity, weight_kg=weight_kg, lane=lane)
        chosen.append(Candidate(
            from_warehouse_id=source_id, to_warehouse_id=target_id, quantity=quantity, reason=need.reason,
            score=_score(quantity, target, need.reason, unit_values.get(source_id, Decimal(0)), weight_kg, lane),
            freight_cost=freight, lane=lane,
            explanation=explain(target=target, source=source, reason=need.reason, surplus=surplus, lane=lane,
                                freight=freight),
            figures={"need": _number(need.quantity), "surplus": _number(surplus),
                     "backordered": _number(target.backordered), "target_free": _number(target.free),
                     "target_inbound": _number(target.inbound),
                     "target_daily_demand": _number(target.daily_demand.quantize(CENT)),
                     "source_daily_demand": _number(source.daily_demand.quantize(CENT))},
        ))
    return chosen


def _score(quantity: Decimal, target: SiteStock, reason: str, unit_value: Decimal, weight_kg: Decimal | None,
           lane: Lane) -> Decimal:
    freight = freight_cost(quantity=quantity, weight_kg=weight_kg, lane=lane)
    return score(quantity=quantity, backordered=target.backordered, reason=reason, unit_value=unit_value,
                 freight_in_value_currency=(freight or Decimal(0)) * lane.rate, transit_days=lane.transit_days)
