"""Procure to pay in ``make bench`` (found by ``manage.py bench`` as an app's ``bench`` module).

W3 purchase order: a 5-line and a 500-line purchase order of the bench items from ACME (USD) for NE-NYC, each
submitted for approval (valued at the dated rate, routed by the matrix's rules) and, once a second buyer approves
it, received in full with put-away by the warehouse's rules (no location scanned), one unit a line. The figures are
the median wall time and the most queries of ``submit`` and of ``receive``; the floors: each within
``W3_MAX_SECONDS`` and the same queries at 5 and 500 lines. The bench's buyers and operator are made once
(``bench.buyer``, ``bench.buyer2``, ``bench.operator``, enterprise-wide); ACME's offers of the bench items
too (1.00 USD a unit).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from erp import services as platform
from erp.roles import ROLE_BY_KEY
from governance.services.approvals import approval_request_decide
from inventory.bench import W3_MAX_SECONDS, bench_skus
from inventory.models import Item
from procurement import purchasing, receiving
from procurement.models import PurchaseOrder, Supplier, SupplierItem
from warehouses.models import Warehouse

SUPPLIER = "ACME"
WAREHOUSE = "NE-NYC"
REPEATS = 5
SIZES = (5, 500)


def _user(username: str, role: str) -> Any:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        user = get_user_model().objects.create_user(username, password=None)
        user.groups.add(Group.objects.get(name=ROLE_BY_KEY[role].group))
        platform.scope_grant(user=user, actor=None, enterprise=True)
    return user


def _offers(supplier: Supplier, items: list[Item]) -> None:
    """ACME sells every bench item at 1.00 USD a base unit (made once, in one statement)."""
    SupplierItem.objects.bulk_create(
        [SupplierItem(supplier=supplier, item=item, uom_id=item.base_uom_id, unit_price=Decimal("1.00"),
                      currency=supplier.currency, supplier_sku=f"{supplier.code}-{item.sku}") for item in items],
        ignore_conflicts=True)


def _timed(call: Callable[[], Any]) -> tuple[float, int]:
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        call()
        elapsed = time.perf_counter() - started
    return elapsed, len(captured.captured_queries)


def w3_purchase_orders(*, skus: list[str]) -> dict[int, dict[str, tuple[float, int]]]:
    """Per size: the median seconds and the most queries of ``submit`` and ``receive``."""
    supplier = Supplier.objects.get(code=SUPPLIER)
    warehouse = Warehouse.objects.select_related("region", "legal_entity").get(code=WAREHOUSE)
    items = list(Item.objects.filter(sku__in=skus[:max(SIZES)]).order_by("sku"))
    _offers(supplier, items)
    buyer, approver = _user("bench.buyer", "buyer"), _user("bench.buyer2", "buyer")
    operator = _user("bench.operator", "warehouse_operator")
    out: dict[int, dict[str, tuple[float, int]]] = {}
    for size in SIZES:
        timings: dict[str, list[tuple[float, int]]] = {"submit": [], "receive": []}
        for _ in range(REPEATS):
            order = purchasing.purchase_order_create(
                supplier=supplier, warehouse=warehouse, actor=buyer, note=f"Bench order of {size} lines",
                lines=[purchasing.OrderLineSpec(item=item, quantity=Decimal(1)) for item in items[:size]])
            timings["submit"].append(_timed(partial(purchasing.purchase_order_submit, order=order, actor=buyer)))
            submitted = PurchaseOrder.objects.select_related("approval_request").get(pk=order.pk)
            assert submitted.approval_request is not None  # a submitted order waits on its request
            request = submitted.approval_request
            approval_request_decide(request=request, actor=approver, approve=True)
            lines = [receiving.ReceiptLineSpec(line_no=n, quantity=Decimal(1)) for n in range(1, size + 1)]
            timings["receive"].append(_timed(partial(receiving.receipt_post, purchase_order=order, actor=operator,
                                                     lines=lines)))
        out[size] = {name: (statistics.median(t for t, _ in rows), max(q for _, q in rows))
                     for name, rows in timings.items()}
    return out


def run(*, say: Callable[[str], None], tps: float | None, options: dict[str, Any]) -> list[str]:
    """The purchase order figures for ``manage.py bench``; returns the floors missed."""
    result = w3_purchase_orders(skus=bench_skus(options["skus"]))
    failed = []
    small, large = result[min(SIZES)], result[max(SIZES)]
    for name in ("submit", "receive"):
        (large_s, large_q), (small_s, small_q) = large[name], small[name]
        ok_time, ok_same = large_s <= W3_MAX_SECONDS, large_q == small_q
        ratio = f", {max(SIZES) / large_s / tps:.2f} lines/s per tps" if tps else ""
        say(f"W3 purchase order {name}, median of {REPEATS}: {max(SIZES)} lines {large_s * 1000:.0f} ms, {large_q} "
            f"queries; {min(SIZES)} lines {small_s * 1000:.0f} ms, {small_q} queries{ratio}")
        say(f"   floor {max(SIZES)} lines <= {W3_MAX_SECONDS} s: {'PASS' if ok_time else 'FAIL'}; "
            f"floor same queries at {min(SIZES)} and {max(SIZES)}: {'PASS' if ok_same else 'FAIL'}")
        failed += [label for label, ok in ((f"W3 purchase order {name} time", ok_time),
                                           (f"W3 purchase order {name} queries", ok_same)) if not ok]
    return failed
