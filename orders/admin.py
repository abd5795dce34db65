"""Admin for customers (scoped by region) with their ship-to addresses shown read-only, and sales orders.

Saves go through ``orders.services``; a home warehouse outside the customer's region is refused
there and shown on the form. Sales orders, pick lists, shipments and returns are read-only
here (scoped, their lines inline): they are worked through the API and screens, whose services move stock.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, Prefetch
from django.http import HttpRequest

from erp.admin_scoping import MasterDataAdmin, ReadOnlyInlineMixin, ScopedReadOnlyAdmin
from orders import services
from orders.models import (
    Allocation,
    Customer,
    Package,
    PickList,
    PickListLine,
    ReturnAuthorization,
    ReturnLine,
    SalesOrder,
    SalesOrderLine,
    Shipment,
    ShipmentDocument,
    ShipmentLine,
    ShipTo,
)


class ShipToInline(ReadOnlyInlineMixin, admin.TabularInline[ShipTo, Customer]):
    model = ShipTo
    fields = ["code", "name", "address_line1", "city", "postal_code", "country", "region", "default"]
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

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm[Any], change: bool) -> Model:
        data = self.fields_for(form, services.CUSTOMER_FIELDS)
        if change:
            return services.customer_update(customer=obj, actor=request.user, **data)
        return services.customer_create(code=obj.code, actor=request.user, **data)


class SalesOrderLineInline(ReadOnlyInlineMixin, admin.TabularInline[SalesOrderLine, SalesOrder]):
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
            f"{a.warehouse.code}{f' lot {a.lot.lot_number}' if a.lot else ''} {a.quantity} ({a.status})"
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


# --- returns (read-only: authorized, received and cancelled through the API and the return screens) ----------



class ReturnLineInline(ReadOnlyInlineMixin, admin.TabularInline[ReturnLine, ReturnAuthorization]):
    model = ReturnLine
    fields = ["line_no", "order_line", "item", "lot", "quantity", "received_quantity", "disposition", "location",
              "note"]
    verbose_name_plural = "lines (read-only: returns are received through the API and the return screens)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("order_line__order", "item", "lot", "location__warehouse")


@admin.register(ReturnAuthorization)
class ReturnAuthorizationAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "order", "customer", "warehouse", "status", "created_by", "created_at", "received_by",
                    "received_at"]
    list_select_related = ["order", "customer", "warehouse", "created_by", "received_by"]
    search_fields = ["number", "order__number", "customer__code"]
    list_filter = ["status", ("warehouse", admin.RelatedOnlyFieldListFilter)]
    ordering = ["-id"]
    inlines = [ReturnLineInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("order", "customer", "warehouse", "created_by",
                                                            "received_by")


# --- picking (read-only: pick lists are listed, confirmed and cancelled through the API and the handheld) -----



class PickListLineInline(ReadOnlyInlineMixin, admin.TabularInline[PickListLine, PickList]):
    model = PickListLine
    fields = ["sequence", "location", "item", "lot", "quantity", "picked_quantity", "picked_lot", "status",
              "order_line"]
    verbose_name_plural = "lines (read-only: pick lists are confirmed through the API and the handheld screens)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("location__warehouse", "item", "lot", "picked_lot",
                                                            "order_line")


@admin.register(PickList)
class PickListAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "warehouse", "kind", "order", "wave_cutoff", "status", "created_by", "created_at",
                    "picked_by", "picked_at"]
    list_select_related = ["warehouse", "order", "created_by", "picked_by"]
    search_fields = ["number", "order__number"]
    list_filter = ["status", "kind", ("warehouse", admin.RelatedOnlyFieldListFilter)]
    ordering = ["-id"]
    inlines = [PickListLineInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("warehouse", "order", "created_by", "picked_by")


# --- shipping (read-only: shipments are packed, shipped, delivered and cancelled through the API and screens) ---



class ShipmentLineInline(ReadOnlyInlineMixin, admin.TabularInline[ShipmentLine, Shipment]):
    model = ShipmentLine
    fields = ["order_line", "item", "location", "lot", "quantity", "unit_cost", "value", "stock_move"]
    verbose_name_plural = "lines (read-only: shipments change through the API and the shipping screens)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("order_line__order", "item", "location__warehouse",
                                                            "lot", "stock_move")


class PackageInline(ReadOnlyInlineMixin, admin.TabularInline[Package, Shipment]):
    model = Package
    fields = ["number", "weight_kg", "length_cm", "width_cm", "height_cm", "tracking_number"]


class ShipmentDocumentInline(ReadOnlyInlineMixin, admin.TabularInline[ShipmentDocument, Shipment]):
    model = ShipmentDocument
    fields = ["kind", "reference", "attached_by", "created_at"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("attached_by")


@admin.register(Shipment)
class ShipmentAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "warehouse", "order", "status", "carrier", "tracking_number", "created_at",
                    "ship_date", "delivered_at"]
    list_select_related = ["warehouse", "order", "carrier"]
    search_fields = ["number", "order__number", "tracking_number"]
    list_filter = ["status", ("warehouse", admin.RelatedOnlyFieldListFilter),
                   ("carrier", admin.RelatedOnlyFieldListFilter)]
    ordering = ["-id"]
    inlines = [ShipmentLineInline, PackageInline, ShipmentDocumentInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("warehouse", "order__customer", "carrier", "created_by",
                                                            "shipped_by")
