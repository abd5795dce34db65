"""Stock on its way to a warehouse, by the day it arrives: what promising may count on before it is on hand.

Inventory knows the stock in transit (the ledger's ``in_transit`` status) but not when it arrives: that is the
documents' (a transfer's expected arrival, a purchase order line's expected date). The apps that own those
documents register a provider at start-up (``AppConfig.ready``), so inventory and the apps reading it (orders'
promising) never import them.

A provider says what its supply is: ``in_transit`` (already dispatched: the ledger holds it, as availability's
``in_transit_in``) or ``on_order`` (not dispatched yet: a purchase order's open quantity, availability's
``on_order``). Promising counts both kinds alike, by arrival date.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import EmptyResultSet

if TYPE_CHECKING:
    from django.db.models import QuerySet

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
# The open quantity of a provider's supply, whatever its date: a query of every open row (item id, warehouse id,
# quantity), several per pair possible: what availability shows as ``on_order``. A query, not its result, so
# availability joins it into its own SQL and stays one round trip; it is compiled once per process (the SQL of a
# query with no item in it does not change) and narrowed to the items asked about in SQL.
OnOrderRows = Callable[[], "QuerySet[Any]"]
KINDS = ("in_transit", "on_order")


@dataclass(frozen=True, slots=True)
class _Registered:
    provider: Provider
    kind: str
    on_order_rows: OnOrderRows | None


_PROVIDERS: dict[str, _Registered] = {}
_COMPILED: dict[str, tuple[str, tuple[Any, ...]] | None] = {}


def register_inbound(owner: str, provider: Provider, *, kind: str = "in_transit",
                     on_order_rows: OnOrderRows | None = None) -> None:
    """Register (or replace) ``owner``'s provider: given item ids and warehouse ids, its open inbound supply.

    ``kind`` is ``in_transit`` (the default) or ``on_order``; an ``on_order`` provider also gives ``on_order_rows``
    (its open quantities, undated, as a query)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if (kind == "on_order") != (on_order_rows is not None):
        raise ValueError("An on_order provider gives on_order_rows, and only it.")
    _PROVIDERS[owner] = _Registered(provider, kind, on_order_rows)
    _COMPILED.pop(owner, None)


def unregister_inbound(owner: str) -> None:
    """Forget ``owner``'s provider (nothing when it has none): for tests that register one of their own."""
    _PROVIDERS.pop(owner, None)
    _COMPILED.pop(owner, None)


def _compiled(owner: str, rows: OnOrderRows) -> tuple[str, tuple[Any, ...]] | None:
    if owner not in _COMPILED:
        try:
            _COMPILED[owner] = rows().order_by().query.sql_with_params()
        except EmptyResultSet:  # a query Django knows matches nothing
            _COMPILED[owner] = None
    return _COMPILED[owner]


def on_order_sql(item_ids: Sequence[int]) -> tuple[str, list[Any]] | None:
    """The ``on_order`` providers' open quantities of the items at every warehouse as one SQL query of rows
    ``(item_id, warehouse_id, quantity)``, several per pair possible, with its parameters; None when no provider
    supplies any (availability then joins nothing). No query."""
    parts: list[str] = []
    params: list[Any] = []
    for owner, registered in sorted(_PROVIDERS.items()):
        found = _compiled(owner, registered.on_order_rows) if registered.on_order_rows is not None else None
        if found is None:
            continue
        name = f"q{len(parts)}"
        parts.append(f"SELECT {name}.* FROM ({found[0]}) {name} (item_id, warehouse_id, quantity)"  # nosec B608 # a provider's compiled queryset and this module's alias; values are bound
                     f" WHERE {name}.item_id = ANY(%s)")
        params.extend([*found[1], list(item_ids)])
    return (" UNION ALL ".join(parts), params) if parts else None


def on_order(item_ids: Sequence[int], warehouse_ids: Sequence[int]) -> dict[Pair, Decimal]:
    """The open quantity on order of the items at the warehouses, by pair (pairs with none are absent), summed
    over the ``on_order`` providers, whatever its expected date: one query per such provider."""
    total: dict[Pair, Decimal] = defaultdict(Decimal)
    if not item_ids or not warehouse_ids:
        return {}
    for _, registered in sorted(_PROVIDERS.items()):
        if registered.on_order_rows is None:
            continue
        for item_id, warehouse_id, quantity in registered.on_order_rows().filter(
                item_id__in=list(item_ids), warehouse_id__in=list(warehouse_ids)).order_by():
            total[(item_id, warehouse_id)] += quantity
    return {pair: quantity for pair, quantity in total.items() if quantity > 0}


def inbound(item_ids: Sequence[int], warehouse_ids: Sequence[int]) -> dict[Pair, list[Inbound]]:
    """Every provider's inbound supply of the items at the warehouses, by pair, earliest arrival first (one query
    per provider)."""
    found: dict[Pair, list[Inbound]] = defaultdict(list)
    if not item_ids or not warehouse_ids:
        return {}
    for owner in sorted(_PROVIDERS):
        for row in _PROVIDERS[owner].provider(item_ids, warehouse_ids):
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


@dataclass(frozen=True, slots=True)
class Need:
    """``quantity`` of ``item_id`` that ``key`` (an order line) waits for at ``warehouse_id``."""

    key: int
    item_id: int
    warehouse_id: int
    quantity: Decimal


def covered_first_come(needs: Sequence[Need], arriving: dict[Pair, list[Inbound]],
                       ahead: dict[Pair, Decimal] | None = None) -> dict[int, dt.date]:
    """When each need is covered, first come first served: ``needs`` in the order they are served, each waiting
    behind ``ahead`` (what others already wait for at its pair) and every need before it at its pair, and covered
    on the first arrival by which ``arriving`` (earliest first, as ``inbound`` gives it) adds up to all that.
    Needs never covered are absent (they still wait ahead of the needs after them)."""
    waiting: dict[Pair, Decimal] = defaultdict(Decimal, ahead or {})
    found: dict[int, dt.date] = {}
    for need in needs:
        pair = (need.item_id, need.warehouse_id)
        waiting[pair] += need.quantity
        arrives = covered_on(arriving.get(pair, []), waiting[pair])
        if arrives is not None:
            found[need.key] = arrives
    return found
