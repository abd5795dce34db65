"""The procure-to-pay API (issue 14): ``purchase-requisitions/``, ``purchase-orders/`` and ``receipts/`` through
DRF's client: the contract's fields, a draft edited and frozen once submitted, approval through ``approvals/``,
receiving, idempotency keys, roles, scope, list filters, and bad input (400/409/403 in the error shape, nothing
written).

NORD sells in EUR (1.08 USD); NE-BOS books in USD; the standard over-receipt tolerance is 5%; an order below 5,000
USD is approved by one buyer (``procurement.approval_matrix``), never the one who raised it. The demo's ``buyer``
raises orders, ``ne.operator`` works NE-BOS and NE-NYC, ``planner`` raises requisitions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from governance.models import ApprovalRequest, ApprovalStatus
from inventory.models import StockMove
from inventory.tests.factories import warehouse
from procurement import purchasing
from procurement.models import PurchaseOrder, PurchaseOrderLine, PurchaseRequisition, Receipt
from procurement.purchasing import local_date
from procurement.tests.helpers import D, approved, draft, offer, person, twin

pytestmark = pytest.mark.django_db

ORDERS = "api:purchase-order-list"
RECEIPTS = "api:receipt-list"
REQUISITIONS = "api:purchase-requisition-list"
# The contract's names (api-v1.md, "Procurement and replenishment"), and the extras an order shows.
ORDER_FIELDS = {"id", "number", "supplier", "warehouse", "currency", "status", "total", "lines", "revision",
                "base_currency", "base_total", "rate", "category", "approval_request", "order_date",
                "supplier_reference", "note", "copied_from"}
ORDER_LINE_FIELDS = {"line_no", "sku", "quantity", "uom", "unit_price", "expected_date", "received_quantity"}
REQUISITION_FIELDS = {"id", "number", "warehouse", "source", "status", "lines"}
RECEIPT_LINE_FIELDS = {"line_no", "quantity", "uom", "lot", "expiry_date", "status", "location", "unit_cost",
                       "freight", "over_quantity"}


@pytest.fixture
def paper(demo: Any) -> Any:
    product = twin("PAP-0003")
    offer(product, "NORD", price="4.00", uom="EA")
    return product


@pytest.fixture
def drink(demo: Any) -> Any:
    product = twin("BEV-0002")
    offer(product, "NORD", price="1.00", uom="EA")
    return product


@pytest.fixture
def buyer(api_as: Any) -> APIClient:
    return api_as("buyer")


@pytest.fixture
def operator(api_as: Any) -> APIClient:
    return api_as("ne.operator")


def client_of(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _today() -> dt.date:
    return local_date(warehouse("NE-BOS"))


def _order_body(sku: str = "T-PAP-0003", quantity: Any = "100", **overrides: Any) -> dict[str, Any]:
    return {"supplier": "NORD", "warehouse": "NE-BOS", "lines": [{"sku": sku, "quantity": quantity}], **overrides}


def _url(action: str, pk: Any, kind: str = "purchase-order") -> str:
    return reverse(f"api:{kind}-{action}", args=[pk if isinstance(pk, int) else pk["id"] if isinstance(pk, dict)
                                                 else pk.pk])


def _ok(response: Any, status_code: int = 200) -> dict[str, Any]:
    assert response.status_code == status_code, response.content[:500]
    return dict(response.json())


def _assert_error(response: Any, status_code: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status_code, body
    assert set(body) == {"code", "message", "detail"} and body["code"] == code, body
    return dict(body)


def _approve(order_id: int, deciders: list[APIClient]) -> dict[str, Any]:
    """Each decider approves the request's current step through ``approvals/{id}/approve/`` until it is decided."""
    request_id = PurchaseOrder.objects.get(pk=order_id).approval_request_id
    for client in deciders:
        if ApprovalRequest.objects.get(pk=request_id).status != ApprovalStatus.PENDING:
            break
        _ok(client.post(reverse("api:approval-approve", args=[request_id]), {}, format="json"))
    return dict(PurchaseOrder.objects.filter(pk=order_id).values("status", "approved_at").get())


