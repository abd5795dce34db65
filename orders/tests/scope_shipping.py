"""Scope-matrix coverage of the shipment routes (collected by tests/test_scope_matrix.py), and the picked orders
every shipping test starts from.

Each check packs one shipment per region through the services: for C-NE-001 at NE-BOS (ne.operator's scope),
C-EU-001 at EU-RTM (eu.operator's) and C-SE-001 at SE-ATL (neither). Warehouse operators pack and ship
(``orders.add_shipment``, ``orders.change_shipment``), so their writes are checked here: inside their scope they
work, outside it a shipment answers 404 and a warehouse reads as unknown (400), and nothing changes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from inventory import services as stock
from inventory.models import StockMove
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders.models import Allocation, AllocationStatus, Customer, PickListLine, SalesOrder, Shipment
from orders.services.picking import PickAnswer, pick_list_confirm, pick_list_create
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from orders.services.shipping import shipment_create, shipment_ship
from warehouses.models import Carrier

D = Decimal

# --- picked orders, shared by the shipping tests ----------------------------------------------------------


def stock_at(twin: Any, site: str, quantity: Any, *, code: str = "P-01", unit_cost: Any = 2,
             lot: str | None = None) -> None:
    """Receive ``quantity`` EA of ``twin`` into ``code`` at ``site`` (a pick face by default)."""
    stock.stock_receive(warehouse=warehouse(site), location=location(site, code), item=twin, quantity=D(quantity),
                        uom="EA", unit_cost=D(unit_cost), reference="shipping test", actor=None, lot_number=lot)


def confirmed_order(twin: Any, *quantities: Any, customer: str = "C-NE-001") -> SalesOrder:
    buyer = Customer.objects.get(code=customer)
    order = sales_order_create(customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
                               lines=[OrderLineSpec(item=twin, quantity=D(q), uom="EA") for q in quantities or (1,)])
    return sales_order_confirm(order=order, actor=None)


def pick(order: SalesOrder, site: str | None = None, *, picked: dict[int, Any] | None = None) -> list[PickListLine]:
    """Pick the open allocations of ``order`` not yet on a pick list (at ``site`` only, when given) through
    ``orders.services.picking``: one list per warehouse, confirmed in full, or line by line (by sequence) as
    ``picked`` says (less is a short pick)."""
    sites = (Allocation.objects.filter(line__order=order, status=AllocationStatus.OPEN, pick_list__isnull=True)
             .order_by("warehouse__code").values_list("warehouse__code", flat=True).distinct())
    made = []
    for code in [site] if site is not None else list(sites):
        pick_list = pick_list_create(warehouse=warehouse(code), actor=None, order=order)
        lines = list(pick_list.lines.order_by("sequence"))
        answers = [PickAnswer(picked_quantity=D((picked or {}).get(line.sequence, line.quantity)), line_id=line.pk)
                   for line in lines]
        pick_list_confirm(pick_list=pick_list, answers=answers, actor=None)
        made.extend(PickListLine.objects.filter(pick_list=pick_list).order_by("sequence"))
    return made


def picked_order(twin: Any, *quantities: Any, customer: str = "C-NE-001", site: str = "NE-BOS") -> SalesOrder:
    """A confirmed order for ``twin`` whose stock (received at ``site``'s pick face P-01) is picked."""
    stock_at(twin, site, sum(D(q) for q in quantities or (1,)))
    order = confirmed_order(twin, *quantities, customer=customer)
    pick(order)
    return SalesOrder.objects.get(pk=order.pk)


def deviate(policy_key: str, site: str, value: Any, user: Any) -> None:
    """An approved deviation of ``policy_key`` at ``site`` from today (the site's date) for thirty days."""
    from governance.selectors import local_date
    from governance.services.deviations import deviation_approve, deviation_request

    today = local_date(timezone.now(), warehouse(site))
    deviation = deviation_request(policy_key=policy_key, scope_type="warehouse", scope_code=site, value=value,
                                  rationale="A local need the process owner agreed to for this test",
                                  effective_from=today, effective_to=today + dt.timedelta(days=30),
                                  actor=user("ne.operator"))
    deviation_approve(deviation=deviation, actor=user("owner"))


BOX = {"weight_kg": D("4.250"), "length_cm": D("40"), "width_cm": D("30"), "height_cm": D("20")}


def packed(order: SalesOrder, site: str = "NE-BOS", *, carrier: str | None = "UPS", **extra: Any) -> Shipment:
    return shipment_create(order=order, warehouse=warehouse(site), actor=None, packages=[BOX],
                           carrier=Carrier.objects.get(code=carrier) if carrier else None, **extra)


# --- the scope checks ---------------------------------------------------------------------------------------

CUSTOMERS = {"NE-BOS": "C-NE-001", "EU-RTM": "C-EU-001", "SE-ATL": "C-SE-001"}
VISIBLE = {"ne.operator": "NE-BOS", "eu.operator": "EU-RTM"}
SCOPE = {"ne.operator": {"NE-BOS", "NE-NYC"}, "eu.operator": {"EU-DUS", "EU-RTM"}}


def _shipments_everywhere(shipped: bool = False) -> dict[str, Shipment]:
    """A packed (or shipped) shipment of 2 EA of T-CLN-0007 per site, for that site's home customer."""
    ensure_standard_statuses()
    twin = item("CLN-0007")
    made = {}
    for site, customer in CUSTOMERS.items():
        shipment = packed(picked_order(twin, 2, customer=customer, site=site), site)
        made[site] = shipment_ship(shipment=shipment, actor=None) if shipped else shipment
    return made


def _state(shipment: Shipment) -> tuple[Any, ...]:
    fresh = Shipment.objects.get(pk=shipment.pk)
    return (fresh.status, fresh.carrier_id, fresh.tracking_number, StockMove.objects.count(),
            sorted(fresh.documents.values_list("kind", "reference")), fresh.lines.count())


def _assert_not_found(response: Any) -> None:
    assert response.status_code == 404, response.content[:300]
    assert response.json()["code"] == "not_found"


class ShipmentListCheck:
    """Shipments of the caller's warehouses only; packing at a warehouse outside the scope reads as an unknown
    warehouse (400) and packs nothing; at their own, operators pack (201)."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = _shipments_everywhere()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert body["count"] == len(body["results"])
        assert {row["warehouse"] for row in body["results"]} <= SCOPE[username], (username, body["results"])
        seen = {row["number"] for row in body["results"]}
        assert seen & {s.number for s in made.values()} == {made[VISIBLE[username]].number}
        for site in sorted(set(made) - {VISIBLE[username]}):
            assert client.get(reverse(f"api:{name}"), {"warehouse": site}).json()["count"] == 0
            assert client.get(reverse(f"api:{name}"), {"order": made[site].order.number}).json()["count"] == 0
        # Pack a second order, picked at every site: outside the scope nothing is packed.
        twin = item("CLN-0007")
        orders = {site: picked_order(twin, 1, customer=customer, site=site) for site, customer in CUSTOMERS.items()}
        shipments = Shipment.objects.count()
        for site in sorted(set(orders) - {VISIBLE[username]}):
            refused = client.post(reverse(f"api:{name}"), {"order": orders[site].number, "warehouse": site,
                                                           "packages": [{"weight_kg": "1"}]}, format="json")
            assert refused.status_code == 400 and "warehouse" in refused.json()["detail"], refused.content[:300]
        assert Shipment.objects.count() == shipments
        own = VISIBLE[username]
        response = client.post(reverse(f"api:{name}"), {"order": orders[own].number, "warehouse": own,
                                                        "packages": [{"weight_kg": "1"}]}, format="json")
        assert response.status_code == 201 and response.json()["warehouse"] == own, response.content[:300]


class ShipmentDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        for site, shipment in _shipments_everywhere().items():
            response = client.get(reverse(f"api:{name}", args=[shipment.pk]))
            if site == VISIBLE[username]:
                assert response.status_code == 200 and response.json()["number"] == shipment.number
            else:
                _assert_not_found(response)
        _assert_not_found(client.get(reverse(f"api:{name}", args=[999999999])))


class ShipmentActionCheck:
    """POST on a shipment: outside the scope a 404 that changes nothing; inside, what the action does."""

    def __init__(self, body: dict[str, Any], shipped: bool = False) -> None:
        self.body, self.shipped = body, shipped

    def check(self, name: str, client: APIClient, username: str) -> None:
        for site, shipment in _shipments_everywhere(shipped=self.shipped).items():
            before = _state(shipment)
            response = client.post(reverse(f"api:{name}", args=[shipment.pk]), self.body, format="json")
            if site == VISIBLE[username]:
                assert response.status_code == 200, (site, response.content[:300])
                assert _state(shipment) != before
            else:
                _assert_not_found(response)
                assert _state(shipment) == before
        _assert_not_found(client.post(reverse(f"api:{name}", args=[999999999]), self.body, format="json"))


COVERAGE = {
    "shipment-list": ShipmentListCheck(),
    "shipment-detail": ShipmentDetailCheck(),
    "shipment-ship": ShipmentActionCheck({"tracking_number": "1Z999"}),
    "shipment-documents": ShipmentActionCheck({"kind": "commercial_invoice", "reference": "INV-1"}),
    "shipment-cancel": ShipmentActionCheck({}),
    "shipment-deliver": ShipmentActionCheck({"note": "Signed by the dock"}, shipped=True),
}

WRITES_TESTED_ELSEWHERE = {
    "shipment-list": "warehouse operators pack: ShipmentListCheck in orders/tests/scope_shipping.py",
    "shipment-ship": "warehouse operators ship: ShipmentActionCheck in orders/tests/scope_shipping.py",
    "shipment-documents": "warehouse operators attach documents: ShipmentActionCheck in orders/tests/scope_shipping.py",
    "shipment-cancel": "warehouse operators cancel a packed shipment: ShipmentActionCheck in "
                       "orders/tests/scope_shipping.py",
    "shipment-deliver": "warehouse operators confirm delivery: ShipmentActionCheck in orders/tests/scope_shipping.py",
}
