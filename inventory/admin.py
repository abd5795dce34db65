"""Admin for the item master and units of measure (enterprise-wide: every user sees all of them), and
read-only, scoped admins for the stock ledger, balances, lots, statuses, costs, cycle counts and ABC classes.

Saves go through ``inventory.services``; an item's unit conversions are shown read-only here. Cycle counts
change only through ``inventory.services.counts`` (the handheld, the API, the approval engine).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from erp.admin_scoping import MasterDataAdmin, ReadOnlyInlineMixin, ScopedReadOnlyAdmin
from inventory import services
from inventory.models import (
    CycleCount,
    CycleCountLine,
    Item,
    ItemAbcClass,
    ItemCost,
    ItemUom,
    ItemWarehouseSummary,
    Lot,
    ReasonCode,
    StatusTransition,
    StockBalance,
    StockMove,
    StockStatus,
    UnitOfMeasure,
)
from inventory.selectors import count_is_blind


@admin.register(UnitOfMeasure)
class UnitOfMeasureAdmin(MasterDataAdmin):
    list_display = ["code", "name", "updated_at"]
    search_fields = ["code", "name"]
    list_filter = ["created_at"]
    list_select_related = True
    ordering = ["code"]
    fields = ["code", "name"]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm[Any], change: bool) -> Model:
        return services.uom_upsert(code=obj.code, name=form.cleaned_data["name"], actor=request.user)


class ItemUomInline(ReadOnlyInlineMixin, admin.TabularInline[ItemUom, Item]):
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

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm[Any], change: bool) -> Model:
        data = self.fields_for(form, services.ITEM_FIELDS)
        if change:
            return services.item_update(item=obj, actor=request.user, **data)
        return services.item_create(sku=obj.sku, actor=request.user, **data)




@admin.register(StockStatus)
class StockStatusAdmin(ScopedReadOnlyAdmin):
    list_display = ["code", "name", "counts_toward_available", "allocatable", "valued", "gl_account_code",
                    "sort_order"]
    ordering = ["sort_order"]


@admin.register(ReasonCode)
class ReasonCodeAdmin(ScopedReadOnlyAdmin):
    list_display = ["code", "description", "applies_to"]
    list_filter = ["applies_to"]


@admin.register(StatusTransition)
class StatusTransitionAdmin(ScopedReadOnlyAdmin):
    list_display = ["from_status", "to_status"]
    list_select_related = ["from_status", "to_status"]


@admin.register(Lot)
class LotAdmin(ScopedReadOnlyAdmin):
    list_display = ["item", "lot_number", "expiry_date", "received_on"]
    list_select_related = ["item"]
    search_fields = ["lot_number", "item__sku"]
    list_filter = ["expiry_date"]


@admin.register(StockMove)
class StockMoveAdmin(ScopedReadOnlyAdmin):
    list_display = ["created_at", "item", "warehouse", "location", "lot", "status", "quantity", "unit_cost", "value",
                    "reference_type", "reference"]
    list_select_related = ["item", "warehouse", "location__warehouse", "lot", "status"]
    search_fields = ["item__sku", "reference", "reference_id"]
    list_filter = ["reference_type", "status", ("warehouse", admin.RelatedOnlyFieldListFilter)]


@admin.register(StockBalance)
class StockBalanceAdmin(ScopedReadOnlyAdmin):
    list_display = ["item", "warehouse", "location", "lot", "status", "on_hand"]
    list_select_related = ["item", "warehouse", "location__warehouse", "lot", "status"]
    search_fields = ["item__sku"]
    list_filter = ["status", ("warehouse", admin.RelatedOnlyFieldListFilter)]


@admin.register(ItemWarehouseSummary)
class ItemWarehouseSummaryAdmin(ScopedReadOnlyAdmin):
    list_display = ["item", "warehouse", "on_hand", "allocatable_on_hand", "blocked", "allocated"]
    list_select_related = ["item", "warehouse"]
    search_fields = ["item__sku"]
    list_filter = [("warehouse", admin.RelatedOnlyFieldListFilter)]


@admin.register(ItemCost)
class ItemCostAdmin(ScopedReadOnlyAdmin):
    list_display = ["item", "legal_entity", "quantity", "unit_cost"]
    list_select_related = ["item", "legal_entity"]
    search_fields = ["item__sku"]


class CycleCountLineInline(ReadOnlyInlineMixin, admin.TabularInline[CycleCountLine, CycleCount]):
    """A count's lines, blind while the count is open: what the system held, the variance and its value
    and judgement appear only once the count is submitted, in the admin as on the handheld."""

    model = CycleCountLine
    fields = ["line_no", "location", "item", "lot", "abc_class", "state", "counted_quantity", "uom_quantity",
              "uom_code", "expected_quantity", "variance", "unit_cost", "variance_value", "within_tolerance",
              "counted_by", "counted_at", "move"]
    blind_fields = ("expected_quantity", "variance", "unit_cost", "variance_value", "within_tolerance")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # ``obj`` is the count. Nothing submitted yet (or no count at all): the system's side stays hidden.
        if obj is None or count_is_blind(obj):
            return [name for name in self.fields if name not in self.blind_fields]
        return list(self.fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_fields(request, obj)

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("location__warehouse", "item", "lot", "counted_by",
                                                            "move")


@admin.register(CycleCount)
class CycleCountAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "warehouse", "status", "origin", "planned_for", "created_by", "submitted_at",
                    "closed_at"]
    list_select_related = ["warehouse", "created_by"]
    search_fields = ["number"]
    list_filter = ["status", "origin", ("warehouse", admin.RelatedOnlyFieldListFilter), "planned_for"]
    inlines = [CycleCountLineInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("warehouse", "recount_of", "created_by", "submitted_by",
                                                            "approval_request")


@admin.register(ItemAbcClass)
class ItemAbcClassAdmin(ScopedReadOnlyAdmin):
    list_display = ["item", "warehouse", "abc_class", "basis_value", "classified_on"]
    list_select_related = ["item", "warehouse"]
    search_fields = ["item__sku"]
    list_filter = [("warehouse", admin.RelatedOnlyFieldListFilter), "abc_class"]
    ordering = ["warehouse", "abc_class", "-basis_value", "item__sku"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("item", "warehouse")
