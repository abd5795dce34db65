"""The returns API (issue 5, item 6): authorize through ``returns/``, receive and cancel, with idempotency, scope,
roles, bad input (400 or 409 in the error shape, nothing written) and the read-only admin.

Customer service: ``ne.service`` works region NE (the demo's user), ``eu.service`` region EU (made when the demo
has none); the demo's ``ne.operator`` receives at NE-BOS and NE-NYC. Orders are shipped through the services on
stock-free twins.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from erp import services as platform
from governance.models import OperationalException
from inventory.models import ItemWarehouseSummary, StockMove
from inventory.tests.factories import ensure_standard_statuses, item
from orders.models import ReturnAuthorization, ReturnLine, SalesOrder
from orders.services.returns import ReturnLineSpec, return_authorize
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from orders.tests.test_returns import shipped_order, stock_at
from warehouses.models import Region

D = Decimal
LIST = "api:return-list"
RETURN_FIELDS = {"id", "number", "status", "order", "order_id", "customer", "warehouse", "reason", "created_by",
                 "created_at", "received_by", "received_at", "lines"}
LINE_FIELDS = {"line_no", "order_line_no", "sku", "base_uom", "lot", "quantity", "received_quantity", "disposition",
               "location", "note"}


def _service_user(username: str, region: str) -> Any:
    """The customer service user of ``region`` (the demo's, when it has one)."""
    account = get_user_model().objects.filter(username=username).first()
    if account is None:
        account = get_user_model().objects.create_user(username, password="x-unused-x")
        account.groups.add(Group.objects.get(name="Customer service"))
        platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code=region)])
    return get_user_model().objects.get(pk=account.pk)


