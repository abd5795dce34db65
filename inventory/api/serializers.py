from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import serializers

from erp.api.fields import ScopedSlugRelatedField
from erp.api.serializers import StrictInputSerializer, WholeObjectInput
from erp.models import DecimalDigits
from erp.scoping import scope_queryset
from erp.validators import sku_validator
from inventory.models import Item, ItemUom, StockAdjustment, StockMove, StockStatus, UnitOfMeasure
from warehouses.models import Location, Warehouse

# The largest number of base units one unit may hold: generous for a pallet of small parts, and
# small enough that a typo (an extra few zeros) is refused instead of silently inflating stock.
MAX_UOM_FACTOR = Decimal(1_000_000)
MAX_SHELF_LIFE_DAYS = 36500
MAX_UOMS_PER_ITEM = 20


class UnitOfMeasureOutput(serializers.ModelSerializer[UnitOfMeasure]):
    """A unit of measure, addressed by its code."""

    class Meta:
        model = UnitOfMeasure
        fields = ["code", "name"]


class ItemUomOutput(serializers.ModelSerializer[ItemUom]):
    """One unit of an item: one ``uom`` holds ``factor`` base units."""

    uom = serializers.CharField(source="uom.code")

    class Meta:
        model = ItemUom
        fields = ["uom", "factor"]


class ItemOutput(serializers.ModelSerializer[Item]):
    """An item; quantities of it are kept in ``base_uom``."""

    base_uom = serializers.CharField(source="base_uom.code")
    uoms = ItemUomOutput(many=True, help_text="Every unit of the item, the base unit included with factor 1.")

    class Meta:
        model = Item
        fields = ["sku", "name", "category", "base_uom", "lot_tracked", "shelf_life_days", "weight_kg", "active",
                  "uoms"]


class ItemUomInput(WholeObjectInput):
    """One unit conversion: ``factor`` base units per ``uom`` (more than 0, at most 6 decimals)."""

    uom = ScopedSlugRelatedField(slug_field="code", queryset=UnitOfMeasure.objects.all())
    factor = serializers.DecimalField(
        max_digits=18, decimal_places=settings.UOM_FACTOR_PLACES,
        min_value=Decimal(1).scaleb(-settings.UOM_FACTOR_PLACES), max_value=MAX_UOM_FACTOR,
        help_text="How many base units one of this unit holds.",
    )


class _ItemFields(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    category = serializers.CharField(max_length=100, required=False, allow_blank=True)
    base_uom = ScopedSlugRelatedField(slug_field="code", queryset=UnitOfMeasure.objects.all())
    lot_tracked = serializers.BooleanField(required=False)
    shelf_life_days = serializers.IntegerField(min_value=1, max_value=MAX_SHELF_LIFE_DAYS, required=False,
                                               allow_null=True)
    weight_kg = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=Decimal(0), required=False,
                                         allow_null=True)
    active = serializers.BooleanField(required=False)
    uoms = ItemUomInput(many=True, required=False, max_length=MAX_UOMS_PER_ITEM,  # type: ignore[call-arg]  # many=True makes a ListSerializer, which takes max_length; the stubs check the child
                        help_text="Replaces the item's unit conversions; the base unit is always kept with "
                                  "factor 1.")

    def validate_uoms(self, value: list[dict[str, Any]]) -> list[tuple[UnitOfMeasure, Decimal]]:
        seen: set[str] = set()
        for row in value:
            code = row["uom"].code
            if code in seen:
                raise serializers.ValidationError(f"Unit {code} is listed more than once.")
            seen.add(code)
        return [(row["uom"], row["factor"]) for row in value]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.context.get("instance")
        base = attrs.get("base_uom") or (instance.base_uom if instance is not None else None)
        if instance is not None and base is not None and base.pk != instance.base_uom_id and "uoms" not in attrs:
            raise serializers.ValidationError(
                {"uoms": ["Send the conversions relative to the new base unit when changing it."]}
            )
        for uom, factor in attrs.get("uoms") or []:
            if base is not None and uom.pk == base.pk and factor != 1:
                raise serializers.ValidationError(
                    {"uoms": [f"{base.code} is the base unit; its factor must be 1."]}
                )
        return attrs


class ItemCreateInput(_ItemFields):
    """A new item with its unit conversions."""

    sku = serializers.CharField(max_length=40, validators=[sku_validator])

    def validate_sku(self, value: str) -> str:
        if Item.objects.filter(sku=value).exists():
            raise serializers.ValidationError("An item with this SKU already exists.")
        return value


class ItemUpdateInput(_ItemFields):
    """Changes to an item; the SKU never changes. ``uoms``, when sent, replaces every conversion."""


