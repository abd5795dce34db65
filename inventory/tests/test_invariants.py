"""``check_inventory_invariants`` (I2, I3) on clean data, after corruption, and after a race."""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from governance.services.approvals import approval_request_decide
from inventory import services, stock
from inventory.exceptions import InsufficientStock
from inventory.models import CycleCount, CycleCountLine, ItemWarehouseSummary, StockBalance, StockMove
from inventory.services.counts import (
    CountEntry,
    CountPair,
    cycle_count_cancel,
    cycle_count_create,
    cycle_count_record,
    cycle_count_recount,
    cycle_count_submit,
)
from inventory.tests.factories import dec, ensure_standard_statuses, item, location, warehouse


def _receive(quantity: str, sku: str = "HDW-0001", loc: str = "A-02-01") -> None:
    services.stock_receive(warehouse=warehouse(), location=location("NE-BOS", loc), item=item(sku),
                           quantity=dec(quantity), uom="EA", unit_cost=dec("3"), reference="test", actor=None)


@pytest.mark.django_db
def test_the_invariants_hold_on_data_posted_through_the_services(stock):
    _receive("7")
    services.stock_adjust_post(warehouse=warehouse(), location=location("NE-BOS", "A-02-01"), item=item("HDW-0001"),
                               quantity=dec("-2"), uom="EA", reason="LOST", actor=None)
    out = StringIO()
    call_command("check_inventory_invariants", stdout=out)
    assert "hold" in out.getvalue()


@pytest.mark.django_db
def test_a_balance_corrupted_behind_the_ledgers_back_is_reported_and_fails_the_command(stock):
    _receive("7")
    with connection.cursor() as cursor:  # the trigger guards the moves, not the balances
        cursor.execute("UPDATE inventory_stockbalance SET on_hand = on_hand + 1 "
                       "WHERE item_id = %s AND location_id = %s", [item("HDW-0001").pk,
                                                                     location("NE-BOS", "A-02-01").pk])
    err = StringIO()
    with pytest.raises(CommandError, match="violation"):
        call_command("check_inventory_invariants", stderr=err)
    report = err.getvalue()
    assert "balance differs from the sum of its moves" in report
    assert "summary differs from the sum of its balances" in report


