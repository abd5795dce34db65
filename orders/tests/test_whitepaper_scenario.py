"""The whitepaper's scenario (issue 5, "Done when") end to end through the REST API, on the demo network.

Harbor Grocers (C-NE-001, home NE-BOS) orders CLN-0008, which NE-BOS does not hold and NE-NYC and SE-ATL do. With
the standard policies the line is allocated from NE-NYC and promised by NE-NYC's cutoff and the NE lane; once
NE-NYC has run out the next order is backordered with a ``shortage`` exception for the planner; with a governed
deviation allowing cross-region allocation at NE-BOS the next one comes from SE-ATL; the first order is picked,
packed, shipped and delivered by ``ne.operator``, the ledger shows its stock leaving NE-NYC at cost, and the
fill-rate KPI counts the line as due and filled.

Every step goes through ``/api/v1/`` with the demo users' own tokens (``POST auth/token/``, password ``demo``);
only the expected figures are computed independently, from the carrier lanes, the policies and ``orders.rules``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Min
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from governance.selectors import local_date, policy_value
from orders import rules
from warehouses.models import CarrierLane, Warehouse

D = Decimal
SKU = "CLN-0008"
CASE = D(6)  # CLN items come 6 EA to the case (the demo's item master)


def _signed_in(username: str) -> APIClient:
    """An API client holding the token ``username`` gets with the demo password, as an integrator would."""
    anonymous = APIClient()
    response = anonymous.post(reverse("api:auth-token"), {"username": username, "password": "demo"}, format="json")
    assert response.status_code == 201, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def _ok(response: Any, status_code: int = 200) -> Any:
    assert response.status_code == status_code, (response.status_code, response.content[:2000])
    return response.json()


def _availability(client: APIClient) -> dict[str, dict[str, D]]:
    rows = _ok(client.get(reverse("api:availability-list"), {"sku": SKU, "page_size": 500}))["results"]
    return {row["warehouse"]: {name: D(row[name]) for name in ("on_hand", "allocated", "available")} for row in rows}


def _order(client: APIClient, quantity: str, uom: str, ref: str) -> dict[str, Any]:
    body = {"customer": "C-NE-001", "ship_to": "MAIN", "requested_date": None, "external_ref": ref,
            "lines": [{"sku": SKU, "quantity": quantity, "uom": uom}]}
    created = _ok(client.post(reverse("api:sales-order-list"), body, format="json"), 201)
    assert created["status"] == "draft" and created["created_by"] == "ne.service"
    return created


def _confirm(client: APIClient, order: dict[str, Any]) -> tuple[dict[str, Any], set[dt.datetime]]:
    """Confirm; also the instants around it, between which the service's clock read ``now``."""
    before = timezone.now()
    confirmed = _ok(client.post(reverse("api:sales-order-confirm", args=[order["id"]]), {}, format="json"))
    return confirmed, {before, timezone.now()}


def _expected_promise(site: str, destination_region: str, moments: set[dt.datetime]) -> set[rules.Promise]:
    """What ``site`` may promise an order confirmed at any of ``moments``: its shipping cutoff (the policy at the
    site), its calendar (time zone, standard working days) and the fastest active lane to the ship-to's region."""
    warehouse = Warehouse.objects.select_related("region").get(code=site)
    hours, minutes = str(policy_value("fulfillment.shipping_cutoff", warehouse=warehouse).value).split(":")
    transit = (CarrierLane.objects.filter(origin_region=warehouse.region, destination_region__code=destination_region,
                                          carrier__active=True).aggregate(days=Min("transit_days"))["days"])
    assert transit is not None, f"no carrier lane from {site} to {destination_region}"
    return {rules.promise(now=moment, calendar=rules.WarehouseCalendar(timezone=warehouse.timezone),
                          cutoff=dt.time(int(hours), int(minutes)), transit_days=transit) for moment in moments}


def _promised(line: dict[str, Any]) -> rules.Promise:
    return rules.Promise(dt.date.fromisoformat(line["ship_date"]), dt.date.fromisoformat(line["promised_date"]))


