"""Reads of stock shared by the API, screens and reports, each in a constant number of queries.

Expired stock is not allocatable: balances of a lot whose ``expiry_date`` is before the day asked
about stay in ``on_hand`` and ``allocatable_on_hand`` of the summary (the ledger records what is on
the shelf), but ``fefo_lots`` leaves them out, so nothing allocated or suggested through it is
expired. A lot is still good on its expiry date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from erp.scoping import scope_queryset
from inventory import rules
from inventory.models import Item, ItemCost, Lot, StockBalance, StockMove
from warehouses.models import Warehouse


@dataclass(frozen=True)
class FefoLot:
    lot: Lot
    on_hand: Decimal


def fefo_lots(*, item: Item, warehouse: Warehouse, at: date) -> list[FefoLot]:
    """The item's unexpired lots with allocatable stock in ``warehouse``, first expiring first.

    Ordered by expiry date (lots without one last), then lot number; one query.
    """
    rows = (
        StockBalance.objects.filter(item=item, warehouse=warehouse, status__allocatable=True, on_hand__gt=0,
                                    lot__isnull=False)
        .filter(Q(lot__expiry_date__isnull=True) | Q(lot__expiry_date__gte=at))
        .values("lot")
        .annotate(total=Sum("on_hand"))
        .order_by(F("lot__expiry_date").asc(nulls_last=True), "lot__lot_number")
        .values_list("lot", "total")
    )
    totals = list(rows)
    lots = Lot.objects.in_bulk([lot_id for lot_id, _ in totals])
    return [FefoLot(lot=lots[lot_id], on_hand=total) for lot_id, total in totals]


def stock_moves(user: Any) -> QuerySet[StockMove]:
    """The ledger as ``user`` may see it, with everything a listing shows joined in."""
    return scope_queryset(
        StockMove.objects.select_related("item", "warehouse", "location", "lot", "status", "reason"), user
    )


def stock_value(*, user: Any = None, warehouse: Warehouse | None = None) -> list[dict[str, Any]]:
    """Stock value by warehouse and status: on hand times the moving-average cost of its legal entity.

    One query. Rows: ``warehouse``, ``status``, ``quantity``, ``value`` (rounded half-even to 4
    places), for every status; only ``valued`` statuses count on the books (``valued`` is given).
    ``user`` narrows to their scope (``None``: the whole enterprise, for internal use).
    """
    balances = StockBalance.objects.filter(on_hand__gt=0)
    if user is not None:
        balances = scope_queryset(balances, user)
    if warehouse is not None:
        balances = balances.filter(warehouse=warehouse)
    unit_cost = ItemCost.objects.filter(item=OuterRef("item"), legal_entity=OuterRef("warehouse__legal_entity"))
    money = DecimalField(max_digits=40, decimal_places=10)
    rows = (
        balances.annotate(cost=Coalesce(Subquery(unit_cost.values("unit_cost")[:1]), Decimal(0)))
        .values("warehouse__code", "status__code", "status__valued")
        .annotate(quantity=Sum("on_hand"),
                  value=Sum(ExpressionWrapper(F("on_hand") * F("cost"), output_field=money)))
        .order_by("warehouse__code", "status__sort_order")
    )
    return [
        {"warehouse": row["warehouse__code"], "status": row["status__code"], "valued": row["status__valued"],
         "quantity": row["quantity"],
         "value": Decimal(row["value"]).quantize(rules.VALUE_QUANTUM, rounding=ROUND_HALF_EVEN)}
        for row in rows
    ]
