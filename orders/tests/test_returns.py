"""Returns (issue 5, item 6): an authorization against shipped lines, its receipt at the warehouse, which is the
inspection: each line posted in as returned stock at the cost it shipped at and moved by its disposition to
available, quality hold or damaged, each a ledger move; damaged goods raise an exception.

Orders are taken, confirmed, picked, packed and shipped through the services (``shipped_order``), on twins of the
demo's items (``T-<sku>``), which hold nothing until a test receives stock.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from erp.exceptions import DomainError, ValidationFailed
from governance.models import OperationalException
from governance.selectors import local_date
from governance.services.deviations import deviation_approve, deviation_request
from inventory import services as stock
from inventory.exceptions import InvalidQuantity, LocationRequired, LotNotAllowed, LotRequired, UnknownLot
from inventory.models import ItemCost, ItemWarehouseSummary, StockBalance, StockMove
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders.exceptions import (
    DispositionRequired,
    InvalidReturnTransition,
    LineNotShipped,
    ReturnExceedsAuthorized,
    ReturnExceedsShipped,
)
from orders.models import Customer, ReturnAuthorization, ReturnLine, ReturnStatus, SalesOrder, ShipmentLine
from orders.services.picking import PickAnswer, pick_list_confirm, pick_list_create
from orders.services.returns import (
    ReceiptLineSpec,
    ReturnLineSpec,
    return_authorize,
    return_cancel,
    return_receive,
    return_warehouse_default,
    returnable_lines,
)
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from orders.services.shipping import shipment_create, shipment_ship
from tests.races import race
from warehouses.models import Carrier

D = Decimal
BOX = {"weight_kg": D("2.500")}


# --- shipped orders, shared by the returns tests and the scope matrix -----------------------------------------


def stock_at(twin: Any, site: str, quantity: Any, *, unit_cost: Any = "2.50", lot: str | None = None,
             code: str = "P-01") -> None:
    """Receive ``quantity`` EA of ``twin`` at ``site`` (its pick face P-01 by default) at ``unit_cost``."""
    stock.stock_receive(warehouse=warehouse(site), location=location(site, code), item=twin, quantity=D(quantity),
                        uom="EA", unit_cost=D(unit_cost), reference="returns test", actor=None, lot_number=lot)


def ship(order: SalesOrder, site: str) -> None:
    """Pick in full what ``order`` holds at ``site``, pack it and ship it (the services, end to end)."""
    pick_list = pick_list_create(warehouse=warehouse(site), order=order, actor=None)
    pick_list_confirm(pick_list=pick_list, actor=None, answers=[
        PickAnswer(picked_quantity=line.quantity, line_id=line.pk) for line in pick_list.lines.order_by("id")])
    shipment = shipment_create(order=order, warehouse=warehouse(site), actor=None, packages=[BOX],
                               carrier=Carrier.objects.get(code="UPS"))
    shipment_ship(shipment=shipment, actor=None)


def shipped_order(*lines: tuple[Any, Any], customer: str = "C-NE-001", site: str = "NE-BOS") -> SalesOrder:
    """An order of ``(item, quantity)`` lines confirmed and shipped in full from ``site``, where the stock must be
    (the customer's home warehouse takes it first)."""
    buyer = Customer.objects.get(code=customer)
    order = sales_order_create(customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
                               lines=[OrderLineSpec(item=twin, quantity=D(q), uom="EA") for twin, q in lines])
    sales_order_confirm(order=order, actor=None)
    ship(order, site)
    return SalesOrder.objects.get(pk=order.pk)


def invariants_hold() -> None:
    for name in ("check_inventory_invariants", "check_order_invariants"):
        out = StringIO()
        call_command(name, stdout=out, stderr=out)
        assert "hold" in out.getvalue(), out.getvalue()


def inspection_off(site: str, user: Any) -> None:
    """A governed deviation at ``site``: returns are restocked without an inspection."""
    today = local_date(dt.datetime.now(dt.UTC), warehouse(site))
    requester = "ne.operator" if site.startswith("NE") else "eu.operator"
    deviation = deviation_request(policy_key="returns.inspection_required", scope_type="warehouse", scope_code=site,
                                  value=False, rationale="Sealed cases only: restock on receipt",
                                  effective_from=today, effective_to=today + dt.timedelta(days=30),
                                  actor=user(requester))
    deviation_approve(deviation=deviation, actor=user("owner"))


# --- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture
def twin(demo: Any) -> Any:
    ensure_standard_statuses()
    return item("CLN-0005")


@pytest.fixture
def order(twin: Any) -> SalesOrder:
    """10 EA of T-CLN-0005 shipped to C-NE-001 from NE-BOS at 2.50."""
    stock_at(twin, "NE-BOS", 10)
    return shipped_order((twin, 10))


def _moves(rma: ReturnAuthorization) -> list[tuple[str, str, Decimal, Decimal, str | None]]:
    return [(m.location.code, m.status.code, m.quantity, m.unit_cost, m.reason.code if m.reason else None)
            for m in StockMove.objects.filter(reference_type="return", reference_id=str(rma.pk))
            .select_related("location", "status", "reason").order_by("id")]


def _on_hand(twin: Any, site: str, status: str, code: str | None = None) -> Decimal:
    rows = StockBalance.objects.filter(item=twin, warehouse__code=site, status__code=status)
    if code:
        rows = rows.filter(location__code=code)
    return rows.aggregate(total=Sum("on_hand"))["total"] or D(0)


def _ledger() -> tuple[int, Any]:
    return StockMove.objects.count(), ItemWarehouseSummary.objects.aggregate(total=Sum("on_hand"))["total"]


# --- authorizing --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_authorizing_a_return_of_a_shipped_line_numbers_it_and_receives_it_where_it_shipped_from(order, user):
    rma = return_authorize(order=order, lines=[ReturnLineSpec(line_no=1, quantity=D(4))], actor=user("admin"),
                           reason="Wrong scent")

    assert rma.number == f"RMA-{rma.pk:06d}" and rma.status == ReturnStatus.AUTHORIZED
    assert (rma.order_id, rma.customer.code, rma.warehouse.code, rma.reason) == (order.pk, "C-NE-001", "NE-BOS",
                                                                                 "Wrong scent")
    assert rma.created_by.username == "admin"
    (line,) = rma.lines.all()
    assert (line.line_no, line.order_line.line_no, line.quantity, line.received_quantity, line.disposition,
            line.lot, line.warehouse.code) == (1, 1, D(4), D(0), "", None, "NE-BOS")
    # Authorizing moves no stock.
    assert not StockMove.objects.filter(reference_type="return").exists()


@pytest.mark.django_db
def test_the_lines_may_be_given_as_mappings(order):
    rma = return_authorize(order=order, lines=[{"line_no": 1, "quantity": D("2.5")}], actor=None)

    assert rma.lines.get().quantity == D("2.5")
    with pytest.raises(ValidationFailed):
        return_authorize(order=order, lines=[{"line": 1, "quantity": D(1)}], actor=None)


@pytest.mark.django_db
def test_a_return_never_takes_back_more_than_shipped_less_what_other_returns_hold(order, twin):
    first = return_authorize(order=order, lines=[ReturnLineSpec(1, D(6))], actor=None)
    with pytest.raises(ReturnExceedsShipped) as refused:
        return_authorize(order=order, lines=[ReturnLineSpec(1, D(5))], actor=None)
    assert "at most 4" in refused.value.detail["lines"][0]
    second = return_authorize(order=order, lines=[ReturnLineSpec(1, D(4))], actor=None)
    with pytest.raises(ReturnExceedsShipped):
        return_authorize(order=order, lines=[ReturnLineSpec(1, D("0.0001"))], actor=None)

    # Cancelling frees what it held; a received return holds what came back, not what was authorized.
    return_cancel(rma=second, actor=None)
    return_receive(rma=first, lines=[ReceiptLineSpec(1, D(2), "restock")], actor=None)
    assert [row.left for row in returnable_lines(order)] == [D(8)]
    assert return_authorize(order=order, lines=[ReturnLineSpec(1, D(8))], actor=None).status == "authorized"
    with pytest.raises(ReturnExceedsShipped):
        return_authorize(order=order, lines=[ReturnLineSpec(1, D(1))], actor=None)


@pytest.mark.django_db
def test_two_entries_of_one_line_count_together_against_what_shipped(order):
    with pytest.raises(ValidationFailed):
        return_authorize(order=order, lines=[ReturnLineSpec(1, D(6)), ReturnLineSpec(1, D(5))], actor=None)
    assert not ReturnAuthorization.objects.filter(order=order).exists()


@pytest.mark.django_db
def test_only_shipped_lines_of_the_order_can_be_returned(order, twin):
    stock_at(twin, "NE-BOS", 3)
    buyer = Customer.objects.get(code="C-NE-001")
    unshipped = sales_order_confirm(order=sales_order_create(
        customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
        lines=[OrderLineSpec(item=twin, quantity=D(3), uom="EA")]), actor=None)

    with pytest.raises(LineNotShipped):
        return_authorize(order=unshipped, lines=[ReturnLineSpec(1, D(1))], actor=None)
    with pytest.raises(ValidationFailed) as unknown:
        return_authorize(order=order, lines=[ReturnLineSpec(2, D(1))], actor=None)
    assert unknown.value.detail == {"lines": [f"{order.number} has no line 2."]}
    assert not ReturnAuthorization.objects.filter(order__in=[order, unshipped]).exists()


@pytest.mark.parametrize("quantity", [D(0), D(-1), D("0.00001"), D("NaN"), D("Infinity"), "ten", 1.5, None])
@pytest.mark.django_db
def test_a_quantity_must_be_a_positive_number_with_at_most_four_decimals(order, quantity):
    with pytest.raises(InvalidQuantity):
        return_authorize(order=order, lines=[ReturnLineSpec(1, quantity)], actor=None)
    assert not ReturnAuthorization.objects.filter(order=order).exists()


@pytest.mark.django_db
def test_a_lot_tracked_line_comes_back_by_the_lot_it_shipped_from(demo):
    ensure_standard_statuses()
    juice = item("BEV-0002")
    stock_at(juice, "NE-BOS", 6, lot="L-A")
    stock_at(juice, "NE-BOS", 6, lot="L-B")
    order = shipped_order((juice, 10))
    shipped = dict(ShipmentLine.objects.filter(order_line__order=order).values_list("lot__lot_number")
                   .annotate(q=Sum("quantity")))
    assert sum(shipped.values()) == 10 and set(shipped) == {"L-A", "L-B"}

    with pytest.raises(LotRequired):
        return_authorize(order=order, lines=[ReturnLineSpec(1, D(1))], actor=None)
    with pytest.raises(UnknownLot):
        return_authorize(order=order, lines=[ReturnLineSpec(1, D(1), "L-NOPE")], actor=None)
    with pytest.raises(ReturnExceedsShipped):
        return_authorize(order=order, lines=[ReturnLineSpec(1, shipped["L-B"] + 1, "L-B")], actor=None)

    rma = return_authorize(order=order, actor=None, lines=[ReturnLineSpec(1, shipped["L-A"], "L-A"),
                                                           ReturnLineSpec(1, shipped["L-B"], "L-B")])
    assert [(line.line_no, line.lot.lot_number, line.quantity) for line in rma.lines.order_by("line_no")] == [
        (1, "L-A", shipped["L-A"]), (2, "L-B", shipped["L-B"])]
    with pytest.raises(ValidationFailed):
        return_authorize(order=order, actor=None,
                         lines=[ReturnLineSpec(1, D(1), "L-A"), ReturnLineSpec(1, D(1), "L-A")])

    received = return_receive(rma=rma, actor=None, lines=[ReceiptLineSpec(1, shipped["L-A"], "restock"),
                                                          ReceiptLineSpec(2, D(1), "damaged")])
    assert received.status == "received"
    lots = dict(StockBalance.objects.filter(item=juice, warehouse__code="NE-BOS", location__code="RCV",
                                            status__code="available").values_list("lot__lot_number", "on_hand"))
    assert lots == {"L-A": shipped["L-A"]}
    assert StockBalance.objects.get(item=juice, location__code="RCV", status__code="damaged").lot.lot_number == "L-B"


@pytest.mark.django_db
def test_a_line_shipped_from_one_lot_needs_no_lot_and_a_plain_item_takes_none(demo, order):
    snack = item("SNK-0003")
    stock_at(snack, "NE-BOS", 5, lot="S-1")
    one_lot = shipped_order((snack, 5))

    rma = return_authorize(order=one_lot, lines=[ReturnLineSpec(1, D(2))], actor=None)
    assert rma.lines.get().lot.lot_number == "S-1"
    with pytest.raises(LotNotAllowed):
        return_authorize(order=order, lines=[ReturnLineSpec(1, D(1), "S-1")], actor=None)


@pytest.mark.django_db
def test_the_goods_come_back_to_the_warehouse_that_shipped_most_or_one_of_the_same_books(twin):
    other = item("CLN-0006")
    stock_at(twin, "NE-BOS", 2)
    stock_at(other, "NE-NYC", 5)
    # C-NE-001's home is NE-BOS; the second line is found at NE-NYC (same region, same legal entity US01).
    order = shipped_order((twin, 2), (other, 5), site="NE-BOS")
    ship(order, "NE-NYC")

    assert return_warehouse_default(order=order, line_nos=[1, 2]).code == "NE-NYC"
    assert return_warehouse_default(order=order, line_nos=[1]).code == "NE-BOS"
    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(1)), ReturnLineSpec(2, D(5))], actor=None)
    assert rma.warehouse.code == "NE-NYC"
    with pytest.raises(ValidationFailed) as foreign:  # SE-ATL keeps the books of US02
        return_authorize(order=order, lines=[ReturnLineSpec(1, D(1))], warehouse=warehouse("SE-ATL"), actor=None)
    assert set(foreign.value.detail) == {"warehouse"}
    named = return_authorize(order=order, lines=[ReturnLineSpec(1, D(1))], warehouse=warehouse("NE-NYC"),
                             actor=None)
    assert named.warehouse.code == "NE-NYC"
    assert ReturnAuthorization.objects.filter(order=order).count() == 2


