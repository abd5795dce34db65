"""Reads of supplier items: which supplier to buy a SKU from at a warehouse (issue 14, point 1).

The network's standard is the SKU's ``preferred`` supplier item; a region or warehouse names its own supplier per
SKU in ``procurement.preferred_suppliers`` (a governed deviation, ``{sku: supplier code}``). The deviation's choice
counts only while that supplier is active and sells the SKU (an active supplier item); otherwise the standard one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from governance.selectors import policy_values_at_warehouses
from inventory.models import Item
from procurement.models import SupplierItem
from warehouses.models import Warehouse

PREFERRED_SUPPLIERS = "procurement.preferred_suppliers"


def supplier_items() -> QuerySet[SupplierItem]:
    """Every supplier item with what its output shows (enterprise master data: everyone sees them all)."""
    return SupplierItem.objects.select_related("supplier", "item", "uom").order_by("supplier__code", "item__sku")


def _buyable() -> QuerySet[SupplierItem]:
    return SupplierItem.objects.select_related("supplier", "uom").filter(active=True, supplier__active=True)


def preferred_supplier_item(item: Item, warehouse: Warehouse) -> SupplierItem | None:
    """The supplier item to buy ``item`` from for ``warehouse``: the site's policy choice when it names an active
    supplier selling the SKU, else the SKU's preferred supplier item, else ``None`` (two queries)."""
    return preferred_supplier_items([item.pk], warehouse).get(item.pk)


def preferred_supplier_items(item_ids: Iterable[int], warehouse: Warehouse) -> dict[int, SupplierItem]:
    """``{item id: supplier item}`` for every SKU of ``item_ids`` that has one to buy from at ``warehouse``, as
    ``preferred_supplier_item`` decides, in three queries whatever the number of items."""
    ids = set(item_ids)
    if not ids:
        return {}
    choice: dict[str, Any] = policy_values_at_warehouses([PREFERRED_SUPPLIERS], [warehouse]).get(
        warehouse.pk, {}).get(PREFERRED_SUPPLIERS) or {}
    wanted = Q(preferred=True)
    skus: dict[int, str] = {}
    if choice:
        skus = dict(Item.objects.filter(pk__in=ids, sku__in=list(choice)).values_list("pk", "sku"))
        for pk, sku in skus.items():
            wanted |= Q(item_id=pk, supplier__code=choice[sku])
    rows = list(_buyable().filter(wanted, item_id__in=ids))
    by_item = {row.item_id: row for row in rows if row.preferred}
    for row in rows:  # the site's own choice beats the network's preferred one
        if choice and row.supplier.code == choice.get(skus.get(row.item_id, "")):
            by_item[row.item_id] = row
    return by_item
