"""Transfers in ``make bench`` (found by ``manage.py bench`` as an app's ``bench`` module, after inventory's W2/W3).

W3 transfer: a 5-line and a 500-line transfer of the bench items, each dispatched and received, the median wall time
and the queries of each posting. The floors: each posting within ``W3_MAX_SECONDS`` and the same queries at 5 and
500 lines. The transfers go SE-MIA -> SE-ATL and back on alternate repeats (an even number of them), one unit a line
at the bench items' opening cost, so a run leaves the stock where it found it and stays below the approval
threshold (approved at once, no approver needed). W1's customers live at NE-BOS, away from both.
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

PAIR = ("SE-MIA", "SE-ATL")
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


def run(*, say: Callable[[str], None], tps: float | None, options: dict[str, Any]) -> list[str]:
    """The transfer figures for ``manage.py bench``; returns the floors missed."""
    result = w3_transfers(skus=bench_skus(options["skus"]))
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
    return failed