@pytest.mark.django_db
def test_an_inactive_warehouse_receives_no_returns(order):
    from warehouses.models import Warehouse

    Warehouse.objects.filter(code="NE-NYC").update(active=False)
    with pytest.raises(ValidationFailed) as refused:
        return_authorize(order=order, lines=[ReturnLineSpec(1, D(1))], warehouse=warehouse("NE-NYC"), actor=None)
    assert set(refused.value.detail) == {"warehouse"}
    assert not ReturnAuthorization.objects.filter(order=order).exists()


# --- receiving ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_restocked_goods_come_back_available_at_the_cost_they_shipped_at(order, twin, user):
    operator = user("ne.operator")
    stock_at(twin, "NE-BOS", 10, unit_cost="4.00")  # the average is 4.00 now: nothing else is on hand
    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(4))], actor=None)
    available_before = ItemWarehouseSummary.objects.get(item=twin, warehouse__code="NE-BOS").allocatable_on_hand

    received = return_receive(rma=rma, lines=[ReceiptLineSpec(1, D(3), "restock", note="Sealed")], actor=operator)

    assert received.status == ReturnStatus.RECEIVED and received.received_by == operator
    assert received.received_at is not None
    # In as returned stock at the shipped cost (2.50), out of it and into available: three ledger moves.
    assert _moves(rma) == [
        ("RCV", "returned_pending_inspection", D(3), D("2.500000"), None),
        ("RCV", "returned_pending_inspection", D(-3), D("3.653846"), "INSPECTED"),
        ("RCV", "available", D(3), D("3.653846"), "INSPECTED"),
    ]
    assert StockMove.objects.filter(reference=rma.number).count() == 3
    assert _on_hand(twin, "NE-BOS", "returned_pending_inspection") == 0
    assert _on_hand(twin, "NE-BOS", "available", "RCV") == 3
    summary = ItemWarehouseSummary.objects.get(item=twin, warehouse__code="NE-BOS")
    assert summary.allocatable_on_hand == available_before + 3 and summary.blocked == 0
    cost = ItemCost.objects.get(item=twin, legal_entity__code="US01")
    assert (cost.quantity, cost.unit_cost) == (D(13), D("3.653846"))  # (10 x 4.00 + 3 x 2.50) / 13
    line = ReturnLine.objects.get(rma=rma)
    assert (line.received_quantity, line.disposition, line.location.code, line.note) == (D(3), "restock", "RCV",
                                                                                       "Sealed")
    assert not OperationalException.objects.filter(type="damaged_goods", reference=rma.number).exists()
    invariants_hold()


