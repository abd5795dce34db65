"""Every write to customers and ship-to addresses. Each public function is one command."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.transactions import command
from erp.validation import clean_or_raise
from orders import rules
from orders.exceptions import HomeWarehouseOutsideRegion
from orders.models import Customer, ShipTo

CUSTOMER_FIELDS = ("name", "region", "home_warehouse", "allow_partial_shipment", "email", "active")
SHIP_TO_FIELDS = ("code", "name", "address_line1", "city", "postal_code", "country", "region")


def _check_home(customer: Customer) -> None:
    if customer.home_warehouse.region_id != customer.region_id:
        raise HomeWarehouseOutsideRegion(
            detail={"home_warehouse": [
                f"{customer.home_warehouse.code} is not in region {customer.region.code}."
            ]}
        )


def _replace_ship_tos(customer: Customer, ship_tos: list[dict[str, Any]]) -> None:
    """Make the customer's ship-tos exactly ``ship_tos`` (matched by code); caller holds the customer's lock.

    ``default`` is optional per row (``rules.default_ship_to_after``): ``True`` makes that address the default
    (at most one row may say so), ``False`` takes the flag off it, and left out keeps what the address had.
    The flag that goes is cleared before the one that comes is set, so the partial unique index on
    (customer) where default never sees two.
    """
    existing = {row.code: row for row in ShipTo.objects.filter(customer=customer)}
    chosen = [data["code"] for data in ship_tos if data.get("default")]
    if len(chosen) > 1:
        raise ValidationFailed(detail={"ship_tos": [
            f"Only one ship-to address can be the default; {', '.join(chosen)} all say so."]})
    default = rules.default_ship_to_after(ship_tos, next((code for code, row in existing.items() if row.default),
                                                          None))
    ShipTo.objects.filter(customer=customer, default=True).exclude(code=default).update(
        default=False, updated_at=timezone.now())
    keep = set()
    for data in ship_tos:
        unknown = set(data) - {*SHIP_TO_FIELDS, "default"}
        if unknown:
            raise TypeError(f"unexpected ship-to fields {sorted(unknown)}")
        row = existing.get(data["code"]) or ShipTo(customer=customer)
        for field, value in data.items():
            setattr(row, field, value)
        row.default = data["code"] == default
        clean_or_raise(row, exclude=["customer"])
        row.save()
        keep.add(row.code)
    ShipTo.objects.filter(customer=customer).exclude(code__in=keep).delete()


@command
def ship_to_make_default(*, ship_to: ShipTo, actor: Actor) -> ShipTo:
    """Make ``ship_to`` its customer's default address, taking the flag off the one that had it, in one
    transaction under the customer's lock (so two concurrent calls end with exactly one default)."""
    Customer.objects.select_for_update(of=("self",)).get(pk=ship_to.customer_id)
    ShipTo.objects.filter(customer_id=ship_to.customer_id, default=True).exclude(pk=ship_to.pk).update(
        default=False, updated_at=timezone.now())
    locked = ShipTo.objects.select_for_update(of=("self",)).get(pk=ship_to.pk)
    if not locked.default:
        locked.default = True
        locked.save(update_fields=["default", "updated_at"])
    return locked


@command
def customer_create(*, code: str, name: str, region: Any, home_warehouse: Any, actor: Actor,
                    ship_tos: list[dict[str, Any]] | None = None, **extra: Any) -> Customer:
    customer = Customer(code=code, name=name, region=region, home_warehouse=home_warehouse)
    for field, value in extra.items():
        if field not in CUSTOMER_FIELDS:
            raise TypeError(f"customer_create got an unexpected field {field!r}")
        setattr(customer, field, value)
    clean_or_raise(customer)
    _check_home(customer)
    customer.save()
    _replace_ship_tos(customer, ship_tos or [])
    return customer


@command
def customer_update(*, customer: Customer, actor: Actor,
                    ship_tos: list[dict[str, Any]] | None = None, **changes: Any) -> Customer:
    """Change a customer; ``ship_tos``, when given, replaces its ship-to addresses."""
    locked = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    for field, value in changes.items():
        if field not in CUSTOMER_FIELDS:
            raise TypeError(f"customer_update got an unexpected field {field!r}")
        setattr(locked, field, value)
    clean_or_raise(locked)
    _check_home(locked)
    locked.save()
    if ship_tos is not None:
        _replace_ship_tos(locked, ship_tos)
    return locked
