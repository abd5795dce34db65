"""Every write to items and units of measure. Each public function is one command."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from erp.transactions import command
from erp.validation import clean_or_raise
from inventory.exceptions import BaseUnitConversion
from inventory.models import Item, ItemUom, UnitOfMeasure

ITEM_FIELDS = ("name", "category", "base_uom", "lot_tracked", "shelf_life_days", "weight_kg", "active")


@command
def uom_upsert(*, code: str, name: str, actor: AbstractBaseUser | None) -> UnitOfMeasure:
    uom = UnitOfMeasure.objects.select_for_update().filter(code=code).first() or UnitOfMeasure(code=code)
    uom.name = name
    clean_or_raise(uom)
    uom.save()
    return uom


def _set_conversions(item: Item, uoms: list[tuple[UnitOfMeasure, Decimal]]) -> None:
    """Replace the item's conversions; the base unit is always present with factor 1."""
    factors = {uom.pk: (uom, Decimal(factor)) for uom, factor in uoms}
    base = factors.get(item.base_uom_id)
    if base is not None and base[1] != 1:
        raise BaseUnitConversion(detail={"uoms": [f"{item.base_uom.code} is the base unit; its factor must be 1."]})
    factors[item.base_uom_id] = (item.base_uom, Decimal(1))
    ItemUom.objects.filter(item=item).exclude(uom_id__in=factors).delete()
    existing = {row.uom_id: row for row in ItemUom.objects.filter(item=item)}
    to_create, to_update = [], []
    for uom_id, (uom, factor) in factors.items():
        row = existing.get(uom_id)
        if row is None:
            to_create.append(ItemUom(item=item, uom=uom, factor=factor))
        elif row.factor != factor:
            row.factor = factor
            to_update.append(row)
    for row in to_create + to_update:
        clean_or_raise(row, exclude=["item"])
    ItemUom.objects.bulk_create(to_create)
    ItemUom.objects.bulk_update(to_update, ["factor", "updated_at"])


@command
def item_create(*, sku: str, name: str, base_uom: UnitOfMeasure, actor: AbstractBaseUser | None,
                uoms: list[tuple[UnitOfMeasure, Decimal]] | None = None, **extra: Any) -> Item:
    """Create an item with its unit conversions (the base unit is added with factor 1)."""
    item = Item(sku=sku, name=name, base_uom=base_uom)
    for field, value in extra.items():
        if field not in ITEM_FIELDS:
            raise TypeError(f"item_create got an unexpected field {field!r}")
        setattr(item, field, value)
    clean_or_raise(item)
    item.save()
    _set_conversions(item, uoms or [])
    return item


@command
def item_update(*, item: Item, actor: AbstractBaseUser | None,
                uoms: list[tuple[UnitOfMeasure, Decimal]] | None = None, **changes: Any) -> Item:
    """Change an item; ``uoms``, when given, replaces its conversions. The SKU never changes."""
    locked = Item.objects.select_for_update(of=("self",)).select_related("base_uom").get(pk=item.pk)
    if uoms is None and "base_uom" in changes and changes["base_uom"].pk != locked.base_uom_id:
        # The stored factors count the old base unit; kept as they are they would silently change meaning.
        raise BaseUnitConversion(detail={"uoms": ["Send the conversions relative to the new base unit."]})
    for field, value in changes.items():
        if field not in ITEM_FIELDS:
            raise TypeError(f"item_update got an unexpected field {field!r}")
        setattr(locked, field, value)
    clean_or_raise(locked)
    locked.save()
    if uoms is not None or "base_uom" in changes:
        current = [(row.uom, row.factor) for row in locked.uoms.select_related("uom")] if uoms is None else uoms
        _set_conversions(locked, current)
    return locked