@pytest.mark.django_db
def test_quarantined_and_damaged_goods_are_blocked_and_raise_damaged_goods(twin):
    other = item("CLN-0006")
    stock_at(twin, "NE-BOS", 10)
    stock_at(other, "NE-BOS", 5)
    order = shipped_order((twin, 10), (other, 5))
    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(4)), ReturnLineSpec(2, D(5))], actor=None)

    return_receive(rma=rma, actor=None, lines=[ReceiptLineSpec(1, D(4), "quarantine", location="DOCK-1"),
                                               ReceiptLineSpec(2, D(2), "damaged", note="Crushed")])

    assert _on_hand(twin, "NE-BOS", "quality_hold", "DOCK-1") == 4
    assert _on_hand(other, "NE-BOS", "damaged", "RCV") == 2
    assert _on_hand(twin, "NE-BOS", "available") == _on_hand(other, "NE-BOS", "available") == 0
    assert ItemWarehouseSummary.objects.get(item=twin, warehouse__code="NE-BOS").blocked == 4
    assert ItemWarehouseSummary.objects.get(item=other, warehouse__code="NE-BOS").blocked == 2
    raised = {row.business_key: row for row in OperationalException.objects.filter(type="damaged_goods",
                                                                                   reference=rma.number)}
    assert set(raised) == {"damaged:NE-BOS:T-CLN-0005:-", "damaged:NE-BOS:T-CLN-0006:-"}
    crushed = raised["damaged:NE-BOS:T-CLN-0006:-"]
    assert crushed.warehouse.code == "NE-BOS" and crushed.detail["quantity"] == "2.0000"
    assert crushed.detail["status"] == "damaged" and crushed.detail["rma"] == rma.number
    assert raised["damaged:NE-BOS:T-CLN-0005:-"].detail["status"] == "quality_hold"
    lines = {line.line_no: line for line in ReturnLine.objects.filter(rma=rma).select_related("location")}
    assert (lines[1].disposition, lines[1].location.code) == ("quarantine", "DOCK-1")
    assert (lines[2].received_quantity, lines[2].disposition, lines[2].note) == (D(2), "damaged", "Crushed")
    # Damaged stock is not valued: the entity's valued quantity holds only what is quarantined.
    assert ItemCost.objects.get(item=other, legal_entity__code="US01").quantity == 0
    assert ItemCost.objects.get(item=twin, legal_entity__code="US01").quantity == 4
    invariants_hold()


