"""Governance API: the policy catalog, the resolver, deviations and "difference from core".

``policies/`` is the enterprise catalog: every authorised user reads all of it. Deviations, the
resolver and the difference report are about sites: a warehouse or region outside the caller's
scope answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp.api.idempotency import idempotent
from erp.api.serializers import ErrorSerializer, StrictInputSerializer
from erp.api.views import ScopedViewSet
from erp.exceptions import NotFound, ValidationFailed
from erp.scoping import scope_queryset
from erp.search import SearchFilterSet
from governance import selectors
from governance.models import DeviationStatus, Policy, PolicyDeviation, ScopeType
from governance.services import deviations as services
from governance.services.policies import policy_owner_set
from warehouses.models import Region, Warehouse

SITE_PARAMETERS = [
    OpenApiParameter("warehouse", str, description="A warehouse code in your scope."),
    OpenApiParameter("region", str, description="A region code in your scope (when no warehouse is given)."),
]
# What ``site_from_query`` answers for a warehouse or region that does not exist or is outside the scope.
SITE_NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such warehouse or region in your scope.")


def site_from_query(request: Request, *, required: bool) -> tuple[Warehouse | None, Region | None]:
    """``?warehouse=`` or ``?region=``, within the caller's scope; outside it is a 404."""
    warehouse_code = request.query_params.get("warehouse", "").strip()
    region_code = request.query_params.get("region", "").strip()
    if warehouse_code:
        warehouse = scope_queryset(Warehouse.objects.select_related("region"), request.user).filter(
            code=warehouse_code).first()
        if warehouse is None:
            raise NotFound(f"No warehouse {warehouse_code!r}.", detail={"warehouse": warehouse_code})
        if region_code and region_code != warehouse.region.code:
            raise ValidationFailed(detail={"region": [f"{warehouse.code} is not in region {region_code}."]})
        return warehouse, None
    if region_code:
        region = scope_queryset(Region.objects.all(), request.user).filter(code=region_code).first()
        if region is None:
            raise NotFound(f"No region {region_code!r}.", detail={"region": region_code})
        return None, region
    if required:
        raise ValidationFailed(detail={"warehouse": ["Give ?warehouse=<code> or ?region=<code>."]})
    return None, None


def _owner(policy: Policy) -> str | None:
    if policy.owner_user is not None:
        return policy.owner_user.username
    return policy.owner_group.name if policy.owner_group is not None else None


# --- policies/ ------------------------------------------------------------------------------------


class PolicyOutput(serializers.ModelSerializer):
    value = serializers.JSONField(source="standard_value", help_text="The enterprise standard value.")
    owner = serializers.SerializerMethodField(help_text="The owning user's username or group's name.")

    class Meta:
        model = Policy
        fields = ["key", "description", "value", "value_type", "type_spec", "process", "owner", "localizable"]

    def get_owner(self, obj: Policy) -> str | None:
        return _owner(obj)


STATUS_HELP = "requested, approved, rejected, expired or withdrawn"


class DeviationBrief(serializers.ModelSerializer):
    scope = serializers.CharField(source="scope_code")
    status = serializers.CharField(help_text=STATUS_HELP)

    class Meta:
        model = PolicyDeviation
        fields = ["id", "number", "scope_type", "scope", "value", "effective_from", "effective_to", "status",
                  "decided_at"]


