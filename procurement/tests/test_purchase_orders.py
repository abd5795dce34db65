"""Purchase orders through the services (issue 14, point 3): priced from supplier items in the supplier's currency,
routed by ``procurement.approval_matrix`` on the amount converted to the buying entity's currency, frozen once
submitted by every route (the services and the database), revised as new revisions, never approved by their
requester, duplicated without their approval.

NORD (Nordic Paper AB) sells in EUR; NE-BOS belongs to Concord Distribution Inc. (USD); the seeded rate is 1.08.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from erp.exceptions import DomainError
from governance.exceptions import SelfApprovalForbidden
from governance.models import ApprovalRequest, ApprovalStatus, ApprovalStep
from governance.services.approvals import approval_request_decide
from inventory.tests.factories import warehouse
from procurement import purchasing
from procurement.models import PurchaseOrder, PurchaseOrderLine, PurchaseOrderRevision, PurchaseOrderStatus, Supplier
from procurement.services import supplier_create
from procurement.tests.helpers import D, approved, approvers, decide_all, draft, offer, person, twin

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(demo: Any) -> Any:
    product = twin("PAP-0003")
    offer(product, "NORD", price="4.00", uom="EA")
    return product


@pytest.fixture
def buyer(demo: Any) -> Any:
    return person("po.buyer", "buyer", enterprise=True)


def test_an_order_is_priced_from_the_supplier_item_in_the_suppliers_currency(paper, buyer):
    order = draft(paper, 100, actor=buyer)
    assert order.number == f"PO-{order.pk:06d}"
    assert (order.status, order.currency, order.base_currency, order.revision) == ("draft", "EUR", "USD", 1)
    assert order.total == D("400.00")
    assert order.category == paper.category
    line = order.lines.get()
    assert (line.quantity, line.uom_code, line.unit_price, line.line_total) == (D(100), "EA", D(4), D("400.00"))
    assert line.expected_date == order.order_date + dt.timedelta(days=14)  # NORD's lead time


def test_a_case_is_priced_at_the_case_factor(paper, buyer):
    factor = paper.uoms.get(uom__code="CS").factor
    order = draft(paper, 2, uom="CS", actor=buyer)
    line = order.lines.get()
    assert line.quantity == 2 * factor
    assert line.unit_price == (D(4) * factor).quantize(D("0.000001"))


def test_submit_routes_by_the_matrix_on_the_amount_in_the_entitys_currency(paper, buyer):
    # 4,800 EUR is below the first band's 5,000 in the supplier's currency, but 5,184 USD is not: the matrix
    # compares the buying entity's currency (Odoo #9399 compared the raw amounts).
    order = draft(paper, 1200, actor=buyer)
    order = purchasing.purchase_order_submit(order=order, actor=buyer)
    assert order.status == PurchaseOrderStatus.PENDING_APPROVAL
    assert (order.rate, order.base_total) == (D("1.08000000"), D("5184.00"))
    request = ApprovalRequest.objects.get(pk=order.approval_request_id)
    assert request.base_amount == D("5184.00") and request.category == paper.category
    assert request.rule is not None and request.rule.document_type == "purchase_order"
    roles = list(ApprovalStep.objects.filter(request=request).order_by("sequence").values_list("role", flat=True))
    assert roles == [s.role for s in request.rule.steps.order_by("sequence")] == ["buyer", "approver"]


def test_the_requester_never_approves_and_the_last_step_approves_and_records_the_revision(paper, buyer):
    order = purchasing.purchase_order_submit(order=draft(paper, 100, actor=buyer), actor=buyer)
    request = ApprovalRequest.objects.get(pk=order.approval_request_id)
    with pytest.raises(SelfApprovalForbidden):
        approval_request_decide(request=request, actor=buyer, approve=True)
    order = decide_all(order, approvers())
    assert order.status == PurchaseOrderStatus.APPROVED and order.approved_at is not None
    revision = PurchaseOrderRevision.objects.get(order=order)
    assert (revision.revision, revision.total, revision.base_total) == (1, D("400.00"), D("432.00"))
    assert revision.lines[0]["sku"] == paper.sku and revision.lines[0]["quantity"] == "100.0000"


def test_a_rejected_order_returns_to_draft(paper, buyer):
    order = purchasing.purchase_order_submit(order=draft(paper, 100, actor=buyer), actor=buyer)
    order = decide_all(order, approvers(), approve=False)
    assert order.status == PurchaseOrderStatus.DRAFT and order.submitted_at is None and order.base_total is None
    assert ApprovalRequest.objects.get(document_type="purchase_order", document_id=order.pk).status == "rejected"


def test_no_service_edits_an_order_in_approval_or_approved(paper, buyer):
    order = purchasing.purchase_order_submit(order=draft(paper, 100, actor=buyer), actor=buyer)
    with pytest.raises(DomainError) as refused:
        purchasing.purchase_order_update(order=order, actor=buyer,
                                         lines=[purchasing.OrderLineSpec(item=paper, quantity=D(5))])
    assert refused.value.code == "purchase_order_frozen"
    order = decide_all(order, approvers())
    with pytest.raises(DomainError):
        purchasing.purchase_order_update(order=order, actor=buyer, note="sneaky")
    assert PurchaseOrderLine.objects.get(order=order).quantity == 100


@pytest.mark.parametrize("how", ["line quantity", "line price", "new line", "delete line", "header total",
                                 "approve without request", "back to draft without revision"])
def test_the_database_refuses_every_other_route(paper, buyer, how):
    order = approved(paper, 100)
    line = PurchaseOrderLine.objects.get(order=order)
    attempts = {
        "line quantity": lambda: PurchaseOrderLine.objects.filter(pk=line.pk).update(quantity=D(500)),
        "line price": lambda: PurchaseOrderLine.objects.filter(pk=line.pk).update(unit_price=D("0.01")),
        "new line": lambda: PurchaseOrderLine.objects.create(
            order=order, warehouse_id=order.warehouse_id, line_no=2, item=paper, quantity=D(1), uom_quantity=D(1),
            uom_code="EA", unit_price=D(1), line_total=D(1), expected_date=line.expected_date,
            promised_date=line.expected_date),
        "delete line": lambda: PurchaseOrderLine.objects.filter(pk=line.pk).delete(),
        "header total": lambda: PurchaseOrder.objects.filter(pk=order.pk).update(total=D(1)),
        "approve without request": None,
        "back to draft without revision": lambda: PurchaseOrder.objects.filter(pk=order.pk).update(status="draft"),
    }
    if how == "approve without request":
        pending = purchasing.purchase_order_submit(order=draft(paper, 10, actor=buyer), actor=buyer)
        attempts[how] = lambda: PurchaseOrder.objects.filter(pk=pending.pk).update(status="approved")
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        attempts[how]()
    assert "frozen" in str(refused.value) or "approval request" in str(refused.value) or "revision" in str(
        refused.value)
    line.refresh_from_db()
    assert (line.quantity, line.unit_price) == (D(100), D(4))
    assert PurchaseOrder.objects.get(pk=order.pk).status == PurchaseOrderStatus.APPROVED


def test_a_revision_goes_back_through_approval_and_keeps_the_approved_one(paper, buyer):
    order = approved(paper, 100)
    order = purchasing.purchase_order_revise(order=order, actor=buyer, reason="supplier's new pack size")
    assert (order.status, order.revision, order.approval_request_id) == ("draft", 2, None)
    order = purchasing.purchase_order_update(order=order, actor=buyer,
                                             lines=[purchasing.OrderLineSpec(item=paper, quantity=D(150))])
    assert order.total == D("600.00")
    order = purchasing.purchase_order_submit(order=order, actor=buyer)
    order = decide_all(order, approvers())
    assert order.status == "approved"
    assert list(PurchaseOrderRevision.objects.filter(order=order).values_list("revision", "total")) == [
        (1, D("400.00")), (2, D("600.00"))]
    assert ApprovalRequest.objects.filter(document_type="purchase_order", document_id=order.pk,
                                          status=ApprovalStatus.APPROVED).count() == 2


def test_revising_an_order_in_approval_withdraws_its_request(paper, buyer):
    order = purchasing.purchase_order_submit(order=draft(paper, 100, actor=buyer), actor=buyer)
    order = purchasing.purchase_order_revise(order=order, actor=buyer)
    assert (order.status, order.revision) == ("draft", 1)
    assert ApprovalRequest.objects.get(document_type="purchase_order", document_id=order.pk).status == "cancelled"


def test_a_duplicate_copies_lines_and_no_approval(paper, buyer):
    order = approved(paper, 100)
    copy = purchasing.purchase_order_duplicate(order=order, actor=buyer)
    assert copy.pk != order.pk and copy.copied_from_id == order.pk
    assert (copy.status, copy.revision, copy.approval_request_id, copy.approved_at) == ("draft", 1, None, None)
    assert list(copy.lines.values_list("item_id", "quantity")) == [(paper.pk, D(100))]
    assert not PurchaseOrderRevision.objects.filter(order=copy).exists()


def test_cancel_withdraws_the_pending_request_and_close_ends_an_approved_order(paper, buyer):
    pending = purchasing.purchase_order_submit(order=draft(paper, 100, actor=buyer), actor=buyer)
    cancelled = purchasing.purchase_order_cancel(order=pending, actor=buyer, reason="ordered elsewhere")
    assert cancelled.status == "cancelled"
    assert ApprovalRequest.objects.get(pk=pending.approval_request_id).status == "cancelled"
    order = purchasing.purchase_order_send(order=approved(paper, 100), actor=buyer)
    assert order.status == "sent" and order.sent_at is not None
    closed = purchasing.purchase_order_close(order=order, actor=buyer, reason="supplier discontinued it")
    assert closed.status == "closed"
    with pytest.raises(DomainError) as refused:
        purchasing.purchase_order_submit(order=closed, actor=buyer)
    assert refused.value.code == "invalid_transition"


def test_a_system_run_cannot_ask_for_approval(paper):
    order = draft(paper, 100)
    with pytest.raises(DomainError) as refused:
        purchasing.purchase_order_submit(order=order, actor=None)
    assert refused.value.status == 400
    assert PurchaseOrder.objects.get(pk=order.pk).status == "draft"


def test_every_line_is_checked_before_anything_is_written(paper, buyer):
    other = twin("PAP-0004")  # NORD does not sell it
    before = PurchaseOrder.objects.count()
    cases = [
        (dict(lines=[purchasing.OrderLineSpec(item=other, quantity=D(1))]), "not_sold_by_supplier"),
        (dict(lines=[purchasing.OrderLineSpec(item=paper, quantity=D(1), uom="BOX")]), "unknown_uom"),
        (dict(lines=[purchasing.OrderLineSpec(item=paper, quantity=D(0))]), "invalid_quantity"),
        (dict(lines=[purchasing.OrderLineSpec(item=paper, quantity=D(-3))]), "invalid_quantity"),
        (dict(lines=[purchasing.OrderLineSpec(item=paper, quantity=D(1), unit_price=D(0))]), "invalid_price"),
        (dict(lines=[]), "validation_error"),
        (dict(lines=[purchasing.OrderLineSpec(item=paper, quantity=D(1))], currency="USD"), "validation_error"),
    ]
    for extra, code in cases:
        with pytest.raises(DomainError) as refused:
            purchasing.purchase_order_create(supplier=Supplier.objects.get(code="NORD"), warehouse=warehouse("NE-BOS"),
                                             actor=buyer, **extra)
        assert refused.value.code == code, extra
    assert PurchaseOrder.objects.count() == before


def test_below_the_minimum_or_not_whole_packs_is_refused(paper, buyer):
    offer(paper, "NORD", price="4.00", moq=50, pack=10)
    for quantity in (40, 55):
        with pytest.raises(DomainError) as refused:
            draft(paper, quantity, actor=buyer)
        assert refused.value.code == "below_minimum_order"
    assert draft(paper, 60, actor=buyer).total == D("240.00")


def test_a_currency_without_a_rate_on_the_date_is_refused(paper, buyer):
    supplier_create(code="POUND", name="Pound Supplies", currency="GBP", actor=None)
    offer(paper, "POUND", price="3.00")
    before = PurchaseOrder.objects.count()
    with pytest.raises(DomainError) as refused:
        draft(paper, 10, supplier="POUND", actor=buyer)
    assert refused.value.code == "missing_exchange_rate"
    assert PurchaseOrder.objects.count() == before
    assert Supplier.objects.filter(code="POUND").exists()
