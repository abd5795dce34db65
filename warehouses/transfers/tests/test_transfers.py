"""Transfers through the services (issue 13, items 2 to 5 and 9): the lifecycle, approval by policy, dispatch into
transit at the source's cost carried unchanged, receipt at that cost into the target's moving average, the
discrepancy exception, availability's ``in_transit_in``, and the invariant that nothing is created or destroyed.

SE-ATL (Gulf Supply LLC, USD) sends to NE-BOS (Concord Distribution Inc., USD): an intercompany transfer in one
currency, 3 transit days. Items are stock-free twins of demo items.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from erp import services as platform
from erp.exceptions import DomainError
from governance.models import ApprovalRequest, ApprovalStatus, OperationalException
from governance.services.approvals import approval_request_decide
from inventory.models import StockMove
from inventory.selectors import network_availability
from inventory.tests.factories import warehouse
from warehouses.models import Region
from warehouses.transfers import services
from warehouses.transfers.models import Transfer, TransferLineLot, TransferStatus
from warehouses.transfers.tests.helpers import (
    D,
    approved,
    cost,
    invariants,
    on_hand,
    request,
    stock_at,
    summary,
    twin,
)

pytestmark = pytest.mark.django_db


def _user(username: str, role_group: str, *, regions: tuple[str, ...] = (), enterprise: bool = False) -> Any:
    account = get_user_model().objects.filter(username=username).first()
    if account is None:
        account = get_user_model().objects.create_user(username, password="x-unused-x")
        account.groups.add(Group.objects.get(name=role_group))
        platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code=r) for r in regions],
                             enterprise=enterprise)
    return get_user_model().objects.get(pk=account.pk)


@pytest.fixture
def product(demo: Any) -> Any:
    return twin("CLN-0004")


def test_a_request_is_a_draft_with_its_lane_arrival_and_intercompany_flag(product):
    transfer = request(product, 12, note="for the Boston backorders")
    assert transfer.number == f"TR-{transfer.pk:06d}"
    assert transfer.status == TransferStatus.DRAFT
    assert transfer.intercompany is True  # Gulf Supply LLC to Concord Distribution Inc.
    assert transfer.currency == "USD"
    assert transfer.transit_days == 3 and transfer.carrier is not None
    # 3 working days of the receiving warehouse after the ship date, on a day it works
    assert transfer.expected_arrival >= transfer.requested_date + dt.timedelta(days=3)
    assert transfer.expected_arrival.weekday() < 5
    line = transfer.lines.get()
    assert (line.quantity, line.uom_code, line.dispatched_quantity) == (D("12.0000"), "EA", D(0))


def test_within_one_entity_a_transfer_is_not_intercompany(product):
    assert request(product, 1, source="NE-NYC").intercompany is False


def test_at_or_below_the_threshold_submitting_approves_at_once(product):
    stock_at(product, "SE-ATL", 100, unit_cost="2.50")
    transfer = approved(product, 40)
    assert transfer.status == TransferStatus.APPROVED
    assert transfer.value == D("100.00") and transfer.approval_request is None
    assert transfer.approved_at is not None


def test_above_the_threshold_it_waits_for_the_engine_and_the_requester_never_approves(product):
    stock_at(product, "SE-ATL", 5000, unit_cost="2.50")  # 4,100 x 2.50 = 10,250.00 > 10,000.00
    planner = _user("planner", "Planner", enterprise=True)
    transfer = services.transfer_submit(transfer=request(product, 4100, actor=planner), actor=planner)
    assert transfer.status == TransferStatus.PENDING_APPROVAL
    assert transfer.value == D("10250.00")
    approval = ApprovalRequest.objects.get(pk=transfer.approval_request_id)
    assert (approval.document_type, approval.base_amount, approval.currency) == ("transfer", D("10250.00"), "USD")
    assert approval.rule.name == "Transfers from 10,000.00"
    with pytest.raises(DomainError) as refused:
        approval_request_decide(request=approval, actor=planner, approve=True)
    assert refused.value.status in (403, 409)
    approval_request_decide(request=approval, actor=_user("approver", "Approver", enterprise=True), approve=True)
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PENDING_APPROVAL  # from 10,000, finance decides too
    approval_request_decide(request=approval, actor=_user("finance", "Finance", enterprise=True), approve=True)
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.APPROVED and transfer.approved_at is not None


def test_a_rejected_transfer_goes_back_to_draft(product):
    stock_at(product, "SE-ATL", 5000, unit_cost="2.50")
    planner = _user("planner", "Planner", enterprise=True)
    transfer = services.transfer_submit(transfer=request(product, 4100, actor=planner), actor=planner)
    approval_request_decide(request=ApprovalRequest.objects.get(pk=transfer.approval_request_id),
                            actor=_user("approver", "Approver", enterprise=True), approve=False,
                            comment="not this week")
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.DRAFT


def test_dispatch_moves_stock_into_transit_at_the_source_cost_and_availability_sees_it(product):
    stock_at(product, "SE-ATL", 100, unit_cost="2.50")
    stock_at(product, "NE-BOS", 10, unit_cost="4.00")
    transfer = services.transfer_dispatch(transfer=approved(product, 40), actor=None)
    assert transfer.status == TransferStatus.DISPATCHED and transfer.dispatched_at is not None
    assert on_hand(product, "SE-ATL") == D(60)
    assert on_hand(product, "NE-BOS", "in_transit") == D(40)
    part = TransferLineLot.objects.get(transfer=transfer)
    assert (part.source_unit_cost, part.rate, part.unit_cost) == (D("2.500000"), D(1), D("2.500000"))
    # the source's books lost 40 x 2.50; the target's average is untouched until receipt
    assert cost(product, "SE-ATL").quantity == D(60)
    target_cost = cost(product, "NE-BOS")
    assert (target_cost.quantity, target_cost.unit_cost) == (D(10), D("4.000000"))
    moves = StockMove.objects.filter(reference_type="transfer", reference_id=str(transfer.pk))
    assert sorted(m.value for m in moves) == [D("-100.0000"), D("100.0000")]
    admin = get_user_model().objects.get(username="admin")
    row = {r["warehouse"]: r for r in network_availability(user=admin, skus=[product.sku])}["NE-BOS"]
    assert (row["in_transit_in"], row["on_hand"], row["blocked"]) == (D("40.0000"), D("10.0000"), D("0.0000"))
    assert summary(product, "NE-BOS").allocatable_on_hand == D(10)
    assert invariants() == ""


def test_receipt_posts_at_the_carried_cost_and_the_target_average_absorbs_it(product):
    stock_at(product, "SE-ATL", 100, unit_cost="2.50")
    stock_at(product, "NE-BOS", 10, unit_cost="4.00")
    transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
    stock_at(product, "SE-ATL", 100, unit_cost="9.00")  # the source's cost moves on; the transfer's does not
    transfer = services.transfer_receive(transfer=transfer, actor=None,
                                         lines=[services.ReceiveSpec(line_no=1, quantity=D(10))])
    assert transfer.status == TransferStatus.RECEIVED and transfer.received_at is not None
    target_cost = cost(product, "NE-BOS")
    assert (target_cost.quantity, target_cost.unit_cost) == (D(20), D("3.250000"))  # (10 x 4 + 10 x 2.50) / 20
    assert on_hand(product, "NE-BOS", "in_transit") == D(0)
    assert on_hand(product, "NE-BOS") == D(20)
    assert not OperationalException.objects.filter(type="transfer_discrepancy",
                                                   business_key=f"transfer:{transfer.number}").exists()
    assert invariants() == ""


def test_a_short_and_damaged_receipt_raises_one_discrepancy_and_leaves_the_difference_in_transit(product):
    stock_at(product, "SE-ATL", 100, unit_cost="2.50")
    transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
    transfer = services.transfer_receive(transfer=transfer, actor=None, lines=[
        services.ReceiveSpec(line_no=1, quantity=D(8)), services.ReceiveSpec(line_no=1, quantity=D(1),
                                                                             status="damaged")])
    assert transfer.status == TransferStatus.PARTIALLY_RECEIVED
    line = transfer.lines.get()
    assert (line.received_quantity, line.damaged_quantity, line.in_transit) == (D(9), D(1), D(1))
    exception = OperationalException.objects.get(type="transfer_discrepancy",
                                                 business_key=f"transfer:{transfer.number}")
    assert exception.warehouse.code == "SE-ATL" and exception.owner_role == "warehouse_supervisor"
    assert exception.detail["short"] == "1.0000" and exception.detail["damaged"] == "1.0000"
    assert exception.detail["transfer"] == transfer.number
    assert on_hand(product, "NE-BOS", "damaged") == D(1)
    assert on_hand(product, "NE-BOS", "in_transit") == D(1)
    # the missing unit is found: received, the transfer completes and the exception is raised again, not twinned
    transfer = services.transfer_receive(transfer=transfer, actor=None,
                                         lines=[services.ReceiveSpec(line_no=1, quantity=D(1))])
    assert transfer.status == TransferStatus.RECEIVED
    assert OperationalException.objects.filter(type="transfer_discrepancy",
                                               business_key=f"transfer:{transfer.number}").count() == 1
    assert invariants() == ""


def test_an_over_receipt_is_found_stock_at_the_carried_cost(product):
    stock_at(product, "SE-ATL", 100, unit_cost="2.50")
    transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
    transfer = services.transfer_receive(transfer=transfer, actor=None,
                                         lines=[services.ReceiveSpec(line_no=1, quantity=D(11))])
    assert transfer.status == TransferStatus.RECEIVED
    line = transfer.lines.get()
    assert (line.received_quantity, line.over_quantity, line.in_transit) == (D(11), D(1), D(0))
    assert on_hand(product, "NE-BOS") == D(11)
    exception = OperationalException.objects.get(type="transfer_discrepancy",
                                                 business_key=f"transfer:{transfer.number}")
    assert exception.detail["over"] == "1.0000"
    assert invariants() == ""


def test_lots_travel_with_their_stock_first_expiry_first(demo):
    product = twin("BEV-0003")
    today = timezone.localdate()
    stock_at(product, "SE-ATL", 5, lot="LATE", expiry=today + dt.timedelta(days=200))
    stock_at(product, "SE-ATL", 5, lot="EARLY", expiry=today + dt.timedelta(days=100), code="A-01-02")
    transfer = services.transfer_dispatch(transfer=approved(product, 7), actor=None)
    parts = {p.lot.lot_number: p.dispatched_quantity for p in TransferLineLot.objects.filter(transfer=transfer)}
    assert parts == {"EARLY": D(5), "LATE": D(2)}
    services.transfer_receive(transfer=transfer, actor=None, lines=[services.ReceiveSpec(line_no=1, quantity=D(7))])
    assert on_hand(product, "NE-BOS") == D(7)
    assert invariants() == ""


def test_cancel_before_dispatch_only(product):
    stock_at(product, "SE-ATL", 100)
    transfer = services.transfer_cancel(transfer=approved(product, 5), actor=None, reason="no longer needed")
    assert transfer.status == TransferStatus.CANCELLED and transfer.cancel_reason == "no longer needed"
    dispatched = services.transfer_dispatch(transfer=approved(product, 5), actor=None)
    with pytest.raises(DomainError) as refused:
        services.transfer_cancel(transfer=dispatched, actor=None)
    assert (refused.value.status, refused.value.code) == (409, "invalid_transition")


def test_cancelling_a_pending_transfer_cancels_its_approval_request(product):
    stock_at(product, "SE-ATL", 5000, unit_cost="2.50")
    planner = _user("planner", "Planner", enterprise=True)
    transfer = services.transfer_submit(transfer=request(product, 4100, actor=planner), actor=planner)
    services.transfer_cancel(transfer=transfer, actor=planner)
    assert ApprovalRequest.objects.get(pk=transfer.approval_request_id).status == ApprovalStatus.CANCELLED


# --- bad input: each refused in the error shape, the ledger and the transfer unchanged ------------------------------


def _ledger() -> tuple[int, int]:
    return StockMove.objects.count(), Transfer.objects.count()


BAD_REQUESTS = [
    ("same warehouse", {"source": "NE-BOS", "target": "NE-BOS"}, 400, "same_warehouse"),
    ("zero quantity", {"quantity": 0}, 400, "invalid_quantity"),
    ("negative quantity", {"quantity": -3}, 400, "invalid_quantity"),
    ("lot of an item without lots", {"lot": "L1"}, 400, "lot_not_allowed"),
    ("past requested date", {"requested_date": timezone.localdate() - dt.timedelta(days=3)}, 400,
     "validation_error"),
]


@pytest.mark.parametrize(("case", "change", "status", "code"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_a_bad_request_is_refused_and_writes_nothing(product, case, change, status, code):
    before = _ledger()
    kwargs = dict(change)
    quantity = kwargs.pop("quantity", 5)
    with pytest.raises(DomainError) as refused:
        request(product, quantity, **kwargs)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert _ledger() == before


def test_an_unknown_unit_or_lot_is_refused(demo):
    lotted = twin("BEV-0004")
    with pytest.raises(DomainError) as refused:
        request(lotted, 1, lot="NO-SUCH-LOT")
    assert (refused.value.status, refused.value.code) == (400, "unknown_lot")
    with pytest.raises(DomainError) as refused:
        services.transfer_create(from_warehouse=warehouse("SE-ATL"), to_warehouse=warehouse("NE-BOS"), actor=None,
                                 lines=[services.TransferLineSpec(item=lotted, quantity=D(1), uom="DRUM")])
    assert (refused.value.status, refused.value.code) == (400, "unknown_uom")


def test_dispatch_before_approval_more_than_approved_or_on_hand_is_refused(product):
    stock_at(product, "SE-ATL", 8)
    draft = request(product, 5)
    before = _ledger()
    with pytest.raises(DomainError) as refused:
        services.transfer_dispatch(transfer=draft, actor=None)
    assert (refused.value.status, refused.value.code) == (409, "invalid_transition")
    transfer = approved(product, 10)
    before = _ledger()
    with pytest.raises(DomainError) as refused:
        services.transfer_dispatch(transfer=transfer, actor=None,
                                   lines=[services.DispatchSpec(line_no=1, quantity=D(11))])
    assert (refused.value.status, refused.value.code) == (409, "exceeds_approved")
    with pytest.raises(DomainError) as refused:
        services.transfer_dispatch(transfer=transfer, actor=None)  # 10 approved, 8 on hand
    assert (refused.value.status, refused.value.code) == (409, "insufficient_stock")
    assert _ledger() == before
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.APPROVED


def test_receiving_a_cancelled_or_undispatched_transfer_is_refused(product):
    stock_at(product, "SE-ATL", 8)
    transfer = approved(product, 5)
    with pytest.raises(DomainError) as refused:
        services.transfer_receive(transfer=transfer, actor=None, lines=[services.ReceiveSpec(line_no=1,
                                                                                            quantity=D(5))])
    assert (refused.value.status, refused.value.code) == (409, "invalid_transition")
    services.transfer_cancel(transfer=transfer, actor=None)
    before = _ledger()
    with pytest.raises(DomainError) as refused:
        services.transfer_receive(transfer=transfer, actor=None, lines=[services.ReceiveSpec(line_no=1,
                                                                                            quantity=D(5))])
    assert (refused.value.status, refused.value.code) == (409, "invalid_transition")
    assert _ledger() == before


def test_a_line_with_nothing_left_in_transit_cannot_be_received_again(product):
    stock_at(product, "SE-ATL", 8)
    transfer = services.transfer_dispatch(transfer=approved(product, 5), actor=None)
    services.transfer_receive(transfer=transfer, actor=None, lines=[
        services.ReceiveSpec(line_no=1, quantity=D(3))])
    services.transfer_receive(transfer=transfer, actor=None, lines=[
        services.ReceiveSpec(line_no=1, quantity=D(2))])
    before = _ledger()
    with pytest.raises(DomainError) as refused:
        services.transfer_receive(transfer=transfer, actor=None, lines=[
            services.ReceiveSpec(line_no=1, quantity=D(1))])
    assert refused.value.status == 409
    assert _ledger() == before


def test_stock_allocated_to_orders_is_not_sent_away(product):
    from orders.models import Customer
    from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create

    stock_at(product, "SE-ATL", 10)
    order = sales_order_create(customer=Customer.objects.get(code="C-SE-001"), actor=None,
                               lines=[OrderLineSpec(item=product, quantity=D(7))])
    sales_order_confirm(order=order, actor=None)
    assert summary(product, "SE-ATL").allocated == D(7)
    transfer = approved(product, 5)
    before = _ledger()
    with pytest.raises(DomainError) as refused:
        services.transfer_dispatch(transfer=transfer, actor=None)
    assert (refused.value.status, refused.value.code) == (409, "insufficient_stock")
    assert _ledger() == before
    services.transfer_dispatch(transfer=transfer, actor=None,
                               lines=[services.DispatchSpec(line_no=1, quantity=D(3))])
    assert on_hand(product, "SE-ATL") == D(7)


def test_the_invariant_catches_a_transfer_whose_ledger_disagrees(product):
    """The check can fail: a transfer line that claims more dispatched than left the source is reported."""
    stock_at(product, "SE-ATL", 8)
    transfer = services.transfer_dispatch(transfer=approved(product, 5), actor=None)
    line = transfer.lines.get()
    type(line).objects.filter(pk=line.pk).update(quantity=D(6), dispatched_quantity=D(6))
    TransferLineLot.objects.filter(line=line).update(dispatched_quantity=D(6))
    complaints = invariants()
    assert "left the source 5.0000, dispatched 6.0000" in complaints
