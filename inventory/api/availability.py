"""Inventory API: network availability, ``availability/?sku=A&sku=B&warehouse=W&region=R``.

One row per requested SKU and warehouse in the caller's scope (see
``inventory.selectors.network_availability``), paginated like every list. The data costs two
queries whatever the number of SKUs.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp.api.views import ScopedViewSet
from inventory import selectors
from inventory.models import QUANTITY, ItemWarehouseSummary


class AvailabilityOutput(serializers.Serializer[Any]):
    sku = serializers.CharField()
    warehouse = serializers.CharField()
    on_hand = serializers.DecimalField(**QUANTITY)
    allocated = serializers.DecimalField(**QUANTITY)
    available = serializers.DecimalField(**QUANTITY)
    blocked = serializers.DecimalField(**QUANTITY, help_text="Stock in statuses that do not count toward available.")
    in_transit_in = serializers.DecimalField(
        **QUANTITY, help_text="Dispatched to this warehouse on transfers, not yet received (not part of on_hand).")
    on_order = serializers.DecimalField(
        **QUANTITY, help_text="Open quantity of approved purchase orders to this warehouse, not yet received "
                              "(whatever their expected date; not part of on_hand).")


AVAILABILITY_PARAMETERS = [
    OpenApiParameter("sku", str, many=True, required=True,
                     description=f"Repeat for each SKU (1 to {selectors.MAX_AVAILABILITY_SKUS})."),
    OpenApiParameter("warehouse", str, description="Only this warehouse (a code in your scope)."),
    OpenApiParameter("region", str, description="Only the warehouses of this region (a code in your scope)."),
]


class AvailabilityViewSet(ScopedViewSet):
    """Network availability per SKU and warehouse across the caller's scope (read-only).

    Reading it needs ``inventory.view_itemwarehousesummary`` (the permission class reads the model
    from ``base_queryset``).
    """

    serializer_class = AvailabilityOutput

    def base_queryset(self) -> QuerySet[ItemWarehouseSummary]:
        return ItemWarehouseSummary.objects.none()

    @extend_schema(parameters=AVAILABILITY_PARAMETERS, responses=AvailabilityOutput(many=True))
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = selectors.network_availability(
            user=request.user, skus=request.query_params.getlist("sku"),
            warehouse=request.query_params.get("warehouse"), region=request.query_params.get("region"),
        )
        page = self.paginate_queryset(rows)  # type: ignore[arg-type]  # DRF pages any sequence; the stubs name QuerySet only
        return self.get_paginated_response([render_row(row) for row in page or []])


QUANTITY_FIELDS = ("on_hand", "allocated", "available", "blocked", "in_transit_in", "on_order")


def render_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as ``AvailabilityOutput`` renders it, without DRF's per-field work.

    The selector returns quantities exact at 4 places, so ``str()`` is already the documented
    decimal string; this is the hot path of network availability (W2), where 300 rows went
    through six ``DecimalField``s each. A test keeps it identical to the serializer's output.
    """
    return {"sku": row["sku"], "warehouse": row["warehouse"],
            **{name: str(row[name]) for name in QUANTITY_FIELDS}}


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the inventory router."""
    router.register("availability", AvailabilityViewSet, basename="availability")

