"""Governance API: the approval engine (``approvals/``), delegations and exchange rates.

``approvals/`` (and ``approvals/?status=pending``) lists the requests with a step waiting for the
caller; any other ``status`` (or ``waiting_for_me=false``) lists the requests in the caller's
scope. A request is visible when it is in the caller's scope or waits for the caller's decision;
anything else answers 404. ``approve``/``reject`` act on the request's current step; whether the
caller may decide it is the engine's rule (403 ``not_an_approver``, 409 ``self_approval_forbidden``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp.api.permissions import RoleModelPermissions
from erp.api.serializers import StrictInputSerializer
from erp.api.views import ScopedViewSet
from erp.exceptions import ValidationFailed
from erp.scoping import scope_queryset
from governance.models import ApprovalRequest, ApprovalStatus, ApprovalStep, Delegation, ExchangeRate
from governance.services import approvals as engine

TRUE_VALUES = {"true", "1", "yes"}
FALSE_VALUES = {"false", "0", "no"}


# --- approvals ------------------------------------------------------------------------------------------


class ApprovalStepOutput(serializers.ModelSerializer):
    approver_group = serializers.CharField(source="approver_group.name", default=None)
    approver_user = serializers.CharField(source="approver_user.username", default=None)
    decided_by = serializers.CharField(source="decided_by.username", default=None)
    on_behalf_of = serializers.CharField(source="on_behalf_of.username", default=None)

    class Meta:
        model = ApprovalStep
        fields = ["id", "sequence", "role", "scope_level", "approver_group", "approver_user", "status",
                  "decided_by", "on_behalf_of", "decided_at", "comment"]


class ApprovalRequestOutput(serializers.ModelSerializer):
    document_label = serializers.SerializerMethodField()
    document_url = serializers.SerializerMethodField()
    base_currency = serializers.CharField(source="legal_entity.currency", default=None)
    legal_entity = serializers.CharField(source="legal_entity.code", default=None)
    region = serializers.CharField(source="region.code", default=None)
    warehouse = serializers.CharField(source="warehouse.code", default=None)
    requested_by = serializers.CharField(source="requested_by.username")
    waiting_for_me = serializers.SerializerMethodField()
    steps = ApprovalStepOutput(many=True)

    class Meta:
        model = ApprovalRequest
        fields = ["id", "document_type", "document_label", "document_id", "document_url", "title", "amount",
                  "currency", "base_amount", "base_currency", "legal_entity", "region", "warehouse", "category",
                  "status", "requested_by", "created_at", "decided_at", "waiting_for_me", "steps"]

    def get_document_label(self, obj: ApprovalRequest) -> str:
        return engine.document_label(obj)

    def get_document_url(self, obj: ApprovalRequest) -> str:
        return engine.document_url(obj)

    def get_waiting_for_me(self, obj: ApprovalRequest) -> bool:
        return obj.pk in self.context.get("waiting_ids", frozenset())


class ApprovalDecisionInput(StrictInputSerializer):
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ApprovalRejectionInput(StrictInputSerializer):
    comment = serializers.CharField(max_length=2000, help_text="Why: the requester reads it.")


def _text(params: Any, name: str, max_length: int) -> str:
    """A free-text query parameter, cut to the column's length (NUL never gets here: erp.middleware refuses it)."""
    return params.get(name, "").strip()[:max_length]


def _flag(raw: str | None, name: str) -> bool | None:
    if raw is None or raw == "":
        return None
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ValidationFailed(detail={name: ["Use true or false."]})


APPROVAL_LIST_PARAMETERS = [
    OpenApiParameter("status", str, enum=ApprovalStatus.values,
                     description="Only requests in this state; `pending` (or none) lists what waits for you."),
    OpenApiParameter("waiting_for_me", bool,
                     description="Only requests with a step waiting for your decision (default: true when "
                                 "`status` is `pending` or not given, false otherwise)."),
    OpenApiParameter("document_type", str, description="Only this kind of document, e.g. `stock_adjustment`."),
    OpenApiParameter("warehouse", str, description="Only requests of this warehouse (a code)."),
    OpenApiParameter("region", str, description="Only requests of this region (a code)."),
]


