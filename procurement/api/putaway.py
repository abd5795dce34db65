"""Put-away rules API (``putaway-rules/``): where received stock goes at a warehouse, per SKU or category.

Everyone reads the rules of the warehouses in their scope (``procurement.view_putawayrule``); warehouse
supervisors create (``procurement.add_putawayrule``) and change (``procurement.change_putawayrule``) them. A
warehouse outside the caller's scope is 404, as a rule outside it is. ``POST`` accepts an ``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from erp.api.serializers import StrictInputSerializer
from erp.api.views import MasterDataViewSet
from erp.exceptions import NotFound
from erp.scoping import scope_of
from inventory.models import Item
from procurement import putaway
from procurement.models import QUANTITY, PutawayRule
from warehouses.models import Location, Warehouse

# --- input ----------------------------------------------------------------------------------------------------


class PutawayRuleInput(StrictInputSerializer):
    """A rule: ``sku`` or ``category`` (exactly one) goes to ``location`` of ``warehouse``, the lowest ``priority``
    first, at most ``max_quantity`` base units of the SKU there (empty: no maximum)."""

    warehouse = serializers.CharField(max_length=32, help_text="The warehouse's code.")
    sku = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True, default=None,
                                help_text="The SKU the rule is for; or give a category.")
    category = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                     help_text="An item category the rule is for; or give a SKU.")
    location = serializers.CharField(max_length=32, help_text="A storage or pick location of the warehouse.")
    priority = serializers.IntegerField(min_value=0, max_value=putaway.MAX_PRIORITY, required=False, default=100,
                                        help_text="0 to 32767; the lowest is filled first.")
    max_quantity = serializers.DecimalField(**QUANTITY, required=False, allow_null=True, default=None,
                                            help_text="More than 0 base units, or null for no maximum.")
    active = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Resolve the codes against the rule being changed (a PATCH): an unknown code is 400, a warehouse outside
        the caller's scope 404. A PATCH giving ``sku`` or ``category`` replaces both (the one left out is cleared)."""
        rule: PutawayRule | None = self.context.get("instance")
        fields: dict[str, Any] = putaway.rule_fields(rule) if rule is not None else {}
        errors: dict[str, list[str]] = {}
        warehouse = fields.get("warehouse")
        if "warehouse" in attrs:
            warehouse = Warehouse.objects.filter(code=attrs["warehouse"]).first()
            if warehouse is None:
                raise serializers.ValidationError({"warehouse": [f"No warehouse {attrs['warehouse']}."]})
        assert warehouse is not None  # a create requires the field; a PATCH starts from the rule's
        if not scope_of(self.context.get("user")).covers_warehouse(warehouse.pk):
            raise NotFound(detail={"warehouse": [f"Warehouse {warehouse.code} is not in your scope."]})
        location = fields.get("location")
        code = attrs.get("location", location.code if location is not None else "")
        if "location" in attrs or "warehouse" in attrs:
            location = Location.objects.filter(warehouse=warehouse, code=code).first()
            if location is None:
                errors["location"] = [f"{warehouse.code} has no location {code}."]
        item = fields.get("item")
        category = fields.get("category", "")
        if rule is None or "sku" in attrs or "category" in attrs:
            item = None
            if attrs.get("sku"):
                item = Item.objects.filter(sku=attrs["sku"]).first()
                if item is None:
                    errors["sku"] = [f"No item {attrs['sku']}."]
            category = attrs.get("category") or ""
        if errors:
            raise serializers.ValidationError(errors)
        return {**fields, "warehouse": warehouse, "location": location, "item": item, "category": category,
                **{name: attrs[name] for name in ("priority", "max_quantity", "active") if name in attrs}}


# --- output ---------------------------------------------------------------------------------------------------


class PutawayRuleOutput(serializers.ModelSerializer[PutawayRule]):
    warehouse = serializers.CharField(source="warehouse.code")
    sku = serializers.CharField(source="item.sku", default=None, allow_null=True)
    location = serializers.CharField(source="location.code")

    class Meta:
        model = PutawayRule
        fields = ["id", "warehouse", "sku", "category", "location", "priority", "max_quantity", "active",
                  "created_at", "updated_at"]


# --- the view -------------------------------------------------------------------------------------------------


class PutawayRuleFilter(django_filters.FilterSet):
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    sku = django_filters.CharFilter(field_name="item__sku")
    category = django_filters.CharFilter(field_name="category")
    location = django_filters.CharFilter(field_name="location__code")
    active = django_filters.BooleanFilter(field_name="active")

    class Meta:
        model = PutawayRule
        fields = ["warehouse", "sku", "category", "location", "active"]


class PutawayRuleViewSet(MasterDataViewSet):
    """The put-away rules of the caller's warehouses, by warehouse, priority and id."""

    output_serializer_class = PutawayRuleOutput
    create_serializer_class = PutawayRuleInput
    update_serializer_class = PutawayRuleInput
    filterset_class = PutawayRuleFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self) -> QuerySet[PutawayRule]:
        return putaway.putaway_rules()

    @extend_schema(request=PutawayRuleInput, responses={201: PutawayRuleOutput})
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Add a rule. Both or neither of SKU and category, a location not a storage or pick location of the
        warehouse, a category no item has: 400. The same warehouse, SKU or category and location twice: 409
        ``duplicate_putaway_rule``."""
        return super().create(request, *args, **kwargs)

    @extend_schema(request=PutawayRuleInput, responses=PutawayRuleOutput)
    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Change a rule's fields (the rest stay); refusals as for ``POST``."""
        return super().partial_update(request, *args, **kwargs)

    def perform_create_service(self, data: dict[str, Any]) -> PutawayRule:
        return putaway.putaway_rule_save(actor=self.request.user, **data)

    def perform_update_service(self, instance: Any, data: dict[str, Any]) -> PutawayRule:
        return putaway.putaway_rule_save(actor=self.request.user, rule=instance, **data)
