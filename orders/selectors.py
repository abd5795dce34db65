"""Read-side of orders: what allocation may use, and (below) what the screens and the API read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Min

from orders import rules
from orders.models import Customer, ShipTo
from warehouses.models import CarrierLane, Warehouse


@dataclass(frozen=True)
class Site:
    warehouse: Warehouse
    cutoff: dt.time
    transit_days: int | None  # None: no carrier lane to the ship-to region
    ship_date: dt.date


def _sites(candidate_ids: list[int], warehouses: dict[int, Warehouse], destination_region_id: int,
           now: dt.datetime) -> dict[int, Site]:
    """Each candidate's cutoff (policy at the warehouse), fastest carrier lane and earliest ship date."""
    from governance.selectors import policy_value

    transit = dict(CarrierLane.objects.filter(destination_region_id=destination_region_id, carrier__active=True)
                   .values("origin_region_id").annotate(days=Min("transit_days"))
                   .values_list("origin_region_id", "days"))
    sites = {}
    for pk in candidate_ids:
        warehouse = warehouses[pk]
        hours, minutes = str(policy_value("fulfillment.shipping_cutoff", warehouse=warehouse).value).split(":")
        cutoff = dt.time(int(hours), int(minutes))
        calendar = rules.WarehouseCalendar(timezone=warehouse.timezone)
        sites[pk] = Site(warehouse, cutoff, transit.get(warehouse.region_id),
                          rules.ship_date(now=now, calendar=calendar, cutoff=cutoff))
    return sites


@dataclass(frozen=True)
class Plan:
    """Where one order may take stock from, by the policies at its customer's home warehouse."""

    home: Warehouse
    split_allowed: bool
    lot_rule: str
    candidate_ids: list[int]
    sites: dict[int, Site]


def allocation_plan(customer: Customer, ship_to: ShipTo, now: dt.datetime,
                    exclude: frozenset[int] = frozenset()) -> Plan:
    """Where an order of ``customer`` to ``ship_to`` may take stock from, seen at ``now``: the candidates
    (``rules.candidate_order`` less ``exclude`` and warehouses with no carrier lane to the ship-to's region),
    their cutoffs and ship dates, and the split and lot rules. Reads only."""
    from governance.selectors import policy_values_for_site

    home = customer.home_warehouse
    policies = policy_values_for_site(warehouse=home)
    warehouses = Warehouse.objects.filter(active=True).select_related("region").in_bulk()
    candidate_ids = rules.candidate_order(
        sequence=list(policies["fulfillment.allocation_sequence"].value), home_id=home.pk,
        home_region_id=home.region_id, cross_region_allowed=bool(policies["fulfillment.cross_region_allowed"].value),
        warehouses=[(w.pk, w.region_id, w.code) for w in warehouses.values()],
    )
    candidate_ids = [pk for pk in candidate_ids if pk not in exclude]
    sites = _sites(candidate_ids, warehouses, ship_to.region_id, now)
    # A warehouse with no carrier lane to the ship-to's region cannot ship there: it is not a candidate.
    return Plan(
        home=home,
        split_allowed=bool(customer.allow_partial_shipment
                           and policies["fulfillment.partial_shipments_allowed"].value),
        lot_rule=str(policies["fulfillment.lot_selection"].value),
        candidate_ids=[pk for pk in candidate_ids if sites[pk].transit_days is not None],
        sites=sites,
    )


