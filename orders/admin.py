"""Admin for customers (scoped by region) with their ship-to addresses shown read-only, and sales orders.

Saves go through ``orders.services``; a home warehouse outside the customer's region is refused
there and shown on the form. Sales orders are read-only here (scoped by the order's region, lines and
their allocations inline): they are taken, confirmed and cancelled through the API and screens, whose
services promise, allocate and release stock.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, Prefetch
from django.http import HttpRequest

from erp.admin_scoping import MasterDataAdmin, ReadOnlyInlineMixin, ScopedReadOnlyAdmin
from orders import services
from orders.models import Allocation, Customer, SalesOrder, SalesOrderLine, ShipTo


class ShipToInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = ShipTo
    fields = ["code", "name", "address_line1", "city", "postal_code", "country", "region"]
    verbose_name_plural = "ship-to addresses (read-only here: change them through the API or a CSV import)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("region")


@admin.register(Customer)
class CustomerAdmin(MasterDataAdmin):
    list_display = ["code", "name", "region", "home_warehouse", "allow_partial_shipment", "email", "active"]
    search_fields = ["code", "name", "email"]
    list_filter = [("region", admin.RelatedOnlyFieldListFilter),
                   ("home_warehouse", admin.RelatedOnlyFieldListFilter), "allow_partial_shipment", "active"]
    list_select_related = ["region", "home_warehouse"]
    ordering = ["code"]
    fields = ["code", "name", "region", "home_warehouse", "allow_partial_shipment", "email", "active"]
    inlines = [ShipToInline]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        data = self.fields_for(form, services.CUSTOMER_FIELDS)
        if change:
            return services.customer_update(customer=obj, actor=request.user, **data)
        return services.customer_create(code=obj.code, actor=request.user, **data)


class SalesOrderLineInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = SalesOrderLine
    fields = ["line_no", "item", "quantity", "uom_quantity", "uom_code", "requested_date", "status", "warehouse",
              "allocated_quantity", "backordered_quantity", "shipped_quantity", "ship_date", "promised_date",
              "allocations_held"]
    verbose_name_plural = "lines (read-only: orders change through the API and the order screens)"

    def get_queryset(self, request: HttpRequest) -> Any:
        held = Allocation.objects.select_related("warehouse", "lot").order_by("id")
        return (super().get_queryset(request).select_related("item", "warehouse")
                .prefetch_related(Prefetch("allocations", queryset=held)))

    @admin.display(description="allocations")
    def allocations_held(self, line: SalesOrderLine) -> str:
        """Each allocation as ``warehouse [lot] quantity (status)``, from the prefetched rows."""
        return "; ".join(
            f"{a.warehouse.code}{f' lot {a.lot.lot_number}' if a.lot_id else ''} {a.quantity} ({a.status})"
            for a in line.allocations.all()
        ) or "-"


@admin.register(SalesOrder)
class SalesOrderAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "customer", "region", "status", "external_ref", "requested_date", "created_by",
                    "created_at", "confirmed_at", "cancelled_at"]
    list_select_related = ["customer", "region", "created_by"]
    search_fields = ["number", "external_ref", "customer__code"]
    list_filter = ["status", ("region", admin.RelatedOnlyFieldListFilter),
                   ("customer", admin.RelatedOnlyFieldListFilter)]
    ordering = ["-id"]
    inlines = [SalesOrderLineInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("customer", "ship_to__customer", "region", "created_by")