def _allow_cross_region(*, operator: APIClient, owner: APIClient, reader: APIClient) -> None:
    """A governed deviation: ``operator`` asks for ``fulfillment.cross_region_allowed`` at NE-BOS (where C-NE-001's
    policies are read) from today for thirty days; the process owner approves it; ``reader`` sees it resolve."""
    today = local_date(timezone.now(), Warehouse.objects.get(code="NE-BOS"))  # the site's date, not the server's
    requested = _ok(operator.post(reverse("api:policy-deviation-list"), {
        "policy": "fulfillment.cross_region_allowed", "scope_type": "warehouse", "scope": "NE-BOS", "value": True,
        "rationale": "Peak season: NE-NYC is out of CLN-0008, SE-ATL holds plenty",
        "effective_from": today.isoformat(), "effective_to": (today + dt.timedelta(days=30)).isoformat()},
        format="json"), 201)
    assert requested["status"] == "requested"
    # Nobody approves their own request.
    refused = operator.post(reverse("api:policy-deviation-approve", args=[requested["id"]]), {}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "self_approval_forbidden"), refused.content
    approved = _ok(owner.post(reverse("api:policy-deviation-approve", args=[requested["id"]]), {}, format="json"))
    assert approved["status"] == "approved"
    resolved = _ok(reader.get(reverse("api:policy-resolve", args=["fulfillment.cross_region_allowed"]),
                              {"warehouse": "NE-BOS"}))
    assert resolved["value"] is True and resolved["source"] == "warehouse:NE-BOS"


