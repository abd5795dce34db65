"""Admin for transfers: read-only and scoped, with their lines and dispatched parts inline.

A transfer is requested, submitted, dispatched, received and cancelled only through ``services`` (the API and the
transfer screens), which post the stock moves and keep the carried cost; the admin shows it, to whoever's scope
covers either of its warehouses, and never writes it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from erp.admin_scoping import ReadOnlyInlineMixin, ScopedReadOnlyAdmin
from warehouses.transfers.models import Transfer, TransferLine, TransferLineLot, TransferWriteOff, TransferWriteOffLine


class TransferLineInline(ReadOnlyInlineMixin, admin.TabularInline[TransferLine, Transfer]):
    model = TransferLine
    fields = ["line_no", "item", "lot", "quantity", "uom_quantity", "uom_code", "dispatched_quantity",
              "received_quantity", "damaged_quantity", "over_quantity", "written_off_quantity"]
    verbose_name_plural = "lines (read-only: transfers move through the API and the transfer screens)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("item", "lot")


class TransferLineLotInline(ReadOnlyInlineMixin, admin.TabularInline[TransferLineLot, Transfer]):
    model = TransferLineLot
    fk_name = "transfer"
    fields = ["line", "lot", "transit_location", "source_unit_cost", "rate", "unit_cost", "dispatched_quantity",
              "received_quantity", "written_off_quantity"]
    verbose_name_plural = "dispatched parts (read-only: the cost each part carries through transit)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("line", "lot", "transit_location__warehouse")


@admin.register(Transfer)
class TransferAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "from_warehouse", "to_warehouse", "status", "requested_date", "expected_arrival",
                    "intercompany", "value", "currency", "requested_by", "created_at", "dispatched_at",
                    "received_at"]
    list_select_related = ["from_warehouse", "to_warehouse", "requested_by"]
    search_fields = ["number", "from_warehouse__code", "to_warehouse__code"]
    list_filter = ["status", "intercompany", ("from_warehouse", admin.RelatedOnlyFieldListFilter),
                   ("to_warehouse", admin.RelatedOnlyFieldListFilter)]
    ordering = ["-id"]
    inlines = [TransferLineInline, TransferLineLotInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("from_warehouse", "to_warehouse", "carrier",
                                                            "requested_by", "dispatched_by", "approval_request")


class TransferWriteOffLineInline(ReadOnlyInlineMixin, admin.TabularInline[TransferWriteOffLine, TransferWriteOff]):
    model = TransferWriteOffLine
    fields = ["line", "quantity"]
    verbose_name_plural = "lines (read-only: a write-off is requested and decided through the approval engine)"


@admin.register(TransferWriteOff)
class TransferWriteOffAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "transfer", "from_warehouse", "to_warehouse", "status", "value", "currency",
                    "requested_by", "created_at", "decided_at"]
    list_select_related = ["transfer", "from_warehouse", "to_warehouse", "requested_by"]
    search_fields = ["number", "transfer__number"]
    list_filter = ["status"]
    ordering = ["-id"]
    inlines = [TransferWriteOffLineInline]
