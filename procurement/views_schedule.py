"""Reschedule a purchase order from its page (issue 14, point 7): the buyer types the supplier's new date per open
line and a reason; ``schedule.purchase_order_reschedule`` moves the lines and promises the waiting customer lines
again in one transaction. The result page shows which lines moved and which customer orders were promised again
(old → new), so the buyer sees the effect. A date that is not a date is a 400 beside the form; a service's refusal
(400/409) is its message beside the form with its status; nothing is written either way.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views import View

from erp.exceptions import DomainError
from erp.formats import plain_number
from erp.screens import ScreenAccessMixin
from procurement import rules
from procurement.models import PurchaseOrder, PurchaseOrderLine
from procurement.schedule import RescheduleSpec, purchase_order_reschedule
from procurement.views_purchasing import WORK_ORDER, _order, refusal

MAX_REASON = 200


def _open_lines(order: PurchaseOrder) -> list[PurchaseOrderLine]:
    return [line for line in PurchaseOrderLine.objects.filter(order=order).select_related("item__base_uom")
            .order_by("line_no") if line.open_quantity > 0]


class PurchaseOrderRescheduleView(ScreenAccessMixin, View):
    """The open lines of an approved, sent or partly received order, each with its expected date and a new one."""

    permission_required = WORK_ORDER
    http_method_names = ["get", "post"]
    template_name = "procurement/reschedule.html"

    def page(self, order: PurchaseOrder, lines: list[PurchaseOrderLine], *, entered: dict[int, str] | None = None,
             reason: str = "", errors: dict[int, str] | None = None, problem: str = "",
             status: int = 200) -> HttpResponse:
        entered, errors = entered or {}, errors or {}
        rows = [{"line": line, "open": plain_number(line.open_quantity),
                 "value": entered.get(line.line_no, line.expected_date.isoformat()),
                 "error": errors.get(line.line_no, "")} for line in lines]
        today = timezone.now().astimezone(ZoneInfo(order.warehouse.timezone)).date()
        return render(self.request, self.template_name, {
            "order": order, "rows": rows, "reason": reason, "problem": problem, "today": today,
        }, status=status)

    def closed(self, order: PurchaseOrder) -> HttpResponse | None:
        if order.status in rules.ON_ORDER_STATUSES:
            return None
        messages.error(self.request, f"{order.number} is {order.get_status_display().lower()}: its dates cannot "
                                     f"be moved.")
        return redirect("procurement:purchase-order-detail", pk=order.pk)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = _order(request.user, pk)
        return self.closed(order) or self.page(order, _open_lines(order))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = _order(request.user, pk)
        refused = self.closed(order)
        if refused is not None:
            return refused
        lines = _open_lines(order)
        reason = request.POST.get("reason", "").strip()[:MAX_REASON]
        entered: dict[int, str] = {}
        errors: dict[int, str] = {}
        specs: list[RescheduleSpec] = []
        for line in lines:
            raw = request.POST.get(f"line-{line.line_no}", "").strip()[:20]
            entered[line.line_no] = raw
            try:
                date = dt.date.fromisoformat(raw)
            except ValueError:
                errors[line.line_no] = "Enter a date (YYYY-MM-DD)."
                continue
            specs.append(RescheduleSpec(line_no=line.line_no, expected_date=date))
        if not lines:
            return self.page(order, lines, reason=reason, status=409,
                             problem=f"{order.number} has no open line to move.")
        if errors:
            return self.page(order, lines, entered=entered, reason=reason, errors=errors, status=400,
                             problem="Some dates are not dates: nothing was moved.")
        try:
            done = purchase_order_reschedule(order=order, lines=specs, actor=request.user, reason=reason)
        except DomainError as error:
            return self.page(order, lines, entered=entered, reason=reason, status=error.status,
                             problem=refusal(error))
        moved = [{"line_no": line_no, "old": old, "new": new} for line_no, old, new in done.lines]
        return render(request, "procurement/reschedule_done.html", {
            "order": order, "moved": moved, "repromised": done.repromised, "reason": reason,
        })


urlpatterns: list[URLPattern] = [
    path("purchase-orders/<int:pk>/reschedule/", PurchaseOrderRescheduleView.as_view(),
         name="purchase-order-reschedule"),
]
