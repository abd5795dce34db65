"""The stock core: every lock on stock rows and every write to them, for every command that moves stock.

Adjustments, status changes, counts, receipts, allocation and its release, picking, shipping and returns
(and, next, transfers, put-away and replenishment) call this module; no module outside ``inventory/`` names
an inventory table in SQL or writes a stock row (``tests/test_architecture.py`` fails on either). Raw SQL is
used here, where it is faster than the ORM, and nowhere else. Rows come back as frozen dataclasses.

The lock order
--------------
This is the one global order in which every command takes its locks, so that two commands never wait on
each other in a cycle (a deadlock). Other modules point here rather than restate it.

1. the warehouses, ``FOR SHARE``, by id: a stock command never blocks another, but a warehouse cannot
   change (deactivate, change legal entity) under it;
2. the item-warehouse summaries, ``FOR UPDATE``, by (item, warehouse);
3. the stock balances, ``FOR UPDATE``, by (item, location, lot, status);
4. the item costs, ``FOR UPDATE``, by (item, legal entity);
5. then the command's own documents (an order, a pick list, a shipment, a count), by id, then their lines.

``lock`` takes 1 and 2 (``lock_everywhere``: for the items at every active warehouse, for a command that may
go on to allocate anywhere); ``post_moves`` takes 1 to 4, and locking again a row the transaction already
holds is free, so a command may ``lock`` first (to read what it will release or reserve) and post after.
Rows are locked with ``ORDER BY`` their key and ``FOR UPDATE OF`` the table: PostgreSQL locks them as the
sorted result is produced, which is the order above. A command locks its documents only after it has all
the stock locks it will need.

One exception, and why it is safe: an approval decision. The approval engine locks its request first, then
the document decided (a stock adjustment, a cycle count and its lines), then posts the stock. No command
holding stock rows ever waits for an approval request, an adjustment or a count, so no cycle can form.

What the functions cost, whatever the number of lines: ``lock`` 1 query; ``reserve``/``release`` 1;
``post_moves`` 11 (1 warehouse lock, 2 x 3 ensure-and-lock, 1 insert of the moves, 3 updates).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from erp import prepared
from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.transactions import recorded_actor
from inventory import rules
from inventory.exceptions import (
    InsufficientStock,
    InvalidQuantity,
    LocationMismatch,
    LotNotAllowed,
    LotRequired,
    UnknownLot,
)
from inventory.models import Item, Lot, ReasonCode, StockMove, StockStatus
from inventory.signals import allocatable_stock_raised
from warehouses.models import Location, Warehouse

Pair = tuple[int, int]  # (item id, warehouse id): one item-warehouse summary


@dataclass(frozen=True, slots=True)
class Summary:
    """One locked item-warehouse summary, as it stood when it was locked."""

    id: int
    item_id: int
    warehouse_id: int
    on_hand: Decimal
    allocatable_on_hand: Decimal
    blocked: Decimal
    allocated: Decimal

    @property
    def free(self) -> Decimal:
        """What may still be allocated: the allocatable on-hand less what is allocated."""
        return self.allocatable_on_hand - self.allocated


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What allocation needs to know of an item: its SKU (for messages) and whether it is lot-tracked."""

    sku: str
    lot_tracked: bool


@dataclass(frozen=True)
class StockLock:
    """The stock rows a command holds: the warehouses' legal entities and the summaries, by pair, and the facts
    of the items those summaries are of (read with them, no query of its own).

    A pair with no summary row is absent: nothing was ever there, so there is nothing to reserve."""

    legal_entities: Mapping[int, int]  # warehouse id -> legal entity id
    summaries: Mapping[Pair, Summary]
    items: Mapping[int, ItemFacts]

    def free(self, pair: Pair) -> Decimal:
        summary = self.summaries.get(pair)
        return summary.free if summary is not None else Decimal(0)


_SUMMARY_COLUMNS = "t.id, t.item_id, t.warehouse_id, t.on_hand, t.allocatable_on_hand, t.blocked, t.allocated"