class ResolvedOutput(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.JSONField()
    source = serializers.CharField(help_text="warehouse:<code>, region:<code> or enterprise")  # type: ignore[assignment]  # a field named source: DRF moves declared fields off the class; the stubs see Field.source
    deviation = DeviationBrief(allow_null=True)


class PolicyFilter(SearchFilterSet):
    process = django_filters.CharFilter(field_name="process")
    search_fields = ("key", "description")

    class Meta:
        model = Policy
        fields = ["process", "localizable"]



class PolicyOwnerInput(StrictInputSerializer):
    owner_user = serializers.CharField(max_length=150, required=False,
                                       help_text="Username of a member of the \"Process owner\" group.")
    owner_group = serializers.CharField(max_length=150, required=False, help_text="A group's name.")


class PolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The policy catalog, addressed by key: each policy's enterprise standard and owner. PATCH
    assigns the owner (administrators only): ``{"owner_user": "<username>"}`` or
    ``{"owner_group": "<group name>"}``."""

    serializer_class = PolicyOutput
    lookup_field = "key"
    lookup_value_regex = "[^/]+"
    filterset_class = PolicyFilter
    http_method_names = ["get", "patch", "head", "options"]

    def base_queryset(self) -> QuerySet[Policy]:
        return Policy.objects.filter(retired=False).select_related("owner_user", "owner_group").order_by("key")

    def get_serializer_class(self) -> Any:
        return PolicyOwnerInput if self.action == "partial_update" else PolicyOutput

    @extend_schema(request=PolicyOwnerInput, responses=PolicyOutput)
    def partial_update(self, request: Request, key: str | None = None) -> Response:
        """Assign the policy's process owner: exactly one of ``owner_user`` and ``owner_group``."""
        policy = self.get_object()
        data = PolicyOwnerInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if len(fields) != 1:
            raise ValidationFailed(detail={"owner": ["Give exactly one of owner_user and owner_group."]})
        owner_user = owner_group = None
        if "owner_user" in fields:
            owner_user = get_user_model().objects.filter(username=fields["owner_user"]).first()
            if owner_user is None:
                raise ValidationFailed(detail={"owner_user": [f"No user {fields['owner_user']!r}."]})
        else:
            owner_group = Group.objects.filter(name=fields["owner_group"]).first()
            if owner_group is None:
                raise ValidationFailed(detail={"owner_group": [f"No group {fields['owner_group']!r}."]})
        policy_owner_set(policy=policy, actor=request.user, owner_user=owner_user, owner_group=owner_group)
        return Response(PolicyOutput(self.base_queryset().get(pk=policy.pk)).data)

    @extend_schema(parameters=SITE_PARAMETERS, responses=ResolvedOutput)
    @action(detail=True, methods=["get"], url_path="resolve")
    def resolve(self, request: Request, key: str | None = None) -> Response:
        """The value that applies at a site now: a warehouse deviation beats a region deviation beats
        the enterprise standard. Without a site, the enterprise standard."""
        policy = self.get_object()
        warehouse, region = site_from_query(request, required=False)
        resolved = selectors.policy_value(policy.key, warehouse=warehouse, region=region)
        deviation = resolved.deviation
        if deviation is not None:
            deviation.warehouse, deviation.region = warehouse, (region or (warehouse.region if warehouse else None))
            if deviation.scope_type == ScopeType.REGION:
                deviation.warehouse = None
            else:
                deviation.region = None
        body = {"key": policy.key, "value": resolved.value, "source": resolved.source,
                "deviation": DeviationBrief(deviation).data if deviation is not None else None}
        return Response(body)


# --- policy-deviations/ ---------------------------------------------------------------------------


class DeviationOutput(serializers.ModelSerializer):
    policy = serializers.CharField(source="policy.key")
    scope = serializers.CharField(source="scope_code")
    standard_value = serializers.JSONField(source="policy.standard_value")
    requested_by = serializers.CharField(source="requested_by.username")
    decided_by = serializers.CharField(source="decided_by.username", default=None)
    approval_request = serializers.IntegerField(source="approval_request_id", allow_null=True)
    approval_state = serializers.CharField(source="approval_request.status", default=None)
    status = serializers.CharField(help_text=STATUS_HELP)

    class Meta:
        model = PolicyDeviation
        fields = ["id", "number", "policy", "scope_type", "scope", "value", "standard_value", "rationale",
                  "effective_from", "effective_to", "status", "requested_by", "decided_by", "decided_at",
                  "decision_note", "approval_request", "approval_state", "created_at"]


class DeviationCreateInput(StrictInputSerializer):
    policy = serializers.CharField(max_length=100)
    scope_type = serializers.ChoiceField(choices=ScopeType.choices)
    scope = serializers.CharField(max_length=20)
    value = serializers.JSONField()
    rationale = serializers.CharField(max_length=4000)
    effective_from = serializers.DateField()
    effective_to = serializers.DateField()


class DecisionInput(StrictInputSerializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class EmptyInput(StrictInputSerializer):
    pass


class DeviationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeviationStatus.choices)
    policy = django_filters.CharFilter(field_name="policy__key")
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    region = django_filters.CharFilter(method="filter_region", help_text="Region deviations and its warehouses'.")

    class Meta:
        model = PolicyDeviation
        fields = ["status", "policy", "warehouse", "region", "scope_type"]

    def filter_region(self, queryset: QuerySet[PolicyDeviation], name: str, value: str) -> QuerySet[PolicyDeviation]:
        return queryset.filter(Q(region__code=value) | Q(warehouse__region__code=value))


class PolicyDeviationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Deviations of the caller's sites. POST requests one (anyone may, for a site in their scope);
    approve and reject are for the policy's process owner only (the requester gets 409)."""

    serializer_class = DeviationOutput
    filterset_class = DeviationFilter
    http_method_names = ["get", "post", "head", "options"]

    @property
    def required_action_permission(self) -> str | None:
        # Deciding and withdrawing are governed by the engine and the requester rule, not by a model permission.
        return None if self.action == "create" else "governance.view_policydeviation"

    def base_queryset(self) -> QuerySet[PolicyDeviation]:
        return PolicyDeviation.objects.select_related(
            "policy", "region", "warehouse", "requested_by", "decided_by", "approval_request",
        )

    def get_serializer_class(self) -> Any:
        return {"create": DeviationCreateInput, "approve": DecisionInput, "reject": DecisionInput,
                "withdraw": EmptyInput}.get(self.action, DeviationOutput)

    def _output(self, deviation: PolicyDeviation, code: int = status.HTTP_200_OK) -> Response:
        return Response(DeviationOutput(self.base_queryset().get(pk=deviation.pk)).data, status=code)

    @extend_schema(request=DeviationCreateInput, responses={201: DeviationOutput})
    def create(self, request: Request) -> Response:
        def produce() -> Response:
            data = DeviationCreateInput(data=request.data)
            data.is_valid(raise_exception=True)
            fields = data.validated_data
            deviation = services.deviation_request(
                policy_key=fields["policy"], scope_type=fields["scope_type"], scope_code=fields["scope"],
                value=fields["value"], rationale=fields["rationale"], effective_from=fields["effective_from"],
                effective_to=fields["effective_to"], actor=request.user,
            )
            return self._output(deviation, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    def _decision(self, request: Request) -> str:
        data = DecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        return data.validated_data["note"]

    @extend_schema(request=DecisionInput, responses=DeviationOutput)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve, as the policy's process owner; the requester gets 409 ``self_approval_forbidden``."""
        deviation = self.get_object()
        return self._output(services.deviation_approve(deviation=deviation, actor=request.user,
                                                       note=self._decision(request)))

    @extend_schema(request=DecisionInput, responses=DeviationOutput)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        """Reject, as the policy's process owner; the requester gets 409 ``self_approval_forbidden``."""
        deviation = self.get_object()
        return self._output(services.deviation_reject(deviation=deviation, actor=request.user,
                                                      note=self._decision(request)))

    @extend_schema(request=EmptyInput, responses=DeviationOutput)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        """Withdraw a requested deviation, or stop an approved one at once (requester or process owner)."""
        deviation = self.get_object()
        EmptyInput(data=request.data if request.data else {}).is_valid(raise_exception=True)
        return self._output(services.deviation_withdraw(deviation=deviation, actor=request.user))


# --- difference-from-core/ ------------------------------------------------------------------------

DIFFERENCE_COLUMNS = ["policy", "description", "standard_value", "value", "source", "deviation", "in_effect",
                      "applies", "effective_from", "effective_to", "approved_by", "approved_at", "requested_by",
                      "rationale"]


class DifferenceOutput(serializers.Serializer):
    policy = serializers.CharField()
    description = serializers.CharField()
    standard_value = serializers.JSONField()
    value = serializers.JSONField()
    source = serializers.CharField()  # type: ignore[assignment]  # a field named source: DRF moves declared fields off the class; the stubs see Field.source
    deviation = serializers.CharField(help_text="The deviation's number.")
    deviation_id = serializers.IntegerField()
    in_effect = serializers.BooleanField(help_text="In effect today at the site (else it starts later).")
    applies = serializers.BooleanField(help_text="The resolver returns this value at the site today.")
    effective_from = serializers.DateField()
    effective_to = serializers.DateField()
    approved_by = serializers.CharField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    requested_by = serializers.CharField()
    rationale = serializers.CharField()


class DifferenceReportOutput(serializers.Serializer):
    site = serializers.CharField()
    site_type = serializers.CharField()
    count = serializers.IntegerField()
    results = DifferenceOutput(many=True)


class NetworkRowOutput(serializers.Serializer):
    warehouse = serializers.CharField()
    region = serializers.CharField()
    own = serializers.IntegerField(help_text="Active deviations of the warehouse itself.")
    inherited = serializers.IntegerField(help_text="Active deviations of its region.")
    total = serializers.IntegerField()


class NetworkRankingOutput(serializers.Serializer):
    results = NetworkRowOutput(many=True, help_text="Every warehouse in your scope, most deviations first.")


def difference_rows(differences: list[selectors.Difference]) -> list[dict[str, Any]]:
    rows = []
    for item in differences:
        deviation = item.deviation
        rows.append({
            "policy": deviation.policy.key, "description": deviation.policy.description,
            "standard_value": item.standard_value, "value": deviation.value, "source": item.source,
            "deviation": deviation.number, "deviation_id": deviation.pk, "in_effect": item.in_effect,
            "applies": item.applies, "effective_from": deviation.effective_from,
            "effective_to": deviation.effective_to,
            "approved_by": deviation.decided_by.username if deviation.decided_by else None,
            "approved_at": deviation.decided_at, "requested_by": deviation.requested_by.username,
            "rationale": deviation.rationale,
        })
    return rows


def difference_csv(site: str, rows: list[dict[str, Any]]) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(DIFFERENCE_COLUMNS)
    for row in rows:
        cells = []
        for column in DIFFERENCE_COLUMNS:
            cell = row[column]
            if column in ("standard_value", "value"):
                cell = json.dumps(cell)
            elif cell is None:
                cell = ""
            cell = str(cell)
            if cell[:1] in ("=", "+", "-", "@"):  # never let a spreadsheet evaluate a cell
                cell = "'" + cell
            cells.append(cell)
        writer.writerow(cells)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="difference-from-core-{site}.csv"'
    return response


class DifferenceFromCoreViewSet(ScopedViewSet):
    """Every way a site differs from the core: its active deviations beside the standard values."""

    pagination_class = None
    serializer_class = DifferenceReportOutput

    def base_queryset(self) -> QuerySet[PolicyDeviation]:
        return PolicyDeviation.objects.all()

    def _report(self, request: Request) -> tuple[str, str, list[dict[str, Any]]]:
        warehouse, region = site_from_query(request, required=True)
        site = warehouse or region
        differences = selectors.difference_from_core(request.user, warehouse=warehouse, region=region)
        return site.code, ("warehouse" if warehouse else "region"), difference_rows(differences)  # type: ignore[union-attr]  # required=True: a warehouse or a region

    @extend_schema(parameters=SITE_PARAMETERS, responses={200: DifferenceReportOutput, 404: SITE_NOT_FOUND})
    def list(self, request: Request) -> Response:
        code, kind, rows = self._report(request)
        return Response({"site": code, "site_type": kind, "count": len(rows),
                         "results": DifferenceOutput(rows, many=True).data})

    @extend_schema(parameters=SITE_PARAMETERS,
                   responses={(200, "text/csv"): str, (404, "application/json"): SITE_NOT_FOUND})
    @action(detail=False, methods=["get"], url_path="csv")
    def csv(self, request: Request) -> HttpResponse:
        """The same report as CSV (values as JSON)."""
        code, _, rows = self._report(request)
        return difference_csv(code, rows)

    @extend_schema(responses=NetworkRankingOutput)
    @action(detail=False, methods=["get"], url_path="network")
    def network(self, request: Request) -> Response:
        """Warehouses in your scope, most active deviations first (own plus their region's)."""
        ranking = selectors.network_deviation_ranking(request.user)
        return Response({"results": [
            {"warehouse": row.warehouse.code, "region": row.warehouse.region.code, "own": row.own,
             "inherited": row.inherited, "total": row.total}
            for row in ranking
        ]})


def register(router: SimpleRouter) -> None:
    """Add this area's routes to the governance router."""
    router.register("policies", PolicyViewSet, basename="policy")
    router.register("policy-deviations", PolicyDeviationViewSet, basename="policy-deviation")
    router.register("difference-from-core", DifferenceFromCoreViewSet, basename="difference-from-core")
