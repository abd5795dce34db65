"""Transfers in ``make bench`` (found by ``manage.py bench`` as an app's ``bench`` module, after inventory's W2/W3).

W3 transfer: a 5-line and a 500-line transfer of the bench items, each dispatched and received, the median wall time
and the queries of each posting. The floors: each posting within ``W3_MAX_SECONDS`` and the same queries at 5 and
500 lines. The transfers go EU-RTM -> EU-DUS and back on alternate repeats (an even number of them), one unit a
line at the bench items' opening cost, so a run leaves the stock where it found it and stays below the approval
threshold (approved at once, no approver needed; region SE has a lower threshold in the demo). W1's customers
live at NE-BOS, away from both.

W10: the recommendation run over every bench SKU at every warehouse (10,000 x 6 by default), its wall time and
queries printed beside ``P_upd``; the floor is a constant number of queries (``W10_MAX_QUERIES``) whatever the SKU
count. So that the run has needs to weigh, the first run leaves 2,000 bench SKUs backordered at NE-BOS (four
500-line orders of C-NE-004 for more than NE-BOS holds, found again by their external references).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.bench import W3_MAX_SECONDS, bench_skus
from inventory.models import Item
from warehouses.models import Warehouse
from warehouses.transfers import services

PAIR = ("EU-RTM", "EU-DUS")
W10_MAX_QUERIES = 20
W10_ORDERS = 4  # of 500 lines each: the bench SKUs backordered at NE-BOS
W10_CUSTOMER = "C-NE-004"
REPEATS = 6  # even: the stock goes and comes back
SIZES = (5, 500)


def _timed(call: Callable[[], Any]) -> tuple[float, int]:
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        call()
        elapsed = time.perf_counter() - started
    return elapsed, len(captured.captured_queries)


def w3_transfers(*, skus: list[str]) -> dict[int, dict[str, tuple[float, int]]]:
    """Per size: the median seconds and the most queries of ``dispatch`` and ``receive``."""
    warehouses = {w.code: w for w in Warehouse.objects.select_related("region", "legal_entity")
                  .filter(code__in=PAIR)}
    items = list(Item.objects.filter(sku__in=skus[:max(SIZES)]).order_by("sku"))
    out: dict[int, dict[str, tuple[float, int]]] = {}
    for size in SIZES:
        timings: dict[str, list[tuple[float, int]]] = {"dispatch": [], "receive": []}
        for repeat in range(REPEATS):
            source, target = (PAIR if repeat % 2 == 0 else PAIR[::-1])
            transfer = services.transfer_create(
                from_warehouse=warehouses[source], to_warehouse=warehouses[target], actor=None,
                note=f"Bench transfer of {size} lines",
                lines=[services.TransferLineSpec(item=item, quantity=Decimal(1)) for item in items[:size]])
            transfer = services.transfer_submit(transfer=transfer, actor=None)
            receipt = [services.ReceiveSpec(line_no=n, quantity=Decimal(1)) for n in range(1, size + 1)]
            timings["dispatch"].append(_timed(partial(services.transfer_dispatch, transfer=transfer, actor=None)))
            timings["receive"].append(_timed(partial(services.transfer_receive, transfer=transfer, actor=None,
                                                     lines=receipt)))
        out[size] = {name: (statistics.median(t for t, _ in rows), max(q for _, q in rows))
                     for name, rows in timings.items()}
    return out


def _w10_backorders(skus: list[str]) -> int:
    """Four 500-line orders at NE-BOS for more than it holds of bench SKUs, once; the lines backordered there."""
    from orders.models import Customer, SalesOrder, SalesOrderLine
    from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create

    customer = Customer.objects.get(code=W10_CUSTOMER)
    items = list(Item.objects.filter(sku__in=skus[-W10_ORDERS * 500:]).order_by("sku"))
    for number in range(W10_ORDERS):
        ref = f"BENCH-W10-{number + 1}"
        if SalesOrder.objects.filter(customer=customer, external_ref=ref).exists():
            continue
        order = sales_order_create(customer=customer, actor=None, external_ref=ref, lines=[
            OrderLineSpec(item=item, quantity=Decimal(400)) for item in items[number * 500:(number + 1) * 500]])
        sales_order_confirm(order=order, actor=None)
    return SalesOrderLine.objects.filter(order__customer=customer, order__external_ref__startswith="BENCH-W10-",
                                         backordered_quantity__gt=0).count()


def w10_recommendations(*, skus: list[str]) -> dict[str, Any]:
    """The recommendation run over the whole network: seconds, queries and what it found."""
    from warehouses.transfers.recommendations import recommendations_refresh

    backordered = _w10_backorders(skus)
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        counts = recommendations_refresh(actor=None)
        elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "queries": len(captured.captured_queries), "backordered": backordered,
            "warehouses": Warehouse.objects.count(), **counts}


def run(*, say: Callable[[str], None], tps: float | None, options: dict[str, Any]) -> list[str]:
    """The transfer figures for ``manage.py bench``; returns the floors missed."""
    skus = bench_skus(options["skus"])
    result = w3_transfers(skus=skus)
    failed = []
    small, large = result[min(SIZES)], result[max(SIZES)]
    for name in ("dispatch", "receive"):
        (large_s, large_q), (small_s, small_q) = large[name], small[name]
        ok_time, ok_same = large_s <= W3_MAX_SECONDS, large_q == small_q
        ratio = f", {max(SIZES) / large_s / tps:.2f} lines/s per tps" if tps else ""
        say(f"W3 transfer {name}, median of {REPEATS}: {max(SIZES)} lines {large_s * 1000:.0f} ms, {large_q} queries; "
            f"{min(SIZES)} lines {small_s * 1000:.0f} ms, {small_q} queries{ratio}")
        say(f"   floor {max(SIZES)} lines <= {W3_MAX_SECONDS} s: {'PASS' if ok_time else 'FAIL'}; "
            f"floor same queries at {min(SIZES)} and {max(SIZES)}: {'PASS' if ok_same else 'FAIL'}")
        failed += [label for label, ok in ((f"W3 transfer {name} time", ok_time),
                                           (f"W3 transfer {name} queries", ok_same)) if not ok]

    w10 = w10_recommendations(skus=skus)
    pairs = len(skus) * w10["warehouses"]
    ok_queries = w10["queries"] <= W10_MAX_QUERIES
    ratio = f"; {pairs / w10['seconds'] / tps:.2f} pairs/s per P_upd tps ({tps:,.0f})" if tps else ""
    say(f"W10 transfer recommendations over {len(skus):,} SKUs x {w10['warehouses']} warehouses ({pairs:,} pairs, "
        f"{w10['backordered']:,} lines backordered at NE-BOS): {w10['seconds'] * 1000:.0f} ms, {w10['queries']} "
        f"queries; {w10['open']:,} open ({w10['created']:,} new, {w10['updated']:,} updated, {w10['expired']:,} "
        f"expired){ratio}")
    say(f"   floor queries <= {W10_MAX_QUERIES} whatever the SKU count: {'PASS' if ok_queries else 'FAIL'}")
    if not ok_queries:
        failed.append("W10 queries")
    return failed
