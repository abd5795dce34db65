"""The orders' home-page panels (``erp.dashboards``): open orders, promises at risk, backorders, returns to
receive, pick lists and packing at the user's warehouses, and the fill rate with its trend."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count
from django.utils import timezone

from erp.dashboards import Chart, Figure, Panel, PanelSpec, api_url, counted_by_warehouse, list_url
from erp.scoping import scope_queryset
from orders import selectors
from orders.models import OrderStatus, PickList, PickListStatus, ReturnAuthorization, ReturnStatus, SalesOrder
from orders.services.shipping import ready_pick_lines, ready_to_pack

# The statuses of an order still being worked, in lifecycle order.
OPEN_ORDER_STATUSES = (OrderStatus.DRAFT, OrderStatus.ALLOCATED, OrderStatus.PARTIALLY_ALLOCATED,
                       OrderStatus.BACKORDERED, OrderStatus.PICKING, OrderStatus.PACKED)
FILL_RATE_WEEKS = 8
TONES = {OrderStatus.BACKORDERED: "bad", OrderStatus.PARTIALLY_ALLOCATED: "warn", OrderStatus.DRAFT: "warn"}


def _order_counts(user: Any) -> dict[str, int]:
    rows = (scope_queryset(SalesOrder.objects.all(), user).filter(status__in=OPEN_ORDER_STATUSES)
            .values("status").annotate(n=Count("id")).order_by())
    return {row["status"]: row["n"] for row in rows}


def open_orders(user: Any, now: dt.datetime) -> Panel:
    counts = _order_counts(user)
    figures = [Figure(label=OrderStatus(status).label, value=counts.get(status, 0), key=f"orders-{status}",
                      url=list_url("orders:order-list", {"status": status}),
                      api=api_url("sales-orders/", {"status": status}),
                      tone=TONES.get(status, "") if counts.get(status) else "")
               for status in OPEN_ORDER_STATUSES]
    return Panel(key="open-orders", title="Open orders", figures=figures,
                 note=_orders_not_shipped(sum(counts.values())))


def _orders_not_shipped(count: int) -> str:
    return f"{count} order{'' if count == 1 else 's'} not yet shipped."


def promises_at_risk(user: Any, now: dt.datetime) -> Panel:
    today = timezone.localdate(now)
    figures = []
    for when, label in (("late", "Late"), ("today", "Due today")):
        count = selectors.sales_order_list(user, promise=when, today=today).count()
        figures.append(Figure(label=label, value=count, key=f"promise-{when}",
                              url=list_url("orders:order-list", {"promise": when}),
                              tone=("bad" if when == "late" else "warn") if count else "",
                              hint=selectors.PROMISE_FILTERS[when]))
    return Panel(key="promises", title="Promises at risk", figures=figures,
                 note="Orders with a line promised by today that has not shipped.")


def backorders(user: Any, now: dt.datetime) -> Panel:
    counts = _order_counts(user)
    figures = [Figure(label=OrderStatus(status).label, value=counts.get(status, 0), key=f"backorders-{status}",
                      url=list_url("orders:order-list", {"status": status}),
                      api=api_url("sales-orders/", {"status": status}),
                      tone="bad" if counts.get(status) else "")
               for status in (OrderStatus.BACKORDERED, OrderStatus.PARTIALLY_ALLOCATED)]
    return Panel(key="backorders", title="Backorders", figures=figures,
                 note="Allocated by the planner's task as stock arrives, oldest first.")


def returns_to_receive(user: Any, now: dt.datetime) -> Panel:
    waiting = scope_queryset(ReturnAuthorization.objects.all(), user).filter(status=ReturnStatus.AUTHORIZED)
    return Panel(key="returns", title="Returns to receive", figures=counted_by_warehouse(
        waiting, label="To receive", total_key="returns-authorized", key_prefix="returns",
        url_name="orders:return-list", params={"status": ReturnStatus.AUTHORIZED}, api_path="returns/"))


def pick_lists(user: Any, now: dt.datetime) -> Panel:
    open_lists = scope_queryset(PickList.objects.all(), user).filter(status=PickListStatus.OPEN)
    return Panel(key="pick-lists", title="Pick lists to pick", figures=counted_by_warehouse(
        open_lists, label="Open pick lists", total_key="picklists-open", key_prefix="picklists",
        url_name="orders:pick-list-list", params={"status": PickListStatus.OPEN}, api_path="pick-lists/"))


def to_pack(user: Any, now: dt.datetime) -> Panel:
    ready = ready_to_pack(scope_queryset(ready_pick_lines(), user))
    by_warehouse: dict[str, int] = {}
    for row in ready:
        by_warehouse[row["warehouse__code"]] = by_warehouse.get(row["warehouse__code"], 0) + 1
    figures = [Figure(label="Orders to pack", value=len(ready), key="pack-ready",
                      url=list_url("orders:shipment-list"), tone="warn" if ready else "")]
    figures += [Figure(label=code, value=count, key=f"pack-{code}",
                       url=list_url("orders:shipment-list", {"warehouse": code}))
                for code, count in sorted(by_warehouse.items())]
    return Panel(key="to-pack", title="Shipments to pack", figures=figures)


def fill_rate(user: Any, now: dt.datetime) -> Panel:
    """This week's fill rate (Monday to today) and the weeks before it, as the KPI API computes them."""
    today = timezone.localdate(now)
    monday = today - dt.timedelta(days=today.weekday())
    labels: list[str] = []
    values: list[float | None] = []
    for back in range(FILL_RATE_WEEKS - 1, -1, -1):
        start = monday - dt.timedelta(weeks=back)
        end = min(start + dt.timedelta(days=6), today)
        result = selectors.fill_rate(user=user, date_from=start, date_to=end, today=today)
        labels.append(start.strftime("%d %b"))
        values.append(None if result.fill_rate is None else float(result.fill_rate * 100))
    week = selectors.fill_rate(user=user, date_from=monday, date_to=today, today=today)
    percent = "none due" if week.fill_rate is None else f"{week.fill_rate * 100:.1f}%"
    return Panel(
        key="fill-rate", title="Fill rate this week",
        figures=[Figure(label=f"{week.lines_filled} of {week.lines_due} lines due since {monday:%a %d %b}",
                        value=percent, key="fill-rate-week",
                        url=list_url("orders:order-list"))],
        chart=Chart(title=f"Fill rate by week, last {FILL_RATE_WEEKS} weeks", labels=labels, values=values,
                    unit="%"),
        note="Lines shipped complete by their promised date over the lines due.")


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("open-orders", frozenset({"customer_service", "planner"}), "orders.view_salesorder", open_orders),
    PanelSpec("promises", frozenset({"customer_service", "planner"}), "orders.view_salesorder", promises_at_risk),
    PanelSpec("backorders", frozenset({"customer_service", "planner"}), "orders.view_salesorder", backorders),
    PanelSpec("returns", frozenset({"customer_service", "warehouse_operator", "warehouse_supervisor"}),
              "orders.view_returnauthorization", returns_to_receive),
    PanelSpec("pick-lists", frozenset({"warehouse_operator", "warehouse_supervisor"}), "orders.view_picklist",
              pick_lists),
    PanelSpec("to-pack", frozenset({"warehouse_operator", "warehouse_supervisor"}), "orders.view_shipment", to_pack),
    PanelSpec("fill-rate", frozenset({"planner"}), "orders.view_salesorderline", fill_rate),
)
