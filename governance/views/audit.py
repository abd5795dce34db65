"""Governance screens: the audit trail, searchable, within the viewer's scope."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q, QuerySet
from django.urls import path

from erp.screens import ScreenListView
from governance.audit import attach_shown_changes, audit_events_for
from governance.models import AuditEvent

# ``inventory_item#17``: exactly one object's history (the history panel links here).
OBJECT_TERM = re.compile(r"^(?P<table>[a-z0-9_]+)#(?P<row_id>[^\s#]+)$")


class AuditEventListView(ScreenListView[AuditEvent]):
    """Every recorded change the viewer may see, newest first; search by table, row, actor or request id."""

    model = AuditEvent
    permission_required = "governance.view_auditevent"
    template_name = "governance/audit/event_list.html"
    rows_template_name = "governance/audit/_event_rows.html"
    title = "Audit trail"
    search_placeholder = "Table, row id, user or request id (or table#id)"
    search_fields = ("table_name", "row_id", "actor__username", "request_id")

    def base_queryset(self) -> QuerySet[Any]:
        return audit_events_for(self.request.user).order_by("-id")

    def get_queryset(self) -> QuerySet[Any]:
        term = self.search_term()
        one_object = OBJECT_TERM.match(term)
        if one_object is None:
            return super().get_queryset()
        # Scoped exactly as the plain list (the base queryset), narrowed to one row's history.
        queryset = super(ScreenListView, self).get_queryset()
        return queryset.filter(Q(table_name=one_object["table"]) & Q(row_id=one_object["row_id"]))


    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        attach_shown_changes(list(context["object_list"]), self.request.user)
        return context


urlpatterns = [
    path("", AuditEventListView.as_view(), name="audit-list"),
]
