"""Governance's home-page panels (``erp.dashboards``): open exceptions by type and age, decisions waiting for
the user, and approved deviations about to expire."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Min
from django.urls import reverse
from django.utils import timezone

from erp.dashboards import Figure, Panel, PanelSpec, list_url
from governance import rules
from governance.models import DeviationStatus
from governance.selectors import deviations_for
from governance.services import approvals
from governance.services.exceptions import exceptions_for, exceptions_summary

DEVIATIONS_EXPIRING_DAYS = 14
DEVIATIONS_SHOWN = 5


def _age(delta: dt.timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def open_exceptions(user: Any, now: dt.datetime) -> Panel:
    queryset = exceptions_for(user)
    summary = exceptions_summary(queryset, now=now)
    figures = [Figure(label="Overdue", value=summary["by_sla"]["overdue"], key="exceptions-overdue",
                      url=list_url("governance:exception-dashboard"),
                      tone="bad" if summary["by_sla"]["overdue"] else "")]
    figures += [Figure(label=kind.label, value=summary["by_type"][code], key=f"exceptions-{code}",
                       url=list_url("governance:exception-dashboard", {"type": code}),
                       tone="warn" if summary["by_type"][code] else "")
                for code, kind in rules.EXCEPTION_KINDS.items() if summary["by_type"][code]]
    oldest = (queryset.filter(status__in=rules.EXCEPTION_OPEN_STATUSES)
              .aggregate(oldest=Min("first_raised_at"))["oldest"])
    note = (f"{summary['open']} open; the oldest was raised {_age(now - oldest)} ago." if oldest is not None
            else "Nothing open.")
    return Panel(key="exceptions", title="Open exceptions", figures=figures, note=note)


def decisions_waiting(user: Any, now: dt.datetime) -> Panel:
    waiting = approvals.approvals_waiting_for(user)
    count = waiting.count()
    oldest = waiting.aggregate(oldest=Min("request__created_at"))["oldest"]
    return Panel(
        key="decisions", title="Decisions waiting for you",
        figures=[Figure(label="To decide", value=count, key="decisions-waiting",
                        url=list_url("governance:approval-list"), tone="warn" if count else "")],
        note=f"The oldest has waited {_age(now - oldest)}." if oldest is not None else "Nothing waits for you.")


def deviations_expiring(user: Any, now: dt.datetime) -> Panel:
    today = timezone.localdate(now)
    until = today + dt.timedelta(days=DEVIATIONS_EXPIRING_DAYS)
    expiring = (deviations_for(user).filter(status=DeviationStatus.APPROVED, effective_to__gte=today,
                                            effective_to__lte=until).order_by("effective_to", "number"))
    rows = list(expiring[:DEVIATIONS_SHOWN])
    count = expiring.count() if len(rows) == DEVIATIONS_SHOWN else len(rows)
    return Panel(
        key="deviations", title="Deviations ending soon",
        figures=[Figure(label=f"End within {DEVIATIONS_EXPIRING_DAYS} days", value=count, key="deviations-expiring",
                        url=list_url("governance:policy-list"), tone="warn" if count else "")],
        links=[(f"{row.number} at {row.scope_code}, ends {row.effective_to:%a %d %b}",
                reverse("governance:policy-deviation-detail", args=[row.pk])) for row in rows],
        note="After its last day a deviation expires and the standard applies again.")


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("exceptions", frozenset({"planner", "warehouse_supervisor", "customer_service"}),
              "governance.view_operationalexception", open_exceptions),
    PanelSpec("decisions", frozenset({"approver", "process_owner", "warehouse_supervisor"}),
              "governance.view_approvalrequest", decisions_waiting),
    PanelSpec("deviations", frozenset({"process_owner", "approver"}), "governance.view_policydeviation",
              deviations_expiring),
)
