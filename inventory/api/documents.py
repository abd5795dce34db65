"""Inventory API: documents. Stock adjustments (posted at once or after approval) and status changes.

Every reference (warehouse, SKU, location) resolves inside the caller's scope, so a site outside it
answers 400 exactly as one that does not exist, and nothing is written. Posting an adjustment needs
``inventory.add_stockadjustment``; a status change needs ``inventory.change_stock_status``.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp.api.idempotency import idempotent
from erp.api.views import ScopedViewSet
from inventory import services
from inventory.api import serializers as s
from inventory.models import StockAdjustment, StockMove


class StockAdjustmentFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types: FilterSet is Any
    sku = django_filters.CharFilter(field_name="item__sku")
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    status = django_filters.CharFilter(field_name="status")

    class Meta:
        model = StockAdjustment
        fields = ["sku", "warehouse", "status"]


class StockAdjustmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Adjustments of the caller's warehouses, newest first. POST adjusts available stock: within the
    ``inventory.count_variance_tolerance`` policy it posts at once (``posted``), beyond it it waits for
    the approval engine (``pending_approval``) and posts when approved."""

    serializer_class = s.StockAdjustmentOutput
    filterset_class = StockAdjustmentFilter
    http_method_names = ["get", "post", "head", "options"]

    def base_queryset(self) -> QuerySet[StockAdjustment]:
        return StockAdjustment.objects.select_related("warehouse__legal_entity", "location", "item", "lot",
                                                      "reason", "requested_by")

    def get_serializer_class(self) -> Any:
        return s.StockAdjustmentInput if self.action == "create" else s.StockAdjustmentOutput

    @extend_schema(request=s.StockAdjustmentInput, responses={201: s.StockAdjustmentOutput})
    def create(self, request: Request) -> Response:
        def produce() -> Response:
            data = s.StockAdjustmentInput(data=request.data, context=self.get_serializer_context())
            data.is_valid(raise_exception=True)
            fields = data.validated_data
            adjustment = services.stock_adjustment_create(
                warehouse=fields["warehouse"], location=fields["location"], item=fields["sku"],
                quantity=fields["quantity"], uom=fields["uom"], reason=fields["reason"],
                lot_number=fields.get("lot") or None, actor=request.user,
            )
            fresh = self.base_queryset().get(pk=adjustment.pk)
            return Response(s.StockAdjustmentOutput(fresh).data, status=status.HTTP_201_CREATED)

        return idempotent(request, produce)


class StockStatusChangeViewSet(ScopedViewSet):
    """POST moves stock between statuses along an allowed transition with one of its reasons; the answer
    is the two ledger lines. Moving stock to ``damaged`` or ``quality_hold`` raises a ``damaged_goods``
    exception."""

    serializer_class = s.StockStatusChangeInput
    http_method_names = ["post", "options"]
    required_action_permission = "inventory.change_stock_status"

    def base_queryset(self) -> QuerySet[StockMove]:
        return StockMove.objects.select_related("item", "warehouse", "location", "lot", "status", "reason")

    @extend_schema(request=s.StockStatusChangeInput, responses={201: s.StockStatusChangeOutput})
    def create(self, request: Request) -> Response:
        def produce() -> Response:
            data = s.StockStatusChangeInput(data=request.data, context=self.get_serializer_context())
            data.is_valid(raise_exception=True)
            fields = data.validated_data
            moves = services.stock_status_change(
                warehouse=fields["warehouse"], location=fields.get("location"), item=fields["sku"],
                quantity=fields["quantity"], uom=fields["uom"], from_status=fields["from_status"],
                to_status=fields["to_status"], reason=fields["reason"], lot_number=fields.get("lot") or None,
                actor=request.user,
            )
            fresh = list(self.base_queryset().filter(pk__in=[move.pk for move in moves]).order_by("id"))
            body = {"reference_id": moves[0].reference_id, "moves": fresh}
            return Response(s.StockStatusChangeOutput(body).data, status=status.HTTP_201_CREATED)

        return idempotent(request, produce)


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the inventory router."""
    router.register("stock-adjustments", StockAdjustmentViewSet, basename="stock-adjustment")
    router.register("stock-status-changes", StockStatusChangeViewSet, basename="stock-status-change")

