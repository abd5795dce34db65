"""Put-away: where received stock goes at a warehouse (issue 14, point 5).

A warehouse's rules name, per SKU or per item category, the storage locations its received stock goes to, the
lowest ``priority`` first (ties by id), each location holding at most ``max_quantity`` base units of the SKU
(any amount when empty). ``putaway_proposals`` is what a receipt calls to place its lines: the SKU's rules
first, then its category's, each location taking what is left of its maximum after what is already there of
that SKU (every status) and what earlier lines of the same receipt were put there; a line splits over several
locations when one is not enough, and what no rule takes goes to the warehouse's receiving location (the first
active ``receiving`` location by path: where transfers and returns land stock too). It reads, never writes, in
a constant number of queries whatever the number of lines.

``putaway_rule_save`` is the one command that writes a rule (create or update).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum

from erp.actors import Actor
from erp.exceptions import Conflict, ValidationFailed
from erp.transactions import command
from inventory.models import Item, StockBalance
from procurement.models import PutawayRule
from warehouses.models import Location, LocationKind, Warehouse

# Locations that hold stock put away: not a receiving or shipping dock, not quarantine, not transit.
PUTAWAY_KINDS = (LocationKind.STORAGE, LocationKind.PICK)
# Where what no rule places goes.
FALLBACK_KIND = LocationKind.RECEIVING
MAX_PRIORITY = 32767  # a PositiveSmallIntegerField
MAX_QUANTITY = Decimal("99999999999999.9999")  # QUANTITY: 18 digits, 4 after the point

K = TypeVar("K", bound=Hashable)


class DuplicatePutawayRule(Conflict):
    code = "duplicate_putaway_rule"
    default_message = "The warehouse already has a put-away rule for this SKU or category at this location."


class NoReceivingLocation(ValidationFailed):
    code = "no_receiving_location"
    default_message = "The warehouse has no active receiving location for what no put-away rule places."


# --- proposals ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PutawayPart:
    """``quantity`` base units of a line to put at ``location``; ``rule_id`` is the rule that chose it (None: the
    warehouse's receiving location, no rule taking it)."""

    location: Location
    quantity: Decimal
    rule_id: int | None = None

    @property
    def location_id(self) -> int:
        return int(self.location.pk)

    @property
    def location_code(self) -> str:
        return self.location.code


@dataclass(frozen=True)
class PutawayProposal(Generic[K]):
    """Where one line goes: its ``parts`` add up to its ``quantity``, in the order they were chosen."""

    key: K
    item: Item
    quantity: Decimal
    parts: list[PutawayPart] = field(default_factory=list)


def active_rules(warehouse: Warehouse, items: Iterable[Item]) -> list[PutawayRule]:
    """The active rules (at active put-away locations) of ``warehouse`` for these items' SKUs or categories, by
    priority then id: one query."""
    items = list(items)
    item_ids = sorted({item.pk for item in items})
    categories = sorted({item.category for item in items if item.category})
    if not item_ids:
        return []
    return list(PutawayRule.objects.select_related("location")
                .filter(Q(item_id__in=item_ids) | Q(item__isnull=True, category__in=categories),
                        warehouse=warehouse, active=True, location__active=True, location__kind__in=PUTAWAY_KINDS)
                .order_by("priority", "id"))


def _on_hand(warehouse: Warehouse, item_ids: list[int], location_ids: list[int]) -> dict[tuple[int, int], Decimal]:
    """What is already at each (item, location), every lot and status together: one query."""
    if not item_ids or not location_ids:
        return {}
    rows = (StockBalance.objects.filter(warehouse=warehouse, item_id__in=item_ids, location_id__in=location_ids)
            .values("item_id", "location_id").annotate(quantity=Sum("on_hand")).order_by())
    return {(row["item_id"], row["location_id"]): row["quantity"] or Decimal(0) for row in rows}


def fallback_location(warehouse: Warehouse) -> Location:
    """The warehouse's receiving location: the first active one by path."""
    location = (Location.objects.filter(warehouse=warehouse, kind=FALLBACK_KIND, active=True)
                .order_by("path", "id").first())
    if location is None:
        raise NoReceivingLocation(
            f"{warehouse.code} has no active receiving location for what no put-away rule places.",
            detail={"lines": [f"{warehouse.code} has no active receiving location; add one, or a put-away rule, "
                              f"or scan a location per line."]})
    return location


def putaway_proposals(*, warehouse: Warehouse, lines: Iterable[tuple[K, Item, Decimal]]) -> list[PutawayProposal[K]]:
    """Where to put each line ``(key, item, quantity in base units)`` received at ``warehouse``, in the lines' order.

    Each line goes first to its SKU's rules, then to its category's, by priority then id; a location with a
    ``max_quantity`` takes at most that less what is already there of the SKU (every status) and what earlier lines
    were given there; a rule without one takes the rest. What is left goes to the warehouse's receiving location
    (``NoReceivingLocation``, 400, when there is none). A line of 0 or less gets no parts.

    Three queries at most, whatever the number of lines: the rules, the stock at their locations, the receiving
    location (only when some quantity is left for it). Nothing is locked: the proposal is advice, read again by
    nobody; two receipts at once may fill a location past its maximum, which the operator sees on the shelf.
    """
    rows = list(lines)
    rules = active_rules(warehouse, (item for _, item, _ in rows))
    by_item: dict[int, list[PutawayRule]] = defaultdict(list)
    by_category: dict[str, list[PutawayRule]] = defaultdict(list)
    for rule in rules:
        if rule.item_id is not None:
            by_item[rule.item_id].append(rule)
        else:
            by_category[rule.category].append(rule)
    capped = {rule.location_id for rule in rules if rule.max_quantity is not None}
    used = _on_hand(warehouse, sorted({item.pk for _, item, _ in rows}), sorted(capped))
    fallback: Location | None = None
    proposals: list[PutawayProposal[K]] = []
    for key, item, quantity in rows:
        proposal = PutawayProposal(key=key, item=item, quantity=quantity)
        left = quantity
        candidates = [*by_item.get(item.pk, ()), *(by_category.get(item.category, ()) if item.category else ())]
        for rule in candidates:
            if left <= 0:
                break
            if rule.max_quantity is None:
                take = left
            else:
                held = used.get((item.pk, rule.location_id), Decimal(0))
                take = min(left, rule.max_quantity - held)
                if take <= 0:
                    continue
                used[(item.pk, rule.location_id)] = held + take
            proposal.parts.append(PutawayPart(location=rule.location, quantity=take, rule_id=rule.pk))
            left -= take
        if left > 0:
            fallback = fallback or fallback_location(warehouse)
            proposal.parts.append(PutawayPart(location=fallback, quantity=left))
        proposals.append(proposal)
    return proposals


# --- rules ----------------------------------------------------------------------------------------------------


def putaway_rules() -> QuerySet[PutawayRule]:
    """Rules with what a list or a detail shows, ordered by warehouse, priority and id."""
    return PutawayRule.objects.select_related("warehouse", "item", "location").order_by(
        "warehouse__code", "priority", "id")


def _validate(*, rule: PutawayRule | None, warehouse: Warehouse, location: Location, priority: int,
              max_quantity: Decimal | None, item: Item | None, category: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if item is not None and category:
        errors["category"] = ["Give a SKU or a category, not both."]
    elif item is None and not category:
        errors["sku"] = ["Give a SKU or a category."]
    elif category and not Item.objects.filter(category=category).exists():
        errors["category"] = [f"No item has the category {category!r}."]
    if location.warehouse_id != warehouse.pk:
        errors["location"] = [f"Location {location.code} is not in warehouse {warehouse.code}."]
    elif not location.active:
        errors["location"] = [f"Location {location.code} is inactive."]
    elif location.kind not in PUTAWAY_KINDS:
        errors["location"] = [f"Location {location.code} is a {location.get_kind_display().lower()} location; "
                              f"stock is put away only to storage or pick locations."]
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        errors["priority"] = [f"Give a whole number from 0 to {MAX_PRIORITY}."]
    if max_quantity is not None and not (0 < max_quantity <= MAX_QUANTITY):
        errors["max_quantity"] = ["Must be more than 0 (leave it empty for no maximum)."]
    return errors


@command
def putaway_rule_save(*, actor: Actor, rule: PutawayRule | None = None, warehouse: Warehouse, location: Location,
                      priority: int, max_quantity: Decimal | None, item: Item | None = None, category: str = "",
                      active: bool = True) -> PutawayRule:
    """Create a put-away rule (``rule`` None) or replace every field of ``rule``.

    Exactly one of ``item`` (a SKU) and ``category`` (one some item has); ``location`` an active storage or pick
    location of ``warehouse``; ``priority`` 0 to 32767, the lowest first; ``max_quantity`` more than 0 base units,
    or None for no maximum. Bad input is ``ValidationFailed`` (400) naming each field; a second rule for the same
    warehouse, SKU or category and location is ``DuplicatePutawayRule`` (409). The caller checks the actor's
    permission and scope.
    """
    category = (category or "").strip()
    errors = _validate(rule=rule, warehouse=warehouse, location=location, priority=priority,
                       max_quantity=max_quantity, item=item, category=category)
    if errors:
        raise ValidationFailed("The put-away rule is not valid: " + " ".join(
            message for messages in errors.values() for message in messages), detail=errors)
    target = PutawayRule() if rule is None else PutawayRule.objects.select_for_update(of=("self",)).get(pk=rule.pk)
    target.warehouse = warehouse
    target.location = location
    target.item = item
    target.category = "" if item is not None else category
    target.priority = priority
    target.max_quantity = max_quantity
    target.active = active
    clash = PutawayRule.objects.filter(warehouse=warehouse, location=location, item=item,
                                       category=target.category)
    if target.pk is not None:
        clash = clash.exclude(pk=target.pk)
    if clash.exists():
        raise _duplicate(warehouse, location, item, target.category)
    try:
        with transaction.atomic():  # a savepoint: a rule saved meanwhile by someone else is the same 409
            target.save()
    except IntegrityError as exc:
        if "putawayrule_unique" in str(exc):
            raise _duplicate(warehouse, location, item, target.category) from exc
        raise
    return target


def _duplicate(warehouse: Warehouse, location: Location, item: Item | None, category: str) -> DuplicatePutawayRule:
    what = f"SKU {item.sku}" if item is not None else f"category {category!r}"
    message = f"{warehouse.code} already has a put-away rule for {what} at {location.code}; change that one instead."
    return DuplicatePutawayRule(message, detail={"location": [message]})


def rule_fields(rule: PutawayRule) -> dict[str, Any]:
    """A rule's fields as ``putaway_rule_save`` takes them: a partial update starts from these."""
    return {"warehouse": rule.warehouse, "location": rule.location, "priority": rule.priority,
            "max_quantity": rule.max_quantity, "item": rule.item, "category": rule.category, "active": rule.active}