@pytest.mark.django_db
def test_where_returns_are_inspected_every_line_needs_its_disposition(order):
    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(2))], actor=None)
    before = _ledger()

    with pytest.raises(DispositionRequired):
        return_receive(rma=rma, lines=[ReceiptLineSpec(1, D(2))], actor=None)

    assert _ledger() == before
    assert ReturnAuthorization.objects.get(pk=rma.pk).status == ReturnStatus.AUTHORIZED


@pytest.mark.django_db
def test_where_a_deviation_waives_inspection_a_line_without_disposition_is_restocked(order, twin, user):
    inspection_off("NE-BOS", user)
    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(2))], actor=None)

    return_receive(rma=rma, lines=[ReceiptLineSpec(1, D(2))], actor=None)

    assert ReturnLine.objects.get(rma=rma).disposition == "restock"
    assert _on_hand(twin, "NE-BOS", "available", "RCV") == 2
    # A disposition given is still honoured.
    again = return_authorize(order=order, lines=[ReturnLineSpec(1, D(1))], actor=None)
    return_receive(rma=again, lines=[{"line_no": 1, "quantity": D(1), "disposition": "damaged"}], actor=None)
    assert _on_hand(twin, "NE-BOS", "damaged", "RCV") == 1


@pytest.mark.django_db
def test_a_return_is_received_once_and_a_cancelled_one_never(order):
    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(2))], actor=None)
    cancelled = return_authorize(order=order, lines=[ReturnLineSpec(1, D(2))], actor=None)
    return_receive(rma=rma, lines=[ReceiptLineSpec(1, D(2), "restock")], actor=None)
    return_cancel(rma=cancelled, actor=None)
    before = _ledger()

    for target, call in ((rma, return_receive), (cancelled, return_receive)):
        with pytest.raises(InvalidReturnTransition) as refused:
            call(rma=target, lines=[ReceiptLineSpec(1, D(1), "restock")], actor=None)
        assert refused.value.code == "invalid_transition" and refused.value.status == 409
    for target in (rma, cancelled):
        with pytest.raises(InvalidReturnTransition):
            return_cancel(rma=target, actor=None)

    assert _ledger() == before
    assert ReturnAuthorization.objects.get(pk=rma.pk).status == "received"
    assert ReturnAuthorization.objects.get(pk=cancelled.pk).status == "cancelled"


