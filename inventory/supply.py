"""Stock on its way to a warehouse, by the day it arrives: what promising may count on before it is on hand.

Inventory knows the stock in transit (the ledger's ``in_transit`` status) but not when it arrives: that is the
documents' (a transfer's expected arrival, later a purchase order line's expected date). The apps that own those
documents register a provider at start-up (``AppConfig.ready``), so inventory and the apps reading it (orders'
promising) never import them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

Pair = tuple[int, int]  # (item id, warehouse id)


@dataclass(frozen=True, slots=True)
class Inbound:
    """``quantity`` (base units) of an item arriving at a warehouse on ``arrives_on`` (the warehouse's local date),
    from the document ``source`` (a number, for explanations)."""

    item_id: int
    warehouse_id: int
    arrives_on: dt.date
    quantity: Decimal
    source: str


Provider = Callable[[Sequence[int], Sequence[int]], list[Inbound]]
_PROVIDERS: dict[str, Provider] = {}


def register_inbound(owner: str, provider: Provider) -> None:
    """Register (or replace) ``owner``'s provider: given item ids and warehouse ids, its open inbound supply."""
    _PROVIDERS[owner] = provider


def inbound(item_ids: Sequence[int], warehouse_ids: Sequence[int]) -> dict[Pair, list[Inbound]]:
    """Every provider's inbound supply of the items at the warehouses, by pair, earliest arrival first (one query
    per provider)."""
    found: dict[Pair, list[Inbound]] = defaultdict(list)
    if not item_ids or not warehouse_ids:
        return {}
    for owner in sorted(_PROVIDERS):
        for row in _PROVIDERS[owner](item_ids, warehouse_ids):
            found[(row.item_id, row.warehouse_id)].append(row)
    return {pair: sorted(rows, key=lambda r: (r.arrives_on, r.source)) for pair, rows in found.items()}


def covered_on(supply: Sequence[Inbound], needed: Decimal) -> dt.date | None:
    """The first arrival date by which ``supply`` (earliest first) adds up to ``needed``; None if it never does."""
    total = Decimal(0)
    for row in supply:
        total += row.quantity
        if total >= needed:
            return row.arrives_on
    return None
