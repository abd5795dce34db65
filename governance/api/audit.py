"""``audit-events/``: the audit trail, read-only, within the caller's scope.

The history of one object is a filter, not a route of its own: ``?model=inventory.item&row_id=17``
(or ``?table=inventory_item&row_id=17``). Events are written only by the database trigger; nothing
here (or anywhere in the application) writes, changes or deletes one.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from rest_framework import mixins, serializers
from rest_framework.routers import SimpleRouter

from erp.api.views import ScopedViewSet
from governance.audit import audit_events_for, model_label_of, table_of
from governance.models import AuditEvent
from warehouses.models import Warehouse


class AuditEventOutput(serializers.ModelSerializer):
    """One row change: who, when, in which request, and the changed fields (``{field: [old, new]}``)."""

    table = serializers.CharField(source="table_name")
    model = serializers.SerializerMethodField()
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "occurred_at", "table", "model", "row_id", "operation", "actor", "request_id", "changes"]

    def get_model(self, event: AuditEvent) -> str | None:
        return model_label_of(event.table_name)


class AuditEventFilter(django_filters.FilterSet):
    table = django_filters.CharFilter(field_name="table_name")
    model = django_filters.CharFilter(method="filter_model", label="app_label.model, e.g. inventory.item")
    row_id = django_filters.CharFilter(field_name="row_id")
    actor = django_filters.CharFilter(field_name="actor__username")
    warehouse = django_filters.CharFilter(method="filter_warehouse", label="warehouse code")
    operation = django_filters.ChoiceFilter(choices=[(op, op) for op in ("INSERT", "UPDATE", "DELETE")])
    request_id = django_filters.CharFilter(field_name="request_id")
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_model(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        table = table_of(value)
        return queryset.filter(table_name=table) if table else queryset.none()

    def filter_warehouse(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        # Scope still applies: an id outside the caller's scope simply matches nothing they can see.
        return queryset.filter(warehouse_id__in=Warehouse.objects.filter(code=value).values("pk"))


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The audit trail within the caller's scope, newest first (read-only)."""

    serializer_class = AuditEventOutput
    filterset_class = AuditEventFilter

    def base_queryset(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.all()

    def get_queryset(self) -> QuerySet[Any]:
        return audit_events_for(self.request.user).order_by("-id")


def register(router: SimpleRouter) -> None:
    """Add this area's routes to the governance router."""
    router.register("audit-events", AuditEventViewSet, basename="audit-event")
