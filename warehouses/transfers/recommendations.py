"""Network transfer recommendations (issue 13, item 6): where a warehouse is short of what it must ship within
its lead time and another holds stock beyond its own cover, recommend a transfer between them.

``recommendations_refresh`` reads the whole network in a constant number of queries, whatever the number of SKUs
and warehouses (the stock summaries, backorders, recent demand, open transfers, lanes, the cross-region policy at
every warehouse, costs and weights, each one query), computes candidates with ``rules.recommend`` and writes only
the pairs touching the warehouses it was asked for: an open recommendation per SKU and pair is updated in place
or created, and an open one no longer true expires. Computing the whole network for a narrower refresh keeps
every scope's answer the same (a source's surplus is spent once across all its targets). Refreshes take one
advisory lock, so two never interleave; accepting and dismissing lock the recommendation's row, which a refresh
locks too before it writes.

Accepting makes a transfer (``services.transfer_create`` then ``transfer_submit``: above
``transfers.approval_threshold`` it waits for the approval engine), linked to the recommendation. Dismissing
needs a reason; the same SKU and pair is not recommended again for ``DISMISS_QUIET_DAYS``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Case, DecimalField, F, Q, Sum, Value, When
from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.transactions import command, joined_command, recorded_actor
from governance.exceptions import MissingExchangeRate
from governance.selectors import policy_values_at_warehouses
from governance.services.approvals import exchange_rate_on
from inventory.models import Item, ItemCost, ItemWarehouseSummary
from orders.models import OrderStatus, SalesOrderLine
from orders.rules import WarehouseCalendar
from warehouses.models import CarrierLane, Warehouse
from warehouses.transfers import rules, services
from warehouses.transfers.exceptions import RecommendationNotOpen
from warehouses.transfers.models import RecommendationStatus as Status
from warehouses.transfers.models import (
    Transfer,
    TransferLine,
    TransferRecommendation,
    TransferStatus,
    in_transit_of_line,
)

CROSS_REGION_POLICY = "transfers.cross_region_allowed"
DISMISS_QUIET_DAYS = 7
MAX_REASON = 500
# Order lines that neither wait nor count as demand.
NOT_DEMAND = (OrderStatus.DRAFT, OrderStatus.CANCELLED)
NOT_WAITING = (OrderStatus.DRAFT, OrderStatus.CANCELLED, OrderStatus.CLOSED)
NOT_DISPATCHED = (TransferStatus.DRAFT, TransferStatus.PENDING_APPROVAL, TransferStatus.APPROVED)
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('transfers.recommendations_refresh'))"
_Q: DecimalField[Any, Any] = DecimalField(max_digits=18, decimal_places=4)
Key = tuple[int, int, int]  # item, from warehouse, to warehouse


# --- reading the network -------------------------------------------------------------------------------------


def _stock(warehouse_ids: list[int]) -> dict[tuple[int, int], dict[str, Decimal]]:
    """Per (item, warehouse): allocatable on hand and allocated (one query)."""
    rows = (ItemWarehouseSummary.objects.filter(warehouse_id__in=warehouse_ids)
            .filter(Q(allocatable_on_hand__gt=0) | Q(allocated__gt=0))
            .values_list("item_id", "warehouse_id", "allocatable_on_hand", "allocated"))
    return {(item_id, warehouse_id): {"on_hand": on_hand, "allocated": allocated}
            for item_id, warehouse_id, on_hand, allocated in rows}


def _backordered(warehouse_ids: list[int]) -> dict[tuple[int, int], Decimal]:
    """Per (item, warehouse): quantity on order lines waiting for stock there (one query)."""
    rows = (SalesOrderLine.objects.filter(backordered_quantity__gt=0, warehouse_id__in=warehouse_ids)
            .exclude(status__in=NOT_WAITING).values("item_id", "warehouse_id")
            .annotate(quantity=Sum("backordered_quantity")).values_list("item_id", "warehouse_id", "quantity"))
    return {(item_id, warehouse_id): quantity for item_id, warehouse_id, quantity in rows}


def _demand(warehouse_ids: list[int], now: dt.datetime) -> dict[tuple[int, int], tuple[Decimal, Decimal]]:
    """Per (item, warehouse): quantity ordered there in the last ``RECENT_DAYS`` and the ``BASELINE_DAYS``
    before, by confirmation time (one query)."""
    recent_from = now - dt.timedelta(days=rules.RECENT_DAYS)
    baseline_from = recent_from - dt.timedelta(days=rules.BASELINE_DAYS)
    rows = (SalesOrderLine.objects.filter(warehouse_id__in=warehouse_ids, order__confirmed_at__gte=baseline_from,
                                          order__confirmed_at__lt=now)
            .exclude(status__in=NOT_DEMAND).values("item_id", "warehouse_id")
            .annotate(recent=Sum("quantity", filter=Q(order__confirmed_at__gte=recent_from)),
                      baseline=Sum("quantity", filter=Q(order__confirmed_at__lt=recent_from)))
            .values_list("item_id", "warehouse_id", "recent", "baseline"))
    return {(item_id, warehouse_id): (recent or Decimal(0), baseline or Decimal(0))
            for item_id, warehouse_id, recent, baseline in rows}


def _open_transfers() -> tuple[dict[tuple[int, int], Decimal], dict[tuple[int, int], Decimal]]:
    """Per (item, warehouse): what open transfers bring to it and have yet to take from it (one query). Until
    dispatch a line brings its whole quantity; after it, what is still in transit."""
    pending = Q(transfer__status__in=NOT_DISPATCHED)
    rows = (TransferLine.objects.filter(transfer__status__in=rules.OPEN_STATUSES)
            .values("item_id", "from_warehouse_id", "to_warehouse_id")
            .annotate(inbound=Sum(Case(When(pending, then=F("quantity")),
                                       default=in_transit_of_line(), output_field=_Q)),
                      outbound=Sum(Case(When(pending, then=F("quantity")), default=Value(Decimal(0)),
                                        output_field=_Q)))
            .values_list("item_id", "from_warehouse_id", "to_warehouse_id", "inbound", "outbound"))
    inbound: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    outbound: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for item_id, from_id, to_id, coming, going in rows:
        inbound[(item_id, to_id)] += max(coming or Decimal(0), Decimal(0))
        outbound[(item_id, from_id)] += going or Decimal(0)
    return inbound, outbound


def _lanes(warehouses: dict[int, Warehouse], on: dt.date) -> dict[tuple[int, int], rules.Lane]:
    """Per pair of warehouses the fastest active lane between their regions (ties: by carrier code), where the
    receiving warehouse's ``transfers.cross_region_allowed`` lets the pair cross regions (two queries, plus
    one per pair of currencies that freight is charged in and costs are kept in)."""
    fastest: dict[tuple[int, int], CarrierLane] = {}
    for lane in (CarrierLane.objects.filter(carrier__active=True).select_related("carrier")
                 .order_by("transit_days", "carrier__code")):
        fastest.setdefault((lane.origin_region_id, lane.destination_region_id), lane)
    policies = policy_values_at_warehouses([CROSS_REGION_POLICY], list(warehouses.values()))
    rates: dict[tuple[str, str], Decimal] = {}
    pairs: dict[tuple[int, int], rules.Lane] = {}
    for source in warehouses.values():
        for target in warehouses.values():
            if source.pk == target.pk:
                continue
            if source.region_id != target.region_id and not policies[target.pk][CROSS_REGION_POLICY]:
                continue
            found = fastest.get((source.region_id, target.region_id))
            if found is None:
                continue
            currency = source.legal_entity.currency
            pair = (found.freight_currency or currency, currency)
            if pair not in rates:
                try:
                    rates[pair] = exchange_rate_on(pair[0], pair[1], on)
                except MissingExchangeRate:
                    rates[pair] = Decimal(1)  # no rate: freight weighs at face value in the score
            pairs[(source.pk, target.pk)] = rules.Lane(
                transit_days=found.transit_days, carrier_id=found.carrier_id, per_unit=found.freight_per_unit,
                per_kg=found.freight_per_kg, currency=found.freight_currency, rate=rates[pair])
    return pairs


def _candidates(now: dt.datetime) -> tuple[dict[int, Warehouse], dict[Key, rules.Candidate]]:
    """Every recommendation the network calls for now, by (item, from, to)."""
    warehouses = {w.pk: w for w in Warehouse.objects.filter(active=True).select_related("region", "legal_entity")}
    ids = list(warehouses)
    stock = _stock(ids)
    backordered = _backordered(ids)
    demand = _demand(ids, now)
    inbound, outbound = _open_transfers()
    # A SKU is worth a look only where one site has free stock and another wants some.
    giving = {item_id for (item_id, _), row in stock.items() if row["on_hand"] > row["allocated"]}
    wanting = {item_id for item_id, _ in backordered} | {item_id for item_id, _ in demand}
    item_ids = giving & wanting
    if not item_ids:
        return warehouses, {}
    lanes = _lanes(warehouses, now.date())
    if not lanes:
        return warehouses, {}
    weights = dict(Item.objects.filter(pk__in=item_ids).values_list("pk", "weight_kg"))
    costs = {(item_id, entity_id): unit_cost for item_id, entity_id, unit_cost in
             ItemCost.objects.filter(item_id__in=item_ids).values_list("item_id", "legal_entity_id", "unit_cost")}
    found: dict[Key, rules.Candidate] = {}
    for item_id in sorted(item_ids):
        sites: dict[int, rules.SiteStock] = {}
        for warehouse_id, warehouse in warehouses.items():
            key = (item_id, warehouse_id)
            row = stock.get(key)
            recent, baseline = demand.get(key, (Decimal(0), Decimal(0)))
            sites[warehouse_id] = rules.SiteStock(
                warehouse_id=warehouse_id, code=warehouse.code,
                on_hand=row["on_hand"] if row else Decimal(0), allocated=row["allocated"] if row else Decimal(0),
                backordered=backordered.get(key, Decimal(0)), inbound=inbound.get(key, Decimal(0)),
                outbound=outbound.get(key, Decimal(0)), recent_demand=recent, baseline_demand=baseline)
        values = {warehouse_id: costs.get((item_id, warehouse.legal_entity_id), Decimal(0))
                  for warehouse_id, warehouse in warehouses.items()}
        for candidate in rules.recommend(sites=sites, lanes=lanes, unit_values=values, weight_kg=weights[item_id]):
            found[(item_id, candidate.from_warehouse_id, candidate.to_warehouse_id)] = candidate
    return warehouses, found


def _arrival(source: Warehouse, target: Warehouse, transit_days: int, now: dt.datetime) -> dt.date:
    ship = now.astimezone(ZoneInfo(source.timezone)).date()
    return rules.expected_arrival(ship_date=ship, transit_days=transit_days,
                                  receiving=WarehouseCalendar(timezone=target.timezone))


# --- commands --------------------------------------------------------------------------------------------------


# The fields a refresh rewrites on an open recommendation, with the array type each is sent as.
_REFRESHED = (("quantity", "numeric"), ("reason", "text"), ("score", "numeric"), ("carrier_id", "bigint"),
              ("transit_days", "integer"), ("expected_arrival", "date"), ("freight_cost", "numeric"),
              ("freight_currency", "text"), ("explanation", "text"), ("figures", "jsonb"),
              ("refreshed_at", "timestamptz"), ("updated_at", "timestamptz"))


def _update_open(rows: list[TransferRecommendation]) -> None:
    """Rewrite the refreshed fields of ``rows`` in one ``UPDATE ... FROM unnest``: ``bulk_update`` built a CASE
    per field and row, ten seconds for 3,000 recommendations of the 10,000-SKU bench."""
    if not rows:
        return
    arrays: list[list[Any]] = [[row.pk for row in rows]]
    for name, kind in _REFRESHED:
        values = [getattr(row, name) for row in rows]
        arrays.append([json.dumps(value, cls=DjangoJSONEncoder) for value in values] if kind == "jsonb" else values)
    casts = ", ".join(["%s::bigint[]"] + [f"%s::{'text' if kind == 'jsonb' else kind}[]" for _, kind in _REFRESHED])
    sets = ", ".join(f"{name} = v.{name}::jsonb" if kind == "jsonb" else f"{name} = v.{name}"
                     for name, kind in _REFRESHED)
    table = connection.ops.quote_name(TransferRecommendation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} t SET {sets} FROM unnest({casts}) AS v(id, {', '.join(n for n, _ in _REFRESHED)}) "  # nosec B608 # the table comes from the model's meta, the columns are this module's constants; values are bound
            "WHERE t.id = v.id",
            arrays,
        )


@command
def recommendations_refresh(*, actor: Actor, warehouses: Iterable[Warehouse] | None = None,
                            now: dt.datetime | None = None) -> dict[str, int]:
    """Recompute the network's transfer recommendations and write those touching ``warehouses`` (every one when
    None): an open recommendation still called for is updated in place, a new one is created (at most one open
    per SKU and pair: a partial unique index), and an open one no longer called for expires. A SKU and pair
    dismissed within ``DISMISS_QUIET_DAYS`` is not recommended again. Returns counts ``created``, ``updated``,
    ``expired`` and ``open`` (open ones touching ``warehouses`` afterwards). A constant number of queries."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL)
    wanted = None if warehouses is None else {w.pk for w in warehouses}

    def touches(from_id: int, to_id: int) -> bool:
        return wanted is None or from_id in wanted or to_id in wanted

    network, found = _candidates(now)
    found = {key: c for key, c in found.items() if touches(key[1], key[2])}
    quiet_since = now - dt.timedelta(days=DISMISS_QUIET_DAYS)
    quiet = set(TransferRecommendation.objects.filter(status=Status.DISMISSED, decided_at__gte=quiet_since)
                .values_list("item_id", "from_warehouse_id", "to_warehouse_id"))
    open_rows = TransferRecommendation.objects.select_for_update(of=("self",)).filter(status=Status.OPEN)
    if wanted is not None:
        open_rows = open_rows.filter(Q(from_warehouse_id__in=wanted) | Q(to_warehouse_id__in=wanted))
    existing = {(r.item_id, r.from_warehouse_id, r.to_warehouse_id): r for r in open_rows.order_by("pk")}
    created: list[TransferRecommendation] = []
    updated: list[TransferRecommendation] = []
    for key, candidate in found.items():
        if key in quiet and key not in existing:
            continue
        source, target = network[key[1]], network[key[2]]
        fields: dict[str, Any] = {
            "quantity": candidate.quantity, "reason": candidate.reason, "score": candidate.score,
            "carrier_id": candidate.lane.carrier_id, "transit_days": candidate.lane.transit_days,
            "expected_arrival": _arrival(source, target, candidate.lane.transit_days, now),
            "freight_cost": candidate.freight_cost,
            "freight_currency": candidate.lane.currency if candidate.freight_cost is not None else "",
            "explanation": candidate.explanation[:500], "figures": candidate.figures, "refreshed_at": now,
        }
        row = existing.get(key)
        if row is None:
            created.append(TransferRecommendation(item_id=key[0], from_warehouse_id=key[1], to_warehouse_id=key[2],
                                                  **fields))
        else:
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = now
            updated.append(row)
    TransferRecommendation.objects.bulk_create(created)
    _update_open(updated)
    stale = [row.pk for key, row in existing.items() if key not in found]
    expired = (TransferRecommendation.objects.filter(pk__in=stale, status=Status.OPEN)
               .update(status=Status.EXPIRED, expired_at=now, updated_at=now)) if stale else 0
    return {"created": len(created), "updated": len(updated), "expired": expired,
            "open": len(created) + len(updated)}