def _deciders(api_as: Any) -> list[APIClient]:
    return [client_of(person("api.buyer2", "buyer", enterprise=True)), api_as("approver"), api_as("finance")]


def _written() -> tuple[int, int, int, int]:
    return (PurchaseOrder.objects.count(), PurchaseOrderLine.objects.count(), Receipt.objects.count(),
            StockMove.objects.count())


# --- the happy path -------------------------------------------------------------------------------------------


def test_an_order_is_raised_edited_submitted_approved_and_received_through_the_api(paper, buyer, operator, api_as):
    created = _ok(buyer.post(reverse(ORDERS), _order_body(), format="json"), 201)
    assert set(created) >= ORDER_FIELDS and set(created["lines"][0]) >= ORDER_LINE_FIELDS
    assert created["number"] == f"PO-{created['id']:06d}" and created["status"] == "draft"
    assert (created["supplier"], created["warehouse"], created["currency"], created["total"]) == (
        "NORD", "NE-BOS", "EUR", "400.00")
    line = created["lines"][0]
    assert (line["sku"], line["quantity"], line["uom"], line["unit_price"], line["received_quantity"]) == (
        "T-PAP-0003", "100.0000", "EA", "4.000000", "0.0000")

    edited = _ok(buyer.patch(_url("detail", created), {"note": "dock 2", "lines": [
        {"sku": "T-PAP-0003", "quantity": "120", "unit_price": "3.50"}]}, format="json"))
    assert (edited["note"], edited["total"], edited["lines"][0]["quantity"]) == ("dock 2", "420.00", "120.0000")

    submitted = _ok(buyer.post(_url("submit", created), {}, format="json"))
    assert submitted["status"] == "pending_approval" and submitted["approval_request"] is not None
    assert (submitted["base_currency"], submitted["rate"], submitted["base_total"]) == ("USD", "1.08000000",
                                                                                          "453.60")
    frozen = _assert_error(buyer.patch(_url("detail", created), {"note": "late change"}, format="json"), 409,
                           "purchase_order_frozen")
    assert frozen["detail"]["status"] == "pending_approval"
    assert PurchaseOrder.objects.get(pk=created["id"]).note == "dock 2"

    # The buyer who raised it may not approve it; another buyer does.
    _assert_error(buyer.post(reverse("api:approval-approve", args=[submitted["approval_request"]]), {},
                             format="json"), 409, "self_approval_forbidden")
    assert _approve(created["id"], _deciders(api_as))["status"] == "approved"
    assert _ok(buyer.get(_url("detail", created)))["status"] == "approved"

    receipt = _ok(operator.post(reverse(RECEIPTS), {
        "purchase_order": created["number"], "warehouse": "NE-BOS", "supplier_reference": "ASN-77",
        "lines": [{"line_no": 1, "quantity": "70", "location": "A-01-01"}, {"line_no": 1, "quantity": "50"}],
        "freight": {"amount": "24.00", "currency": "EUR", "method": "quantity"}}, format="json"), 201)
    assert receipt["number"] == f"RCV-{receipt['id']:06d}" and receipt["purchase_order"] == created["number"]
    assert receipt["freight"] == {"amount": "24.00", "currency": "EUR", "method": "quantity", "base_amount": "25.92"}
    assert set(receipt["lines"][0]) >= RECEIPT_LINE_FIELDS
    first = receipt["lines"][0]
    assert (first["location"], first["quantity"], first["status"], first["over_quantity"]) == (
        "A-01-01", "70.0000", "available", "0.0000")
    # 3.50 EUR at 1.08 is 3.78 USD, plus 25.92 USD of freight over 120 units.
    assert first["unit_cost"] == "3.996000"
    assert sum(D(row["freight"]) for row in receipt["lines"]) == D("25.92")

    after = _ok(buyer.get(_url("detail", created)))
    assert after["status"] == "received" and after["lines"][0]["received_quantity"] == "120.0000"
    assert _ok(operator.get(_url("detail", receipt["id"], "receipt")))["number"] == receipt["number"]
    listed = _ok(operator.get(reverse(RECEIPTS), {"purchase_order": created["number"]}))
    assert [row["number"] for row in listed["results"]] == [receipt["number"]]


