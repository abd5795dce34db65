"""Admin for procure to pay's documents: read-only and scoped by the receiving warehouse, lines inline.

Requisitions, purchase orders, receipts and landed costs are written only through their services (the API and
the screens), which route approvals, freeze approved terms and post the stock; the admin shows them and never
writes them (the database refuses changes to a submitted order's terms as well).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from erp.admin_scoping import ReadOnlyInlineMixin, ScopedReadOnlyAdmin
from procurement.models import (
    LandedCost,
    LandedCostLine,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderRevision,
    PurchaseRequisition,
    PurchaseRequisitionLine,
    Receipt,
    ReceiptLine,
)


class RequisitionLineInline(ReadOnlyInlineMixin, admin.TabularInline[PurchaseRequisitionLine, PurchaseRequisition]):
    model = PurchaseRequisitionLine
    fields = ["line_no", "item", "quantity", "uom_quantity", "uom_code", "needed_by", "supplier", "order_line"]
    verbose_name_plural = "lines (read-only: requisitions move through the API and the screens)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("item", "supplier", "order_line__order")


@admin.register(PurchaseRequisition)
class PurchaseRequisitionAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "warehouse", "source", "status", "value", "currency", "requested_by", "created_at"]
    list_select_related = ["warehouse", "requested_by"]
    search_fields = ["number", "warehouse__code"]
    list_filter = ["status", "source", ("warehouse", admin.RelatedOnlyFieldListFilter)]
    ordering = ["-id"]
    inlines = [RequisitionLineInline]


class OrderLineInline(ReadOnlyInlineMixin, admin.TabularInline[PurchaseOrderLine, PurchaseOrder]):
    model = PurchaseOrderLine
    fields = ["line_no", "item", "quantity", "uom_quantity", "uom_code", "unit_price", "line_total", "expected_date",
              "promised_date", "received_quantity"]
    verbose_name_plural = "lines (read-only: frozen once the order is submitted; a change is a new revision)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("item")


class OrderRevisionInline(ReadOnlyInlineMixin, admin.TabularInline[PurchaseOrderRevision, PurchaseOrder]):
    model = PurchaseOrderRevision
    fields = ["revision", "total", "currency", "base_total", "approval_request", "approved_at"]
    verbose_name_plural = "approved revisions"


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "supplier", "warehouse", "status", "revision", "total", "currency", "base_total",
                    "base_currency", "order_date", "requested_by", "approved_at"]
    list_select_related = ["supplier", "warehouse", "requested_by"]
    search_fields = ["number", "supplier__code", "warehouse__code", "supplier_reference"]
    list_filter = ["status", "currency", ("supplier", admin.RelatedOnlyFieldListFilter),
                   ("warehouse", admin.RelatedOnlyFieldListFilter)]
    ordering = ["-id"]
    inlines = [OrderLineInline, OrderRevisionInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("supplier", "warehouse", "legal_entity", "requested_by",
                                                            "approval_request", "copied_from")


class ReceiptLineInline(ReadOnlyInlineMixin, admin.TabularInline[ReceiptLine, Receipt]):
    model = ReceiptLine
    fields = ["line_no", "order_line", "item", "lot", "location", "status", "quantity", "uom_quantity", "uom_code",
              "price_cost", "freight", "unit_cost", "over_quantity", "over_allowed_by", "move"]
    verbose_name_plural = "lines (read-only: each posted to the ledger at its cost)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("item", "lot", "location", "order_line", "move")


@admin.register(Receipt)
class ReceiptAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "purchase_order", "warehouse", "supplier_reference", "freight_amount",
                    "freight_currency", "freight_base", "currency", "received_by", "posted_at"]
    list_select_related = ["purchase_order", "warehouse", "received_by"]
    search_fields = ["number", "purchase_order__number", "supplier_reference"]
    list_filter = [("warehouse", admin.RelatedOnlyFieldListFilter)]
    ordering = ["-id"]
    inlines = [ReceiptLineInline]


class LandedCostLineInline(ReadOnlyInlineMixin, admin.TabularInline[LandedCostLine, LandedCost]):
    model = LandedCostLine
    fields = ["receipt_line", "item", "share", "revalued", "issued"]
    verbose_name_plural = "lines"


@admin.register(LandedCost)
class LandedCostAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "receipt", "warehouse", "bill_reference", "amount", "currency", "base_amount",
                    "revalued", "issued", "posted_at"]
    list_select_related = ["receipt", "warehouse"]
    search_fields = ["number", "receipt__number", "bill_reference"]
    ordering = ["-id"]
    inlines = [LandedCostLineInline]
