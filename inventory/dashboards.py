"""Inventory's home-page panels (``erp.dashboards``): counts to do and count variances waiting for a decision at
the user's warehouses, and the stock's value at cost for finance."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from erp.dashboards import Figure, Panel, PanelSpec, counted_by_warehouse, list_url
from erp.scoping import scope_queryset
from inventory import selectors
from inventory.models import CycleCount, CycleCountStatus
from warehouses.models import Warehouse


def _panel(user: Any, *, key: str, title: str, status: str, label: str, tone: str, note: str) -> Panel:
    counts = scope_queryset(CycleCount.objects.all(), user).filter(status=status)
    return Panel(key=key, title=title, note=note, figures=counted_by_warehouse(
        counts, label=label, total_key=f"{key}-total", key_prefix=key, url_name="inventory:cycle-count-list",
        params={"status": status}, tone=tone, api_path="cycle-counts/"))


def counts_to_do(user: Any, now: dt.datetime) -> Panel:
    return _panel(user, key="counts-open", title="Counts to do", status=CycleCountStatus.OPEN, label="Open counts",
                  tone="warn", note="Made each day by the count plan, or started by hand.")


def count_variances(user: Any, now: dt.datetime) -> Panel:
    return _panel(user, key="counts-pending", title="Count variances to decide",
                  status=CycleCountStatus.PENDING_APPROVAL, label="Waiting for approval", tone="bad",
                  note="Submitted counts whose variance needs a decision before it posts.")


def stock_value(user: Any, now: dt.datetime) -> Panel:
    """Stock on the books (valued statuses) at moving-average cost, by warehouse, in each warehouse's currency."""
    by_warehouse: dict[str, Decimal] = {}
    for row in selectors.stock_value(user=user):
        if row["valued"]:
            by_warehouse[row["warehouse"]] = by_warehouse.get(row["warehouse"], Decimal(0)) + row["value"]
    currency = dict(scope_queryset(Warehouse.objects.filter(code__in=by_warehouse), user)
                    .values_list("code", "legal_entity__currency"))
    figures = [Figure(label=code, value=f"{value:,.2f} {currency.get(code, '')}".strip(), key=f"value-{code}",
                      url=list_url("inventory:stock-move-list", {"warehouse": code}))
               for code, value in sorted(by_warehouse.items())]
    return Panel(key="stock-value", title="Stock value at cost", figures=figures,
                 note="On hand in valued statuses times the moving-average cost of the warehouse's legal entity.")


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("counts-open", frozenset({"warehouse_operator", "warehouse_supervisor"}), "inventory.view_cyclecount",
              counts_to_do),
    PanelSpec("counts-pending", frozenset({"warehouse_supervisor"}), "inventory.view_cyclecount", count_variances),
    PanelSpec("stock-value", frozenset({"finance"}), "inventory.view_itemcost", stock_value),
)
