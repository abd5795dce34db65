"""Sales orders under concurrency: real threads, each on its own PostgreSQL connection, committed data.

Every race ends with ``check_inventory_invariants`` and ``check_order_invariants``. A losing thread must get a
domain refusal (409); a deadlock or serialization failure surfacing, or any other exception, fails the test.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Sum

from erp.exceptions import DomainError
from governance.models import OperationalException
from governance.services.deviations import deviation_approve, deviation_request
from inventory import services as stock
from inventory.exceptions import InsufficientStock
from inventory.models import ItemWarehouseSummary
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders.exceptions import InvalidOrderTransition
from orders.models import Allocation, AllocationStatus, Customer, OrderStatus, SalesOrder, SalesOrderLine
from orders.services.sales import OrderLineSpec, sales_order_cancel, sales_order_confirm, sales_order_create
from tests.clock import WEDNESDAY_10AM, WEDNESDAY_DATE
from tests.races import race as _race

D = Decimal
CONFIRMED = {OrderStatus.ALLOCATED, OrderStatus.PARTIALLY_ALLOCATED, OrderStatus.BACKORDERED}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def network(demo: Any) -> None:
    ensure_standard_statuses()




def _start(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``call`` in a thread of its own (its own connection); the list receives its result or exception."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _wait_until_waiting_for_locks(sessions: int) -> None:
    """Return once ``sessions`` other sessions of the test database wait for a lock (they queue in that order)."""
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # the activity view is a snapshot per transaction
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0] >= sessions:
                return
            assert time.monotonic() < deadline, f"{sessions} session(s) should be waiting for the order's lock"
            time.sleep(0.01)


def _invariants_hold() -> None:
    for name in ("check_inventory_invariants", "check_order_invariants"):
        out = StringIO()
        call_command(name, stdout=out, stderr=out)
        assert "hold" in out.getvalue(), out.getvalue()


def _scarce(sku: str, held: dict[str, int]) -> Any:
    """A stock-free twin of ``sku`` with ``held[site]`` EA in A-01-01 of each site."""
    twin = item(sku)
    for site, quantity in held.items():
        stock.stock_receive(warehouse=warehouse(site), location=location(site, "A-01-01"), item=twin,
                            quantity=D(quantity), uom="EA", unit_cost=D(2), reference="race", actor=None)
    return twin


def _draft(twin: Any, quantities: list[int], customer: str = "C-NE-001") -> SalesOrder:
    buyer = Customer.objects.get(code=customer)
    return sales_order_create(customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
                              lines=[OrderLineSpec(item=twin, quantity=D(q), uom="EA") for q in quantities])


def _drafts(twin: Any, count: int, seed: int) -> list[SalesOrder]:
    """``count`` drafts of 2 to 5 lines of 2 to 4 EA, taken in turn by a Boston and a New York customer (their
    home warehouses put the candidates in opposite orders: the locks must still be taken in one)."""
    rng = random.Random(seed)
    return [_draft(twin, [rng.randint(2, 4) for _ in range(rng.randint(2, 5))],
                   customer=("C-NE-001", "C-NE-002")[n % 2]) for n in range(count)]


def _allow_cross_region(user: Any, *homes: str) -> None:
    start = WEDNESDAY_DATE  # the day the tests confirm on, never the real today
    for home in homes:
        deviation = deviation_request(policy_key="fulfillment.cross_region_allowed", scope_type="warehouse",
                                      scope_code=home, value=True, rationale="Peak season: ship from SE-ATL",
                                      effective_from=start, effective_to=start + dt.timedelta(days=30),
                                      actor=user("ne.operator"))
        deviation_approve(deviation=deviation, actor=user("owner"))


def _summaries(twin: Any) -> dict[str, ItemWarehouseSummary]:
    return {s.warehouse.code: s for s in ItemWarehouseSummary.objects.filter(item=twin).select_related("warehouse")}


def _line_totals(twin: Any) -> dict[str, Decimal]:
    return SalesOrderLine.objects.filter(item=twin).aggregate(
        quantity=Sum("quantity"), allocated=Sum("allocated_quantity"), backordered=Sum("backordered_quantity"))


# --- many orders, one scarce SKU ---------------------------------------------------------------------------

SCARCE = {"NE-BOS": 4, "NE-NYC": 3, "SE-ATL": 5}


@pytest.mark.parametrize("cross_region", [False, True], ids=["within_the_region", "with_a_cross_region_deviation"])
def test_eight_threads_confirming_orders_for_a_scarce_sku_allocate_exactly_what_is_there(network, user,
                                                                                        cross_region):
    twin = _scarce("CLN-0003", SCARCE)
    if cross_region:
        _allow_cross_region(user, "NE-BOS", "NE-NYC")
    reachable = {"NE-BOS", "NE-NYC", "SE-ATL"} if cross_region else {"NE-BOS", "NE-NYC"}
    drafts = _drafts(twin, 8, seed=5)

    outcomes = _race(*[partial(sales_order_confirm, order=draft, actor=None, now=WEDNESDAY_10AM) for draft in drafts])

    assert all(isinstance(o, SalesOrder) for o in outcomes), outcomes
    assert {o.status for o in outcomes} <= CONFIRMED
    # Every unit that could be reached is allocated, no more; nothing elsewhere; the rest waits.
    summaries = _summaries(twin)
    assert {code: s.allocated for code, s in summaries.items()} == {
        code: D(SCARCE[code]) if code in reachable else D(0) for code in SCARCE}
    assert all(s.allocated <= s.allocatable_on_hand for s in summaries.values())
    totals = _line_totals(twin)
    supply = D(sum(SCARCE[code] for code in reachable))
    assert totals["allocated"] == supply < totals["quantity"]
    assert totals["backordered"] == totals["quantity"] - supply
    for line in SalesOrderLine.objects.filter(item=twin):
        assert line.allocated_quantity + line.backordered_quantity == line.quantity
    # One shortage exception per home warehouse, raised again (never twinned) by each order short there.
    short = Counter(home for _, home in set(SalesOrderLine.objects.filter(item=twin, backordered_quantity__gt=0)
                                            .values_list("order_id", "order__customer__home_warehouse__code")))
    raised = dict(OperationalException.objects.filter(type="shortage", business_key__endswith=f":{twin.sku}")
                  .values_list("business_key", "raised_count"))
    assert raised == {f"shortage:{home}:{twin.sku}": count for home, count in short.items()}
    _invariants_hold()


# --- confirming while the stock moves ------------------------------------------------------------------------


def test_confirming_while_the_stock_is_adjusted_and_put_on_hold_never_allocates_more_than_is_there(network):
    opening = {"NE-BOS": 12, "NE-NYC": 8}
    twin = _scarce("CLN-0004", opening)
    drafts = _drafts(twin, 12, seed=11)
    spots = {site: location(site, "A-01-01") for site in opening}
    lock = threading.Lock()
    moved: list[tuple[str, int]] = []  # (site, change of the allocatable on hand) of each posting that went through
    refused: list[DomainError] = []

    def post(site: str, change: int, call: Callable[[], Any]) -> None:
        try:
            call()
        except DomainError as exc:
            with lock:
                refused.append(exc)
        else:
            with lock:
                moved.append((site, change))

    def adjust(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(8):
            site, quantity = rng.choice(list(opening)), rng.choice([-5, -3, -2, 2, 4])
            post(site, quantity, partial(stock.stock_adjust_post, warehouse=warehouse(site), location=spots[site],
                                         item=twin, quantity=D(quantity), uom="EA", actor=None,
                                         reason="LOST" if quantity < 0 else "FOUND"))

    def hold(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(6):
            site, quantity, release = rng.choice(list(opening)), rng.randint(1, 3), rng.random() < 0.3
            source, target = ("quality_hold", "available") if release else ("available", "quality_hold")
            post(site, quantity if release else -quantity,
                 partial(stock.stock_status_change, warehouse=warehouse(site), location=spots[site], item=twin,
                         quantity=D(quantity), uom="EA", from_status=source, to_status=target, actor=None,
                         reason="QC-RELEASE" if release else "QC-HOLD"))

    def confirm(orders: list[SalesOrder]) -> list[SalesOrder]:
        return [sales_order_confirm(order=order, actor=None, now=WEDNESDAY_10AM) for order in orders]

    outcomes = _race(*[partial(confirm, drafts[n::6]) for n in range(6)],
                     partial(adjust, 1), partial(adjust, 2), partial(hold, 3), partial(hold, 4))

    assert all(isinstance(o, list) for o in outcomes[:6]), outcomes
    assert outcomes[6:] == [None] * 4, outcomes
    assert {order.status for confirmed in outcomes[:6] for order in confirmed} <= CONFIRMED
    assert moved and refused, "the race should both post and refuse some stock changes"
    assert all(isinstance(exc, InsufficientStock) and exc.status == 409 for exc in refused), refused
    # No lost update and no oversell: each warehouse's allocatable stock is the opening plus exactly what went
    # through, and what is allocated there never exceeds it and is exactly what the open allocations hold.
    summaries = _summaries(twin)
    for site, start in opening.items():
        allocatable = start + sum(change for where, change in moved if where == site)
        held = Allocation.objects.filter(item=twin, warehouse__code=site, status=AllocationStatus.OPEN).aggregate(
            total=Sum("quantity"))["total"] or D(0)
        assert summaries[site].allocatable_on_hand == allocatable
        assert summaries[site].allocated == held <= allocatable
    totals = _line_totals(twin)
    assert totals["allocated"] + totals["backordered"] == totals["quantity"]
    _invariants_hold()


# --- cancelling against confirming, and against itself --------------------------------------------------------


def test_cancelling_an_order_while_it_is_being_confirmed_always_ends_cancelled_holding_nothing(network):
    twin = _scarce("CLN-0003", {"NE-BOS": 40})
    seen = set()
    for _ in range(6):
        order = _draft(twin, [2, 3])

        confirmed, cancelled = _race(partial(sales_order_confirm, order=order, actor=None, now=WEDNESDAY_10AM),
                                     partial(sales_order_cancel, order=order, actor=None))

        assert isinstance(cancelled, SalesOrder) and cancelled.status == OrderStatus.CANCELLED, cancelled
        allocations = set(Allocation.objects.filter(line__order=order).values_list("status", "quantity"))
        if isinstance(confirmed, SalesOrder):  # confirmed first, then cancelled: its allocations were released
            seen.add("confirmed, then cancelled")
            assert confirmed.status == OrderStatus.ALLOCATED
            assert allocations == {(AllocationStatus.RELEASED, D(2)), (AllocationStatus.RELEASED, D(3))}
        else:  # cancelled first: the confirmation was refused and never allocated
            seen.add("cancelled, confirmation refused")
            assert isinstance(confirmed, InvalidOrderTransition) and confirmed.status == 409, confirmed
            assert allocations == set()
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED
        assert set(SalesOrderLine.objects.filter(order=order).values_list("status", "allocated_quantity")) == {
            (OrderStatus.CANCELLED, D(0))}
        assert _summaries(twin)["NE-BOS"].allocated == 0
    assert seen
    _invariants_hold()


@pytest.mark.parametrize("first", ["confirm", "cancel"])
def test_whichever_of_confirm_and_cancel_takes_the_order_first_it_ends_cancelled_holding_nothing(network, first):
    twin = _scarce("CLN-0003", {"NE-BOS": 40})
    order = _draft(twin, [2, 3])
    calls = {"confirm": partial(sales_order_confirm, order=order, actor=None, now=WEDNESDAY_10AM),
             "cancel": partial(sales_order_cancel, order=order, actor=None)}
    second = "cancel" if first == "confirm" else "confirm"
    # Holding the order's row lock, let both queue behind it in a known order. The cancel reads the order's open
    # allocations (none: a draft) before it queues; after a confirmation that went first it must find that read
    # stale, run again and release what the confirmation allocated.
    with transaction.atomic():
        SalesOrder.objects.select_for_update().get(pk=order.pk)
        running = {}
        for queued, name in enumerate((first, second), start=1):
            running[name] = _start(calls[name])
            _wait_until_waiting_for_locks(queued)
    for thread, _ in running.values():
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread, _ in running.values()), "a racing thread hung"
    (confirmed,), (cancelled,) = running["confirm"][1], running["cancel"][1]

    assert isinstance(cancelled, SalesOrder) and cancelled.status == OrderStatus.CANCELLED, cancelled
    allocations = sorted(Allocation.objects.filter(line__order=order).values_list("status", "quantity"))
    if first == "confirm":
        assert isinstance(confirmed, SalesOrder) and confirmed.status == OrderStatus.ALLOCATED, confirmed
        assert allocations == [(AllocationStatus.RELEASED, D(2)), (AllocationStatus.RELEASED, D(3))]
    else:
        assert isinstance(confirmed, InvalidOrderTransition) and confirmed.status == 409, confirmed
        assert allocations == []
    assert set(SalesOrderLine.objects.filter(order=order).values_list("status", "allocated_quantity")) == {
        (OrderStatus.CANCELLED, D(0))}
    assert _summaries(twin)["NE-BOS"].allocated == 0
    _invariants_hold()


def test_four_threads_cancelling_one_order_cancel_it_once_and_release_its_allocations_once(network):
    twin = _scarce("CLN-0003", {"NE-BOS": 10})
    kept = sales_order_confirm(order=_draft(twin, [5]), actor=None, now=WEDNESDAY_10AM)
    # Released twice, the racing order's 4 would leave 9 - 8 = 1 allocated: the constraint would not see it.
    racing = sales_order_confirm(order=_draft(twin, [1, 3]), actor=None, now=WEDNESDAY_10AM)
    draft = _draft(twin, [2])
    assert _summaries(twin)["NE-BOS"].allocated == 9

    for order in (racing, draft):
        outcomes = _race(*[partial(sales_order_cancel, order=order, actor=None)] * 4)

        won = [o for o in outcomes if isinstance(o, SalesOrder)]
        lost = [o for o in outcomes if isinstance(o, InvalidOrderTransition) and o.status == 409]
        assert (len(won), len(lost)) == (1, 3), outcomes
        assert won[0].status == OrderStatus.CANCELLED
    assert _summaries(twin)["NE-BOS"].allocated == 5
    assert list(Allocation.objects.filter(line__order=racing).values_list("status", flat=True)) == [
        AllocationStatus.RELEASED] * 2
    kept.refresh_from_db()
    assert kept.status == OrderStatus.ALLOCATED
    _invariants_hold()


def test_four_threads_confirming_one_order_allocate_it_once(network):
    twin = _scarce("CLN-0003", {"NE-BOS": 10})
    order = _draft(twin, [2, 3])

    outcomes = _race(*[partial(sales_order_confirm, order=order, actor=None, now=WEDNESDAY_10AM)] * 4)

    won = [o for o in outcomes if isinstance(o, SalesOrder)]
    lost = [o for o in outcomes if isinstance(o, InvalidOrderTransition) and o.status == 409]
    assert (len(won), len(lost)) == (1, 3), outcomes
    assert won[0].status == OrderStatus.ALLOCATED
    assert Allocation.objects.filter(line__order=order, status=AllocationStatus.OPEN).count() == 2
    assert _summaries(twin)["NE-BOS"].allocated == 5
    _invariants_hold()


# --- backorders served while new orders confirm and stock arrives ------------------------------------------


def test_backorders_served_while_orders_confirm_and_stock_arrives_never_over_allocate(network):
    from orders.services.backorders import backorders_allocate

    twin = _scarce("CLN-0011", {"NE-BOS": 2})
    waiting = [sales_order_confirm(order=draft, actor=None, now=WEDNESDAY_10AM) for draft in _drafts(twin, 3, seed=9)]
    assert any(o.status in ("backordered", "partially_allocated") for o in waiting)
    drafts = _drafts(twin, 4, seed=10)

    def receive(site: str) -> None:
        stock.stock_receive(warehouse=warehouse(site), location=location(site, "A-01-01"), item=twin,
                            quantity=D(5), uom="EA", unit_cost=D(2), reference="race", actor=None)

    outcomes = _race(
        partial(backorders_allocate, item_ids=[twin.pk], now=WEDNESDAY_10AM),
        partial(backorders_allocate, item_ids=[twin.pk], now=WEDNESDAY_10AM),
        partial(receive, "NE-BOS"), partial(receive, "NE-NYC"),
        *[partial(sales_order_confirm, order=draft, actor=None, now=WEDNESDAY_10AM) for draft in drafts],
    )
    assert not [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, DomainError)], outcomes
    backorders_allocate(item_ids=[twin.pk], now=WEDNESDAY_10AM)  # whatever arrived last is served now

    summaries = _summaries(twin)
    totals = _line_totals(twin)
    allocated = sum((s.allocated for s in summaries.values()), D(0))
    assert totals["allocated"] == allocated
    assert totals["allocated"] + totals["backordered"] == totals["quantity"]
    for summary in summaries.values():
        assert 0 <= summary.allocated <= summary.allocatable_on_hand
    # Either all the stock is held or nothing waits any more.
    free = sum((s.allocatable_on_hand - s.allocated for s in summaries.values()), D(0))
    assert free == 0 or totals["backordered"] == 0
    _invariants_hold()