def _lock_warehouses(cursor: Any, warehouse_ids: Iterable[int]) -> dict[int, int]:
    """Step 1 of the lock order: share-lock the warehouses; their legal entities by id."""
    cursor.execute("SELECT id, legal_entity_id FROM warehouses_warehouse WHERE id = ANY(%s) ORDER BY id FOR SHARE",
                   [sorted(set(warehouse_ids))])
    return dict(cursor.fetchall())


def lock(pairs: Iterable[Pair]) -> StockLock:
    """Lock the warehouses (share) and the summaries of ``pairs`` in the global order; one query.

    Steps 1 and 2 in one statement, still in their order: the summaries are a ``LATERAL`` subquery of the locked
    warehouses (it reads their ids), so PostgreSQL must take every warehouse's lock, aggregating them into one
    row, before it reads and locks the first summary."""
    keys = sorted(set(pairs))
    if not keys:
        return StockLock({}, {}, {})
    with connection.cursor() as cursor:
        prepared.execute(
            cursor,
            "SELECT w.ids, w.legal_entities, s.* FROM (SELECT array_agg(x.id ORDER BY x.id) AS ids, "
            "array_agg(x.legal_entity_id ORDER BY x.id) AS legal_entities FROM (SELECT id, legal_entity_id "
            "FROM warehouses_warehouse WHERE id = ANY(%s::bigint[]) ORDER BY id FOR SHARE) x) w "
            f"LEFT JOIN LATERAL (SELECT {_SUMMARY_COLUMNS}, i.sku, i.lot_tracked FROM inventory_itemwarehousesummary t "  # nosec B608 # the columns are this module's constant
            "JOIN unnest(%s::bigint[], %s::bigint[]) AS k(item_id, warehouse_id) "
            "ON t.item_id = k.item_id AND t.warehouse_id = k.warehouse_id JOIN inventory_item i ON i.id = t.item_id "
            "WHERE t.warehouse_id = ANY(w.ids) ORDER BY t.item_id, t.warehouse_id FOR UPDATE OF t) s ON true",
            [sorted({key[1] for key in keys}), [key[0] for key in keys], [key[1] for key in keys]],
        )
        rows = cursor.fetchall()
    ids, entities = rows[0][0] or [], rows[0][1] or []
    found = [row[2:] for row in rows if row[2] is not None]
    return StockLock(dict(zip(ids, entities, strict=True)), {(row[1], row[2]): Summary(*row[:7]) for row in found},
                     {row[1]: ItemFacts(row[7], row[8]) for row in found})


def item_facts(item_ids: Iterable[int]) -> dict[int, ItemFacts]:
    """The facts of items, read without a lock (one query): for those a ``StockLock`` has no summary of."""
    return {pk: ItemFacts(sku, lot_tracked) for pk, sku, lot_tracked in
            Item.objects.filter(pk__in=list(item_ids)).values_list("pk", "sku", "lot_tracked")}


def lock_everywhere(item_ids: Iterable[int]) -> StockLock:
    """``lock`` the summaries of ``item_ids`` at every active warehouse: for a command that locks documents and
    may then allocate anywhere in the network (a short pick looks for the shortfall elsewhere)."""
    warehouse_ids = sorted(Warehouse.objects.filter(active=True).values_list("pk", flat=True))
    return lock([(item_id, pk) for item_id in set(item_ids) for pk in warehouse_ids])


def _add_to_allocated(held: StockLock, deltas: Mapping[Pair, Decimal]) -> None:
    changes = {pair: quantity for pair, quantity in deltas.items() if quantity}
    if not changes:
        return
    missing = [pair for pair in changes if pair not in held.summaries]
    if missing:
        raise ValueError(f"reserve or release on summaries not locked: {missing}")
    with connection.cursor() as cursor:
        prepared.execute(
            cursor,
            "UPDATE inventory_itemwarehousesummary t SET allocated = t.allocated + v.quantity, updated_at = now() "
            "FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, quantity) WHERE t.id = v.id",
            [[held.summaries[pair].id for pair in changes], list(changes.values())],
        )


