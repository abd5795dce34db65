"""Admin for the network: legal entities, regions, warehouses, locations and carriers.

Every page is scoped (``erp.admin_scoping``) and every save goes through ``warehouses.services``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from erp.admin_scoping import MasterDataAdmin, ReadOnlyInlineMixin
from warehouses import services
from warehouses.models import Carrier, CarrierLane, LegalEntity, Location, Region, Warehouse


@admin.register(LegalEntity)
class LegalEntityAdmin(MasterDataAdmin):
    list_display = ["code", "name", "currency", "updated_at"]
    search_fields = ["code", "name"]
    list_filter = ["currency"]
    list_select_related = True
    ordering = ["code"]
    fields = ["code", "name", "currency"]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        return services.legal_entity_upsert(code=obj.code, name=form.cleaned_data["name"],
                                            currency=form.cleaned_data["currency"], actor=request.user)


@admin.register(Region)
class RegionAdmin(MasterDataAdmin):
    list_display = ["code", "name", "updated_at"]
    search_fields = ["code", "name"]
    list_filter = ["created_at"]
    list_select_related = True
    ordering = ["code"]
    fields = ["code", "name"]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        return services.region_upsert(code=obj.code, name=form.cleaned_data["name"], actor=request.user)


@admin.register(Warehouse)
class WarehouseAdmin(MasterDataAdmin):
    list_display = ["code", "name", "region", "legal_entity", "timezone", "city", "country", "active"]
    search_fields = ["code", "name", "city"]
    list_filter = [("region", admin.RelatedOnlyFieldListFilter),
                   ("legal_entity", admin.RelatedOnlyFieldListFilter), "country", "active"]
    list_select_related = ["region", "legal_entity"]
    ordering = ["code"]
    fields = ["code", "name", "region", "legal_entity", "timezone", "address_line1", "city", "postal_code",
              "country", "active"]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        data = self.fields_for(form, services.WAREHOUSE_FIELDS)
        if change:
            return services.warehouse_update(warehouse=obj, actor=request.user, **data)
        return services.warehouse_create(code=obj.code, actor=request.user, **data)


@admin.register(Location)
class LocationAdmin(MasterDataAdmin):
    list_display = ["path", "warehouse", "code", "name", "kind", "parent", "active"]
    search_fields = ["code", "name", "path", "warehouse__code"]
    list_filter = [("warehouse", admin.RelatedOnlyFieldListFilter), "kind", "active"]
    list_select_related = ["warehouse", "parent", "parent__warehouse"]
    ordering = ["warehouse__code", "path"]
    fields = ["warehouse", "code", "parent", "kind", "name", "active", "path"]
    fk_select_related = {"parent": ("warehouse",)}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # location_update changes only the name, kind and active flag: the place in the tree is fixed.
        return ["warehouse", "code", "parent", "path"] if obj is not None else ["path"]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        data = form.cleaned_data
        if change:
            return services.location_update(location=obj, actor=request.user, name=data["name"],
                                            kind=data["kind"], active=data["active"])
        return services.location_create(warehouse=data["warehouse"], code=data["code"], kind=data["kind"],
                                        parent=data.get("parent"), name=data["name"], active=data["active"],
                                        actor=request.user)


class CarrierLaneInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = CarrierLane
    fields = ["origin_region", "destination_region", "transit_days"]
    verbose_name_plural = "lanes (read-only here: carrier_upsert replaces them, from the data loaders and imports)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("origin_region", "destination_region")


@admin.register(Carrier)
class CarrierAdmin(MasterDataAdmin):
    list_display = ["code", "name", "active", "updated_at"]
    search_fields = ["code", "name"]
    list_filter = ["active"]
    list_select_related = True
    ordering = ["code"]
    fields = ["code", "name", "active"]
    inlines = [CarrierLaneInline]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        # lanes=None keeps the carrier's lanes as they are.
        return services.carrier_upsert(code=obj.code, name=form.cleaned_data["name"],
                                       active=form.cleaned_data["active"], actor=request.user)