RECEIPT_BAD = [
    ("more than authorized", [ReceiptLineSpec(1, D(3), "restock")], ReturnExceedsAuthorized),
    ("a line the return lacks", [ReceiptLineSpec(2, D(1), "restock")], ValidationFailed),
    ("a line twice", [ReceiptLineSpec(1, D(1), "restock"), ReceiptLineSpec(1, D(1), "damaged")], ValidationFailed),
    ("zero", [ReceiptLineSpec(1, D(0), "restock")], InvalidQuantity),
    ("negative", [ReceiptLineSpec(1, D(-1), "restock")], InvalidQuantity),
    ("unknown disposition", [ReceiptLineSpec(1, D(1), "resell")], ValidationFailed),
    ("unknown location", [ReceiptLineSpec(1, D(1), "restock", location="NOPE")], ValidationFailed),
    ("location of another warehouse", [ReceiptLineSpec(1, D(1), "restock", location=None)], None),
    ("note too long", [ReceiptLineSpec(1, D(1), "restock", note="x" * 501)], ValidationFailed),
    ("nothing", [], ValidationFailed),
]


@pytest.mark.parametrize(("case", "lines", "error"), RECEIPT_BAD, ids=[c[0] for c in RECEIPT_BAD])
@pytest.mark.django_db
def test_a_bad_receipt_is_refused_and_posts_nothing(order, case, lines, error):
    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(2))], actor=None)
    if error is None:  # a Location object of another warehouse
        lines, error = [ReceiptLineSpec(1, D(1), "restock", location=location("NE-NYC", "RCV"))], ValidationFailed
    before = _ledger()

    with pytest.raises(error):
        return_receive(rma=rma, lines=lines, actor=None)

    assert _ledger() == before
    assert ReturnAuthorization.objects.get(pk=rma.pk).status == ReturnStatus.AUTHORIZED
    assert ReturnLine.objects.get(rma=rma).received_quantity == 0


