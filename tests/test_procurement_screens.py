"""The buying and receiving screens (issue 14, point 8): the purchase order list (filters, search, scope) and page
(both currencies with the rate, lines, approval trail, revisions, receipts, buttons by status and role), the entry
form (create, edit a draft, Add line, the supplier item lookup, refusals beside their fields), submit, cancel
through the confirm step, requisitions (form, submit, order), the buyer's workbench, the handheld receipt (posting,
a wrong scan, over-tolerance as the 409's message) and "My approvals" showing both currencies and the rule.

NORD sells PAP-0003 (a stock-free twin) in EUR; NE-BOS books in USD at 1.08. ``buyer`` and ``approver`` are the
demo's enterprise users; ``ne.operator`` works at NE-BOS and NE-NYC; ``eu.operator`` sees nothing of NE-BOS.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from governance.models import ApprovalRequest
from inventory.models import StockMove
from inventory.tests.factories import warehouse
from procurement import purchasing, receiving
from procurement.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseRequisition,
    Receipt,
    ReceiptLine,
    Supplier,
)
from procurement.purchasing import local_date
from procurement.tests.helpers import D, approved, approvers, decide_all, draft, offer, person, twin

pytestmark = pytest.mark.django_db

LIST, NEW, REQUISITIONS, WORKBENCH, RECEIVING = (
    "/purchase-orders/", "/purchase-orders/new/", "/requisitions/", "/purchase-orders/workbench/", "/receiving/")


def _detail(order: PurchaseOrder) -> str:
    return f"/purchase-orders/{order.pk}/"


def _client(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _page(response: Any) -> str:
    return response.content.decode()


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


@pytest.fixture
def paper(demo: Any) -> Any:
    product = twin("PAP-0003")
    offer(product, "NORD", price="4.00", uom="EA", moq=10, pack=5, lead=12)
    return product


@pytest.fixture
def buyer(demo: Any) -> Client:
    return _client("buyer")


@pytest.fixture
def operator(demo: Any) -> Client:
    return _client("ne.operator")


def _buyer_user() -> Any:
    return get_user_model().objects.get(username="buyer")


# --- the list -------------------------------------------------------------------------------------------------------


def test_the_list_shows_the_scopes_orders_and_its_filters_narrow_them(paper, buyer, operator):
    first = draft(paper, 100, actor=_buyer_user())
    second = approved(paper, 50)
    for client in (buyer, operator):
        response = client.get(LIST)
        assert response.status_code == 200
        assert f'data-order="{first.number}"' in _page(response) and f'data-order="{second.number}"' in _page(response)
    eu = _client("eu.operator")
    response = eu.get(LIST)
    assert response.status_code == 200 and first.number not in _page(response)
    assert eu.get(_detail(first)).status_code == 404
    only_approved = _page(buyer.get(LIST, {"status": "approved"}))
    assert second.number in only_approved and first.number not in only_approved
    by_number = _page(buyer.get(LIST, {"q": first.number.lower()}))
    assert first.number in by_number and second.number not in by_number
    assert second.number not in _page(buyer.get(LIST, {"supplier": "NOPE"}))
    partial = buyer.get(LIST, {"status": "draft"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "<html" not in _page(partial) and first.number in _page(partial)


def test_the_late_filter_and_the_workbench_show_open_lines_past_their_date(paper, buyer):
    order = approved(paper, 100)
    on_time = approved(paper, 20)
    yesterday = local_date(warehouse("NE-BOS")) - dt.timedelta(days=1)
    PurchaseOrderLine.objects.filter(order=order).update(expected_date=yesterday)  # the supplier's word, now past
    late = _page(buyer.get(LIST, {"late": "1"}))
    assert order.number in late and on_time.number not in late
    bench = buyer.get(WORKBENCH)
    assert bench.status_code == 200
    assert f'data-late-line="{order.number}/1"' in _page(bench)
    assert f'data-late-line="{on_time.number}/1"' not in _page(bench)
    assert 'data-status="approved"' in _page(bench) and "?status=approved" in _page(bench)


# --- an order's page ------------------------------------------------------------------------------------------------


def test_the_page_shows_both_currencies_the_rate_the_trail_and_no_buttons_for_an_operator(paper, buyer, operator):
    order = approved(paper, 100)
    page = _page(buyer.get(_detail(order)))
    assert "400.00" in page and "EUR" in page  # 100 x 4.00 EUR
    assert "432.00 USD" in page and "at 1.08 USD per EUR" in page
    assert 'data-field="approval-trail"' in page and "po.buyer2" in page
    assert 'data-revision="1"' in page
    assert 'data-action="revise"' in page and 'data-action="send"' in page and 'data-action="cancel"' in page
    seen = _page(operator.get(_detail(order)))
    assert order.number in seen and 'data-action="revise"' not in seen and 'data-action="receive"' in seen
    assert operator.post(f"/purchase-orders/{order.pk}/send/").status_code == 403
    assert PurchaseOrder.objects.get(pk=order.pk).status == "approved"


def test_submitting_a_draft_from_its_page_sends_it_for_approval(paper, buyer):
    order = draft(paper, 100, actor=_buyer_user())
    assert 'data-action="submit"' in _page(buyer.get(_detail(order)))
    response = buyer.post(f"/purchase-orders/{order.pk}/submit/", follow=True)
    order.refresh_from_db()
    assert order.status == "pending_approval" and order.base_total == D("432.00")
    assert any("waits for approval" in text for text in _messages(response))
    assert 'data-field="approval-trail"' in _page(response) and 'data-field="approval-rule"' in _page(response)


def test_a_refused_submit_is_a_message_and_changes_nothing(paper, buyer):
    order = approved(paper, 10)
    response = buyer.post(f"/purchase-orders/{order.pk}/submit/", follow=True)
    assert response.status_code == 200 and any("only a draft" in text for text in _messages(response))
    assert PurchaseOrder.objects.get(pk=order.pk).status == "approved"


def test_cancel_needs_the_confirm_step_and_a_reason(paper, buyer):
    order = draft(paper, 100, actor=_buyer_user())
    url = f"/purchase-orders/{order.pk}/cancel/"
    assert buyer.get(url).status_code == 200
    assert buyer.post(url, {"reason": "not needed"}).status_code == 200  # not through the step: asked again
    assert PurchaseOrder.objects.get(pk=order.pk).status == "draft"
    assert buyer.post(url, {"confirm": "yes", "reason": ""}).status_code == 400
    assert PurchaseOrder.objects.get(pk=order.pk).status == "draft"
    buyer.post(url, {"confirm": "yes", "reason": "Supplier discontinued it"})
    order.refresh_from_db()
    assert order.status == "cancelled" and order.cancel_reason == "Supplier discontinued it"


def test_revise_takes_an_approved_order_back_to_a_draft_of_the_next_revision(paper, buyer):
    order = approved(paper, 100)
    response = buyer.post(f"/purchase-orders/{order.pk}/revise/", {"confirm": "yes", "reason": "price"})
    assert response.status_code == 302 and response["Location"] == f"/purchase-orders/{order.pk}/edit/"
    order.refresh_from_db()
    assert (order.status, order.revision) == ("draft", 2)


def test_duplicate_makes_a_new_draft_with_the_same_lines(paper, buyer):
    order = approved(paper, 100)
    response = buyer.post(f"/purchase-orders/{order.pk}/duplicate/")
    copy = PurchaseOrder.objects.exclude(pk=order.pk).get(copied_from=order)
    assert response["Location"] == _detail(copy) and copy.status == "draft"
    assert PurchaseOrderLine.objects.get(order=copy).quantity == 100


# --- the entry form -------------------------------------------------------------------------------------------------


def _order_form(supplier: str = "NORD", site: str = "NE-BOS", **lines: Any) -> dict[str, str]:
    rows = lines.get("rows", [("T-PAP-0003", "100", "", "")])
    data = {"supplier": supplier, "warehouse": site, "supplier_reference": "", "note": "",
            "lines-TOTAL_FORMS": str(len(rows)), "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "1",
            "lines-MAX_NUM_FORMS": "1000", "action": "save"}
    for index, (sku, quantity, price, expected) in enumerate(rows):
        data.update({f"lines-{index}-sku": sku, f"lines-{index}-quantity": quantity, f"lines-{index}-uom": "",
                     f"lines-{index}-unit_price": price, f"lines-{index}-expected_date": expected})
    return data


def test_the_form_raises_a_draft_at_the_suppliers_price(paper, buyer):
    assert buyer.get(NEW).status_code == 200
    response = buyer.post(NEW, _order_form())
    order = PurchaseOrder.objects.get(requested_by__username="buyer", supplier__code="NORD")
    assert response.status_code == 302 and response["Location"] == _detail(order)
    line = PurchaseOrderLine.objects.get(order=order)
    assert (order.status, order.currency, order.total, line.unit_price) == ("draft", "EUR", D("400.00"), D("4"))
    assert line.expected_date == order.order_date + dt.timedelta(days=12)


def test_a_refused_line_comes_back_beside_its_field_and_writes_nothing(paper, buyer):
    before = PurchaseOrder.objects.count()
    response = buyer.post(NEW, _order_form(rows=[("T-PAP-0003", "7", "", "")]))  # below the minimum of 10
    assert response.status_code == 400 and "from 10" in _page(response)
    response = buyer.post(NEW, _order_form(rows=[("NO-SUCH-SKU", "10", "", "")]))
    assert response.status_code == 400 and "Unknown SKU: NO-SUCH-SKU." in _page(response)
    assert PurchaseOrder.objects.count() == before


def test_editing_a_draft_uses_the_same_form(paper, buyer):
    order = draft(paper, 100, actor=_buyer_user())
    url = f"/purchase-orders/{order.pk}/edit/"
    page = _page(buyer.get(url))
    assert 'value="T-PAP-0003"' in page
    response = buyer.post(url, _order_form(rows=[("T-PAP-0003", "50", "3.50", "")]))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.total == D("175.00")
    approved_order = approved(paper, 10)
    assert buyer.get(f"/purchase-orders/{approved_order.pk}/edit/").status_code == 404


def test_add_line_gives_one_more_row_without_writing(paper, buyer):
    before = PurchaseOrder.objects.count()
    data = {**_order_form(), "action": "add_line"}
    response = buyer.post(NEW, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="line-1"' in _page(response) and "<html" not in _page(response)
    assert PurchaseOrder.objects.count() == before


def test_the_supplier_item_lookup_shows_price_unit_minimum_pack_and_lead_time(paper, buyer, operator):
    url = "/purchase-orders/supplier-item/"
    page = _page(buyer.get(url, {"supplier": "NORD", "line": "0", "lines-0-sku": "t-pap-0003",
                                 "lines-0-quantity": "20"}))
    assert "4 EUR/EA" in page and "min 10 EA" in page and "packs of 5" in page and "12 days lead time" in page
    assert 'data-estimate="80.00"' in page
    assert "does not sell" in _page(buyer.get(url, {"supplier": "NORD", "sku": "CLN-0004"}))
    assert operator.get(url, {"supplier": "NORD", "sku": "T-PAP-0003"}).status_code == 403


def test_the_form_is_for_buyers_only(demo, operator):
    assert operator.get(NEW).status_code == 403
    assert _client("approver").get(NEW).status_code == 403


# --- requisitions ---------------------------------------------------------------------------------------------------


def _requisition_form(needed: dt.date) -> dict[str, str]:
    return {"warehouse": "NE-BOS", "note": "", "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0",
            "lines-MIN_NUM_FORMS": "1", "lines-MAX_NUM_FORMS": "1000", "action": "create",
            "lines-0-sku": "T-PAP-0003", "lines-0-quantity": "40", "lines-0-uom": "",
            "lines-0-needed_by": needed.isoformat(), "lines-0-supplier": "NORD"}


def test_a_planner_raises_and_submits_a_requisition_and_a_buyer_orders_it(paper, buyer):
    planner = _client("planner")
    needed = local_date(warehouse("NE-BOS")) + dt.timedelta(days=30)
    response = planner.post("/requisitions/new/", _requisition_form(needed))
    requisition = PurchaseRequisition.objects.get(requested_by__username="planner")
    assert response.status_code == 302 and response["Location"] == f"/requisitions/{requisition.pk}/"
    assert 'data-action="submit"' in _page(planner.get(f"/requisitions/{requisition.pk}/"))
    planner.post(f"/requisitions/{requisition.pk}/submit/")
    requisition.refresh_from_db()
    assert requisition.status == "submitted" and requisition.value == D("172.80")  # 40 x 4.00 EUR x 1.08
    assert requisition.number in _page(planner.get(REQUISITIONS, {"status": "submitted"}))
    from governance.services.approvals import approval_request_decide

    request = ApprovalRequest.objects.get(pk=requisition.approval_request_id)
    while request.status == "pending":
        step = request.steps.filter(status="pending").order_by("sequence").first()
        decider = person(f"pr.{step.role}", step.role, enterprise=True)
        request = approval_request_decide(request=request, actor=decider, approve=True)
    requisition.refresh_from_db()
    assert requisition.status == "approved"
    bench = _page(buyer.get(WORKBENCH))
    assert f'data-requisition="{requisition.number}"' in bench
    assert 'data-action="order"' not in _page(planner.get(f"/requisitions/{requisition.pk}/"))
    assert planner.post(f"/requisitions/{requisition.pk}/order/").status_code == 403
    response = buyer.post(f"/requisitions/{requisition.pk}/order/")
    requisition.refresh_from_db()
    order = PurchaseOrder.objects.get(note=f"From {requisition.number}")
    assert requisition.status == "ordered" and response["Location"] == _detail(order)
    assert order.number in _page(buyer.get(f"/requisitions/{requisition.pk}/"))


def test_the_requisition_pages_follow_the_scope(paper):
    planner = person("ne.planner", "planner", warehouses=("NE-BOS",))
    requisition = purchasing.requisition_create(
        warehouse=warehouse("NE-BOS"), actor=planner,
        lines=[purchasing.RequisitionLineSpec(item=paper, quantity=D(10),
                                              needed_by=local_date(warehouse("NE-BOS")) + dt.timedelta(days=5))])
    assert _client("ne.operator").get(f"/requisitions/{requisition.pk}/").status_code == 200
    assert _client("eu.operator").get(f"/requisitions/{requisition.pk}/").status_code == 404
    assert _client("ne.operator").get("/requisitions/new/").status_code == 403
    assert _client("ne.operator").get(WORKBENCH).status_code == 403


# --- receiving on the handheld --------------------------------------------------------------------------------------


def _approved_with_reference(product: Any, reference: str) -> PurchaseOrder:
    """An approved order whose supplier's reference (the ASN on the delivery note) is ``reference``."""
    buyer_user = person("po.buyer", "buyer", enterprise=True)
    order = purchasing.purchase_order_create(
        supplier=Supplier.objects.get(code="NORD"), warehouse=warehouse("NE-BOS"), actor=buyer_user,
        supplier_reference=reference, lines=[purchasing.OrderLineSpec(item=product, quantity=D(100))])
    purchasing.purchase_order_submit(order=order, actor=buyer_user)
    return decide_all(order, approvers())


