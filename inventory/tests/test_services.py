"""The ledger: posting, balances, summaries, lots, units, valuation, the append-only trigger."""

from __future__ import annotations

import datetime
import time
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from erp.exceptions import ValidationFailed
from inventory import services, stock
from inventory.exceptions import (
    InsufficientStock,
    LocationMismatch,
    LotNotAllowed,
    LotRequired,
    UnknownLot,
    UnknownReason,
    UnknownUnit,
    UomPrecision,
)
from inventory.models import ItemCost, ItemWarehouseSummary, Lot, StockBalance, StockMove
from inventory.selectors import fefo_lots, stock_value
from inventory.services import stock_status
from inventory.stock import MoveSpec
from inventory.tests.factories import dec, item, location, plain_items, storage_locations, warehouse

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock")]


def _receive(sku="CLN-0001", quantity="10", uom="EA", unit_cost="2", loc="A-01-01", wh="NE-BOS", **extra):
    return services.stock_receive(warehouse=warehouse(wh), location=location(wh, loc), item=item(sku),
                                  quantity=dec(quantity), uom=uom, unit_cost=dec(unit_cost), reference="test",
                                  actor=None, **extra)


def _adjust(sku="CLN-0001", quantity="-1", uom="EA", loc="A-01-01", wh="NE-BOS", reason="LOST", **extra):
    return services.stock_adjust_post(warehouse=warehouse(wh), location=location(wh, loc), item=item(sku),
                                      quantity=dec(quantity), uom=uom, reason=reason, actor=None, **extra)


def _balance(sku="CLN-0001", loc="A-01-01", wh="NE-BOS", status="available", lot=None):
    return StockBalance.objects.get(item=item(sku), location__code=loc, warehouse__code=wh, status__code=status,
                                    lot__lot_number=lot) if lot else StockBalance.objects.get(
        item=item(sku), location__code=loc, warehouse__code=wh, status__code=status, lot__isnull=True)


def test_a_receipt_writes_a_move_and_brings_balance_summary_and_cost_along():
    (move,) = _receive(quantity="2", uom="CS", unit_cost="1.5")  # a case of CLN is 6 each

    assert move.quantity == Decimal("12") and move.unit_cost == Decimal("1.5") and move.value == Decimal("18")
    assert move.reference_type == "receipt" and move.status.code == "available"
    assert _balance().on_hand == Decimal(12)
    summary = ItemWarehouseSummary.objects.get(item=item("CLN-0001"), warehouse__code="NE-BOS")
    assert (summary.on_hand, summary.allocatable_on_hand, summary.blocked, summary.allocated) == (12, 12, 0, 0)
    cost = ItemCost.objects.get(item=item("CLN-0001"), legal_entity=warehouse().legal_entity)
    assert (cost.quantity, cost.unit_cost) == (Decimal(12), Decimal("1.5"))


def test_the_moving_average_is_kept_per_legal_entity_and_issues_carry_it():
    _receive(quantity="10", unit_cost="2")
    _receive(quantity="30", unit_cost="4", wh="NE-NYC")  # same legal entity as NE-BOS
    _receive(quantity="5", unit_cost="100", wh="EU-RTM")  # another legal entity, another average

    issue = _adjust(quantity="-5")

    assert issue.unit_cost == Decimal("3.5") and issue.value == Decimal("-17.5")
    assert ItemCost.objects.get(item=item("CLN-0001"), legal_entity__code="EU01").unit_cost == Decimal(100)


def _value_rows(**filters):
    return {(row["warehouse"], row["status"]): row for row in stock_value(**filters)}


def test_stock_value_is_on_hand_times_the_average_by_warehouse_and_status():
    before = _value_rows(warehouse=warehouse())
    _receive(quantity="10", unit_cost="2")
    _receive(quantity="10", unit_cost="4")
    damaged = MoveSpec(item=item(), warehouse=warehouse(), location=location(), status=stock_status("damaged"),
                       quantity=Decimal(2))
    services.stock_moves_post_command(moves=[damaged], reference_type="test", actor=None)

    rows = _value_rows(warehouse=warehouse())

    # The demo's opening stock is all available at NE-BOS; the test's own stock adds to it.
    assert set(before) == {("NE-BOS", "available")}
    assert set(rows) == {("NE-BOS", "available"), ("NE-BOS", "damaged")}
    available, opening = rows[("NE-BOS", "available")], before[("NE-BOS", "available")]
    assert available["quantity"] - opening["quantity"] == Decimal(20)
    assert available["value"] - opening["value"] == Decimal(60)
    assert rows[("NE-BOS", "damaged")] == {"warehouse": "NE-BOS", "status": "damaged", "valued": False,
                                           "quantity": Decimal(2), "value": Decimal(6)}
    summary = ItemWarehouseSummary.objects.get(item=item("CLN-0001"), warehouse__code="NE-BOS")
    assert (summary.on_hand, summary.allocatable_on_hand, summary.blocked) == (22, 20, 2)