def reserve(held: StockLock, quantities: Mapping[Pair, Decimal]) -> None:
    """Hold ``quantities`` more of the locked summaries' allocatable stock (``allocated`` rises); one query.

    The caller has checked they are free (``StockLock.free``); the database refuses an allocated above the
    allocatable on-hand all the same (a check constraint)."""
    _add_to_allocated(held, quantities)


def release(held: StockLock, quantities: Mapping[Pair, Decimal]) -> None:
    """Give back ``quantities`` of what the locked summaries hold (``allocated`` falls); one query."""
    _add_to_allocated(held, {pair: -quantity for pair, quantity in quantities.items()})


def lot_stock(item_ids: Sequence[int], warehouse_ids: Sequence[int]) -> dict[Pair, list[rules.LotStock]]:
    """The lots of ``item_ids`` on hand in allocatable statuses at ``warehouse_ids``, by pair, in no particular
    order (``rules.usable_lots`` orders and filters them). ``quantity`` is the on-hand: the caller takes off
    what its own documents already hold of each lot. One query; call it with the summaries locked."""
    if not item_ids or not warehouse_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.item_id, b.warehouse_id, b.lot_id, sum(b.on_hand), l.expiry_date, l.received_on, l.lot_number "
            "FROM inventory_stockbalance b JOIN inventory_stockstatus s ON s.id = b.status_id "
            "JOIN inventory_lot l ON l.id = b.lot_id "
            "WHERE s.allocatable AND b.on_hand > 0 AND b.item_id = ANY(%s) AND b.warehouse_id = ANY(%s) "
            "GROUP BY b.item_id, b.warehouse_id, b.lot_id, l.expiry_date, l.received_on, l.lot_number",
            [list(item_ids), list(warehouse_ids)],
        )
        found: dict[Pair, list[rules.LotStock]] = {}
        for item_id, warehouse_id, lot_id, on_hand, expiry, received, number in cursor.fetchall():
            found.setdefault((item_id, warehouse_id), []).append(
                rules.LotStock(lot_id, on_hand, expiry, received, number))
    return found


# --- posting to the ledger ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoveSpec:
    """One ledger line to post: a signed ``quantity`` in the item's base unit.

    ``unit_cost`` (per base unit) is given by receipts from outside (a supplier's price); ``None``
    means the move carries the current moving-average cost of the item in the legal entity. A move out of a
    status that is not ``valued`` (stock kept out of the moving average, such as ``in_transit``) may give its
    ``unit_cost`` too: it leaves at the cost it came in at.

    ``carry=(index, rate)``: this move's unit cost is that of the batch's move at ``index`` (an earlier one)
    times ``rate``, fixed in the same posting: a transfer's transit leg carries the cost its source leg left
    at, converted to the receiving books' currency, so no read of the cost can go stale between the two.
    """

    item: Item
    warehouse: Warehouse
    location: Location
    status: StockStatus
    quantity: Decimal
    lot: Lot | None = None
    unit_cost: Decimal | None = None
    reason: ReasonCode | None = None
    carry: tuple[int, Decimal] | None = None


@dataclass(frozen=True, slots=True)
class _Balance:
    id: int
    on_hand: Decimal


@dataclass(frozen=True, slots=True)
class _Cost:
    id: int
    quantity: Decimal
    unit_cost: Decimal


def _reads_cost(spec: MoveSpec) -> bool:
    """Whether a move needs its entity's cost row: it enters the moving average (a ``valued`` status), or it
    carries the current average (no cost given or carried)."""
    return spec.status.valued or (spec.unit_cost is None and spec.carry is None)


def _validate_spec(spec: MoveSpec) -> Decimal:
    quantity = rules.base_quantity(spec.quantity)
    if spec.location.warehouse_id != spec.warehouse.pk:
        raise LocationMismatch(detail={"location": [f"{spec.location.code} is not in {spec.warehouse.code}."]})
    if spec.item.lot_tracked and spec.lot is None:
        raise LotRequired(detail={"lot": [f"{spec.item.sku} is lot-tracked."]})
    if not spec.item.lot_tracked and spec.lot is not None:
        raise LotNotAllowed(detail={"lot": [f"{spec.item.sku} is not lot-tracked."]})
    if spec.lot is not None and spec.lot.item_id != spec.item.pk:
        raise UnknownLot(detail={"lot": [f"Lot {spec.lot.lot_number} is not a lot of {spec.item.sku}."]})
    if spec.unit_cost is not None and (not Decimal(spec.unit_cost).is_finite() or not
                                       0 <= spec.unit_cost <= rules.MAX_UNIT_COST):
        raise ValidationFailed(detail={"unit_cost": [f"Must be an amount from 0 to {rules.MAX_UNIT_COST}."]})
    return quantity


