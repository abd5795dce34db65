"""Test data for the inventory core, built through the services on the demo network."""

from __future__ import annotations

from decimal import Decimal

from inventory import services
from inventory.models import Item
from inventory.services import stock_statuses_seed
from warehouses.models import Location, Warehouse


def ensure_standard_statuses() -> None:
    """The statuses seeded by migration 0003; a transactional test's flush removes them, this restores them."""
    stock_statuses_seed()


def warehouse(code: str = "NE-BOS") -> Warehouse:
    return Warehouse.objects.get(code=code)


def location(warehouse_code: str = "NE-BOS", code: str = "A-01-01") -> Location:
    return Location.objects.select_related("warehouse").get(warehouse__code=warehouse_code, code=code)


def item(sku: str = "CLN-0001") -> Item:
    """A stock-free twin of demo item ``sku`` (``T-<sku>``): same lot tracking, shelf life and units.

    The demo network holds opening stock of every item; tests that count from zero use twins, made
    once through the services. CLN-, PAP- and HDW- items are not lot-tracked; BEV-, SNK-, DRY- ... are.
    """
    twin = Item.objects.select_related("base_uom").filter(sku=f"T-{sku}").first()
    if twin is not None:
        return twin
    source = Item.objects.select_related("base_uom").get(sku=sku)
    conversions = [(row.uom, row.factor) for row in source.uoms.select_related("uom")
                   if row.uom_id != source.base_uom_id]
    services.item_create(sku=f"T-{sku}", name=f"Test twin of {source.name}", base_uom=source.base_uom,
                         category=source.category, lot_tracked=source.lot_tracked,
                         shelf_life_days=source.shelf_life_days, weight_kg=source.weight_kg, uoms=conversions,
                         actor=None)
    return Item.objects.select_related("base_uom").get(sku=f"T-{sku}")


def plain_items(count: int) -> list[Item]:
    """``count`` stock-free twins of the demo's items that are not lot-tracked."""
    skus = Item.objects.filter(lot_tracked=False).exclude(sku__startswith="T-").order_by("sku")
    return [item(sku) for sku in skus.values_list("sku", flat=True)[:count]]


def storage_locations(warehouse_code: str = "NE-BOS") -> list[Location]:
    return list(Location.objects.select_related("warehouse").filter(warehouse__code=warehouse_code,
                                                                    code__startswith="A-").order_by("code"))


def dec(value: str | int) -> Decimal:
    return Decimal(str(value))
