from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from rest_framework import mixins

from erp.api.views import MasterDataViewSet, ScopedViewSet
from erp.search import SearchFilterSet
from inventory import services
from inventory.api import serializers as s
from inventory.models import Item, ItemUom, ReasonCode, StatusTransition, StockMove, StockStatus, UnitOfMeasure


class UnitOfMeasureViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Units of measure, addressed by code (read-only)."""

    serializer_class = s.UnitOfMeasureOutput
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def base_queryset(self) -> QuerySet[UnitOfMeasure]:
        return UnitOfMeasure.objects.all()


class ItemFilter(SearchFilterSet):
    category = django_filters.CharFilter(field_name="category")
    search_fields = ("sku", "name")

    class Meta:
        model = Item
        fields = ["category", "lot_tracked", "active"]



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


class StockStatusViewSet(mixins.ListModelMixin, ScopedViewSet):
    """The standard stock statuses (enterprise-wide), with their allowed transitions and reason codes."""

    serializer_class = s.StockStatusOutput

    def base_queryset(self) -> QuerySet[StockStatus]:
        transitions = StatusTransition.objects.select_related("to_status").prefetch_related(
            Prefetch("reason_codes", queryset=ReasonCode.objects.order_by("code"))
        ).order_by("to_status__sort_order")
        return StockStatus.objects.prefetch_related(Prefetch("transitions_out", queryset=transitions))


class StockMoveFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types: FilterSet is Any
    sku = django_filters.CharFilter(field_name="item__sku")
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    reference_type = django_filters.CharFilter(field_name="reference_type")

    class Meta:
        model = StockMove
        fields = ["sku", "warehouse", "reference_type"]


class StockMoveViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The append-only stock ledger in the caller's scope, newest first (read-only)."""

    serializer_class = s.StockMoveOutput
    filterset_class = StockMoveFilter

    def base_queryset(self) -> QuerySet[StockMove]:
        return StockMove.objects.select_related("item", "warehouse", "location", "lot", "status", "reason")