def _ensure_and_lock(cursor: Any, table: str, columns: tuple[str, ...], keys: list[tuple[Any, ...]],
                     selected: tuple[str, ...], zeros: tuple[str, ...]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Create the missing rows for ``keys`` (``ON CONFLICT DO NOTHING``), then lock them all in key order.

    Two queries whatever the number of keys, locking in ``ORDER BY`` key order (the global order).
    ``IS NOT DISTINCT FROM`` matches the null lot like the ``nulls_distinct=False`` unique key.
    """
    arrays = [[key[i] for key in keys] for i in range(len(columns))]
    unnest = ", ".join(["%s::bigint[]"] * len(columns))
    names = ", ".join(columns)
    cursor.execute(
        f"INSERT INTO {table} ({names}, {', '.join(zeros)}, updated_at) "
        f"SELECT {names}, {', '.join('0' for _ in zeros)}, now() FROM unnest({unnest}) AS k({names}) "
        f"ORDER BY {names} ON CONFLICT DO NOTHING",  # nosec B608 # table and column names are this module's constants, never input; values are bound
        arrays,
    )
    match = " AND ".join(f"t.{c} IS NOT DISTINCT FROM k.{c}" if c == "lot_id" else f"t.{c} = k.{c}" for c in columns)
    cursor.execute(
        f"SELECT {', '.join('t.' + c for c in (*columns, *selected))} FROM {table} t "
        f"JOIN unnest({unnest}) AS k({names}) ON {match} "
        f"ORDER BY {', '.join('t.' + c for c in columns)} FOR UPDATE OF t",  # nosec B608 # table and column names are this module's constants, never input; values are bound
        arrays,
    )
    width = len(columns)
    return {tuple(row[:width]): tuple(row[width:]) for row in cursor.fetchall()}


def _update_by_id(cursor: Any, table: str, values: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """One ``UPDATE ... FROM unnest(...)`` setting ``values`` on rows given as ``(id, *values)``."""
    if not rows:
        return
    arrays = [[row[i] for row in rows] for i in range(len(values) + 1)]
    casts = ", ".join(["%s::bigint[]"] + ["%s::numeric[]"] * len(values))
    cursor.execute(
        f"UPDATE {table} t SET {', '.join(f'{c} = v.{c}' for c in values)}, updated_at = now() "
        f"FROM unnest({casts}) AS v(id, {', '.join(values)}) WHERE t.id = v.id",  # nosec B608 # table and column names are this module's constants, never input; values are bound
        arrays,
    )


# The ledger's columns as ``post_moves`` writes them, with the array type each is sent as.
_MOVE_COLUMNS = (("item_id", "bigint"), ("warehouse_id", "bigint"), ("location_id", "bigint"), ("lot_id", "bigint"),
                 ("status_id", "bigint"), ("quantity", "numeric"), ("unit_cost", "numeric"), ("value", "numeric"),
                 ("reason_id", "bigint"), ("reference_type", "text"), ("reference_id", "text"), ("reference", "text"),
                 ("actor_id", "bigint"), ("created_at", "timestamptz"))


def _ledger_row(spec: MoveSpec, quantity: Decimal, unit_cost: Decimal, value: Decimal, reference_type: str,
                reference_id: str, reference: str, actor: Any, now: Any) -> StockMove:
    """One ledger line, built from ids (a posting of 1,000 moves spent a fifth of its time assigning related
    objects one descriptor at a time), with the spec's objects cached on it so reading ``move.item`` asks nothing
    of the database."""
    row = StockMove(item_id=spec.item.pk, warehouse_id=spec.warehouse.pk, location_id=spec.location.pk,
                    lot_id=spec.lot.pk if spec.lot else None, status_id=spec.status.pk, quantity=quantity,
                    unit_cost=unit_cost, value=value, reason_id=spec.reason.pk if spec.reason else None,
                    reference_type=reference_type, reference_id=reference_id, reference=reference,
                    actor_id=actor.pk if actor is not None else None, created_at=now)
    cache = row._state.fields_cache
    cache.update(item=spec.item, warehouse=spec.warehouse, location=spec.location, lot=spec.lot, status=spec.status,
                 reason=spec.reason, actor=actor)
    return row


def _insert_moves(cursor: Any, rows: list[StockMove]) -> list[StockMove]:
    """Insert the ledger lines in one statement over arrays and give each its id; the rows come back as given.

    What ``bulk_create`` did, without compiling a parameter per field and row (a third of a 1,000-move posting's
    time). The rows are inserted in their order (``WITH ORDINALITY ... ORDER BY``), so the sequence hands out
    their ids in that order too: the sorted ids are the rows' ids, one by one."""
    names = ", ".join(column for column, _ in _MOVE_COLUMNS)
    arrays = [[getattr(row, column) for row in rows] for column, _ in _MOVE_COLUMNS]
    prepared.execute(
        cursor,
        f"INSERT INTO inventory_stockmove ({names}) SELECT {names} FROM unnest("  # nosec B608 # the columns are this module's constants; values are bound
        f"{', '.join(f'%s::{kind}[]' for _, kind in _MOVE_COLUMNS)}) WITH ORDINALITY AS m({names}, n) "
        "ORDER BY n RETURNING id",
        arrays,
    )
    for row, (pk,) in zip(rows, sorted(cursor.fetchall()), strict=True):
        row.pk = pk
        row._state.adding = False
    return rows


@dataclass
class _Totals:
    """A summary's running totals while a batch is posted."""

    on_hand: Decimal
    allocatable_on_hand: Decimal
    blocked: Decimal
    allocated: Decimal


def post_moves(*, moves: list[MoveSpec], reference_type: str, reference_id: str = "", reference: str = "",
               actor: Actor) -> list[StockMove]:
    """Post ``moves`` to the ledger and bring balances, summaries and costs along, all or nothing.

    Joins the caller's transaction (call it from a ``@command``) and locks steps 1 to 4 of the lock order.
    Refuses with ``InsufficientStock`` (409) a result below zero on a balance, or an allocatable on-hand
    below what is already allocated. Lots, statuses and locations are the caller's objects (validated here
    without queries). After the commit, the pairs whose allocatable on-hand rose are announced
    (``inventory.signals.allocatable_stock_raised``); never for a posting that rolled back.
    """
    if not moves:
        raise ValidationFailed(detail={"moves": ["Nothing to post."]})
    quantities = [_validate_spec(spec) for spec in moves]
    with connection.cursor() as cursor:
        legal_entity_of = _lock_warehouses(cursor, (spec.warehouse.pk for spec in moves))
        summary_keys = sorted({(spec.item.pk, spec.warehouse.pk) for spec in moves})
        summaries = {key: Summary(row[0], key[0], key[1], *row[1:]) for key, row in _ensure_and_lock(
            cursor, "inventory_itemwarehousesummary", ("item_id", "warehouse_id"), summary_keys,
            ("id", "on_hand", "allocatable_on_hand", "blocked", "allocated"),
            ("on_hand", "allocatable_on_hand", "blocked", "allocated"),
        ).items()}
        balance_key = [(s.item.pk, s.location.pk, s.lot.pk if s.lot else None, s.status.pk) for s in moves]
        balance_keys = sorted({(*key, spec.warehouse.pk) for key, spec in zip(balance_key, moves, strict=True)},
                              key=lambda k: (k[0], k[1], -1 if k[2] is None else k[2], k[3]))
        balances = {key[:4]: _Balance(*row) for key, row in _ensure_and_lock(
            cursor, "inventory_stockbalance", ("item_id", "location_id", "lot_id", "status_id", "warehouse_id"),
            balance_keys, ("id", "on_hand"), ("on_hand",),
        ).items()}
        # A move that neither enters a moving average nor reads it (a status kept out of the average, at a cost
        # it was given or carries) leaves its entity's cost row alone: it is neither locked nor written.
        cost_keys = sorted({(spec.item.pk, legal_entity_of[spec.warehouse.pk]) for spec in moves
                            if _reads_cost(spec)})
        costs = {key: _Cost(*row) for key, row in _ensure_and_lock(
            cursor, "inventory_itemcost", ("item_id", "legal_entity_id"), cost_keys,
            ("id", "quantity", "unit_cost"), ("quantity", "unit_cost"),
        ).items()}

        on_hand = {key: balance.on_hand for key, balance in balances.items()}
        totals = {key: _Totals(s.on_hand, s.allocatable_on_hand, s.blocked, s.allocated)
                  for key, s in summaries.items()}
        cost = {key: rules.CostState(c.quantity, c.unit_cost) for key, c in costs.items()}
        rows: list[StockMove] = []
        recorder, now = recorded_actor(actor), timezone.now()
        for spec, quantity, key in zip(moves, quantities, balance_key, strict=True):
            new_on_hand = on_hand[key] + quantity
            if new_on_hand < 0:
                raise InsufficientStock(
                    f"Only {on_hand[key]} of {spec.item.sku} at {spec.location.code} ({spec.status.code}).",
                    detail={"sku": spec.item.sku, "warehouse": spec.warehouse.code, "location": spec.location.code,
                            "lot": spec.lot.lot_number if spec.lot else None, "status": spec.status.code,
                            "available": str(on_hand[key]), "requested": str(-quantity)},
                )
            if new_on_hand > rules.MAX_QUANTITY:
                raise InvalidQuantity(detail={"quantity": [f"{spec.item.sku} at {spec.location.code} would exceed "
                                                           f"{rules.MAX_QUANTITY}."]})
            on_hand[key] = new_on_hand
            running = totals[(spec.item.pk, spec.warehouse.pk)]
            running.on_hand += quantity
            if spec.status.allocatable:
                running.allocatable_on_hand += quantity
            if not spec.status.counts_toward_available:
                running.blocked += quantity
            cost_key = (spec.item.pk, legal_entity_of[spec.warehouse.pk])
            state = cost.get(cost_key)
            unit_cost = state.unit_cost if state is not None else Decimal(0)
            given: Decimal | None = None
            if spec.carry is not None:
                index, rate = spec.carry
                if not 0 <= index < len(rows):
                    raise ValueError("a move carries the cost of an earlier move of its batch")
                given = (rows[index].unit_cost * rate).quantize(rules.UNIT_COST_QUANTUM)
            elif spec.unit_cost is not None and (quantity > 0 or not spec.status.valued):
                given = Decimal(spec.unit_cost).quantize(rules.UNIT_COST_QUANTUM)
            if given is not None:
                unit_cost = given
            if state is not None and spec.status.valued:
                cost[cost_key] = rules.cost_after(state, quantity, given if quantity > 0 else None)
            value = rules.move_value(quantity, unit_cost)
            if abs(value) > rules.MAX_QUANTITY:
                raise ValidationFailed(detail={"unit_cost": [f"The value of {quantity} x {unit_cost} is too large."]})
            rows.append(_ledger_row(spec, quantity, unit_cost, value, reference_type, reference_id, reference,
                                    recorder, now))
        for pair, running in totals.items():
            if running.allocated > running.allocatable_on_hand:
                spec = next(s for s in moves if (s.item.pk, s.warehouse.pk) == pair)
                before = summaries[pair]
                raise InsufficientStock(
                    f"{running.allocated} of {spec.item.sku} is allocated at {spec.warehouse.code}; the allocatable "
                    f"stock may not fall below it.",
                    detail={"sku": spec.item.sku, "warehouse": spec.warehouse.code, "allocated": str(running.allocated),
                            "available": str(max(before.free, Decimal(0)))},
                )

        created = _insert_moves(cursor, rows)
        _update_by_id(cursor, "inventory_stockbalance", ("on_hand",),
                      [(balances[key].id, value) for key, value in on_hand.items()])
        _update_by_id(cursor, "inventory_itemwarehousesummary", ("on_hand", "allocatable_on_hand", "blocked"),
                      [(summaries[key].id, t.on_hand, t.allocatable_on_hand, t.blocked) for key, t in totals.items()])
        _update_by_id(cursor, "inventory_itemcost", ("quantity", "unit_cost"),
                      [(costs[key].id, state.quantity, state.unit_cost) for key, state in cost.items()])
    announce_raised(sorted(pair for pair, t in totals.items()
                           if t.allocatable_on_hand > summaries[pair].allocatable_on_hand))
    return created


def announce_raised(pairs: list[Pair]) -> None:
    """After the commit (so listeners, the backorder allocation, see the stock; never for a rollback), announce
    the pairs whose allocatable on-hand rose."""
    if pairs:
        transaction.on_commit(partial(allocatable_stock_raised.send, sender=StockMove, pairs=pairs), robust=True)


@dataclass(frozen=True, slots=True)
class Revaluation:
    """``amount`` (the legal entity's currency) added to the cost of ``received`` base units of an item that entered
    the entity's moving average earlier: a freight bill arriving after its receipt."""

    item_id: int
    legal_entity_id: int
    amount: Decimal
    received: Decimal


@dataclass(frozen=True, slots=True)
class Revalued:
    """What a revaluation did to one item's cost in one entity: of ``amount``, ``revalued`` went onto the valued
    stock still on hand (``on_hand`` units, the average from ``unit_cost_before`` to ``unit_cost_after``); the rest,
    ``issued``, belongs to units already issued (the cost of goods sold's, for finance)."""

    item_id: int
    legal_entity_id: int
    amount: Decimal
    on_hand: Decimal
    revalued: Decimal
    issued: Decimal
    unit_cost_before: Decimal
    unit_cost_after: Decimal


def costs_revalue(revaluations: Sequence[Revaluation]) -> list[Revalued]:
    """Raise moving averages by amounts paid later for goods received earlier, all or nothing.

    Per item and entity, the share still on hand is ``min(received, valued on hand) / received`` of the amount
    (to the cent): it raises the average over what is on hand; the rest was issued and is returned as ``issued``.
    Takes only step 4 of the lock order (the item costs, by key), in two queries whatever the number of items; joins
    the caller's transaction. No ledger line: the units do not move, their cost does.
    """
    merged: dict[tuple[int, int], list[Decimal]] = {}
    for row in revaluations:
        if row.amount < 0 or row.received <= 0:
            raise ValidationFailed(detail={"amount": ["A revaluation adds a cost of 0 or more to goods received."]})
        totals = merged.setdefault((row.item_id, row.legal_entity_id), [Decimal(0), Decimal(0)])
        totals[0] += row.amount
        totals[1] += row.received
    if not merged:
        return []
    with connection.cursor() as cursor:
        costs = {key: _Cost(*row) for key, row in _ensure_and_lock(
            cursor, "inventory_itemcost", ("item_id", "legal_entity_id"), sorted(merged),
            ("id", "quantity", "unit_cost"), ("quantity", "unit_cost"),
        ).items()}
        done: list[Revalued] = []
        for key in sorted(merged):
            amount, received = merged[key]
            state = costs[key]
            on_hand = max(state.quantity, Decimal(0))
            revalued = (amount * min(received, on_hand) / received).quantize(Decimal("0.01")) if on_hand else Decimal(0)
            after = state.unit_cost
            if on_hand > 0 and revalued > 0:
                after = (state.unit_cost + revalued / on_hand).quantize(rules.UNIT_COST_QUANTUM)
            done.append(Revalued(key[0], key[1], amount, on_hand, revalued, amount - revalued, state.unit_cost, after))
        _update_by_id(cursor, "inventory_itemcost", ("quantity", "unit_cost"),
                      [(costs[(r.item_id, r.legal_entity_id)].id, costs[(r.item_id, r.legal_entity_id)].quantity,
                        r.unit_cost_after) for r in done])
    return done
