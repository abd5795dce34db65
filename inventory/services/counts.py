"""Cycle counts: the daily count plan, blind counting, variances, tolerance, approval and recount.

A count is a document of location-item(-lot) lines at one warehouse. Counting a line records what was
found and, unseen by the counter, what the system held at that moment (every status at that location,
item and lot: the counter counts what is physically there). Submitting computes each line's variance,
values it at the moving-average cost and judges it by the ``inventory.count_variance_tolerance`` policy
of the warehouse: lines within tolerance post at once (one ledger document, reason ``COUNT``, to
``available``), lines beyond it wait for the approval engine. The approver approves (they post),
rejects (nothing more posts) or asks for a recount (a new blind count of those lines).

Posting a variance posts the *difference* the counter found, not the counted figure: stock that moved
between counting and approval stays correctly booked.

Locks: a decision's approval request (when one is involved), the count, its lines, then the stock rows
(``stock.post_moves``): the approval exception to ``inventory.stock``'s lock order, explained there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.lifecycle import document_move, next_document_id
from erp.transactions import command, recorded_actor
from inventory import rules
from inventory.exceptions import (
    CountIncomplete,
    DuplicateCountLine,
    InvalidCountTransition,
    InvalidQuantity,
    LocationMismatch,
    LotNotAllowed,
    LotRequired,
    UnknownLot,
    UnknownUnit,
)
from inventory.models import (
    CycleCount,
    CycleCountLine,
    CycleCountLineState,
    CycleCountOrigin,
    CycleCountStatus,
    Item,
    ItemAbcClass,
    ItemCost,
    ItemUom,
    Lot,
    ReasonCode,
    StockBalance,
    UnitOfMeasure,
)
from inventory.services import TOLERANCE_POLICY, stock_status
from inventory.stock import MoveSpec, post_moves
from warehouses.models import Location, Warehouse

CYCLE_COUNT_DOCUMENT_TYPE = "cycle_count"
FREQUENCY_POLICY = "inventory.cycle_count_frequency"
COUNT_REASON = "COUNT"
MAX_LINES = 2000
# Moves that take stock out of the network or to a customer count as "issued" for ABC; moves that only
# shift stock inside a warehouse or correct it do not.
INTERNAL_REFERENCE_TYPES = ("status_change", "cycle_count", "adjustment", "opening", "relocation")
# Line states of a count that has been submitted: these are the pairs it counted.
COUNTED_STATES = (CycleCountLineState.POSTED, CycleCountLineState.PENDING_APPROVAL, CycleCountLineState.REJECTED,
                  CycleCountLineState.RECOUNT)


@dataclass(frozen=True)
class CountPair:
    """A location-item(-lot) to count. A lot-tracked item without a lot means each lot on hand there."""

    location: Location
    item: Item
    lot_number: str | None = None


@dataclass(frozen=True)
class CountEntry:
    """What a counter found: ``quantity`` (0 or more) of ``item`` in ``uom`` at ``location``."""

    location: Location
    item: Item
    quantity: Decimal
    uom: UnitOfMeasure | str
    lot_number: str | None = None


# --- the document ----------------------------------------------------------------------------------------


def _count_new(*, warehouse: Warehouse, origin: str, actor: Actor, planned_for: dt.date | None = None,
               recount_of: CycleCount | None = None) -> CycleCount:
    pk = next_document_id(CycleCount)
    count = CycleCount(pk=pk, number=f"CC-{pk:06d}", warehouse=warehouse, origin=origin, planned_for=planned_for,
                       recount_of=recount_of, created_by=recorded_actor(actor))
    count.save(force_insert=True)
    return count


def _count_move(count: CycleCount, to_status: str, **fields: Any) -> CycleCount:
    """Move a (locked) count along ``rules.CYCLE_COUNT_TRANSITIONS``; any other move is refused (409)."""
    return document_move(count, to_status, may_move=rules.cycle_count_may_move, refused=InvalidCountTransition,
                         **fields)


def _locked_count(count_id: int) -> CycleCount:
    return (CycleCount.objects.select_for_update(of=("self",))
            .select_related("warehouse__legal_entity", "warehouse__region").get(pk=count_id))


def _require_open(count: CycleCount, doing: str) -> None:
    if count.status != CycleCountStatus.OPEN:
        raise InvalidCountTransition(f"{count.number} is {count.status}; it cannot be {doing}.",
                                     detail={"number": count.number, "status": count.status})


def _abc_of(warehouse: Warehouse, item_ids: set[int]) -> dict[int, str]:
    return dict(ItemAbcClass.objects.filter(warehouse=warehouse, item_id__in=item_ids)
                .values_list("item_id", "abc_class"))


def _lines_add(count: CycleCount, keys: list[tuple[Location, Item, Lot | None]], start: int = 1,
               ) -> list[CycleCountLine]:
    """Add ``keys`` as lines numbered from ``start``, in walking order (location code, SKU, lot)."""
    ordered = sorted(keys, key=lambda k: (k[0].code, k[1].sku, k[2].lot_number if k[2] else ""))
    abc = _abc_of(count.warehouse, {item.pk for _, item, _ in ordered})
    lines = [CycleCountLine(count=count, warehouse_id=count.warehouse_id, line_no=start + n, location=location,
                            item=item, lot=lot, abc_class=abc.get(item.pk, ""))
             for n, (location, item, lot) in enumerate(ordered)]
    return CycleCountLine.objects.bulk_create(lines)


def _lots_on_hand(warehouse: Warehouse, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], list[Lot]]:
    """The lots with stock at each (location id, item id) pair."""
    found: dict[tuple[int, int], list[Lot]] = {}
    if not pairs:
        return found
    rows = (StockBalance.objects.filter(warehouse=warehouse, on_hand__gt=0, lot__isnull=False,
                                        location_id__in={p[0] for p in pairs}, item_id__in={p[1] for p in pairs})
            .select_related("lot").order_by("lot__expiry_date", "lot__lot_number"))
    for row in rows:
        key = (row.location_id, row.item_id)
        if key in pairs and row.lot is not None and row.lot not in found.setdefault(key, []):
            found[key].append(row.lot)
    return found


def _check_line_count(n: int) -> None:
    if n == 0:
        raise ValidationFailed(detail={"lines": ["A count needs at least one line."]})
    if n > MAX_LINES:
        raise ValidationFailed(detail={"lines": [f"At most {MAX_LINES} lines per count."]})


@command
def cycle_count_create(*, warehouse: Warehouse, pairs: list[CountPair], actor: Actor,
                       ) -> CycleCount:
    """Open a count of ``pairs`` at ``warehouse`` by hand (a spot check, a location audit).

    A lot-tracked item named without a lot becomes one line per lot on hand at that location (none on
    hand: 400 ``lot_required``); a non-lot item may not name one. The same location, item and lot twice
    is a 400. Lines carry the item's current ABC class at the warehouse.
    """
    _check_line_count(len(pairs))
    for pair in pairs:
        if pair.location.warehouse_id != warehouse.pk:
            raise LocationMismatch(detail={"location": [f"{pair.location.code} is not in {warehouse.code}."]})
        if pair.lot_number and not pair.item.lot_tracked:
            raise LotNotAllowed(detail={"lot": [f"{pair.item.sku} is not lot-tracked."]})
    named = {(p.item.pk, p.lot_number) for p in pairs if p.lot_number}
    lots = {(lot.item_id, lot.lot_number): lot for lot in Lot.objects.filter(
        item_id__in={k[0] for k in named}, lot_number__in={k[1] for k in named})}
    expand = {(p.location.pk, p.item.pk) for p in pairs if p.item.lot_tracked and not p.lot_number}
    on_hand_lots = _lots_on_hand(warehouse, expand)
    keys: list[tuple[Location, Item, Lot | None]] = []
    for pair in pairs:
        if not pair.item.lot_tracked:
            keys.append((pair.location, pair.item, None))
        elif pair.lot_number:
            lot = lots.get((pair.item.pk, pair.lot_number))
            if lot is None:
                raise UnknownLot(detail={"lot": [f"{pair.item.sku} has no lot {pair.lot_number}."]})
            keys.append((pair.location, pair.item, lot))
        else:
            found = on_hand_lots.get((pair.location.pk, pair.item.pk), [])
            if not found:
                raise LotRequired(detail={"lot": [f"{pair.item.sku} is lot-tracked and has no lot on hand at "
                                                  f"{pair.location.code}: name the lot."]})
            keys.extend((pair.location, pair.item, lot) for lot in found)
    seen: set[tuple[int, int, int | None]] = set()
    for location, item, lot in keys:
        key = (location.pk, item.pk, lot.pk if lot else None)
        if key in seen:
            raise DuplicateCountLine(detail={"lines": [f"{item.sku} at {location.code}"
                                                       f"{' lot ' + lot.lot_number if lot else ''} is listed twice."]})
        seen.add(key)
    _check_line_count(len(keys))
    count = _count_new(warehouse=warehouse, origin=CycleCountOrigin.MANUAL, actor=actor)
    _lines_add(count, keys)
    return count


@command
def cycle_count_cancel(*, count: CycleCount, actor: Actor) -> CycleCount:
    """Cancel an open count: nothing was posted, nothing will be."""
    locked = _locked_count(count.pk)
    _count_move(locked, CycleCountStatus.CANCELLED, closed_at=timezone.now())
    CycleCountLine.objects.filter(count=locked).update(state=CycleCountLineState.CANCELLED, updated_at=timezone.now())
    return locked


# --- counting ----------------------------------------------------------------------------------------------


def _factors(entries: list[CountEntry]) -> dict[tuple[int, str], Decimal]:
    codes = {e.uom.code if isinstance(e.uom, UnitOfMeasure) else str(e.uom) for e in entries}
    rows = ItemUom.objects.filter(item_id__in={e.item.pk for e in entries}, uom__code__in=codes)
    return {(item_id, code): factor for item_id, code, factor in rows.values_list("item_id", "uom__code", "factor")}


def _expected(warehouse: Warehouse, keys: set[tuple[int, int, int | None]]) -> dict[tuple[int, int, int | None],
                                                                                     Decimal]:
    """The on-hand in every status of each (location, item, lot) key now: one query."""
    rows = (StockBalance.objects.filter(warehouse=warehouse, location_id__in={k[0] for k in keys},
                                        item_id__in={k[1] for k in keys})
            .values_list("location_id", "item_id", "lot_id", "on_hand"))
    totals: dict[tuple[int, int, int | None], Decimal] = {}
    for location_id, item_id, lot_id, on_hand in rows:
        key = (location_id, item_id, lot_id)
        if key in keys:
            totals[key] = totals.get(key, Decimal(0)) + on_hand
    return totals


def _record(count: CycleCount, entries: list[CountEntry], actor: Actor) -> list[CycleCountLine]:
    """Record ``entries`` on the (locked, open) ``count``: a constant number of queries for any number.

    An entry for a key already on the count replaces what was counted there (a counter correcting
    themselves before submitting); any other key is added as a new line (stock found where none was
    expected). A lot-tracked item needs its lot; a new lot number is created when something was found.
    """
    _check_line_count(len(entries))
    warehouse = count.warehouse
    factors = _factors(entries)
    named = {(e.item.pk, e.lot_number) for e in entries if e.lot_number}
    lots = {(lot.item_id, lot.lot_number): lot for lot in Lot.objects.filter(
        item_id__in={k[0] for k in named}, lot_number__in={k[1] for k in named})} if named else {}
    today = timezone.now().astimezone(ZoneInfo(warehouse.timezone)).date()
    resolved: list[tuple[CountEntry, Decimal, Lot | None]] = []
    new_lots: list[Lot] = []
    for entry in entries:
        code = entry.uom.code if isinstance(entry.uom, UnitOfMeasure) else str(entry.uom)
        if entry.location.warehouse_id != warehouse.pk:
            raise LocationMismatch(detail={"location": [f"{entry.location.code} is not in {warehouse.code}."]})
        factor = factors.get((entry.item.pk, code))
        if factor is None:
            raise UnknownUnit(detail={"uom": [f"{entry.item.sku} has no unit {code}."]})
        quantity = rules.to_base(entry.quantity, factor)
        if quantity < 0:
            raise InvalidQuantity(detail={"quantity": ["A counted quantity cannot be negative."]})
        lot = None
        if entry.item.lot_tracked:
            if not entry.lot_number:
                raise LotRequired(detail={"lot": [f"{entry.item.sku} is lot-tracked: scan or type the lot."]})
            lot = lots.get((entry.item.pk, entry.lot_number))
            if lot is None:
                if quantity == 0:
                    raise UnknownLot(detail={"lot": [f"{entry.item.sku} has no lot {entry.lot_number}."]})
                expiry = today + dt.timedelta(days=entry.item.shelf_life_days) if entry.item.shelf_life_days else None
                lot = Lot(item=entry.item, lot_number=entry.lot_number, received_on=today, expiry_date=expiry)
                lots[(entry.item.pk, entry.lot_number)] = lot
                new_lots.append(lot)
        elif entry.lot_number:
            raise LotNotAllowed(detail={"lot": [f"{entry.item.sku} is not lot-tracked."]})
        resolved.append((entry, quantity, lot))
    if new_lots:
        Lot.objects.bulk_create(new_lots, ignore_conflicts=True)
        saved = {(lot.item_id, lot.lot_number): lot for lot in Lot.objects.filter(
            item_id__in={lot.item_id for lot in new_lots}, lot_number__in={lot.lot_number for lot in new_lots})}
        resolved = [(e, q, saved[(lot.item_id, lot.lot_number)] if lot is not None else None)
                    for e, q, lot in resolved]
    keys = [(e.location.pk, e.item.pk, lot.pk if lot else None) for e, _, lot in resolved]
    if len(set(keys)) != len(keys):
        raise DuplicateCountLine(detail={"lines": ["Each location, item and lot may be counted once per request."]})
    expected = _expected(warehouse, set(keys))
    existing = {(line.location_id, line.item_id, line.lot_id): line
                for line in CycleCountLine.objects.select_for_update(of=("self",)).filter(count=count)}
    next_no = max((line.line_no for line in existing.values()), default=0) + 1
    now = timezone.now()
    counted_by = recorded_actor(actor)
    to_update, to_create = [], []
    abc = _abc_of(warehouse, {e.item.pk for e, _, _ in resolved})
    for (entry, quantity, lot), key in zip(resolved, keys, strict=True):
        line = existing.get(key)
        if line is None:
            line = CycleCountLine(count=count, warehouse_id=warehouse.pk, line_no=next_no, location=entry.location,
                                  item=entry.item, lot=lot, abc_class=abc.get(entry.item.pk, ""))
            next_no += 1
            to_create.append(line)
        else:
            to_update.append(line)
        line.state = CycleCountLineState.COUNTED
        line.counted_quantity = quantity
        line.uom_quantity = Decimal(entry.quantity)
        line.uom_code = entry.uom.code if isinstance(entry.uom, UnitOfMeasure) else str(entry.uom)
        line.expected_quantity = expected.get(key, Decimal(0))
        line.counted_by, line.counted_at = counted_by, now
    CycleCountLine.objects.bulk_create(to_create)
    CycleCountLine.objects.bulk_update(to_update, ["state", "counted_quantity", "uom_quantity", "uom_code",
                                                   "expected_quantity", "counted_by", "counted_at", "updated_at"])
    return [*to_update, *to_create]


@command
def cycle_count_record(*, count: CycleCount, entries: list[CountEntry], actor: Actor,
                       ) -> list[CycleCountLine]:
    """Record counted quantities on an open count (the handheld's Enter); see ``_record``."""
    locked = _locked_count(count.pk)
    _require_open(locked, "counted")
    return _record(locked, entries, actor)


# --- submitting, approving, recounting -------------------------------------------------------------------


def _post_lines(count: CycleCount, lines: list[CycleCountLine], actor: Actor) -> None:
    """Post the variance of each line (non-zero ones) as one ledger document to ``available``."""
    moving = [(line, line.variance) for line in lines if line.variance]
    if not moving:
        return
    available = stock_status("available")
    reason = ReasonCode.objects.get(code=COUNT_REASON)
    specs = [MoveSpec(item=line.item, warehouse=count.warehouse, location=line.location, status=available,
                      quantity=variance, lot=line.lot, reason=reason) for line, variance in moving]
    moves = post_moves(moves=specs, reference_type="cycle_count", reference_id=str(count.pk),
                       reference=count.number, actor=actor)
    for (line, _), move in zip(moving, moves, strict=True):
        line.move = move


@command
def cycle_count_submit(*, count: CycleCount, actor: Actor,
                       entries: list[CountEntry] | None = None) -> CycleCount:
    """Submit an open count (recording ``entries`` first, when given): every line must be counted.

    Uncounted lines: 409 ``count_incomplete`` listing them, nothing changes. Each line's variance is
    valued at the current moving-average cost and judged by ``inventory.count_variance_tolerance``
    (``rules.adjustment_within_tolerance`` against the expected quantity). Lines within tolerance post
    now; with any line beyond it the count waits as ``pending_approval`` with one approval request for
    those lines (amount: the sum of their absolute values), else it ends ``posted``. The request follows the
    engine's ``cycle_count`` rules by amount and region (the default rule: an approver of the region; a region
    rule may give smaller variances to a warehouse supervisor). No active rule covering it: 409
    ``no_approval_rule``, nothing written.
    """
    from governance.selectors import policy_value
    from governance.services.approvals import approval_request_open

    locked = _locked_count(count.pk)
    _require_open(locked, "submitted")
    if entries:
        _record(locked, entries, actor)
    lines = list(CycleCountLine.objects.select_for_update(of=("self",)).filter(count=locked)
                 .select_related("item", "location", "lot").order_by("line_no"))
    missing = [line for line in lines if line.state == CycleCountLineState.PENDING]
    if missing:
        raise CountIncomplete(
            f"{len(missing)} of {len(lines)} lines of {locked.number} are not counted yet.",
            detail={"lines": [{"line_no": line.line_no, "location": line.location.code, "sku": line.item.sku,
                               "lot": line.lot.lot_number if line.lot else None} for line in missing[:100]]},
        )
    if not lines:
        raise CountIncomplete(f"{locked.number} has no lines.", detail={"lines": []})
    warehouse = locked.warehouse
    costs = dict(ItemCost.objects.filter(legal_entity_id=warehouse.legal_entity_id,
                                         item_id__in={line.item_id for line in lines})
                 .values_list("item_id", "unit_cost"))
    tolerance = policy_value(TOLERANCE_POLICY, warehouse=warehouse).value
    quantity_pct, value_limit = Decimal(str(tolerance["quantity_pct"])), Decimal(str(tolerance["value"]))
    for line in lines:
        counted, expected = line.counted_quantity, line.expected_quantity
        if counted is None or expected is None:  # a line is counted (both set) before its count is submitted
            raise ValueError(f"line {line.pk} of {locked.number} is not counted")
        variance = line.variance = counted - expected
        line.unit_cost = costs.get(line.item_id, Decimal(0))
        line.variance_value = rules.move_value(variance, line.unit_cost)
        line.within_tolerance = rules.adjustment_within_tolerance(
            quantity=variance, value=line.variance_value, on_hand=expected,
            quantity_pct=quantity_pct, value_limit=value_limit)
        line.state = CycleCountLineState.POSTED if line.within_tolerance else CycleCountLineState.PENDING_APPROVAL
    within = [line for line in lines if line.within_tolerance]
    beyond = [line for line in lines if not line.within_tolerance]
    _post_lines(locked, within, actor)
    CycleCountLine.objects.bulk_update(lines, ["variance", "unit_cost", "variance_value", "within_tolerance",
                                               "state", "move", "updated_at"])
    now = timezone.now()
    submitted_by = recorded_actor(actor)
    if not beyond:
        return _count_move(locked, CycleCountStatus.POSTED, submitted_by=submitted_by, submitted_at=now,
                           closed_at=now)
    if submitted_by is None:
        # The approval engine needs a requester (and keeps them from approving their own variances).
        raise ValidationFailed(detail={"actor": ["A count with variances beyond tolerance is submitted by a person."]})
    _count_move(locked, CycleCountStatus.PENDING_APPROVAL, submitted_by=submitted_by, submitted_at=now)
    amount = sum((abs(line.variance_value or Decimal(0)) for line in beyond), Decimal(0))
    legal_entity = warehouse.legal_entity
    skus = ", ".join(sorted({line.item.sku for line in beyond})[:3]) + (" ..." if len(beyond) > 3 else "")
    locked.approval_request = approval_request_open(
        document_type=CYCLE_COUNT_DOCUMENT_TYPE, document_id=locked.pk,
        title=f"{locked.number}: {len(beyond)} count variance(s) beyond tolerance at {warehouse.code} ({skus})",
        actor=actor, amount=amount, currency=legal_entity.currency, legal_entity=legal_entity,
        region=warehouse.region, warehouse=warehouse, steps=None,
    )
    locked.save(update_fields=["approval_request", "updated_at"])
    return locked


def _lines_in(count: CycleCount, state: str) -> list[CycleCountLine]:
    return list(CycleCountLine.objects.select_for_update(of=("self",)).filter(count=count, state=state)
                .select_related("item", "location", "lot").order_by("line_no"))


def _on_count_approved(document_id: int, actor: Actor) -> None:
    """Post the lines beyond tolerance, inside the deciding transaction.

    ``stock.post_moves`` checks the stock again now: a negative variance that no longer fits (the stock
    moved on since) is a 409 that undoes the whole decision, so the request stays pending.
    """
    count = _locked_count(document_id)
    lines = _lines_in(count, CycleCountLineState.PENDING_APPROVAL)
    _post_lines(count, lines, actor)
    for line in lines:
        line.state = CycleCountLineState.POSTED
    CycleCountLine.objects.bulk_update(lines, ["state", "move", "updated_at"])
    _count_move(count, CycleCountStatus.POSTED, closed_at=timezone.now())


def _on_count_rejected(document_id: int, actor: Actor) -> None:
    count = _locked_count(document_id)
    CycleCountLine.objects.filter(count=count, state=CycleCountLineState.PENDING_APPROVAL).update(
        state=CycleCountLineState.REJECTED, updated_at=timezone.now())
    _count_move(count, CycleCountStatus.REJECTED, closed_at=timezone.now())


@command
def cycle_count_recount(*, count: CycleCount, actor: Actor, comment: str = "") -> CycleCount:
    """Instead of approving, send the lines beyond tolerance back to be counted again; returns the recount.

    Only someone who could decide the count's pending approval step may ask (else 403
    ``not_an_approver``); the approval request is cancelled, the count ends ``recounted`` and a new
    blind count (``origin=recount``) of those lines is opened. The lines within tolerance stay posted.
    """
    from governance.models import ApprovalRequest, ApprovalStatus
    from governance.services.approvals import approval_can_decide, approval_request_cancel, current_step
    from inventory.exceptions import InvalidCountTransition as Refused

    if not isinstance(comment, str) or len(comment) > 2000:
        raise ValidationFailed(detail={"comment": ["At most 2000 characters."]})
    current = CycleCount.objects.filter(pk=count.pk).values_list("status", "approval_request_id").get()
    if current[0] != CycleCountStatus.PENDING_APPROVAL or current[1] is None:
        raise Refused(f"{count.number} is {current[0]}; only a count waiting for approval can be recounted.",
                      detail={"number": count.number, "status": current[0]})
    request = ApprovalRequest.objects.select_for_update(of=("self",)).get(pk=current[1])
    step = current_step(request) if request.status == ApprovalStatus.PENDING else None
    if step is None:
        raise Refused(f"The approval of {count.number} is {request.status}.",
                      detail={"number": count.number, "approval_status": request.status})
    if not approval_can_decide(step=step, user=actor):
        from governance.exceptions import NotAnApprover

        raise NotAnApprover("Only an approver of this count's variances may ask for a recount.",
                            detail={"step": step.pk})
    approval_request_cancel(request=request, actor=actor, reason=comment or f"Recount requested by {actor}")
    locked = _locked_count(count.pk)
    lines = _lines_in(locked, CycleCountLineState.PENDING_APPROVAL)
    for line in lines:
        line.state = CycleCountLineState.RECOUNT
    CycleCountLine.objects.bulk_update(lines, ["state", "updated_at"])
    _count_move(locked, CycleCountStatus.RECOUNTED, closed_at=timezone.now())
    recount = _count_new(warehouse=locked.warehouse, origin=CycleCountOrigin.RECOUNT, actor=actor, recount_of=locked)
    _lines_add(recount, [(line.location, line.item, line.lot) for line in lines])
    return recount


def count_url(count_id: int) -> str:
    from django.urls import reverse

    return reverse("inventory:cycle-count-detail", args=[count_id])


def register_approvable_types() -> None:
    from governance.services.approvals import Approvable, register_approvable

    register_approvable(Approvable(
        document_type=CYCLE_COUNT_DOCUMENT_TYPE, label="Cycle count",
        on_approved=_on_count_approved, on_rejected=_on_count_rejected, url=count_url,
    ))


# --- the count plan (Celery beat) ------------------------------------------------------------------------


def _classify(warehouse: Warehouse, on: dt.date) -> dict[int, str]:
    """Recompute the ABC class of every item with stock or issues at ``warehouse``; returns them.

    Basis: the value issued over the 365 days before ``on`` (moves out that are not internal, see
    ``INTERNAL_REFERENCE_TYPES``); a warehouse that issued nothing in that time (a new site, the demo)
    is ranked by on-hand value instead. Three queries and one upsert.
    """
    since = dt.datetime.combine(on - dt.timedelta(days=365), dt.time.min, tzinfo=ZoneInfo(warehouse.timezone))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT item_id, -sum(value) FROM inventory_stockmove WHERE warehouse_id = %s AND quantity < 0 "
            "AND created_at >= %s AND NOT (reference_type = ANY(%s)) GROUP BY item_id",
            [warehouse.pk, since, list(INTERNAL_REFERENCE_TYPES)],
        )
        issued = dict(cursor.fetchall())
        cursor.execute(
            "SELECT s.item_id, s.on_hand * coalesce(c.unit_cost, 0) FROM inventory_itemwarehousesummary s "
            "LEFT JOIN inventory_itemcost c ON c.item_id = s.item_id AND c.legal_entity_id = %s "
            "WHERE s.warehouse_id = %s AND s.on_hand > 0",
            [warehouse.legal_entity_id, warehouse.pk],
        )
        on_hand = dict(cursor.fetchall())
        use_issued = sum(issued.values(), Decimal(0)) > 0
        basis = {item_id: (issued.get(item_id, Decimal(0)) if use_issued else on_hand.get(item_id, Decimal(0)))
                 for item_id in {*issued, *on_hand}}
        classes = rules.abc_classes(basis)
        if classes:
            ids = sorted(classes)
            cursor.execute(
                "INSERT INTO inventory_itemabcclass (item_id, warehouse_id, abc_class, basis_value, classified_on, "
                "updated_at) SELECT k.item_id, %s, k.abc_class, k.basis_value, %s, now() "
                "FROM unnest(%s::bigint[], %s::text[], %s::numeric[]) AS k(item_id, abc_class, basis_value) "
                "ON CONFLICT (item_id, warehouse_id) DO UPDATE SET abc_class = EXCLUDED.abc_class, "
                "basis_value = EXCLUDED.basis_value, classified_on = EXCLUDED.classified_on, updated_at = now()",
                [warehouse.pk, on, ids, [classes[i] for i in ids],
                 [rules.move_value(basis[i], Decimal(1)) for i in ids]],
            )
    return classes


