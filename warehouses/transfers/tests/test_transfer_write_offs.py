"""A transfer discrepancy resolved (issue 13, item 4): what was lost in transit is written off with approval, at
the cost it carries, or found (received after all), and the invariant holds either way."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from erp import services as platform
from erp.exceptions import DomainError
from governance.models import ApprovalRequest, ApprovalStatus
from governance.services.approvals import approval_request_decide
from inventory.models import StockMove
from warehouses.models import Region
from warehouses.transfers import services
from warehouses.transfers.models import TransferStatus, TransferWriteOff, WriteOffStatus
from warehouses.transfers.tests.helpers import D, approved, invariants, on_hand, stock_at, twin

pytestmark = pytest.mark.django_db


def _user(username: str, group: str, *, regions: tuple[str, ...] = (), enterprise: bool = False) -> Any:
    account = get_user_model().objects.filter(username=username).first()
    if account is None:
        account = get_user_model().objects.create_user(username, password="x-unused-x")
        account.groups.add(Group.objects.get(name=group))
        platform.scope_grant(user=account, actor=None, enterprise=enterprise,
                             regions=[Region.objects.get(code=code) for code in regions])
    return get_user_model().objects.get(pk=account.pk)


@pytest.fixture
def short(demo: Any) -> Any:
    """A transfer of 10 EA at 2.50 from SE-ATL to NE-BOS, received 8: 2 still in transit."""
    product = twin("PAP-0006")
    stock_at(product, "SE-ATL", 50, unit_cost="2.50")
    transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
    return services.transfer_receive(transfer=transfer, actor=None,
                                     lines=[services.ReceiveSpec(line_no=1, quantity=D(8))])


def _request(transfer: Any, quantity: Any, actor: Any, reason: str = "lost by the carrier") -> TransferWriteOff:
    return services.transfer_write_off_request(transfer=transfer, actor=actor, reason=reason,
                                               lines=[services.WriteOffSpec(line_no=1, quantity=D(quantity))])


def _approve_all(write_off: TransferWriteOff) -> ApprovalRequest:
    """The sending warehouse's supervisor, then finance."""
    request = ApprovalRequest.objects.get(pk=write_off.approval_request_id)
    approval_request_decide(request=request, actor=_user("se.supervisor", "Warehouse supervisor", regions=("SE",)),
                            approve=True)
    request.refresh_from_db()
    if request.status == ApprovalStatus.PENDING:
        approval_request_decide(request=request, actor=_user("finance", "Finance", enterprise=True), approve=True)
        request.refresh_from_db()
    return request


def test_an_approved_write_off_leaves_transit_at_its_carried_cost_and_completes_the_transfer(short):
    operator = _user("ne.operator", "Warehouse operator")
    write_off = _request(short, 2, operator)
    assert (write_off.status, write_off.value, write_off.currency) == (WriteOffStatus.PENDING_APPROVAL, D("5.00"),
                                                                       "USD")
    assert write_off.number == f"TWO-{write_off.pk:06d}"
    assert _approve_all(write_off).status == ApprovalStatus.APPROVED
    write_off.refresh_from_db()
    short.refresh_from_db()
    assert write_off.status == WriteOffStatus.POSTED and write_off.decided_at is not None
    assert short.status == TransferStatus.RECEIVED
    line = short.lines.get()
    assert (line.written_off_quantity, line.in_transit) == (D(2), D(0))
    product = line.item
    assert on_hand(product, "NE-BOS", "in_transit") == 0
    lost = StockMove.objects.get(reference_type="transfer", reference_id=str(short.pk), reason__code="LOST")
    assert (lost.quantity, lost.unit_cost, lost.value) == (D(-2), D("2.500000"), D("-5.0000"))
    assert invariants() == ""


def test_the_requester_never_approves_their_own_write_off(short):
    supervisor = _user("se.supervisor", "Warehouse supervisor", regions=("SE",))
    write_off = _request(short, 1, supervisor)
    with pytest.raises(DomainError) as refused:
        approval_request_decide(request=ApprovalRequest.objects.get(pk=write_off.approval_request_id),
                                actor=supervisor, approve=True)
    assert refused.value.status in (403, 409)
    write_off.refresh_from_db()
    assert write_off.status == WriteOffStatus.PENDING_APPROVAL


