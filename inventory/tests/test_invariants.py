"""``check_inventory_invariants`` (I2, I3) on clean data, after corruption, and after a race."""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from inventory import services
from inventory.exceptions import InsufficientStock
from inventory.models import ItemWarehouseSummary, StockBalance, StockMove
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
                specs = [services.MoveSpec(item=hdw, warehouse=bos, location=spot, quantity=quantity,
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