@extend_schema_view(
    list=extend_schema(parameters=APPROVAL_LIST_PARAMETERS),
    approve=extend_schema(request=ApprovalDecisionInput, responses=ApprovalRequestOutput),
    reject=extend_schema(request=ApprovalRejectionInput, responses=ApprovalRequestOutput),
)
class ApprovalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Approval requests with their steps; approve and reject act on the current step."""

    serializer_class = ApprovalRequestOutput
    queryset = ApprovalRequest.objects.none()  # the model, for the role permissions
    required_action_permission = "governance.view_approvalrequest"

    def get_queryset(self) -> QuerySet[ApprovalRequest]:
        steps = ApprovalStep.objects.select_related("approver_group", "approver_user", "decided_by",
                                                    "on_behalf_of").order_by("sequence")
        return (
            engine.approval_requests_visible_to(self.request.user)
            .select_related("legal_entity", "region", "warehouse", "requested_by")
            .prefetch_related(Prefetch("steps", queryset=steps))
            .order_by("-id")
        )

    def _waiting_ids(self) -> frozenset[int]:
        if not hasattr(self, "_waiting_cache"):
            self._waiting_cache = frozenset(
                engine.approvals_waiting_for(self.request.user).values_list("request_id", flat=True))
        return self._waiting_cache

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "waiting_ids": self._waiting_ids()}

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list":
            return queryset
        params = self.request.query_params
        errors: dict[str, list[str]] = {}
        wanted = params.get("status", "").strip()
        if wanted and wanted not in ApprovalStatus.values:
            errors["status"] = [f"One of {', '.join(ApprovalStatus.values)}."]
        try:
            mine = _flag(params.get("waiting_for_me"), "waiting_for_me")
        except ValidationFailed as exc:
            errors.update(exc.detail)
            mine = None
        if errors:
            raise ValidationFailed(detail=errors)
        if mine is None:
            mine = wanted in ("", ApprovalStatus.PENDING)
        if mine:
            queryset = queryset.filter(pk__in=self._waiting_ids())
        if wanted:
            queryset = queryset.filter(status=wanted)
        for param, lookup in (("document_type", "document_type"), ("warehouse", "warehouse__code"),
                              ("region", "region__code")):
            value = _text(params, param, 100)
            if value:
                queryset = queryset.filter(**{lookup: value})
        return queryset

    def _decide(self, approve: bool) -> Response:
        approval = self.get_object()
        serializer = (ApprovalDecisionInput if approve else ApprovalRejectionInput)(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        engine.approval_request_decide(request=approval, actor=self.request.user, approve=approve,
                                       comment=serializer.validated_data.get("comment", ""))
        self._waiting_cache = frozenset(
            engine.approvals_waiting_for(self.request.user).values_list("request_id", flat=True))
        fresh = self.get_queryset().filter(pk=approval.pk).first()
        if fresh is None:  # decided and, being out of scope, no longer visible: answer with the request itself
            fresh = (ApprovalRequest.objects.select_related("legal_entity", "region", "warehouse", "requested_by")
                     .prefetch_related("steps").get(pk=approval.pk))
        return Response(ApprovalRequestOutput(fresh, context=self.get_serializer_context()).data)

    @action(detail=True, methods=["post"], url_path="approve", url_name="approve")
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve the request's current step (the last approval approves the document)."""
        return self._decide(approve=True)

    @action(detail=True, methods=["post"], url_path="reject", url_name="reject")
    def reject(self, request: Request, pk: str | None = None) -> Response:
        """Reject the request's current step, and with it the request; ``comment`` is required."""
        return self._decide(approve=False)


# --- delegations ------------------------------------------------------------------------------------------


