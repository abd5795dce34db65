"""The demo's whitepaper transfer case end to end through the API (issue 13, item 10): NE-BOS is short of a SKU that
SE-ATL holds in surplus; the planner sees the recommendation and accepts it; the approver approves it (above SE's
governed threshold); SE-ATL dispatches; NE-BOS receives one unit damaged (a discrepancy); the backorder allocates.
Every step as the demo user who does it (``erp.demo.transfer_demo_case`` sets the case up as ``make run`` does).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from erp import demo as demo_module
from governance.models import OperationalException
from orders.models import SalesOrderLine
from orders.services.backorders import backorders_allocate
from warehouses.transfers.tests.helpers import invariants

pytestmark = pytest.mark.django_db
D = Decimal


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.content[:400]
    body: dict[str, Any] = response.json()
    return body


def test_the_whitepaper_case_from_recommendation_to_allocated_backorder(demo, api_as,
                                                                        django_capture_on_commit_callbacks):
    said = demo_module.transfer_demo_case()
    assert said.startswith("NE-BOS: 120 backordered") and "SE-ATL: 330 surplus" in said, said
    backorder = SalesOrderLine.objects.get(order__customer__code="C-NE-004", order__external_ref="DEMO-0004")
    assert (backorder.backordered_quantity, backorder.warehouse.code) == (D(120), "NE-BOS")

    planner = api_as("planner")
    [row] = _ok(planner.get(reverse("api:transfer-recommendation-list"),
                            {"warehouse": "NE-BOS", "sku": "HDW-0013", "status": "open"}))["results"]
    assert (row["from_warehouse"], row["to_warehouse"], row["quantity"], row["reason"]) == (
        "SE-ATL", "NE-BOS", "120.0000", "shortage")
    assert row["explanation"] == said and row["freight_cost"] == "60.00"

    accepted = _ok(planner.post(reverse("api:transfer-recommendation-accept", args=[row["id"]]), {}, format="json"))
    transfer = _ok(planner.get(reverse("api:transfer-detail", args=[accepted["transfer"]])))
    assert (transfer["status"], transfer["value"], transfer["recommendation"]) == (
        "pending_approval", "510.00", row["id"])  # 120 x 4.25 USD, above SE's 250.00
    assert transfer["intercompany"] is True

    approver = api_as("approver")
    waiting = _ok(approver.get(reverse("api:approval-list"), {"status": "pending"}))["results"]
    [step] = [w for w in waiting if w.get("document_type") == "transfer" and w.get("document_id") == transfer["id"]]
    _ok(approver.post(reverse("api:approval-approve", args=[step["id"]]), {}, format="json"))
    assert _ok(planner.get(reverse("api:transfer-detail", args=[transfer["id"]])))["status"] == "approved"

    dispatched = _ok(api_as("se.operator").post(reverse("api:transfer-dispatch", args=[transfer["id"]]), {},
                                                format="json"))
    assert dispatched["status"] == "dispatched" and dispatched["lines"][0]["dispatched_quantity"] == "120.0000"
    [arriving] = _ok(api_as("ne.operator").get(reverse("api:availability-list"),
                                               {"sku": "HDW-0013", "warehouse": "NE-BOS"}))["results"]
    assert arriving["in_transit_in"] == "120.0000"

    with django_capture_on_commit_callbacks(execute=False):
        received = _ok(api_as("ne.operator").post(reverse("api:transfer-receive", args=[transfer["id"]]), {"lines": [
            {"line_no": 1, "quantity": "119"}, {"line_no": 1, "quantity": "1", "status": "damaged"}]},
            format="json"))
    assert received["status"] == "received"
    assert (received["lines"][0]["received_quantity"], received["lines"][0]["damaged_quantity"]) == (
        "120.0000", "1.0000")
    discrepancy = OperationalException.objects.get(type="transfer_discrepancy",
                                                   business_key=f"transfer:{transfer['number']}")
    assert discrepancy.warehouse.code == "SE-ATL" and discrepancy.detail["damaged"] == "1.0000"

    backorders_allocate(item_ids=[backorder.item_id])  # what the receipt's after-commit task does
    backorder.refresh_from_db()
    assert (backorder.allocated_quantity, backorder.backordered_quantity) == (D(119), D(1))
    assert invariants() == ""
