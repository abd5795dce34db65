"""Procurement's home-page panel (``erp.dashboards``): the suppliers a buyer manages. Requisitions and purchase
orders join it when procure-to-pay arrives."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q

from erp.dashboards import Figure, Panel, PanelSpec, api_url, list_url
from erp.scoping import scope_queryset
from procurement.models import Supplier


def suppliers(user: Any, now: dt.datetime) -> Panel:
    counts = scope_queryset(Supplier.objects.all(), user).aggregate(
        total=Count("id"), inactive=Count("id", filter=Q(active=False)))
    return Panel(key="suppliers", title="Suppliers", figures=[
        Figure(label="Suppliers", value=counts["total"], key="suppliers-total",
               url=list_url("procurement:supplier-list"), api=api_url("suppliers/"))],
        note=f"{counts['inactive']} of them inactive." if counts["inactive"] else "All of them active.")


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("suppliers", frozenset({"buyer"}), "procurement.view_supplier", suppliers),
)
