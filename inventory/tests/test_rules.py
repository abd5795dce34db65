"""Pure rules: unit conversion and the moving average, without a database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.exceptions import InvalidQuantity, UomPrecision
from inventory.rules import (
    CostState,
    LotStock,
    base_quantity,
    choose_lots,
    cost_after,
    from_base,
    move_value,
    to_base,
    usable_lots,
)

quantities = st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=4,
                         allow_nan=False, allow_infinity=False)
whole_factors = st.integers(min_value=1, max_value=10_000).map(Decimal)


def test_a_case_of_twelve_converts_exactly_to_base_units():
    assert to_base(Decimal("2.5"), Decimal(12)) == Decimal("30.0000")
    assert str(to_base(Decimal(3), Decimal(1))) == "3.0000"


def test_a_conversion_needing_more_than_four_places_is_refused_not_rounded():
    with pytest.raises(UomPrecision) as refused:
        to_base(Decimal("0.0001"), Decimal("0.5"))
    assert refused.value.code == "uom_precision" and refused.value.status == 400


def test_a_fractional_factor_within_four_places_is_exact():
    assert to_base(Decimal("3"), Decimal("0.4536")) == Decimal("1.3608")


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "abc", None])
def test_non_numbers_are_refused_as_invalid_quantities(bad):
    with pytest.raises(InvalidQuantity):
        to_base(bad, Decimal(1))


def test_zero_and_too_many_places_are_refused_as_posted_quantities():
    with pytest.raises(InvalidQuantity):
        base_quantity(Decimal(0))
    with pytest.raises(UomPrecision):
        base_quantity(Decimal("1.00001"))
    with pytest.raises(InvalidQuantity):
        base_quantity(Decimal("1e20"))


def test_from_base_rounds_half_even_once_to_four_places():
    assert from_base(Decimal(1), Decimal(3)) == Decimal("0.3333")
    assert from_base(Decimal("0.00025"), Decimal(1)) == Decimal("0.0002")
    assert from_base(Decimal("0.00035"), Decimal(1)) == Decimal("0.0004")


@given(quantities, whole_factors)
def test_whole_factors_always_convert_exactly_and_back(quantity, factor):
    base = to_base(quantity, factor)
    assert base == quantity * factor
    assert from_base(base, factor) == quantity


def test_a_receipt_moves_the_average_and_an_issue_keeps_it():
    state = cost_after(CostState(Decimal(0), Decimal(0)), Decimal(10), Decimal(2))
    assert state == CostState(Decimal(10), Decimal("2.000000"))
    state = cost_after(state, Decimal(30), Decimal(4))
    assert state == CostState(Decimal(40), Decimal("3.500000"))
    state = cost_after(state, Decimal(-5), None)
    assert state == CostState(Decimal(35), Decimal("3.500000"))
    assert move_value(Decimal(-5), state.unit_cost) == Decimal("-17.5000")


def test_the_average_is_rounded_half_even_to_six_places():
    state = cost_after(CostState(Decimal(2), Decimal(1)), Decimal(1), Decimal(0))
    assert state.unit_cost == Decimal("0.666667")


def test_a_receipt_after_nothing_was_valued_takes_the_receipt_cost():
    state = cost_after(CostState(Decimal(0), Decimal("9.99")), Decimal(5), Decimal("1.25"))
    assert state.unit_cost == Decimal("1.250000")


# --- lot choice: FEFO, FIFO, never expired by the ship date -----------------------------------------------

def _lot(lot_id: int, quantity: str, expiry: str | None, received: str, number: str | None = None) -> LotStock:
    return LotStock(lot_id, Decimal(quantity), date.fromisoformat(expiry) if expiry else None,
                    date.fromisoformat(received), number or f"L{lot_id}")


SHIP = date(2030, 6, 15)  # the rules are pure functions of their arguments: any date serves


def test_fefo_takes_the_first_to_expire_first_and_lots_that_never_expire_last():
    lots = [_lot(1, "5", None, "2030-01-01"), _lot(2, "5", "2030-09-01", "2030-02-01"),
            _lot(3, "5", "2030-07-01", "2030-03-01")]
    assert choose_lots(Decimal(12), lots, rule="fefo", ship_date=SHIP) == [(3, Decimal(5)), (2, Decimal(5)),
                                                                             (1, Decimal(2))]


def test_fifo_takes_the_first_received_first_whatever_the_expiry():
    lots = [_lot(1, "5", "2030-07-01", "2030-03-01"), _lot(2, "5", "2030-09-01", "2030-01-01")]
    assert choose_lots(Decimal(6), lots, rule="fifo", ship_date=SHIP) == [(2, Decimal(5)), (1, Decimal(1))]


def test_a_lot_expiring_on_the_ship_date_may_leave_one_expired_the_day_before_never():
    on_the_day = _lot(1, "5", "2030-06-15", "2030-01-01")
    day_before = _lot(2, "5", "2030-06-14", "2029-12-01")
    assert [lot.lot_id for lot in usable_lots([day_before, on_the_day], rule="fefo", ship_date=SHIP)] == [1]
    assert choose_lots(Decimal(10), [day_before, on_the_day], rule="fifo", ship_date=SHIP) == [(1, Decimal(5))]


def test_ties_go_to_the_lower_lot_number_whatever_order_the_rows_came_in():
    a, b = _lot(7, "1", "2030-07-01", "2030-01-01", "A-1"), _lot(3, "1", "2030-07-01", "2030-01-01", "B-1")
    for rule in ("fefo", "fifo"):
        assert [lot.lot_number for lot in usable_lots([b, a], rule=rule, ship_date=SHIP)] == ["A-1", "B-1"]


def test_empty_lots_are_skipped_and_a_short_take_adds_up_to_what_the_lots_hold():
    lots = [_lot(1, "0", "2030-07-01", "2030-01-01"), _lot(2, "-1", "2030-07-02", "2030-01-01"),
            _lot(3, "2.5", "2030-07-03", "2030-01-01")]
    assert choose_lots(Decimal(4), lots, rule="fefo", ship_date=SHIP) == [(3, Decimal("2.5"))]
    assert choose_lots(Decimal(4), [], rule="fefo", ship_date=SHIP) == []


def test_an_unknown_lot_rule_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown lot rule"):
        usable_lots([], rule="lifo", ship_date=SHIP)