def _locked(recommendation: TransferRecommendation) -> TransferRecommendation:
    return (TransferRecommendation.objects.select_for_update(of=("self",))
            .select_related("item", "from_warehouse__legal_entity", "from_warehouse__region",
                            "to_warehouse__legal_entity", "to_warehouse__region").get(pk=recommendation.pk))


def _refuse_unless_open(recommendation: TransferRecommendation, verb: str) -> None:
    if recommendation.status != Status.OPEN:
        raise RecommendationNotOpen(f"Recommendation {recommendation.pk} is {recommendation.status}; only an open "
                                    f"one can be {verb}.",
                                    detail={"id": recommendation.pk, "status": recommendation.status})


@command
def recommendation_accept(*, recommendation: TransferRecommendation, actor: Actor,
                          submit: bool = True) -> Transfer:
    """Make the recommended transfer, linked to the recommendation, and (``submit``) submit it: at or below
    ``transfers.approval_threshold`` it is approved at once, above it waits for the approval engine. A
    recommendation that is not open is 409 ``recommendation_not_open``; whatever the transfer's request refuses
    (an inactive item or warehouse, no lane any more) is refused here too, and nothing changes."""
    locked = _locked(recommendation)
    _refuse_unless_open(locked, "accepted")
    with joined_command():
        transfer = services.transfer_create(
            from_warehouse=locked.from_warehouse, to_warehouse=locked.to_warehouse, actor=actor,
            lines=[services.TransferLineSpec(item=locked.item, quantity=locked.quantity)],
            note=f"Recommended: {locked.explanation}"[:services.MAX_NOTE])
        Transfer.objects.filter(pk=transfer.pk).update(recommendation=locked)
        if submit:
            services.transfer_submit(transfer=transfer, actor=actor)
    locked.status, locked.decided_at, locked.decided_by = Status.ACCEPTED, timezone.now(), recorded_actor(actor)
    locked.save(update_fields=["status", "decided_at", "decided_by", "updated_at"])
    return Transfer.objects.get(pk=transfer.pk)


@command
def recommendation_dismiss(*, recommendation: TransferRecommendation, actor: Actor,
                           reason: str) -> TransferRecommendation:
    """Dismiss an open recommendation, saying why (400 without a reason, or with more than ``MAX_REASON``
    characters); a recommendation that is not open is 409 ``recommendation_not_open``. The same SKU and pair is
    not recommended again for ``DISMISS_QUIET_DAYS``."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationFailed("Say why the recommendation is dismissed.",
                               detail={"reason": ["Say why the recommendation is dismissed."]})
    if len(text) > MAX_REASON:
        raise ValidationFailed(detail={"reason": [f"At most {MAX_REASON} characters."]})
    locked = _locked(recommendation)
    _refuse_unless_open(locked, "dismissed")
    locked.status, locked.dismiss_reason = Status.DISMISSED, text
    locked.decided_at, locked.decided_by = timezone.now(), recorded_actor(actor)
    locked.save(update_fields=["status", "dismiss_reason", "decided_at", "decided_by", "updated_at"])
    return locked