def test_an_order_can_be_named_by_its_id_and_a_later_receipt_beyond_tolerance_is_refused(paper, operator):
    order = approved(paper, 100)
    body = {"purchase_order": str(order.pk), "lines": [{"line_no": 1, "quantity": "60"}]}
    first = _ok(operator.post(reverse(RECEIPTS), body, format="json"), 201)
    assert first["purchase_order_id"] == order.pk
    before = _written()
    refused = _assert_error(operator.post(reverse(RECEIPTS), {**body, "lines": [{"line_no": 1, "quantity": "46"}]},
                                          format="json"), 409, "over_receipt")
    assert refused["detail"]["limit"] == "105.0000"
    assert _written() == before
    _ok(operator.post(reverse(RECEIPTS), {**body, "lines": [{"line_no": 1, "quantity": "45"}]}, format="json"), 201)
    line = PurchaseOrderLine.objects.get(order=order)
    assert line.received_quantity == D(105)


def test_the_same_idempotency_key_makes_one_order(paper, buyer):
    headers = {"HTTP_IDEMPOTENCY_KEY": "po-api-1"}
    first = _ok(buyer.post(reverse(ORDERS), _order_body(), format="json", **headers), 201)
    again = _ok(buyer.post(reverse(ORDERS), _order_body(), format="json", **headers), 201)
    assert first["id"] == again["id"]
    assert PurchaseOrder.objects.filter(lines__item=paper).count() == 1
    _assert_error(buyer.post(reverse(ORDERS), _order_body(quantity="7"), format="json", **headers), 409,
                  "idempotency_key_reused")


def test_revise_send_close_duplicate_and_cancel_through_the_api(paper, buyer, api_as):
    order = approved(paper, 100)
    sent = _ok(buyer.post(_url("send", order), {}, format="json"))
    assert sent["status"] == "sent"
    revised = _ok(buyer.post(_url("revise", order), {"reason": "price change"}, format="json"))
    assert (revised["status"], revised["revision"], revised["approval_request"]) == ("draft", 2, None)
    _ok(buyer.patch(_url("detail", order), {"supplier_reference": "SO-9"}, format="json"))
    _ok(buyer.post(_url("submit", order), {}, format="json"))
    assert _approve(order.pk, _deciders(api_as))["status"] == "approved"
    closed = _ok(buyer.post(_url("close", order), {"reason": "supplier stopped the line"}, format="json"))
    assert closed["status"] == "closed"
    _assert_error(buyer.post(_url("cancel", order), {}, format="json"), 409, "invalid_transition")

    copy = _ok(buyer.post(_url("duplicate", order), {}, format="json"), 201)
    assert (copy["status"], copy["copied_from"], copy["revision"], copy["approval_request"]) == (
        "draft", order.pk, 1, None)
    assert copy["lines"][0]["quantity"] == "100.0000"
    cancelled = _ok(buyer.post(_url("cancel", copy), {"reason": "not needed"}, format="json"))
    assert cancelled["status"] == "cancelled"
    _assert_error(buyer.post(_url("submit", copy), {}, format="json"), 409, "invalid_transition")


def test_a_requisition_is_raised_submitted_approved_and_ordered(paper, api_as):
    planner, buyer = api_as("planner"), api_as("buyer")
    needed = (_today() + dt.timedelta(days=20)).isoformat()
    made = _ok(planner.post(reverse(REQUISITIONS), {"warehouse": "NE-BOS", "lines": [
        {"sku": "T-PAP-0003", "quantity": "30", "needed_by": needed, "supplier": "NORD"}]}, format="json"), 201)
    assert set(made) >= REQUISITION_FIELDS and made["number"] == f"PR-{made['id']:06d}"
    assert (made["status"], made["source"], made["lines"][0]["supplier"]) == ("draft", "manual", "NORD")
    _assert_error(buyer.post(_url("order", made, "purchase-requisition"), {}, format="json"), 409,
                  "invalid_transition")
    submitted = _ok(planner.post(_url("submit", made, "purchase-requisition"), {}, format="json"))
    assert submitted["status"] == "submitted"
    _ok(buyer.post(reverse("api:approval-approve", args=[submitted["approval_request"]]), {}, format="json"))
    _assert_error(planner.post(_url("order", made, "purchase-requisition"), {}, format="json"), 403,
                  "permission_denied")
    orders = buyer.post(_url("order", made, "purchase-requisition"), {}, format="json")
    assert orders.status_code == 200, orders.content[:300]
    [order] = orders.json()
    assert (order["supplier"], order["warehouse"], order["status"], order["lines"][0]["quantity"]) == (
        "NORD", "NE-BOS", "draft", "30.0000")
    after = _ok(planner.get(_url("detail", made, "purchase-requisition")))
    assert after["status"] == "ordered" and after["lines"][0]["purchase_order"] == order["number"]


# --- bad input: 400 or 409 in the error shape, nothing written ------------------------------------------------


def _past(days: int = 10) -> str:
    return (_today() - dt.timedelta(days=days)).isoformat()


BAD_ORDERS = [
    ("unknown supplier", _order_body(supplier="NOPE"), 400, "validation_error"),
    ("unknown warehouse", _order_body(warehouse="XX-NONE"), 400, "validation_error"),
    ("unknown SKU", _order_body(sku="NO-SUCH-SKU"), 400, "validation_error"),
    ("SKU the supplier does not sell", _order_body(sku="T-CLN-0004"), 400, "not_sold_by_supplier"),
    ("unknown unit", {**_order_body(), "lines": [{"sku": "T-PAP-0003", "quantity": "1", "uom": "BARREL"}]}, 400,
     "unknown_uom"),
    ("quantity 0", _order_body(quantity="0"), 400, "invalid_quantity"),
    ("quantity below 0", _order_body(quantity="-5"), 400, "invalid_quantity"),
    ("quantity not a number", _order_body(quantity="many"), 400, "validation_error"),
    ("price 0", {**_order_body(), "lines": [{"sku": "T-PAP-0003", "quantity": "1", "unit_price": "0"}]}, 400,
     "invalid_price"),
    ("price below 0", {**_order_body(), "lines": [{"sku": "T-PAP-0003", "quantity": "1", "unit_price": "-1"}]}, 400,
     "invalid_price"),
    ("extra field", _order_body(discount="10"), 400, "validation_error"),
    ("extra line field", {**_order_body(), "lines": [{"sku": "T-PAP-0003", "quantity": "1", "lot": "L1"}]}, 400,
     "validation_error"),
    ("missing lines", {"supplier": "NORD", "warehouse": "NE-BOS"}, 400, "validation_error"),
    ("no lines", _order_body() | {"lines": []}, 400, "validation_error"),
    ("lines not a list", _order_body() | {"lines": "T-PAP-0003"}, 400, "validation_error"),
    ("another currency than the supplier's", _order_body(currency="USD"), 400, "validation_error"),
    ("the same SKU twice", _order_body() | {"lines": [{"sku": "T-PAP-0003", "quantity": "1"}] * 2}, 400,
     "validation_error"),
]


