"""Admin for the item master and units of measure (enterprise-wide: every user sees all of them).

Saves go through ``inventory.services``; an item's unit conversions are shown read-only here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from erp.admin_scoping import MasterDataAdmin, ReadOnlyInlineMixin
from inventory import services
from inventory.models import Item, ItemUom, UnitOfMeasure


@admin.register(UnitOfMeasure)
class UnitOfMeasureAdmin(MasterDataAdmin):
    list_display = ["code", "name", "updated_at"]
    search_fields = ["code", "name"]
    list_filter = ["created_at"]
    list_select_related = True
    ordering = ["code"]
    fields = ["code", "name"]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        return services.uom_upsert(code=obj.code, name=form.cleaned_data["name"], actor=request.user)


class ItemUomInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = ItemUom
    fields = ["uom", "factor"]
    verbose_name_plural = "unit conversions (read-only here: change them through the API or a CSV import)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("uom")


@admin.register(Item)
class ItemAdmin(MasterDataAdmin):
    list_display = ["sku", "name", "category", "base_uom", "lot_tracked", "shelf_life_days", "weight_kg", "active"]
    search_fields = ["sku", "name", "category"]
    list_filter = ["category", "lot_tracked", "active", "base_uom"]
    list_select_related = ["base_uom"]
    ordering = ["sku"]
    fields = ["sku", "name", "category", "base_uom", "lot_tracked", "shelf_life_days", "weight_kg", "active"]
    inlines = [ItemUomInline]

    natural_key_fields = ("sku",)

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        data = self.fields_for(form, services.ITEM_FIELDS)
        if change:
            return services.item_update(item=obj, actor=request.user, **data)
        return services.item_create(sku=obj.sku, actor=request.user, **data)