def test_amounts_beyond_the_columns_are_refused_as_bad_input_not_a_server_error():
    with pytest.raises(ValidationFailed):
        _receive(quantity="10", unit_cost="1e13")
    with pytest.raises(ValidationFailed):
        _receive(quantity="99999999999999", unit_cost="100")
    with pytest.raises(ValidationFailed):
        _receive(quantity="NaN")
    assert not StockMove.objects.filter(item=item("CLN-0001")).exists()


def test_taking_more_than_the_balance_holds_is_refused_and_writes_nothing():
    _receive(quantity="3")
    moves_before = StockMove.objects.count()

    with pytest.raises(InsufficientStock) as refused:
        _adjust(quantity="-4")

    assert refused.value.status == 409 and refused.value.code == "insufficient_stock"
    assert refused.value.detail == {"sku": "T-CLN-0001", "warehouse": "NE-BOS", "location": "A-01-01", "lot": None,
                                    "status": "available", "available": "3.0000", "requested": "4.0000"}
    assert StockMove.objects.count() == moves_before
    assert _balance().on_hand == Decimal(3)


def test_the_allocatable_stock_may_not_fall_below_what_is_allocated():
    _receive(quantity="5")
    ItemWarehouseSummary.objects.filter(item=item("CLN-0001"), warehouse__code="NE-BOS").update(allocated=4)

    with pytest.raises(InsufficientStock) as refused:
        _adjust(quantity="-2")

    assert refused.value.detail["allocated"] == "4.0000" and refused.value.detail["available"] == "1.0000"


