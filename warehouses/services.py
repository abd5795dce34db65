"""Every write to the network's master data. Each function is one command (one transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from erp.actors import Actor
from erp.transactions import command
from erp.validation import clean_or_raise
from warehouses.exceptions import LocationParentMismatch
from warehouses.models import Carrier, CarrierLane, LegalEntity, Location, Region, Warehouse

WAREHOUSE_FIELDS = ("name", "region", "legal_entity", "timezone", "address_line1", "city", "postal_code",
                    "country", "active")


@command
def legal_entity_upsert(*, code: str, name: str, currency: str, actor: Actor) -> LegalEntity:
    entity = LegalEntity.objects.select_for_update().filter(code=code).first() or LegalEntity(code=code)
    entity.name, entity.currency = name, currency
    clean_or_raise(entity)
    entity.save()
    return entity


@command
def region_upsert(*, code: str, name: str, actor: Actor) -> Region:
    region = Region.objects.select_for_update().filter(code=code).first() or Region(code=code)
    region.name = name
    clean_or_raise(region)
    region.save()
    return region


@command
def warehouse_create(*, code: str, name: str, region: Region, legal_entity: LegalEntity, timezone: str,
                     actor: Actor, **extra: Any) -> Warehouse:
    warehouse = Warehouse(code=code, name=name, region=region, legal_entity=legal_entity, timezone=timezone)
    for field, value in extra.items():
        if field not in WAREHOUSE_FIELDS:
            raise TypeError(f"warehouse_create got an unexpected field {field!r}")
        setattr(warehouse, field, value)
    clean_or_raise(warehouse)
    warehouse.save()
    return warehouse


@command
def warehouse_update(*, warehouse: Warehouse, actor: Actor, **changes: Any) -> Warehouse:
    """Change a warehouse's attributes (its code is its identity and never changes)."""
    locked = Warehouse.objects.select_for_update(of=("self",)).get(pk=warehouse.pk)
    for field, value in changes.items():
        if field not in WAREHOUSE_FIELDS:
            raise TypeError(f"warehouse_update got an unexpected field {field!r}")
        setattr(locked, field, value)
    clean_or_raise(locked)
    locked.save()
    return locked


def _location_path(parent: Location | None, code: str) -> str:
    return f"{parent.path}/{code}" if parent else code


@command
def location_create(*, warehouse: Warehouse, code: str, kind: str, actor: Actor,
                    parent: Location | None = None, name: str = "", active: bool = True) -> Location:
    """Add a location under ``parent`` (or at the root) of ``warehouse``'s tree."""
    if parent is not None and parent.warehouse_id != warehouse.pk:
        raise LocationParentMismatch(detail={"parent": ["The parent location belongs to another warehouse."]})
    location = Location(warehouse=warehouse, code=code, kind=kind, parent=parent, name=name, active=active,
                        path=_location_path(parent, code))
    clean_or_raise(location)
    location.save()
    return location


@command
def location_update(*, location: Location, actor: Actor, name: str | None = None,
                    kind: str | None = None, active: bool | None = None) -> Location:
    locked = Location.objects.select_for_update(of=("self",)).get(pk=location.pk)
    if name is not None:
        locked.name = name
    if kind is not None:
        locked.kind = kind
    if active is not None:
        locked.active = active
    clean_or_raise(locked)
    locked.save()
    return locked


@dataclass(frozen=True)
class LaneFreight:
    """What a lane charges: per base unit and per kilogram (either may be None), in ``currency``."""

    per_unit: Decimal | None
    per_kg: Decimal | None
    currency: str


@command
def carrier_upsert(*, code: str, name: str, actor: Actor, active: bool = True,
                   lanes: list[tuple[Region, Region, int]] | None = None,
                   freight: Mapping[tuple[str, str], LaneFreight] | None = None) -> Carrier:
    """Create or update a carrier; ``lanes`` (origin, destination, transit days) replace its lanes, each with the
    ``freight`` given for its (origin code, destination code), if any."""
    carrier = Carrier.objects.select_for_update().filter(code=code).first() or Carrier(code=code)
    carrier.name, carrier.active = name, active
    clean_or_raise(carrier)
    carrier.save()
    if lanes is not None:
        CarrierLane.objects.filter(carrier=carrier).delete()
        charges = freight or {}
        none = LaneFreight(None, None, "")
        new_lanes = [CarrierLane(carrier=carrier, origin_region=o, destination_region=d, transit_days=t,
                                 freight_per_unit=charges.get((o.code, d.code), none).per_unit,
                                 freight_per_kg=charges.get((o.code, d.code), none).per_kg,
                                 freight_currency=charges.get((o.code, d.code), none).currency)
                     for o, d, t in lanes]
        for lane in new_lanes:
            clean_or_raise(lane, exclude=["carrier"])
        CarrierLane.objects.bulk_create(new_lanes)
    return carrier
