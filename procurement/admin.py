"""Admin for suppliers (enterprise-wide master data); saves go through ``procurement.services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from erp.admin_scoping import MasterDataAdmin
from procurement import services
from procurement.models import Supplier


@admin.register(Supplier)
class SupplierAdmin(MasterDataAdmin):
    list_display = ["code", "name", "currency", "lead_time_days", "payment_terms_days", "email", "active"]
    search_fields = ["code", "name", "email"]
    list_filter = ["currency", "active"]
    list_select_related = True
    ordering = ["code"]
    fields = ["code", "name", "currency", "lead_time_days", "payment_terms_days", "email", "active"]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        data = self.fields_for(form, services.SUPPLIER_FIELDS)
        if change:
            return services.supplier_update(supplier=obj, actor=request.user, **data)
        return services.supplier_create(code=obj.code, actor=request.user, **data)


# --- put-away rules (issue 14, point 5) ---------------------------------------------------------------------------
PUTAWAY_RULE_FIELDS = ("warehouse", "item", "category", "location", "priority", "max_quantity", "active")

from procurement import putaway  # noqa: E402
from procurement.models import PutawayRule  # noqa: E402


@admin.register(PutawayRule)
class PutawayRuleAdmin(MasterDataAdmin):
    """A warehouse's put-away rules, scoped by warehouse, saved through ``putaway.putaway_rule_save``."""

    natural_key_fields = ()
    list_display = ["warehouse", "item", "category", "location", "priority", "max_quantity", "active"]
    list_select_related = ["warehouse", "item", "location"]
    search_fields = ["warehouse__code", "item__sku", "category", "location__code"]
    list_filter = ["active", ("warehouse", admin.RelatedOnlyFieldListFilter)]
    ordering = ["warehouse__code", "priority", "id"]
    fields = PUTAWAY_RULE_FIELDS
    raw_id_fields = ["item"]
    fk_select_related = {"location": ("warehouse",)}

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        data = form.cleaned_data
        return putaway.putaway_rule_save(
            actor=request.user, rule=obj if change else None, warehouse=data["warehouse"], location=data["location"],
            priority=data["priority"], max_quantity=data.get("max_quantity"), item=data.get("item"),
            category=data.get("category") or "", active=data.get("active", False))


# --- supplier items (issue 14, point 1) ---------------------------------------------------------------------------
from procurement.models import SupplierItem  # noqa: E402


@admin.register(SupplierItem)
class SupplierItemAdmin(MasterDataAdmin):
    """What each supplier sells, saved through ``services.supplier_item_save`` (which moves the preferred mark)."""

    natural_key_fields = ("supplier", "item")
    list_display = ["supplier", "item", "supplier_sku", "uom", "unit_price", "currency", "min_order_quantity",
                    "pack_multiple", "lead_time_days", "preferred", "active"]
    list_select_related = ["supplier", "item", "uom"]
    search_fields = ["supplier__code", "item__sku", "supplier_sku"]
    list_filter = ["preferred", "active", ("supplier", admin.RelatedOnlyFieldListFilter)]
    ordering = ["supplier__code", "item__sku"]
    fields = ["supplier", "item", *services.SUPPLIER_ITEM_FIELDS]
    raw_id_fields = ["item"]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        data = self.fields_for(form, services.SUPPLIER_ITEM_FIELDS)
        return services.supplier_item_save(supplier=obj.supplier, item=obj.item, actor=request.user, **data)


class SupplierItemInline(admin.TabularInline):
    """The SKUs a supplier sells, read-only under the supplier (changes go through their own page)."""

    model = SupplierItem
    fields = ("item", "supplier_sku", "uom", "unit_price", "currency", "min_order_quantity", "pack_multiple",
              "lead_time_days", "preferred", "active")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("item", "uom")


SupplierAdmin.inlines = [SupplierItemInline]


# The documents of procure to pay (read-only, scoped) register from their own module.
from procurement import admin_documents  # noqa: E402, F401
