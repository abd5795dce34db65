"""Receiving against purchase orders (issue 14, points 4 and 6): at the order's price in the buying entity's
currency, within the over-receipt tolerance, with lots where the item is lot-tracked, landed with its freight; every
refusal writes nothing.

NORD sells in EUR at 1.08 USD; NE-BOS books in USD. The standard tolerance is 5%.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from erp.exceptions import DomainError
from inventory.models import StockMove
from inventory.tests.factories import location, warehouse
from procurement import purchasing, receiving
from procurement.models import PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine, Supplier
from procurement.purchasing import local_date
from procurement.tests.helpers import D, approved, approvers, decide_all, draft, offer, person, twin
from warehouses.transfers.tests.helpers import cost, invariants, on_hand

pytestmark = pytest.mark.django_db
SHELF = "A-01-01"


@pytest.fixture
def paper(demo: Any) -> Any:
    product = twin("PAP-0003")
    offer(product, "NORD", price="4.00", uom="EA")
    return product


@pytest.fixture
def operator(demo: Any) -> Any:
    return person("rcv.operator", "warehouse_operator", warehouses=("NE-BOS",))


def receive(order: PurchaseOrder, actor: Any, *lines: tuple[int, Any], **kwargs: Any) -> Receipt:
    return receiving.receipt_post(
        purchase_order=order, actor=actor, **kwargs,
        lines=[receiving.ReceiptLineSpec(line_no=line_no, quantity=D(str(quantity)), location=SHELF)
               for line_no, quantity in lines])


def test_a_receipt_posts_at_the_orders_price_in_the_entitys_currency(paper, operator):
    order = approved(paper, 100)
    receipt = receive(order, operator, (1, 60))
    assert receipt.number == f"RCV-{receipt.pk:06d}" and receipt.currency == "USD" and receipt.rate == D("1.08")
    line = ReceiptLine.objects.get(receipt=receipt)
    assert (line.quantity, line.price_cost, line.unit_cost, line.status) == (D(60), D("4.32"), D("4.32"), "available")
    assert line.location == location("NE-BOS", SHELF)
    move = StockMove.objects.get(pk=line.move_id)
    assert (move.quantity, move.unit_cost, move.reference_type) == (D(60), D("4.32"), "purchase_receipt")
    assert on_hand(paper, "NE-BOS") == 60
    assert cost(paper, "NE-BOS").unit_cost == D("4.32")
    order.refresh_from_db()
    assert order.status == "partially_received"
    assert PurchaseOrderLine.objects.get(order=order).received_quantity == 60
    receive(order, operator, (1, 40))
    order.refresh_from_db()
    assert order.status == "received" and order.received_at is not None


def test_within_tolerance_is_received_and_beyond_it_is_refused_and_writes_nothing(paper, operator):
    order = approved(paper, 100)
    moves = StockMove.objects.count()
    with pytest.raises(DomainError) as refused:
        receive(order, operator, (1, D("105.01")))
    assert refused.value.code == "over_receipt" and refused.value.status == 409
    assert refused.value.detail["limit"] == "105.0000"
    assert StockMove.objects.count() == moves and not Receipt.objects.filter(purchase_order=order).exists()
    assert PurchaseOrder.objects.get(pk=order.pk).status == "approved"
    receive(order, operator, (1, 105))
    line = ReceiptLine.objects.get(receipt__purchase_order=order)
    assert line.over_quantity == 5
    assert PurchaseOrder.objects.get(pk=order.pk).status == "received"


def test_only_a_supervisor_or_approver_of_the_warehouse_allows_an_over_receipt(paper, operator):
    order = approved(paper, 100)
    with pytest.raises(DomainError) as refused:
        receive(order, operator, (1, 150), allow_over=True)
    assert refused.value.status == 403
    elsewhere = person("rcv.se.supervisor", "warehouse_supervisor", regions=("SE",))
    with pytest.raises(DomainError):
        receive(order, elsewhere, (1, 150), allow_over=True)
    supervisor = person("rcv.supervisor", "warehouse_supervisor", regions=("NE",))
    receipt = receive(order, supervisor, (1, 150), allow_over=True)
    line = ReceiptLine.objects.get(receipt=receipt)
    assert (line.over_quantity, line.over_allowed_by_id) == (D(50), supervisor.pk)


def test_freight_lands_on_the_lines_and_adds_up_to_the_cent(paper, operator):
    other = twin("PAP-0004")
    offer(other, "NORD", price="2.00")
    buyer = person("po.buyer", "buyer", enterprise=True)
    order = purchasing.purchase_order_create(
        supplier=Supplier.objects.get(code="NORD"), warehouse=warehouse("NE-BOS"), actor=buyer,
        lines=[purchasing.OrderLineSpec(item=paper, quantity=D(30)), purchasing.OrderLineSpec(item=other,
                                                                                             quantity=D(70))])
    purchasing.purchase_order_submit(order=order, actor=buyer)
    order = decide_all(order, approvers())
    # 15 at 4.32 USD (64.80) and 35 at 2.16 USD (75.60); 10.00 EUR of freight is 10.80 USD.
    for method, expected in (("quantity", [D("3.24"), D("7.56")]), ("value", [D("4.98"), D("5.82")])):
        receipt = receiving.receipt_post(
            purchase_order=order, actor=operator, freight=receiving.Freight(D("10.00"), "EUR", method),
            lines=[receiving.ReceiptLineSpec(line_no=1, quantity=D(15), location=SHELF),
                   receiving.ReceiptLineSpec(line_no=2, quantity=D(35), location=SHELF)])
        lines = list(ReceiptLine.objects.filter(receipt=receipt).order_by("line_no"))
        assert receipt.freight_base == D("10.80")
        assert [line.freight for line in lines] == expected, method
        assert sum(line.freight for line in lines) == receipt.freight_base
        for line in lines:
            assert line.unit_cost == (line.price_cost + line.freight / line.quantity).quantize(D("0.000001"))
            assert StockMove.objects.get(pk=line.move_id).unit_cost == line.unit_cost


@pytest.mark.parametrize("case, code", [
    ("unknown line", "validation_error"),
    ("zero", "invalid_quantity"),
    ("negative", "invalid_quantity"),
    ("unknown unit", "unknown_uom"),
    ("lot on a non-tracked item", "lot_not_allowed"),
    ("bad status", "validation_error"),
    ("unknown location", "validation_error"),
    ("bad freight method", "validation_error"),
    ("freight without a rate", "missing_exchange_rate"),
    ("no lines", "validation_error"),
])
def test_bad_receipts_are_refused_and_write_nothing(paper, operator, case, code):
    order = approved(paper, 100)
    spec = receiving.ReceiptLineSpec
    lines = {
        "unknown line": [spec(line_no=9, quantity=D(1), location=SHELF)],
        "zero": [spec(line_no=1, quantity=D(0), location=SHELF)],
        "negative": [spec(line_no=1, quantity=D(-1), location=SHELF)],
        "unknown unit": [spec(line_no=1, quantity=D(1), uom="BOX", location=SHELF)],
        "lot on a non-tracked item": [spec(line_no=1, quantity=D(1), lot_number="L1", location=SHELF)],
        "bad status": [spec(line_no=1, quantity=D(1), status="damaged", location=SHELF)],
        "unknown location": [spec(line_no=1, quantity=D(1), location="NOPE-99")],
        "no lines": [],
    }.get(case, [spec(line_no=1, quantity=D(1), location=SHELF)])
    freight = {"bad freight method": receiving.Freight(D("5.00"), "EUR", "by_mood"),
               "freight without a rate": receiving.Freight(D("5.00"), "JPY", "quantity")}.get(case)
    moves = StockMove.objects.count()
    with pytest.raises(DomainError) as refused:
        receiving.receipt_post(purchase_order=order, actor=operator, lines=lines, freight=freight)
    assert refused.value.code == code
    assert StockMove.objects.count() == moves and not Receipt.objects.filter(purchase_order=order).exists()
    assert PurchaseOrderLine.objects.get(order=order).received_quantity == 0


def test_lot_tracked_items_need_a_lot_and_no_past_expiry(operator):
    drink = twin("BEV-0002")
    offer(drink, "NORD", price="1.00")
    order = approved(drink, 50)
    spec = receiving.ReceiptLineSpec
    today = local_date(order.warehouse)
    for lines, code in (([spec(line_no=1, quantity=D(5), location=SHELF)], "lot_required"),
                        ([spec(line_no=1, quantity=D(5), lot_number="B-1", location=SHELF,
                               expiry_date=today - dt.timedelta(days=1))], "validation_error")):
        with pytest.raises(DomainError) as refused:
            receiving.receipt_post(purchase_order=order, actor=operator, lines=lines)
        assert refused.value.code == code
    expiry = today + dt.timedelta(days=90)
    receipt = receiving.receipt_post(purchase_order=order, actor=operator, lines=[
        spec(line_no=1, quantity=D(20), lot_number="B-1", expiry_date=expiry, location=SHELF)])
    line = ReceiptLine.objects.select_related("lot").get(receipt=receipt)
    assert (line.lot.lot_number, line.lot.expiry_date) == ("B-1", expiry)


@pytest.mark.parametrize("status", ["draft", "pending_approval", "cancelled", "closed"])
def test_only_an_approved_order_is_received(paper, operator, status):
    buyer = person("po.buyer", "buyer", enterprise=True)
    order = draft(paper, 10, actor=buyer)
    if status == "pending_approval":
        order = purchasing.purchase_order_submit(order=order, actor=buyer)
    elif status == "cancelled":
        order = purchasing.purchase_order_cancel(order=order, actor=buyer)
    elif status == "closed":
        order = purchasing.purchase_order_close(order=approved(paper, 10), actor=buyer)
    with pytest.raises(DomainError) as refused:
        receive(order, operator, (1, 1))
    assert (refused.value.code, refused.value.status) == ("not_receivable", 409)
    assert not Receipt.objects.filter(purchase_order=order).exists()


def test_the_invariants_hold_after_receipts_and_catch_a_doctored_line(paper, operator):
    order = approved(paper, 100)
    spec = receiving.ReceiptLineSpec
    receiving.receipt_post(purchase_order=order, actor=operator, freight=receiving.Freight(D("7.00"), "EUR", "value"),
                           lines=[spec(line_no=1, quantity=D(30), location=SHELF),
                                  spec(line_no=1, quantity=D(45), location="A-01-02")])
    assert invariants() == ""
    line = ReceiptLine.objects.filter(receipt__purchase_order=order).first()
    ReceiptLine.objects.filter(pk=line.pk).update(unit_cost=line.unit_cost + 1)
    complaints = invariants()
    assert "receipt line disagrees with its ledger move" in complaints or line.receipt.number in complaints
    ReceiptLine.objects.filter(pk=line.pk).update(unit_cost=line.unit_cost)
    PurchaseOrderLine.objects.filter(order=order).update(received_quantity=D(74))
    assert "received 74" in invariants()
