"""Stock adjustments: small ones post at once, larger ones wait for the approval engine (issue 4, point 6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from governance.models import ApprovalRequest, ApprovalStatus
from inventory import rules, services
from inventory.exceptions import InsufficientStock
from inventory.models import AdjustmentStatus, ItemWarehouseSummary, StockAdjustment, StockBalance, StockMove
from inventory.tests.factories import item, location, warehouse

D = Decimal


# --- the tolerance rule, without a database -----------------------------------------------------------

TOLERANCE = {"quantity_pct": D("2.00"), "value_limit": D("250.00")}


@pytest.mark.parametrize(("quantity", "value", "on_hand", "within"), [
    (D("-2"), D("-2"), D("100"), True),           # exactly 2 % of 100 is within
    (D("2"), D("2"), D("100"), True),             # the sign does not matter
    (D("-2.0001"), D("-2"), D("100"), False),     # just over 2 %
    (D("-1"), D("-250.00"), D("100"), True),      # exactly the value limit is within
    (D("-1"), D("-250.0001"), D("100"), False),   # just over the value limit
    (D("1"), D("250.0001"), D("1000"), False),    # a small quantity of something dear needs approval
    (D("5"), D("0"), D("0"), True),               # nothing on hand: the value alone decides
    (D("5"), D("250.01"), D("0"), False),
    (D("5"), D("5"), D("-1"), True),              # a negative on-hand is treated like none
])
def test_an_adjustment_is_within_tolerance_only_within_both_the_quantity_share_and_the_value(
        quantity, value, on_hand, within):
    assert rules.adjustment_within_tolerance(quantity=quantity, value=value, on_hand=on_hand, **TOLERANCE) is within


def test_the_adjustment_lifecycle_allows_only_a_decision_on_a_pending_adjustment():
    assert rules.adjustment_may_move("pending_approval", "posted")
    assert rules.adjustment_may_move("pending_approval", "rejected")
    assert not rules.adjustment_may_move("posted", "rejected")
    assert not rules.adjustment_may_move("rejected", "posted")
    assert not rules.adjustment_may_move("posted", "pending_approval")


# --- the service and the API ---------------------------------------------------------------------------

def _grant(user: Any, *codenames: str) -> Any:
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="inventory", codename__in=codenames))
    return user


@pytest.fixture
def poster(stock: Any, user: Any) -> Any:
    return _grant(user("ne.operator"), "add_stockadjustment", "view_stockadjustment")


@pytest.fixture
def thousand(stock: Any) -> Any:
    """1000 EA of a stock-free twin at NE-BOS A-01-01, at 1.00 each: 2 % is 20 units, the value limit 250."""
    twin = item("CLN-0001")
    services.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                           quantity=D(1000), uom="EA", unit_cost=D(1), reference="test", actor=None)
    return twin


def _post(client: Any, **overrides: Any) -> Any:
    body = {"warehouse": "NE-BOS", "location": "A-01-01", "sku": "T-CLN-0001", "quantity": "-10", "uom": "EA",
            "reason": "LOST", **overrides}
    return client.post(reverse("api:stock-adjustment-list"), body, format="json")


def _on_hand(twin: Any) -> Decimal:
    return StockBalance.objects.get(item=twin, location=location("NE-BOS", "A-01-01"), status__code="available").on_hand


@pytest.mark.django_db
def test_an_adjustment_within_tolerance_posts_at_once(thousand, poster, api_as):
    response = _post(api_as("ne.operator"), quantity="-10")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "posted" and body["number"] == f"ADJ-{body['id']:06d}"
    assert body["quantity"] == "-10.0000" and body["value"] == "-10.0000" and body["move"] is not None
    assert body["approval_request"] is None and body["requested_by"] == "ne.operator"
    move = StockMove.objects.get(pk=body["move"])
    assert move.reference == body["number"] and move.reason.code == "LOST" and move.quantity == D(-10)
    assert _on_hand(thousand) == D(990)


@pytest.mark.django_db
def test_an_adjustment_beyond_tolerance_waits_and_posts_when_the_approver_approves(thousand, poster, api_as):
    moves_before = StockMove.objects.count()
    response = _post(api_as("ne.operator"), quantity="-100")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending_approval" and body["move"] is None
    assert StockMove.objects.count() == moves_before and _on_hand(thousand) == D(1000)
    request = ApprovalRequest.objects.get(pk=body["approval_request"])
    assert request.document_type == "stock_adjustment" and request.amount == D("100.00")
    assert request.warehouse.code == "NE-BOS" and request.category == thousand.category

    own = api_as("ne.operator").post(reverse("api:approval-approve", args=[request.pk]), {}, format="json")
    assert own.status_code == 409 and own.json()["code"] == "self_approval_forbidden"
    assert StockMove.objects.count() == moves_before

    approved = api_as("approver").post(reverse("api:approval-approve", args=[request.pk]), {}, format="json")
    assert approved.status_code == 200, approved.json()
    adjustment = StockAdjustment.objects.get(pk=body["id"])
    assert adjustment.status == AdjustmentStatus.POSTED and adjustment.move is not None
    assert adjustment.posted_at is not None and adjustment.move.actor.username == "approver"
    assert StockMove.objects.count() == moves_before + 1 and _on_hand(thousand) == D(900)
    summary = ItemWarehouseSummary.objects.get(item=thousand, warehouse__code="NE-BOS")
    assert summary.on_hand == D(900) and summary.allocatable_on_hand == D(900)


@pytest.mark.django_db
def test_a_rejected_adjustment_never_moves_stock(thousand, poster, api_as):
    body = _post(api_as("ne.operator"), quantity="300", reason="FOUND").json()
    assert body["status"] == "pending_approval"
    moves_before = StockMove.objects.count()
    rejected = api_as("approver").post(reverse("api:approval-reject", args=[body["approval_request"]]),
                                       {"comment": "Recount first"}, format="json")
    assert rejected.status_code == 200, rejected.json()
    assert StockAdjustment.objects.get(pk=body["id"]).status == AdjustmentStatus.REJECTED
    assert StockMove.objects.count() == moves_before and _on_hand(thousand) == D(1000)


@pytest.mark.django_db
def test_an_approval_fails_with_409_and_changes_nothing_when_the_stock_is_gone_meanwhile(thousand, poster, api_as,
                                                                                           user):
    body = _post(api_as("ne.operator"), quantity="-600").json()
    assert body["status"] == "pending_approval"
    services.stock_adjust_post(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=thousand,
                               quantity=D(-500), uom="EA", reason="LOST", actor=None)
    moves_before = StockMove.objects.count()
    response = api_as("approver").post(reverse("api:approval-approve", args=[body["approval_request"]]), {},
                                       format="json")
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    assert StockMove.objects.count() == moves_before and _on_hand(thousand) == D(500)
    assert StockAdjustment.objects.get(pk=body["id"]).status == AdjustmentStatus.PENDING_APPROVAL
    assert ApprovalRequest.objects.get(pk=body["approval_request"]).status == ApprovalStatus.PENDING


@pytest.mark.django_db
def test_a_found_adjustment_on_an_empty_balance_of_a_costed_item_needs_approval_beyond_the_value_limit(
        thousand, user):
    empty = location("NE-BOS", "A-01-02")
    small = services.stock_adjustment_create(warehouse=warehouse("NE-BOS"), location=empty, item=thousand,
                                             quantity=D(5), uom="EA", reason="FOUND", actor=user("ne.operator"))
    assert small.status == AdjustmentStatus.POSTED and small.value == D(5)
    large = services.stock_adjustment_create(warehouse=warehouse("NE-BOS"), location=empty, item=thousand,
                                             quantity=D(300), uom="EA", reason="FOUND", actor=user("ne.operator"))
    assert large.status == AdjustmentStatus.PENDING_APPROVAL


@pytest.mark.django_db
def test_a_negative_adjustment_larger_than_the_stock_is_refused_before_any_approval(thousand, user):
    with pytest.raises(InsufficientStock):
        services.stock_adjustment_create(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"),
                                         item=thousand, quantity=D(-1001), uom="EA", reason="LOST",
                                         actor=user("ne.operator"))
    assert not StockAdjustment.objects.exists()


@pytest.mark.django_db
def test_a_lot_tracked_adjustment_names_its_lot(stock, poster, api_as):
    twin = item("BEV-0001")
    services.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                           quantity=D(500), uom="EA", unit_cost=D("0.10"), reference="test", lot_number="L1",
                           actor=None)
    response = _post(api_as("ne.operator"), sku="T-BEV-0001", lot="L1", quantity="-5")
    assert response.status_code == 201, response.json()
    assert response.json()["lot"] == "L1" and response.json()["status"] == "posted"


@pytest.mark.django_db
def test_the_list_shows_only_the_callers_warehouses(thousand, poster, api_as, user):
    services.stock_receive(warehouse=warehouse("EU-RTM"), location=location("EU-RTM", "A-01-01"), item=thousand,
                           quantity=D(100), uom="EA", unit_cost=D(1), reference="test", actor=None)
    mine = services.stock_adjustment_create(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"),
                                            item=thousand, quantity=D(-1), uom="EA", reason="LOST",
                                            actor=user("ne.operator"))
    other = services.stock_adjustment_create(warehouse=warehouse("EU-RTM"), location=location("EU-RTM", "A-01-01"),
                                             item=thousand, quantity=D(-1), uom="EA", reason="LOST",
                                             actor=user("eu.operator"))
    client = api_as("ne.operator")
    body = client.get(reverse("api:stock-adjustment-list")).json()
    assert [row["number"] for row in body["results"]] == [mine.number]
    assert client.get(reverse("api:stock-adjustment-detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("api:stock-adjustment-detail", args=[other.pk])).status_code == 404


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_same_adjustment(thousand, poster, api_as):
    client = api_as("ne.operator")
    body = {"warehouse": "NE-BOS", "location": "A-01-01", "sku": "T-CLN-0001", "quantity": "-3", "uom": "EA",
            "reason": "LOST"}
    first = client.post(reverse("api:stock-adjustment-list"), body, format="json", HTTP_IDEMPOTENCY_KEY="adj-1")
    again = client.post(reverse("api:stock-adjustment-list"), body, format="json", HTTP_IDEMPOTENCY_KEY="adj-1")
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    assert StockAdjustment.objects.count() == 1 and _on_hand(thousand) == D(997)


@pytest.mark.django_db
def test_posting_needs_the_adjustment_permission(thousand, api_as):
    # The planner reads stock everywhere but does not adjust it.
    response = _post(api_as("planner"))
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


BAD_INPUT = [
    ({"quantity": "0"}, 400, "invalid_quantity"),
    ({"quantity": "999999999999999"}, 400, "validation_error"),
    ({"quantity": "NaN"}, 400, "validation_error"),
    ({"quantity": "Infinity"}, 400, "validation_error"),
    ({"quantity": "ten"}, 400, "validation_error"),
    ({"quantity": "-1001"}, 409, "insufficient_stock"),
    ({"sku": "NO-SUCH-SKU"}, 400, "validation_error"),
    ({"location": "Z-99-99"}, 400, "validation_error"),
    ({"warehouse": "EU-RTM"}, 400, "validation_error"),           # outside the caller's scope: does not exist
    ({"warehouse": "XX-NOPE"}, 400, "validation_error"),
    ({"uom": "PALLET9"}, 400, "unknown_uom"),
    ({"reason": "NOPE"}, 400, "unknown_reason"),
    ({"reason": "QC-HOLD"}, 400, "unknown_reason"),              # a status-change reason, not an adjustment one
    ({"lot": "L1"}, 400, "lot_not_allowed"),
    ({"status": "posted"}, 400, "validation_error"),             # an unknown field
    ({"sku": "T-BEV-0001", "lot": None}, 400, "lot_required"),
    ({"sku": "T-BEV-0001", "lot": "NO-LOT", "quantity": "-1"}, 400, "unknown_lot"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "status_code", "code"), BAD_INPUT)
def test_bad_adjustment_input_is_refused_in_the_error_shape_and_writes_nothing(thousand, poster, api_as, overrides,
                                                                               status_code, code):
    item("BEV-0001")
    moves, adjustments = StockMove.objects.count(), StockAdjustment.objects.count()
    response = _post(api_as("ne.operator"), **overrides)
    body = response.json()
    assert response.status_code == status_code, body
    assert body["code"] == code
    assert set(body) == {"code", "message", "detail"}
    assert StockMove.objects.count() == moves and StockAdjustment.objects.count() == adjustments