def _scan(client: Client, order: PurchaseOrder, **fields: Any) -> Any:
    return client.post(f"/receiving/{order.pk}/", {"action": "line", **fields})


def test_the_handheld_finds_the_order_by_number_or_supplier_reference(paper, operator):
    order = _approved_with_reference(paper, "ASN-77")
    assert operator.get(RECEIVING, {"scan": order.number.lower()})["Location"] == f"/receiving/{order.pk}/"
    assert operator.get(RECEIVING, {"scan": "asn-77"})["Location"] == f"/receiving/{order.pk}/"
    missing = operator.get(RECEIVING, {"scan": "ASN-NONE"})
    assert missing.status_code == 404 and "No order to receive is ASN-NONE" in _page(missing)
    assert _client("eu.operator").get(RECEIVING, {"scan": order.number}).status_code == 404
    assert _client("eu.operator").get(f"/receiving/{order.pk}/").status_code == 404
    assert _client("buyer").get(RECEIVING).status_code == 403


def test_the_handheld_posts_a_receipt(paper, operator):
    order = approved(paper, 100)
    page = operator.get(f"/receiving/{order.pk}/")
    assert page.status_code == 200 and 'data-line="1"' in _page(page)
    wrong = _scan(operator, order, line="1", sku="CLN-0004", quantity="60", status="available", location="A-01-01")
    assert wrong.status_code == 200 and "Wrong item: this line is T-PAP-0003." in _page(wrong)
    response = _scan(operator, order, line="1", sku="t-pap-0003", quantity="60", status="available",
                     location="a-01-01")
    assert response.status_code == 302
    assert not Receipt.objects.filter(purchase_order=order).exists()  # kept until Confirm
    response = operator.post(f"/receiving/{order.pk}/", {"action": "confirm"}, follow=True)
    receipt = Receipt.objects.get(purchase_order=order)
    line = ReceiptLine.objects.get(receipt=receipt)
    assert (line.quantity, line.location.code, line.status, line.unit_cost) == (D(60), "A-01-01", "available",
                                                                                D("4.32"))
    assert StockMove.objects.filter(pk=line.move_id).exists()
    order.refresh_from_db()
    assert order.status == "partially_received"
    assert any(receipt.number in text for text in _messages(response))
    assert f'data-receipt="{receipt.number}"' in _page(response)