@pytest.mark.django_db
def test_the_whitepaper_scenario_through_the_api(demo: Any) -> None:
    service, planner, operator, owner = (_signed_in(name) for name in ("ne.service", "planner", "ne.operator",
                                                                       "owner"))

    # The demo's case: NE-BOS holds no CLN-0008, NE-NYC and SE-ATL do (the planner sees the whole network).
    network = _availability(planner)
    assert network["NE-BOS"]["on_hand"] == 0
    assert network["NE-NYC"]["available"] > 2 * CASE and network["SE-ATL"]["available"] > 2 * CASE
    # Customer service in region NE sees its region only.
    assert set(_availability(service)) == {"NE-BOS", "NE-NYC"}

    # 1. Two cases for Harbor Grocers: NE-BOS has none, so NE-NYC (the rest of region NE) ships them.
    first = _order(service, "2", "CS", "WP-1")
    (line,) = first["lines"]
    assert (line["sku"], line["quantity"], line["uom_quantity"], line["uom"], line["base_uom"]) == (
        SKU, "12.0000", "2.0000", "CS", "EA")
    first, moments = _confirm(service, first)
    assert first["status"] == "allocated"
    (line,) = first["lines"]
    assert (line["warehouse"], line["allocated_quantity"], line["backordered_quantity"], line["status"]) == (
        "NE-NYC", "12.0000", "0.0000", "allocated")
    assert [(a["warehouse"], a["quantity"], a["status"]) for a in line["allocations"]] == [("NE-NYC", "12.0000",
                                                                                           "open")]
    # The promise is NE-NYC's: its cutoff decides the ship date, the NE-to-NE lane the delivery date.
    assert _promised(line) in _expected_promise("NE-NYC", "NE", moments)
    first_promise = _promised(line)
    after_first = _availability(planner)
    assert after_first["NE-NYC"]["allocated"] == network["NE-NYC"]["allocated"] + 12
    assert after_first["NE-BOS"]["allocated"] == 0 and after_first["SE-ATL"] == network["SE-ATL"]

    # 2. A second order takes everything NE-NYC has left.
    rest = after_first["NE-NYC"]["available"]
    second, _ = _confirm(service, _order(service, f"{rest:f}", "EA", "WP-2"))
    assert second["status"] == "allocated"
    assert [(li["warehouse"], D(li["allocated_quantity"])) for li in second["lines"]] == [("NE-NYC", rest)]
    assert _availability(planner)["NE-NYC"]["available"] == 0

    # 3. NE-NYC has run out; cross-region allocation is off by standard, so the next order is backordered and
    # the planner has a shortage to work at the customer's home warehouse.
    third, moments = _confirm(service, _order(service, "1", "CS", "WP-3"))
    assert third["status"] == "backordered"
    (line,) = third["lines"]
    assert (line["warehouse"], line["allocated_quantity"], line["backordered_quantity"], line["allocations"]) == (
        "NE-BOS", "0.0000", "6.0000", [])
    # Nothing is held, yet the line is due when NE-BOS would have delivered it (a backorder counts against fill
    # rate).
    assert line["ship_date"] is None
    assert dt.date.fromisoformat(line["promised_date"]) in {
        promise.delivery_date for promise in _expected_promise("NE-BOS", "NE", moments)}
    assert _availability(planner)["SE-ATL"] == network["SE-ATL"]
    shortages = _ok(planner.get(reverse("api:exception-list"), {"type": "shortage", "warehouse": "NE-BOS",
                                                                "page_size": 500}))["results"]
    ours = [row for row in shortages if row["business_key"] == f"shortage:NE-BOS:{SKU}"]
    assert len(ours) == 1, shortages
    (shortage,) = ours
    assert (shortage["type"], shortage["status"], shortage["warehouse"], shortage["owner_role"],
            shortage["reference"]) == ("shortage", "open", "NE-BOS", "planner", third["number"])
    assert shortage["detail"]["sku"] == SKU and shortage["detail"]["backordered"] == "6.0000"
    assert shortage["detail"]["customer"] == "C-NE-001" and shortage["due_at"]

    # 4. The governed edge: an operator asks for cross-region allocation at NE-BOS, the process owner approves it;
    # now the next order is allocated whole from another region instead of backordering.
    _allow_cross_region(operator=operator, owner=owner, reader=service)
    fourth, moments = _confirm(service, _order(service, "1", "CS", "WP-4"))
    assert fourth["status"] == "allocated"
    (line,) = fourth["lines"]
    assert (line["allocated_quantity"], line["backordered_quantity"]) == ("6.0000", "0.0000")
    site = Warehouse.objects.select_related("region").get(code=line["warehouse"])
    assert site.region.code != "NE" and network[site.code]["available"] >= 6
    # The promise is that warehouse's: its own cutoff and its lane to region NE. (The whitepaper names SE-ATL:
    # see test_with_cross_region_allowed_the_next_order_comes_from_se_atl.)
    assert _promised(line) in _expected_promise(site.code, "NE", moments)
    assert _availability(planner)[site.code]["allocated"] == network[site.code]["allocated"] + 6

    # 5. The first order is picked at NE-NYC on the operator's handheld...
    listed = _ok(operator.post(reverse("api:pick-list-list"), {"warehouse": "NE-NYC", "order": first["number"]},
                               format="json"), 201)
    assert (listed["warehouse"], listed["kind"], listed["order"], listed["status"]) == (
        "NE-NYC", "order", first["number"], "open")
    assert listed["lines"] and {row["sku"] for row in listed["lines"]} == {SKU}
    assert sum(D(row["quantity"]) for row in listed["lines"]) == 12
    assert [row["sequence"] for row in listed["lines"]] == sorted(row["sequence"] for row in listed["lines"])
    picked = _ok(operator.post(reverse("api:pick-list-confirm", args=[listed["id"]]), {"lines": [
        {"id": row["id"], "picked_quantity": row["quantity"]} for row in listed["lines"]]}, format="json"))
    assert picked["status"] == "picked" and picked["picked_by"] == "ne.operator"
    assert {row["status"] for row in picked["lines"]} == {"picked"}
    assert _ok(service.get(reverse("api:sales-order-detail", args=[first["id"]])))["status"] == "picking"

    # ... packed with its package, carrier and tracking number (the packing slip is attached at once) ...
    packed = _ok(operator.post(reverse("api:shipment-list"), {
        "order": first["number"], "warehouse": "NE-NYC", "carrier": "UPS", "tracking_number": "1ZWP0001",
        "packages": [{"weight_kg": "14.2", "length_cm": "40", "width_cm": "30", "height_cm": "30"}]},
        format="json"), 201)
    assert (packed["status"], packed["warehouse"], packed["order"], packed["carrier"], packed["tracking_number"]) == (
        "packed", "NE-NYC", first["number"], "UPS", "1ZWP0001")
    assert sum(D(row["quantity"]) for row in packed["lines"]) == 12
    assert [(d["kind"], d["reference"]) for d in packed["documents"]] == [("packing_slip", packed["number"])]
    assert packed["documents_missing"] == []
    assert _ok(service.get(reverse("api:sales-order-detail", args=[first["id"]])))["status"] == "packed"

    # ... shipped: the stock leaves NE-NYC's ledger at the moving-average cost of the legal entity ...
    ledger = _ok(operator.get(reverse("api:stock-move-list"), {"sku": SKU, "warehouse": "NE-NYC",
                                                                "page_size": 500}))["results"]
    on_hand = sum(D(row["quantity"]) for row in ledger)
    value = sum(D(row["value"]) for row in ledger)
    assert on_hand == network["NE-NYC"]["on_hand"]  # NE-BOS (same legal entity) holds none: NE-NYC's is the cost
    average = (value / on_hand).quantize(D("0.000001"))
    shipped = _ok(operator.post(reverse("api:shipment-ship", args=[packed["id"]]), {}, format="json"))
    assert (shipped["status"], shipped["shipped_by"]) == ("shipped", "ne.operator")
    assert {D(row["unit_cost"]) for row in shipped["lines"]} == {average}
    assert sum(D(row["value"]) for row in shipped["lines"]) == (12 * average).quantize(D("0.0001"))
    moves = _ok(operator.get(reverse("api:stock-move-list"), {"sku": SKU, "warehouse": "NE-NYC",
                                                               "page_size": 500}))["results"]
    out = [row for row in moves if row["reference"] == packed["number"]]
    assert out, [row["reference"] for row in moves]
    assert sum(D(row["quantity"]) for row in out) == -12
    assert {(row["warehouse"], row["status"], D(row["unit_cost"])) for row in out} == {("NE-NYC", "available",
                                                                                        average)}
    assert sum(D(row["value"]) for row in out) == -(12 * average).quantize(D("0.0001"))
    after_ship = _availability(planner)["NE-NYC"]
    assert after_ship["on_hand"] == network["NE-NYC"]["on_hand"] - 12
    assert after_ship["allocated"] == network["NE-NYC"]["allocated"] + rest  # the second order still holds its own
    order = _ok(service.get(reverse("api:sales-order-detail", args=[first["id"]])))
    assert order["status"] == "shipped" and order["lines"][0]["shipped_quantity"] == "12.0000"

    # ... and delivered.
    delivered = _ok(operator.post(reverse("api:shipment-deliver", args=[packed["id"]]), {"note": "Signed: J. Doe"},
                                  format="json"))
    assert delivered["status"] == "delivered" and delivered["delivery_note"] == "Signed: J. Doe"
    order = _ok(service.get(reverse("api:sales-order-detail", args=[first["id"]])))
    assert order["status"] == "delivered" and order["lines"][0]["status"] == "delivered"

    # 6. Fill rate: the line shipped complete before its promised date, so at NE-NYC it is due and filled (the
    # second order's line, promised later and not shipped, is not due yet).
    period = {"warehouse": "NE-NYC", "from": (first_promise.delivery_date - dt.timedelta(days=30)).isoformat(),
              "to": first_promise.delivery_date.isoformat()}
    kpi = _ok(service.get(reverse("api:kpi-fill-rate"), period))
    assert (kpi["warehouse"], kpi["lines_due"], kpi["lines_filled"], kpi["fill_rate"]) == ("NE-NYC", 1, 1, "1.0000")
    assert [(row["warehouse"], row["lines_due"], row["lines_filled"]) for row in kpi["warehouses"]] == [
        ("NE-NYC", 1, 1)]
    # Region-wide too: the backorder (NE-BOS) and SE-ATL's line are promised later and not shipped: not due yet.
    region = _ok(service.get(reverse("api:kpi-fill-rate"), {**period, "warehouse": "", "region": "NE"}))
    assert (region["region"], region["lines_due"], region["lines_filled"]) == ("NE", 1, 1)
    assert [(row["warehouse"], row["lines_due"], row["lines_filled"]) for row in region["warehouses"]] == [
        ("NE-NYC", 1, 1)]

    call_command("check_order_invariants")
    call_command("check_inventory_invariants")


@pytest.mark.django_db
def test_with_cross_region_allowed_the_next_order_comes_from_se_atl(demo: Any) -> None:
    service, operator, owner = (_signed_in(name) for name in ("ne.service", "ne.operator", "owner"))
    left = _availability(service)["NE-NYC"]["available"]
    emptied, _ = _confirm(service, _order(service, f"{left:f}", "EA", "WP-EMPTY"))
    assert emptied["status"] == "allocated" and emptied["lines"][0]["warehouse"] == "NE-NYC"
    _allow_cross_region(operator=operator, owner=owner, reader=service)

    order, moments = _confirm(service, _order(service, "1", "CS", "WP-SE"))

    assert order["status"] == "allocated"
    (line,) = order["lines"]
    # The whitepaper: when NE-NYC runs out, the line goes to SE-ATL where cross-region allocation is allowed.
    assert (line["warehouse"], line["allocated_quantity"]) == ("SE-ATL", "6.0000"), line["warehouse"]
    assert _promised(line) in _expected_promise("SE-ATL", "NE", moments)
