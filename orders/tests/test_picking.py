"""Picking (issue 5, item 4): pick lists by order and by wave in walking order, confirmation with short picks that
reallocate or raise a shortage, cancelling, and the handheld screens.

Stock is received on twins (``T-<sku>``), which hold nothing until a test puts it somewhere. Customers C-NE-001
and C-NE-002 have NE-BOS as their home warehouse; NE-NYC is the rest of region NE. In every warehouse locations
``A-..`` sit under ``STOR`` and ``P-..`` under ``PICK``, so the walk (location path) visits ``PICK/P-..`` before
``STOR/A-..``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from erp.exceptions import ValidationFailed
from governance.models import OperationalException
from inventory import services as stock
from inventory.exceptions import InsufficientStock, UnknownLot
from inventory.models import ItemWarehouseSummary, StockMove
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders.exceptions import InvalidPickListTransition, NothingToPick, OverPick
from orders.models import (
    Allocation,
    AllocationStatus,
    Customer,
    OrderStatus,
    PickLineStatus,
    PickList,
    PickListLine,
    PickListStatus,
    SalesOrder,
    SalesOrderLine,
)
from orders.services.picking import PickAnswer, pick_list_cancel, pick_list_confirm, pick_list_create
from orders.services.sales import OrderLineSpec, sales_order_cancel, sales_order_confirm, sales_order_create
from tests.clock import WEDNESDAY_10AM, WEDNESDAY_DATE, days_after_wednesday
from tests.test_browser import browser, open_page  # noqa: F401  (fixtures of the handheld test, used by name)

D = Decimal
WAVE_CUTOFF = WEDNESDAY_DATE.isoformat()  # the wave of the day the tests confirm on
# A Wednesday morning in Boston (before the 15:00 cutoff: ships that day) and the Wednesday after.
NEXT_WEDNESDAY = WEDNESDAY_10AM + dt.timedelta(days=7)


@pytest.fixture
def network(demo: Any) -> None:
    ensure_standard_statuses()


def _receive(twin: Any, site: str, code: str, quantity: int | str, lot: str | None = None,
             expiry: dt.date | None = None) -> None:
    stock.stock_receive(warehouse=warehouse(site), location=location(site, code), item=twin, quantity=D(quantity),
                        uom="EA", unit_cost=D(2), reference="test", actor=None, lot_number=lot, expiry_date=expiry)


def _order(lines: list[tuple[Any, int | str]], customer: str = "C-NE-001", now: dt.datetime = WEDNESDAY_10AM,
           ) -> SalesOrder:
    buyer = Customer.objects.get(code=customer)
    order = sales_order_create(customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
                               lines=[OrderLineSpec(item=twin, quantity=D(q), uom="EA") for twin, q in lines])
    return sales_order_confirm(order=order, actor=None, now=now)


def _walk(pick_list: PickList) -> list[tuple[str, str, Decimal]]:
    return list(PickListLine.objects.filter(pick_list=pick_list).order_by("sequence")
                .values_list("location__code", "item__sku", "quantity"))


def _allocated(twin: Any, site: str) -> Decimal:
    return ItemWarehouseSummary.objects.get(item=twin, warehouse__code=site).allocated


def _all_picked(pick_list: PickList) -> list[PickAnswer]:
    return [PickAnswer(line_id=pk, picked_quantity=quantity) for pk, quantity in
            PickListLine.objects.filter(pick_list=pick_list).values_list("pk", "quantity")]


def _invariants_hold() -> None:
    for name in ("check_inventory_invariants", "check_order_invariants"):
        out = StringIO()
        call_command(name, stdout=out, stderr=out)
        assert "hold" in out.getvalue(), out.getvalue()


# --- creating lists -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_pick_list_by_order_lists_its_stock_in_walking_order_and_the_order_is_picking(network, user):
    towels, tape = item("CLN-0001"), item("PAP-0001")
    _receive(towels, "NE-BOS", "A-02-01", 10)
    _receive(tape, "NE-BOS", "P-02", 10)
    _receive(tape, "NE-BOS", "A-01-01", 10)
    order = _order([(towels, 4), (tape, 3)])

    pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=user("ne.operator"))

    assert pick_list.number == f"PL-{pick_list.pk:06d}" and pick_list.kind == "order"
    assert pick_list.status == PickListStatus.OPEN and pick_list.created_by.username == "ne.operator"
    # PICK/P-02 comes before STOR/A-02-01 on the walk although "A" sorts before "P".
    assert _walk(pick_list) == [("P-02", "T-PAP-0001", D(3)), ("A-02-01", "T-CLN-0001", D(4))]
    assert list(PickListLine.objects.filter(pick_list=pick_list).values_list("sequence", flat=True)) == [1, 2]
    assert set(Allocation.objects.filter(line__order=order).values_list("pick_list", flat=True)) == {pick_list.pk}
    order.refresh_from_db()
    assert order.status == OrderStatus.PICKING
    assert set(SalesOrderLine.objects.filter(order=order).values_list("status", flat=True)) == {"picking"}
    # Listing holds nothing more: the stock was already allocated.
    assert _allocated(towels, "NE-BOS") == D(4) and _allocated(tape, "NE-BOS") == D(3)
    with pytest.raises(NothingToPick):
        pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)


@pytest.mark.django_db
def test_an_allocation_is_split_over_locations_net_of_what_other_lists_hold(network):
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-02", 5)
    _receive(towels, "NE-BOS", "A-01-04", 5)
    first, second = _order([(towels, 4)]), _order([(towels, 4)])

    one = pick_list_create(warehouse=warehouse("NE-BOS"), order=first, actor=None)
    two = pick_list_create(warehouse=warehouse("NE-BOS"), order=second, actor=None)

    assert _walk(one) == [("A-01-02", "T-CLN-0001", D(4))]
    # A-01-02 has 1 left after the first list: the second order's 4 are split over two locations.
    assert _walk(two) == [("A-01-02", "T-CLN-0001", D(1)), ("A-01-04", "T-CLN-0001", D(3))]
    (allocation,) = Allocation.objects.filter(line__order=second)
    assert set(PickListLine.objects.filter(pick_list=two).values_list("allocation", flat=True)) == {allocation.pk}


@pytest.mark.django_db
def test_a_wave_takes_every_order_shipping_by_the_cutoff_oldest_first_at_its_warehouse_only(network):
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 30)
    _receive(towels, "NE-NYC", "A-01-01", 20)
    older, newer = _order([(towels, 2)]), _order([(towels, 3)], customer="C-NE-004")
    later = _order([(towels, 4)], now=NEXT_WEDNESDAY)
    elsewhere = _order([(towels, 25)])  # 21 left at NE-BOS, so the other 4 from NE-NYC
    assert {a.ship_date for a in Allocation.objects.filter(line__order__in=[older, newer])} == {WEDNESDAY_DATE}

    wave = pick_list_create(warehouse=warehouse("NE-BOS"), wave_cutoff=WEDNESDAY_DATE, actor=None)

    assert wave.kind == "wave" and wave.order is None and wave.wave_cutoff == WEDNESDAY_DATE
    listed = list(PickListLine.objects.filter(pick_list=wave).order_by("sequence")
                  .values_list("order_line__order__number", "quantity"))
    # One location: the walk ties, so the oldest order comes first. NE-NYC's part and next week's order wait.
    assert listed == [(older.number, D(2)), (newer.number, D(3)), (elsewhere.number, D(21))]
    assert not Allocation.objects.filter(line__order=later, pick_list__isnull=False).exists()
    assert not Allocation.objects.filter(warehouse__code="NE-NYC", pick_list__isnull=False).exists()
    with pytest.raises(NothingToPick):
        pick_list_create(warehouse=warehouse("NE-BOS"), wave_cutoff=WEDNESDAY_DATE, actor=None)
    next_wave = pick_list_create(warehouse=warehouse("NE-BOS"), wave_cutoff=days_after_wednesday(7), actor=None)
    assert _walk(next_wave) == [("A-01-01", "T-CLN-0001", D(4))]


@pytest.mark.django_db
def test_a_lot_tracked_allocation_is_picked_where_its_lot_is(network):
    juice = item("BEV-0001")
    _receive(juice, "NE-BOS", "A-01-01", 10, lot="LATE", expiry=days_after_wednesday(280))
    _receive(juice, "NE-BOS", "A-03-01", 4, lot="SOON", expiry=days_after_wednesday(96))
    order = _order([(juice, 6)])  # first expiring first: 4 of SOON, 2 of LATE

    pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)

    assert list(PickListLine.objects.filter(pick_list=pick_list).order_by("sequence")
                .values_list("location__code", "lot__lot_number", "quantity")) == [
        ("A-01-01", "LATE", D(2)), ("A-03-01", "SOON", D(4))]


@pytest.mark.django_db
def test_an_order_with_nothing_allocated_at_the_warehouse_has_nothing_to_pick_there(network):
    lists_before = PickList.objects.count()  # the demo holds a picked list already
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 5)
    order = _order([(towels, 5)])

    with pytest.raises(NothingToPick) as refused:
        pick_list_create(warehouse=warehouse("NE-NYC"), order=order, actor=None)

    assert refused.value.detail == {"warehouse": "NE-NYC", "order": order.number}
    assert PickList.objects.count() == lists_before


@pytest.mark.django_db
def test_either_an_order_or_a_cutoff_is_needed(network):
    lists_before = PickList.objects.count()  # the demo holds a picked list already
    with pytest.raises(ValidationFailed):
        pick_list_create(warehouse=warehouse("NE-BOS"), actor=None)
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 5)
    with pytest.raises(ValidationFailed):
        pick_list_create(warehouse=warehouse("NE-BOS"), order=_order([(towels, 1)]),
                         wave_cutoff=days_after_wednesday(-328), actor=None)
    assert PickList.objects.count() == lists_before


@pytest.mark.django_db
def test_listing_costs_the_same_queries_for_2_and_12_lines(network):
    twins = [item(sku) for sku in ("CLN-0001", "CLN-0002", "CLN-0004", "CLN-0005", "CLN-0006", "CLN-0007")]
    for n, twin in enumerate(twins):
        _receive(twin, "NE-BOS", f"A-0{n % 3 + 1}-0{n % 4 + 1}", 100)

    def listing(lines: int) -> int:
        order = _order([(twins[n % len(twins)], 1) for n in range(lines)])
        with CaptureQueriesContext(connection) as queries:
            pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)
        return len(queries)

    assert listing(12) == listing(2)


# --- confirming ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_list_picked_in_full_holds_the_stock_at_its_location_until_shipping(network, user):
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 10)
    order = _order([(towels, 4)])
    pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)
    moves = StockMove.objects.count()

    done = pick_list_confirm(pick_list=pick_list, answers=_all_picked(pick_list), actor=user("ne.operator"))

    assert done.status == PickListStatus.PICKED and done.picked_by.username == "ne.operator"
    assert done.picked_at is not None
    (line,) = PickListLine.objects.filter(pick_list=pick_list)
    assert (line.status, line.picked_quantity, line.picked_lot) == (PickLineStatus.PICKED, D(4), None)
    (allocation,) = Allocation.objects.filter(line__order=order)
    assert (allocation.status, allocation.quantity, allocation.pick_list_id) == ("open", D(4), pick_list.pk)
    assert _allocated(towels, "NE-BOS") == D(4) and StockMove.objects.count() == moves
    order.refresh_from_db()
    assert order.status == OrderStatus.PICKING
    # The picked 4 stay held at A-01-01: a new order's list must not send anyone there for them.
    other = _order([(towels, 6)])
    assert _walk(pick_list_create(warehouse=warehouse("NE-BOS"), order=other, actor=None)) == [
        ("A-01-01", "T-CLN-0001", D(6))]
    with pytest.raises(InvalidPickListTransition):
        pick_list_confirm(pick_list=pick_list, answers=_all_picked(pick_list), actor=None)
    _invariants_hold()


@pytest.mark.django_db
def test_a_short_pick_reallocates_the_rest_from_another_warehouse_of_the_region(network):
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 5)
    _receive(towels, "NE-NYC", "A-01-01", 10)
    order = _order([(towels, 5)])
    pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)
    (line,) = PickListLine.objects.filter(pick_list=pick_list)

    pick_list_confirm(pick_list=pick_list, answers=[PickAnswer(line_id=line.pk, picked_quantity=D(3))], actor=None)

    line.refresh_from_db()
    assert (line.status, line.picked_quantity) == (PickLineStatus.SHORT, D(3))
    held = dict(Allocation.objects.filter(line__order=order, status="open").values_list("warehouse__code")
                .annotate(total=Sum("quantity")))
    assert held == {"NE-BOS": D(3), "NE-NYC": D(2)}
    assert _allocated(towels, "NE-BOS") == D(3) and _allocated(towels, "NE-NYC") == D(2)
    order_line = SalesOrderLine.objects.get(order=order)
    assert (order_line.allocated_quantity, order_line.backordered_quantity) == (D(5), D(0))
    assert not OperationalException.objects.filter(type="shortage", business_key__endswith=":T-CLN-0001").exists()
    _invariants_hold()


@pytest.mark.django_db
def test_a_short_pick_with_nothing_elsewhere_backorders_and_raises_a_shortage_at_the_picking_warehouse(network):
    towels, tape = item("CLN-0001"), item("PAP-0001")
    _receive(towels, "NE-NYC", "A-01-01", 5)
    _receive(tape, "NE-NYC", "A-02-02", 5)
    # Homed at NE-BOS, which holds none: the order is allocated at NE-NYC, where the picker comes up short.
    order = _order([(towels, 5), (tape, 2)])
    pick_list = pick_list_create(warehouse=warehouse("NE-NYC"), order=order, actor=None)
    lines = {sku: pk for pk, sku in PickListLine.objects.filter(pick_list=pick_list).values_list("pk", "item__sku")}

    pick_list_confirm(pick_list=pick_list, actor=None, answers=[
        PickAnswer(line_id=lines["T-CLN-0001"], picked_quantity=D(2)),
        PickAnswer(line_id=lines["T-PAP-0001"], picked_quantity=D(0))])

    towel_line, tape_line = SalesOrderLine.objects.filter(order=order).order_by("line_no")
    assert (towel_line.allocated_quantity, towel_line.backordered_quantity) == (D(2), D(3))
    assert (tape_line.allocated_quantity, tape_line.backordered_quantity) == (D(0), D(2))
    assert (towel_line.status, tape_line.status) == ("picking", "backordered")
    assert _allocated(towels, "NE-NYC") == D(2) and _allocated(tape, "NE-NYC") == D(0)
    tape_allocation = Allocation.objects.get(line=tape_line)
    assert tape_allocation.status == AllocationStatus.RELEASED
    order.refresh_from_db()
    assert order.status == OrderStatus.BACKORDERED  # its least advanced line
    shortage = OperationalException.objects.get(type="shortage", business_key="shortage:NE-NYC:T-CLN-0001")
    assert shortage.warehouse.code == "NE-NYC" and shortage.reference == pick_list.number
    assert shortage.detail["backordered"] == "3.0000" and shortage.detail["locations"] == ["A-01-01"]
    assert shortage.detail["orders"] == [order.number] and shortage.detail["pick_list"] == pick_list.number
    assert OperationalException.objects.filter(type="shortage", business_key="shortage:NE-NYC:T-PAP-0001").exists()
    _invariants_hold()


@pytest.mark.django_db
def test_another_lot_at_the_location_may_be_picked_and_the_allocation_follows_it(network):
    juice = item("BEV-0001")
    _receive(juice, "NE-BOS", "A-01-01", 5, lot="SOON", expiry=days_after_wednesday(96))
    _receive(juice, "NE-BOS", "A-01-01", 5, lot="LATE", expiry=days_after_wednesday(280))
    _receive(juice, "NE-BOS", "A-02-01", 5, lot="AWAY", expiry=days_after_wednesday(280))
    order = _order([(juice, 4)])
    pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)
    (line,) = PickListLine.objects.filter(pick_list=pick_list)
    assert line.lot.lot_number == "SOON"

    with pytest.raises(UnknownLot):
        pick_list_confirm(pick_list=pick_list, actor=None,
                          answers=[PickAnswer(line_id=line.pk, picked_quantity=D(4), lot_number="NOPE")])
    with pytest.raises(InsufficientStock):  # AWAY is not at A-01-01
        pick_list_confirm(pick_list=pick_list, actor=None,
                          answers=[PickAnswer(line_id=line.pk, picked_quantity=D(4), lot_number="AWAY")])
    pick_list_confirm(pick_list=pick_list, actor=None,
                      answers=[PickAnswer(line_id=line.pk, picked_quantity=D(4), lot_number="LATE")])

    line.refresh_from_db()
    assert (line.status, line.picked_lot.lot_number) == (PickLineStatus.PICKED, "LATE")
    (allocation,) = Allocation.objects.filter(line__order=order)
    assert (allocation.lot.lot_number, allocation.quantity, allocation.status) == ("LATE", D(4), "open")
    _invariants_hold()


@pytest.mark.django_db
def test_an_allocation_picked_from_two_lots_is_split_by_lot(network):
    juice = item("BEV-0001")
    _receive(juice, "NE-BOS", "A-01-01", 3, lot="SOON", expiry=days_after_wednesday(96))
    _receive(juice, "NE-BOS", "A-01-02", 3, lot="SOON", expiry=days_after_wednesday(96))
    _receive(juice, "NE-BOS", "A-01-02", 5, lot="LATE", expiry=days_after_wednesday(280))
    order = _order([(juice, 6)])
    pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)
    first, second = PickListLine.objects.filter(pick_list=pick_list).order_by("sequence")

    pick_list_confirm(pick_list=pick_list, actor=None, answers=[
        PickAnswer(sequence=1, picked_quantity=D(3)),
        PickAnswer(sequence=2, picked_quantity=D(3), lot_number="LATE")])

    held = sorted(Allocation.objects.filter(line__order=order, status="open").values_list("lot__lot_number",
                                                                                          "quantity"))
    assert held == [("LATE", D(3)), ("SOON", D(3))]
    second.refresh_from_db()
    assert second.allocation.lot.lot_number == "LATE" and second.allocation_id != first.allocation_id
    _invariants_hold()


@pytest.mark.django_db
def test_bad_answers_are_refused_and_change_nothing(network):
    towels, juice = item("CLN-0001"), item("BEV-0001")
    _receive(towels, "NE-BOS", "A-01-01", 10)
    _receive(juice, "NE-BOS", "A-01-02", 10, lot="L1")
    order = _order([(towels, 4), (juice, 2)])
    pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)
    towel_line, juice_line = (PickListLine.objects.filter(pick_list=pick_list)
                              .order_by("item__sku").values_list("pk", flat=True)[::-1])
    ok = PickAnswer(line_id=juice_line, picked_quantity=D(2))
    cases = [
        ([PickAnswer(line_id=towel_line, picked_quantity=D(5)), ok], OverPick),
        ([PickAnswer(line_id=towel_line, picked_quantity=D(-1)), ok], ValidationFailed),
        ([PickAnswer(line_id=towel_line, picked_quantity=D("1.00001")), ok], ValidationFailed),
        ([PickAnswer(line_id=towel_line, picked_quantity=D("NaN")), ok], ValidationFailed),
        ([ok], ValidationFailed),
        ([PickAnswer(line_id=towel_line, picked_quantity=D(4)), ok, ok], ValidationFailed),
        ([PickAnswer(line_id=999999999, picked_quantity=D(4)), ok], ValidationFailed),
        ([PickAnswer(line_id=towel_line, picked_quantity=D(4), lot_number="L1"), ok], ValidationFailed),
        ([PickAnswer(line_id=towel_line, picked_quantity=D(4)),
          PickAnswer(line_id=juice_line, picked_quantity=D(2), lot_number="L9")], UnknownLot),
        ([], ValidationFailed),
    ]
    before = (list(PickListLine.objects.order_by("pk").values_list("status", "picked_quantity")),
              list(Allocation.objects.order_by("pk").values_list("status", "quantity", "lot")),
              _allocated(towels, "NE-BOS"))
    for answers, refusal in cases:
        with pytest.raises(refusal):
            pick_list_confirm(pick_list=pick_list, answers=answers, actor=None)
    pick_list.refresh_from_db()
    assert pick_list.status == PickListStatus.OPEN
    assert before == (list(PickListLine.objects.order_by("pk").values_list("status", "picked_quantity")),
                      list(Allocation.objects.order_by("pk").values_list("status", "quantity", "lot")),
                      _allocated(towels, "NE-BOS"))


@pytest.mark.django_db
def test_lines_of_an_order_cancelled_meanwhile_need_no_answer(network):
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 10)
    kept, dropped = _order([(towels, 2)]), _order([(towels, 3)], customer="C-NE-004")
    wave = pick_list_create(warehouse=warehouse("NE-BOS"), wave_cutoff=WEDNESDAY_DATE, actor=None)
    sales_order_cancel(order=dropped, actor=None)
    kept_line = PickListLine.objects.get(pick_list=wave, order_line__order=kept)

    pick_list_confirm(pick_list=wave, actor=None, answers=[PickAnswer(line_id=kept_line.pk, picked_quantity=D(2))])

    assert dict(PickListLine.objects.filter(pick_list=wave).values_list("order_line__order", "status")) == {
        kept.pk: PickLineStatus.PICKED, dropped.pk: PickLineStatus.CANCELLED}
    assert _allocated(towels, "NE-BOS") == D(2)
    _invariants_hold()


@pytest.mark.django_db
def test_confirming_costs_the_same_queries_for_2_and_12_lines(network):
    twins = [item(sku) for sku in ("CLN-0001", "CLN-0002", "CLN-0004", "CLN-0005", "CLN-0006", "CLN-0007")]
    for n, twin in enumerate(twins):
        _receive(twin, "NE-BOS", f"A-0{n % 3 + 1}-0{n % 4 + 1}", 100)

    def confirming(lines: int) -> int:
        order = _order([(twins[n % len(twins)], 1) for n in range(lines)])
        pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)
        answers = _all_picked(pick_list)
        with CaptureQueriesContext(connection) as queries:
            pick_list_confirm(pick_list=pick_list, answers=answers, actor=None)
        return len(queries)

    assert confirming(12) == confirming(2)


# --- cancelling ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cancelling_a_list_puts_its_stock_back_to_wait_for_another_list(network):
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 10)
    order = _order([(towels, 4)])
    pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)

    cancelled = pick_list_cancel(pick_list=pick_list, actor=None)

    assert cancelled.status == PickListStatus.CANCELLED
    assert set(PickListLine.objects.filter(pick_list=pick_list).values_list("status", flat=True)) == {"cancelled"}
    (allocation,) = Allocation.objects.filter(line__order=order)
    assert (allocation.status, allocation.pick_list_id) == ("open", None) and _allocated(towels, "NE-BOS") == D(4)
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    with pytest.raises(InvalidPickListTransition):
        pick_list_cancel(pick_list=pick_list, actor=None)
    with pytest.raises(InvalidPickListTransition):
        pick_list_confirm(pick_list=pick_list, answers=_all_picked(pick_list), actor=None)
    # The released lines hold nothing: the new list goes to A-01-01 again.
    again = pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)
    assert _walk(again) == [("A-01-01", "T-CLN-0001", D(4))]
    _invariants_hold()


# --- the handheld screens -----------------------------------------------------------------------------------


@pytest.fixture
def picker(network: Any, user: Any) -> Client:
    client = Client()
    client.force_login(user("ne.operator"))
    return client


def _screen(name: str, *args: Any) -> str:
    return reverse(f"orders:{name}", args=args)


@pytest.mark.django_db
def test_the_picking_screen_lists_only_my_warehouses_and_starts_a_wave(picker):
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 10)
    _receive(towels, "EU-RTM", "A-01-01", 10)
    _order([(towels, 2)])
    theirs = pick_list_create(warehouse=warehouse("EU-RTM"), actor=None,
                              order=_order([(towels, 2)], customer="C-EU-001"))

    page = picker.get(_screen("pick-list-list"))
    assert page.status_code == 200
    assert b"Start a wave" in page.content and b"Pick one order" in page.content
    assert theirs.number.encode() not in page.content
    response = picker.post(_screen("pick-list-create"), {"kind": "wave", "warehouse": "NE-BOS",
                                                         "wave_cutoff": WAVE_CUTOFF})

    mine = PickList.objects.get(warehouse__code="NE-BOS")
    assert response.status_code == 302 and response["Location"] == _screen("pick-list-detail", mine.pk)
    listed = picker.get(_screen("pick-list-list"), {"warehouse": "NE-BOS"})
    assert mine.number.encode() in listed.content
    assert picker.get(_screen("pick-list-detail", theirs.pk)).status_code == 404
    assert picker.post(_screen("pick-list-pick", theirs.pk), {"line": 1}).status_code == 404
    assert picker.post(_screen("pick-list-confirm", theirs.pk)).status_code == 404
    assert picker.post(_screen("pick-list-cancel", theirs.pk)).status_code == 404
    assert picker.post(_screen("pick-list-cancel", theirs.pk), {"confirm": "yes"}).status_code == 404
    assert picker.get(_screen("pick-list-cancel", theirs.pk)).status_code == 404


@pytest.mark.django_db
def test_starting_picking_with_bad_input_shows_the_problem_and_lists_nothing(picker):
    lists_before = PickList.objects.count()  # the demo holds a picked list already
    for data, problem in (
        ({"kind": "wave", "warehouse": "NE-BOS", "wave_cutoff": WAVE_CUTOFF}, b"Nothing allocated at NE-BOS"),
        ({"kind": "wave", "warehouse": "NE-BOS", "wave_cutoff": "someday"}, b"Enter a valid date"),
        ({"kind": "wave", "warehouse": "NE-BOS"}, b"cut-off date of the wave"),
        ({"kind": "order", "warehouse": "NE-BOS", "order": "SO-999999"}, b"No order SO-999999"),
        ({"kind": "order", "warehouse": "EU-RTM", "order": "SO-1"}, b"Select a valid choice"),
        ({"kind": "nonsense", "warehouse": "NE-BOS"}, b"Select a valid choice"),
    ):
        response = picker.post(_screen("pick-list-create"), data)
        assert response.status_code == 200 and problem in response.content, (data, response.content[-2000:])
    assert PickList.objects.count() == lists_before


@pytest.mark.django_db
def test_a_picker_walks_the_lines_scanning_each_and_confirms_the_list(picker):
    towels, juice = item("CLN-0001"), item("BEV-0001")
    _receive(towels, "NE-BOS", "A-02-01", 10)
    _receive(juice, "NE-BOS", "P-01", 10, lot="L-7")
    order = _order([(towels, 4), (juice, 3)])
    created = picker.post(_screen("pick-list-create"), {"kind": "order", "warehouse": "NE-BOS",
                                                        "order": order.number.lower()})
    pick_list = PickList.objects.get(order=order)
    assert created.status_code == 302
    first, second = PickListLine.objects.filter(pick_list=pick_list).order_by("sequence")
    assert (first.location.code, second.location.code) == ("P-01", "A-02-01")

    page = picker.get(_screen("pick-list-detail", pick_list.pk))
    assert b"Go to P-01" in page.content and b"L-7" in page.content
    pick = _screen("pick-list-pick", pick_list.pk)
    wrong = picker.post(pick, {"line": first.pk, "location": "A-02-01", "sku": "T-BEV-0001", "quantity": "3"})
    assert wrong.status_code == 200 and b"Wrong location: this line is at P-01." in wrong.content
    wrong = picker.post(pick, {"line": first.pk, "location": "p-01", "sku": "T-CLN-0001", "quantity": "3"})
    assert b"Wrong item: this line is T-BEV-0001." in wrong.content
    unknown_lot = picker.post(pick, {"line": first.pk, "location": "P-01", "sku": "T-BEV-0001", "lot": "L-8",
                                     "quantity": "3"})
    assert b"T-BEV-0001 has no lot L-8." in unknown_lot.content
    for bad in ("4", "-1", "lots", ""):
        refused = picker.post(pick, {"line": first.pk, "location": "P-01", "sku": "T-BEV-0001", "quantity": bad})
        assert refused.status_code == 200 and b"field__error" in refused.content, bad
    assert b"Pick every line first" in picker.post(_screen("pick-list-confirm", pick_list.pk),
                                                   follow=True).content

    kept = picker.post(pick, {"line": first.pk, "location": " p-01 ", "sku": "T-BEV-0001", "lot": "", "quantity": "3"})
    assert kept.status_code == 302
    page = picker.get(_screen("pick-list-detail", pick_list.pk))
    assert b"Go to A-02-01" in page.content and b"1 of 2 picked" in page.content
    picker.post(pick, {"line": second.pk, "location": "A-02-01", "sku": "T-CLN-0001", "quantity": "2.5"})
    page = picker.get(_screen("pick-list-detail", pick_list.pk))
    assert b"Every line is picked" in page.content
    assert PickList.objects.get(pk=pick_list.pk).status == PickListStatus.OPEN  # nothing written yet

    done = picker.post(_screen("pick-list-confirm", pick_list.pk), follow=True)

    assert done.status_code == 200 and f"{pick_list.number} is picked.".encode() in done.content
    assert dict(PickListLine.objects.filter(pick_list=pick_list).values_list("item__sku", "picked_quantity")) == {
        "T-BEV-0001": D(3), "T-CLN-0001": D("2.5")}
    pick_list.refresh_from_db()
    assert pick_list.status == PickListStatus.PICKED and pick_list.picked_by.username == "ne.operator"
    again = picker.post(_screen("pick-list-confirm", pick_list.pk), follow=True)
    assert again.status_code == 200 and f"{pick_list.number} is picked: nothing to confirm.".encode() in again.content


@pytest.mark.django_db
def test_a_picker_may_redo_a_line_and_cancel_the_list(picker):
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 10)
    order = _order([(towels, 4)])
    pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=order, actor=None)
    (line,) = PickListLine.objects.filter(pick_list=pick_list)
    picker.post(_screen("pick-list-pick", pick_list.pk),
                {"line": line.pk, "location": "A-01-01", "sku": "T-CLN-0001", "quantity": "1"})

    redo = picker.get(_screen("pick-list-detail", pick_list.pk), {"line": line.pk})
    assert b"Go to A-01-01" in redo.content
    for nonsense in ("9" * 30, "x", "-1", "\u0663"):
        assert picker.get(_screen("pick-list-detail", pick_list.pk), {"line": nonsense}).status_code == 200
        stray = picker.post(_screen("pick-list-pick", pick_list.pk), {"line": nonsense, "location": "A-01-01"},
                            follow=True)
        assert stray.status_code == 200 and b"That line is not open on this list any more." in stray.content
    step = picker.get(_screen("pick-list-cancel", pick_list.pk)).content.decode()
    assert f"Cancel pick list {pick_list.number}?" in step
    assert "Cancels 1 open line at NE-BOS: 4 EA of T-CLN-0001." in step and order.number in step
    assert 'name="reason"' not in step  # the service takes no reason
    one_click = picker.post(_screen("pick-list-cancel", pick_list.pk))
    assert one_click.status_code == 200 and b"Nothing has been done yet" in one_click.content
    assert PickList.objects.get(pk=pick_list.pk).status == PickListStatus.OPEN
    cancelled = picker.post(_screen("pick-list-cancel", pick_list.pk), {"confirm": "yes"}, follow=True)

    assert cancelled.status_code == 200 and b"is cancelled" in cancelled.content
    assert PickList.objects.get(pk=pick_list.pk).status == PickListStatus.CANCELLED
    assert Allocation.objects.get(line__order=order).pick_list_id is None


@pytest.mark.django_db
def test_a_planner_sees_the_lists_but_may_not_pick(network, user):
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 10)
    pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=_order([(towels, 4)]), actor=None)
    client = Client()
    client.force_login(user("planner"))

    page = client.get(_screen("pick-list-detail", pick_list.pk))
    assert page.status_code == 200 and b"Scan the location" not in page.content
    listed = client.get(_screen("pick-list-list"))
    assert pick_list.number.encode() in listed.content and b"Start a wave" not in listed.content
    for name in ("pick-list-pick", "pick-list-confirm", "pick-list-cancel"):
        assert client.post(_screen(name, pick_list.pk)).status_code == 403
    assert client.post(_screen("pick-list-create"), {"kind": "wave", "warehouse": "NE-BOS"}).status_code == 403


@pytest.mark.django_db
def test_the_picking_screens_cost_the_same_queries_for_few_and_many_rows(picker):
    twins = [item(sku) for sku in ("CLN-0001", "CLN-0002", "CLN-0004")]
    for n, twin in enumerate(twins):
        _receive(twin, "NE-BOS", f"A-0{n + 1}-01", 100)
    small = pick_list_create(warehouse=warehouse("NE-BOS"), order=_order([(twins[0], 1)]), actor=None)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert picker.get(url).status_code == 200
        return len(captured)

    picker.get(_screen("pick-list-list"))  # warms the user's permission cache
    few = (queries(_screen("pick-list-list")), queries(_screen("pick-list-detail", small.pk)))
    large = None
    for _ in range(6):
        large = pick_list_create(warehouse=warehouse("NE-BOS"), actor=None,
                                 order=_order([(twins[n % 3], 1) for n in range(12)]))
    assert (queries(_screen("pick-list-list")), queries(_screen("pick-list-detail", large.pk))) == few


# --- in a real browser, on a handheld ---------------------------------------------------------------------------


@pytest.fixture
def handheld_order(demo: Any) -> SalesOrder:
    """Committed before the browser starts (see tests.test_browser.browser): towels at P-02, juice lot L-9 at
    A-03-02, one order of both."""
    ensure_standard_statuses()
    towels, juice = item("CLN-0001"), item("BEV-0001")
    _receive(towels, "NE-BOS", "P-02", 6)
    _receive(juice, "NE-BOS", "A-03-02", 6, lot="L-9")
    return _order([(towels, 4), (juice, 2)])


@pytest.mark.browser
def test_a_picker_walks_a_list_on_a_handheld_by_scanning(handheld_order: SalesOrder, request: Any,
                                                         live_server: Any) -> None:
    from playwright.sync_api import expect

    from tests.test_browser import sign_in
    from tests.test_browser_counts import fits

    new_page = request.getfixturevalue("open_page")
    page, watch = new_page(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    sign_in(page, live_server, "ne.operator", "/picking/")
    assert fits(page), "the picking list scrolls sideways"
    page.select_option("#order_warehouse", "NE-BOS")
    page.fill("#order_order", handheld_order.number)
    page.get_by_role("button", name="Pick order").click()
    page.wait_for_url(re.compile(r".*/picking/\d+/$"))

    location, sku, quantity = page.locator("#pick-location"), page.locator("#pick-sku"), page.locator("#pick-quantity")
    expect(page.locator(".pick-step__where")).to_have_text("Go to P-02")
    expect(location).to_be_focused()
    location.fill("P-02")
    location.press("Enter")
    expect(sku).to_be_focused()
    sku.fill("T-CLN-0001")
    sku.press("Enter")
    expect(quantity).to_be_focused()  # no lots: straight to the quantity, the asked 4 filled in
    expect(quantity).to_have_value("4")
    quantity.fill("3")
    quantity.press("Enter")

    expect(page.locator(".pick-step__where")).to_have_text("Go to A-03-02")
    expect(page.locator("[data-field='progress']")).to_have_text("1 of 2 picked")
    page.locator("#pick-location").fill("A-03-02")
    page.locator("#pick-location").press("Enter")
    page.locator("#pick-sku").fill("T-BEV-0001")
    page.locator("#pick-sku").press("Enter")
    expect(page.locator("#pick-lot")).to_be_focused()
    expect(page.locator("#pick-lot")).to_have_value("L-9")
    page.locator("#pick-lot").press("Enter")
    page.locator("#pick-quantity").press("Enter")
    assert fits(page), "the pick list scrolls sideways"
    page.screenshot(path="/tmp/concord-pick-list-handheld.png", full_page=True)

    page.get_by_role("button", name=re.compile(r"^Confirm PL-")).click()
    expect(page.locator(".messages")).to_contain_text("is picked. 1 line was short")
    expect(page.locator("h1 .badge")).to_have_text("Picked")
    assert fits(page), "the picked list scrolls sideways"
    watch.assert_clean(live_server.url)
