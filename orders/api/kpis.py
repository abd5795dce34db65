"""Orders API: key figures computed from the orders, ``kpis/fill-rate/?region=&warehouse=&from=&to=``.

Fill rate (``product.md``) is order lines shipped complete on or before their promised date over the order
lines due in the period, computed from the lines every time (``orders.selectors.fill_rate`` says exactly
which lines count). It covers the caller's scope only; a region or warehouse outside it answers 404 like one
that does not exist. Reading it needs ``orders.view_salesorderline`` (every role has it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp.api.serializers import ErrorSerializer
from erp.api.views import ScopedViewSet
from orders import selectors
from orders.models import SalesOrderLine


class FillRateQuery(serializers.Serializer[Any]):
    """The period (inclusive dates; by default the 30 days ending today) and an optional region or warehouse."""

    to = serializers.DateField(required=False, help_text="Last date of the period (inclusive); default today.")
    region = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                   help_text="Only orders of this region (a code in your scope).")
    warehouse = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                      help_text="Only lines shipping from this warehouse (a code in your scope).")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # ``from`` is a Python keyword, so it cannot be declared as a class attribute.
        fields = super().get_fields()
        fields["from"] = serializers.DateField(
            required=False, help_text=f"First date of the period (inclusive); default "
                                      f"{selectors.FILL_RATE_DEFAULT_DAYS - 1} days before ``to``.")
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        date_to = attrs.get("to") or timezone.localdate()
        date_from = attrs.get("from") or date_to - dt.timedelta(days=selectors.FILL_RATE_DEFAULT_DAYS - 1)
        if date_from > date_to:
            raise serializers.ValidationError({"from": ["Must not be after to."]})
        if (date_to - date_from).days + 1 > selectors.FILL_RATE_MAX_DAYS:
            raise serializers.ValidationError({"from": [f"At most {selectors.FILL_RATE_MAX_DAYS} days from from "
                                                        f"to to."]})
        return {**attrs, "from": date_from, "to": date_to}


class FillRateWarehouseOutput(serializers.Serializer[dict[str, Any]]):
    warehouse = serializers.CharField()
    lines_due = serializers.IntegerField()
    lines_filled = serializers.IntegerField()
    fill_rate = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)


class FillRateOutput(serializers.Serializer[dict[str, Any]]):
    """Fill rate over the period: ``lines_filled`` / ``lines_due``, and the same by the lines' warehouse.

    A line is due on its promised date (a backordered line too: the date its home warehouse would have
    delivered); lines promised after today are not due yet; cancelled lines are never due. A due line is
    filled when it shipped complete on or before its promised date."""

    to = serializers.DateField()
    region = serializers.CharField(allow_null=True)
    warehouse = serializers.CharField(allow_null=True)
    lines_due = serializers.IntegerField()
    lines_filled = serializers.IntegerField()
    fill_rate = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True,
                                         help_text="lines_filled / lines_due to 4 places; null when nothing was due.")
    warehouses = FillRateWarehouseOutput(many=True)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {"from": serializers.DateField(), **super().get_fields()}


class KpiViewSet(ScopedViewSet):
    """Key figures of the caller's scope, computed from the data (read-only)."""

    filter_backends: list[Any] = []
    pagination_class = None

    def base_queryset(self) -> QuerySet[SalesOrderLine]:
        # Names the model whose view permission reading a KPI needs (``RoleModelPermissions``).
        return SalesOrderLine.objects.none()

    @extend_schema(parameters=[FillRateQuery], responses={
        200: FillRateOutput,
        400: OpenApiResponse(ErrorSerializer, description="A date that is not one, ``from`` after ``to``, or more "
                                                           "than a year."),
        404: OpenApiResponse(ErrorSerializer, description="The region or warehouse is not in your scope."),
    })
    @action(detail=False, methods=["get"], url_path="fill-rate", url_name="fill-rate")
    def fill_rate(self, request: Request) -> Response:
        """Fill rate of the caller's scope over ``from`` to ``to``, optionally for one region or warehouse."""
        query = FillRateQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        result = selectors.fill_rate(user=request.user, date_from=params["from"], date_to=params["to"],
                                     region=params.get("region") or None, warehouse=params.get("warehouse") or None)
        return Response(FillRateOutput(render_fill_rate(result)).data)


def render_fill_rate(result: selectors.FillRate) -> dict[str, Any]:
    return {
        "from": result.date_from, "to": result.date_to, "region": result.region, "warehouse": result.warehouse,
        "lines_due": result.lines_due, "lines_filled": result.lines_filled, "fill_rate": result.fill_rate,
        "warehouses": [{"warehouse": row.warehouse, "lines_due": row.lines_due, "lines_filled": row.lines_filled,
                        "fill_rate": row.fill_rate} for row in result.warehouses],
    }


def register(router: SimpleRouter) -> None:
    """Register this module's viewsets on the orders API router."""
    router.register("kpis", KpiViewSet, basename="kpi")
