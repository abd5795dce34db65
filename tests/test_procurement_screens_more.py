"""Two more procurement screens (issue 14, points 5 and 7): the buyer's Reschedule on a purchase order's page (the
lines moved and the customer orders promised again shown; a bad date is a 400 that moves nothing; operators get
403) and the operator's handheld put-away list of a receipt (lines in location path order, today's receipts lead to
it, 404 outside the scope, 403 without ``procurement.add_receipt``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from inventory.tests.factories import warehouse
from orders.models import Customer, SalesOrderLine
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from procurement import receiving
from procurement.models import PurchaseOrderLine, Receipt
from procurement.receiving import RECEIVABLE_KINDS
from procurement.tests.helpers import D, approved, offer, twin
from warehouses.models import Location

pytestmark = pytest.mark.django_db


def _client(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _page(response: Any) -> str:
    return response.content.decode()


@pytest.fixture
def paper(demo: Any) -> Any:
    product = twin("PAP-0006")
    offer(product, "ACME", price="3.00")
    return product


def _backorder(product: Any, quantity: Any) -> SalesOrderLine:
    order = sales_order_create(customer=Customer.objects.get(code="C-NE-001"), actor=None,
                               lines=[OrderLineSpec(item=product, quantity=D(quantity))])
    sales_order_confirm(order=order, actor=None)
    return SalesOrderLine.objects.select_related("order").get(order=order)


# --- reschedule -----------------------------------------------------------------------------------------------------


def test_rescheduling_through_the_form_moves_the_line_and_shows_the_repromised_order(paper):
    order = approved(paper, 20, supplier="ACME")
    waiting = _backorder(paper, 6)
    old_promise = waiting.promised_date
    po_line = PurchaseOrderLine.objects.get(order=order)
    old_date = po_line.expected_date
    later = old_date + dt.timedelta(days=10)
    buyer = _client("buyer")
    page = _page(buyer.get(f"/purchase-orders/{order.pk}/"))
    assert f'/purchase-orders/{order.pk}/reschedule/' in page and 'data-action="reschedule"' in page
    form = buyer.get(f"/purchase-orders/{order.pk}/reschedule/")
    assert form.status_code == 200 and f'value="{old_date.isoformat()}"' in _page(form)
    done = buyer.post(f"/purchase-orders/{order.pk}/reschedule/",
                      {"line-1": later.isoformat(), "reason": "mill outage"})
    assert done.status_code == 200
    assert PurchaseOrderLine.objects.get(pk=po_line.pk).expected_date == later
    waiting.refresh_from_db()
    assert waiting.promised_date > old_promise
    shown = _page(done)
    assert 'data-moved="1"' in shown
    assert f'data-repromised="{waiting.order.number}/{waiting.line_no}"' in shown
    assert "mill outage" in shown


def test_a_bad_date_is_a_400_and_moves_nothing(paper):
    order = approved(paper, 20, supplier="ACME")
    before = PurchaseOrderLine.objects.get(order=order).expected_date
    buyer = _client("buyer")
    response = buyer.post(f"/purchase-orders/{order.pk}/reschedule/", {"line-1": "next tuesday", "reason": ""})
    assert response.status_code == 400 and "Enter a date" in _page(response)
    past = before - dt.timedelta(days=400)
    refused = buyer.post(f"/purchase-orders/{order.pk}/reschedule/", {"line-1": past.isoformat()})
    assert refused.status_code == 400 and 'data-field="refusal"' in _page(refused)
    assert PurchaseOrderLine.objects.get(order=order).expected_date == before


def test_an_operator_may_not_reschedule(paper):
    order = approved(paper, 20, supplier="ACME")
    before = PurchaseOrderLine.objects.get(order=order).expected_date
    operator = _client("ne.operator")
    assert operator.get(f"/purchase-orders/{order.pk}/reschedule/").status_code == 403
    later = before + dt.timedelta(days=30)
    assert operator.post(f"/purchase-orders/{order.pk}/reschedule/",
                         {"line-1": later.isoformat()}).status_code == 403
    assert PurchaseOrderLine.objects.get(order=order).expected_date == before
    assert 'data-action="reschedule"' not in _page(operator.get(f"/purchase-orders/{order.pk}/"))


# --- the put-away list ----------------------------------------------------------------------------------------------


def _received_in_two_places(product: Any) -> tuple[Receipt, Location, Location]:
    places = list(Location.objects.filter(warehouse=warehouse("NE-BOS"), active=True, kind__in=RECEIVABLE_KINDS)
                  .order_by("path"))
    first, last = places[0], places[-1]
    assert first.path < last.path
    order = approved(product, 20, supplier="ACME")
    receiving.receipt_post(purchase_order=order, actor=get_user_model().objects.get(username="ne.operator"), lines=[
        receiving.ReceiptLineSpec(line_no=1, quantity=D(7), location=last.code),
        receiving.ReceiptLineSpec(line_no=1, quantity=D(5), location=first.code)])
    return Receipt.objects.get(purchase_order=order), first, last


def test_the_put_away_list_shows_the_lines_in_path_order(paper):
    receipt, first, last = _received_in_two_places(paper)
    operator = _client("ne.operator")
    today = operator.get("/receiving/put-away/")
    assert today.status_code == 200 and f'data-receipt="{receipt.number}"' in _page(today)
    response = operator.get(f"/receiving/put-away/{receipt.pk}/")
    assert response.status_code == 200
    page = _page(response)
    at_first, at_last = page.index(f'data-location="{first.code}"'), page.index(f'data-location="{last.code}"')
    assert at_first < at_last
    assert "T-PAP-0006" in page and 'data-action="done"' in page
    order_page = _page(operator.get(f"/purchase-orders/{receipt.purchase_order_id}/"))
    assert f"/receiving/put-away/{receipt.pk}/" in order_page


def test_the_put_away_list_follows_scope_and_permission(paper):
    receipt, _, _ = _received_in_two_places(paper)
    eu = _client("eu.operator")
    assert eu.get(f"/receiving/put-away/{receipt.pk}/").status_code == 404
    assert receipt.number not in _page(eu.get("/receiving/put-away/"))
    buyer = _client("buyer")
    assert not get_user_model().objects.get(username="buyer").has_perm("procurement.add_receipt")
    assert buyer.get(f"/receiving/put-away/{receipt.pk}/").status_code == 403
    assert buyer.get("/receiving/put-away/").status_code == 403
