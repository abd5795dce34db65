"""Governance screens: the planner's exception dashboard.

``exception-dashboard`` is the page: tiles by severity and SLA state, a bar chart by type and the
queue, filtered by type, severity, status and warehouse. ``exception-panel`` is the fragment htmx
swaps in when a filter changes, every 30 seconds, and after an acknowledge or resolve
(``exception-acknowledge``, ``exception-resolve``, POST only; they call the services and answer the
refreshed row, or redirect back to the dashboard without htmx). Everything is in the user's scope.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.views import View

from erp.exceptions import DomainError, NotFound
from erp.screens import Column, ColumnSet, ScreenAccessMixin, export_name, is_htmx_partial
from governance import rules
from governance.causes import exception_causes
from governance.models import ExceptionStatus, OperationalException
from governance.services import exceptions as services
from governance.templatetags.policy_tags import role_name
from warehouses.selectors import warehouses_for

QUEUE_LIMIT = 100
# The queue's columns: sortable headings, and the CSV of the whole filtered queue (not only the first 100).
COLUMNS = (
    Column("Exception", lambda exc: f"{exc.number} {exc.title}" + (f" ({exc.reference})" if exc.reference else ""),
           sort="number"),
    Column("Type", "get_type_display", sort="type"),
    Column("Severity", "get_severity_display"),
    Column("Site", lambda exc: exc.warehouse.code if exc.warehouse else exc.region.code if exc.region else "Enterprise",
           sort="warehouse__code"),
    Column("Owner", lambda exc: role_name(exc.owner_role), sort="owner_role"),
    Column("Due", "due_at", sort="due_at"),
    Column("Status", "get_status_display", sort="status"),
    Column("Actions"),
)
LIVE = "live"  # the status filter's default: open and acknowledged
STATUS_CHOICES = [(LIVE, "Open or acknowledged"), *ExceptionStatus.choices, ("", "Any status")]


def _filters(request: HttpRequest) -> dict[str, str]:
    """The dashboard's filters from the query string; unknown values are ignored, not errors."""
    params = request.GET
    chosen = {
        "type": params.get("type", ""),
        "severity": params.get("severity", ""),
        "status": params.get("status", LIVE),
        "warehouse": params.get("warehouse", ""),
    }
    if chosen["type"] not in rules.EXCEPTION_KINDS:
        chosen["type"] = ""
    if chosen["severity"] not in rules.SEVERITIES:
        chosen["severity"] = ""
    if chosen["status"] not in {value for value, _ in STATUS_CHOICES}:
        chosen["status"] = LIVE
    return chosen


def _filtered(user: Any, chosen: dict[str, str]) -> Any:
    queryset = services.exceptions_for(user)
    if chosen["type"]:
        queryset = queryset.filter(type=chosen["type"])
    if chosen["severity"]:
        queryset = queryset.filter(severity=chosen["severity"])
    if chosen["warehouse"]:
        queryset = queryset.filter(warehouse__code=chosen["warehouse"])
    return queryset


def _columns(request: HttpRequest) -> ColumnSet:
    return ColumnSet(request, COLUMNS, "due", path=reverse("governance:exception-dashboard"))


def _queue(site_filtered: Any, chosen: dict[str, str], columns: ColumnSet) -> Any:
    queue = site_filtered.select_related("warehouse", "region")
    if chosen["status"] == LIVE:
        queue = queue.filter(status__in=rules.EXCEPTION_OPEN_STATUSES)
    elif chosen["status"]:
        queue = queue.filter(status=chosen["status"])
    return columns.sorted(queue)


def _panel_context(request: HttpRequest) -> dict[str, Any]:
    chosen = _filters(request)
    now = timezone.now()
    site_filtered = _filtered(request.user, chosen)
    summary = services.exceptions_summary(site_filtered, now=now)
    columns = _columns(request)
    rows = list(_queue(site_filtered, chosen, columns)[:QUEUE_LIMIT])
    return {
        "columns": columns.heads(), "export_url": columns.export_url(), "sort": columns.chosen_sort(),
        "summary": summary,
        "rows": [_row(exc, now) for exc in rows],
        "queue_truncated": len(rows) == QUEUE_LIMIT,
        "chart": {
            "labels": [kind.label for kind in rules.EXCEPTION_KINDS.values()],
            "counts": [summary["by_type"][code] for code in rules.EXCEPTION_KINDS],
        },
        "severity_tiles": [(severity, summary["by_severity"][severity]) for severity in rules.SEVERITIES],
        "root_causes": list(rules.ROOT_CAUSES.items()),
        "can_work": request.user.has_perm(services.WORK_PERMISSION),
        "filters": chosen,
    }


