from __future__ import annotations

from typing import Any

from rest_framework import serializers

from erp.api.fields import ScopedSlugRelatedField
from erp.api.serializers import StrictInputSerializer, WholeObjectInput
from erp.validators import code_validator, country_validator
from orders.models import Customer, ShipTo
from warehouses.models import Region, Warehouse

MAX_SHIP_TOS_PER_CUSTOMER = 200


class ShipToOutput(serializers.ModelSerializer[ShipTo]):
    """A ship-to address of a customer, addressed by its code within the customer."""

    region = serializers.CharField(source="region.code")

    class Meta:
        model = ShipTo
        fields = ["code", "name", "address_line1", "city", "postal_code", "country", "region", "default"]


class CustomerOutput(serializers.ModelSerializer[Customer]):
    """A customer, its region, home warehouse and ship-to addresses."""

    region = serializers.CharField(source="region.code")
    home_warehouse = serializers.CharField(source="home_warehouse.code")
    ship_tos = ShipToOutput(many=True)

    class Meta:
        model = Customer
        fields = ["code", "name", "region", "home_warehouse", "allow_partial_shipment", "email", "active",
                  "ship_tos"]


class ShipToInput(WholeObjectInput):
    """A whole ship-to address (every required field, even inside a PATCH)."""

    code = serializers.CharField(max_length=32, validators=[code_validator])
    name = serializers.CharField(max_length=200)
    address_line1 = serializers.CharField(max_length=200)
    city = serializers.CharField(max_length=100)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    country = serializers.CharField(max_length=2, validators=[country_validator])
    region = ScopedSlugRelatedField(slug_field="code", queryset=Region.objects.all())
    default = serializers.BooleanField(
        required=False, help_text="The customer's default address (orders without ``ship_to`` go there); at most "
                                  "one per customer. Left out: the address keeps what it had (a new one is not "
                                  "the default).")


class _CustomerFields(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    region = ScopedSlugRelatedField(slug_field="code", queryset=Region.objects.all())
    home_warehouse = ScopedSlugRelatedField(slug_field="code", queryset=Warehouse.objects.all())
    allow_partial_shipment = serializers.BooleanField(required=False)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    # ``many_init`` is what ``many=True`` calls: called directly, the list serializer's ``max_length`` type-checks.
    ship_tos = ShipToInput.many_init(required=False, max_length=MAX_SHIP_TOS_PER_CUSTOMER,
                                     help_text="Replaces the customer's ship-to addresses, matched by code.")

    def validate_ship_tos(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: set[str] = set()
        for row in value:
            if row["code"] in seen:
                raise serializers.ValidationError(f"Ship-to code {row['code']} is listed more than once.")
            seen.add(row["code"])
        defaults = [row["code"] for row in value if row.get("default")]
        if len(defaults) > 1:
            raise serializers.ValidationError(
                f"Only one ship-to address can be the default; {', '.join(defaults)} all say so.")
        return value


class CustomerCreateInput(_CustomerFields):
    """A new customer; the home warehouse must be in the customer's region."""

    code = serializers.CharField(max_length=32, validators=[code_validator])

    def validate_code(self, value: str) -> str:
        if Customer.objects.filter(code=value).exists():
            raise serializers.ValidationError("A customer with this code already exists.")
        return value


class CustomerUpdateInput(_CustomerFields):
    """Changes to a customer; the code never changes. ``ship_tos``, when sent, replaces them all."""
