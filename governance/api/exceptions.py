"""Governance API: exception queues (see api-v1.md, governance resources).

``exceptions/`` lists and shows the caller's exceptions; ``exceptions/summary/`` counts them by type,
severity, status and SLA state; ``exceptions/{id}/acknowledge/``, ``.../resolve/`` and ``.../cancel/``
work one (``governance.change_operationalexception``). Raising is not an API operation: domains raise.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp.api.serializers import StrictInputSerializer
from erp.api.views import ScopedViewSet
from governance import rules
from governance.models import ExceptionStatus, OperationalException
from governance.services import exceptions as services

WORK_PERMISSION = services.WORK_PERMISSION


class ExceptionOutput(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code", default=None)
    region = serializers.CharField(source="region.code", default=None)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", default=None)
    resolved_by = serializers.CharField(source="resolved_by.username", default=None)

    class Meta:
        model = OperationalException
        fields = ["id", "number", "type", "severity", "status", "warehouse", "region", "owner_role", "due_at",
                  "escalation_level", "business_key", "reference", "title", "detail", "raised_count",
                  "first_raised_at", "last_raised_at", "acknowledged_by", "acknowledged_at", "resolved_by",
                  "resolved_at", "root_cause", "resolution_note"]


class ExceptionResolveInput(StrictInputSerializer):
    root_cause = serializers.ChoiceField(choices=list(rules.ROOT_CAUSES))
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["root_cause"] == "other" and not attrs.get("note", "").strip():
            raise serializers.ValidationError({"note": ["Explain the root cause when it is 'other'."]})
        return attrs


class ExceptionCancelInput(StrictInputSerializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class ExceptionAcknowledgeInput(StrictInputSerializer):
    pass


class ExceptionSummaryOutput(serializers.Serializer):
    total = serializers.IntegerField()
    open = serializers.IntegerField(help_text="Open and acknowledged: the live queue.")
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_type = serializers.DictField(child=serializers.IntegerField(), help_text="Live queue only.")
    by_severity = serializers.DictField(child=serializers.IntegerField(), help_text="Live queue only.")
    by_sla = serializers.DictField(child=serializers.IntegerField(),
                                   help_text="Live queue: on_time, due_soon (within 4 hours), overdue.")


class ExceptionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ExceptionStatus.choices)
    type = django_filters.ChoiceFilter(choices=[(code, kind.label) for code, kind in rules.EXCEPTION_KINDS.items()])
    severity = django_filters.ChoiceFilter(choices=[(s, s) for s in rules.SEVERITIES])
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    region = django_filters.CharFilter(field_name="region__code")
    overdue = django_filters.BooleanFilter(method="filter_overdue", help_text="Live and past its SLA deadline.")

    class Meta:
        model = OperationalException
        fields = ["status", "type", "severity", "warehouse", "region", "overdue"]

    def filter_overdue(self, queryset: QuerySet[OperationalException], name: str, value: bool | None) -> Any:
        if value is None:
            return queryset
        overdue = services.sla_state_filters(timezone.now())["overdue"]
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


@extend_schema_view(
    acknowledge=extend_schema(request=ExceptionAcknowledgeInput, responses=ExceptionOutput),
    resolve=extend_schema(request=ExceptionResolveInput, responses=ExceptionOutput),
    cancel=extend_schema(request=ExceptionCancelInput, responses=ExceptionOutput),
    summary=extend_schema(filters=True),  # the list's filters narrow the counts too
)
class ExceptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Operational exceptions in the caller's scope, soonest deadline first."""

    serializer_class = ExceptionOutput
    filterset_class = ExceptionFilter

    def base_queryset(self) -> QuerySet[OperationalException]:
        return OperationalException.objects.select_related("warehouse", "region", "acknowledged_by",
                                                           "resolved_by")

    @property
    def required_action_permission(self) -> str | None:
        return WORK_PERMISSION if self.action in {"acknowledge", "resolve", "cancel"} else None

    def get_serializer_class(self) -> Any:
        return {
            "acknowledge": ExceptionAcknowledgeInput,
            "resolve": ExceptionResolveInput,
            "cancel": ExceptionCancelInput,
            "summary": ExceptionSummaryOutput,
        }.get(self.action, ExceptionOutput)

    def _output(self, instance: OperationalException) -> Response:
        return Response(ExceptionOutput(self.base_queryset().get(pk=instance.pk)).data)

    def _validated(self, request: Any) -> dict[str, Any]:
        serializer = self.get_serializer(data=request.data if request.data is not None else {})
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @action(detail=False, methods=["get"])
    def summary(self, request: Any) -> Response:
        """Counts of the exceptions in scope (filters apply) by type, severity, status and SLA state."""
        queryset = self.filter_queryset(self.get_queryset())
        return Response(services.exceptions_summary(queryset))

    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Any, pk: str | None = None) -> Response:
        """Take ownership of an open exception."""
        self._validated(request)
        exception = self.get_object()
        return self._output(services.exception_acknowledge(exception=exception, actor=request.user))

    @action(detail=True, methods=["post"])
    def resolve(self, request: Any, pk: str | None = None) -> Response:
        """Close an exception with a root cause (``note`` required for ``other``)."""
        data = self._validated(request)
        exception = self.get_object()
        return self._output(services.exception_resolve(exception=exception, actor=request.user,
                                                       root_cause=data["root_cause"], note=data["note"]))

    @action(detail=True, methods=["post"])
    def cancel(self, request: Any, pk: str | None = None) -> Response:
        """Withdraw an exception raised in error."""
        data = self._validated(request)
        exception = self.get_object()
        return self._output(services.exception_cancel(exception=exception, actor=request.user, note=data["note"]))


def register(router: SimpleRouter) -> None:
    """Add this area's routes to the governance router."""
    router.register("exceptions", ExceptionViewSet, basename="exception")
