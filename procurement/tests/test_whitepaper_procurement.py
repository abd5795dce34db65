"""Issue 14's "Done when", end to end through the API: a buyer orders from NORD (EUR) for NE-BOS (USD) an amount below
the matrix's first limit in euros but above it in dollars, so the conversion routes it to the second band; the
requester cannot approve it, a second NE buyer and an approver do; nothing changes it once approved (API, admin,
database); a backorder is promised from it; the operator receives short on one line and, after an over-receipt
refused, within tolerance on the other, each SKU where the put-away rules say; the backorder allocates; the supplier
moves the rest of line 1 later, which re-promises the customer waiting on it and raises the exceptions.
Every date derives from today at the warehouse.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from inventory.models import StockBalance
from inventory.tests.factories import warehouse as site
from orders.models import Customer, SalesOrderLine
from orders.services.backorders import backorders_allocate
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from procurement.models import PurchaseOrder, PurchaseOrderLine, Receipt
from procurement.purchasing import local_date
from procurement.tests.helpers import person, twin
from warehouses.transfers.tests.helpers import invariants

pytestmark = pytest.mark.django_db
D = Decimal


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content[:600]
    return response.json()


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _backorder(product: Any, quantity: Any, actor: Any, customer: str = "C-NE-001") -> SalesOrderLine:
    """A customer's order at NE-BOS for more than is there, confirmed (what customer service does)."""
    draft = sales_order_create(customer=Customer.objects.get(code=customer), actor=actor,
                               lines=[OrderLineSpec(item=product, quantity=D(quantity))])
    sales_order_confirm(order=draft, actor=actor)
    return SalesOrderLine.objects.select_related("order").get(order=draft)


