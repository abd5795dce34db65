"""Backorders allocate themselves when stock arrives: by the order's policies, oldest order first, and queued
after the commit that raised the stock (a real Celery worker in the end-to-end test)."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory import services as stock
from inventory.models import ItemWarehouseSummary
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders.models import Allocation, AllocationStatus, Customer, OrderStatus, SalesOrderLine
from orders.services.backorders import backorders_allocate, order_backorders_allocate
from orders.services.sales import OrderLineSpec, sales_order_cancel, sales_order_confirm, sales_order_create
from tests.clock import WEDNESDAY_10AM

D = Decimal


@pytest.fixture
def network(demo: Any) -> Any:
    ensure_standard_statuses()


def _receive(twin: Any, site: str, quantity: int) -> None:
    stock.stock_receive(warehouse=warehouse(site), location=location(site, "A-01-01"), item=twin,
                        quantity=D(quantity), uom="EA", unit_cost=D(2), reference="test", actor=None)


def _backordered(twin: Any, quantity: str, customer: str = "C-NE-001") -> Any:
    buyer = Customer.objects.get(code=customer)
    draft = sales_order_create(customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
                               lines=[OrderLineSpec(item=twin, quantity=D(quantity), uom="EA")])
    order = sales_order_confirm(order=draft, actor=None, now=WEDNESDAY_10AM)
    assert order.status == OrderStatus.BACKORDERED
    return order


def _line(order: Any) -> SalesOrderLine:
    return SalesOrderLine.objects.get(order=order)


@pytest.mark.django_db
def test_a_backorder_allocates_when_its_home_warehouse_receives_and_keeps_its_due_date(network):
    twin = item("CLN-0005")
    order = _backordered(twin, "6")
    due = _line(order).promised_date
    assert due is not None  # a backorder is due when its home warehouse would have delivered it

    _receive(twin, "NE-BOS", 4)
    assert backorders_allocate(item_ids=[twin.pk], now=WEDNESDAY_10AM) == 1

    line = _line(order)
    order.refresh_from_db()
    assert (line.allocated_quantity, line.backordered_quantity) == (D(4), D(2))
    assert line.status == OrderStatus.PARTIALLY_ALLOCATED and order.status == OrderStatus.PARTIALLY_ALLOCATED
    assert line.promised_date == due  # fill rate measures against the first promise
    (allocation,) = Allocation.objects.filter(line=line, status=AllocationStatus.OPEN)
    assert allocation.warehouse.code == "NE-BOS" and allocation.quantity == D(4)
    assert allocation.promised_date is not None and line.ship_date == allocation.ship_date
    assert ItemWarehouseSummary.objects.get(item=twin, warehouse__code="NE-BOS").allocated == D(4)

    _receive(twin, "NE-NYC", 5)  # the same region: the standard sequence takes it
    assert order_backorders_allocate(order=order, now=WEDNESDAY_10AM) == {line.pk: D(2)}
    line = _line(order)
    order.refresh_from_db()
    assert (line.allocated_quantity, line.backordered_quantity, line.status) == (D(6), D(0), "allocated")
    assert order.status == OrderStatus.ALLOCATED
    assert order_backorders_allocate(order=order, now=WEDNESDAY_10AM) == {}  # nothing left to serve
    call_command("check_order_invariants")


@pytest.mark.django_db
def test_the_oldest_backorder_is_served_first_and_the_next_waits(network):
    twin = item("CLN-0006")
    first, second = _backordered(twin, "3"), _backordered(twin, "3")
    _receive(twin, "NE-BOS", 4)
    assert backorders_allocate(item_ids=[twin.pk], now=WEDNESDAY_10AM) == 2  # both got something (split allowed)
    assert _line(first).allocated_quantity == D(3)
    assert (_line(second).allocated_quantity, _line(second).backordered_quantity) == (D(1), D(2))
    call_command("check_order_invariants")


@pytest.mark.django_db
def test_stock_in_another_region_does_not_serve_a_backorder_unless_cross_region_is_allowed(network):
    twin = item("CLN-0007")
    order = _backordered(twin, "2")
    _receive(twin, "SE-ATL", 10)
    assert backorders_allocate(item_ids=[twin.pk], now=WEDNESDAY_10AM) == 0
    assert _line(order).backordered_quantity == D(2)
    assert ItemWarehouseSummary.objects.get(item=twin, warehouse__code="SE-ATL").allocated == 0


@pytest.mark.django_db
def test_a_cancelled_backorder_is_not_served(network):
    twin = item("CLN-0009")
    order = _backordered(twin, "2")
    sales_order_cancel(order=order, actor=None)
    _receive(twin, "NE-BOS", 5)
    assert backorders_allocate(now=WEDNESDAY_10AM) == 0
    assert ItemWarehouseSummary.objects.get(item=twin, warehouse__code="NE-BOS").allocated == 0


@pytest.mark.django_db(transaction=True)
def test_a_receipt_queues_the_allocation_after_its_commit_and_a_real_worker_serves_it(network):
    from celery.app.routes import MapRoute, Router
    from celery.contrib.testing.worker import start_worker

    from erp.celery import app

    twin = item("CLN-0010")
    order = _backordered(twin, "3")
    # A queue of this test's own: the broker is shared with other runs, whose workers must not take the task.
    queue = f"test-backorders-{secrets.token_hex(4)}"
    usual_router = app.amqp.router
    app.amqp.router = Router((MapRoute({"orders.backorders_allocate": {"queue": queue}}), *app.amqp.routes),
                             app.amqp.queues, True, app=app)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=[queue]):
            _receive(twin, "NE-BOS", 3)  # its own command: committed, then the task is queued
            deadline = timezone.now() + dt.timedelta(seconds=20)
            while timezone.now() < deadline and _line(order).backordered_quantity > 0:
                threading.Event().wait(0.2)
    finally:
        app.amqp.router = usual_router
    line = _line(order)
    assert (line.allocated_quantity, line.backordered_quantity, line.status) == (D(3), D(0), "allocated")
    assert ItemWarehouseSummary.objects.get(item=twin, warehouse__code="NE-BOS").allocated == D(3)
    call_command("check_order_invariants")