@pytest.mark.django_db(transaction=True)
def test_eight_threads_adjusting_the_same_balances_never_lose_an_update_or_go_negative(demo):
    ensure_standard_statuses()
    _receive("20", loc="A-03-01")
    _receive("20", loc="A-03-02")
    bos, hdw = warehouse(), item("HDW-0001")
    locations = [location("NE-BOS", "A-03-01"), location("NE-BOS", "A-03-02")]
    barrier = threading.Barrier(8)
    accepted: list[Decimal] = []
    refused: list[InsufficientStock] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def adjust(seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(12):
                quantity = Decimal(rng.choice([-9, -7, -5, -3, 2, 4]))
                # Two balances in both orders: without the global lock order these would deadlock.
                spots = locations if rng.random() < 0.5 else locations[::-1]
                specs = [stock.MoveSpec(item=hdw, warehouse=bos, location=spot, quantity=quantity,
                                           status=services.stock_status("available")) for spot in spots]
                try:
                    services.stock_moves_post_command(moves=specs, reference_type="race", actor=None)
                except InsufficientStock as exc:
                    with lock:
                        refused.append(exc)
                else:
                    with lock:
                        accepted.append(quantity)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=adjust, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert accepted and refused, "the race should both accept and refuse some adjustments"
    expected = Decimal(20) + sum(accepted)
    for spot in locations:
        balance = StockBalance.objects.get(item=hdw, location=spot, lot__isnull=True)
        assert balance.on_hand == expected >= 0
    summary = ItemWarehouseSummary.objects.get(item=hdw, warehouse=bos)
    assert summary.on_hand == 2 * expected
    assert StockMove.objects.filter(reference_type="race").count() == 2 * len(accepted)
    call_command("check_inventory_invariants", stdout=StringIO())


# --- cycle counts: the ledger, the line states and the approval agree with each count -------------------


@pytest.fixture
def counted(stock: Any) -> Any:
    """100 EA of a stock-free twin at each of NE-BOS A-01-01 and A-01-02, at 1.00 (tolerance: 2 units)."""
    twin = item("CLN-0001")
    for spot in ("A-01-01", "A-01-02"):
        services.stock_receive(warehouse=warehouse(), location=location("NE-BOS", spot), item=twin,
                               quantity=dec(100), uom="EA", unit_cost=dec(1), reference="test", actor=None)
    return twin


def _count_of(twin: Any, *found: str, actor: Any = None, submit: bool = True) -> CycleCount:
    """A count of ``twin`` at A-01-01 (and A-01-02 when two quantities are given), counted as ``found``."""
    spots = [location("NE-BOS", code) for code in ("A-01-01", "A-01-02")[:len(found)]]
    count = cycle_count_create(warehouse=warehouse(), pairs=[CountPair(location=spot, item=twin) for spot in spots],
                               actor=actor)
    entries = [CountEntry(location=spot, item=twin, quantity=dec(quantity), uom="EA")
               for spot, quantity in zip(spots, found, strict=True)]
    if not submit:
        cycle_count_record(count=count, entries=entries, actor=actor)
        return count
    return cycle_count_submit(count=count, entries=entries, actor=actor)


def _violations() -> str:
    err = StringIO()
    with pytest.raises(CommandError, match="violation"):
        call_command("check_inventory_invariants", stdout=StringIO(), stderr=err)
    return err.getvalue()


def _sql(statement: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:  # behind the services' back: no trigger guards count lines
        cursor.execute(statement, params)


@pytest.mark.django_db
def test_the_count_invariants_hold_through_every_way_a_count_ends(counted, user):
    operator, approver = user("ne.operator"), user("ne.supervisor")  # NE's variances below 1,000 are theirs
    _count_of(counted, "99", "100", actor=operator)  # posted at once, one line without a variance
    approved = _count_of(counted, "90", actor=operator)
    approval_request_decide(request=approved.approval_request, actor=approver, approve=True)
    rejected = _count_of(counted, "150", "101", actor=operator)
    approval_request_decide(request=rejected.approval_request, actor=approver, approve=False)
    recount = cycle_count_recount(count=_count_of(counted, "50", actor=operator), actor=approver)
    _count_of(counted, "70", actor=operator)  # left waiting for approval
    cycle_count_cancel(count=recount, actor=operator)
    _count_of(counted, "10", actor=operator, submit=False)  # left open, counted
    out = StringIO()
    call_command("check_inventory_invariants", stdout=out)
    assert "hold" in out.getvalue()


@pytest.mark.django_db
def test_a_posted_count_line_whose_variance_differs_from_its_ledger_move_fails_the_command(counted):
    count = _count_of(counted, "99")
    _sql("UPDATE inventory_cyclecountline SET counted_quantity = counted_quantity - 1, variance = variance - 1 "
         "WHERE count_id = %s", [count.pk])
    report = _violations()
    move = CycleCountLine.objects.get(count=count).move
    assert (f"posted count line without its ledger move: {count.number} line 1: variance -2.0000, "
            f"move {move.pk} of -1.0000 referencing cycle_count {count.pk}") in report


@pytest.mark.django_db
def test_a_posted_count_line_that_lost_its_move_fails_the_command_and_names_the_orphaned_move(counted):
    count = _count_of(counted, "101")
    move = CycleCountLine.objects.get(count=count).move
    _sql("UPDATE inventory_cyclecountline SET move_id = NULL WHERE count_id = %s", [count.pk])
    report = _violations()
    assert f"posted count line without its ledger move: {count.number} line 1: variance 1.0000, no move" in report
    assert f"count move not on a posted line of its count: move {move.pk} ({count.number}) of 1.0000" in report


@pytest.mark.django_db
def test_a_posted_count_line_without_a_variance_may_not_carry_a_move(counted):
    count = _count_of(counted, "99", "100")
    moved = CycleCountLine.objects.get(count=count, line_no=1)
    _sql("UPDATE inventory_cyclecountline SET move_id = %s WHERE count_id = %s AND line_no = 2",
         [moved.move_id, count.pk])
    report = _violations()
    assert (f"count line with a ledger move it should not have: {count.number} line 2 (posted, variance 0.0000) "
            f"has move {moved.move_id}") in report


@pytest.mark.django_db
def test_a_posted_count_with_a_line_still_waiting_for_approval_fails_the_command(counted):
    count = _count_of(counted, "100", "100")
    _sql("UPDATE inventory_cyclecountline SET state = 'pending_approval' WHERE count_id = %s AND line_no = 2",
         [count.pk])
    report = _violations()
    assert (f"count line in a state its count's status does not allow: {count.number} is posted, "
            f"its line 2 is pending_approval") in report


@pytest.mark.django_db
def test_an_open_count_with_a_line_already_posted_fails_the_command(counted):
    count = _count_of(counted, "98", submit=False)
    _sql("UPDATE inventory_cyclecountline SET state = 'posted' WHERE count_id = %s", [count.pk])
    report = _violations()
    assert (f"count line in a state its count's status does not allow: {count.number} is open, "
            f"its line 1 is posted") in report


@pytest.mark.django_db
def test_a_count_waiting_for_approval_whose_request_is_no_longer_pending_fails_the_command(counted, user):
    count = _count_of(counted, "80", actor=user("ne.operator"))
    _sql("UPDATE governance_approvalrequest SET status = 'cancelled' WHERE id = %s", [count.approval_request_id])
    report = _violations()
    assert (f"count waiting for approval without a pending approval request: {count.number}: approval request "
            f"{count.approval_request_id} (cycle_count {count.pk}) is cancelled") in report


@pytest.mark.django_db
def test_a_count_marked_posted_after_its_approval_was_rejected_fails_the_command(counted, user):
    count = _count_of(counted, "80", actor=user("ne.operator"))
    approval_request_decide(request=count.approval_request, actor=user("ne.supervisor"), approve=False)
    _sql("UPDATE inventory_cyclecount SET status = 'posted' WHERE id = %s", [count.pk])
    report = _violations()
    assert (f"count decided otherwise than its approval request: {count.number} is posted; approval request "
            f"{count.approval_request_id} (cycle_count {count.pk}) is rejected") in report
    assert f"{count.number} is posted, its line 1 is rejected" in report


@pytest.mark.django_db
def test_a_pending_count_approval_whose_count_moved_on_fails_the_command(counted, user):
    count = _count_of(counted, "80", actor=user("ne.operator"))
    _sql("UPDATE inventory_cyclecount SET approval_request_id = NULL WHERE id = %s", [count.pk])
    report = _violations()
    assert f"{count.number}: no approval request" in report
    assert (f"pending count approval whose count is not waiting for it: approval request "
            f"{count.approval_request_id} for count {count.pk}: {count.number} is pending_approval") in report
