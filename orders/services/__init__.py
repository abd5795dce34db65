"""Every write to customers and ship-to addresses. Each public function is one command."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from erp.transactions import command
from erp.validation import clean_or_raise
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
    """Make the customer's ship-tos exactly ``ship_tos`` (matched by code)."""
    existing = {row.code: row for row in ShipTo.objects.filter(customer=customer)}
    keep = set()
    for data in ship_tos:
        unknown = set(data) - set(SHIP_TO_FIELDS)
        if unknown:
            raise TypeError(f"unexpected ship-to fields {sorted(unknown)}")
        row = existing.get(data["code"]) or ShipTo(customer=customer)
        for field, value in data.items():
            setattr(row, field, value)
        clean_or_raise(row, exclude=["customer"])
        row.save()
        keep.add(row.code)
    ShipTo.objects.filter(customer=customer).exclude(code__in=keep).delete()


@command
def customer_create(*, code: str, name: str, region: Any, home_warehouse: Any, actor: AbstractBaseUser | None,
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
def customer_update(*, customer: Customer, actor: AbstractBaseUser | None,
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