@pytest.mark.django_db
def test_a_warehouse_without_a_receiving_location_needs_one_named(order, twin):
    from warehouses.models import Location

    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(1))], actor=None)
    Location.objects.filter(warehouse__code="NE-BOS", kind="receiving").update(active=False)

    with pytest.raises(LocationRequired):
        return_receive(rma=rma, lines=[ReceiptLineSpec(1, D(1), "restock")], actor=None)
    return_receive(rma=rma, lines=[ReceiptLineSpec(1, D(1), "restock", location="A-01-01")], actor=None)
    assert _on_hand(twin, "NE-BOS", "available", "A-01-01") == 1


@pytest.mark.django_db
def test_receiving_costs_the_same_queries_for_1_and_20_lines(demo):
    ensure_standard_statuses()
    twins = [item(sku) for sku in ("CLN-0001", "CLN-0002", "CLN-0003", "CLN-0004", "CLN-0005", "CLN-0006",
                                   "CLN-0007", "CLN-0008", "CLN-0009", "CLN-0010", "PAP-0001", "PAP-0002",
                                   "PAP-0003", "PAP-0004", "PAP-0005", "PAP-0006", "PAP-0007", "PAP-0008",
                                   "PAP-0009", "PAP-0010", "HDW-0001")]
    for twin in twins:
        stock_at(twin, "NE-BOS", 2)
    small = shipped_order((twins[0], 2))
    large = shipped_order(*[(twin, 2) for twin in twins[1:]])
    counts = []
    for order in (small, large):
        lines = [ReturnLineSpec(line.line_no, D(2)) for line in order.lines.order_by("line_no")]
        rma = return_authorize(order=order, lines=lines, actor=None)
        with CaptureQueriesContext(connection) as captured:
            return_receive(rma=rma, actor=None, lines=[
                ReceiptLineSpec(n, D(2), "restock", note=f"line {n}") for n in range(1, len(lines) + 1)])
        counts.append(len(captured))
    assert StockMove.objects.filter(reference_type="return").count() == 3 * 21
    # (Goods put on hold or damaged add one damaged_goods raise per item: the exception queue's cost.)
    assert counts[0] == counts[1], counts


