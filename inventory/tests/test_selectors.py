"""``inventory.selectors.item_warehouse_summaries``: the summaries other apps read instead of naming the table."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Exists, OuterRef

from inventory import selectors, services
from inventory.models import Item
from inventory.tests.factories import dec, item, location, warehouse

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock")]


def _receive(sku: str, quantity: str, wh: str) -> Item:
    twin = item(sku)
    services.stock_receive(warehouse=warehouse(wh), location=location(wh, "A-01-02"), item=twin,
                           quantity=dec(quantity), uom="EA", unit_cost=dec("1.5"), reference=f"PO {sku}", actor=None)
    return twin


def test_the_summaries_come_with_the_items_sku_and_the_warehouses_code_in_one_query(django_assert_num_queries):
    twin = _receive("CLN-0001", "12", "NE-BOS")
    _receive("CLN-0001", "5", "SE-ATL")

    with django_assert_num_queries(1):
        rows = list(selectors.item_warehouse_summaries().filter(item=twin).order_by("warehouse_code")
                    .values_list("sku", "warehouse_code", "on_hand", "allocatable_on_hand", "allocated"))

    assert rows == [("T-CLN-0001", "NE-BOS", Decimal("12.0000"), Decimal("12.0000"), Decimal("0.0000")),
                    ("T-CLN-0001", "SE-ATL", Decimal("5.0000"), Decimal("5.0000"), Decimal("0.0000"))]


def test_without_codes_the_summaries_join_nothing_and_serve_an_existence_test():
    twin = _receive("CLN-0002", "3", "NE-NYC")
    bare = selectors.item_warehouse_summaries(codes=False)
    assert " JOIN " not in str(bare.query)

    held = bare.filter(item_id=OuterRef("pk"), warehouse=warehouse("NE-NYC"))
    stocked = Item.objects.filter(Exists(held), sku__startswith="T-CLN-000").values_list("sku", flat=True)

    assert list(stocked) == [twin.sku]
