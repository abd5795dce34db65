from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch, Q, QuerySet
from rest_framework import mixins

from erp.api.views import MasterDataViewSet, ScopedViewSet
from inventory import services
from inventory.api import serializers as s
from inventory.models import Item, ItemUom, UnitOfMeasure


class UnitOfMeasureViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Units of measure, addressed by code (read-only)."""

    serializer_class = s.UnitOfMeasureOutput
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def base_queryset(self) -> QuerySet[UnitOfMeasure]:
        return UnitOfMeasure.objects.all()


class ItemFilter(django_filters.FilterSet):
    category = django_filters.CharFilter(field_name="category")
    search = django_filters.CharFilter(method="filter_search", label="Part of the SKU or the name")

    class Meta:
        model = Item
        fields = ["category", "lot_tracked", "active"]

    def filter_search(self, queryset: QuerySet[Item], name: str, value: str) -> QuerySet[Item]:
        return queryset.filter(Q(sku__icontains=value) | Q(name__icontains=value))


class ItemViewSet(MasterDataViewSet):
    """Items, addressed by SKU, with their unit conversions (the base unit is listed with factor 1)."""

    lookup_field = "sku"
    lookup_value_regex = "[^/]+"  # SKUs may contain dots
    output_serializer_class = s.ItemOutput
    create_serializer_class = s.ItemCreateInput
    update_serializer_class = s.ItemUpdateInput
    filterset_class = ItemFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self) -> QuerySet[Item]:
        conversions = ItemUom.objects.select_related("uom").order_by("factor", "uom__code")
        return Item.objects.select_related("base_uom").prefetch_related(Prefetch("uoms", queryset=conversions))

    def perform_create_service(self, data: dict[str, Any]) -> Item:
        return services.item_create(actor=self.request.user, **data)

    def perform_update_service(self, instance: Any, data: dict[str, Any]) -> Item:
        return services.item_update(item=instance, actor=self.request.user, **data)
