"""Requisitions (issue 14, point 2): lines with SKU, quantity, unit, needed-by date and a suggested supplier (the
preferred one when none is named); approved through the engine; approved lines become purchase orders, one per
supplier for the requisition's warehouse, rounded up to each supplier's minimum and packs, priced from its items."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from erp.exceptions import DomainError
from governance.models import ApprovalRequest, ApprovalStep
from governance.services.approvals import approval_request_decide
from inventory.tests.factories import warehouse
from procurement import purchasing
from procurement.models import PurchaseOrder, PurchaseRequisition, PurchaseRequisitionLine, Supplier
from procurement.purchasing import RequisitionLineSpec, local_date
from procurement.tests.helpers import D, offer, person, twin

pytestmark = pytest.mark.django_db


@pytest.fixture
def goods(demo: Any) -> tuple[Any, Any]:
    paper, soap = twin("PAP-0012"), twin("CLN-0012")
    offer(paper, "NORD", price="4.00", moq=50, pack=25, preferred=True)
    offer(soap, "ACME", price="2.50", preferred=True)
    offer(soap, "GULF", price="2.40")
    return paper, soap


@pytest.fixture
def planner(demo: Any) -> Any:
    return person("pr.planner", "planner", enterprise=True)


def _needed(days: int = 20) -> dt.date:
    return local_date(warehouse("NE-BOS")) + dt.timedelta(days=days)


def _raise(goods: tuple[Any, Any], planner: Any, **soap_line: Any) -> PurchaseRequisition:
    paper, soap = goods
    return purchasing.requisition_create(warehouse=warehouse("NE-BOS"), actor=planner, note="restock", lines=[
        RequisitionLineSpec(item=paper, quantity=D(60), needed_by=_needed()),
        RequisitionLineSpec(item=soap, quantity=D(2), uom="CS", needed_by=_needed(3), **soap_line)])


def test_a_requisition_suggests_the_preferred_supplier_and_is_approved_by_a_buyer(goods, planner):
    requisition = _raise(goods, planner)
    assert requisition.number == f"PR-{requisition.pk:06d}" and requisition.status == "draft"
    suppliers = list(requisition.lines.order_by("line_no").values_list("supplier__code", flat=True))
    assert suppliers == ["NORD", "ACME"]
    requisition = purchasing.requisition_submit(requisition=requisition, actor=planner)
    assert requisition.status == "submitted"
    request = ApprovalRequest.objects.get(pk=requisition.approval_request_id)
    assert list(ApprovalStep.objects.filter(request=request).values_list("role", flat=True)) == ["buyer"]
    # 60 x 4.00 EUR at 1.08 + 12 x 2.50 USD (a case of CLN holds 6)
    factor = goods[1].uoms.get(uom__code="CS").factor
    assert requisition.value == (D("259.20") + 2 * factor * D("2.50")).quantize(D("0.01"))
    approval_request_decide(request=request, actor=person("pr.buyer", "buyer", regions=("NE",)), approve=True)
    assert PurchaseRequisition.objects.get(pk=requisition.pk).status == "approved"


def test_ordering_makes_one_purchase_order_per_supplier_rounded_to_packs(goods, planner):
    requisition = purchasing.requisition_submit(requisition=_raise(goods, planner), actor=planner)
    request = ApprovalRequest.objects.get(pk=requisition.approval_request_id)
    approval_request_decide(request=request, actor=person("pr.buyer", "buyer", regions=("NE",)), approve=True)
    buyer = person("po.buyer", "buyer", enterprise=True)
    orders = purchasing.requisition_order(requisition=requisition, actor=buyer)
    assert sorted(o.supplier.code for o in orders) == ["ACME", "NORD"]
    nord = next(o for o in orders if o.supplier.code == "NORD")
    line = nord.lines.get()
    assert (line.quantity, line.uom_code) == (D(75), "EA")  # 60 rounded up to packs of 25 (at least 50)
    assert line.expected_date == max(_needed(), nord.order_date + dt.timedelta(days=14))
    assert nord.status == "draft" and nord.currency == "EUR"
    assert PurchaseRequisition.objects.get(pk=requisition.pk).status == "ordered"
    assert not PurchaseRequisitionLine.objects.filter(requisition=requisition, order_line__isnull=True).exists()
    with pytest.raises(DomainError) as again:
        purchasing.requisition_order(requisition=requisition, actor=buyer)
    assert again.value.code == "invalid_transition"


def test_a_named_supplier_must_sell_the_sku_and_every_line_needs_one_to_submit(goods, planner):
    with pytest.raises(DomainError) as refused:
        _raise(goods, planner, supplier=Supplier.objects.get(code="DAIRY"))
    assert refused.value.code == "not_sold_by_supplier"
    orphan = twin("HDW-0012")  # nobody sells it
    requisition = purchasing.requisition_create(warehouse=warehouse("NE-BOS"), actor=planner, lines=[
        RequisitionLineSpec(item=orphan, quantity=D(5), needed_by=_needed())])
    with pytest.raises(DomainError) as refused:
        purchasing.requisition_submit(requisition=requisition, actor=planner)
    assert refused.value.code == "no_supplier"
    assert PurchaseRequisition.objects.get(pk=requisition.pk).status == "draft"


@pytest.mark.parametrize("case, code", [
    ("zero", "invalid_quantity"), ("unit", "unknown_uom"), ("past", "validation_error"), ("none", "validation_error"),
])
def test_bad_requisitions_write_nothing(goods, planner, case, code):
    paper = goods[0]
    lines = {"zero": [RequisitionLineSpec(item=paper, quantity=D(0), needed_by=_needed())],
             "unit": [RequisitionLineSpec(item=paper, quantity=D(1), uom="BOX", needed_by=_needed())],
             "past": [RequisitionLineSpec(item=paper, quantity=D(1), needed_by=_needed(-1))],
             "none": []}[case]
    before = PurchaseRequisition.objects.count()
    with pytest.raises(DomainError) as refused:
        purchasing.requisition_create(warehouse=warehouse("NE-BOS"), actor=planner, lines=lines)
    assert refused.value.code == code
    assert PurchaseRequisition.objects.count() == before


def test_a_rejected_requisition_orders_nothing_and_a_cancelled_one_withdraws_its_request(goods, planner):
    requisition = purchasing.requisition_submit(requisition=_raise(goods, planner), actor=planner)
    request = ApprovalRequest.objects.get(pk=requisition.approval_request_id)
    approval_request_decide(request=request, actor=person("pr.buyer", "buyer", regions=("NE",)), approve=False)
    assert PurchaseRequisition.objects.get(pk=requisition.pk).status == "rejected"
    before = PurchaseOrder.objects.count()
    with pytest.raises(DomainError):
        purchasing.requisition_order(requisition=requisition, actor=planner)
    assert PurchaseOrder.objects.count() == before
    other = purchasing.requisition_submit(requisition=_raise(goods, planner), actor=planner)
    cancelled = purchasing.requisition_cancel(requisition=other, actor=planner)
    assert cancelled.status == "cancelled"
    assert ApprovalRequest.objects.get(pk=other.approval_request_id).status == "cancelled"
