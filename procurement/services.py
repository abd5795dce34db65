"""Every write to suppliers. Each public function is one command."""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.transactions import command
from erp.validation import clean_or_raise
from inventory.models import Item, ItemUom, UnitOfMeasure
from procurement.models import Supplier, SupplierItem

SUPPLIER_FIELDS = ("name", "currency", "lead_time_days", "payment_terms_days", "email", "active")


@command
def supplier_create(*, code: str, name: str, currency: str, actor: Actor,
                    **extra: Any) -> Supplier:
    supplier = Supplier(code=code, name=name, currency=currency)
    for field, value in extra.items():
        if field not in SUPPLIER_FIELDS:
            raise TypeError(f"supplier_create got an unexpected field {field!r}")
        setattr(supplier, field, value)
    clean_or_raise(supplier)
    supplier.save()
    return supplier


@command
def supplier_update(*, supplier: Supplier, actor: Actor, **changes: Any) -> Supplier:
    locked = Supplier.objects.select_for_update(of=("self",)).get(pk=supplier.pk)
    for field, value in changes.items():
        if field not in SUPPLIER_FIELDS:
            raise TypeError(f"supplier_update got an unexpected field {field!r}")
        setattr(locked, field, value)
    clean_or_raise(locked)
    locked.save()
    return locked


# --- supplier items (issue 14, point 1) -----------------------------------------------------------------------

SUPPLIER_ITEM_FIELDS = ("supplier_sku", "uom", "unit_price", "currency", "min_order_quantity", "pack_multiple",
                        "lead_time_days", "preferred", "active")
MAX_SUPPLIER_ITEM_LEAD_DAYS = 365  # the database's supplieritem_lead_time_range


def _supplier_item_errors(supplier: Supplier, item: Item, row: SupplierItem) -> dict[str, list[str]]:
    """What the database's checks would refuse, and what they cannot see, by field (in the API's names)."""
    errors: dict[str, list[str]] = {}
    if not supplier.active:
        errors["supplier"] = [f"Supplier {supplier.code} is inactive."]
    if not item.active:
        errors["sku"] = [f"Item {item.sku} is inactive."]
    if row.unit_price is None or row.unit_price <= 0:
        errors["unit_price"] = ["Must be more than 0."]
    if not isinstance(row.currency, str) or not re.fullmatch(r"[A-Z]{3}", row.currency):
        errors["currency"] = ["Must be a 3-letter ISO code in capitals, such as EUR."]
    for name in ("min_order_quantity", "pack_multiple"):
        value = getattr(row, name)
        if value is None or value <= 0:
            errors[name] = ["Must be more than 0."]
    lead = row.lead_time_days
    if lead is not None and not 0 <= lead <= MAX_SUPPLIER_ITEM_LEAD_DAYS:
        errors["lead_time_days"] = [f"Must be between 0 and {MAX_SUPPLIER_ITEM_LEAD_DAYS} days."]
    return errors


def _resolve_uom(item: Item, uom: Any) -> UnitOfMeasure:
    """``uom`` (a unit or its code) if it is one of the item's units; blank: the item's base unit."""
    if uom in (None, ""):
        return item.base_uom
    code = uom.code if isinstance(uom, UnitOfMeasure) else str(uom)
    if code == item.base_uom.code:
        return item.base_uom
    conversion = ItemUom.objects.select_related("uom").filter(item=item, uom__code=code).first()
    if conversion is None:
        raise ValidationFailed(detail={"uom": [f"{code} is not one of {item.sku}'s units."]})
    return conversion.uom


@command
def supplier_item_save(*, supplier: Supplier, item: Item, actor: Actor, **fields: Any) -> SupplierItem:
    """Create or change what ``supplier`` sells of ``item`` (one row per supplier and SKU: saving again updates it).

    A new row takes the supplier's currency when none is given and the item's base unit when ``uom`` is blank.
    ``preferred=True`` takes the mark from the SKU's other supplier item in the same transaction: every supplier
    item of the SKU is locked first, in id order, so two concurrent "make preferred" run one after the other and
    the last one wins (``supplieritem_one_preferred_per_item`` is the database's guard).
    """
    unknown = set(fields) - set(SUPPLIER_ITEM_FIELDS)
    if unknown:
        raise TypeError(f"supplier_item_save got unexpected field(s) {', '.join(sorted(unknown))}")
    supplier = Supplier.objects.get(pk=supplier.pk)
    item = Item.objects.select_related("base_uom").get(pk=item.pk)
    # Lock the SKU's rows in one order: two saves of one SKU run one after the other, each seeing the other's mark.
    rows = {row.supplier_id: row for row in
            SupplierItem.objects.select_for_update(of=("self",)).filter(item=item).order_by("id")}
    row = rows.get(supplier.pk) or SupplierItem(supplier=supplier, item=item, currency=supplier.currency,
                                                 uom=item.base_uom)
    for name, value in fields.items():
        if name == "uom":
            continue
        setattr(row, name, value)
    if "uom" in fields or row.pk is None:
        row.uom = _resolve_uom(item, fields.get("uom"))
    errors = _supplier_item_errors(supplier, item, row)
    if errors:
        raise ValidationFailed(detail=errors)
    if row.preferred:
        others = [other.pk for other in rows.values() if other.preferred and other.supplier_id != supplier.pk]
        if others:
            SupplierItem.objects.filter(pk__in=others).update(preferred=False, updated_at=timezone.now())
    clean_or_raise(row, exclude=["supplier", "item", "uom"])
    row.save()
    return row
