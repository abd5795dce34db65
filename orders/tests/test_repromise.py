"""Backorders promised against inbound supply, and promised again when it moves (issue 14, point 7): a backorder
waiting at its warehouse is promised from the arrival that covers it, first come first served; when the supply
moves, ``backorders_repromise`` moves every waiting line's promise in one transaction and raises
``promise_at_risk`` (customer service) on each order promised later than before, nothing on one promised earlier.

The supply here is a provider the test registers (``inventory.supply.register_inbound``) and forgets afterwards;
purchase orders as supply are procurement's tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from governance.models import OperationalException
from inventory import supply
from inventory.services import stock_receive
from inventory.supply import Inbound, Need, covered_first_come
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders.models import Allocation, Customer, OrderStatus, SalesOrderLine
from orders.selectors import plan_for
from orders.services import customer_update
from orders.services.repromise import Repromised, backorders_repromise
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create

pytestmark = pytest.mark.django_db
D = Decimal
OWNER = "test-repromise"


class Supply:
    """Inbound rows the test provider answers with (mutable between calls, as a supplier's dates are)."""

    def __init__(self) -> None:
        self.rows: list[Inbound] = []

    def __call__(self, item_ids: Sequence[int], warehouse_ids: Sequence[int]) -> list[Inbound]:
        return [row for row in self.rows if row.item_id in item_ids and row.warehouse_id in warehouse_ids]

    def arriving(self, product: Any, site: str, on: dt.date, quantity: Any, source: str) -> None:
        self.rows = [row for row in self.rows if row.source != source]
        self.rows.append(Inbound(product.pk, warehouse(site).pk, on, D(str(quantity)), source))


@pytest.fixture
def inbound_supply(demo: Any) -> Iterator[Supply]:
    provider = Supply()
    supply.register_inbound(OWNER, provider)
    try:
        yield provider
    finally:
        supply.unregister_inbound(OWNER)


@pytest.fixture
def product(demo: Any) -> Any:
    ensure_standard_statuses()
    return item("HDW-0007")  # a stock-free twin: everything ordered is backordered


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now()


def _day(now: dt.datetime, days: int) -> dt.date:
    return now.astimezone(dt.UTC).date() + dt.timedelta(days=days)


def _confirmed(product: Any, quantity: Any, now: dt.datetime, customer: str = "C-NE-001") -> SalesOrderLine:
    buyer = Customer.objects.get(code=customer)
    draft = sales_order_create(customer=buyer, actor=None, lines=[OrderLineSpec(item=product, quantity=D(quantity))])
    sales_order_confirm(order=draft, actor=None, now=now)
    return SalesOrderLine.objects.select_related("order__customer", "order__ship_to").get(order=draft)


def _expected(line: SalesOrderLine, now: dt.datetime, arrives: dt.date | None) -> tuple[dt.date | None, dt.date]:
    """What the line's home warehouse promises for stock arriving on ``arrives`` (None: had it the stock)."""
    site = plan_for(line.order.customer, line.order.ship_to, now).sites[line.order.customer.home_warehouse_id]
    promise = site.promise(now=now, requested_date=None, available_from=arrives)
    return (promise.ship_date if arrives else None), promise.delivery_date


def _at_risk(line: SalesOrderLine) -> OperationalException | None:
    return OperationalException.objects.filter(type="promise_at_risk",
                                               business_key=f"promise_at_risk:{line.order.number}").first()


def _repromise(product: Any, now: dt.datetime) -> list[Repromised]:
    return backorders_repromise(item_ids=[product.pk], warehouse_ids=[warehouse("NE-BOS").pk], actor=None, now=now)


def test_covered_first_come_serves_needs_in_order_behind_what_already_waits():
    day = dt.date(2026, 3, 2)
    arriving = {(1, 9): [Inbound(1, 9, day, D(3), "A"), Inbound(1, 9, day + dt.timedelta(days=5), D(4), "B")]}
    needs = [Need(10, 1, 9, D(2)), Need(11, 1, 9, D(2)), Need(12, 1, 9, D(4)), Need(13, 2, 9, D(1))]
    assert covered_first_come(needs, arriving) == {10: day, 11: day + dt.timedelta(days=5)}
    assert covered_first_come(needs[:1], arriving, {(1, 9): D(2)}) == {10: day + dt.timedelta(days=5)}


def test_a_provider_says_what_kind_of_supply_it_is():
    with pytest.raises(ValueError, match="kind"):
        supply.register_inbound("bad", lambda items, warehouses: [], kind="promised")
    with pytest.raises(ValueError, match="on_order_rows"):
        supply.register_inbound("bad", lambda items, warehouses: [], kind="on_order")
    supply.unregister_inbound("never-registered")  # forgetting an unknown owner is nothing
    assert "bad" not in supply._PROVIDERS


def test_a_backorder_is_promised_from_the_arrival_of_a_registered_provider(product, inbound_supply, now):
    inbound_supply.arriving(product, "NE-BOS", _day(now, 10), 5, "IN-1")
    line = _confirmed(product, 5, now)
    assert line.status == OrderStatus.BACKORDERED and line.backordered_quantity == D(5)
    assert (line.ship_date, line.promised_date) == _expected(line, now, _day(now, 10))
    assert line.ship_date >= _day(now, 10) and line.ship_date.weekday() < 5


def test_waiting_orders_are_served_first_come_first_served(product, inbound_supply, now):
    inbound_supply.arriving(product, "NE-BOS", _day(now, 10), 3, "IN-1")
    inbound_supply.arriving(product, "NE-BOS", _day(now, 20), 4, "IN-2")
    first = _confirmed(product, 3, now)
    second = _confirmed(product, 4, now, customer="C-NE-004")
    assert first.promised_date == _expected(first, now, _day(now, 10))[1]
    assert second.promised_date == _expected(second, now, _day(now, 20))[1]
    assert first.promised_date < second.promised_date
    assert _repromise(product, now) == []  # nothing moved: nothing written, nothing raised
    assert _at_risk(first) is None and _at_risk(second) is None


def test_a_later_supply_date_moves_the_promises_and_raises_promise_at_risk_per_order(product, inbound_supply, now):
    inbound_supply.arriving(product, "NE-BOS", _day(now, 10), 3, "IN-1")
    inbound_supply.arriving(product, "NE-BOS", _day(now, 20), 4, "IN-2")
    first = _confirmed(product, 3, now)
    second = _confirmed(product, 4, now, customer="C-NE-004")

    inbound_supply.arriving(product, "NE-BOS", _day(now, 30), 3, "IN-1")  # IN-1 slips past IN-2
    moved = _repromise(product, now)

    # The first order is served first: IN-2 now covers it; the second waits for IN-1 behind it.
    first_new, second_new = _expected(first, now, _day(now, 20)), _expected(second, now, _day(now, 30))
    assert moved == sorted([
        Repromised(first.order.number, 1, product.sku, "NE-BOS", first.promised_date, first_new[1]),
        Repromised(second.order.number, 1, product.sku, "NE-BOS", second.promised_date, second_new[1]),
    ], key=lambda row: row.order_number)
    for line, expected in ((first, first_new), (second, second_new)):
        old = line.promised_date
        line.refresh_from_db()
        assert (line.ship_date, line.promised_date) == expected
        risk = _at_risk(line)
        assert risk is not None and risk.owner_role == "customer_service" and risk.reference == line.order.number
        assert risk.detail["lines"] == [{"line_no": 1, "sku": product.sku, "warehouse": "NE-BOS",
                                         "old_date": old.isoformat(), "new_date": expected[1].isoformat()}]

    _repromise(product, now)  # the same supply again: nothing moves, the exception is not raised again
    assert _at_risk(first).raised_count == 1


def test_an_earlier_supply_date_moves_the_promises_back_without_raising(product, inbound_supply, now):
    inbound_supply.arriving(product, "NE-BOS", _day(now, 30), 5, "IN-1")
    line = _confirmed(product, 5, now)
    late = line.promised_date

    inbound_supply.arriving(product, "NE-BOS", _day(now, 12), 5, "IN-1")
    [moved] = _repromise(product, now)

    line.refresh_from_db()
    assert (line.ship_date, line.promised_date) == _expected(line, now, _day(now, 12))
    assert (moved.old_date, moved.new_date, moved.later) == (late, line.promised_date, False)
    assert _at_risk(line) is None


def test_a_line_no_supply_covers_gets_the_promise_it_would_have_had_without_any(product, inbound_supply, now):
    without = _confirmed(product, 2, now, customer="C-NE-004")  # nothing on its way: its home's due date
    assert without.ship_date is None
    inbound_supply.arriving(product, "NE-BOS", _day(now, 10), 7, "IN-1")
    line = _confirmed(product, 5, now)  # 2 + 5 waiting: covered by the 7
    assert line.ship_date is not None

    inbound_supply.rows = []  # the supply is gone
    moved = _repromise(product, now)

    line.refresh_from_db()
    assert (line.ship_date, line.promised_date) == (None, without.promised_date)
    assert [row.order_number for row in moved] == [line.order.number]


def test_only_lines_waiting_at_the_pairs_asked_about_are_promised_again(product, inbound_supply, now):
    other = item("HDW-0008")
    inbound_supply.arriving(product, "NE-BOS", _day(now, 10), 5, "IN-1")
    inbound_supply.arriving(other, "NE-BOS", _day(now, 10), 5, "IN-2")
    line = _confirmed(product, 5, now)
    elsewhere = _confirmed(other, 5, now)
    inbound_supply.arriving(other, "NE-BOS", _day(now, 25), 5, "IN-2")

    assert _repromise(product, now) == []
    assert backorders_repromise(item_ids=[other.pk], warehouse_ids=[warehouse("NE-NYC").pk], actor=None,
                                now=now) == []
    elsewhere_before = elsewhere.promised_date
    elsewhere.refresh_from_db()
    line.refresh_from_db()
    assert elsewhere.promised_date == elsewhere_before
    assert backorders_repromise(item_ids=[], warehouse_ids=[warehouse("NE-BOS").pk], actor=None, now=now) == []


def test_a_partly_allocated_line_keeps_its_allocations_promise_beside_the_supplys(product, inbound_supply, now):
    stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS"), item=product, quantity=D(2),
                  uom=product.base_uom.code, unit_cost=D("2.50"), reference="repromise test", actor=None)
    customer_update(customer=Customer.objects.get(code="C-NE-001"), actor=None, allow_partial_shipment=True)
    inbound_supply.arriving(product, "NE-BOS", _day(now, 20), 3, "IN-1")
    line = _confirmed(product, 5, now)
    assert (line.status, line.allocated_quantity, line.backordered_quantity) == (
        OrderStatus.PARTIALLY_ALLOCATED, D(2), D(3))
    on_hand_promise = _expected(line, now, None)[1]
    assert line.promised_date == _expected(line, now, _day(now, 20))[1] > on_hand_promise

    inbound_supply.arriving(product, "NE-BOS", _day(now, 30), 3, "IN-1")
    [later] = _repromise(product, now)
    assert (later.new_date, later.later) == (_expected(line, now, _day(now, 30))[1], True)

    inbound_supply.rows = []  # nothing covers the backorder: the line is promised what its allocation is
    [back] = _repromise(product, now)
    line.refresh_from_db()
    allocation = Allocation.objects.get(line=line)
    assert (line.ship_date, line.promised_date) == (allocation.ship_date, allocation.promised_date)
    assert (back.new_date, back.later) == (on_hand_promise, False)


@pytest.mark.parametrize("orders", [1, 4])
def test_repromising_costs_the_same_queries_for_one_order_or_several(product, inbound_supply, now, orders,
                                                                     django_assert_num_queries):
    inbound_supply.arriving(product, "NE-BOS", _day(now, 30), 40, "IN-1")
    for n in range(orders):
        _confirmed(product, 1, now, customer="C-NE-004" if n % 2 else "C-NE-001")
    _repromise(product, now)  # keeps the allocation plans, as a running process has them
    inbound_supply.arriving(product, "NE-BOS", _day(now, 12), 40, "IN-1")  # earlier: no exception to raise
    home = warehouse("NE-BOS").pk
    # The savepoint and the audit stamp, the two locks, the supply (procurement's provider and the transfers'; the
    # test's asks nothing), the plan generation, the update, the release.
    with django_assert_num_queries(9):
        moved = backorders_repromise(item_ids=[product.pk], warehouse_ids=[home], actor=None, now=now)
    assert len(moved) == orders