def _plan_candidates(warehouse: Warehouse) -> list[rules.PlanPair]:
    """Every location-item pair with stock at ``warehouse``, when it was last counted, and whether a count
    still open or waiting holds it (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH pairs AS (SELECT location_id, item_id FROM inventory_stockbalance "
            "  WHERE warehouse_id = %(w)s AND on_hand > 0 GROUP BY location_id, item_id), "
            "last AS (SELECT location_id, item_id, max(counted_at) AS counted_at FROM inventory_cyclecountline "
            "  WHERE warehouse_id = %(w)s AND state = ANY(%(counted)s) GROUP BY location_id, item_id), "
            "busy AS (SELECT DISTINCT l.location_id, l.item_id FROM inventory_cyclecountline l "
            "  JOIN inventory_cyclecount c ON c.id = l.count_id "
            "  WHERE c.warehouse_id = %(w)s AND c.status = ANY(%(busy)s)) "
            "SELECT p.location_id, p.item_id, loc.code, i.sku, last.counted_at, busy.item_id IS NOT NULL "
            "FROM pairs p JOIN warehouses_location loc ON loc.id = p.location_id "
            "JOIN inventory_item i ON i.id = p.item_id "
            "LEFT JOIN last ON last.location_id = p.location_id AND last.item_id = p.item_id "
            "LEFT JOIN busy ON busy.location_id = p.location_id AND busy.item_id = p.item_id",
            {"w": warehouse.pk, "counted": [str(s) for s in COUNTED_STATES],
             "busy": [CycleCountStatus.OPEN.value, CycleCountStatus.PENDING_APPROVAL.value]},
        )
        zone = ZoneInfo(warehouse.timezone)
        return [rules.PlanPair(location_id=row[0], item_id=row[1], sort_key=(row[2], row[3]),
                               last_counted=row[4].astimezone(zone).date() if row[4] else None, busy=row[5])
                for row in cursor.fetchall()]


@command
def cycle_count_plan(*, warehouse: Warehouse, on: dt.date, actor: Actor = None,
                     ) -> CycleCount | None:
    """Make the planned count of ``warehouse`` for its local date ``on``; safe to run again (same count).

    Classifies the items (``_classify``), reads the days between counts per class from the
    ``inventory.cycle_count_frequency`` policy at the warehouse and picks each class's daily share of
    its location-item pairs, the longest uncounted first (``rules.plan_pairs``). Returns ``None`` when
    nothing is due.
    """
    from governance.selectors import policy_value

    with connection.cursor() as cursor:
        # Two plan runs of one warehouse (a beat tick and a manual run) take turns; the second finds the first's.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('inventory.cycle_count_plan'), %s)", [warehouse.pk])
    existing = CycleCount.objects.filter(warehouse=warehouse, origin=CycleCountOrigin.PLAN, planned_for=on).first()
    if existing is not None:
        return existing
    classes = _classify(warehouse, on)
    frequency = {key: int(Decimal(str(days))) for key, days in
                 policy_value(FREQUENCY_POLICY, warehouse=warehouse).value.items()}
    chosen = rules.plan_pairs(_plan_candidates(warehouse), classes=classes, frequency_days=frequency, on=on)
    if not chosen:
        return None
    pairs = {(pair.location_id, pair.item_id) for pair in chosen}
    locations = Location.objects.in_bulk({p[0] for p in pairs})
    items = Item.objects.in_bulk({p[1] for p in pairs})
    lots = _lots_on_hand(warehouse, {p for p in pairs if items[p[1]].lot_tracked})
    keys: list[tuple[Location, Item, Lot | None]] = []
    for location_id, item_id in pairs:
        item = items[item_id]
        if item.lot_tracked:
            keys.extend((locations[location_id], item, lot) for lot in lots.get((location_id, item_id), []))
        else:
            keys.append((locations[location_id], item, None))
    if not keys:
        return None
    count = _count_new(warehouse=warehouse, origin=CycleCountOrigin.PLAN, actor=actor, planned_for=on)
    _lines_add(count, keys)
    return count


def cycle_counts_plan_all(*, actor: Actor = None) -> int:
    """Plan today's count of every active warehouse (each on its own local date); returns how many exist."""
    made = 0
    for warehouse in Warehouse.objects.filter(active=True).select_related("legal_entity", "region").order_by("pk"):
        on = timezone.now().astimezone(ZoneInfo(warehouse.timezone)).date()
        if cycle_count_plan(warehouse=warehouse, on=on, actor=actor) is not None:
            made += 1
    return made

