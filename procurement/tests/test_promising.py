"""Purchase orders as supply (issue 14, point 7): an approved order's open lines are on order at their receiving
warehouse (availability's ``on_order``, whatever the date) and inbound supply for promising from their expected
date plus the warehouse's ``fulfillment.inbound_buffer_days`` working days; drafts, cancelled orders and what was
received are not. A backorder waiting at the warehouse is promised from there.

NORD sells PAP-0003 to NE-BOS (the helpers' standard order); the buffer's standard is 1 working day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.models import Policy
from inventory import selectors
from inventory.supply import Inbound, inbound, on_order
from inventory.tests.factories import warehouse
from orders.models import Customer, OrderStatus, SalesOrderLine
from orders.rules import add_transit
from orders.selectors import plan_for
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from procurement import purchasing, receiving
from procurement.supply import BUFFER_POLICY, purchase_order_supply
from procurement.tests.helpers import D, approved, draft, offer, person, twin

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(demo: Any) -> Any:
    product = twin("PAP-0003")
    offer(product, "NORD", price="4.00", uom="EA")
    return product


def _wednesday(weeks: int) -> dt.date:
    """A Wednesday ``weeks`` whole weeks or so from today (a working day with working days after it)."""
    day = timezone.localdate() + dt.timedelta(weeks=weeks)
    return day + dt.timedelta(days=(2 - day.weekday()) % 7)


def _pairs(product: Any) -> tuple[list[int], list[int]]:
    return [product.pk], [warehouse("NE-BOS").pk]


def _available(product: Any, user: Any) -> dict[str, Any]:
    [row] = selectors.network_availability(user=user("admin"), skus=[product.sku], warehouse="NE-BOS")
    return row


def test_a_draft_order_is_neither_supply_nor_on_order(paper, user):
    draft(paper, 100, expected_date=_wednesday(3))
    assert purchase_order_supply(*_pairs(paper)) == []
    assert inbound(*_pairs(paper)) == {}
    assert on_order(*_pairs(paper)) == {}
    assert _available(paper, user)["on_order"] == D("0.0000")


def test_an_approved_order_is_supply_from_its_expected_date_plus_the_buffer(paper):
    expected = _wednesday(3)
    order = approved(paper, 100, expected_date=expected)
    assert order.status == "approved"
    [row] = inbound(*_pairs(paper))[(paper.pk, warehouse("NE-BOS").pk)]
    assert row == Inbound(paper.pk, warehouse("NE-BOS").pk, expected + dt.timedelta(days=1), D(100),
                          f"{order.number}/1")


def test_the_buffer_is_the_receiving_warehouses_working_days(paper):
    expected = _wednesday(3)
    approved(paper, 100, expected_date=expected)
    Policy.objects.filter(key=BUFFER_POLICY).update(standard_value=3)
    [row] = purchase_order_supply(*_pairs(paper))
    assert row.arrives_on == expected + dt.timedelta(days=5) == add_transit(expected, 3)  # Wednesday -> Monday
    Policy.objects.filter(key=BUFFER_POLICY).update(standard_value=0)
    [row] = purchase_order_supply(*_pairs(paper))
    assert row.arrives_on == expected


def test_what_was_received_or_cancelled_is_no_longer_on_order(paper, user):
    expected = _wednesday(3)
    order = approved(paper, 100, expected_date=expected)
    other = approved(paper, 30, expected_date=expected + dt.timedelta(weeks=1))
    assert on_order(*_pairs(paper)) == {(paper.pk, warehouse("NE-BOS").pk): D(130)}

    operator = person("rcv.operator", "warehouse_operator", warehouses=("NE-BOS",))
    receiving.receipt_post(purchase_order=order, actor=operator,
                           lines=[receiving.ReceiptLineSpec(line_no=1, quantity=D(60), location="A-01-01")])
    purchasing.purchase_order_cancel(order=other, actor=person("po.buyer", "buyer", enterprise=True), reason="dup")

    assert on_order(*_pairs(paper)) == {(paper.pk, warehouse("NE-BOS").pk): D(40)}
    [row] = purchase_order_supply(*_pairs(paper))
    assert (row.quantity, row.source) == (D(40), f"{order.number}/1")
    assert _available(paper, user)["on_order"] == D("40.0000")


def test_availability_shows_the_open_quantity_on_order_whatever_its_date_in_its_two_queries(paper, user):
    approved(paper, 100, expected_date=_wednesday(3))
    approved(paper, 25, expected_date=_wednesday(40))
    draft(paper, 1000, expected_date=_wednesday(3))
    reader = user("ne.operator")
    selectors.network_availability(user=reader, skus=[paper.sku])  # the scope is now cached
    with CaptureQueriesContext(connection) as queries:
        rows = {row["warehouse"]: row for row in selectors.network_availability(user=reader, skus=[paper.sku])}
    assert len(queries) == 2  # the open purchase order lines are joined into the availability query
    assert rows["NE-BOS"]["on_order"] == D("125.0000")
    assert all(row["on_order"] == D("0.0000") for code, row in rows.items() if code != "NE-BOS")


def test_a_backorder_is_promised_against_an_approved_purchase_order(paper):
    expected = _wednesday(3)
    approved(paper, 10, expected_date=expected)
    buyer = Customer.objects.get(code="C-NE-001")
    now = timezone.now()
    order = sales_order_create(customer=buyer, actor=None, lines=[OrderLineSpec(item=paper, quantity=D(4))])
    sales_order_confirm(order=order, actor=None, now=now)
    line = SalesOrderLine.objects.select_related("order__ship_to").get(order=order)
    assert line.status == OrderStatus.BACKORDERED
    # Promisable the working day after the truck (the buffer): shipped from then, delivered after the lane's days.
    site = plan_for(buyer, line.order.ship_to, now).sites[buyer.home_warehouse_id]
    promise = site.promise(now=now, requested_date=None, available_from=expected + dt.timedelta(days=1))
    assert (line.ship_date, line.promised_date) == (promise.ship_date, promise.delivery_date)
    assert line.ship_date == expected + dt.timedelta(days=1)
