"""``stock-statuses/`` and ``stock-moves/``: shapes, filters, and a constant number of queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inventory import services
from inventory.tests.factories import dec, item, location, plain_items, warehouse

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock")]


def _receive(sku: str, quantity: str = "4", wh: str = "NE-BOS") -> None:
    services.stock_receive(warehouse=warehouse(wh), location=location(wh, "A-01-03"), item=item(sku),
                           quantity=dec(quantity), uom="EA", unit_cost=dec("2.5"), reference=f"PO {sku}", actor=None)


def test_stock_statuses_list_the_standard_model_with_flags_and_transitions(api_as):
    response = api_as("admin").get(reverse("api:stock-status-list"))

    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()["results"]}
    assert {"available", "quality_hold", "damaged", "returned_pending_inspection", "in_transit"} <= set(rows)
    available = rows["available"]
    assert available["counts_toward_available"] is True and available["allocatable"] is True
    assert rows["quality_hold"]["allocatable"] is False and rows["damaged"]["valued"] is False
    assert {"to": "quality_hold", "reasons": ["QC-HOLD"]} in available["transitions"]
    assert set(available) == {"code", "name", "counts_toward_available", "allocatable", "valued", "gl_account_code",
                              "transitions"}


def test_stock_moves_list_the_ledger_filtered_by_sku_and_warehouse(api_as):
    _receive("CLN-0002")
    _receive("CLN-0003")
    _receive("CLN-0002", wh="EU-RTM")

    response = api_as("admin").get(reverse("api:stock-move-list"), {"sku": "T-CLN-0002", "warehouse": "NE-BOS"})

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["sku"] == "T-CLN-0002" and row["warehouse"] == "NE-BOS" and row["location"] == "A-01-03"
    assert row["quantity"] == "4.0000" and row["unit_cost"] == "2.500000" and row["value"] == "10.0000"
    assert row["lot"] is None and row["status"] == "available" and row["reference"] == "PO CLN-0002"
    detail = api_as("admin").get(reverse("api:stock-move-detail", args=[row["id"]]))
    assert detail.status_code == 200 and detail.json() == row


def test_listing_stock_moves_costs_the_same_queries_for_one_row_and_fifty(api_as):
    client = api_as("admin")
    skus = [i.sku for i in plain_items(50)]
    _receive(skus[0])
    url = reverse("api:stock-move-list")
    with CaptureQueriesContext(connection) as one:
        assert client.get(url, {"warehouse": "NE-BOS", "page_size": 500}).status_code == 200
    for sku in skus[1:]:
        _receive(sku)
    with CaptureQueriesContext(connection) as fifty:
        body = client.get(url, {"warehouse": "NE-BOS", "page_size": 500}).json()
    assert body["count"] >= 50
    assert len(one) == len(fifty)


def test_the_ledger_is_read_only_through_the_api(api_as):
    response = api_as("admin").post(reverse("api:stock-move-list"), {"sku": "CLN-0001", "quantity": "1"},
                                    format="json")
    assert response.status_code == 405
    assert Decimal(0) == sum(Decimal(r["quantity"]) for r in api_as("admin").get(
        reverse("api:stock-move-list"), {"sku": "T-CLN-0001"}).json()["results"])
