"""``carriers/``: read-only carriers with their lanes (transit days from region to region)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from rest_framework import mixins, serializers

from erp.api.views import ScopedViewSet
from warehouses.models import Carrier, CarrierLane


class CarrierLaneOutput(serializers.ModelSerializer):
    """Transit days from the origin region to the destination region, and the freight charged per base unit and
    per kg in ``freight_currency`` (null where the lane names none)."""

    origin = serializers.CharField(source="origin_region.code")
    destination = serializers.CharField(source="destination_region.code")

    class Meta:
        model = CarrierLane
        fields = ["origin", "destination", "transit_days", "freight_per_unit", "freight_per_kg", "freight_currency"]


class CarrierOutput(serializers.ModelSerializer):
    """A carrier and its lanes."""

    lanes = CarrierLaneOutput(many=True)

    class Meta:
        model = Carrier
        fields = ["code", "name", "active", "lanes"]


class CarrierViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Carriers with their lanes, addressed by code (enterprise master data, read-only)."""

    serializer_class = CarrierOutput
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def base_queryset(self) -> QuerySet[Carrier]:
        lanes = CarrierLane.objects.select_related("origin_region", "destination_region").order_by(
            "origin_region__code", "destination_region__code"
        )
        return Carrier.objects.prefetch_related(Prefetch("lanes", queryset=lanes))
