"""Fixtures of the transfer tests: stock-free twins of demo items, stock at a warehouse, a transfer ready to go."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError

from inventory.models import Item, ItemCost, ItemWarehouseSummary, StockBalance
from inventory.services import stock_receive
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from warehouses.transfers import services
from warehouses.transfers.models import Transfer

D = Decimal


def twin(sku: str = "CLN-0004") -> Item:
    ensure_standard_statuses()
    return item(sku)


def stock_at(product: Item, site: str, quantity: Any, *, unit_cost: Any = "2.50", lot: str | None = None,
             code: str = "A-01-01", expiry: Any = None) -> None:
    """Receive ``quantity`` base units of ``product`` at ``site`` (location ``code``) at ``unit_cost``."""
    stock_receive(warehouse=warehouse(site), location=location(site, code), item=product, quantity=D(str(quantity)),
                  uom=product.base_uom.code, unit_cost=D(str(unit_cost)), reference="transfer test", actor=None,
                  lot_number=lot, expiry_date=expiry)


def request(product: Item, quantity: Any, *, source: str = "SE-ATL", target: str = "NE-BOS", actor: Any = None,
            lot: str | None = None, **extra: Any) -> Transfer:
    return services.transfer_create(
        from_warehouse=warehouse(source), to_warehouse=warehouse(target), actor=actor,
        lines=[services.TransferLineSpec(item=product, quantity=D(str(quantity)), lot_number=lot)], **extra)


def approved(product: Item, quantity: Any, **kwargs: Any) -> Transfer:
    """A transfer below the approval threshold, submitted and so approved at once."""
    transfer = request(product, quantity, **kwargs)
    return services.transfer_submit(transfer=transfer, actor=kwargs.get("actor"))


def on_hand(product: Item, site: str, status: str = "available") -> Decimal:
    return sum((b.on_hand for b in StockBalance.objects.filter(item=product, warehouse__code=site,
                                                                status__code=status)), D(0))


def summary(product: Item, site: str) -> ItemWarehouseSummary | None:
    return ItemWarehouseSummary.objects.filter(item=product, warehouse__code=site).first()


def cost(product: Item, site: str) -> ItemCost | None:
    return ItemCost.objects.filter(item=product, legal_entity=warehouse(site).legal_entity).first()


def invariants() -> str:
    """``check_inventory_invariants``'s complaints ('' when every invariant holds)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("check_inventory_invariants", stdout=out, stderr=err)
    except CommandError:
        return err.getvalue() or "failed"
    return err.getvalue()
