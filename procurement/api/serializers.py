from __future__ import annotations

from typing import Any

from rest_framework import serializers

from erp.api.serializers import StrictInputSerializer
from erp.validators import code_validator, currency_validator
from procurement.models import Supplier

MAX_TERMS_DAYS = 365  # the database's supplier_lead_time_range and supplier_payment_terms_range


class SupplierOutput(serializers.ModelSerializer):
    """A supplier and its terms."""

    class Meta:
        model = Supplier
        fields = ["code", "name", "currency", "lead_time_days", "payment_terms_days", "email", "active"]


class _SupplierFields(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    currency = serializers.CharField(max_length=3, validators=[currency_validator])
    lead_time_days = serializers.IntegerField(min_value=0, max_value=MAX_TERMS_DAYS, required=False)
    payment_terms_days = serializers.IntegerField(min_value=0, max_value=MAX_TERMS_DAYS, required=False)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class SupplierCreateInput(_SupplierFields):
    """A new supplier."""

    code = serializers.CharField(max_length=32, validators=[code_validator])

    def validate_code(self, value: str) -> str:
        if Supplier.objects.filter(code=value).exists():
            raise serializers.ValidationError("A supplier with this code already exists.")
        return value


class SupplierUpdateInput(_SupplierFields):
    """Changes to a supplier; the code never changes."""


# --- supplier items (issue 14, point 1) -----------------------------------------------------------------------

from procurement.models import PRICE, QUANTITY, SupplierItem  # noqa: E402


class SupplierItemOutput(serializers.ModelSerializer):
    """What a supplier sells of one SKU: its code, price per ``uom`` in ``currency``, minimum, packs, lead time."""

    supplier = serializers.CharField(source="supplier.code")
    sku = serializers.CharField(source="item.sku")
    uom = serializers.CharField(source="uom.code")

    class Meta:
        model = SupplierItem
        fields = ["id", "supplier", "sku", "supplier_sku", "uom", "unit_price", "currency", "min_order_quantity",
                  "pack_multiple", "lead_time_days", "preferred", "active", "created_at", "updated_at"]


class _SupplierItemFields(StrictInputSerializer):
    supplier_sku = serializers.CharField(max_length=64, required=False, allow_blank=True)
    uom = serializers.CharField(max_length=16, required=False, allow_blank=True,
                                help_text="One of the item's units; its base unit when blank or left out.")
    unit_price = serializers.DecimalField(**PRICE, help_text="More than 0, in ``currency`` per ``uom``.")
    currency = serializers.CharField(max_length=3, required=False, validators=[currency_validator],
                                     help_text="An ISO code; the supplier's when left out.")
    min_order_quantity = serializers.DecimalField(**QUANTITY, required=False, help_text="More than 0, in ``uom``.")
    pack_multiple = serializers.DecimalField(**QUANTITY, required=False, help_text="More than 0, in ``uom``.")
    lead_time_days = serializers.IntegerField(min_value=0, max_value=MAX_TERMS_DAYS, required=False,
                                              allow_null=True, help_text="Empty: the supplier's lead time.")
    preferred = serializers.BooleanField(required=False, help_text="True takes the mark from the SKU's other "
                                                                   "supplier.")
    active = serializers.BooleanField(required=False)


class SupplierItemCreateInput(_SupplierItemFields):
    """A SKU the supplier (of the URL) sells; one per supplier and SKU."""

    sku = serializers.CharField(max_length=40)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from inventory.models import Item

        item = Item.objects.filter(sku=attrs["sku"]).first()
        if item is None:
            raise serializers.ValidationError({"sku": [f"No item {attrs['sku']}."]})
        supplier = self.context["supplier"]
        if SupplierItem.objects.filter(supplier=supplier, item=item).exists():
            raise serializers.ValidationError(
                {"sku": [f"{supplier.code} already sells {item.sku}; change it with PATCH."]})
        return {**{k: v for k, v in attrs.items() if k != "sku"}, "item": item}


class SupplierItemUpdateInput(_SupplierItemFields):
    """Changes to a supplier item; supplier and SKU never change."""

    unit_price = serializers.DecimalField(**PRICE, required=False)
