"""``check_order_invariants``: it holds on orders made through the services and names each corruption."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from inventory import services as stock
from inventory.models import Lot
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders.management.commands.check_order_invariants import status_of_lines
from orders.models import Allocation, Customer, OrderStatus, SalesOrder
from orders.services.sales import OrderLineSpec, sales_order_cancel, sales_order_confirm, sales_order_create
from tests.clock import WEDNESDAY_10AM, days_after_wednesday

D = Decimal


@pytest.fixture
def network(demo: Any) -> None:
    ensure_standard_statuses()


def _receive(twin: Any, site: str, quantity: int, lot: str | None = None, expiry: dt.date | None = None) -> None:
    stock.stock_receive(warehouse=warehouse(site), location=location(site, "A-01-01"), item=twin,
                        quantity=D(quantity), uom="EA", unit_cost=D(2), reference="test", actor=None, lot_number=lot,
                        expiry_date=expiry)


def _draft(*lines: tuple[Any, str], customer: str = "C-NE-001") -> SalesOrder:
    buyer = Customer.objects.get(code=customer)
    return sales_order_create(customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
                              lines=[OrderLineSpec(item=twin, quantity=D(quantity), uom="EA")
                                     for twin, quantity in lines])


def _confirmed(*lines: tuple[Any, str], customer: str = "C-NE-001") -> SalesOrder:
    return sales_order_confirm(order=_draft(*lines, customer=customer), actor=None, now=WEDNESDAY_10AM)


def _sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:  # behind the services' back
        cursor.execute(statement, params)


def _violations(count: int | None = None) -> str:
    err = StringIO()
    with pytest.raises(CommandError, match=f"{count if count is not None else ''} order invariant violation"):
        call_command("check_order_invariants", stdout=StringIO(), stderr=err)
    return err.getvalue()


def _hold() -> None:
    out = StringIO()
    call_command("check_order_invariants", stdout=out)
    assert "Order invariants hold." in out.getvalue()


@pytest.fixture
def plain(network: Any) -> Any:
    """A stock-free twin of a plain SKU with 10 EA at NE-NYC and 10 at SE-ATL."""
    twin = item("CLN-0003")
    _receive(twin, "NE-NYC", 10)
    _receive(twin, "SE-ATL", 10)
    return twin


# --- the command agrees with the services ---------------------------------------------------------------


def test_the_order_rule_decides_an_orders_status_and_a_draft_has_only_draft_lines():
    assert status_of_lines(["draft", "draft"]) == "draft"
    assert status_of_lines(["draft", "allocated"]) is None
    assert status_of_lines([]) is None
    assert status_of_lines(["allocated", "backordered"]) == "partially_allocated"
    assert status_of_lines(["cancelled", "cancelled"]) == "cancelled"


@pytest.mark.django_db
def test_the_order_invariants_hold_on_orders_taken_confirmed_and_cancelled_through_the_services(plain):
    lotted = item("BEV-0001")
    _receive(lotted, "NE-BOS", 5, lot="SOON", expiry=days_after_wednesday(37))
    _receive(lotted, "NE-BOS", 5, lot="LATE", expiry=days_after_wednesday(188))
    _draft((plain, "3"))
    allocated = _confirmed((plain, "4"))
    partial = _confirmed((plain, "9"), (lotted, "7"))
    backordered = _confirmed((plain, "2"))
    lots = _confirmed((lotted, "2"), (lotted, "4"), customer="C-NE-004")
    sales_order_cancel(order=allocated, actor=None)
    sales_order_cancel(order=_draft((plain, "1")), actor=None)
    assert [partial.status, backordered.status, lots.status] == [
        OrderStatus.PARTIALLY_ALLOCATED, OrderStatus.BACKORDERED, OrderStatus.PARTIALLY_ALLOCATED]
    assert Allocation.objects.filter(lot__isnull=False).exists()

    _hold()
    call_command("check_inventory_invariants", stdout=StringIO())


# --- each corruption is reported, one line each, and fails the command -----------------------------------


@pytest.mark.django_db
def test_a_summary_allocating_more_than_its_open_allocations_fails_the_command(plain):
    _confirmed((plain, "4"))
    _sql("UPDATE inventory_itemwarehousesummary SET allocated = allocated + 1 WHERE item_id = %s "
         "AND warehouse_id = %s", [plain.pk, warehouse("NE-NYC").pk])

    report = _violations(1)

    assert report == ("summary's allocated differs from its open allocations: T-CLN-0003 at NE-NYC: "
                      "summary allocated 5.0000, open allocations sum to 4.0000\n")


@pytest.mark.django_db
def test_open_allocations_where_the_item_has_no_summary_fail_the_command(plain):
    order = _confirmed((plain, "4"))
    _sql("UPDATE orders_allocation SET warehouse_id = %s WHERE line_id IN "
         "(SELECT id FROM orders_salesorderline WHERE order_id = %s)", [warehouse("SE-MIA").pk, order.pk])

    report = _violations(2)

    assert ("open allocations without an item-warehouse summary: T-CLN-0003 at SE-MIA: 4.0000 held by "
            "1 open allocation(s)") in report
    assert ("summary's allocated differs from its open allocations: T-CLN-0003 at NE-NYC: summary allocated "
            "4.0000, open allocations sum to 0") in report


@pytest.mark.django_db
def test_a_line_whose_allocated_quantity_is_not_its_open_allocations_fails_the_command(plain):
    order = _confirmed((plain, "4"), (plain, "3"))
    _sql("UPDATE orders_salesorderline SET allocated_quantity = allocated_quantity - 1, "
         "backordered_quantity = backordered_quantity + 1 WHERE order_id = %s AND line_no = 2", [order.pk])

    report = _violations(1)

    assert report == (f"line's allocated quantity differs from its open allocations: {order.number} line 2: "
                      f"allocated 2.0000, open allocations sum to 3.0000\n")


@pytest.mark.django_db
def test_a_cancelled_line_still_holding_an_open_allocation_fails_the_command(plain):
    order = sales_order_cancel(order=_confirmed((plain, "4")), actor=None)
    allocation = Allocation.objects.get(line__order=order)
    _sql("UPDATE orders_allocation SET status = 'open' WHERE id = %s", [allocation.pk])

    report = _violations()

    assert (f"cancelled line with an open allocation: {order.number} line 1: allocation {allocation.pk} of 4.0000 "
            f"at NE-NYC") in report
    assert f"{order.number} line 1: allocated 0.0000, open allocations sum to 4.0000" in report
    assert "T-CLN-0003 at NE-NYC: summary allocated 0.0000, open allocations sum to 4.0000" in report


@pytest.mark.django_db
def test_a_line_promising_more_than_its_quantity_fails_the_command(plain):
    order = _confirmed((plain, "15"))  # 10 allocated at NE-NYC, 5 backordered
    # The database refuses this too; the command is the second line of defence, so lift the guard for the test
    # (inside the test's transaction, which rolls the schema change back with everything else; the deferred
    # foreign-key checks run first, as PostgreSQL alters no table with trigger events pending).
    _sql("SET CONSTRAINTS ALL IMMEDIATE")
    _sql("ALTER TABLE orders_salesorderline DROP CONSTRAINT salesorderline_allocated_within_open_quantity")
    _sql("UPDATE orders_salesorderline SET backordered_quantity = 6 WHERE order_id = %s", [order.pk])

    report = _violations(1)

    assert report == (f"line's allocated, backordered and shipped exceed its quantity: {order.number} line 1: "
                      f"quantity 15.0000, allocated 10.0000 + backordered 6.0000 + shipped 0.0000\n")


@pytest.mark.django_db
def test_an_order_whose_status_disagrees_with_its_lines_fails_the_command(plain):
    partial = _confirmed((plain, "4"), (plain, "8"))  # 4 + 6 allocated, 2 backordered
    draft = _draft((plain, "1"), (plain, "2"))
    lineless = _draft((plain, "1"))
    _sql("UPDATE orders_salesorder SET status = 'allocated' WHERE id = %s", [partial.pk])
    _sql("UPDATE orders_salesorderline SET status = 'backordered' WHERE order_id = %s AND line_no = 2", [draft.pk])
    _sql("DELETE FROM orders_salesorderline WHERE order_id = %s", [lineless.pk])

    report = _violations(3)

    assert (f"order status disagrees with its lines: {partial.number} is allocated; its lines (line 1 allocated, "
            f"line 2 partially_allocated) make it partially_allocated") in report
    assert (f"order status disagrees with its lines: {draft.number} is draft; its lines (line 1 draft, "
            f"line 2 backordered) mix draft with confirmed states") in report
    assert f"order status disagrees with its lines: {lineless.number} is draft and has no lines" in report


@pytest.mark.django_db
def test_an_allocation_of_another_item_or_of_a_lot_of_another_item_fails_the_command(network):
    lotted, other = item("BEV-0001"), item("BEV-0002")
    _receive(lotted, "NE-BOS", 5, lot="L1", expiry=days_after_wednesday(37))
    _receive(other, "NE-BOS", 5, lot="L2", expiry=days_after_wednesday(37))
    first, second = _confirmed((lotted, "2")), _confirmed((other, "3"))
    wrong_lot = Allocation.objects.get(line__order=first)
    wrong_item = Allocation.objects.get(line__order=second)
    _sql("UPDATE orders_allocation SET lot_id = %s WHERE id = %s",
         [Lot.objects.get(item=other, lot_number="L2").pk, wrong_lot.pk])
    _sql("UPDATE orders_allocation SET item_id = %s WHERE id = %s", [lotted.pk, wrong_item.pk])

    report = _violations()

    assert (f"allocation of a lot of another item: allocation {wrong_lot.pk} ({first.number} line 1) of T-BEV-0001 "
            f"holds lot L2, a lot of T-BEV-0002") in report
    assert (f"allocation of another item than its line's: allocation {wrong_item.pk} ({second.number} line 1) holds "
            f"T-BEV-0001, the line is for T-BEV-0002") in report
