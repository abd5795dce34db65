"""The demo network of product.md, loaded idempotently."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from erp import demo as demo_module
from erp.scoping import scope_of
from inventory.models import Item, ItemUom
from orders.models import Customer, ShipTo
from warehouses.models import Location, Warehouse

pytestmark = pytest.mark.django_db


def test_the_demo_network_is_the_one_in_the_product_brief(demo):
    warehouses = {w.code: (w.region.code, w.legal_entity.code, w.legal_entity.currency, w.timezone)
                  for w in Warehouse.objects.select_related("region", "legal_entity")}
    assert warehouses == {
        "NE-BOS": ("NE", "US01", "USD", "America/New_York"),
        "NE-NYC": ("NE", "US01", "USD", "America/New_York"),
        "SE-ATL": ("SE", "US02", "USD", "America/New_York"),
        "SE-MIA": ("SE", "US02", "USD", "America/New_York"),
        "EU-RTM": ("EU", "EU01", "EUR", "Europe/Amsterdam"),
        "EU-DUS": ("EU", "EU01", "EUR", "Europe/Berlin"),
    }
    kinds = set(Location.objects.filter(warehouse__code="NE-BOS").values_list("kind", flat=True))
    assert {"receiving", "storage", "pick", "shipping", "quarantine"} <= kinds
    assert Item.objects.count() == 200
    assert Item.objects.filter(lot_tracked=True, shelf_life_days__isnull=False).exists()
    assert set(ItemUom.objects.filter(item__sku="BEV-0001").values_list("uom__code", "factor")) == {
        ("EA", 1), ("CS", 24), ("PL", 1440)
    }
    for customer in Customer.objects.select_related("home_warehouse"):
        assert customer.home_warehouse.region_id == customer.region_id
        assert ShipTo.objects.filter(customer=customer).count() >= 1
    assert set(Customer.objects.values_list("region__code", flat=True)) == {"NE", "SE", "EU"}


def test_loading_the_demo_again_duplicates_nothing_and_keeps_identities(demo):
    before = {model.__name__: sorted(model.objects.values_list("pk", flat=True))
              for model in (Warehouse, Location, Item, ItemUom, Customer, ShipTo)}
    users_before = sorted(get_user_model().objects.values_list("pk", flat=True))
    demo_module.load()
    after = {model.__name__: sorted(model.objects.values_list("pk", flat=True))
             for model in (Warehouse, Location, Item, ItemUom, Customer, ShipTo)}
    assert after == before
    assert sorted(get_user_model().objects.values_list("pk", flat=True)) == users_before


@pytest.mark.parametrize(
    ("username", "enterprise", "warehouses"),
    [
        ("admin", True, None),
        ("planner", True, None),
        ("integrator", True, None),
        ("ne.operator", False, {"NE-BOS", "NE-NYC"}),
        ("eu.operator", False, {"EU-RTM", "EU-DUS"}),
        ("ne.service", False, {"NE-BOS", "NE-NYC"}),
        ("ne.supervisor", False, {"NE-BOS", "NE-NYC"}),
    ],
)
def test_demo_users_have_the_scopes_of_the_brief(demo, username, enterprise, warehouses):
    user = get_user_model().objects.get(username=username)
    assert user.check_password("demo")
    scope = scope_of(user)
    assert scope.enterprise is enterprise
    if warehouses is not None:
        codes = set(Warehouse.objects.filter(pk__in=scope.warehouse_ids).values_list("code", flat=True))
        assert codes == warehouses


@pytest.mark.django_db
def test_the_demo_order_of_c_ne_001_is_the_whitepapers_case_and_allocates_from_ne_nyc(demo):
    from inventory.models import ItemWarehouseSummary
    from orders.models import SalesOrder
    from orders.services.sales import sales_order_confirm

    order = SalesOrder.objects.get(customer__code="C-NE-001", external_ref="DEMO-0001")
    (line,) = order.lines.select_related("item")
    held = dict(ItemWarehouseSummary.objects.filter(item=line.item).values_list("warehouse__code", "on_hand"))
    assert held.get("NE-BOS", 0) == 0 and held["NE-NYC"] > line.quantity and held["SE-ATL"] > 0
    confirmed = sales_order_confirm(order=order, actor=None)
    line.refresh_from_db()
    assert confirmed.status == "allocated" and line.warehouse.code == "NE-NYC" and line.promised_date is not None


def test_the_fulfilled_demo_order_goes_the_whole_way_once_and_the_books_agree(demo):
    from io import StringIO

    from django.core.management import call_command

    from orders.models import SalesOrder

    number = demo_module.fulfil_demo_order()
    assert demo_module.fulfil_demo_order() == number  # a second load carries nothing twice
    order = SalesOrder.objects.get(number=number)
    assert order.status == "delivered" and order.external_ref == "DEMO-0002"
    assert order.pick_lists.get().status == "picked"
    shipment = order.shipments.get()
    assert shipment.status == "delivered" and shipment.tracking_number and shipment.documents.filter(
        kind="packing_slip").exists()
    assert list(order.returns.values_list("status", flat=True)) == ["authorized"]
    assert all(line.shipped_complete_on is not None for line in order.lines.all())
    for command in ("check_order_invariants", "check_inventory_invariants"):
        out = StringIO()
        call_command(command, stdout=out, stderr=out)
        assert "hold" in out.getvalue()
