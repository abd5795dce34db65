"""The handheld put-away list of a receipt (issue 14, point 5): each received line with its SKU, quantity, lot and
the location it landed at (the put-away rules' choice or the operator's scan), in location path order so the
operator walks it once. The receipt posted the stock straight to those locations: the list is read-only. Today's
receipts at the operator's warehouses lead to it.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views import View

from erp.scoping import scope_queryset
from erp.screens import ScreenAccessMixin
from procurement.models import Receipt, ReceiptLine
from procurement.views_receiving import RECEIVE
from warehouses.models import Warehouse

TODAY_MAX = 100


def scoped_receipts(user: Any) -> QuerySet[Receipt]:
    return scope_queryset(Receipt.objects.select_related("purchase_order__supplier", "warehouse", "received_by"),
                          user)


def _posted_today_q() -> Q:
    """Posted since midnight at the receipt's warehouse: one condition per time zone of the network."""
    now = timezone.now()
    condition = Q(pk__in=[])
    for zone in Warehouse.objects.order_by().values_list("timezone", flat=True).distinct():
        local = now.astimezone(ZoneInfo(zone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        condition |= Q(warehouse__timezone=zone, posted_at__gte=midnight)
    return condition


class PutawayTodayView(ScreenAccessMixin, View):
    """Today's receipts at the operator's warehouses, newest first, each leading to its put-away list."""

    permission_required = RECEIVE
    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        receipts = list(scoped_receipts(request.user).filter(_posted_today_q()).order_by("-posted_at", "-pk")
                        [:TODAY_MAX])
        return render(request, "procurement/putaway_list_today.html", {"receipts": receipts})


class PutawayListView(ScreenAccessMixin, View):
    """One receipt's lines in the path order of where they landed; a receipt outside the scope is a 404."""

    permission_required = RECEIVE
    http_method_names = ["get"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        receipt = get_object_or_404(scoped_receipts(request.user), pk=pk)
        lines = list(ReceiptLine.objects.filter(receipt=receipt).select_related("item", "lot", "location")
                     .order_by("location__path", "line_no"))
        return render(request, "procurement/putaway_list.html", {"receipt": receipt, "lines": lines})


urlpatterns: list[URLPattern] = [
    path("receiving/put-away/", PutawayTodayView.as_view(), name="putaway-today"),
    path("receiving/put-away/<int:pk>/", PutawayListView.as_view(), name="putaway-list"),
]
