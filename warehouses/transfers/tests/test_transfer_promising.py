"""Availability and promising see stock in transit (issue 13, item 5): a backordered line is promised against a
transfer on its way to the customer's home warehouse, from its expected arrival, first come first served; when the
transfer is received, the backorders allocate (the after-commit path that every receipt of stock takes).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from inventory.supply import Inbound, covered_on, inbound
from inventory.tests.factories import warehouse
from orders.models import Customer, OrderStatus, SalesOrderLine
from orders.services.backorders import backorders_allocate
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from warehouses.transfers import services
from warehouses.transfers.tests.helpers import D, approved, stock_at, twin

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(demo: Any) -> Any:
    return twin("HDW-0007")


def _order(product: Any, quantity: Any, customer: str = "C-NE-001") -> SalesOrderLine:
    buyer = Customer.objects.get(code=customer)
    draft = sales_order_create(customer=buyer, actor=None, lines=[OrderLineSpec(item=product, quantity=D(quantity))])
    sales_order_confirm(order=draft, actor=None)
    return SalesOrderLine.objects.select_related("order").get(order=draft)


def test_covered_on_is_the_first_arrival_that_adds_up():
    day = timezone.localdate()
    rows = [Inbound(1, 1, day, D(5), "TR-1"), Inbound(1, 1, day.replace(day=1) if day.day > 1 else day, D(0), "x")]
    rows = sorted(rows, key=lambda r: r.arrives_on)
    assert covered_on(rows, D(5)) == day
    assert covered_on(rows, D(6)) is None
    assert covered_on([], D(0)) is None


def test_inbound_supply_lists_what_is_in_transit_by_expected_arrival(product):
    stock_at(product, "SE-ATL", 50)
    transfer = services.transfer_dispatch(transfer=approved(product, 12), actor=None)
    supply = inbound([product.pk], [warehouse("NE-BOS").pk])
    [row] = supply[(product.pk, warehouse("NE-BOS").pk)]
    assert (row.quantity, row.arrives_on, row.source) == (D(12), transfer.expected_arrival, transfer.number)
    services.transfer_receive(transfer=transfer, actor=None, lines=[services.ReceiveSpec(line_no=1, quantity=D(12))])
    assert inbound([product.pk], [warehouse("NE-BOS").pk]) == {}


def test_a_backorder_is_promised_against_stock_in_transit_first_come_first_served(product):
    without = _order(product, 3)  # nothing anywhere, nothing on its way: promised the home's due date
    assert without.order.status == OrderStatus.BACKORDERED
    stock_at(product, "SE-ATL", 50)
    transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
    covered = _order(product, 7, customer="C-NE-004")  # 3 waiting before it + 7 = the 10 in transit
    assert covered.order.status == OrderStatus.BACKORDERED
    assert covered.ship_date >= transfer.expected_arrival
    assert covered.promised_date > without.promised_date
    beyond = _order(product, 1)  # 11 would be needed: the transfer cannot cover it
    assert beyond.ship_date is None or beyond.ship_date < transfer.expected_arrival


def test_receiving_the_transfer_allocates_the_backorders(product, django_capture_on_commit_callbacks):
    line = _order(product, 6)
    stock_at(product, "SE-ATL", 50)
    transfer = services.transfer_dispatch(transfer=approved(product, 6), actor=None)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.transfer_receive(transfer=transfer, actor=None,
                                  lines=[services.ReceiveSpec(line_no=1, quantity=D(5)),
                                         services.ReceiveSpec(line_no=1, quantity=D(1), status="damaged")])
    assert callbacks, "the receipt announces the stock it raised after its commit"
    assert backorders_allocate(item_ids=[product.pk]) == 1
    line.refresh_from_db()
    assert (line.allocated_quantity, line.backordered_quantity) == (Decimal(5), Decimal(1))