def test_over_the_tolerance_is_the_409s_message_and_posts_nothing(paper, operator):
    order = approved(paper, 100)
    _scan(operator, order, line="1", sku="T-PAP-0003", quantity="106", status="available", location="A-01-01")
    moves = StockMove.objects.count()
    response = operator.post(f"/receiving/{order.pk}/", {"action": "confirm"})
    assert response.status_code == 409
    assert "5% tolerance allows 105" in _page(response) and 'data-field="refusal"' in _page(response)
    assert StockMove.objects.count() == moves and not Receipt.objects.filter(purchase_order=order).exists()
    assert PurchaseOrder.objects.get(pk=order.pk).status == "approved"


def test_a_lot_tracked_item_asks_for_its_lot(demo, operator):
    product = twin("BEV-0001")
    assert product.lot_tracked
    offer(product, "NORD", price="2.00", uom=product.base_uom.code)
    order = approved(product, 10)
    missing = _scan(operator, order, line="1", sku=product.sku, quantity="10", status="available",
                    location="A-01-01")
    assert missing.status_code == 200 and "is lot-tracked: scan its lot" in _page(missing)
    expiry = local_date(warehouse("NE-BOS")) + dt.timedelta(days=200)
    _scan(operator, order, line="1", sku=product.sku, quantity="10", status="quality_hold", location="A-01-01",
          lot="L-1", expiry=expiry.isoformat())
    operator.post(f"/receiving/{order.pk}/", {"action": "confirm"})
    line = ReceiptLine.objects.select_related("lot").get(receipt__purchase_order=order)
    assert (line.lot.lot_number, line.lot.expiry_date, line.status) == ("L-1", expiry, "quality_hold")