class StatusTransitionOutput(serializers.Serializer[Any]):
    """An allowed change from this status, with the reason codes that may justify it."""

    to = serializers.CharField(source="to_status.code")
    reasons = serializers.SerializerMethodField()

    def get_reasons(self, transition: Any) -> list[str]:
        return [reason.code for reason in transition.reason_codes.all()]


class StockStatusOutput(serializers.ModelSerializer[StockStatus]):
    """A stock status, the same in every warehouse, and where stock in it may go next."""

    transitions = StatusTransitionOutput(source="transitions_out", many=True)

    class Meta:
        model = StockStatus
        fields = ["code", "name", "counts_toward_available", "allocatable", "valued", "gl_account_code",
                  "transitions"]


class StockMoveOutput(serializers.ModelSerializer[StockMove]):
    """One line of the append-only ledger; ``quantity`` is signed, in the item's base unit."""

    sku = serializers.CharField(source="item.sku")
    warehouse = serializers.CharField(source="warehouse.code")
    location = serializers.CharField(source="location.code")
    lot = serializers.CharField(source="lot.lot_number", default=None)
    status = serializers.CharField(source="status.code")
    reason = serializers.CharField(source="reason.code", default=None)

    class Meta:
        model = StockMove
        fields = ["id", "sku", "warehouse", "location", "lot", "status", "quantity", "unit_cost", "value", "reason",
                  "reference_type", "reference_id", "reference", "created_at"]


# --- adjustments and status changes -----------------------------------------------------------------------

_QUANTITY_INPUT: DecimalDigits = {"max_digits": 18, "decimal_places": 4}


class _StockDocumentInput(StrictInputSerializer):
    """Shared references: warehouse, SKU and location by code, each resolved only inside the caller's scope."""

    warehouse = ScopedSlugRelatedField(slug_field="code", queryset=Warehouse.objects.select_related(
        "region", "legal_entity"))
    sku = ScopedSlugRelatedField(slug_field="sku", queryset=Item.objects.select_related("base_uom"))
    uom = serializers.CharField(max_length=16, help_text="One of the item's units; its base unit when left out.",
                                required=False)
    lot = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True,
                                help_text="Required for a lot-tracked item, refused for any other.")
    reason = serializers.CharField(max_length=32)

    def _location(self, warehouse: Warehouse, code: str) -> Location:
        found = scope_queryset(Location.objects.select_related("warehouse"), self.context.get("user")).filter(
            warehouse=warehouse, code=code).first()
        if found is None:
            raise serializers.ValidationError({"location": [f"{warehouse.code} has no location {code}."]})
        return found

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("location") is not None:
            attrs["location"] = self._location(attrs["warehouse"], attrs["location"])
        attrs["uom"] = attrs.get("uom") or attrs["sku"].base_uom.code
        return attrs


class StockAdjustmentInput(_StockDocumentInput):
    """A signed adjustment of available stock at one location of the warehouse."""

    location = serializers.CharField(max_length=40)
    quantity = serializers.DecimalField(**_QUANTITY_INPUT, help_text="Signed, in ``uom``; not zero.")


class StockStatusChangeInput(_StockDocumentInput):
    """Move stock between statuses; ``location`` may be left out when the stock sits in one location only."""

    location = serializers.CharField(max_length=40, required=False, allow_null=True)
    quantity = serializers.DecimalField(**_QUANTITY_INPUT, help_text="More than 0, in ``uom``.")
    from_status = serializers.CharField(max_length=32)
    to_status = serializers.CharField(max_length=32)


class StockAdjustmentOutput(serializers.ModelSerializer[StockAdjustment]):
    """An adjustment document: ``quantity`` in the base unit, ``uom_quantity`` and ``uom`` as entered."""

    warehouse = serializers.CharField(source="warehouse.code")
    location = serializers.CharField(source="location.code")
    sku = serializers.CharField(source="item.sku")
    lot = serializers.CharField(source="lot.lot_number", default=None)
    uom = serializers.CharField(source="uom_code")
    reason = serializers.CharField(source="reason.code")
    currency = serializers.CharField(source="warehouse.legal_entity.currency")
    approval_request = serializers.IntegerField(source="approval_request_id", allow_null=True)
    requested_by = serializers.CharField(source="requested_by.username", default=None)
    move = serializers.IntegerField(source="move_id", allow_null=True)

    class Meta:
        model = StockAdjustment
        fields = ["id", "number", "status", "warehouse", "location", "sku", "lot", "quantity", "uom_quantity", "uom",
                  "reason", "unit_cost", "value", "currency", "approval_request", "requested_by", "posted_at",
                  "move", "created_at"]


class StockStatusChangeOutput(serializers.Serializer[Any]):
    """The two ledger lines a status change posted (minus in the old status, plus in the new)."""

    reference_id = serializers.CharField()
    moves = StockMoveOutput(many=True)
