"""``availability/``: network availability per SKU and warehouse, in the caller's scope, in constant queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from inventory import selectors, services
from inventory.models import Item, StockMove
from inventory.stock import MoveSpec
from inventory.tests.factories import dec, item, location, warehouse

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock")]

URL = "api:availability-list"
ALL_WAREHOUSES = ["EU-DUS", "EU-RTM", "NE-BOS", "NE-NYC", "SE-ATL", "SE-MIA"]
FIELDS = {"sku", "warehouse", "on_hand", "allocated", "available", "blocked", "in_transit_in", "on_order"}


def _receive(sku: str, quantity: str, wh: str = "NE-BOS") -> None:
    services.stock_receive(warehouse=warehouse(wh), location=location(wh, "A-01-02"), item=item(sku),
                           quantity=dec(quantity), uom="EA", unit_cost=dec("1.5"), reference=f"PO {sku}", actor=None)


def _put_on_quality_hold(sku: str, quantity: str, wh: str = "NE-BOS") -> None:
    """The status change as a move pair: out of ``available``, into ``quality_hold``, at the same location."""
    where = {"item": item(sku), "warehouse": warehouse(wh), "location": location(wh, "A-01-02")}
    services.stock_moves_post_command(
        moves=[MoveSpec(**where, status=services.stock_status("available"), quantity=-dec(quantity)),
               MoveSpec(**where, status=services.stock_status("quality_hold"), quantity=dec(quantity))],
        reference_type="status_change", reference="QC hold", actor=None)


def _rows(client: APIClient, **params: object) -> dict[tuple[str, str], dict[str, str]]:
    response = client.get(reverse(URL), {"page_size": 500, **params})
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert body["count"] == len(body["results"])
    return {(row["sku"], row["warehouse"]): row for row in body["results"]}


def test_a_receipt_shows_as_on_hand_and_available_at_its_warehouse_and_zeros_elsewhere(api_as):
    _receive("CLN-0001", "12")

    rows = _rows(api_as("admin"), sku="T-CLN-0001")

    assert sorted(wh for _, wh in rows) == ALL_WAREHOUSES
    assert rows[("T-CLN-0001", "NE-BOS")] == {
        "sku": "T-CLN-0001", "warehouse": "NE-BOS", "on_hand": "12.0000", "allocated": "0.0000",
        "available": "12.0000", "blocked": "0.0000", "in_transit_in": "0.0000", "on_order": "0.0000"}
    for wh in set(ALL_WAREHOUSES) - {"NE-BOS"}:
        row = rows[("T-CLN-0001", wh)]
        assert set(row) == FIELDS
        assert all(row[field] == "0.0000" for field in FIELDS - {"sku", "warehouse"}), row


def test_putting_five_units_on_quality_hold_drops_available_by_five_and_raises_blocked_by_five(api_as):
    _receive("CLN-0001", "12")
    client = api_as("ne.operator")
    before = _rows(client, sku="T-CLN-0001")[("T-CLN-0001", "NE-BOS")]

    _put_on_quality_hold("CLN-0001", "5")

    after = _rows(client, sku="T-CLN-0001")[("T-CLN-0001", "NE-BOS")]
    assert Decimal(before["available"]) - Decimal(after["available"]) == 5
    assert Decimal(after["blocked"]) - Decimal(before["blocked"]) == 5
    assert after["on_hand"] == before["on_hand"] == "12.0000"
    assert (after["available"], after["blocked"]) == ("7.0000", "5.0000")


def test_several_skus_give_one_row_per_sku_and_warehouse_ordered_by_sku_then_warehouse(api_as):
    _receive("CLN-0002", "3", wh="SE-ATL")
    _receive("CLN-0001", "4", wh="EU-RTM")

    response = api_as("admin").get(reverse(URL), {"sku": ["T-CLN-0002", "T-CLN-0001", "T-CLN-0002"]})

    body = response.json()
    assert body["count"] == 12
    assert [(row["sku"], row["warehouse"]) for row in body["results"]] == (
        [("T-CLN-0001", wh) for wh in ALL_WAREHOUSES] + [("T-CLN-0002", wh) for wh in ALL_WAREHOUSES])
    on_hand = {(row["sku"], row["warehouse"]): row["on_hand"] for row in body["results"] if row["on_hand"] != "0.0000"}
    assert on_hand == {("T-CLN-0001", "EU-RTM"): "4.0000", ("T-CLN-0002", "SE-ATL"): "3.0000"}


def test_a_warehouse_or_a_region_narrows_the_rows(api_as):
    _receive("CLN-0001", "2", wh="NE-NYC")
    client = api_as("admin")

    assert set(_rows(client, sku="T-CLN-0001", warehouse="NE-NYC")) == {("T-CLN-0001", "NE-NYC")}
    assert set(_rows(client, sku="T-CLN-0001", region="SE")) == {("T-CLN-0001", "SE-ATL"), ("T-CLN-0001", "SE-MIA")}
    assert set(_rows(client, sku="T-CLN-0001", region="NE", warehouse="NE-NYC")) == {("T-CLN-0001", "NE-NYC")}


def test_the_demo_opening_stock_appears_in_every_warehouse(api_as):
    sku = Item.objects.exclude(sku__startswith="T-").order_by("sku").values_list("sku", flat=True).first()
    rows = _rows(api_as("admin"), sku=sku, region="EU")
    assert len(rows) == 2 and all(Decimal(row["on_hand"]) > 0 for row in rows.values())


def test_an_operator_sees_only_the_warehouses_in_scope(api_as):
    for wh in ALL_WAREHOUSES:
        _receive("CLN-0001", "1", wh=wh)
    assert {wh for _, wh in _rows(api_as("ne.operator"), sku="T-CLN-0001")} == {"NE-BOS", "NE-NYC"}
    assert {wh for _, wh in _rows(api_as("eu.operator"), sku="T-CLN-0001")} == {"EU-DUS", "EU-RTM"}


def test_the_list_is_paginated_like_every_list(api_as):
    response = api_as("admin").get(reverse(URL), {"sku": item("CLN-0001").sku, "page_size": 4})

    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 6 and len(body["results"]) == 4 and body["next"] and body["previous"] is None
    rest = api_as("admin").get(body["next"]).json()
    assert len(rest["results"]) == 2 and rest["next"] is None


def _count_queries(username: str, skus: list[str]) -> tuple[int, int]:
    """Queries of one whole request by a freshly loaded user (nothing cached), and the rows it returned."""
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username=username))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(URL), {"sku": skus, "page_size": 500})
    assert response.status_code == 200, response.content[:300]
    return len(queries), response.json()["count"]


@pytest.mark.parametrize("username", ["admin", "planner", "ne.operator"])
def test_one_sku_and_fifty_skus_over_six_warehouses_cost_the_same_queries(demo, username):
    skus = list(Item.objects.exclude(sku__startswith="T-").order_by("sku").values_list("sku", flat=True)[:50])
    _count_queries(username, skus[:1])  # warms process-wide caches (guardian's content types), not per request

    one, one_rows = _count_queries(username, skus[:1])
    fifty, fifty_rows = _count_queries(username, skus)

    assert fifty_rows == 50 * one_rows and (username != "admin" or fifty_rows == 300)
    assert one == fifty


def test_the_data_itself_costs_two_queries_once_the_scope_is_known(user):
    operator = user("ne.operator")
    selectors.network_availability(user=operator, skus=[item("CLN-0001").sku])  # scope now cached
    skus = list(Item.objects.exclude(sku__startswith="T-").order_by("sku").values_list("sku", flat=True)[:50])
    with CaptureQueriesContext(connection) as queries:
        rows = selectors.network_availability(user=operator, skus=skus)
    assert len(rows) == 100
    assert len(queries) == 2


@pytest.mark.parametrize(("username", "params", "status", "code", "field"), [
    ("admin", {}, 400, "validation_error", "sku"),
    ("admin", {"sku": ["", "  "]}, 400, "validation_error", "sku"),
    ("admin", {"sku": [f"NO-SUCH-{n:04d}" for n in range(501)]}, 400, "validation_error", "sku"),
    ("admin", {"sku": ["T-CLN-0001", "BOGUS-1", "BOGUS-2"]}, 400, "validation_error", "sku"),
    ("admin", {"sku": "T-CLN\x00-0001"}, 400, "validation_error", "sku"),
    ("admin", {"sku": "T-CLN-0001", "warehouse": "NOWHERE"}, 404, "not_found", "warehouse"),
    ("admin", {"sku": "T-CLN-0001", "warehouse": "NE\x00BOS"}, 400, "validation_error", "warehouse"),
    ("admin", {"sku": "T-CLN-0001", "region": "MARS"}, 404, "not_found", "region"),
    ("admin", {"sku": "T-CLN-0001", "region": "EU", "warehouse": "NE-BOS"}, 404, "not_found", "warehouse"),
    ("ne.operator", {"sku": "T-CLN-0001", "warehouse": "EU-RTM"}, 404, "not_found", "warehouse"),
    ("ne.operator", {"sku": "T-CLN-0001", "region": "EU"}, 404, "not_found", "region"),
    ("eu.operator", {"sku": "T-CLN-0001", "warehouse": "NE-BOS"}, 404, "not_found", "warehouse"),
])
def test_bad_input_is_refused_in_the_error_shape(api_as, username, params, status, code, field):
    item("CLN-0001")
    moves_before = StockMove.objects.count()

    response = api_as(username).get(reverse(URL), params)

    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == code
    assert field in body["detail"], body
    assert StockMove.objects.count() == moves_before


def test_unknown_skus_are_each_named_in_the_detail(api_as):
    item("CLN-0001")
    body = api_as("admin").get(reverse(URL), {"sku": ["T-CLN-0001", "BOGUS-1", "BOGUS-2"]}).json()
    assert body["detail"]["sku"] == ["Unknown SKU: BOGUS-1.", "Unknown SKU: BOGUS-2."]
    assert "BOGUS-1" in body["message"] and "T-CLN-0001" not in body["message"]


def test_a_user_without_the_summary_view_permission_is_refused(demo):
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("nobody", password="x"))
    response = client.get(reverse(URL), {"sku": "CLN-0001"})
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_the_fast_rendering_of_rows_is_exactly_what_the_serializer_renders(demo, user):
    from inventory.api.availability import AvailabilityOutput, render_row
    from inventory.selectors import network_availability

    rows = network_availability(user=user("admin"), skus=["CLN-0001", "BEV-0003", "SNK-0002"])
    assert rows
    assert [render_row(row) for row in rows] == AvailabilityOutput(rows, many=True).data