# --- approvals and navigation ---------------------------------------------------------------------------------------


def test_my_approvals_shows_both_currencies_and_the_rule(paper):
    buyer_user = _buyer_user()
    order = draft(paper, 100, actor=buyer_user)
    purchasing.purchase_order_submit(order=order, actor=buyer_user)
    request = ApprovalRequest.objects.select_related("rule").get(pk=PurchaseOrder.objects.get(pk=order.pk)
                                                                 .approval_request_id)
    decider = person("po.buyer2", "buyer", enterprise=True)
    client = Client()
    client.force_login(decider)
    page = _page(client.get("/governance/approvals/"))
    assert f'id="approval-{request.pk}"' in page
    assert "400.00" in page and "EUR" in page and 'data-field="base-amount"' in page and "432.00" in page
    assert request.rule is not None and f"Rule: {request.rule.name}" in page
    assert _detail(order) in page  # "open document" links the order's page


def test_the_navigation_offers_buying_to_buyers_and_receiving_to_operators(demo, buyer, operator):
    bought = _page(buyer.get(LIST))
    assert 'href="/purchase-orders/"' in bought and 'href="/requisitions/"' in bought
    assert 'href="/purchase-orders/workbench/"' in bought and 'href="/receiving/"' not in bought
    received = _page(operator.get(LIST))
    assert 'href="/receiving/"' in received and 'href="/purchase-orders/workbench/"' not in received


