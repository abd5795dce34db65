"""Sales orders: taking an order, confirming it (promising and allocating by policy) and cancelling it.

Confirming reads the policies at the customer's home warehouse (``fulfillment.allocation_sequence``,
``fulfillment.cross_region_allowed``, ``fulfillment.lot_selection``, ``fulfillment.partial_shipments_allowed``)
and, for each warehouse it may ship from, that warehouse's ``fulfillment.shipping_cutoff``. Allocation holds
stock by raising ``ItemWarehouseSummary.allocated`` (a check constraint keeps it within the allocatable
on-hand) beside an ``Allocation`` row per warehouse and lot, in one transaction.

Stock is locked, reserved and released through ``inventory.stock``, in its lock order (the stock rows, then
the order and its lines).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from erp import generations, prepared
from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.lifecycle import IF_MOVED, document_move, document_move_from, next_document_id
from erp.transactions import StaleRead, command, recorded_actor
from inventory import rules as stock_rules
from inventory import stock, supply
from inventory.exceptions import InvalidQuantity, UnknownUnit
from inventory.models import Item, ItemUom, UnitOfMeasure
from orders import rules
from orders.exceptions import DuplicateExternalRef, InvalidOrderTransition, ShipToNotOfCustomer
from orders.models import Allocation, AllocationStatus, Customer, OrderStatus, SalesOrder, SalesOrderLine, ShipTo
from orders.selectors import PLAN_GENERATION, Plan, allocation_plan, default_ship_to, plan_for
from warehouses.models import Warehouse

MAX_LINES = 500
Pair = stock.Pair
EXTERNAL_REF_UNIQUE = "salesorder_external_ref_unique_per_customer"


@dataclass(frozen=True)
class OrderLineSpec:
    """One line as entered: ``quantity`` of ``item`` in unit ``uom`` (any of the item's units; blank: its base
    unit, as everywhere a line's unit may be left out)."""

    item: Item
    quantity: Decimal
    uom: str = ""
    requested_date: dt.date | None = None


def _order_move(order: SalesOrder, to_status: str, **fields: Any) -> SalesOrder:
    """Move a (locked) order along ``rules.ORDER_TRANSITIONS``; any other move is refused (409)."""
    return document_move(order, to_status, may_move=rules.order_may_move, refused=InvalidOrderTransition, **fields)


def with_default_units(lines: list[OrderLineSpec]) -> list[OrderLineSpec]:
    """``lines`` with every blank unit replaced by the item's base unit (one query, and only when one is blank)."""
    blank = {line.item.base_uom_id for line in lines if not line.uom}
    if not blank:
        return lines
    codes = dict(UnitOfMeasure.objects.filter(pk__in=blank).values_list("pk", "code"))
    return [line if line.uom else replace(line, uom=codes[line.item.base_uom_id]) for line in lines]


@command
def sales_order_create(*, customer: Customer, lines: list[OrderLineSpec], actor: Actor,
                       ship_to: ShipTo | None = None, external_ref: str = "",
                       requested_date: dt.date | None = None) -> SalesOrder:
    """Take an order as a draft: every quantity converted to the item's base unit exactly.

    ``ship_to`` left out is the customer's default address; a line's ``uom`` left blank is the item's base
    unit. Refuses an inactive customer or item, a ship-to of another customer, no ship-to when the customer
    has no default one, an unknown unit, a quantity that is not above zero, more than ``MAX_LINES`` lines,
    and an ``external_ref`` the customer already used (409 ``duplicate_external_ref`` naming the existing
    order; concurrent duplicates meet the unique index).
    """
    if not customer.active:
        raise ValidationFailed(detail={"customer": [f"{customer.code} is not active."]})
    if ship_to is None:
        ship_to = default_ship_to(customer)
    if ship_to is None:
        raise ValidationFailed(detail={"ship_to": [
            f"{customer.code} has no default ship-to address; name one of its addresses in ship_to."]})
    if ship_to.customer_id != customer.pk:
        raise ShipToNotOfCustomer(detail={"ship_to": [f"{ship_to.code} is not an address of {customer.code}."]})
    if not lines:
        raise ValidationFailed(detail={"lines": ["An order needs at least one line."]})
    if len(lines) > MAX_LINES:
        raise ValidationFailed(detail={"lines": [f"At most {MAX_LINES} lines per order."]})
    lines = with_default_units(lines)
    if len(external_ref) > 64:
        raise ValidationFailed(detail={"external_ref": ["At most 64 characters."]})
    factors = {(item_id, code): factor for item_id, code, factor in ItemUom.objects.filter(
        item_id__in={line.item.pk for line in lines}, uom__code__in={line.uom for line in lines},
    ).values_list("item_id", "uom__code", "factor")}
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.item.active:
            raise ValidationFailed(detail={"lines": [f"Line {number}: {line.item.sku} is not active."]})
        factor = factors.get((line.item.pk, line.uom))
        if factor is None:
            raise UnknownUnit(detail={"lines": [f"Line {number}: {line.item.sku} has no unit {line.uom}."]})
        base = stock_rules.to_base(line.quantity, factor)
        if base <= 0:
            raise InvalidQuantity(detail={"lines": [f"Line {number}: the quantity must be more than 0."]})
        rows.append((line, base))
    if external_ref:
        existing = SalesOrder.objects.filter(customer=customer, external_ref=external_ref).values_list(
            "number", flat=True).first()
        if existing:
            raise DuplicateExternalRef(detail={"external_ref": external_ref, "order": existing})
    pk = next_document_id(SalesOrder)
    order = SalesOrder(pk=pk, number=f"SO-{pk:06d}", customer=customer, ship_to=ship_to, region_id=customer.region_id,
                       external_ref=external_ref, requested_date=requested_date,
                       created_by=recorded_actor(actor))
    if not external_ref:  # the unique index covers only non-blank references: nothing to trip over
        order.save(force_insert=True)
    else:
        try:
            with transaction.atomic():  # a savepoint: a concurrent twin trips the unique index, we answer 409
                order.save(force_insert=True)
        except IntegrityError as exc:
            if EXTERNAL_REF_UNIQUE not in str(exc):
                raise
            raise DuplicateExternalRef(detail={"external_ref": external_ref}) from exc
    SalesOrderLine.objects.bulk_create([
        SalesOrderLine(order=order, region_id=order.region_id, line_no=number, item=line.item, quantity=base,
                       uom_quantity=Decimal(line.quantity), uom_code=line.uom, requested_date=line.requested_date)
        for number, (line, base) in enumerate(rows, start=1)
    ])
    return order


# --- confirming: promise and allocate -----------------------------------------------------------------------


class _Line(Protocol):
    """What allocation reads of an order line: a ``SalesOrderLine``, or a confirm's ``_Draft``."""

    @property
    def pk(self) -> int: ...
    @property
    def item_id(self) -> int: ...
    @property
    def requested_date(self) -> dt.date | None: ...


@dataclass(frozen=True, slots=True)
class _NewAllocation:
    line_id: int
    warehouse_id: int
    item_id: int
    lot_id: int | None
    quantity: Decimal
    ship_date: dt.date
    promised_date: dt.date


@dataclass
class _Stock:
    """The locked summaries of a plan's candidates for some items, and what each can still give."""

    held: stock.StockLock
    lots: dict[Pair, list[stock_rules.LotStock]]  # free lots, net of open allocations (lot-tracked items)
    free: dict[Pair, Decimal]
    lot_tracked: frozenset[int]
    skus: dict[int, str]


def _net_of_allocations(found: dict[Pair, list[stock_rules.LotStock]]) -> dict[Pair, list[stock_rules.LotStock]]:
    """``found`` less what open allocations already hold of each lot (one query)."""
    if not found:
        return {}
    held = {(item_id, warehouse_id, lot_id): quantity for item_id, warehouse_id, lot_id, quantity in (
        Allocation.objects.filter(status=AllocationStatus.OPEN, lot__isnull=False,
                                  item_id__in={pair[0] for pair in found}, warehouse_id__in={pair[1] for pair in found})
        .values("item_id", "warehouse_id", "lot_id").annotate(quantity=Sum("quantity")).order_by()
        .values_list("item_id", "warehouse_id", "lot_id", "quantity"))}
    return {pair: [replace(lot, quantity=lot.quantity - held.get((*pair, lot.lot_id), Decimal(0))) for lot in lots]
            for pair, lots in found.items()}


def _lock_stock(plan: Plan, item_ids: list[int]) -> _Stock:
    """Lock the candidates' summaries of the items (``inventory.stock``'s lock order) and read their free lots;
    the items' facts come with the summaries (an item with none at any candidate is read on its own)."""
    held = stock.lock([(item_id, pk) for item_id in item_ids for pk in plan.candidate_ids])
    facts = dict(held.items)
    unseen = set(item_ids) - set(facts)
    if unseen:
        facts.update(stock.item_facts(unseen))
    lot_tracked = frozenset(pk for pk, fact in facts.items() if fact.lot_tracked)
    lot_items = sorted(lot_tracked.intersection(item_ids))
    lots = _net_of_allocations(stock.lot_stock(lot_items, plan.candidate_ids)) if lot_items else {}
    free: dict[Pair, Decimal] = {}
    for pair, summary in held.summaries.items():
        free[pair] = summary.free
        if pair[0] in lot_tracked:
            usable = stock_rules.usable_lots(lots.get(pair, []), rule=plan.lot_rule,
                                             ship_date=plan.sites[pair[1]].ship_date)
            free[pair] = min(free[pair], sum((lot.quantity for lot in usable), Decimal(0)))
    return _Stock(held, lots, free, lot_tracked, {pk: fact.sku for pk, fact in facts.items()})


@dataclass
class _Taken:
    allocations: list[_NewAllocation]
    deltas: dict[Pair, Decimal]  # (item, warehouse) -> quantity added to ``allocated``
    short: dict[int, Decimal]  # item -> quantity left unallocated
    got: dict[int, tuple[Decimal, int | None, list[rules.Promise]]]  # line -> (quantity, first warehouse, promises)


def _take_lots(stock_: _Stock, pair: Pair, quantity: Decimal, plan: Plan) -> list[tuple[int | None, Decimal]]:
    """The lots ``quantity`` of a pair comes from (``rules.choose_lots``), taken off what the pair's lots still
    hold; ``[(None, quantity)]`` for an item without lots."""
    if pair[0] not in stock_.lot_tracked:
        return [(None, quantity)]
    lots = stock_.lots[pair]
    takes = stock_rules.choose_lots(quantity, lots, rule=plan.lot_rule, ship_date=plan.sites[pair[1]].ship_date)
    if sum((part for _, part in takes), Decimal(0)) != quantity:
        raise ValueError("The lots hold less than the summary said was free.")
    taken = dict(takes)
    stock_.lots[pair] = [replace(lot, quantity=lot.quantity - taken.get(lot.lot_id, Decimal(0))) for lot in lots]
    return list(takes)


def _take(requested_date: dt.date | None, plan: Plan, stock_: _Stock, lines: Sequence[_Line],
          wanted: dict[int, Decimal], now: dt.datetime) -> _Taken:
    """Allocate ``wanted[line.pk]`` of each line from the plan's candidates (pure bookkeeping on ``stock_``);
    ``requested_date`` is the order's, for the lines that name none."""
    taken = _Taken([], defaultdict(lambda: Decimal(0)), defaultdict(lambda: Decimal(0)), {})
    for line in lines:
        quantity = wanted.get(line.pk, Decimal(0))
        if quantity <= 0:
            continue
        candidates = [rules.Candidate(pk, max(stock_.free.get((line.item_id, pk), Decimal(0)), Decimal(0)))
                      for pk in plan.candidate_ids]
        result = rules.allocate_line(quantity, candidates, split_allowed=plan.split_allowed)
        requested = line.requested_date or requested_date
        promises = []
        for warehouse_id, part_quantity in result.takes:
            pair = (line.item_id, warehouse_id)
            stock_.free[pair] -= part_quantity
            taken.deltas[pair] += part_quantity
            promise = plan.sites[warehouse_id].promise(now=now, requested_date=requested)
            promises.append(promise)
            for lot_id, part in _take_lots(stock_, pair, part_quantity, plan):
                taken.allocations.append(_NewAllocation(line.pk, warehouse_id, line.item_id, lot_id, part,
                                                        promise.ship_date, promise.delivery_date))
        got = sum((q for _, q in result.takes), Decimal(0))
        taken.got[line.pk] = (got, result.takes[0][0] if result.takes else None, promises)
        if result.backordered > 0:
            taken.short[line.item_id] += result.backordered
    return taken


def _home_promise(requested_date: dt.date | None, plan: Plan, line: _Line, now: dt.datetime) -> rules.Promise | None:
    """The promise the home warehouse would make had it the stock: the due date of a backordered line."""
    site = plan.sites.get(plan.home.pk)
    if site is None or site.transit_days is None:
        return None
    return site.promise(now=now, requested_date=line.requested_date or requested_date)


def _inbound_promises(order: SalesOrder, plan: Plan, lines: Sequence[Any], now: dt.datetime,
                      ) -> dict[int, rules.Promise]:
    """For lines left backordered at the home warehouse, the promise stock on its way there allows
    (``inventory.supply``: a transfer in transit or a purchase order, by its arrival): the first arrival by which
    the supply covers what other open orders already wait for there and this line's backorder, first come first
    served (``supply.covered_first_come``, which ``repromise`` shares); lines it does not cover are absent. Two
    queries (plus a provider's own), and only when something is backordered."""
    short = [line for line in lines if line.backordered_quantity > 0]
    site = plan.sites.get(plan.home.pk)
    if not short or site is None or site.transit_days is None:
        return {}
    home_id = plan.home.pk
    item_ids = sorted({line.item_id for line in short})
    arriving = supply.inbound(item_ids, [home_id])
    if not arriving:
        return {}
    ahead = {(item_id, home_id): total for item_id, total in SalesOrderLine.objects.filter(
        warehouse_id=home_id, item_id__in=item_ids, backordered_quantity__gt=0,
        status__in=rules.BACKORDER_WAITING_STATUSES).exclude(order_id=order.pk)
        .values("item_id").annotate(total=Sum("backordered_quantity")).order_by().values_list("item_id", "total")}
    covered = supply.covered_first_come(
        [supply.Need(line.pk, line.item_id, home_id, line.backordered_quantity) for line in short], arriving, ahead)
    return {line.pk: site.promise(now=now, requested_date=line.requested_date or order.requested_date,
                                  available_from=covered[line.pk])
            for line in short if line.pk in covered}


def _raise_shortages(number: str, customer_code: str, home: Warehouse, short: dict[int, Decimal],
                     skus: dict[int, str], actor: Actor) -> None:
    """One ``shortage`` exception per SKU at the customer's home warehouse (raised again, never twinned)."""
    from governance.services.exceptions import exception_raise

    for item_id, quantity in sorted(short.items()):
        exception_raise(
            type="shortage", business_key=f"shortage:{home.code}:{skus[item_id]}",
            title=f"Not enough {skus[item_id]} to allocate in the network for {home.code}'s customers",
            warehouse=home, reference=number,
            detail={"sku": skus[item_id], "order": number, "backordered": str(quantity), "customer": customer_code},
            actor=recorded_actor(actor),
        )


def _allocations_insert(rows: list[_NewAllocation], *, only_if: str = "TRUE") -> tuple[str, list[Any]]:
    """One ``INSERT ... SELECT FROM unnest`` of open allocations, made when ``only_if`` holds."""
    return (
        "INSERT INTO orders_allocation (line_id, warehouse_id, item_id, lot_id, quantity, status, ship_date,"
        " promised_date, created_at, updated_at) "
        "SELECT v.line_id, v.warehouse_id, v.item_id, v.lot_id, v.quantity, 'open', v.ship_date, "
        "v.promised_date, now(), now() "
        "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[], %s::date[], %s::date[])"
        f" AS v(line_id, warehouse_id, item_id, lot_id, quantity, ship_date, promised_date) WHERE {only_if}",  # nosec B608 # only_if is this module's or erp.lifecycle's constant; values are bound
        [[a.line_id for a in rows], [a.warehouse_id for a in rows], [a.item_id for a in rows],
         [a.lot_id for a in rows], [a.quantity for a in rows], [a.ship_date for a in rows],
         [a.promised_date for a in rows]],
    )


def _insert_allocations(rows: list[_NewAllocation]) -> None:
    """Insert open allocations in one query (none without rows)."""
    if rows:
        with connection.cursor() as cursor:
            cursor.execute(*_allocations_insert(rows))


@dataclass
class _Draft:
    """A line of the draft being confirmed, and what confirming decides for it."""

    pk: int
    item_id: int
    quantity: Decimal
    requested_date: dt.date | None
    allocated_quantity: Decimal = Decimal(0)
    backordered_quantity: Decimal = Decimal(0)
    warehouse_id: int | None = None
    ship_date: dt.date | None = None
    promised_date: dt.date | None = None
    status: str = OrderStatus.DRAFT


@dataclass(frozen=True)
class _Head:
    """What confirming reads of the order, its customer and its ship-to, in one query."""

    order: SalesOrder  # its id, number, status, customer, ship-to, region and requested date; the rest deferred
    customer_code: str
    home_warehouse_id: int
    split_accepted: bool
    ship_to_region_id: int
    plan_generation: int | None
    lines: list[_Draft]


# In the model's field order, as ``Model.from_db`` wants them (the other fields load when first read).
_ORDER_FIELDS = tuple(f.attname for f in SalesOrder._meta.concrete_fields if f.attname in {
    "id", "number", "status", "customer_id", "ship_to_id", "region_id", "requested_date"})


_LINE_ARRAYS = ", ".join(
    f"(SELECT array_agg(l.{column} ORDER BY l.line_no) FROM orders_salesorderline l WHERE l.order_id = o.id)"  # nosec B608 # the columns are the literal tuple below
    for column in ("id", "item_id", "quantity", "requested_date"))


def _read_draft(pk: int) -> _Head:
    """The order, its customer, ship-to, lines and the plan generation, in one query."""
    with connection.cursor() as cursor:
        prepared.execute(
            cursor,
            f"SELECT {', '.join('o.' + name for name in _ORDER_FIELDS)}, c.code, c.home_warehouse_id, "
            f"c.allow_partial_shipment, s.region_id, {generations.current_sql(PLAN_GENERATION)}, {_LINE_ARRAYS} "
            "FROM orders_salesorder o JOIN orders_customer c ON c.id = o.customer_id "
            "JOIN orders_shipto s ON s.id = o.ship_to_id WHERE o.id = %s",  # nosec B608 # column names are this module's constants
            [pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise SalesOrder.DoesNotExist(f"sales order {pk} does not exist")
    width = len(_ORDER_FIELDS)
    order = SalesOrder.from_db(None, list(_ORDER_FIELDS), list(row[:width]))
    code, home_id, split_accepted, region_id, generation, *arrays = row[width:]
    lines = [_Draft(*line) for line in zip(*(array or [] for array in arrays), strict=True)]
    return _Head(order, code, home_id, split_accepted, region_id, generation, lines)


def _confirmed_lines_update(lines: list[_Draft]) -> tuple[str, list[Any]]:
    """What confirming decided for each line, as one ``UPDATE ... FROM unnest`` that goes along with the order's
    move (``bulk_update`` builds a CASE per field and line: most of a confirm's time went there)."""
    return (
        "UPDATE orders_salesorderline t SET allocated_quantity = v.allocated, backordered_quantity = v.backordered,"
        " warehouse_id = v.warehouse_id, ship_date = v.ship_date, promised_date = v.promised_date,"
        " status = v.status, updated_at = now() "
        "FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::bigint[], %s::date[], %s::date[], %s::text[])"
        " AS v(id, allocated, backordered, warehouse_id, ship_date, promised_date, status)"
        f" WHERE t.id = v.id AND {IF_MOVED}",  # nosec B608 # IF_MOVED is erp.lifecycle's constant; values are bound
        [[line.pk for line in lines], [line.allocated_quantity for line in lines],
         [line.backordered_quantity for line in lines], [line.warehouse_id for line in lines],
         [line.ship_date for line in lines], [line.promised_date for line in lines],
         [line.status for line in lines]],
    )


@command
def sales_order_confirm(*, order: SalesOrder, actor: Actor, now: dt.datetime | None = None) -> SalesOrder:
    """Confirm a draft: promise and allocate every line by policy; backorder what cannot be had.

    Candidates come from ``rules.candidate_order`` (home warehouse, its region, other regions when
    allowed). A line is split over warehouses only when the customer accepts partial shipments and the
    policy allows them; otherwise it is taken whole from one warehouse or backordered whole. A lot-tracked
    item is allocated lot by lot by ``fulfillment.lot_selection`` (``inventory.rules.choose_lots``), never from
    a lot expired by its ship date. Each allocation's promise is ``rules.promise`` at its warehouse (cutoff,
    calendar, fastest carrier lane to the ship-to's region); the line keeps the latest. A line with nothing
    allocated is promised what its home warehouse would have promised (its due date for fill rate: a
    backorder counts against it). Backordered quantities raise one ``shortage`` exception per SKU at the
    customer's home warehouse. The order becomes ``allocated``, ``partially_allocated`` or ``backordered``;
    confirming twice is 409 ``invalid_transition``.

    Locks in ``inventory.stock``'s order: the stock first, then the order, whose move from ``draft`` is the
    ``UPDATE`` that locks it (``document_move_from``): two confirms of one draft, or a confirm and a cancel,
    meet there and the second is refused. Reading the lines before the locks is safe: they change only while
    the order is a draft. Queries: constant in the number of lines (plus one exception raise per short SKU).
    """
    now = now or timezone.now()
    head = _read_draft(order.pk)
    draft = head.order
    if draft.status != OrderStatus.DRAFT:
        raise InvalidOrderTransition(f"{draft.number} is {draft.status}; only a draft can be confirmed.",
                                     detail={"number": draft.number, "status": draft.status})
    lines = head.lines
    plan = allocation_plan(home_warehouse_id=head.home_warehouse_id, ship_to_region_id=head.ship_to_region_id,
                           split_accepted=head.split_accepted, now=now, generation=head.plan_generation)
    stock_ = _lock_stock(plan, sorted({line.item_id for line in lines}))
    taken = _take(draft.requested_date, plan, stock_, lines, {line.pk: line.quantity for line in lines}, now)
    for line in lines:
        got, first, promises = taken.got[line.pk]
        line.allocated_quantity = got
        line.backordered_quantity = line.quantity - got
        line.warehouse_id = first or plan.home.pk
    inbound = _inbound_promises(draft, plan, lines, now) if taken.short else {}
    for line in lines:
        got, first, promises = taken.got[line.pk]
        if line.pk in inbound:  # the backorder is promised against stock on its way to the home warehouse
            promises = [*promises, inbound[line.pk]]
        line.ship_date = max((p.ship_date for p in promises), default=None)
        due = _home_promise(draft.requested_date, plan, line, now) if not promises else None
        line.promised_date = max((p.delivery_date for p in promises), default=due.delivery_date if due else None)
        line.status = rules.line_status(quantity=line.quantity, allocated=line.allocated_quantity,
                                        backordered=line.backordered_quantity)
    along = [_confirmed_lines_update(lines)]
    if taken.allocations:
        along.append(_allocations_insert(taken.allocations, only_if=IF_MOVED))
    document_move_from(draft, OrderStatus.DRAFT, rules.order_status([line.status for line in lines]),
                       may_move=rules.order_may_move, refused=InvalidOrderTransition, confirmed_at=now, along=along)
    stock.reserve(stock_.held, taken.deltas)
    _raise_shortages(draft.number, head.customer_code, plan.home, taken.short, stock_.skus, actor)
    return draft


def order_lines_allocate(*, order: SalesOrder, wanted: dict[int, Decimal], actor: Actor,
                         now: dt.datetime | None = None, exclude_warehouse_ids: frozenset[int] = frozenset(),
                         raise_shortage: bool = True) -> dict[int, Decimal]:
    """Allocate more of a confirmed order's open lines: ``wanted`` maps line id to a quantity now backordered
    (a backorder when stock arrives, or what a short pick left). Joins the caller's ``@command``.

    Locks the candidates' summaries, then the order (``inventory.stock``'s lock order); a caller holding
    document locks must have locked these summaries first (``stock.lock_everywhere``). What is found moves
    from ``backordered_quantity`` to ``allocated_quantity``; the line keeps its promised date (a backorder's
    due date) and its ship date becomes the latest of its allocations'. What is still short raises the
    ``shortage`` exception when ``raise_shortage``. Returns line id -> quantity allocated now.
    """
    now = now or timezone.now()
    order = SalesOrder.objects.select_related("customer", "ship_to").get(pk=order.pk)
    plan = plan_for(order.customer, order.ship_to, now, exclude_warehouse_ids)
    lines = list(SalesOrderLine.objects.filter(order=order, pk__in=list(wanted)).order_by("line_no"))
    stock_ = _lock_stock(plan, sorted({line.item_id for line in lines}))
    locked = SalesOrder.objects.select_for_update(of=("self",)).get(pk=order.pk)
    lines = list(SalesOrderLine.objects.select_for_update(of=("self",)).filter(order=locked, pk__in=list(wanted))
                 .order_by("line_no"))
    # Re-read under the order lock: never allocate more than is still backordered.
    wanted = {line.pk: min(wanted[line.pk], line.backordered_quantity) for line in lines
              if line.status not in (OrderStatus.CANCELLED, OrderStatus.DRAFT)}
    taken = _take(locked.requested_date, plan, stock_, lines, wanted, now)
    changed = []
    for line in lines:
        if line.pk not in taken.got:
            continue
        got, first, promises = taken.got[line.pk]
        if got <= 0:
            continue
        if line.allocated_quantity == 0 and first is not None:
            line.warehouse_id = first
        line.allocated_quantity += got
        line.backordered_quantity -= got
        line.ship_date = max([p.ship_date for p in promises] + ([line.ship_date] if line.ship_date else []))
        if line.promised_date is None:
            line.promised_date = max(p.delivery_date for p in promises)
        changed.append(line)
    _insert_allocations(taken.allocations)
    stock.reserve(stock_.held, taken.deltas)
    if changed:
        SalesOrderLine.objects.bulk_update(changed, ["allocated_quantity", "backordered_quantity", "warehouse",
                                                     "ship_date", "promised_date", "updated_at"])
        order_refresh(locked)
    if raise_shortage:
        _raise_shortages(locked.number, order.customer.code, plan.home, taken.short, stock_.skus, actor)
    return {pk: got for pk, (got, _, _) in taken.got.items()}


def order_refresh(order: SalesOrder, lines: list[SalesOrderLine] | None = None) -> SalesOrder:
    """Recompute the status of a (locked) order's lines from their quantities and work (on a pick list,
    packed in a shipment), then move the order to what its lines say (``rules.order_status``). Lines that
    are cancelled, delivered or closed keep their status. Three queries and the writes."""
    from orders.models import ShipmentLine, ShipmentStatus

    lines = lines if lines is not None else list(SalesOrderLine.objects.filter(order=order).order_by("line_no"))
    ids = [line.pk for line in lines]
    picking = set(Allocation.objects.filter(line_id__in=ids, status=AllocationStatus.OPEN, pick_list__isnull=False)
                  .values_list("line_id", flat=True))
    packed = set(ShipmentLine.objects.filter(order_line_id__in=ids, shipment__status=ShipmentStatus.PACKED)
                 .values_list("order_line_id", flat=True))
    changed = []
    for line in lines:
        if line.status in (OrderStatus.CANCELLED, OrderStatus.DELIVERED, OrderStatus.CLOSED, OrderStatus.DRAFT):
            continue
        status = rules.line_status(quantity=line.quantity, allocated=line.allocated_quantity,
                                   backordered=line.backordered_quantity, shipped=line.shipped_quantity,
                                   picking=line.pk in picking, packed=line.pk in packed)
        if status != line.status:
            line.status = status
            changed.append(line)
    if changed:
        SalesOrderLine.objects.bulk_update(changed, ["status", "updated_at"])
    target = rules.order_status([line.status for line in lines])
    if target != order.status:
        _order_move(order, target)
    return order


@command
def sales_order_cancel(*, order: SalesOrder, actor: Actor, reason: str = "") -> SalesOrder:
    """Cancel what of an order has not shipped: every open allocation is released (the summaries' ``allocated``
    falls back), its open pick lines are cancelled, and every line not shipped is cancelled. A line shipped in
    part keeps what shipped and is closed (it never counts as shipped complete). A shipped, delivered or closed
    order, or one with goods packed in a shipment, is 409 ``invalid_transition`` (cancel the shipment first)."""
    from orders.models import PickLineStatus, PickListLine, Shipment, ShipmentStatus

    if len(reason) > 500:
        raise ValidationFailed(detail={"reason": ["At most 500 characters."]})
    pairs = sorted(set(Allocation.objects.filter(line__order=order, status=AllocationStatus.OPEN)
                       .values_list("item_id", "warehouse_id")))
    held = stock.lock(pairs)
    locked = SalesOrder.objects.select_for_update(of=("self",)).get(pk=order.pk)
    if not rules.order_may_move(locked.status, OrderStatus.CANCELLED):
        raise InvalidOrderTransition(f"{locked.number} is {locked.status}; it cannot be cancelled.",
                                     detail={"number": locked.number, "status": locked.status})
    packed = list(Shipment.objects.filter(order=locked, status=ShipmentStatus.PACKED).values_list("number", flat=True))
    if packed:
        raise InvalidOrderTransition(f"{locked.number} has goods packed in {', '.join(packed)}; cancel the shipment "
                                     f"first.", detail={"number": locked.number, "shipments": packed})
    open_allocations = list(Allocation.objects.select_for_update(of=("self",))
                            .filter(line__order=locked, status=AllocationStatus.OPEN).order_by("id"))
    released: dict[tuple[int, int], Decimal] = defaultdict(lambda: Decimal(0))
    for allocation in open_allocations:
        released[(allocation.item_id, allocation.warehouse_id)] += allocation.quantity
    missing = set(released) - set(held.summaries)
    if missing:  # the order was confirmed between our read and our locks: run again with the right locks
        raise StaleRead(f"{locked.number} was allocated while being cancelled")
    now = timezone.now()
    stock.release(held, released)
    Allocation.objects.filter(pk__in=[a.pk for a in open_allocations]).update(
        status=AllocationStatus.RELEASED, updated_at=now)
    PickListLine.objects.filter(allocation_id__in=[a.pk for a in open_allocations],
                                status=PickLineStatus.OPEN).update(status=PickLineStatus.CANCELLED, updated_at=now)
    lines = list(SalesOrderLine.objects.select_for_update(of=("self",)).filter(order=locked).order_by("line_no"))
    for line in lines:
        line.allocated_quantity = Decimal(0)
        line.backordered_quantity = Decimal(0)
        if line.shipped_quantity > 0 and line.status not in (OrderStatus.DELIVERED, OrderStatus.CLOSED):
            line.status = OrderStatus.CLOSED  # shipped in part, the rest cancelled: never "shipped complete"
        elif line.status not in (OrderStatus.DELIVERED, OrderStatus.CLOSED):
            line.status = OrderStatus.CANCELLED
    SalesOrderLine.objects.bulk_update(lines, ["allocated_quantity", "backordered_quantity", "status", "updated_at"])
    target = rules.order_status([line.status for line in lines])
    return _order_move(locked, target, cancelled_at=now if target == OrderStatus.CANCELLED else None,
                       cancel_reason=reason)
