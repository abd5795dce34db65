"""W1 of ``make bench`` (``orders.bench``) run small: it places real orders in the service layer and over HTTP
(a gunicorn of its own), prints its figures and judges its floors; the stock it leaves behind adds up.

No timing is asserted (the machines are shared): only that every figure is there, that no client saw an error,
and that every allocation it made is accounted for.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum

from inventory import bench as stock_bench
from inventory.models import ItemWarehouseSummary
from inventory.tests.factories import ensure_standard_statuses
from orders import bench
from orders.models import Allocation, AllocationStatus, OrderStatus, SalesOrder, SalesOrderLine

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SKUS = 12


@pytest.fixture
def bench_items(demo: Any) -> list[str]:
    ensure_standard_statuses()
    stock_bench.seed(count=SKUS)
    return stock_bench.bench_skus(SKUS)


def test_w1_places_orders_both_ways_without_errors_and_leaves_the_allocations_adding_up(bench_items):
    before = SalesOrder.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    result = bench.w1(skus=bench_items, clients=[2], seconds=1.0, web_workers=1, web_threads=2,
                      service_processes=False)  # threads: this session's in-process workers make forking unsafe

    assert [(phase.way, phase.clients) for phase in result.phases] == [("service", 2), ("http", 2)]
    for phase in result.phases:
        assert phase.errors == []
        assert phase.orders > 0 and phase.rate > 0
        assert len(phase.confirm_s) == phase.orders
        assert 0 < phase.ms("confirm", 0.5) <= phase.ms("confirm", 0.99) <= phase.ms("order", 0.99) + 1e-9
    assert result.create_queries > 0 and result.confirm_queries > 0
    assert result.invariant_violations == [] and result.over_allocated == 0
    assert result.deadlocks is not None and result.deadlocks >= 0
    assert result.web_rss_mb["master"] > 0 and result.web_rss_mb["worker"] > 0
    assert result.task_rss_mb["master"] > 0  # the Celery worker beside the run

    # Every order placed (measured or warming up) is confirmed and wholly allocated.
    placed = sum(phase.orders for phase in result.phases) + result.unmeasured_orders
    taken = SalesOrder.objects.filter(pk__gt=before)
    assert set(taken.values_list("customer__code", flat=True)) <= set(bench.CUSTOMERS)
    # The service clients took drafts beforehand; those the time did not reach were cancelled, holding nothing.
    leftovers = taken.filter(status=OrderStatus.CANCELLED)
    assert not Allocation.objects.filter(line__order__in=leftovers, status=AllocationStatus.OPEN).exists()
    orders = taken.exclude(status=OrderStatus.CANCELLED)
    assert orders.count() == placed
    assert set(orders.values_list("status", flat=True)) == {OrderStatus.ALLOCATED}
    assert not taken.filter(status=OrderStatus.DRAFT).exists()
    lines = SalesOrderLine.objects.filter(order__in=orders)
    assert lines.count() == placed * bench.LINES
    hot_lines = lines.filter(item__sku=bench_items[0]).count()
    assert 0 < hot_lines < placed  # the hot SKU is in some orders, not all

    # What the hot SKU's summaries hold is exactly its open allocations, within what is on hand.
    for summary in ItemWarehouseSummary.objects.filter(item__sku=bench_items[0]):
        held = Allocation.objects.filter(item_id=summary.item_id, warehouse_id=summary.warehouse_id,
                                         status=AllocationStatus.OPEN).aggregate(total=Sum("quantity"))["total"]
        assert summary.allocated == (held or Decimal(0)) <= summary.allocatable_on_hand


def test_the_report_prints_each_figure_and_judges_the_floors(bench_items):
    result = bench.w1(skus=bench_items, clients=[1], seconds=0.5, http_too=False, service_processes=False)
    printed: list[str] = []

    easy = bench.report(result, {1: 1.0}, printed.append)  # a baseline any rate clears
    text = "\n".join(printed)
    assert easy == []
    assert "orders/s" in text and "p99" in text and "queries per order" in text
    assert f"floor service >= {bench.floor_for(bench.SERVICE_FLOORS, 1)} x P_upd" in text and "PASS" in text
    assert f"floor confirm <= {bench.MAX_CONFIRM_QUERIES}: PASS" in text
    assert "floor zero oversell: PASS" in text and "floor no error reaches a client: PASS" in text

    printed.clear()
    assert bench.report(result, {1: 1e12}, printed.append) == ["W1 service 1 clients"]
    assert any("FAIL" in line for line in printed)

    printed.clear()
    assert bench.report(result, {1: None}, printed.append) == []  # no pgbench: figures, no verdict on speed
    assert any("no P_upd baseline" in line for line in printed)


def test_each_client_count_is_judged_by_its_own_floor_or_the_nearest_below():
    assert bench.floor_for(bench.SERVICE_FLOORS, 2) == 0.12 and bench.floor_for(bench.SERVICE_FLOORS, 4) == 0.08
    assert bench.floor_for(bench.SERVICE_FLOORS, 3) == 0.12 and bench.floor_for(bench.SERVICE_FLOORS, 8) == 0.08
    assert bench.floor_for(bench.SERVICE_FLOORS, 1) == 0.12  # none below: the smallest count's
    assert bench.floor_for({}, 2) is None
    assert bench.DEFAULT_CLIENTS == "2,4"
