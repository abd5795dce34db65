"""Transfers API: the transfer cycle time KPI, ``kpis/transfer-cycle-time/?region=&warehouse=&from=&to=``.

Median and p90 of dispatch-to-receipt and request-to-receipt, in hours, over the transfers received in the
period, computed from the transfers every time (``selectors.transfer_cycle_time`` says exactly which count). It
covers the transfers received in the caller's scope; a region or warehouse outside it answers 404 like one that
does not exist. Reading it needs ``transfers.view_transfer`` (every role has it). The query and its errors follow
the fill-rate KPI's (``orders.api.kpis``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp.api.serializers import ErrorSerializer
from erp.api.views import ScopedViewSet
from warehouses.transfers import selectors
from warehouses.transfers.models import Transfer


class CycleTimeQuery(serializers.Serializer[Any]):
    """The period (inclusive dates; by default the 30 days ending today) and an optional region or warehouse."""

    to = serializers.DateField(required=False, help_text="Last date of the period (inclusive); default today.")
    region = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                   help_text="Only transfers received in this region (a code in your scope).")
    warehouse = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                      help_text="Only transfers received at this warehouse (a code in your scope).")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # ``from`` is a Python keyword, so it cannot be declared as a class attribute.
        fields = super().get_fields()
        fields["from"] = serializers.DateField(
            required=False, help_text=f"First date of the period (inclusive); default "
                                      f"{selectors.CYCLE_TIME_DEFAULT_DAYS - 1} days before ``to``.")
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        default_from, date_to = selectors.default_period(attrs.get("to"))
        date_from = attrs.get("from") or default_from
        if date_from > date_to:
            raise serializers.ValidationError({"from": ["Must not be after to."]})
        if (date_to - date_from).days + 1 > selectors.CYCLE_TIME_MAX_DAYS:
            raise serializers.ValidationError({"from": [f"At most {selectors.CYCLE_TIME_MAX_DAYS} days from from "
                                                        f"to to."]})
        return {**attrs, "from": date_from, "to": date_to}


def _hours_field() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True,
                                    help_text="Hours to 2 places; null when no transfer was received.")


class CycleTimesOutput(serializers.Serializer[dict[str, Any]]):
    transfers = serializers.IntegerField(help_text="Transfers received in the period.")
    dispatch_to_receipt_median = _hours_field()
    dispatch_to_receipt_p90 = _hours_field()
    request_to_receipt_median = _hours_field()
    request_to_receipt_p90 = _hours_field()


class CycleTimeRegionOutput(CycleTimesOutput):
    region = serializers.CharField()


class CycleTimeWarehouseOutput(CycleTimesOutput):
    region = serializers.CharField()
    warehouse = serializers.CharField()


class CycleTimeOutput(CycleTimesOutput):
    """Transfer cycle time over the period: dispatch-to-receipt (dispatched to received) and request-to-receipt
    (requested to received), median and p90 in hours, over the transfers fully received in the period (the
    receiving warehouse's date), and the same per receiving region and warehouse."""

    to = serializers.DateField()
    region = serializers.CharField(allow_null=True)
    warehouse = serializers.CharField(allow_null=True)
    regions = CycleTimeRegionOutput(many=True)
    warehouses = CycleTimeWarehouseOutput(many=True)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {"from": serializers.DateField(), **super().get_fields()}


class TransferKpiViewSet(ScopedViewSet):
    """Key figures of the caller's transfers, computed from the data (read-only)."""

    filter_backends: list[Any] = []
    pagination_class = None

    def base_queryset(self) -> QuerySet[Transfer]:
        # Names the model whose view permission reading the KPI needs (``RoleModelPermissions``).
        return Transfer.objects.none()

    @extend_schema(parameters=[CycleTimeQuery], responses={
        200: CycleTimeOutput,
        400: OpenApiResponse(ErrorSerializer, description="A date that is not one, ``from`` after ``to``, or more "
                                                           "than a year."),
        404: OpenApiResponse(ErrorSerializer, description="The region or warehouse is not in your scope."),
    })
    @action(detail=False, methods=["get"], url_path="transfer-cycle-time", url_name="transfer-cycle-time")
    def transfer_cycle_time(self, request: Request) -> Response:
        """Transfer cycle time of the caller's scope over ``from`` to ``to``, optionally for one region or
        warehouse (the receiving one)."""
        query = CycleTimeQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        result = selectors.transfer_cycle_time(user=request.user, date_from=params["from"], date_to=params["to"],
                                               region=params.get("region") or None,
                                               warehouse=params.get("warehouse") or None)
        return Response(CycleTimeOutput(render_cycle_time(result)).data)


def _figures(times: selectors.CycleTimes) -> dict[str, Any]:
    return {"transfers": times.transfers, "dispatch_to_receipt_median": times.dispatch_to_receipt_median,
            "dispatch_to_receipt_p90": times.dispatch_to_receipt_p90,
            "request_to_receipt_median": times.request_to_receipt_median,
            "request_to_receipt_p90": times.request_to_receipt_p90}


def render_cycle_time(result: selectors.TransferCycleTime) -> dict[str, Any]:
    return {
        "from": result.date_from, "to": result.date_to, "region": result.region, "warehouse": result.warehouse,
        **_figures(result.overall),
        "regions": [{"region": row.region, **_figures(row.times)} for row in result.regions],
        "warehouses": [{"region": row.region, "warehouse": row.warehouse, **_figures(row.times)}
                       for row in result.warehouses],
    }


router = SimpleRouter(trailing_slash=True)
router.register("kpis", TransferKpiViewSet, basename="kpi")
urlpatterns = router.urls