def test_a_rejected_write_off_leaves_the_difference_in_transit(short):
    write_off = _request(short, 2, _user("ne.operator", "Warehouse operator"))
    approval_request_decide(request=ApprovalRequest.objects.get(pk=write_off.approval_request_id),
                            actor=_user("se.supervisor", "Warehouse supervisor", regions=("SE",)), approve=False)
    write_off.refresh_from_db()
    short.refresh_from_db()
    assert write_off.status == WriteOffStatus.REJECTED
    assert short.status == TransferStatus.PARTIALLY_RECEIVED and short.lines.get().in_transit == D(2)
    assert invariants() == ""


def test_goods_found_after_the_request_make_its_approval_fail_and_change_nothing(short):
    write_off = _request(short, 2, _user("ne.operator", "Warehouse operator"))
    services.transfer_receive(transfer=short, actor=None, lines=[services.ReceiveSpec(line_no=1, quantity=D(2))])
    moves = StockMove.objects.count()
    with pytest.raises(DomainError) as refused:
        _approve_all(write_off)
    assert (refused.value.status, refused.value.code) == (409, "nothing_in_transit")
    write_off.refresh_from_db()
    assert write_off.status == WriteOffStatus.PENDING_APPROVAL and StockMove.objects.count() == moves
    assert invariants() == ""


BAD = [
    ("more than in transit", 3, "lost", 409, "nothing_in_transit"),
    ("zero", 0, "lost", 400, "invalid_quantity"),
    ("no reason", 1, "  ", 400, "validation_error"),
]


@pytest.mark.parametrize(("case", "quantity", "reason", "status", "code"), BAD, ids=[row[0] for row in BAD])
def test_a_bad_write_off_is_refused_and_writes_nothing(short, case, quantity, reason, status, code):
    before = (TransferWriteOff.objects.count(), ApprovalRequest.objects.count(), StockMove.objects.count())
    with pytest.raises(DomainError) as refused:
        _request(short, quantity, _user("ne.operator", "Warehouse operator"), reason=reason)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert (TransferWriteOff.objects.count(), ApprovalRequest.objects.count(), StockMove.objects.count()) == before


def test_pending_write_offs_count_against_what_may_still_be_written_off(short):
    operator = _user("ne.operator", "Warehouse operator")
    _request(short, 2, operator)
    with pytest.raises(DomainError) as refused:
        _request(short, 1, operator)
    assert (refused.value.status, refused.value.code) == (409, "nothing_in_transit")


def test_a_transfer_not_in_transit_cannot_be_written_off(demo):
    product = twin("PAP-0007")
    stock_at(product, "SE-ATL", 5)
    transfer = approved(product, 5)
    with pytest.raises(DomainError) as refused:
        _request(transfer, 1, _user("ne.operator", "Warehouse operator"))
    assert (refused.value.status, refused.value.code) == (409, "invalid_transition")


def test_the_api_takes_a_write_off_request(short, api_as):
    client = api_as("ne.operator")
    response = client.post(f"/api/v1/transfers/{short.pk}/write-off/",
                           {"reason": "lost by the carrier", "lines": [{"line_no": 1, "quantity": "2"}]},
                           format="json")
    assert response.status_code == 200, response.content[:300]
    [write_off] = response.json()["write_offs"]
    assert (write_off["status"], write_off["value"], write_off["lines"][0]["sku"]) == (
        "pending_approval", "5.00", short.lines.get().item.sku)
    refused = client.post(f"/api/v1/transfers/{short.pk}/write-off/",
                          {"reason": "again", "lines": [{"line_no": 1, "quantity": "1"}]}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "nothing_in_transit"


def test_a_system_run_cannot_ask_for_an_approval(short):
    with pytest.raises(DomainError) as refused:
        _request(short, 1, None)
    assert (refused.value.status, refused.value.code) == (400, "validation_error")
    assert not TransferWriteOff.objects.exists()
