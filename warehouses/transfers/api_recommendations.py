"""Transfer recommendations API (``transfer-recommendations/``): the network's recommended transfers, refreshed on
demand, accepted into a transfer (through approval) or dismissed with a reason.

A recommendation is seen by whoever's scope covers either of its warehouses (``transfers.view_transferrecommendation``,
every role). Refreshing needs ``transfers.add_transferrecommendation`` and recomputes the caller's scope; accepting
and dismissing need ``transfers.change_transferrecommendation`` (planners). Every POST accepts an
``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import OuterRef, QuerySet, Subquery
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp.api.idempotency import idempotent
from erp.api.serializers import StrictInputSerializer
from erp.api.views import ScopedViewSet
from erp.scoping import scope_of, scope_queryset
from warehouses.models import Warehouse
from warehouses.transfers import recommendations
from warehouses.transfers.models import (
    QUANTITY,
    RecommendationReason,
    RecommendationStatus,
    Transfer,
    TransferRecommendation,
)

# --- input ----------------------------------------------------------------------------------------------


class RefreshInput(StrictInputSerializer):
    pass


class AcceptInput(StrictInputSerializer):
    submit = serializers.BooleanField(required=False, default=True,
                                      help_text="Submit the transfer for approval at once (default); false leaves "
                                                "it a draft.")


class DismissInput(StrictInputSerializer):
    reason = serializers.CharField(max_length=recommendations.MAX_REASON,
                                   help_text="Why it is dismissed (required).")


# --- output ---------------------------------------------------------------------------------------------


class RecommendationOutput(serializers.ModelSerializer[TransferRecommendation]):
    sku = serializers.CharField(source="item.sku")
    from_warehouse = serializers.CharField(source="from_warehouse.code")
    to_warehouse = serializers.CharField(source="to_warehouse.code")
    carrier = serializers.CharField(source="carrier.code", default=None, allow_null=True)
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True)
    quantity = serializers.DecimalField(**QUANTITY, help_text="In the item's base unit.")
    transfer = serializers.IntegerField(source="transfer_id", default=None, allow_null=True, read_only=True,
                                        help_text="The transfer it was accepted into, or null.")
    transfer_number = serializers.CharField(default=None, allow_null=True, read_only=True)

    class Meta:
        model = TransferRecommendation
        fields = ["id", "sku", "from_warehouse", "to_warehouse", "quantity", "reason", "score", "expected_arrival",
                  "transit_days", "carrier", "freight_cost", "freight_currency", "explanation", "figures", "status",
                  "refreshed_at", "decided_at", "decided_by", "dismiss_reason", "transfer", "transfer_number"]


def recommendation_queryset() -> QuerySet[TransferRecommendation]:
    made = Transfer.objects.filter(recommendation=OuterRef("pk")).order_by("-id")
    return (TransferRecommendation.objects
            .select_related("item", "from_warehouse", "to_warehouse", "carrier", "decided_by")
            .annotate(transfer_id=Subquery(made.values("id")[:1]),
                      transfer_number=Subquery(made.values("number")[:1])))


# --- the view -------------------------------------------------------------------------------------------


class RecommendationFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    status = django_filters.ChoiceFilter(choices=RecommendationStatus.choices)
    reason = django_filters.ChoiceFilter(choices=RecommendationReason.choices)
    sku = django_filters.CharFilter(field_name="item__sku", lookup_expr="iexact")
    warehouse = django_filters.CharFilter(method="filter_warehouse", help_text="Either end (a code).")
    region = django_filters.CharFilter(method="filter_region", help_text="Either end's region (a code).")
    min_score = django_filters.NumberFilter(field_name="score", lookup_expr="gte")

    class Meta:
        model = TransferRecommendation
        fields = ["status", "reason", "sku", "warehouse", "region", "min_score"]

    def filter_warehouse(self, queryset: QuerySet[TransferRecommendation], name: str,
                         value: str) -> QuerySet[TransferRecommendation]:
        return queryset.filter(from_warehouse__code=value) | queryset.filter(to_warehouse__code=value)

    def filter_region(self, queryset: QuerySet[TransferRecommendation], name: str,
                      value: str) -> QuerySet[TransferRecommendation]:
        return (queryset.filter(from_warehouse__region__code=value)
                | queryset.filter(to_warehouse__region__code=value))


ACTION_PERMISSIONS = {
    "refresh": "transfers.add_transferrecommendation",
    "accept": "transfers.change_transferrecommendation",
    "dismiss": "transfers.change_transferrecommendation",
}


class RecommendationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Transfer recommendations from or to the caller's warehouses, best score first."""

    idempotent_actions = frozenset(ACTION_PERMISSIONS)
    serializer_class = RecommendationOutput
    filterset_class = RecommendationFilter
    http_method_names = ["get", "post", "head", "options"]

    @property
    def required_action_permission(self) -> str | None:
        return ACTION_PERMISSIONS.get(self.action or "")

    def base_queryset(self) -> QuerySet[TransferRecommendation]:
        if self.action in ACTION_PERMISSIONS:
            return TransferRecommendation.objects.all()  # the service locks what it needs
        return recommendation_queryset().order_by("-score", "id")

    def get_serializer_class(self) -> Any:
        return {"refresh": RefreshInput, "accept": AcceptInput,
                "dismiss": DismissInput}.get(self.action or "", RecommendationOutput)

    def _input(self, serializer_class: type[StrictInputSerializer]) -> dict[str, Any]:
        body = self.request.data
        data = serializer_class(data={} if body is None else body, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = data.validated_data  # the stubs type it Any; a Serializer's is a dict
        return fields

    def _detail(self, recommendation_id: int) -> Response:
        return Response(RecommendationOutput(recommendation_queryset().get(pk=recommendation_id)).data)

    @extend_schema(request=RefreshInput, responses=inline_serializer("RecommendationRefresh", {
        "created": serializers.IntegerField(), "updated": serializers.IntegerField(),
        "expired": serializers.IntegerField(), "open": serializers.IntegerField()}))
    @action(detail=False, methods=["post"])
    def refresh(self, request: Request) -> Response:
        """Recompute the recommendations touching the caller's warehouses now (beat does it hourly); answers
        when done, with how many were created, updated and expired, and how many are open."""

        def produce() -> Response:
            self._input(RefreshInput)
            scope = scope_of(request.user)
            warehouses = None if scope.enterprise else list(scope_queryset(Warehouse.objects.all(), request.user))
            return Response(recommendations.recommendations_refresh(actor=request.user, warehouses=warehouses))

        return idempotent(request, produce)

    @extend_schema(request=AcceptInput, responses=RecommendationOutput)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        """Make the recommended transfer and submit it (above ``transfers.approval_threshold`` it waits for the
        approval engine); the answer names it in ``transfer``. Not open: 409 ``recommendation_not_open``."""
        recommendation = self.get_object()

        def produce() -> Response:
            fields = self._input(AcceptInput)
            recommendations.recommendation_accept(recommendation=recommendation, actor=request.user,
                                                  submit=fields["submit"])
            return self._detail(recommendation.pk)

        return idempotent(request, produce)

    @extend_schema(request=DismissInput, responses=RecommendationOutput)
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: str | None = None) -> Response:
        """Dismiss with a ``reason`` (400 without one). Not open: 409 ``recommendation_not_open``."""
        recommendation = self.get_object()

        def produce() -> Response:
            fields = self._input(DismissInput)
            recommendations.recommendation_dismiss(recommendation=recommendation, actor=request.user,
                                                   reason=fields["reason"])
            return self._detail(recommendation.pk)

        return idempotent(request, produce)


router = SimpleRouter(trailing_slash=True)
router.register("transfer-recommendations", RecommendationViewSet, basename="transfer-recommendation")
urlpatterns = router.urls