def _row(exc: OperationalException, now: Any) -> dict[str, Any]:
    live = exc.status in rules.EXCEPTION_OPEN_STATUSES
    if not live:
        sla = ""
    elif exc.due_at < now:
        sla = "overdue"
    elif (exc.due_at - now).total_seconds() < rules.DUE_SOON_HOURS * 3600:
        sla = "due_soon"
    else:
        sla = "on_time"
    return {
        "exception": exc,
        "kind": rules.EXCEPTION_KINDS[exc.type],
        "sla": sla,
        "may_acknowledge": rules.exception_may_move(exc.status, ExceptionStatus.ACKNOWLEDGED),
        "may_resolve": rules.exception_may_move(exc.status, ExceptionStatus.RESOLVED),
        "causes": exception_causes(exc),
    }


class ExceptionDashboardView(ScreenAccessMixin, View):
    permission_required = "governance.view_operationalexception"
    template_name = "governance/exceptions/dashboard.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        columns = _columns(request)
        if columns.wants_export():  # the whole filtered queue, in its order
            queue = _queue(_filtered(request.user, _filters(request)), _filters(request), columns)
            return columns.export(queue, export_name("exceptions"))  # type: ignore[return-value]  # streamed
        context = _panel_context(request)
        if is_htmx_partial(request):
            return render(request, "governance/exceptions/_panel.html", context)
        context.update({
            "title": "Exceptions",
            "kinds": [(code, kind.label) for code, kind in rules.EXCEPTION_KINDS.items()],
            "severities": rules.SEVERITIES,
            "statuses": STATUS_CHOICES,
            "warehouses": warehouses_for(request.user).order_by("code").values_list("code", flat=True),
        })
        return render(request, self.template_name, context)


class ExceptionPanelView(ExceptionDashboardView):
    """The refreshable fragment alone (tiles, chart data and queue), for htmx."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "governance/exceptions/_panel.html", _panel_context(request))


class _ExceptionActionView(ScreenAccessMixin, View):
    """POST one action on an exception in scope; answer the refreshed row (htmx) or go back to the dashboard."""

    permission_required = services.WORK_PERMISSION
    success_message = ""

    def act(self, request: HttpRequest, exception: OperationalException) -> OperationalException:
        raise NotImplementedError

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        exception = services.exceptions_for(request.user).filter(pk=pk).first()
        if exception is None:
            raise Http404("No such exception in your scope.")
        error = ""
        try:
            exception = self.act(request, exception)
        except NotFound as gone:
            raise Http404("No such exception in your scope.") from gone
        except DomainError as refused:
            error = refused.message
            if refused.detail:
                error += " " + " ".join(str(m) for messages_ in refused.detail.values()
                                        for m in (messages_ if isinstance(messages_, list) else [messages_]))
            exception = services.exceptions_for(request.user).get(pk=pk)
        if not is_htmx_partial(request):
            if error:
                messages.error(request, f"{exception.number}: {error}")
            else:
                messages.success(request, f"{exception.number} {self.success_message}.")
            return HttpResponseRedirect(reverse("governance:exception-dashboard"))
        response = render(request, "governance/exceptions/_row.html", {
            "row": _row(exception, timezone.now()), "error": error,
            "root_causes": list(rules.ROOT_CAUSES.items()), "can_work": True,
        })
        if not error:
            response["HX-Trigger"] = "exceptionsChanged"
        return response


class ExceptionAcknowledgeView(_ExceptionActionView):
    success_message = "acknowledged"

    def act(self, request: HttpRequest, exception: OperationalException) -> OperationalException:
        return services.exception_acknowledge(exception=exception, actor=request.user)


class ExceptionResolveView(_ExceptionActionView):
    success_message = "resolved"

    def act(self, request: HttpRequest, exception: OperationalException) -> OperationalException:
        return services.exception_resolve(exception=exception, actor=request.user,
                                          root_cause=request.POST.get("root_cause", ""),
                                          note=request.POST.get("note", ""))


urlpatterns = [
    path("", ExceptionDashboardView.as_view(), name="exception-dashboard"),
    path("panel/", ExceptionPanelView.as_view(), name="exception-panel"),
    path("<int:pk>/acknowledge/", ExceptionAcknowledgeView.as_view(), name="exception-acknowledge"),
    path("<int:pk>/resolve/", ExceptionResolveView.as_view(), name="exception-resolve"),
]
