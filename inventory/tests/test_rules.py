"""Pure rules: unit conversion and the moving average, without a database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.exceptions import InvalidQuantity, UomPrecision
from inventory.rules import CostState, base_quantity, cost_after, from_base, move_value, to_base

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