@pytest.mark.parametrize(("case", "body", "status_code", "code"), BAD_ORDERS, ids=[row[0] for row in BAD_ORDERS])
def test_bad_orders_write_nothing(paper, buyer, case, body, status_code, code):
    twin("CLN-0004")
    before = _written()
    _assert_error(buyer.post(reverse(ORDERS), body, format="json"), status_code, code)
    assert _written() == before


@pytest.mark.parametrize("field", ["order_date", "expected_date"])
def test_dates_in_the_past_are_refused(paper, buyer, field):
    body = _order_body(order_date=_past()) if field == "order_date" else {
        **_order_body(), "lines": [{"sku": "T-PAP-0003", "quantity": "1", "expected_date": _past()}]}
    before = _written()
    response = _assert_error(buyer.post(reverse(ORDERS), body, format="json"), 400, "validation_error")
    assert response["detail"]
    assert _written() == before


PAST = "<ten days ago>"  # resolved when the test runs, never at collection (the date is the test's, not import's)


def _dated(value: Any) -> Any:
    if value == PAST:
        return _past()
    if isinstance(value, dict):
        return {key: _dated(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dated(item) for item in value]
    return value


def _receipt_cases() -> list[tuple[str, str, dict[str, Any], int, str]]:
    """(case, which order, body overrides, status, code): ``paper`` orders 100 EA of a plain item, ``drink`` 100 EA
    of a lot-tracked one; both approved unless named ``draft`` or ``cancelled``."""
    line = {"line_no": 1, "quantity": "10"}
    return [
        ("a draft order", "draft", {}, 409, "not_receivable"),
        ("a cancelled order", "cancelled", {}, 409, "not_receivable"),
        ("over the tolerance", "paper", {"lines": [{**line, "quantity": "106"}]}, 409, "over_receipt"),
        ("over, allowed by an operator who may not", "paper",
         {"allow_over": True, "lines": [{**line, "quantity": "106"}]}, 403, "permission_denied"),
        ("lot missing for a lot-tracked item", "drink", {}, 400, "lot_required"),
        ("lot for an item not lot-tracked", "paper", {"lines": [{**line, "lot": "L-1"}]}, 400, "lot_not_allowed"),
        ("expiry before today", "drink", {"lines": [{**line, "lot": "L-1", "expiry_date": PAST}]}, 400,
         "validation_error"),
        ("freight method unknown", "paper", {"freight": {"amount": "5.00", "currency": "EUR", "method": "air"}}, 400,
         "validation_error"),
        ("freight below 0", "paper", {"freight": {"amount": "-5.00", "currency": "EUR", "method": "value"}}, 400,
         "validation_error"),
        ("freight currency not ISO", "paper", {"freight": {"amount": "5.00", "currency": "eur", "method": "value"}},
         400, "validation_error"),
        ("freight without a method", "paper", {"freight": {"amount": "5.00", "currency": "EUR"}}, 400,
         "validation_error"),
        ("another warehouse than the order's", "paper", {"warehouse": "NE-NYC"}, 400, "validation_error"),
        ("unknown order", "paper", {"purchase_order": "PO-999999"}, 400, "validation_error"),
        ("a line the order does not have", "paper", {"lines": [{**line, "line_no": 9}]}, 400, "validation_error"),
        ("quantity 0", "paper", {"lines": [{**line, "quantity": "0"}]}, 400, "invalid_quantity"),
        ("unknown unit", "paper", {"lines": [{**line, "uom": "BARREL"}]}, 400, "unknown_uom"),
        ("a status not received into", "paper", {"lines": [{**line, "status": "damaged"}]}, 400, "validation_error"),
        ("unknown location", "paper", {"lines": [{**line, "location": "Z-99"}]}, 400, "validation_error"),
        ("the shipping dock", "paper", {"lines": [{**line, "location": "DOCK-2"}]}, 400, "validation_error"),
        ("extra field", "paper", {"carrier": "UPS"}, 400, "validation_error"),
        ("no lines", "paper", {"lines": []}, 400, "validation_error"),
    ]


RECEIPT_CASES = _receipt_cases()


@pytest.mark.parametrize(("case", "which", "overrides", "status_code", "code"), RECEIPT_CASES,
                         ids=[row[0] for row in RECEIPT_CASES])
def test_bad_receipts_write_nothing(paper, drink, operator, case, which, overrides, status_code, code):
    if which in ("draft", "cancelled"):
        order = draft(paper, 100, actor=person("po.buyer", "buyer", enterprise=True))
        if which == "cancelled":
            purchasing.purchase_order_cancel(order=order, actor=None)
    else:
        order = approved(paper if which == "paper" else drink, 100)
    body = {"purchase_order": order.number, "warehouse": "NE-BOS", "lines": [{"line_no": 1, "quantity": "10"}],
            **_dated(overrides)}
    before, status_before = _written(), PurchaseOrder.objects.get(pk=order.pk).status
    _assert_error(operator.post(reverse(RECEIPTS), body, format="json"), status_code, code)
    assert _written() == before
    assert PurchaseOrder.objects.get(pk=order.pk).status == status_before
    assert PurchaseOrderLine.objects.get(order=order).received_quantity == 0


def test_a_lot_tracked_item_is_received_with_its_lot_and_expiry(drink, operator):
    order = approved(drink, 100)
    expiry = (_today() + dt.timedelta(days=200)).isoformat()
    receipt = _ok(operator.post(reverse(RECEIPTS), {"purchase_order": order.number, "lines": [
        {"line_no": 1, "quantity": "100", "lot": "LOT-API-1", "expiry_date": expiry}]}, format="json"), 201)
    assert {(row["lot"], row["expiry_date"]) for row in receipt["lines"]} == {("LOT-API-1", expiry)}


def test_bad_requisitions_write_nothing(paper, api_as):
    planner = api_as("planner")
    needed = (_today() + dt.timedelta(days=5)).isoformat()
    line = {"sku": "T-PAP-0003", "quantity": "3", "needed_by": needed}
    cases = [
        ({"warehouse": "NE-BOS", "lines": [{**line, "supplier": "NOPE"}]}, 400, "validation_error"),
        ({"warehouse": "NE-BOS", "lines": [{**line, "sku": "NO-SUCH"}]}, 400, "validation_error"),
        ({"warehouse": "NE-BOS", "lines": [{**line, "quantity": "0"}]}, 400, "invalid_quantity"),
        ({"warehouse": "NE-BOS", "lines": [{**line, "needed_by": _past()}]}, 400, "validation_error"),
        ({"warehouse": "NE-BOS", "lines": [{**line, "supplier": "ACME"}]}, 400, "not_sold_by_supplier"),
        ({"warehouse": "NE-BOS", "lines": []}, 400, "validation_error"),
        ({"warehouse": "NE-BOS", "source": "guess", "lines": [line]}, 400, "validation_error"),
        ({"warehouse": "NE-BOS", "priority": "high", "lines": [line]}, 400, "validation_error"),
    ]
    before = PurchaseRequisition.objects.count()
    for body, status_code, code in cases:
        _assert_error(planner.post(reverse(REQUISITIONS), body, format="json"), status_code, code)
    assert PurchaseRequisition.objects.count() == before


# --- roles and scope ------------------------------------------------------------------------------------------


def test_roles_decide_who_writes_what(paper, api_as):
    before = _written()
    _assert_error(api_as("ne.operator").post(reverse(ORDERS), _order_body(), format="json"), 403,
                  "permission_denied")
    _assert_error(api_as("planner").post(reverse(ORDERS), _order_body(), format="json"), 403, "permission_denied")
    order = approved(paper, 100)
    before = _written()
    body = {"purchase_order": order.number, "lines": [{"line_no": 1, "quantity": "10"}]}
    # Buyers buy; they do not receive (no procurement.add_receipt).
    _assert_error(api_as("buyer").post(reverse(RECEIPTS), body, format="json"), 403, "permission_denied")
    for action in ("send", "cancel", "close", "revise", "submit", "duplicate"):
        _assert_error(api_as("ne.operator").post(_url(action, order), {}, format="json"), 403, "permission_denied")
    _assert_error(api_as("ne.operator").patch(_url("detail", order), {"note": "x"}, format="json"), 403,
                  "permission_denied")
    assert _written() == before
    assert PurchaseOrder.objects.get(pk=order.pk).status == "approved"
    _ok(api_as("integrator").post(reverse(RECEIPTS), body, format="json"), 201)


def test_a_document_outside_the_scope_is_not_found(paper, api_as):
    elsewhere = approved(paper, 100, warehouse="SE-ATL")
    mine = approved(paper, 100)
    operator = api_as("ne.operator")
    _assert_error(operator.get(_url("detail", elsewhere)), 404, "not_found")
    numbers = {row["number"] for row in _ok(operator.get(reverse(ORDERS), {"page_size": 500}))["results"]}
    assert mine.number in numbers and elsewhere.number not in numbers
    assert _ok(operator.get(reverse(ORDERS), {"warehouse": "SE-ATL"}))["count"] == 0
    before = _written()
    for key in (elsewhere.number, str(elsewhere.pk)):
        _assert_error(operator.post(reverse(RECEIPTS), {"purchase_order": key, "lines": [
            {"line_no": 1, "quantity": "10"}]}, format="json"), 404, "not_found")
    assert _written() == before

    ne_buyer = client_of(person("api.ne.buyer", "buyer", regions=("NE",)))
    _assert_error(ne_buyer.post(reverse(ORDERS), _order_body(warehouse="SE-ATL"), format="json"), 404, "not_found")
    _assert_error(ne_buyer.post(_url("cancel", elsewhere), {}, format="json"), 404, "not_found")
    assert _written() == before and PurchaseOrder.objects.get(pk=elsewhere.pk).status == "approved"


def test_list_filters(paper, buyer):
    late = approved(paper, 100)
    on_time = approved(paper, 50)
    # The supplier moved the first order's date into the past (what a reschedule may record).
    PurchaseOrderLine.objects.filter(order=late).update(expected_date=_today() - dt.timedelta(days=3))
    found = _ok(buyer.get(reverse(ORDERS), {"late": "true", "page_size": 500}))
    numbers = {row["number"] for row in found["results"]}
    assert late.number in numbers and on_time.number not in numbers
    not_late = {row["number"] for row in _ok(buyer.get(reverse(ORDERS), {"late": "false", "page_size": 500}))[
        "results"]}
    assert on_time.number in not_late and late.number not in not_late
    searched = _ok(buyer.get(reverse(ORDERS), {"search": late.number}))
    assert [row["number"] for row in searched["results"]] == [late.number]
    by_supplier = _ok(buyer.get(reverse(ORDERS), {"supplier": "NORD", "status": "approved", "warehouse": "NE-BOS",
                                                  "page_size": 500}))
    assert {late.number, on_time.number} <= {row["number"] for row in by_supplier["results"]}
    assert all(row["status"] == "approved" for row in by_supplier["results"])
    _assert_error(buyer.get(reverse(ORDERS), {"status": "lost"}), 400, "validation_error")


def test_the_order_list_costs_the_same_queries_at_two_sizes(paper, buyer, django_assert_max_num_queries):
    for _ in range(2):
        approved(paper, 10)
    with django_assert_max_num_queries(12) as small:
        _ok(buyer.get(reverse(ORDERS), {"supplier": "NORD"}))
    for _ in range(6):
        approved(paper, 10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        _ok(buyer.get(reverse(ORDERS), {"supplier": "NORD"}))