# --- queries --------------------------------------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_list_the_page_and_the_workbench_read_in_a_constant_number_of_queries(paper, buyer, operator):
    products = [paper, *(twin(f"PAP-000{n}") for n in (1, 2, 4))]
    for made in products[1:]:
        offer(made, "NORD", price="3.00")
    one = approved(paper, 10)
    many = purchasing.purchase_order_create(
        supplier=Supplier.objects.get(code="NORD"), warehouse=warehouse("NE-BOS"), actor=_buyer_user(),
        lines=[purchasing.OrderLineSpec(item=made, quantity=D(10)) for made in products])
    purchasing.purchase_order_submit(order=many, actor=_buyer_user())
    many = decide_all(many, approvers())
    receiver = get_user_model().objects.get(username="ne.operator")
    for order, count in ((one, 1), (many, len(products))):
        receiving.receipt_post(purchase_order=order, actor=receiver, lines=[
            receiving.ReceiptLineSpec(line_no=n, quantity=D(5), location="A-01-01") for n in range(1, count + 1)])
    assert _queries(buyer, _detail(one)) == _queries(buyer, _detail(many))
    small = _queries(buyer, f"{LIST}?late=1&status=partially_received")
    bench = _queries(buyer, WORKBENCH)
    for _ in range(3):
        approved(paper, 10)
    assert _queries(buyer, f"{LIST}?late=1&status=partially_received") == small
    assert _queries(buyer, f"{LIST}") == _queries(buyer, f"{LIST}?status=approved")
    assert _queries(buyer, WORKBENCH) == bench