def _client(account: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(account)
    return client


@pytest.fixture
def twin(demo: Any) -> Any:
    ensure_standard_statuses()
    return item("CLN-0004")


@pytest.fixture
def order(twin: Any) -> SalesOrder:
    """C-NE-001's order of 10 EA of T-CLN-0004, shipped from NE-BOS at 2.50."""
    stock_at(twin, "NE-BOS", 10)
    return shipped_order((twin, 10))


@pytest.fixture
def service(demo: Any) -> APIClient:
    return _client(_service_user("ne.service", "NE"))


@pytest.fixture
def eu_service(demo: Any) -> APIClient:
    return _client(_service_user("eu.service", "EU"))


@pytest.fixture
def operator(api_as: Any) -> APIClient:
    return api_as("ne.operator")


def _body(order: Any, *lines: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    number = order.number if isinstance(order, SalesOrder) else order
    return {"order": number, "reason": "Damaged in transit", "lines": list(lines) or [{"line_no": 1, "quantity": "4"}],
            **overrides}


def _create(client: APIClient, body: Any, **headers: Any) -> Any:
    return client.post(reverse(LIST), body, format="json", **headers)


def _created(client: APIClient, body: Any) -> dict[str, Any]:
    response = _create(client, body)
    assert response.status_code == 201, response.json()
    return response.json()


def url(action: str, rma: Any) -> str:
    pk = rma if isinstance(rma, int) else (rma["id"] if isinstance(rma, dict) else rma.pk)
    return reverse(f"api:return-{action}", args=[pk])


def _post(client: APIClient, action: str, rma: Any, body: Any = None, **headers: Any) -> Any:
    return client.post(url(action, rma), body if body is not None else {}, format="json", **headers)


def _receipt(*lines: dict[str, Any]) -> dict[str, Any]:
    return {"lines": list(lines) or [{"line_no": 1, "quantity": "4", "disposition": "restock"}]}


def _assert_error(response: Any, status_code: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status_code, body
    assert set(body) == {"code", "message", "detail"} and body["code"] == code, body
    return body


def _snapshot() -> tuple[Any, ...]:
    """What a refused request must leave alone: the ledger, the summaries, returns and their lines, exceptions."""
    return (StockMove.objects.count(), ItemWarehouseSummary.objects.aggregate(total=Sum("on_hand"))["total"],
            list(ReturnAuthorization.objects.order_by("id").values_list("id", "status")),
            list(ReturnLine.objects.order_by("id").values_list("id", "quantity", "received_quantity", "disposition")),
            OperationalException.objects.aggregate(total=Sum("raised_count"))["total"])


# --- the round trip -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_customer_service_authorizes_and_the_warehouse_receives_with_dispositions(order, service, operator):
    created = _created(service, _body(order, {"line_no": 1, "quantity": "6"}))

    assert set(created) == RETURN_FIELDS
    assert created["number"] == f"RMA-{created['id']:06d}" and created["status"] == "authorized"
    assert (created["order"], created["order_id"], created["customer"], created["warehouse"], created["created_by"],
            created["reason"]) == (order.number, order.pk, "C-NE-001", "NE-BOS", "ne.service", "Damaged in transit")
    (line,) = created["lines"]
    assert set(line) == LINE_FIELDS
    assert (line["line_no"], line["order_line_no"], line["sku"], line["base_uom"], line["quantity"],
            line["received_quantity"], line["disposition"], line["location"], line["lot"]) == (
        1, 1, "T-CLN-0004", "EA", "6.0000", "0.0000", None, None, None)
    assert operator.get(url("detail", created)).json() == created

    response = _post(operator, "receive", created, _receipt(
        {"line_no": 1, "quantity": "5", "disposition": "quarantine", "location": "DOCK-1", "note": "Dented"}))

    assert response.status_code == 200, response.json()
    received = response.json()
    assert received["status"] == "received" and received["received_by"] == "ne.operator"
    assert received["received_at"] is not None
    (line,) = received["lines"]
    assert (line["received_quantity"], line["disposition"], line["location"], line["note"]) == (
        "5.0000", "quarantine", "DOCK-1", "Dented")
    moves = operator.get(reverse("api:stock-move-list"), {"sku": "T-CLN-0004", "warehouse": "NE-BOS",
                                                         "page_size": 500}).json()["results"]
    ours = sorted((m["status"], m["quantity"]) for m in moves if m["reference"] == created["number"])
    assert ours == [("quality_hold", "5.0000"), ("returned_pending_inspection", "-5.0000"),
                    ("returned_pending_inspection", "5.0000")]
    availability = operator.get(reverse("api:availability-list"), {"sku": "T-CLN-0004", "warehouse": "NE-BOS"})
    (row,) = availability.json()["results"]
    assert (row["on_hand"], row["available"], row["blocked"]) == ("5.0000", "0.0000", "5.0000")
    damaged = service.get(reverse("api:exception-list"), {"type": "damaged_goods", "page_size": 500}).json()
    assert [r["reference"] for r in damaged["results"] if r["business_key"] == "damaged:NE-BOS:T-CLN-0004:-"] == [
        created["number"]]


@pytest.mark.django_db
def test_an_order_is_named_by_number_or_id_and_the_warehouse_may_be_named(order, service):
    by_id = _created(service, _body(order.pk, {"line_no": 1, "quantity": "1"}))
    named = _created(service, _body(str(order.pk), {"line_no": 1, "quantity": "1"}, warehouse="NE-NYC"))

    assert by_id["order"] == named["order"] == order.number
    assert (by_id["warehouse"], named["warehouse"]) == ("NE-BOS", "NE-NYC")


@pytest.mark.django_db
def test_cancelling_frees_the_quantity_and_a_cancelled_return_cannot_be_received(order, service, operator):
    first = _created(service, _body(order, {"line_no": 1, "quantity": "10"}))
    _assert_error(_create(service, _body(order, {"line_no": 1, "quantity": "1"})), 400, "return_exceeds_shipped")

    cancelled = _post(service, "cancel", first)

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    before = _snapshot()
    _assert_error(_post(operator, "receive", first, _receipt()), 409, "invalid_transition")
    _assert_error(_post(service, "cancel", first), 409, "invalid_transition")
    assert _snapshot() == before
    assert _created(service, _body(order, {"line_no": 1, "quantity": "10"}))["status"] == "authorized"


@pytest.mark.django_db
def test_idempotency_keys_replay_the_authorization_the_receipt_and_the_cancellation(order, service, operator):
    returns = ReturnAuthorization.objects.count()
    body = _body(order, {"line_no": 1, "quantity": "3"})

    first = _create(service, body, HTTP_IDEMPOTENCY_KEY="rma-1")
    again = _create(service, body, HTTP_IDEMPOTENCY_KEY="rma-1")

    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert ReturnAuthorization.objects.count() == returns + 1
    _assert_error(_create(service, _body(order, {"line_no": 1, "quantity": "2"}), HTTP_IDEMPOTENCY_KEY="rma-1"),
                  409, "idempotency_key_reused")
    assert ReturnAuthorization.objects.count() == returns + 1

    rma = first.json()
    receipt = _receipt({"line_no": 1, "quantity": "3", "disposition": "restock"})
    received = _post(operator, "receive", rma, receipt, HTTP_IDEMPOTENCY_KEY="rcv-1")
    replayed = _post(operator, "receive", rma, receipt, HTTP_IDEMPOTENCY_KEY="rcv-1")
    assert received.status_code == replayed.status_code == 200 and replayed.json() == received.json()
    assert StockMove.objects.filter(reference=rma["number"]).count() == 3

    other = _created(service, _body(order, {"line_no": 1, "quantity": "1"}))
    cancelled = _post(service, "cancel", other, HTTP_IDEMPOTENCY_KEY="cancel-1")
    replayed = _post(service, "cancel", other, HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert cancelled.status_code == replayed.status_code == 200 and replayed.json() == cancelled.json()


# --- reading ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_is_newest_first_and_filters_by_status_warehouse_order_and_customer(order, service, operator):
    first = _created(service, _body(order, {"line_no": 1, "quantity": "1"}))
    second = _created(service, _body(order, {"line_no": 1, "quantity": "2"}, warehouse="NE-NYC"))
    _post(operator, "receive", first, _receipt({"line_no": 1, "quantity": "1", "disposition": "restock"}))
    mine = {first["number"], second["number"]}

    def numbers(**params: str) -> list[str]:
        response = service.get(reverse(LIST), {"page_size": 500, **params})
        assert response.status_code == 200, response.json()
        return [row["number"] for row in response.json()["results"] if row["number"] in mine]

    assert numbers() == [second["number"], first["number"]]
    assert numbers(status="received") == [first["number"]]
    assert numbers(status="authorized") == [second["number"]]
    assert numbers(warehouse="NE-NYC") == [second["number"]]
    assert numbers(order=order.number) == numbers(order=str(order.pk)) == [second["number"], first["number"]]
    assert numbers(order="SO-999999") == [] and numbers(customer="C-NE-002") == []
    assert numbers(customer="C-NE-001") == [second["number"], first["number"]]
    row = service.get(reverse(LIST), {"order": order.number}).json()["results"][0]
    assert set(row) == RETURN_FIELDS and set(row["lines"][0]) == LINE_FIELDS
    _assert_error(service.get(reverse(LIST), {"status": "lost"}), 400, "validation_error")


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_for_1_and_20_returns(order, service, operator):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = operator.get(reverse(LIST), {"page_size": 500, "order": order.number})
        assert response.status_code == 200, response.content[:300]
        return len(captured)

    return_authorize(order=order, lines=[ReturnLineSpec(1, D("0.5"))], actor=None)
    operator.get(reverse(LIST))  # the first request of a client warms the user's permission cache
    one = queries()
    for _ in range(19):
        return_authorize(order=order, lines=[ReturnLineSpec(1, D("0.5"))], actor=None)
    assert operator.get(reverse(LIST), {"order": order.number}).json()["count"] == 20
    assert queries() == one


# --- scope and roles ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_customer_service_sees_and_works_only_the_returns_of_its_region(twin, order, service, eu_service):
    stock_at(twin, "EU-RTM", 3)
    eu_order = shipped_order((twin, 3), customer="C-EU-001", site="EU-RTM")
    theirs = _created(eu_service, _body(eu_order, {"line_no": 1, "quantity": "1"}))
    mine = _created(service, _body(order, {"line_no": 1, "quantity": "1"}))
    before = _snapshot()

    _assert_error(service.get(url("detail", theirs)), 404, "not_found")
    _assert_error(_post(service, "cancel", theirs), 404, "not_found")
    _assert_error(eu_service.get(url("detail", mine)), 404, "not_found")
    for body in (_body(eu_order), _body(eu_order.pk), _body(order, warehouse="EU-RTM")):
        refused = _assert_error(_create(service, body), 400, "validation_error")
        assert set(refused["detail"]) <= {"order", "warehouse"}
    assert _snapshot() == before
    assert service.get(reverse(LIST), {"warehouse": "EU-RTM"}).json()["count"] == 0
    assert theirs["number"] not in {r["number"] for r in service.get(reverse(LIST), {"page_size": 500})
                                    .json()["results"]}


@pytest.mark.django_db
def test_an_order_or_warehouse_outside_the_scope_reads_like_one_that_does_not_exist(order, eu_service):
    outside = _assert_error(_create(eu_service, _body(order)), 400, "validation_error")
    missing = _assert_error(_create(eu_service, _body("SO-999999")), 400, "validation_error")

    assert outside["detail"]["order"][0].replace(order.number, "?") == missing["detail"]["order"][0].replace(
        "SO-999999", "?")


@pytest.mark.django_db
def test_the_goods_must_come_back_into_the_books_that_shipped_them(order, api_as):
    integrator = api_as("integrator")
    before = _snapshot()

    refused = _assert_error(_create(integrator, _body(order, warehouse="SE-ATL")), 400, "validation_error")

    assert set(refused["detail"]) == {"warehouse"}
    assert _snapshot() == before


@pytest.mark.django_db
def test_roles_customer_service_authorizes_and_cancels_operators_receive(order, service, operator, api_as):
    rma = _created(service, _body(order))
    before = _snapshot()

    _assert_error(_create(operator, _body(order)), 403, "permission_denied")
    _assert_error(_post(operator, "cancel", rma), 403, "permission_denied")
    _assert_error(_post(service, "receive", rma, _receipt()), 403, "permission_denied")
    _assert_error(_create(api_as("planner"), _body(order)), 403, "permission_denied")
    assert api_as("planner").get(url("detail", rma)).status_code == 200
    assert _snapshot() == before


# --- bad input: 400 or 409 in the error shape, nothing written ------------------------------------------------


@pytest.fixture
def world(order: SalesOrder, twin: Any) -> dict[str, Any]:
    """The shipped order (line 1: 10 EA), another order confirmed but not shipped, and an open return of 2 of
    the shipped line."""
    stock_at(twin, "NE-BOS", 5)
    unshipped = sales_order_confirm(order=sales_order_create(
        customer=order.customer, ship_to=order.ship_to, actor=None,
        lines=[OrderLineSpec(item=twin, quantity=D(5), uom="EA")]), actor=None)
    rma = return_authorize(order=order, lines=[ReturnLineSpec(1, D(2))], actor=None)
    return {"order": order, "unshipped": unshipped, "rma": rma}


def _line(quantity: Any = "1", **overrides: Any) -> dict[str, Any]:
    return {"line_no": 1, "quantity": quantity, **overrides}


CREATE_BAD = [
    ("unknown order", {"order": "SO-999999"}, 400, "validation_error"),
    ("unknown order id", {"order": 999999999}, 400, "validation_error"),
    ("order missing", {"order": None}, 400, "validation_error"),
    ("order an object", {"order": {"id": 1}}, 400, "validation_error"),
    ("order with a NUL", {"order": "SO-\x00"}, 400, "validation_error"),
    ("a line not shipped", "unshipped", 400, "line_not_shipped"),
    ("a line the order lacks", {"lines": [_line(line_no=7)]}, 400, "validation_error"),
    ("more than shipped", {"lines": [_line("11")]}, 400, "return_exceeds_shipped"),
    ("more than shipped less other returns", {"lines": [_line("8.0001")]}, 400, "return_exceeds_shipped"),
    ("the same line twice", {"lines": [_line("1"), _line("1")]}, 400, "validation_error"),
    ("zero", {"lines": [_line("0")]}, 400, "validation_error"),
    ("negative", {"lines": [_line("-1")]}, 400, "validation_error"),
    ("NaN", {"lines": [_line("NaN")]}, 400, "validation_error"),
    ("Infinity", {"lines": [_line("Infinity")]}, 400, "validation_error"),
    ("huge", {"lines": [_line("1e20")]}, 400, "validation_error"),
    ("too many decimals", {"lines": [_line("1.00001")]}, 400, "validation_error"),
    ("not a number", {"lines": [_line("ten")]}, 400, "validation_error"),
    ("null quantity", {"lines": [_line(None)]}, 400, "validation_error"),
    ("line number zero", {"lines": [_line(line_no=0)]}, 400, "validation_error"),
    ("line number text", {"lines": [_line(line_no="one")]}, 400, "validation_error"),
    ("a lot on a plain item", {"lines": [_line(lot="L-1")]}, 400, "lot_not_allowed"),
    ("empty lines", {"lines": []}, 400, "validation_error"),
    ("no lines", {"lines": None}, 400, "validation_error"),
    ("lines not a list", {"lines": _line()}, 400, "validation_error"),
    ("a line not an object", {"lines": ["1"]}, 400, "validation_error"),
    ("too many lines", {"lines": [_line("0.001")] * 501}, 400, "validation_error"),
    ("unknown field", {"status": "received"}, 400, "validation_error"),
    ("unknown line field", {"lines": [_line(disposition="restock")]}, 400, "validation_error"),
    ("unknown warehouse", {"warehouse": "NE-XXX"}, 400, "validation_error"),
    ("reason too long", {"reason": "x" * 501}, 400, "validation_error"),
    ("reason not text", {"reason": ["x"]}, 400, "validation_error"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "overrides", "status_code", "code"), CREATE_BAD, ids=[c[0] for c in CREATE_BAD])
def test_bad_input_to_authorize_a_return_is_refused_and_writes_nothing(world, service, case, overrides, status_code,
                                                                      code):
    if overrides == "unshipped":
        body = _body(world["unshipped"], _line())
    else:
        body = {**_body(world["order"], _line()), **overrides}
    before = _snapshot()
    _assert_error(_create(service, body), status_code, code)
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_is_refused(world, service, operator):
    before = _snapshot()
    for body in ([_body(world["order"])], "return", 5):
        _assert_error(service.post(reverse(LIST), json.dumps(body), content_type="application/json"), 400,
                      "validation_error")
        _assert_error(operator.post(url("receive", world["rma"]), json.dumps(body), content_type="application/json"),
                      400, "validation_error")
    _assert_error(service.post(reverse(LIST), "{not json", content_type="application/json"), 400,
                  "malformed_request")
    assert _snapshot() == before


def _receipt_line(quantity: Any = "1", **overrides: Any) -> dict[str, Any]:
    return {"line_no": 1, "quantity": quantity, "disposition": "restock", **overrides}


RECEIVE_BAD = [
    ("more than authorized", [_receipt_line("2.0001")], 400, "return_exceeds_authorized"),
    ("a line the return lacks", [_receipt_line(line_no=2)], 400, "validation_error"),
    ("the line twice", [_receipt_line(), _receipt_line()], 400, "validation_error"),
    ("unknown disposition", [_receipt_line(disposition="resell")], 400, "validation_error"),
    ("disposition not text", [_receipt_line(disposition=["restock"])], 400, "validation_error"),
    ("no disposition where returns are inspected", [_receipt_line(disposition="")], 400, "disposition_required"),
    ("disposition left out where returns are inspected",
     [{"line_no": 1, "quantity": "1"}], 400, "disposition_required"),
    ("zero", [_receipt_line("0")], 400, "validation_error"),
    ("negative", [_receipt_line("-1")], 400, "validation_error"),
    ("NaN", [_receipt_line("NaN")], 400, "validation_error"),
    ("too many decimals", [_receipt_line("0.00001")], 400, "validation_error"),
    ("unknown location", [_receipt_line(location="NOPE-1")], 400, "validation_error"),
    ("note too long", [_receipt_line(note="x" * 501)], 400, "validation_error"),
    ("unknown line field", [_receipt_line(lot="L-1")], 400, "validation_error"),
    ("empty lines", [], 400, "validation_error"),
    ("line number text", [_receipt_line(line_no="first")], 400, "validation_error"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "lines", "status_code", "code"), RECEIVE_BAD, ids=[c[0] for c in RECEIVE_BAD])
def test_bad_input_to_receive_a_return_is_refused_and_posts_nothing(world, operator, case, lines, status_code, code):
    before = _snapshot()
    _assert_error(_post(operator, "receive", world["rma"], {"lines": lines}), status_code, code)
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_receipt_without_lines_or_with_unknown_fields_is_refused(world, operator, service):
    before = _snapshot()
    for body in ({}, {"lines": None}, {"lines": [_receipt_line()], "received_at": "2026-01-01T00:00:00Z"}):
        _assert_error(_post(operator, "receive", world["rma"], body), 400, "validation_error")
    _assert_error(_post(service, "cancel", world["rma"], {"reason": "x"}), 400, "validation_error")
    assert _snapshot() == before


@pytest.mark.django_db
def test_receiving_twice_is_409_invalid_transition_and_posts_nothing_more(world, operator):
    assert _post(operator, "receive", world["rma"], _receipt(_receipt_line("2"))).status_code == 200
    before = _snapshot()

    body = _assert_error(_post(operator, "receive", world["rma"], _receipt(_receipt_line("1"))), 409,
                         "invalid_transition")

    assert body["detail"] == {"number": world["rma"].number, "status": "received"}
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_return_that_does_not_exist_is_404_for_every_action(world, operator, service):
    before = _snapshot()
    _assert_error(operator.get(url("detail", 999999999)), 404, "not_found")
    _assert_error(_post(operator, "receive", 999999999, _receipt()), 404, "not_found")
    _assert_error(_post(service, "cancel", 999999999), 404, "not_found")
    assert _snapshot() == before


# --- the admin ------------------------------------------------------------------------------------------------


def _admin_url(view: str, *args: Any) -> str:
    return reverse(f"admin:orders_returnauthorization_{view}", args=args)


@pytest.mark.django_db
def test_the_admin_shows_returns_with_their_lines_read_only_and_scoped(order, twin, user):
    stock_at(twin, "EU-RTM", 1)
    ours = return_authorize(order=order, lines=[ReturnLineSpec(1, D(3))], actor=None)
    theirs = return_authorize(order=shipped_order((twin, 1), customer="C-EU-001", site="EU-RTM"),
                              lines=[ReturnLineSpec(1, D(1))], actor=None)
    admin = Client()
    admin.force_login(user("admin"))

    changelist = admin.get(_admin_url("changelist"))
    change = admin.get(_admin_url("change", ours.pk))

    assert changelist.status_code == 200 and ours.number.encode() in changelist.content
    assert change.status_code == 200 and b"T-CLN-0004" in change.content
    assert admin.get(_admin_url("add")).status_code == 403
    assert admin.post(_admin_url("change", ours.pk), {"status": "cancelled"}).status_code == 403
    assert admin.post(_admin_url("delete", ours.pk), {"post": "yes"}).status_code == 403
    assert ReturnAuthorization.objects.get(pk=ours.pk).status == "authorized"

    account = get_user_model().objects.create_user("ne.admin", password="x-unused-x", is_staff=True)
    account.groups.add(Group.objects.get(name="Administrator"))
    platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code="NE")])
    regional = Client()
    regional.force_login(account)
    listed = regional.get(_admin_url("changelist"))
    assert listed.status_code == 200
    numbers = {rma.number for rma in listed.context["cl"].result_list}
    assert ours.number in numbers and theirs.number not in numbers
    assert regional.get(_admin_url("change", theirs.pk)).status_code in (302, 403, 404)
