from __future__ import annotations

from rest_framework import serializers

from erp.api.fields import ScopedSlugRelatedField
from erp.api.serializers import StrictInputSerializer
from erp.validators import validate_timezone
from warehouses.models import LegalEntity, Location, LocationKind, Region, Warehouse


class RegionOutput(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["code", "name"]


class LegalEntityOutput(serializers.ModelSerializer):
    class Meta:
        model = LegalEntity
        fields = ["code", "name", "currency"]


class WarehouseOutput(serializers.ModelSerializer):
    region = serializers.CharField(source="region.code")
    legal_entity = serializers.CharField(source="legal_entity.code")
    currency = serializers.CharField(source="legal_entity.currency")

    class Meta:
        model = Warehouse
        fields = ["code", "name", "region", "legal_entity", "currency", "timezone", "address_line1", "city",
                  "postal_code", "country", "active"]


class _WarehouseFields(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    region = ScopedSlugRelatedField(slug_field="code", queryset=Region.objects.all())
    legal_entity = ScopedSlugRelatedField(slug_field="code", queryset=LegalEntity.objects.all())
    timezone = serializers.CharField(max_length=64, validators=[validate_timezone])
    address_line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.RegexField(r"^[A-Z]{2}$", required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class WarehouseCreateInput(_WarehouseFields):
    code = serializers.RegexField(r"^[A-Z0-9][A-Z0-9._-]{0,31}$", max_length=32)

    def validate_code(self, value: str) -> str:
        if Warehouse.objects.filter(code=value).exists():
            raise serializers.ValidationError("A warehouse with this code already exists.")
        return value


class WarehouseUpdateInput(_WarehouseFields):
    pass


class LocationOutput(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code")
    parent = serializers.CharField(source="parent.code", allow_null=True, default=None)  # type: ignore[assignment]  # a field named parent: DRF moves declared fields off the class; the stubs see Field.parent

    class Meta:
        model = Location
        fields = ["id", "code", "warehouse", "parent", "kind", "name", "path", "active"]


class LocationCreateInput(StrictInputSerializer):
    code = serializers.RegexField(r"^[A-Z0-9][A-Z0-9._-]{0,31}$", max_length=32)
    warehouse = ScopedSlugRelatedField(slug_field="code", queryset=Warehouse.objects.all())
    parent = serializers.CharField(max_length=32, required=False, allow_null=True, allow_blank=True)  # type: ignore[assignment]  # a field named parent: DRF moves declared fields off the class; the stubs see Field.parent
    kind = serializers.ChoiceField(choices=LocationKind.choices)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs: dict) -> dict:
        warehouse = attrs["warehouse"]
        parent_code = attrs.pop("parent", None) or None
        errors = {}
        if Location.objects.filter(warehouse=warehouse, code=attrs["code"]).exists():
            errors["code"] = ["A location with this code already exists in this warehouse."]
        attrs["parent"] = None
        if parent_code:
            attrs["parent"] = Location.objects.filter(warehouse=warehouse, code=parent_code).first()
            if attrs["parent"] is None:
                errors["parent"] = [f"No location '{parent_code}' in warehouse {warehouse.code}."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs
