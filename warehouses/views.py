"""Browser screens of the network: warehouses with their location trees, and locations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from erp.scoping import scope_queryset
from erp.screens import Column, ScreenDetailView, ScreenListView
from warehouses.models import Location, Warehouse


@dataclass
class LocationNode:
    location: Location
    children: list[LocationNode] = field(default_factory=list)


def location_tree(locations: list[Location]) -> list[LocationNode]:
    """Nest a warehouse's locations under their parents; roots and siblings keep the given (path) order."""
    nodes = {location.pk: LocationNode(location) for location in locations}
    roots: list[LocationNode] = []
    for location in locations:
        node = nodes[location.pk]
        parent = nodes.get(location.parent_id) if location.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


class WarehouseListView(ScreenListView[Warehouse]):
    model = Warehouse
    permission_required = "warehouses.view_warehouse"
    template_name = "warehouses/warehouse_list.html"
    rows_template_name = "warehouses/_warehouse_rows.html"
    search_fields = ("code", "name", "city", "region__code", "region__name")
    search_placeholder = "Code, name, city or region"
    columns = (
        Column("Code", "code", sort="code"),
        Column("Name", "name", sort="name"),
        Column("Region", "region.code", sort="region__code"),
        Column("Legal entity", "legal_entity.code", sort="legal_entity__code", css="col-opt"),
        Column("Time zone", "timezone", sort="timezone", css="col-opt"),
        Column("City", lambda w: f"{w.city}, {w.country}" if w.country else w.city, sort="city", css="col-opt"),
        Column("Locations", "location_count", sort="location_count", css="num col-opt"),
        Column("Status", lambda warehouse: "active" if warehouse.active else "inactive", sort="active"),
    )

    def base_queryset(self) -> QuerySet[Warehouse]:
        # An aggregate drops Meta.ordering, so the paging order is stated here.
        return (
            Warehouse.objects.select_related("region", "legal_entity")
            .annotate(location_count=Count("locations"))
            .order_by("code")
        )


class WarehouseDetailView(ScreenDetailView[Warehouse]):
    model = Warehouse
    permission_required = "warehouses.view_warehouse"
    template_name = "warehouses/warehouse_detail.html"

    def base_queryset(self) -> QuerySet[Warehouse]:
        return Warehouse.objects.select_related("region", "legal_entity")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        can_see_locations = self.request.user.has_perm("warehouses.view_location")
        locations = (
            list(scope_queryset(Location.objects.filter(warehouse=self.object), self.request.user).order_by("path"))
            if can_see_locations
            else []
        )
        context.update(
            can_see_locations=can_see_locations,
            location_count=len(locations),
            location_tree=location_tree(locations),
        )
        return context


class LocationListView(ScreenListView[Location]):
    csv_kind = "locations"
    model = Location
    permission_required = "warehouses.view_location"
    template_name = "warehouses/location_list.html"
    rows_template_name = "warehouses/_location_rows.html"
    search_fields = ("code", "name", "path", "kind", "warehouse__code")
    search_placeholder = "Code, path, kind or warehouse"
    columns = (
        Column("Warehouse", "warehouse.code", sort="warehouse__code"),
        Column("Location", "code", sort="code"),
        Column("Kind", "get_kind_display", sort="kind"),
        Column("Path", "path", sort="path", css="col-opt"),
        Column("Name", "name", sort="name", css="col-opt"),
        Column("Status", lambda location: "active" if location.active else "inactive", sort="active", css="col-opt"),
    )

    def base_queryset(self) -> QuerySet[Location]:
        return Location.objects.select_related("warehouse", "parent").order_by("warehouse__code", "path")


class LocationDetailView(ScreenDetailView[Location]):
    model = Location
    permission_required = "warehouses.view_location"
    template_name = "warehouses/location_detail.html"

    def base_queryset(self) -> QuerySet[Location]:
        return Location.objects.select_related("warehouse", "parent")

    def get_object(self, queryset: QuerySet[Location] | None = None) -> Location:
        return get_object_or_404(
            self.get_queryset(), warehouse__code=self.kwargs["warehouse"], code=self.kwargs["code"]
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        location = self.object
        scoped = scope_queryset(Location.objects.filter(warehouse_id=location.warehouse_id), self.request.user)
        ancestor_codes = location.path.split("/")[:-1]
        ancestors = {loc.code: loc for loc in scoped.filter(code__in=ancestor_codes)}
        context.update(
            ancestors=[ancestors[code] for code in ancestor_codes if code in ancestors],
            children=list(scoped.filter(parent=location).order_by("path")),
        )
        return context
