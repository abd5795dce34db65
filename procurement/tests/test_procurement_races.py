"""Procure to pay under concurrency (issue 14, point 9): real threads, each on its own PostgreSQL connection,
committed data. Of two conflicting commands exactly one wins; the loser gets a domain refusal (409), never a
deadlock, a serialization failure or a 500; nothing is over-received; every race ends with the invariants holding.
"""

from __future__ import annotations

from typing import Any

import pytest

from erp.exceptions import DomainError
from governance.models import ApprovalRequest
from governance.services.approvals import approval_request_decide
from inventory.models import StockMove
from procurement import purchasing, receiving
from procurement.models import PurchaseOrder, PurchaseOrderLine, Receipt
from procurement.tests.helpers import D, approved, approvers, draft, offer, person, twin
from tests.races import race
from warehouses.transfers.tests.helpers import invariants

ROUNDS = 3

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paper(demo: Any) -> Any:
    product = twin("PAP-0008")
    offer(product, "ACME", price="2.00")
    return product


def _refused(outcome: Any) -> bool:
    return isinstance(outcome, DomainError) and outcome.status == 409


def _receive(order: PurchaseOrder, quantity: Any) -> Any:
    operator = person("race.operator", "warehouse_operator", warehouses=("NE-BOS",))
    return receiving.receipt_post(purchase_order=order, actor=operator, lines=[
        receiving.ReceiptLineSpec(line_no=1, quantity=D(str(quantity)), location="A-01-01")])


def test_two_receipts_of_the_last_units_never_over_receive(paper):
    for _ in range(ROUNDS):
        order = approved(paper, 100, supplier="ACME")
        _receive(order, 90)
        # 10 are left, 5% tolerance allows 15 more in all: two receipts of 12 cannot both pass.
        outcomes = race(lambda o=order: _receive(o, 12), lambda o=order: _receive(o, 12))
        assert sorted(isinstance(o, Receipt) for o in outcomes) == [False, True], outcomes
        loser = next(o for o in outcomes if not isinstance(o, Receipt))
        assert isinstance(loser, DomainError) and loser.code in ("over_receipt", "not_receivable"), loser
        line = PurchaseOrderLine.objects.get(order=order)
        assert line.received_quantity == 102
        assert StockMove.objects.filter(reference_type="purchase_receipt",
                                        reference_id__in=order.receipts.values("number")).count() == 2
    assert invariants() == ""


def test_a_receipt_racing_a_cancel_lets_exactly_one_win(paper):
    buyer = person("po.buyer", "buyer", enterprise=True)
    for _ in range(ROUNDS):
        order = approved(paper, 50, supplier="ACME")
        received, cancelled = race(lambda o=order: _receive(o, 50),
                                   lambda o=order: purchasing.purchase_order_cancel(order=o, actor=buyer))
        order.refresh_from_db()
        if isinstance(received, Receipt):
            assert _refused(cancelled), cancelled
            assert order.status == "received"
        else:
            assert _refused(received), received
            assert isinstance(cancelled, PurchaseOrder) and order.status == "cancelled"
            assert not Receipt.objects.filter(purchase_order=order).exists()
    assert invariants() == ""


def test_an_approval_racing_a_revision_never_approves_what_was_changed(paper):
    buyer = person("po.buyer", "buyer", enterprise=True)
    decider = approvers()[0]  # ACME's 200 USD: one step, another buyer of the region
    for _ in range(ROUNDS):
        order = purchasing.purchase_order_submit(order=draft(paper, 100, supplier="ACME", actor=buyer), actor=buyer)
        request = ApprovalRequest.objects.get(pk=order.approval_request_id)
        decided, revised = race(
            lambda r=request: approval_request_decide(request=r, actor=decider, approve=True),
            lambda o=order: purchasing.purchase_order_revise(order=o, actor=buyer, reason="price changed"))
        order.refresh_from_db()
        request.refresh_from_db()
        if request.status == "cancelled":
            # The withdrawal came first: the decision found the request withdrawn; the order is a draft to change.
            assert isinstance(revised, PurchaseOrder) and isinstance(decided, DomainError), (decided, revised)
            assert (order.status, order.revision) == ("draft", 1)
        else:
            # The approval came first: revising then either lost on the decided request (409) or, seeing the order
            # approved, made a new revision to approve again; never a change to the approved revision in place.
            assert isinstance(decided, ApprovalRequest) and request.status == "approved", decided
            if isinstance(revised, PurchaseOrder):
                assert (order.status, order.revision) == ("draft", 2)
            else:
                assert _refused(revised), revised
                assert (order.status, order.revision) == ("approved", 1)
        assert not (order.status == "approved" and request.status != "approved")
    assert invariants() == ""