class DelegationOutput(serializers.ModelSerializer):
    delegator = serializers.CharField(source="delegator.username")
    delegate = serializers.CharField(source="delegate.username")
    active = serializers.SerializerMethodField()

    class Meta:
        model = Delegation
        fields = ["id", "delegator", "delegate", "starts_on", "ends_on", "note", "revoked_at", "active"]

    def get_active(self, obj: Delegation) -> bool:
        from django.utils import timezone

        return obj.revoked_at is None and obj.starts_on <= timezone.localdate() <= obj.ends_on


class DelegationInput(StrictInputSerializer):
    delegate = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.filter(
        is_active=True))
    delegator = serializers.SlugRelatedField(slug_field="username", required=False, queryset=get_user_model()
                                             .objects.filter(is_active=True),
                                             help_text="Administrators only; the caller by default.")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class DelegationPermissions(RoleModelPermissions):
    """Anyone reads their own delegations and revokes those they gave (the service checks that)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if request.method in ("GET", "HEAD", "OPTIONS") or getattr(view, "action", None) == "revoke":
            return True
        return super().has_permission(request, view)


class DelegationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Delegations the caller gave or received (administrators: all); create and revoke."""

    serializer_class = DelegationOutput
    queryset = Delegation.objects.none()
    permission_classes = [DelegationPermissions]

    def get_queryset(self) -> QuerySet[Delegation]:
        return scope_queryset(engine.delegations_visible_to(self.request.user), self.request.user)

    def create(self, request: Request) -> Response:
        serializer = DelegationInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        delegation = engine.delegation_create(
            delegator=data.get("delegator", request.user), delegate=data["delegate"], starts_on=data["starts_on"],
            ends_on=data["ends_on"], note=data.get("note", ""), actor=request.user,
        )
        fresh = Delegation.objects.select_related("delegator", "delegate").get(pk=delegation.pk)
        return Response(DelegationOutput(fresh).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="revoke", url_name="revoke")
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """End the delegation now (the delegator or an administrator)."""
        delegation = engine.delegation_revoke(delegation=self.get_object(), actor=request.user)
        fresh = Delegation.objects.select_related("delegator", "delegate").get(pk=delegation.pk)
        return Response(DelegationOutput(fresh).data)


# --- exchange rates -----------------------------------------------------------------------------------------


class ExchangeRateOutput(serializers.ModelSerializer):
    class Meta:
        model = ExchangeRate
        fields = ["id", "from_currency", "to_currency", "rate", "effective_from"]


class ExchangeRateInput(StrictInputSerializer):
    from_currency = serializers.RegexField(r"^[A-Z]{3}$", max_length=3)
    to_currency = serializers.RegexField(r"^[A-Z]{3}$", max_length=3)
    rate = serializers.DecimalField(max_digits=18, decimal_places=8)
    effective_from = serializers.DateField()


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("from_currency", str, description="Only rates from this currency (ISO 4217, e.g. `EUR`)."),
    OpenApiParameter("to_currency", str, description="Only rates into this currency (ISO 4217, e.g. `USD`)."),
]))
class ExchangeRateViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Exchange rates by pair and effective date; finance records them."""

    serializer_class = ExchangeRateOutput
    queryset = ExchangeRate.objects.none()

    def base_queryset(self) -> QuerySet[ExchangeRate]:
        queryset = ExchangeRate.objects.order_by("from_currency", "to_currency", "-effective_from")
        for param in ("from_currency", "to_currency"):
            value = _text(self.request.query_params, param, 3)
            if value:
                queryset = queryset.filter(**{param: value.upper()})
        return queryset

    def create(self, request: Request) -> Response:
        serializer = ExchangeRateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = engine.exchange_rate_set(actor=request.user, **serializer.validated_data)
        return Response(ExchangeRateOutput(row).data, status=status.HTTP_201_CREATED)


def register(router: SimpleRouter) -> None:
    """Add this area's routes to the governance router."""
    router.register("approvals", ApprovalViewSet, basename="approval")
    router.register("delegations", DelegationViewSet, basename="delegation")
    router.register("exchange-rates", ExchangeRateViewSet, basename="exchange-rate")