def test_a_supervisor_may_allow_an_over_receipt_an_operator_may_not(paper):
    supervisor = person("bos.supervisor", "warehouse_supervisor", warehouses=("NE-BOS",))
    client = Client()
    client.force_login(supervisor)
    order = approved(paper, 100)
    _scan(client, order, line="1", sku="T-PAP-0003", quantity="110", status="available", location="A-01-01")
    assert 'name="allow_over"' in _page(client.get(f"/receiving/{order.pk}/"))
    client.post(f"/receiving/{order.pk}/", {"action": "confirm", "allow_over": "yes"})
    line = ReceiptLine.objects.get(receipt__purchase_order=order)
    assert (line.quantity, line.over_quantity, line.over_allowed_by_id) == (D(110), D(10), supervisor.pk)
    other = approved(paper, 100)
    operator = _client("ne.operator")
    _scan(operator, other, line="1", sku="T-PAP-0003", quantity="110", status="available", location="A-01-01")
    assert 'name="allow_over"' not in _page(operator.get(f"/receiving/{other.pk}/"))
    assert operator.post(f"/receiving/{other.pk}/", {"action": "confirm", "allow_over": "yes"}).status_code == 409
    assert not Receipt.objects.filter(purchase_order=other).exists()


def test_close_and_requisition_cancel_go_through_their_confirm_steps(paper, buyer):
    order = approved(paper, 100)
    receiving.receipt_post(purchase_order=order, actor=get_user_model().objects.get(username="ne.operator"),
                           lines=[receiving.ReceiptLineSpec(line_no=1, quantity=D(40), location="A-01-01")])
    url = f"/purchase-orders/{order.pk}/close/"
    assert "60 T-PAP-0003 still open is no longer on order" in _page(buyer.get(url))
    assert buyer.post(f"/purchase-orders/{order.pk}/cancel/", {"confirm": "yes", "reason": "x"}).status_code == 302
    assert PurchaseOrder.objects.get(pk=order.pk).status == "partially_received"  # refused: it has receipts
    buyer.post(url, {"confirm": "yes", "reason": "The rest is discontinued"})
    assert PurchaseOrder.objects.get(pk=order.pk).status == "closed"
    requisition = purchasing.requisition_create(
        warehouse=warehouse("NE-BOS"), actor=_buyer_user(),
        lines=[purchasing.RequisitionLineSpec(item=paper, quantity=D(10),
                                              needed_by=local_date(warehouse("NE-BOS")) + dt.timedelta(days=5))])
    cancel = f"/requisitions/{requisition.pk}/cancel/"
    assert buyer.get(cancel).status_code == 200
    buyer.post(cancel, {"confirm": "yes"})
    assert PurchaseRequisition.objects.get(pk=requisition.pk).status == "cancelled"


def test_the_location_is_the_put_away_proposal_or_scanned(paper, operator):
    from procurement.views_receiving import putaway_module

    order = approved(paper, 100)
    page = _page(operator.get(f"/receiving/{order.pk}/"))
    module = putaway_module()
    if module is None:  # the put-away rules are not installed: the operator scans where it goes
        response = _scan(operator, order, line="1", sku="T-PAP-0003", quantity="100", status="available")
        assert response.status_code == 200 and "Scan the location" in _page(response)
        return
    proposal = module.putaway_proposals(warehouse=warehouse("NE-BOS"), lines=[(0, paper, D(100))])[0]
    assert f"{proposal.parts[0].location.code}" in page and 'data-field="proposal"' in page
    _scan(operator, order, line="1", sku="T-PAP-0003", quantity="100", status="available", location="")
    operator.post(f"/receiving/{order.pk}/", {"action": "confirm"})
    placed = {(line.location_id, line.quantity) for line in ReceiptLine.objects.filter(receipt__purchase_order=order)}
    assert placed == {(part.location.pk, part.quantity) for part in proposal.parts}


def test_the_page_shows_the_orders_history_and_its_late_receipt_exception(paper, buyer):
    from procurement import schedule

    order = approved(paper, 100)
    yesterday = local_date(warehouse("NE-BOS")) - dt.timedelta(days=1)
    PurchaseOrderLine.objects.filter(order=order).update(expected_date=yesterday)
    assert schedule.late_receipts_raise() >= 1
    page = _page(_client("approver").get(_detail(order)))
    assert "audit-history" in page and "Line 1" in page
    assert f"{order.number} from NORD is late at NE-BOS" in page