# --- concurrency ----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_operators_receiving_one_return_at_once_post_it_once(demo):
    ensure_standard_statuses()
    twin = item("CLN-0005")
    stock_at(twin, "NE-BOS", 10)
    order = shipped_order((twin, 10))
    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(4))], actor=None)
    two = return_authorize(order=order, lines=[ReturnLineSpec(1, D(6))], actor=None)

    received = race(*[lambda: return_receive(rma=rma, lines=[ReceiptLineSpec(1, D(4), "restock")], actor=None)] * 2)
    # The last 6 shipped units: two desks authorize them at once, one wins.
    return_cancel(rma=two, actor=None)
    authorized = race(*[lambda: return_authorize(order=order, lines=[ReturnLineSpec(1, D(6))], actor=None)] * 2)

    assert sorted(type(outcome).__name__ for outcome in received) == ["InvalidReturnTransition",
                                                                       "ReturnAuthorization"]
    assert StockMove.objects.filter(reference_type="return", reference_id=str(rma.pk)).count() == 3
    assert _on_hand(twin, "NE-BOS", "available", "RCV") == 4
    assert sorted(type(outcome).__name__ for outcome in authorized) == ["ReturnAuthorization",
                                                                         "ReturnExceedsShipped"]
    assert all(isinstance(o, ReturnAuthorization | DomainError) for o in received + authorized)
    invariants_hold()


# --- screens --------------------------------------------------------------------------------------------------


def _browser(account: Any) -> Any:
    from django.test import Client

    client = Client()
    client.force_login(account)
    return client


