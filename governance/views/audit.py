"""Governance screens: the audit trail, searchable, within the viewer's scope."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db.models import Q, QuerySet
from django.urls import path

from erp.screens import Column, ScreenListView
from governance.audit import (
    FieldChange,
    attach_shown_changes,
    audit_events_for,
    audited_tables,
    events_about,
    field_changes,
    record_type_name,
)
from governance.models import AuditEvent

# ``inventory_item#17``: exactly one object's history (the history panel links here).
OBJECT_TERM = re.compile(r"^(?P<table>[a-z0-9_]+)#(?P<row_id>[^\s#]+)$")


class AuditEventListView(ScreenListView[AuditEvent]):
    """Every recorded change the viewer may see, newest first; filtered by record type, user, dates and document
    (its number or code), and searchable by table, row, actor or request id."""

    model = AuditEvent
    permission_required = "governance.view_auditevent"
    template_name = "governance/audit/event_list.html"
    rows_template_name = "governance/audit/_event_rows.html"
    title = "Audit trail"
    search_placeholder = "Table, row id, user or request id (or table#id)"
    search_fields = ("table_name", "row_id", "actor__username", "request_id")
    columns = (
        Column("When", "occurred_at", sort="occurred_at"),
        Column("Record", lambda event: f"{record_type_name(event.table_name)} #{event.row_id}", sort="table_name"),
        Column("Change", lambda event: event.operation.lower()),
        Column("By", lambda event: event.actor.username if event.actor else "system", sort="actor__username"),
        Column("Request", "request_id", css="col-opt"),
        Column("Fields", lambda event: [_change_text(change) for change in field_changes(event)], css="col-opt"),
    )

    def filters(self) -> dict[str, Any]:
        """The filters as typed: a record type (an audited table), a user, a date range (UTC, inclusive); a
        date that is not one is left out and said so."""
        params = self.request.GET
        chosen: dict[str, Any] = {
            "model": params.get("model", "").strip()[:100], "actor": params.get("actor", "").strip()[:150],
            "from": params.get("from", "").strip()[:10], "to": params.get("to", "").strip()[:10], "date_error": "",
            "document": params.get("document", "").strip()[:64],
        }
        if chosen["model"] not in _audited_tables():
            chosen["model"] = ""
        for name in ("from", "to"):
            chosen[f"{name}_date"] = None
            if chosen[name]:
                try:
                    chosen[f"{name}_date"] = dt.date.fromisoformat(chosen[name])
                except ValueError:
                    chosen["date_error"] = "Dates are typed as YYYY-MM-DD; the date filter was left out."
        return chosen

    def base_queryset(self) -> QuerySet[Any]:
        chosen = self.filters()
        queryset = audit_events_for(self.request.user)
        if chosen["model"]:
            queryset = queryset.filter(table_name=chosen["model"])
        if chosen["actor"]:
            queryset = queryset.filter(actor__username__iexact=chosen["actor"])
        if chosen["document"]:
            queryset = queryset.filter(events_about(chosen["document"]))
        if chosen["from_date"] is not None:
            queryset = queryset.filter(occurred_at__date__gte=chosen["from_date"])
        if chosen["to_date"] is not None:
            queryset = queryset.filter(occurred_at__date__lte=chosen["to_date"])
        return queryset.order_by("-id")

    def get_queryset(self) -> QuerySet[Any]:
        term = self.search_term()
        one_object = OBJECT_TERM.match(term)
        if one_object is None:
            return super().get_queryset()
        # Scoped exactly as the plain list (the base queryset), narrowed to one row's history.
        queryset = super(ScreenListView, self).get_queryset()
        return self.sorted(queryset.filter(Q(table_name=one_object["table"]) & Q(row_id=one_object["row_id"])))


    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        attach_shown_changes(list(context["object_list"]), self.request.user)
        context.update(filters=self.filters(), audit_models=sorted(_audited_tables().items(), key=lambda kv: kv[1]))
        return context


def _change_text(change: FieldChange) -> str:
    """One field's change as an export cell: ``status: draft -> allocated`` (an insert names the new value)."""
    if change.old is None:
        return f"{change.field}: {change.new}"
    return f"{change.field}: {change.old} -> {change.new}"


def _audited_tables() -> dict[str, str]:
    """Audited table -> the name of its records ("Sales order"), for the record-type filter."""
    return {table.table: record_type_name(table.table) for table in audited_tables()}


urlpatterns = [
    path("", AuditEventListView.as_view(), name="audit-list"),
]
