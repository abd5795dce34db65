"""A supplier's delay re-promises the customers waiting on it (issue 14, point 7): rescheduling a purchase order line
moves the promise of every backordered sales order line covered by it, in the same transaction, raises
``promise_at_risk`` for each order promised later and ``late_receipt`` for the buyer; lines past their date raise
``late_receipt`` nightly; a receipt allocates the backorders.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from erp.exceptions import DomainError
from governance.models import OperationalException
from orders.models import Customer, SalesOrderLine
from orders.services.backorders import backorders_allocate
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from procurement import receiving, schedule
from procurement.models import PurchaseOrderLine
from procurement.purchasing import local_date
from procurement.tests.helpers import D, approved, offer, person, twin

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(demo: Any) -> Any:
    product = twin("PAP-0006")
    offer(product, "ACME", price="3.00")  # ACME sells in USD, lead time 5 days
    return product


def _backorder(product: Any, quantity: Any, customer: str = "C-NE-001") -> SalesOrderLine:
    draft = sales_order_create(customer=Customer.objects.get(code=customer), actor=None,
                               lines=[OrderLineSpec(item=product, quantity=D(quantity))])
    sales_order_confirm(order=draft, actor=None)
    return SalesOrderLine.objects.select_related("order").get(order=draft)


def test_a_backorder_is_promised_from_an_approved_purchase_order(paper):
    before = _backorder(paper, 4)  # nothing anywhere: the home's due date
    order = approved(paper, 20, supplier="ACME")
    waiting = _backorder(paper, 6, customer="C-NE-004")
    expected = PurchaseOrderLine.objects.get(order=order).expected_date
    assert waiting.ship_date is not None and waiting.ship_date > expected  # after the inbound buffer
    assert waiting.promised_date > before.promised_date


def test_a_later_supplier_date_repromises_and_raises_the_exceptions(paper):
    order = approved(paper, 20, supplier="ACME")
    line = _backorder(paper, 6)
    old_promise = line.promised_date
    po_line = PurchaseOrderLine.objects.get(order=order)
    later = po_line.expected_date + dt.timedelta(days=10)
    buyer = person("po.buyer", "buyer", enterprise=True)
    done = schedule.purchase_order_reschedule(order=order, actor=buyer, reason="mill outage",
                                              lines=[schedule.RescheduleSpec(1, later)])
    line.refresh_from_db()
    assert line.promised_date > old_promise
    assert [(r.order_number, r.old_date, r.new_date) for r in done.repromised] == [
        (line.order.number, old_promise, line.promised_date)]
    assert PurchaseOrderLine.objects.get(pk=po_line.pk).expected_date == later
    late = OperationalException.objects.get(type="late_receipt", business_key=f"late_receipt:{order.number}")
    assert late.detail["repromised"][0]["order"] == line.order.number
    risk = OperationalException.objects.get(type="promise_at_risk", reference=line.order.number)
    assert risk.status == "open"
    # Back to the first date: the promise comes back, and nothing new is raised for the customer.
    schedule.purchase_order_reschedule(order=order, actor=buyer,
                                       lines=[schedule.RescheduleSpec(1, po_line.expected_date)])
    line.refresh_from_db()
    assert line.promised_date == old_promise


@pytest.mark.parametrize("case", ["past date", "unknown line", "twice", "no lines"])
def test_bad_reschedules_change_nothing(paper, case):
    order = approved(paper, 20, supplier="ACME")
    today = local_date(order.warehouse)
    lines = {"past date": [schedule.RescheduleSpec(1, today - dt.timedelta(days=1))],
             "unknown line": [schedule.RescheduleSpec(7, today)],
             "twice": [schedule.RescheduleSpec(1, today), schedule.RescheduleSpec(1, today)],
             "no lines": []}[case]
    before = PurchaseOrderLine.objects.get(order=order).expected_date
    with pytest.raises(DomainError) as refused:
        schedule.purchase_order_reschedule(order=order, actor=None, lines=lines)
    assert refused.value.status == 400
    assert PurchaseOrderLine.objects.get(order=order).expected_date == before


def test_lines_past_their_date_raise_late_receipt_once_a_day(paper):
    order = approved(paper, 20, supplier="ACME")
    expected = PurchaseOrderLine.objects.get(order=order).expected_date
    assert schedule.late_receipts_raise(now=timezone.now()) == 0
    later = timezone.now() + dt.timedelta(days=(expected - timezone.localdate()).days + 2)
    assert schedule.late_receipts_raise(now=later) == 1
    assert schedule.late_receipts_raise(now=later) == 0  # found already today
    late = OperationalException.objects.get(type="late_receipt", business_key=f"late_receipt:{order.number}")
    assert late.detail["lines"][0]["days_late"] >= 1 and late.raised_count == 1


def test_a_receipt_allocates_the_backorders(paper, django_capture_on_commit_callbacks):
    order = approved(paper, 20, supplier="ACME")
    line = _backorder(paper, 6)
    operator = person("rcv.operator", "warehouse_operator", warehouses=("NE-BOS",))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        receiving.receipt_post(purchase_order=order, actor=operator,
                               lines=[receiving.ReceiptLineSpec(line_no=1, quantity=D(20), location="A-01-01")])
    assert callbacks, "the receipt announces the stock it raised after its commit"
    assert backorders_allocate(item_ids=[paper.pk]) == 1
    line.refresh_from_db()
    assert (line.allocated_quantity, line.backordered_quantity) == (D(6), D(0))


def test_reschedule_through_the_api_answers_what_moved(paper, api_as):
    order = approved(paper, 20, supplier="ACME")
    line = _backorder(paper, 6)
    expected = PurchaseOrderLine.objects.get(order=order).expected_date
    later = expected + dt.timedelta(days=7)
    url = reverse("api:purchase-order-reschedule", args=[order.pk])
    response = api_as("buyer").post(url, {"lines": [{"line_no": 1, "expected_date": later.isoformat()}],
                                          "reason": "port strike"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lines"] == [{"line_no": 1, "old_date": expected.isoformat(), "new_date": later.isoformat()}]
    assert body["repromised"][0]["order"] == line.order.number
    refused = api_as("buyer").post(url, {"lines": [{"line_no": 1, "expected_date": "2000-01-01"}]}, format="json")
    assert refused.status_code == 400 and set(refused.json()) == {"code", "message", "detail"}
    assert PurchaseOrderLine.objects.get(order=order).expected_date == later
    forbidden = api_as("ne.operator").post(url, {"lines": [{"line_no": 1, "expected_date": later.isoformat()}]},
                                           format="json")
    assert forbidden.status_code == 403
