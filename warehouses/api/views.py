from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from rest_framework import mixins

from erp.api.views import MasterDataViewSet, ScopedViewSet
from warehouses import services
from warehouses.api import serializers as s
from warehouses.models import LegalEntity, Location, LocationKind, Region, Warehouse


class RegionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Regions, addressed by code (read-only); a scoped user sees the regions of their warehouses."""

    serializer_class = s.RegionOutput
    lookup_field = "code"
    lookup_value_regex = "[^/]+"  # codes may contain dots

    def base_queryset(self) -> QuerySet[Region]:
        return Region.objects.all()


class LegalEntityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Legal entities and their currencies, addressed by code (read-only)."""

    serializer_class = s.LegalEntityOutput
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def base_queryset(self) -> QuerySet[LegalEntity]:
        return LegalEntity.objects.all()


class WarehouseFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(field_name="region__code")
    legal_entity = django_filters.CharFilter(field_name="legal_entity__code")

    class Meta:
        model = Warehouse
        fields = ["region", "legal_entity", "active"]


class WarehouseViewSet(MasterDataViewSet):
    """Warehouses, addressed by code; the code is the warehouse's identity and never changes."""

    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    output_serializer_class = s.WarehouseOutput
    create_serializer_class = s.WarehouseCreateInput
    update_serializer_class = s.WarehouseUpdateInput
    filterset_class = WarehouseFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self) -> QuerySet[Warehouse]:
        return Warehouse.objects.select_related("region", "legal_entity")

    def perform_create_service(self, data: dict[str, Any]) -> Warehouse:
        return services.warehouse_create(actor=self.request.user, **data)

    def perform_update_service(self, instance: Any, data: dict[str, Any]) -> Warehouse:
        return services.warehouse_update(warehouse=instance, actor=self.request.user, **data)


class LocationFilter(django_filters.FilterSet):
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    kind = django_filters.ChoiceFilter(choices=LocationKind.choices)
    parent = django_filters.CharFilter(field_name="parent__code")

    class Meta:
        model = Location
        fields = ["warehouse", "kind", "parent", "active"]


class LocationViewSet(MasterDataViewSet):
    """The location tree of each warehouse in scope; locations are addressed by id."""

    output_serializer_class = s.LocationOutput
    create_serializer_class = s.LocationCreateInput
    filterset_class = LocationFilter
    http_method_names = ["get", "post", "head", "options"]

    def base_queryset(self) -> QuerySet[Location]:
        return Location.objects.select_related("warehouse", "parent")

    def perform_create_service(self, data: dict[str, Any]) -> Location:
        return services.location_create(actor=self.request.user, **data)