def test_the_database_refuses_negative_stock_and_over_allocation_even_without_the_service():
    _receive(quantity="5")
    with pytest.raises(IntegrityError), transaction.atomic():
        StockBalance.objects.filter(pk=_balance().pk).update(on_hand=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ItemWarehouseSummary.objects.filter(item=item("CLN-0001"), warehouse__code="NE-BOS").update(allocated=6)


def test_the_ledger_refuses_update_and_delete():
    (move,) = _receive(quantity="5")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StockMove.objects.filter(pk=move.pk).update(quantity=6)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM inventory_stockmove WHERE id = %s", [move.pk])
    assert StockMove.objects.get(pk=move.pk).quantity == Decimal(5)


def test_a_lot_tracked_item_refuses_a_move_without_a_lot_and_a_plain_item_refuses_one():
    with pytest.raises(LotRequired) as refused:
        _receive(sku="BEV-0001")
    assert refused.value.code == "lot_required" and refused.value.status == 400
    with pytest.raises(LotNotAllowed):
        _receive(sku="CLN-0001", lot_number="L1")
    spec = MoveSpec(item=item("BEV-0001"), warehouse=warehouse(), location=location(), status=stock_status("available"),
                    quantity=Decimal(1))
    with pytest.raises(LotRequired):
        services.stock_moves_post_command(moves=[spec], reference_type="test", actor=None)


def test_a_new_lot_expires_on_the_given_date_or_after_the_items_shelf_life():
    _receive(sku="BEV-0001", lot_number="L-GIVEN", expiry_date=datetime.date(2030, 1, 31))
    _receive(sku="BEV-0001", lot_number="L-SHELF")

    assert Lot.objects.get(lot_number="L-GIVEN").expiry_date == datetime.date(2030, 1, 31)
    shelf = Lot.objects.get(lot_number="L-SHELF")
    assert shelf.expiry_date == shelf.received_on + datetime.timedelta(days=365)
    assert _balance(sku="BEV-0001", lot="L-SHELF").on_hand == Decimal(10)


def test_taking_from_a_lot_that_does_not_exist_is_refused():
    with pytest.raises(UnknownLot):
        _adjust(sku="BEV-0001", lot_number="NOPE")


def test_fefo_lists_unexpired_lots_first_expiring_first_and_leaves_expired_ones_out():
    today = datetime.date(2031, 6, 1)
    _receive(sku="BEV-0002", lot_number="LATE", expiry_date=datetime.date(2031, 12, 1))
    _receive(sku="BEV-0002", lot_number="SOON", expiry_date=datetime.date(2031, 7, 1), loc="A-01-02")
    _receive(sku="BEV-0002", lot_number="TODAY", expiry_date=today)
    _receive(sku="BEV-0002", lot_number="GONE", expiry_date=datetime.date(2031, 5, 31))

    lots = fefo_lots(item=item("BEV-0002"), warehouse=warehouse(), at=today)

    assert [(row.lot.lot_number, row.on_hand) for row in lots] == [("TODAY", 10), ("SOON", 10), ("LATE", 10)]


def test_an_unknown_unit_or_a_lossy_conversion_is_refused():
    with pytest.raises(UnknownUnit) as refused:
        _receive(uom="KG")
    assert refused.value.code == "unknown_uom" and refused.value.status == 400
    with pytest.raises(UomPrecision):
        _receive(quantity="0.00001")


def test_an_adjustment_needs_an_adjustment_reason_and_a_location_of_its_warehouse():
    _receive(quantity="5")
    with pytest.raises(UnknownReason):
        _adjust(reason="QC-HOLD")
    with pytest.raises(UnknownReason):
        _adjust(reason="NO-SUCH")
    with pytest.raises(LocationMismatch):
        services.stock_adjust_post(warehouse=warehouse("NE-BOS"), location=location("NE-NYC"), item=item(),
                                   quantity=dec(1), uom="EA", reason="FOUND", actor=None)
    with pytest.raises(ValidationFailed):
        _adjust(quantity="0")


def test_an_adjustment_records_its_reason_and_the_balance_follows():
    _receive(quantity="5")
    move = _adjust(quantity="-2", reason="SCRAP")
    assert move.reason.code == "SCRAP" and move.reference_type == "adjustment"
    assert _balance().on_hand == Decimal(3)


def _batch(size: int) -> list[MoveSpec]:
    available = stock_status("available")
    items, locations, bos = plain_items(50), storage_locations(), warehouse()
    return [MoveSpec(item=items[n % len(items)], warehouse=bos, location=locations[(n // len(items)) % len(locations)],
                     status=available, quantity=Decimal(n + 1), unit_cost=Decimal("1.25")) for n in range(size)]


def test_posting_500_lines_costs_the_same_queries_as_5_lines():
    small, large = _batch(5), _batch(500)
    assert len({(s.item.pk, s.location.pk) for s in large}) == 500

    with CaptureQueriesContext(connection) as five:
        services.stock_moves_post_command(moves=small, reference_type="batch", actor=None)
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as five_hundred:
        moves = services.stock_moves_post_command(moves=large, reference_type="batch", actor=None)
    elapsed = time.perf_counter() - started

    assert len(moves) == 500
    assert len(five) == len(five_hundred), [q["sql"][:80] for q in five_hundred.captured_queries]
    # 11 for the posting (see stock.post_moves), the audit stamp, and the test's savepoint around the command.
    assert len(five_hundred) <= 14, [q["sql"][:60] for q in five_hundred.captured_queries]
    assert elapsed < 2.0, f"500 lines took {elapsed:.2f}s (the W3 floor of 0.5 s is measured by make bench)"


def test_post_moves_joins_the_callers_command_and_rolls_back_with_it():
    from erp.transactions import run_command

    spec = MoveSpec(item=item(), warehouse=warehouse(), location=location(), status=stock_status("available"),
                    quantity=Decimal(4), unit_cost=Decimal(1))

    def post_then_fail() -> None:
        stock.post_moves(moves=[spec], reference_type="test", actor=None)
        raise InsufficientStock()

    with pytest.raises(InsufficientStock):
        run_command(post_then_fail)
    assert not StockMove.objects.filter(item=item("CLN-0001")).exists()
    assert not StockBalance.objects.filter(item=item("CLN-0001"), on_hand__gt=0).exists()