@pytest.fixture
def desk(demo: Any) -> Any:
    """A customer service user of region NE, signed in."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from erp import services as platform
    from warehouses.models import Region

    account = get_user_model().objects.create_user("ne.desk", password="x-unused-x")
    account.groups.add(Group.objects.get(name="Customer service"))
    platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code="NE")])
    return _browser(get_user_model().objects.get(pk=account.pk))


def _page(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.mark.django_db
def test_the_return_list_shows_the_returns_of_the_scope_filtered_by_status_and_warehouse(order, twin, user):
    from django.urls import reverse

    stock_at(twin, "EU-RTM", 1)
    ours = return_authorize(order=order, lines=[ReturnLineSpec(1, D(2))], actor=None)
    theirs = return_authorize(order=shipped_order((twin, 1), customer="C-EU-001", site="EU-RTM"),
                              lines=[ReturnLineSpec(1, D(1))], actor=None)
    browser = _browser(user("ne.operator"))

    html = _page(browser.get(reverse("orders:return-list")))
    assert ours.number in html and theirs.number not in html and "Authorize a return" not in html
    assert ours.number not in _page(browser.get(reverse("orders:return-list"), {"status": "received"}))
    partial = _page(browser.get(reverse("orders:return-list"), {"warehouse": "NE-BOS"}, HTTP_HX_REQUEST="true"))
    assert ours.number in partial and "<html" not in partial
    assert browser.get(reverse("orders:return-detail", args=[theirs.pk])).status_code == 404
    detail = _page(browser.get(reverse("orders:return-detail", args=[ours.pk])))
    assert reverse("orders:return-receive", args=[ours.pk]) in detail
    assert reverse("orders:return-cancel", args=[ours.pk]) not in detail


@pytest.mark.django_db
def test_customer_service_authorizes_a_return_from_the_orders_shipped_lines(order, desk):
    from django.urls import reverse

    new = reverse("orders:return-new")
    assert 'name="order"' in _page(desk.get(new))
    form = _page(desk.get(new, {"order": order.number}))
    assert "T-CLN-0005" in form and 'name="quantity_1"' in form and "may come back 10" in form
    assert "No order SO-999999" in _page(desk.get(new, {"order": "SO-999999"}))

    too_many = desk.post(new, {"order": order.number, "quantity_1": "11", "reason": ""})
    assert too_many.status_code == 200 and not ReturnAuthorization.objects.filter(order=order).exists()
    nothing = _page(desk.post(new, {"order": order.number, "quantity_1": "", "reason": ""}))
    assert "at least one line" in nothing and not ReturnAuthorization.objects.filter(order=order).exists()

    response = desk.post(new, {"order": order.number, "quantity_1": "3", "reason": "Leaking", "warehouse": ""})

    rma = ReturnAuthorization.objects.get(order=order)
    assert response.status_code == 302 and response["Location"] == reverse("orders:return-detail", args=[rma.pk])
    assert (rma.warehouse.code, rma.reason, rma.lines.get().quantity) == ("NE-BOS", "Leaking", D(3))
    detail = _page(desk.get(response["Location"]))
    assert rma.number in detail and reverse("orders:return-cancel", args=[rma.pk]) in detail
    assert reverse("orders:return-receive", args=[rma.pk]) not in detail


@pytest.mark.django_db
def test_an_operator_receives_a_return_on_the_handheld_with_a_disposition_per_line(order, twin, user):
    from django.urls import reverse

    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(4))], actor=None)
    browser = _browser(user("ne.operator"))
    receive = reverse("orders:return-receive", args=[rma.pk])

    form = _page(browser.get(receive))
    assert 'name="disposition_1"' in form and 'value="quarantine"' in form and "Restock (no inspection)" not in form
    refused = _page(browser.post(receive, {"quantity_1": "4", "disposition_1": "", "location_1": "", "note_1": ""}))
    assert "Choose the disposition" in refused
    assert not StockMove.objects.filter(reference_type="return").exists()
    unknown = _page(browser.post(receive, {"quantity_1": "4", "disposition_1": "restock", "location_1": "NOPE"}))
    assert "no location NOPE" in unknown
    assert not StockMove.objects.filter(reference_type="return").exists()

    response = browser.post(receive, {"quantity_1": "4", "disposition_1": "damaged", "location_1": "dock-1",
                                      "note_1": "Wet cartons"})

    assert response.status_code == 302 and response["Location"] == reverse("orders:return-detail", args=[rma.pk])
    line = ReturnLine.objects.select_related("location").get(rma=rma)
    assert (line.received_quantity, line.disposition, line.location.code, line.note) == (D(4), "damaged", "DOCK-1",
                                                                                       "Wet cartons")
    assert _on_hand(twin, "NE-BOS", "damaged", "DOCK-1") == 4
    # Received: the receive screen sends the operator back to the return.
    assert browser.get(receive).status_code == 302


@pytest.mark.django_db
def test_where_inspection_is_waived_the_handheld_offers_restock_without_a_disposition(order, twin, user):
    from django.urls import reverse

    inspection_off("NE-BOS", user)
    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(2))], actor=None)
    browser = _browser(user("ne.operator"))
    receive = reverse("orders:return-receive", args=[rma.pk])

    assert "Restock (no inspection)" in _page(browser.get(receive))
    assert browser.post(receive, {"quantity_1": "2", "disposition_1": ""}).status_code == 302
    assert _on_hand(twin, "NE-BOS", "available", "RCV") == 2


@pytest.mark.django_db
def test_cancelling_on_screen_is_customer_services_and_roles_are_enforced(order, desk, user):
    from django.urls import reverse

    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(2))], actor=None)
    operator = _browser(user("ne.operator"))

    assert operator.post(reverse("orders:return-cancel", args=[rma.pk])).status_code == 403
    assert operator.get(reverse("orders:return-new")).status_code == 403
    assert desk.get(reverse("orders:return-receive", args=[rma.pk])).status_code == 403
    assert ReturnAuthorization.objects.get(pk=rma.pk).status == "authorized"

    step = desk.get(reverse("orders:return-cancel", args=[rma.pk])).content.decode()
    assert f"Cancel return {rma.number}?" in step
    assert f"Withdraws the authorization to return 2 EA of {order.lines.get().item.sku} of {order.number}" in step
    one_click = desk.post(reverse("orders:return-cancel", args=[rma.pk]))
    assert one_click.status_code == 200 and "Nothing has been done yet" in one_click.content.decode()
    assert ReturnAuthorization.objects.get(pk=rma.pk).status == "authorized"

    response = desk.post(reverse("orders:return-cancel", args=[rma.pk]), {"confirm": "yes"})

    assert response.status_code == 302
    assert ReturnAuthorization.objects.get(pk=rma.pk).status == "cancelled"
    again = desk.post(reverse("orders:return-cancel", args=[rma.pk]), {"confirm": "yes"}, follow=True)
    assert "cannot become cancelled" in again.content.decode()


@pytest.mark.django_db
def test_a_return_outside_the_desks_region_has_no_cancel_step(order, twin, desk):
    from django.urls import reverse

    stock_at(twin, "EU-RTM", 1)
    theirs = return_authorize(order=shipped_order((twin, 1), customer="C-EU-001", site="EU-RTM"),
                              lines=[ReturnLineSpec(1, D(1))], actor=None)

    assert desk.get(reverse("orders:return-cancel", args=[theirs.pk])).status_code == 404
    assert desk.post(reverse("orders:return-cancel", args=[theirs.pk]), {"confirm": "yes"}).status_code == 404
    assert ReturnAuthorization.objects.get(pk=theirs.pk).status == "authorized"
