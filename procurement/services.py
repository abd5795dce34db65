"""Every write to suppliers. Each public function is one command."""

from __future__ import annotations

from typing import Any

from erp.actors import Actor
from erp.transactions import command
from erp.validation import clean_or_raise
from procurement.models import Supplier

SUPPLIER_FIELDS = ("name", "currency", "lead_time_days", "payment_terms_days", "email", "active")


@command
def supplier_create(*, code: str, name: str, currency: str, actor: Actor,
                    **extra: Any) -> Supplier:
    supplier = Supplier(code=code, name=name, currency=currency)
    for field, value in extra.items():
        if field not in SUPPLIER_FIELDS:
            raise TypeError(f"supplier_create got an unexpected field {field!r}")
        setattr(supplier, field, value)
    clean_or_raise(supplier)
    supplier.save()
    return supplier


@command
def supplier_update(*, supplier: Supplier, actor: Actor, **changes: Any) -> Supplier:
    locked = Supplier.objects.select_for_update(of=("self",)).get(pk=supplier.pk)
    for field, value in changes.items():
        if field not in SUPPLIER_FIELDS:
            raise TypeError(f"supplier_update got an unexpected field {field!r}")
        setattr(locked, field, value)
    clean_or_raise(locked)
    locked.save()
    return locked
