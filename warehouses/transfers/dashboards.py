"""Transfers' home-page panel (``erp.dashboards``) for planners: the open transfer recommendations of their scope
(the count the recommendations API gives) and the transfers on their way to their warehouses."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count

from erp.dashboards import Figure, Panel, PanelSpec, api_url, list_url
from erp.scoping import scope_queryset
from warehouses.models import Warehouse
from warehouses.transfers import rules
from warehouses.transfers.models import RecommendationStatus, Transfer, TransferRecommendation, TransferStatus


def transfer_recommendations(user: Any, now: dt.datetime) -> Panel:
    """Open recommendations (either end in scope), and per status the transfers in transit to a warehouse in
    scope (two queries)."""
    open_ones = scope_queryset(TransferRecommendation.objects.all(), user).filter(
        status=RecommendationStatus.OPEN).count()
    figures = [Figure(label="Open recommendations", value=open_ones, key="transfer-recommendations-open",
                      tone="warn" if open_ones else "",
                      url=list_url("transfers:recommendation-list", {"status": RecommendationStatus.OPEN}),
                      api=api_url("transfer-recommendations/", {"status": RecommendationStatus.OPEN}))]
    mine = scope_queryset(Warehouse.objects.all(), user)
    coming = dict(scope_queryset(Transfer.objects.all(), user).filter(
        status__in=rules.IN_TRANSIT_STATUSES, to_warehouse__in=mine).order_by()
        .values("status").annotate(n=Count("pk")).values_list("status", "n"))
    for status, label in ((TransferStatus.DISPATCHED, "On the way to you"),
                          (TransferStatus.PARTIALLY_RECEIVED, "Partly received, rest on the way")):
        figures.append(Figure(label=label, value=coming.get(status, 0), key=f"transfers-in-transit-{status}",
                              url=list_url("transfers:transfer-list", {"status": status})))
    return Panel(key="transfer-recommendations", title="Transfer recommendations", figures=figures,
                 note="Recommended by the hourly run from backorders, demand and surplus across the network; "
                      "transfers counted where they arrive.")


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("transfer-recommendations", frozenset({"planner"}), "transfers.view_transferrecommendation",
              transfer_recommendations),
)
