"""Transfers under concurrency (issue 13, item 9): real threads, each on its own PostgreSQL connection, committed
data. Exactly one of two conflicting commands wins; the loser gets a domain refusal (409), never a deadlock, a
serialization failure or a 500; nothing goes negative; every race ends with ``check_inventory_invariants``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from erp.exceptions import DomainError
from inventory.models import StockBalance, StockMove
from inventory.services.counts import CountEntry, CountPair, cycle_count_create, cycle_count_submit
from inventory.tests.factories import location, warehouse
from orders.models import Customer
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from tests.races import race
from warehouses.transfers import services
from warehouses.transfers.models import Transfer, TransferStatus
from warehouses.transfers.tests.helpers import D, approved, invariants, on_hand, stock_at, summary, twin

ROUNDS = 3

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def product(demo: Any) -> Any:
    return twin("CLN-0006")


def _refused(outcome: Any) -> bool:
    return isinstance(outcome, DomainError) and outcome.status == 409


def _no_negative_balance(product: Any) -> None:
    assert not StockBalance.objects.filter(item=product, on_hand__lt=0).exists()


def test_dispatch_racing_cancel_lets_exactly_one_win(product):
    stock_at(product, "SE-ATL", 100)
    for _ in range(ROUNDS):
        transfer = approved(product, 10)
        before = on_hand(product, "SE-ATL")
        dispatched, cancelled = race(lambda t=transfer: services.transfer_dispatch(transfer=t, actor=None),
                                     lambda t=transfer: services.transfer_cancel(transfer=t, actor=None))
        transfer.refresh_from_db()
        moved = StockMove.objects.filter(reference_type="transfer", reference_id=str(transfer.pk)).count()
        if isinstance(dispatched, Transfer):
            assert _refused(cancelled), cancelled
            assert transfer.status == TransferStatus.DISPATCHED and moved == 2
            assert on_hand(product, "SE-ATL") == before - 10
        else:
            assert _refused(dispatched), dispatched
            assert isinstance(cancelled, Transfer) and transfer.status == TransferStatus.CANCELLED
            assert moved == 0 and on_hand(product, "SE-ATL") == before
    _no_negative_balance(product)
    assert invariants() == ""


def test_two_dispatches_of_one_transfer_ship_it_once(product):
    stock_at(product, "SE-ATL", 100)
    for _ in range(ROUNDS):
        transfer = approved(product, 10)
        outcomes = race(*[lambda t=transfer: services.transfer_dispatch(transfer=t, actor=None)] * 2)
        assert sorted(isinstance(o, Transfer) for o in outcomes) == [False, True], outcomes
        assert all(isinstance(o, Transfer) or _refused(o) for o in outcomes), outcomes
        assert StockMove.objects.filter(reference_type="transfer", reference_id=str(transfer.pk)).count() == 2
    assert on_hand(product, "SE-ATL") == 100 - 10 * ROUNDS
    assert on_hand(product, "NE-BOS", "in_transit") == 10 * ROUNDS
    assert invariants() == ""


def test_two_receipts_of_the_same_lines_receive_them_once(product):
    stock_at(product, "SE-ATL", 100)
    for _ in range(ROUNDS):
        transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
        spec = [services.ReceiveSpec(line_no=1, quantity=D(10))]
        outcomes = race(*[lambda t=transfer, s=spec: services.transfer_receive(transfer=t, actor=None, lines=s)] * 2)
        assert sorted(isinstance(o, Transfer) for o in outcomes) == [False, True], outcomes
        assert all(isinstance(o, Transfer) or _refused(o) for o in outcomes), outcomes
        line = transfer.lines.get()
        assert (line.received_quantity, line.over_quantity, line.in_transit) == (D(10), D(0), D(0))
    # another transfer's goods in the same transit location are never taken by a duplicate receipt
    assert on_hand(product, "NE-BOS") == 10 * ROUNDS
    assert on_hand(product, "NE-BOS", "in_transit") == 0
    _no_negative_balance(product)
    assert invariants() == ""


def test_a_duplicate_receipt_never_takes_another_transfers_goods_in_transit(product):
    stock_at(product, "SE-ATL", 100)
    waiting = services.transfer_dispatch(transfer=approved(product, 7), actor=None)  # stays in transit
    transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
    spec = [services.ReceiveSpec(line_no=1, quantity=D(10))]
    outcomes = race(*[lambda: services.transfer_receive(transfer=transfer, actor=None, lines=spec)] * 2)
    assert sorted(isinstance(o, Transfer) for o in outcomes) == [False, True], outcomes
    assert on_hand(product, "NE-BOS", "in_transit") == 7
    assert waiting.lines.get().in_transit == 7
    assert invariants() == ""


def test_a_receipt_racing_a_count_at_the_target_loses_no_update(product):
    stock_at(product, "NE-BOS", 5, code="RCV")
    stock_at(product, "SE-ATL", 100)
    operator = None
    for _ in range(ROUNDS):
        transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
        spot = location("NE-BOS", "RCV")
        there = sum(StockBalance.objects.filter(item=product, location=spot, status__code="available")
                    .values_list("on_hand", flat=True), D(0))
        count = cycle_count_create(warehouse=warehouse("NE-BOS"), actor=operator,
                                   pairs=[CountPair(location=spot, item=product)])
        received, counted = race(
            lambda t=transfer: services.transfer_receive(transfer=t, actor=None,
                                                         lines=[services.ReceiveSpec(line_no=1, quantity=D(10))]),
            lambda c=count, q=there, at=spot: cycle_count_submit(count=c, actor=operator, entries=[
                CountEntry(location=at, item=product, uom="EA", quantity=q)]),
        )
        assert isinstance(received, Transfer), received
        assert not isinstance(counted, BaseException) or _refused(counted), counted
    ledger = sum(StockMove.objects.filter(item=product, warehouse__code="NE-BOS").values_list("quantity", flat=True),
                 D(0))
    assert ledger == summary(product, "NE-BOS").on_hand
    _no_negative_balance(product)
    assert invariants() == ""


def test_a_dispatch_racing_an_order_for_the_last_units_never_oversells(product):
    stock_at(product, "SE-ATL", 10)
    customer = Customer.objects.get(code="C-SE-001")
    for _ in range(ROUNDS):
        transfer = approved(product, 8)
        order = sales_order_create(customer=customer, actor=None, lines=[OrderLineSpec(item=product, quantity=D(8))])
        dispatched, confirmed = race(lambda t=transfer: services.transfer_dispatch(transfer=t, actor=None),
                                     lambda o=order: sales_order_confirm(order=o, actor=None))
        assert not isinstance(confirmed, BaseException), confirmed
        assert isinstance(dispatched, Transfer) or _refused(dispatched), dispatched
        row = summary(product, "SE-ATL")
        assert 0 <= row.allocated <= row.allocatable_on_hand
        if isinstance(dispatched, Transfer):
            services.transfer_receive(transfer=dispatched, actor=None,
                                      lines=[services.ReceiveSpec(line_no=1, quantity=D(8))])
        else:
            services.transfer_cancel(transfer=transfer, actor=None)
        stock_at(product, "SE-ATL", 8)
    _no_negative_balance(product)
    assert invariants() == ""
    assert Decimal(0) <= summary(product, "SE-ATL").allocated
