"""Status changes: stock moves between statuses along the allowed transitions, with their reasons."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from governance.models import OperationalException
from inventory import services
from inventory.exceptions import InvalidStatusTransition
from inventory.models import ItemWarehouseSummary, StockBalance, StockMove
from inventory.tests.factories import item, location, warehouse

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def mover(stock: Any, user: Any) -> Any:
    operator = user("ne.operator")
    operator.user_permissions.add(Permission.objects.get(content_type__app_label="inventory",
                                                         codename="change_stock_status"))
    return operator


@pytest.fixture
def fifty(stock: Any) -> Any:
    """50 EA of a stock-free twin at NE-BOS A-01-01, at 2.00 each."""
    twin = item("CLN-0001")
    services.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                           quantity=D(50), uom="EA", unit_cost=D(2), reference="test", actor=None)
    return twin


def _post(client: Any, **overrides: Any) -> Any:
    body = {"warehouse": "NE-BOS", "location": "A-01-01", "sku": "T-CLN-0001", "quantity": "5", "uom": "EA",
            "from_status": "available", "to_status": "quality_hold", "reason": "QC-HOLD", **overrides}
    return client.post(reverse("api:stock-status-change-list"), body, format="json")


def _summary(twin: Any) -> ItemWarehouseSummary:
    return ItemWarehouseSummary.objects.get(item=twin, warehouse__code="NE-BOS")


def test_putting_five_on_quality_hold_drops_available_by_five_and_raises_one_damaged_goods_exception(
        fifty, mover, api_as):
    response = _post(api_as("ne.operator"))
    assert response.status_code == 201, response.json()
    moves = response.json()["moves"]
    assert [(m["status"], m["quantity"]) for m in moves] == [("available", "-5.0000"), ("quality_hold", "5.0000")]
    assert all(m["unit_cost"] == "2.000000" and m["reason"] == "QC-HOLD" for m in moves)
    summary = _summary(fifty)
    assert (summary.on_hand, summary.allocatable_on_hand, summary.blocked) == (D(50), D(45), D(5))
    raised = OperationalException.objects.get(type="damaged_goods", business_key="damaged:NE-BOS:T-CLN-0001:-")
    assert raised.warehouse.code == "NE-BOS" and raised.raised_count == 1

    assert _post(api_as("ne.operator")).status_code == 201
    raised.refresh_from_db()
    assert raised.raised_count == 2
    assert OperationalException.objects.filter(type="damaged_goods", business_key__contains="T-CLN-0001").count() == 1
    assert _summary(fifty).allocatable_on_hand == D(40)


def test_releasing_from_quality_hold_raises_no_exception(fifty, mover, user):
    services.stock_status_change(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=fifty,
                                 quantity=D(5), uom="EA", from_status="available", to_status="quality_hold",
                                 reason="QC-HOLD", actor=user("ne.operator"))
    OperationalException.objects.filter(type="damaged_goods").delete()
    services.stock_status_change(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=fifty,
                                 quantity=D(5), uom="EA", from_status="quality_hold", to_status="available",
                                 reason="QC-RELEASE", actor=user("ne.operator"))
    assert _summary(fifty).allocatable_on_hand == D(50) and _summary(fifty).blocked == D(0)
    assert not OperationalException.objects.filter(type="damaged_goods").exists()


def test_the_location_may_be_left_out_when_the_stock_is_in_one_place(fifty, mover, api_as):
    response = _post(api_as("ne.operator"), location=None, to_status="damaged", reason="DAMAGE")
    assert response.status_code == 201, response.json()
    assert {m["location"] for m in response.json()["moves"]} == {"A-01-01"}
    damaged = StockBalance.objects.get(item=fifty, status__code="damaged")
    assert damaged.on_hand == D(5)


def test_a_forbidden_transition_is_refused_with_409(fifty, user):
    with pytest.raises(InvalidStatusTransition):
        services.stock_status_change(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"),
                                     item=fifty, quantity=D(1), uom="EA", from_status="damaged",
                                     to_status="available", reason="QC-RELEASE", actor=user("ne.operator"))


def test_a_status_change_needs_its_permission(fifty, api_as):
    # The planner reads stock everywhere but does not move it.
    response = _post(api_as("planner"))
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


BAD_INPUT = [
    ({"quantity": "0"}, 400, "invalid_quantity"),
    ({"quantity": "-5"}, 400, "invalid_quantity"),
    ({"quantity": "999999999999999"}, 400, "validation_error"),
    ({"quantity": "NaN"}, 400, "validation_error"),
    ({"quantity": "-Infinity"}, 400, "validation_error"),
    ({"quantity": "five"}, 400, "validation_error"),
    ({"quantity": "51"}, 409, "insufficient_stock"),
    ({"sku": "NO-SUCH-SKU"}, 400, "validation_error"),
    ({"location": "Z-99-99"}, 400, "validation_error"),
    ({"warehouse": "EU-RTM"}, 400, "validation_error"),          # outside the caller's scope: does not exist
    ({"lot": "L1"}, 400, "lot_not_allowed"),
    ({"from_status": "nope"}, 400, "unknown_status"),
    ({"to_status": "nope"}, 400, "unknown_status"),
    ({"uom": "PALLET9"}, 400, "unknown_uom"),
    ({"reason": "NOPE"}, 400, "unknown_reason"),
    ({"reason": "LOST"}, 400, "unknown_reason"),                  # an adjustment reason
    ({"to_status": "available"}, 409, "invalid_status_transition"),  # to itself
    ({"from_status": "damaged", "to_status": "available", "reason": "QC-RELEASE"}, 409,
     "invalid_status_transition"),
    ({"to_status": "damaged", "reason": "QC-HOLD"}, 409, "invalid_status_transition"),  # the wrong reason
    ({"from_status": "quality_hold", "to_status": "available", "reason": "QC-RELEASE"}, 409, "insufficient_stock"),
    ({"sku": "T-BEV-0001"}, 400, "lot_required"),
    ({"sku": "T-BEV-0001", "lot": "NO-LOT"}, 400, "unknown_lot"),
    ({"surprise": 1}, 400, "validation_error"),
]


@pytest.mark.parametrize(("overrides", "status_code", "code"), BAD_INPUT)
def test_bad_status_change_input_is_refused_in_the_error_shape_and_moves_nothing(fifty, mover, api_as, overrides,
                                                                                 status_code, code):
    item("BEV-0001")
    moves, exceptions = StockMove.objects.count(), OperationalException.objects.count()
    response = _post(api_as("ne.operator"), **overrides)
    body = response.json()
    assert response.status_code == status_code, body
    assert body["code"] == code and set(body) == {"code", "message", "detail"}
    assert StockMove.objects.count() == moves and OperationalException.objects.count() == exceptions
