"""Sales orders: taking, confirming (promise and allocation by policy), backorders and cancelling."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from governance.models import OperationalException
from governance.services.deviations import deviation_approve, deviation_request
from inventory import services as stock
from inventory.models import ItemWarehouseSummary
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders import rules
from orders.exceptions import DuplicateExternalRef, InvalidOrderTransition
from orders.models import Allocation, AllocationStatus, Customer, OrderStatus, SalesOrderLine
from orders.services.sales import OrderLineSpec, sales_order_cancel, sales_order_confirm, sales_order_create
from tests.clock import WEDNESDAY_10AM, WEDNESDAY_DATE, days_after_wednesday

D = Decimal


@pytest.fixture
def network(demo: Any) -> Any:
    ensure_standard_statuses()


def _receive(twin: Any, site: str, quantity: int, lot: str | None = None) -> None:
    stock.stock_receive(warehouse=warehouse(site), location=location(site, "A-01-01"), item=twin,
                        quantity=D(quantity), uom="EA", unit_cost=D(2), reference="test", actor=None, lot_number=lot)


def _order(twin: Any, quantity: str, *, customer: str = "C-NE-001", ref: str = "", **line: Any) -> Any:
    buyer = Customer.objects.select_related("home_warehouse").get(code=customer)
    return sales_order_create(customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), external_ref=ref,
                              lines=[OrderLineSpec(item=twin, quantity=D(quantity), uom="EA", **line)], actor=None)


def _allocated(twin: Any, site: str) -> Decimal:
    return ItemWarehouseSummary.objects.get(item=twin, warehouse__code=site).allocated


def _allow_cross_region(user: Any) -> None:
    start = WEDNESDAY_DATE  # the day the tests confirm on, never the real today
    deviation = deviation_request(policy_key="fulfillment.cross_region_allowed", scope_type="warehouse",
                                  scope_code="NE-BOS", value=True, rationale="Peak season: ship from SE-ATL",
                                  effective_from=start, effective_to=start + dt.timedelta(days=30),
                                  actor=user("ne.operator"))
    deviation_approve(deviation=deviation, actor=user("owner"))


@pytest.mark.django_db
def test_a_sku_missing_at_the_home_warehouse_allocates_from_the_same_region_with_its_promise(network):
    twin = item("CLN-0003")
    _receive(twin, "NE-NYC", 10)
    _receive(twin, "SE-ATL", 10)
    order = sales_order_confirm(order=_order(twin, "4"), actor=None, now=WEDNESDAY_10AM)
    assert order.status == OrderStatus.ALLOCATED
    line = SalesOrderLine.objects.get(order=order)
    assert line.warehouse.code == "NE-NYC" and line.allocated_quantity == D(4) and line.backordered_quantity == 0
    assert _allocated(twin, "NE-NYC") == D(4)
    # NE-NYC ships today (before its 15:00 cutoff); the NE-to-NE lane's transit decides the delivery.
    from warehouses.models import CarrierLane

    days = min(CarrierLane.objects.filter(origin_region__code="NE", destination_region__code="NE")
               .values_list("transit_days", flat=True))
    assert line.ship_date == WEDNESDAY_DATE
    assert line.promised_date == rules.add_transit(WEDNESDAY_DATE, days)


@pytest.mark.django_db
def test_when_the_region_runs_out_the_rest_backorders_with_one_shortage_exception(network):
    twin = item("CLN-0003")
    _receive(twin, "NE-NYC", 10)
    _receive(twin, "SE-ATL", 10)
    first = sales_order_confirm(order=_order(twin, "15"), actor=None, now=WEDNESDAY_10AM)
    assert first.status == OrderStatus.PARTIALLY_ALLOCATED
    line = SalesOrderLine.objects.get(order=first)
    assert (line.allocated_quantity, line.backordered_quantity) == (D(10), D(5))
    assert _allocated(twin, "SE-ATL") == 0  # cross-region allocation is off by standard
    second = sales_order_confirm(order=_order(twin, "2"), actor=None, now=WEDNESDAY_10AM)
    assert second.status == OrderStatus.BACKORDERED
    shortage = OperationalException.objects.get(type="shortage", business_key=f"shortage:NE-BOS:{twin.sku}")
    assert shortage.raised_count == 2 and shortage.owner_role == "planner" and shortage.warehouse.code == "NE-BOS"


@pytest.mark.django_db
def test_with_cross_region_allowed_the_rest_comes_from_another_region(network, user):
    twin = item("CLN-0003")
    _receive(twin, "NE-NYC", 10)
    _receive(twin, "SE-ATL", 10)
    _allow_cross_region(user)
    order = sales_order_confirm(order=_order(twin, "15"), actor=None, now=WEDNESDAY_10AM)
    assert order.status == OrderStatus.ALLOCATED
    takes = dict(Allocation.objects.filter(line__order=order).values_list("warehouse__code")
                 .annotate(q=Sum("quantity")))
    assert takes == {"NE-NYC": D(10), "SE-ATL": D(5)}


@pytest.mark.django_db
def test_a_customer_refusing_partial_shipments_gets_a_line_whole_from_one_warehouse_or_backordered(network):
    twin = item("CLN-0003")
    _receive(twin, "NE-NYC", 10)
    Customer.objects.filter(code="C-NE-001").update(allow_partial_shipment=False)
    order = sales_order_confirm(order=_order(twin, "15"), actor=None, now=WEDNESDAY_10AM)
    line = SalesOrderLine.objects.get(order=order)
    assert order.status == OrderStatus.BACKORDERED and line.allocated_quantity == 0 and _allocated(twin, "NE-NYC") == 0


@pytest.mark.django_db
def test_lots_are_allocated_first_expiring_first_and_never_expired(network):
    twin = item("BEV-0001")  # lot-tracked
    stock.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                        quantity=D(5), uom="EA", unit_cost=D(1), reference="t", actor=None, lot_number="LATE",
                        expiry_date=days_after_wednesday(188))
    stock.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                        quantity=D(5), uom="EA", unit_cost=D(1), reference="t", actor=None, lot_number="SOON",
                        expiry_date=days_after_wednesday(37))
    stock.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                        quantity=D(50), uom="EA", unit_cost=D(1), reference="t", actor=None, lot_number="GONE",
                        expiry_date=days_after_wednesday(-1))
    order = sales_order_confirm(order=_order(twin, "7"), actor=None, now=WEDNESDAY_10AM)
    lots = list(Allocation.objects.filter(line__order=order).order_by("id").values_list("lot__lot_number", "quantity"))
    assert lots == [("SOON", D(5)), ("LATE", D(2))]


@pytest.mark.django_db
def test_cancelling_releases_every_allocation_and_confirming_twice_is_refused(network):
    twin = item("CLN-0003")
    _receive(twin, "NE-NYC", 10)
    order = sales_order_confirm(order=_order(twin, "6"), actor=None, now=WEDNESDAY_10AM)
    with pytest.raises(InvalidOrderTransition):
        sales_order_confirm(order=order, actor=None)
    cancelled = sales_order_cancel(order=order, actor=None)
    assert cancelled.status == OrderStatus.CANCELLED and _allocated(twin, "NE-NYC") == 0
    assert set(Allocation.objects.filter(line__order=order).values_list("status", flat=True)) == {
        AllocationStatus.RELEASED}
    with pytest.raises(InvalidOrderTransition):
        sales_order_cancel(order=order, actor=None)


@pytest.mark.django_db
def test_an_external_reference_is_unique_per_customer(network):
    twin = item("CLN-0003")
    _order(twin, "1", ref="PO-77")
    with pytest.raises(DuplicateExternalRef):
        _order(twin, "1", ref="PO-77")
    _order(twin, "1", ref="PO-77", customer="C-NE-002")


@pytest.mark.django_db
def test_confirming_costs_the_same_queries_for_1_and_50_lines(network):
    from orders.models import Customer as C

    buyer = C.objects.get(code="C-NE-001")
    twins = [item(sku) for sku in ("CLN-0001", "CLN-0002", "CLN-0004", "CLN-0005", "CLN-0006")]
    for twin in twins:
        _receive(twin, "NE-BOS", 1000)

    def confirm(lines: int) -> int:
        specs = [OrderLineSpec(item=twins[n % len(twins)], quantity=D(1), uom="EA") for n in range(lines)]
        order = sales_order_create(customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), lines=specs, actor=None)
        with CaptureQueriesContext(connection) as queries:
            sales_order_confirm(order=order, actor=None, now=WEDNESDAY_10AM)
        return len(queries)

    assert confirm(50) == confirm(1)


@pytest.mark.django_db
def test_writes_along_with_a_move_are_made_with_it_and_not_without_it(network):
    """``document_move_from(..., along=...)``: the line update that goes with the order's move lands with it, and
    writes nothing when the order is no longer where the move starts (the 409 of a confirm that lost a race)."""
    from erp.lifecycle import IF_MOVED, document_move_from

    draft = _order(item("CLN-0009"), "3")
    line = draft.lines.get()
    along = [(f"UPDATE orders_salesorderline SET backordered_quantity = %s WHERE id = %s AND {IF_MOVED}",
              [D(3), line.pk])]
    moved = document_move_from(draft, OrderStatus.DRAFT, OrderStatus.BACKORDERED, may_move=rules.order_may_move,
                               refused=InvalidOrderTransition, along=along)
    assert moved.status == OrderStatus.BACKORDERED
    assert SalesOrderLine.objects.get(pk=line.pk).backordered_quantity == D(3)

    again = [(f"UPDATE orders_salesorderline SET backordered_quantity = 0 WHERE id = %s AND {IF_MOVED}", [line.pk])]
    with pytest.raises(InvalidOrderTransition, match="is backordered"):
        document_move_from(draft, OrderStatus.DRAFT, OrderStatus.BACKORDERED, may_move=rules.order_may_move,
                           refused=InvalidOrderTransition, along=again)
    assert SalesOrderLine.objects.get(pk=line.pk).backordered_quantity == D(3)

    unguarded = [("UPDATE orders_salesorderline SET backordered_quantity = 0 WHERE id = %s", [line.pk])]
    with pytest.raises(ValueError, match="must hold"):
        document_move_from(moved, OrderStatus.BACKORDERED, OrderStatus.CANCELLED, may_move=rules.order_may_move,
                           refused=InvalidOrderTransition, along=unguarded)
    assert SalesOrderLine.objects.get(pk=line.pk).backordered_quantity == D(3)
