"""Packing and shipping (issue 5, item 5): picked stock packed into shipments with packages and a packing slip,
shipped out of the ledger at the current cost once the documents the warehouse's policy requires are attached,
delivered; a packed shipment cancelled puts its lines back to waiting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from erp.exceptions import ValidationFailed
from governance.selectors import local_date
from inventory.models import ItemCost, ItemWarehouseSummary, StockBalance, StockMove
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders.exceptions import (
    CarrierRequired,
    DocumentsMissing,
    InvalidOrderTransition,
    InvalidShipmentTransition,
    NothingPicked,
)
from orders.models import (
    Allocation,
    AllocationStatus,
    OrderStatus,
    SalesOrder,
    SalesOrderLine,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from orders.services.sales import sales_order_cancel
from orders.services.shipping import (
    documents_missing,
    ready_pick_lines,
    shipment_cancel,
    shipment_create,
    shipment_deliver,
    shipment_document_attach,
    shipment_ship,
)
from orders.tests.scope_shipping import BOX, confirmed_order, deviate, packed, pick, picked_order, stock_at
from tests.clock import WEDNESDAY_DATE, at_local
from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures used by name)
from warehouses.models import Carrier

D = Decimal


@pytest.fixture
def twin(demo: Any) -> Any:
    ensure_standard_statuses()
    return item("CLN-0003")


def _invariants_hold() -> None:
    for name in ("check_inventory_invariants", "check_order_invariants"):
        out = StringIO()
        call_command(name, stdout=out, stderr=out)
        assert "hold" in out.getvalue(), out.getvalue()


def _summary(twin: Any, site: str = "NE-BOS") -> tuple[Decimal, Decimal]:
    row = ItemWarehouseSummary.objects.get(item=twin, warehouse__code=site)
    return row.on_hand, row.allocated


def _require(site: str, kinds: list[str], user: Any) -> None:
    """A governed deviation at ``site``: these documents must travel with every shipment."""
    deviate("documents.required_for_shipment", site, kinds, user)


# --- packing ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_packing_puts_every_picked_line_into_a_packed_shipment_with_its_packages_and_packing_slip(twin, user):
    order = picked_order(twin, 3, 2)
    assert order.status == OrderStatus.PICKING

    shipment = shipment_create(order=order, warehouse=warehouse("NE-BOS"), actor=user("ne.operator"),
                               carrier=Carrier.objects.get(code="UPS"), tracking_number="1Z-1",
                               packages=[BOX, {"weight_kg": "0.5", "tracking_number": "1Z-1-2"}],
                               documents=[{"kind": "commercial_invoice", "reference": "INV-77"}])

    assert shipment.number == f"SH-{shipment.pk:06d}" and shipment.status == ShipmentStatus.PACKED
    assert (shipment.carrier.code, shipment.tracking_number, shipment.created_by.username) == (
        "UPS", "1Z-1", "ne.operator")
    assert sorted(shipment.lines.values_list("quantity", flat=True)) == [D(2), D(3)]
    assert list(shipment.packages.values_list("number", "weight_kg", "length_cm", "tracking_number")) == [
        (1, D("4.250"), D("40.0"), ""), (2, D("0.500"), None, "1Z-1-2")]
    assert sorted(shipment.documents.values_list("kind", "reference")) == [
        ("commercial_invoice", "INV-77"), ("packing_slip", shipment.number)]
    assert SalesOrder.objects.get(pk=order.pk).status == OrderStatus.PACKED
    assert set(SalesOrderLine.objects.filter(order=order).values_list("status", flat=True)) == {OrderStatus.PACKED}
    # Packing moves no stock: the goods still sit, allocated, at the pick face.
    assert _summary(twin) == (D(5), D(5)) and not StockMove.objects.filter(reference_type="shipment").exists()
    assert not ready_pick_lines().filter(order_line__order=order).exists()
    _invariants_hold()


@pytest.mark.django_db
def test_shipping_before_picking_is_refused_and_packs_nothing(twin):
    stock_at(twin, "NE-BOS", 5)
    order = confirmed_order(twin, 2)
    shipments = Shipment.objects.count()

    with pytest.raises(NothingPicked) as refused:
        packed(order)

    assert refused.value.detail == {"order": order.number, "warehouse": "NE-BOS"}
    # Picked at NE-BOS, nothing of it is waiting at NE-NYC.
    pick(order)
    with pytest.raises(NothingPicked):
        packed(order, "NE-NYC")
    assert Shipment.objects.count() == shipments


@pytest.mark.django_db
def test_packing_named_pick_lines_leaves_the_others_waiting(twin):
    order = picked_order(twin, 3, 2)
    first, second = ready_pick_lines().filter(order_line__order=order).order_by("id")

    shipment = packed(order, pick_line_ids=[first.pk])

    assert list(shipment.lines.values_list("pick_line_id", flat=True)) == [first.pk]
    assert list(ready_pick_lines().filter(order_line__order=order).values_list("pk", flat=True)) == [second.pk]
    with pytest.raises(NothingPicked) as refused:
        packed(order, pick_line_ids=[first.pk, second.pk])  # the first is spoken for
    assert refused.value.detail["pick_lines"] == [first.pk]
    statuses = dict(SalesOrderLine.objects.filter(order=order).values_list("line_no", "status"))
    assert statuses == {1: OrderStatus.PACKED, 2: OrderStatus.PICKING}
    assert SalesOrder.objects.get(pk=order.pk).status == OrderStatus.PICKING


@pytest.mark.django_db
@pytest.mark.parametrize("packages", [[], [{"weight_kg": "0"}], [{"weight_kg": "-1"}], [{"weight_kg": None}],
                                      [{"weight_kg": "1.0001"}], [{"weight_kg": "1", "height_cm": "0"}],
                                      [{"weight_kg": "NaN"}]])
def test_a_package_needs_a_weight_above_zero(twin, packages):
    order = picked_order(twin, 1)
    with pytest.raises(ValidationFailed) as refused:
        shipment_create(order=order, warehouse=warehouse("NE-BOS"), actor=None, packages=packages)
    assert set(refused.value.detail) == {"packages"}
    assert not Shipment.objects.filter(order=order).exists()


# --- shipping -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_shipping_posts_the_stock_out_at_the_current_cost_with_the_value_on_the_move(twin, user):
    stock_at(twin, "NE-BOS", 10, unit_cost=2)
    stock_at(twin, "NE-BOS", 10, unit_cost=4)  # moving average 3.000000
    order = confirmed_order(twin, 5)
    pick(order)
    shipment = packed(order)
    operator = user("ne.operator")

    shipped = shipment_ship(shipment=shipment, actor=operator, tracking_number="1Z-9")

    assert (shipped.status, shipped.tracking_number, shipped.shipped_by) == (ShipmentStatus.SHIPPED, "1Z-9", operator)
    assert shipped.shipped_at is not None and shipped.ship_date == local_date(shipped.shipped_at, warehouse("NE-BOS"))
    (move,) = StockMove.objects.filter(reference_type="shipment", reference_id=str(shipment.pk))
    assert (move.quantity, move.unit_cost, move.value, move.reference, move.location.code, move.status.code) == (
        D(-5), D(3), D(-15), shipment.number, "P-01", "available")
    (line,) = ShipmentLine.objects.filter(shipment=shipment)
    assert (line.unit_cost, line.value, line.stock_move_id) == (D(3), D(15), move.pk)
    assert _summary(twin) == (D(15), D(0))
    assert StockBalance.objects.get(item=twin, location=location("NE-BOS", "P-01")).on_hand == D(15)
    cost = ItemCost.objects.get(item=twin, legal_entity=warehouse("NE-BOS").legal_entity)
    assert (cost.quantity, cost.unit_cost) == (D(15), D(3))
    assert list(Allocation.objects.filter(line__order=order).values_list("status", flat=True)) == [
        AllocationStatus.SHIPPED]
    order_line = SalesOrderLine.objects.get(order=order)
    assert (order_line.shipped_quantity, order_line.allocated_quantity, order_line.status) == (
        D(5), D(0), OrderStatus.SHIPPED)
    assert order_line.shipped_complete_on == shipped.ship_date
    assert SalesOrder.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    _invariants_hold()


@pytest.mark.django_db
def test_a_line_shipped_complete_records_the_local_date_at_the_warehouse(twin):
    shipment = packed(picked_order(twin, 2))
    # 22:00 on Wednesday in Boston is already Thursday in UTC.
    late_evening = at_local(WEDNESDAY_DATE, 22)

    shipped = shipment_ship(shipment=shipment, actor=None, now=late_evening)

    assert shipped.ship_date == WEDNESDAY_DATE
    assert SalesOrderLine.objects.get(order=shipment.order).shipped_complete_on == WEDNESDAY_DATE


@pytest.mark.django_db
def test_a_line_split_over_two_warehouses_ships_in_parts_and_is_complete_with_the_last(twin):
    stock_at(twin, "NE-BOS", 6)
    stock_at(twin, "NE-NYC", 4)
    order = confirmed_order(twin, 10)
    assert sorted(Allocation.objects.filter(line__order=order).values_list("warehouse__code", "quantity")) == [
        ("NE-BOS", D(6)), ("NE-NYC", D(4))]
    pick(order)
    boston, newark = packed(order, "NE-BOS"), packed(order, "NE-NYC")

    shipment_ship(shipment=boston, actor=None)

    line = SalesOrderLine.objects.get(order=order)
    assert (line.shipped_quantity, line.allocated_quantity, line.shipped_complete_on) == (D(6), D(4), None)
    assert line.status == OrderStatus.PACKED  # the rest is packed at Newark, waiting to leave
    assert _summary(twin, "NE-BOS") == (D(0), D(0)) and _summary(twin, "NE-NYC") == (D(4), D(4))
    _invariants_hold()

    shipment_ship(shipment=newark, actor=None)

    line.refresh_from_db()
    assert (line.shipped_quantity, line.allocated_quantity, line.status) == (D(10), D(0), OrderStatus.SHIPPED)
    assert line.shipped_complete_on is not None
    assert SalesOrder.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    _invariants_hold()


@pytest.mark.django_db
def test_a_line_picked_short_ships_what_was_found_and_waits_for_the_rest(twin):
    stock_at(twin, "NE-BOS", 5)
    order = confirmed_order(twin, 5)
    pick(order, picked={1: 3})  # two were not in the bin; nowhere else has any: backordered

    shipment_ship(shipment=packed(order), actor=None)

    line = SalesOrderLine.objects.get(order=order)
    assert (line.shipped_quantity, line.allocated_quantity, line.backordered_quantity) == (D(3), D(0), D(2))
    assert line.shipped_complete_on is None and line.status == OrderStatus.BACKORDERED
    assert _summary(twin) == (D(2), D(0))
    _invariants_hold()


@pytest.mark.django_db
def test_an_allocation_picked_from_two_bins_may_ship_bin_by_bin(twin):
    stock_at(twin, "NE-BOS", 3, code="P-01")
    stock_at(twin, "NE-BOS", 3, code="P-02")
    order = confirmed_order(twin, 5)
    (allocation,) = Allocation.objects.filter(line__order=order)
    first, second = pick(order)
    assert (first.location.code, first.quantity, second.location.code, second.quantity) == ("P-01", 3, "P-02", 2)

    shipment_ship(shipment=packed(order, pick_line_ids=[first.pk]), actor=None)

    allocation.refresh_from_db()
    assert (allocation.status, allocation.quantity) == (AllocationStatus.OPEN, D(2))
    shipped = Allocation.objects.get(line__order=order, status=AllocationStatus.SHIPPED)
    assert shipped.quantity == D(3) and ShipmentLine.objects.get(pick_line=first).allocation == shipped
    assert _summary(twin) == (D(3), D(2))
    _invariants_hold()

    shipment_ship(shipment=packed(order), actor=None)

    assert set(Allocation.objects.filter(line__order=order).values_list("status", flat=True)) == {
        AllocationStatus.SHIPPED}
    assert SalesOrderLine.objects.get(order=order).shipped_quantity == D(5)
    assert _summary(twin) == (D(1), D(0))
    _invariants_hold()


@pytest.mark.django_db
def test_lots_ship_out_of_the_lot_that_was_picked(demo):
    ensure_standard_statuses()
    drink = item("BEV-0001")
    stock_at(drink, "NE-BOS", 3, lot="L-A")
    stock_at(drink, "NE-BOS", 3, lot="L-B")
    order = confirmed_order(drink, 4)
    pick(order)

    shipment_ship(shipment=packed(order), actor=None)

    moves = dict(StockMove.objects.filter(reference_type="shipment").values_list("lot__lot_number", "quantity"))
    assert sum(moves.values()) == D(-4) and set(moves) <= {"L-A", "L-B"}
    _invariants_hold()


@pytest.mark.django_db
def test_documents_the_warehouse_requires_must_be_attached_before_shipping(twin, user):
    _require("NE-BOS", ["packing_slip", "commercial_invoice", "bill_of_lading"], user)
    shipment = packed(picked_order(twin, 2))
    assert documents_missing(shipment) == ["commercial_invoice", "bill_of_lading"]
    moves = StockMove.objects.count()

    with pytest.raises(DocumentsMissing) as refused:
        shipment_ship(shipment=shipment, actor=None)

    assert refused.value.detail == {"number": shipment.number, "missing": ["commercial_invoice", "bill_of_lading"]}
    assert "commercial_invoice, bill_of_lading" in refused.value.message
    assert StockMove.objects.count() == moves and Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus.PACKED
    shipment_document_attach(shipment=shipment, kind="commercial_invoice", reference="INV-1", actor=None)
    shipment_document_attach(shipment=shipment, kind="bill_of_lading", reference="BOL-1", actor=None)
    assert shipment_ship(shipment=shipment, actor=None).status == ShipmentStatus.SHIPPED
    # Elsewhere the enterprise standard (the packing slip only) applies.
    assert documents_missing(packed(picked_order(twin, 1, site="NE-NYC", customer="C-NE-002"), "NE-NYC")) == []


@pytest.mark.django_db
def test_a_carrier_is_required_to_ship_and_may_be_named_then(twin):
    shipment = packed(picked_order(twin, 2), carrier=None)

    with pytest.raises(CarrierRequired):
        shipment_ship(shipment=shipment, actor=None)
    assert not StockMove.objects.filter(reference_type="shipment").exists()

    shipped = shipment_ship(shipment=shipment, actor=None, carrier=Carrier.objects.get(code="DHL"))
    assert shipped.carrier.code == "DHL"


@pytest.mark.django_db
def test_shipping_twice_is_refused_and_posts_nothing_more(twin):
    shipment = packed(picked_order(twin, 2))
    shipment_ship(shipment=shipment, actor=None)
    moves, held = StockMove.objects.count(), _summary(twin)

    with pytest.raises(InvalidShipmentTransition) as refused:
        shipment_ship(shipment=shipment, actor=None)

    assert refused.value.detail == {"number": shipment.number, "status": "shipped", "to": "shipped"}
    assert StockMove.objects.count() == moves and _summary(twin) == held
    with pytest.raises(InvalidShipmentTransition):
        shipment_cancel(shipment=shipment, actor=None)
    with pytest.raises(InvalidShipmentTransition):
        shipment_document_attach(shipment=shipment, kind="bill_of_lading", reference="BOL-9", actor=None)


@pytest.mark.django_db
def test_an_order_with_goods_packed_or_shipped_cannot_be_cancelled(twin):
    shipment = packed(picked_order(twin, 2))
    with pytest.raises(InvalidOrderTransition):
        sales_order_cancel(order=shipment.order, actor=None)
    shipment_ship(shipment=shipment, actor=None)
    with pytest.raises(InvalidOrderTransition):
        sales_order_cancel(order=shipment.order, actor=None)
    assert SalesOrder.objects.get(pk=shipment.order_id).status == OrderStatus.SHIPPED
    _invariants_hold()


@pytest.mark.django_db
def test_packing_costs_the_same_queries_for_1_and_20_lines(twin):
    def pack(lines: int) -> int:
        order = picked_order(twin, *([1] * lines))
        with CaptureQueriesContext(connection) as queries:
            packed(order)
        return len(queries)

    assert pack(20) == pack(1)


@pytest.mark.django_db
def test_shipping_costs_the_same_queries_for_1_and_20_lines(twin):
    def ship(lines: int) -> int:
        shipment = packed(picked_order(twin, *([1] * lines)))
        with CaptureQueriesContext(connection) as queries:
            shipment_ship(shipment=shipment, actor=None)
        return len(queries)

    assert ship(20) == ship(1)


# --- delivery and cancelling ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_order_is_delivered_once_every_shipment_is(twin):
    stock_at(twin, "NE-BOS", 6)
    stock_at(twin, "NE-NYC", 4)
    order = confirmed_order(twin, 10)
    pick(order)
    boston, newark = packed(order, "NE-BOS"), packed(order, "NE-NYC")
    for shipment in (boston, newark):
        shipment_ship(shipment=shipment, actor=None)

    delivered = shipment_deliver(shipment=boston, actor=None, note="Signed: J. Doe")

    assert (delivered.status, delivered.delivery_note) == (ShipmentStatus.DELIVERED, "Signed: J. Doe")
    assert delivered.delivered_at is not None
    assert SalesOrder.objects.get(pk=order.pk).status == OrderStatus.SHIPPED

    shipment_deliver(shipment=newark, actor=None)

    assert SalesOrder.objects.get(pk=order.pk).status == OrderStatus.DELIVERED
    assert SalesOrderLine.objects.get(order=order).status == OrderStatus.DELIVERED
    with pytest.raises(InvalidShipmentTransition):
        shipment_deliver(shipment=newark, actor=None)
    _invariants_hold()


@pytest.mark.django_db
def test_a_delivery_cannot_be_confirmed_before_shipping_or_in_the_future(twin):
    shipment = packed(picked_order(twin, 1))
    with pytest.raises(InvalidShipmentTransition):
        shipment_deliver(shipment=shipment, actor=None)
    shipped = shipment_ship(shipment=shipment, actor=None)
    for when in (shipped.shipped_at - dt.timedelta(hours=1), shipped.shipped_at + dt.timedelta(days=2)):
        with pytest.raises(ValidationFailed):
            shipment_deliver(shipment=shipment, actor=None, delivered_at=when)
    assert Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus.SHIPPED


@pytest.mark.django_db
def test_cancelling_a_packed_shipment_puts_its_lines_back_to_wait_for_packing(twin):
    order = picked_order(twin, 2)
    shipment = packed(order)

    cancelled = shipment_cancel(shipment=shipment, actor=None)

    assert cancelled.status == ShipmentStatus.CANCELLED and not ShipmentLine.objects.filter(shipment=shipment).exists()
    assert SalesOrder.objects.get(pk=order.pk).status == OrderStatus.PICKING
    assert ready_pick_lines().filter(order_line__order=order).count() == 1
    again = packed(order)
    shipment_ship(shipment=again, actor=None)
    assert SalesOrder.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert _summary(twin) == (D(0), D(0))
    _invariants_hold()


@pytest.mark.django_db
def test_an_order_cancelled_after_picking_has_nothing_to_pack(twin):
    order = picked_order(twin, 2)
    sales_order_cancel(order=order, actor=None)

    with pytest.raises(NothingPicked):
        packed(order)
    _invariants_hold()


# --- screens ----------------------------------------------------------------------------------------------------


def _signed_in(user: Any, username: str = "ne.operator") -> Client:
    client = Client()
    client.force_login(user(username))
    return client


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


@pytest.mark.django_db
def test_the_shipping_screen_lists_what_waits_to_be_packed_and_the_shipments_of_my_warehouses(twin, user):
    waiting = picked_order(twin, 2)
    far_waiting = picked_order(twin, 2, customer="C-EU-001", site="EU-RTM")
    mine = packed(picked_order(twin, 1))
    theirs = packed(picked_order(twin, 1, customer="C-EU-001", site="EU-RTM"), "EU-RTM")
    screen = _signed_in(user)

    response = screen.get(reverse("orders:shipment-list"))

    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-ready="{waiting.number}"' in page and f'data-ready="{far_waiting.number}"' not in page
    assert reverse("orders:shipment-pack", args=[waiting.pk, "NE-BOS"]) in page
    assert f'data-shipment="{mine.number}"' in page and theirs.number not in page
    rows = screen.get(reverse("orders:shipment-list"), {"status": "shipped"}, HTTP_HX_REQUEST="true")
    assert rows.status_code == 200 and mine.number not in rows.content.decode()
    assert "<html" not in rows.content.decode()


@pytest.mark.django_db
def test_packing_on_the_handheld_makes_the_shipment_with_its_packages(twin, user):
    order = picked_order(twin, 3, 2)
    screen = _signed_in(user)
    url = reverse("orders:shipment-pack", args=[order.pk, "NE-BOS"])
    page = screen.get(url, {"packages": "2"})
    assert page.status_code == 200
    assert page.content.decode().count('name="package_weight_kg"') == 2 + 1  # two rows and Alpine's template row
    lines = [line.pk for line in ready_pick_lines().filter(order_line__order=order)]

    refused = screen.post(url, {"pick_line": lines, "package_weight_kg": ["0", ""], "package_length_cm": ["", ""],
                                "package_width_cm": ["", ""], "package_height_cm": ["", ""],
                                "package_tracking_number": ["", ""], "carrier": "UPS", "tracking_number": "1Z-A"})

    assert refused.status_code == 200 and any("more than 0 kg" in m for m in _messages(refused))
    assert not Shipment.objects.filter(order=order).exists()

    done = screen.post(url, {"pick_line": lines, "package_weight_kg": ["3.2", "1.75"], "package_length_cm": ["30", ""],
                             "package_width_cm": ["20", ""], "package_height_cm": ["10", ""],
                             "package_tracking_number": ["", "1Z-B"], "carrier": "UPS", "tracking_number": "1Z-A"})

    shipment = Shipment.objects.get(order=order)
    assert done.status_code == 302 and done["Location"] == reverse("orders:shipment-detail", args=[shipment.pk])
    assert list(shipment.packages.values_list("weight_kg", "tracking_number")) == [(D("3.2"), ""), (D("1.75"), "1Z-B")]
    assert (shipment.carrier.code, shipment.tracking_number, shipment.lines.count()) == ("UPS", "1Z-A", 2)
    assert SalesOrder.objects.get(pk=order.pk).status == OrderStatus.PACKED


@pytest.mark.django_db
def test_the_ship_button_names_the_missing_documents_and_ships_once_they_are_attached(twin, user):
    _require("NE-BOS", ["packing_slip", "commercial_invoice"], user)
    shipment = packed(picked_order(twin, 2))
    screen = _signed_in(user)
    detail = reverse("orders:shipment-detail", args=[shipment.pk])

    page = screen.get(detail).content.decode()

    assert 'data-missing="Commercial invoice"' in page and "Cannot ship yet" in page
    refused = screen.post(reverse("orders:shipment-ship", args=[shipment.pk]), {"carrier": "UPS"}, follow=True)
    assert any("attach the Commercial invoice" in m for m in _messages(refused))
    assert Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus.PACKED
    screen.post(reverse("orders:shipment-document", args=[shipment.pk]),
                 {"kind": "commercial_invoice", "reference": "INV-5"})
    assert "Cannot ship yet" not in screen.get(detail).content.decode()

    shipped = screen.post(reverse("orders:shipment-ship", args=[shipment.pk]),
                           {"carrier": "FEDEX", "tracking_number": "FX-1"}, follow=True)

    assert any("has shipped with FEDEX (FX-1)" in m for m in _messages(shipped))
    assert Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus.SHIPPED
    delivered = screen.post(reverse("orders:shipment-deliver", args=[shipment.pk]), {"note": "Dock 2"}, follow=True)
    assert any("is delivered in full" in m for m in _messages(delivered))
    assert SalesOrder.objects.get(pk=shipment.order_id).status == OrderStatus.DELIVERED


@pytest.mark.django_db
def test_a_packed_shipment_is_cancelled_from_its_page(twin, user):
    shipment = packed(picked_order(twin, 2))
    screen = _signed_in(user)
    step = screen.get(reverse("orders:shipment-cancel", args=[shipment.pk])).content.decode()
    assert f"Cancel shipment {shipment.number}?" in step
    assert f"Unpacks {shipment.number} at NE-BOS: 2 EA of T-CLN-0003." in step and shipment.order.number in step
    one_click = screen.post(reverse("orders:shipment-cancel", args=[shipment.pk]))
    assert one_click.status_code == 200 and "Nothing has been done yet" in one_click.content.decode()
    assert Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus.PACKED
    response = screen.post(reverse("orders:shipment-cancel", args=[shipment.pk]), {"confirm": "yes"}, follow=True)
    assert any("is cancelled" in m for m in _messages(response))
    assert Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus.CANCELLED


@pytest.mark.django_db
def test_the_packing_slip_prints_without_navigation(twin, user):
    shipment = packed(picked_order(twin, 3))

    response = _signed_in(user).get(reverse("orders:shipment-packing-slip", args=[shipment.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "site-nav" not in page and "css/packing-slip" in page and 'href="/static/css/concord' not in page
    assert "@media print" in (settings.BASE_DIR / "static" / "css" / "packing-slip.css").read_text()
    ship_to = shipment.order.ship_to
    for text in (shipment.number, shipment.order.number, ship_to.name, ship_to.address_line1, "T-CLN-0003",
                 "3 EA", "4.250"):
        assert text in page, text


@pytest.mark.django_db
def test_screens_show_and_work_only_the_shipments_of_my_warehouses(twin, user):
    theirs = packed(picked_order(twin, 1, customer="C-EU-001", site="EU-RTM"), "EU-RTM")
    far_order = picked_order(twin, 1, customer="C-EU-002", site="EU-RTM")
    screen = _signed_in(user)

    for name in ("shipment-detail", "shipment-packing-slip"):
        assert screen.get(reverse(f"orders:{name}", args=[theirs.pk])).status_code == 404
    for name in ("shipment-ship", "shipment-document", "shipment-deliver", "shipment-cancel"):
        assert screen.post(reverse(f"orders:{name}", args=[theirs.pk]), {"carrier": "UPS"}).status_code == 404
    assert screen.post(reverse("orders:shipment-cancel", args=[theirs.pk]), {"confirm": "yes"}).status_code == 404
    assert screen.get(reverse("orders:shipment-cancel", args=[theirs.pk])).status_code == 404
    assert screen.get(reverse("orders:shipment-pack", args=[far_order.pk, "EU-RTM"])).status_code == 404
    assert screen.get(reverse("orders:shipment-pack", args=[far_order.pk, "NE-BOS"])).status_code == 404
    assert Shipment.objects.get(pk=theirs.pk).status == ShipmentStatus.PACKED
    planner = _signed_in(user, "planner")
    assert planner.get(reverse("orders:shipment-detail", args=[theirs.pk])).status_code == 200
    assert planner.post(reverse("orders:shipment-ship", args=[theirs.pk])).status_code == 403
    assert planner.get(reverse("orders:shipment-pack", args=[far_order.pk, "EU-RTM"])).status_code == 403


@pytest.mark.django_db
def test_the_admin_shows_shipments_read_only_and_only_in_scope(twin, user):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from erp import services as platform
    from warehouses.models import Region

    mine = packed(picked_order(twin, 2))
    shipment_ship(shipment=mine, actor=None)
    theirs = packed(picked_order(twin, 1, customer="C-EU-001", site="EU-RTM"), "EU-RTM")
    account = get_user_model().objects.create_user("ne.admin", password="x-unused-x", is_staff=True)
    account.groups.add(Group.objects.get(name="Administrator"))
    platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code="NE")])
    client = Client()
    client.force_login(account)

    changelist = client.get(reverse("admin:orders_shipment_changelist"))
    change = client.get(reverse("admin:orders_shipment_change", args=[mine.pk]))

    assert changelist.status_code == 200
    numbers = {shipment.number for shipment in changelist.context["cl"].result_list}
    assert mine.number in numbers and theirs.number not in numbers
    assert change.status_code == 200 and b"T-CLN-0003" in change.content and b"4.250" in change.content
    assert client.get(reverse("admin:orders_shipment_change", args=[theirs.pk])).status_code in (302, 404)
    superuser = _signed_in(user, "admin")
    assert superuser.get(reverse("admin:orders_shipment_add")).status_code == 403
    assert superuser.post(reverse("admin:orders_shipment_change", args=[mine.pk]), {"status": "packed"}).status_code \
        == 403
    assert Shipment.objects.get(pk=mine.pk).status == ShipmentStatus.SHIPPED


# --- in a real browser, on a handheld ------------------------------------------------------------------------

PACK_SCREENSHOT = "/tmp/concord-shipping-pack-handheld.png"
SLIP_SCREENSHOT = "/tmp/concord-shipping-packing-slip.png"
SHIPMENT_SCREENSHOT = "/tmp/concord-shipping-shipment-handheld.png"


@pytest.fixture
def picked_for_the_browser(demo: Any, live_server: Any, user: Any) -> SalesOrder:
    """Set up before Playwright starts (it keeps an event loop running, and Django refuses database work then)."""
    ensure_standard_statuses()
    _require("NE-BOS", ["packing_slip", "commercial_invoice"], user)
    return picked_order(item("CLN-0003"), 3, 2)


@pytest.mark.browser
def test_on_a_handheld_an_operator_packs_two_packages_attaches_the_invoice_and_ships(
        picked_for_the_browser: SalesOrder, open_page: Any, live_server: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    order = picked_for_the_browser
    page, watch = open_page(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    sign_in(page, live_server, "ne.operator", "/shipping/")
    page.locator(f'tr[data-ready="{order.number}"] a.button').click()
    page.wait_for_url(f"**/shipping/pack/{order.pk}/NE-BOS/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the pack form scrolls sideways"

    weights = page.locator('input[name="package_weight_kg"]')
    weights.nth(0).fill("3.2")
    page.get_by_role("link", name="Add a package").click()
    expect(weights).to_have_count(2)
    weights.nth(1).fill("1.5")
    page.select_option("#id_carrier", "UPS")
    page.fill("#id_tracking_number", "1Z-HANDHELD")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "two packages scroll sideways"
    page.screenshot(path=PACK_SCREENSHOT, full_page=True)
    page.get_by_role("button", name="Pack").click()

    expect(page.locator(".message--success")).to_contain_text("is packed: 2 lines in 2 packages")
    expect(page.locator(".ship-blocked")).to_contain_text("Commercial invoice")
    expect(page.get_by_role("button", name="Ship", exact=True)).to_be_disabled()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the shipment scrolls sideways"
    page.screenshot(path=SHIPMENT_SCREENSHOT, full_page=True)
    page.fill("#document-reference", "INV-2026-77")
    page.get_by_role("button", name="Attach").click()
    expect(page.locator(".message--success")).to_contain_text("Commercial invoice INV-2026-77 is attached")
    page.get_by_role("button", name="Ship", exact=True).click()
    expect(page.locator(".message--success")).to_contain_text("has shipped with UPS (1Z-HANDHELD)")
    expect(page.locator("h1 .badge")).to_have_text("Shipped")
    with page.expect_popup() as opened:
        page.get_by_role("link", name="Packing slip").first.click()
    slip = opened.value
    expect(slip.locator("h1")).to_have_text("Packing slip")
    assert slip.locator("#site-nav").count() == 0
    expect(slip.locator("[data-package]")).to_have_count(2)
    slip.emulate_media(media="print")
    expect(slip.get_by_role("button", name="Print")).to_be_hidden()
    slip.screenshot(path=SLIP_SCREENSHOT, full_page=True)
    watch.assert_clean(live_server.url)