def test_the_whitepaper_purchase_from_order_to_repromise(demo, django_capture_on_commit_callbacks):
    buyer = _client(person("wp.buyer", "buyer", regions=("NE",)))
    second_buyer = _client(person("wp.buyer2", "buyer", regions=("NE",)))
    approver = _client(person("wp.approver", "approver", regions=("NE",)))
    operator = _client(person("wp.operator", "warehouse_operator", warehouses=("NE-BOS",)))
    supervisor = _client(person("wp.supervisor", "warehouse_supervisor", regions=("NE",)))
    service = person("wp.service", "customer_service", regions=("NE",))
    ruled, other = twin("PAP-0003"), twin("PAP-0006")
    today = local_date(site("NE-BOS"))

    # What NORD sells, at its own prices in EUR (lead time: the supplier's).
    for product in (ruled, other):
        offered = _ok(buyer.post(reverse("api:supplier-item-list", args=["NORD"]),
                                 {"sku": product.sku, "unit_price": "6.00"}, format="json"), 201)
        assert (offered["currency"], D(offered["unit_price"])) == ("EUR", D(6))

    # 1. 2 x 400 x 6.00 = 4,800.00 EUR: the first band in euros, the second in dollars.
    created = _ok(buyer.post(reverse("api:purchase-order-list"), {"supplier": "NORD", "warehouse": "NE-BOS", "lines": [
        {"sku": ruled.sku, "quantity": "400"}, {"sku": other.sku, "quantity": "400"}]}, format="json"), 201)
    order_id = created["id"]
    assert (created["status"], created["currency"], D(created["total"])) == ("draft", "EUR", D(4800))
    submitted = _ok(buyer.post(reverse("api:purchase-order-submit", args=[order_id]), {}, format="json"))
    assert submitted["status"] == "pending_approval" and submitted["base_currency"] == "USD"
    base_total = D(submitted["base_total"])
    assert D(5000) < base_total <= D(50000) and D(submitted["total"]) < D(5000)
    assert base_total == (D("4800.00") * D(submitted["rate"])).quantize(D("0.01"))
    request_url = reverse("api:approval-detail", args=[submitted["approval_request"]])
    request = _ok(approver.get(request_url))
    assert (request["document_type"], request["document_id"], request["status"]) == (
        "purchase_order", order_id, "pending")
    assert (D(request["base_amount"]), request["base_currency"], request["region"]) == (base_total, "USD", "NE")
    assert [(s["sequence"], s["role"], s["scope_level"]) for s in request["steps"]] == [
        (1, "buyer", "region"), (2, "approver", "region")]

    # 2. The requester cannot approve; a second NE buyer approves step 1, the approver step 2.
    approve_url = reverse("api:approval-approve", args=[request["id"]])
    refused = buyer.post(approve_url, {}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "self_approval_forbidden", refused.content
    assert [s["status"] for s in _ok(approver.get(request_url))["steps"]] == ["pending", "waiting"]
    assert _ok(second_buyer.post(approve_url, {}, format="json"))["status"] == "pending"
    assert _ok(approver.post(approve_url, {}, format="json"))["status"] == "approved"
    order = _ok(buyer.get(reverse("api:purchase-order-detail", args=[order_id])))
    assert order["status"] == "approved" and order["approved_at"]
    expected = {line["line_no"]: dt.date.fromisoformat(line["expected_date"]) for line in order["lines"]}
    assert expected[1] == expected[2] == today + dt.timedelta(days=14)  # NORD's lead time

    # 3. Frozen once approved, whatever the route: the API, the admin, the database.
    frozen = buyer.patch(reverse("api:purchase-order-detail", args=[order_id]), {"note": "more, please"},
                         format="json")
    assert frozen.status_code == 409 and frozen.json()["code"] == "purchase_order_frozen", frozen.content
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("wp.admin", password="x-unused-x"))
    change_url = reverse("admin:procurement_purchaseorder_change", args=[order_id])
    page = admin.get(change_url)
    assert page.status_code == 200 and order["number"].encode() in page.content
    assert b'name="_save"' not in page.content and b'name="note"' not in page.content  # read-only: no form to save
    posted = admin.post(change_url, {"note": "from the admin", "total": "1.00", "_save": "Save"})
    assert posted.status_code == 403
    with pytest.raises(IntegrityError), transaction.atomic():
        PurchaseOrder.objects.filter(pk=order_id).update(total=D("1.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        PurchaseOrderLine.objects.filter(order_id=order_id, line_no=1).update(quantity=D(1))
    unchanged = _ok(buyer.get(reverse("api:purchase-order-detail", args=[order_id])))
    assert (unchanged["total"], unchanged["note"], unchanged["lines"][0]["quantity"]) == ("4800.00", "", "400.0000")

    # 4. A put-away rule sends the ruled SKU to a bin; a backorder of the other is promised from the order.
    rule = _ok(supervisor.post(reverse("api:putaway-rule-list"), {"warehouse": "NE-BOS", "sku": ruled.sku,
                                                                  "location": "A-01-01"}, format="json"), 201)
    assert rule["location"] == "A-01-01"
    waiting = _backorder(other, 50, service)
    assert (waiting.backordered_quantity, waiting.warehouse.code) == (D(50), "NE-BOS")
    assert waiting.ship_date is not None and waiting.ship_date > expected[2]  # after the order's inbound buffer
    assert waiting.promised_date is not None and waiting.promised_date > expected[2]

    # 5. Short on line 1; line 2 beyond the 5% tolerance is refused and writes nothing; then within it.
    receipts = reverse("api:receipt-list")
    over = operator.post(receipts, {"purchase_order": order["number"], "lines": [
        {"line_no": 1, "quantity": "300"}, {"line_no": 2, "quantity": "421"}]}, format="json")
    assert over.status_code == 409 and over.json()["code"] == "over_receipt", over.content
    assert not Receipt.objects.filter(purchase_order_id=order_id).exists()
    assert not StockBalance.objects.filter(item__in=[ruled, other]).exists()
    assert [line["received_quantity"] for line in _ok(buyer.get(
        reverse("api:purchase-order-detail", args=[order_id])))["lines"]] == ["0.0000", "0.0000"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        receipt = _ok(operator.post(receipts, {"purchase_order": order["number"], "lines": [
            {"line_no": 1, "quantity": "300"}, {"line_no": 2, "quantity": "410"}]}, format="json"), 201)
    assert callbacks, "the receipt announces the stock it raised after its commit"
    assert sorted((line["sku"], line["quantity"], line["location"], line["over_quantity"])
                  for line in receipt["lines"]) == sorted([
        (ruled.sku, "300.0000", "A-01-01", "0.0000"), (other.sku, "410.0000", "RCV", "10.0000")])
    order = _ok(buyer.get(reverse("api:purchase-order-detail", args=[order_id])))
    assert order["status"] == "partially_received"
    assert [(line["received_quantity"], line["open_quantity"]) for line in order["lines"]] == [
        ("300.0000", "100.0000"), ("410.0000", "0.0000")]
    backorders_allocate(item_ids=[other.pk])  # what the receipt's after-commit task does
    waiting.refresh_from_db()
    assert (waiting.allocated_quantity, waiting.backordered_quantity) == (D(50), D(0))

    # 6. NORD moves the rest of line 1 ten days later: the customer waiting on it is promised later.
    late = _backorder(ruled, 350, service, customer="C-NE-004")
    assert late.backordered_quantity > 0
    old_promise = late.promised_date
    assert old_promise is not None and old_promise > expected[1]
    later = expected[1] + dt.timedelta(days=10)
    moved = _ok(buyer.post(reverse("api:purchase-order-reschedule", args=[order_id]), {
        "lines": [{"line_no": 1, "expected_date": later.isoformat()}], "reason": "mill outage"}, format="json"))
    assert moved["lines"] == [{"line_no": 1, "old_date": expected[1].isoformat(), "new_date": later.isoformat()}]
    late.refresh_from_db()
    assert late.promised_date > old_promise
    assert [(r["order"], r["sku"]) for r in moved["repromised"]] == [(late.order.number, ruled.sku)]
    exceptions = reverse("api:exception-list")
    [risk] = [row for row in _ok(supervisor.get(exceptions, {"type": "promise_at_risk", "warehouse": "NE-BOS"}))[
        "results"] if row["reference"] == late.order.number]
    assert (risk["reference"], risk["status"], risk["owner_role"]) == (late.order.number, "open", "customer_service")
    [delay] = [row for row in _ok(buyer.get(exceptions, {"type": "late_receipt"}))["results"]
               if row["reference"] == order["number"]]
    assert (delay["reference"], delay["owner_role"], delay["status"]) == (order["number"], "buyer", "open")
    assert delay["detail"]["repromised"][0]["order"] == late.order.number
    assert delay["detail"]["lines"][0]["open"] == "100.0000"

    # 7. The ledger, balances and summaries still agree.
    assert invariants() == ""
