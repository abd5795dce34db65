"""The transfers API (issue 13): ``transfers/`` with its ``submit/``, ``dispatch/``, ``receive/`` and ``cancel/``
actions, through DRF's client: the contract's fields, idempotency keys, scope at both ends, roles, list filters,
and bad input (400 or 409 in the error shape, nothing written).

SE-ATL sends to NE-BOS. The demo's ``ne.operator`` works NE-BOS and NE-NYC, ``eu.operator`` region EU, the
``integrator`` every warehouse; the ``approver`` reads transfers but may not request one. Items are stock-free
twins of demo items (``helpers.twin``).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from inventory.models import StockMove
from warehouses.transfers import services
from warehouses.transfers.models import Transfer, TransferStatus
from warehouses.transfers.tests.helpers import D, approved, on_hand, request, stock_at, twin

pytestmark = pytest.mark.django_db

LIST = "api:transfer-list"
# The contract's names (api-v1.md, "Transfers and network rebalancing"); the answer may carry more.
TRANSFER_FIELDS = {"id", "number", "from_warehouse", "to_warehouse", "requested_date", "expected_arrival",
                   "intercompany", "status", "lines", "recommendation"}
LINE_FIELDS = {"line_no", "sku", "quantity", "uom", "lot", "dispatched_quantity", "received_quantity"}


@pytest.fixture
def product(demo: Any) -> Any:
    return twin("CLN-0004")


@pytest.fixture
def operator(api_as: Any) -> APIClient:
    return api_as("ne.operator")


@pytest.fixture
def integrator(api_as: Any) -> APIClient:
    return api_as("integrator")


def _body(sku: str = "T-CLN-0004", quantity: Any = "10", *, source: str = "SE-ATL", target: str = "NE-BOS",
          **overrides: Any) -> dict[str, Any]:
    return {"from_warehouse": source, "to_warehouse": target,
            "lines": [{"sku": sku, "quantity": quantity}], **overrides}


def _create(client: APIClient, body: Any, **headers: Any) -> Any:
    return client.post(reverse(LIST), body, format="json", **headers)


def _created(client: APIClient, body: Any) -> dict[str, Any]:
    response = _create(client, body)
    assert response.status_code == 201, response.json()
    return dict(response.json())


def url(action: str, transfer: Any) -> str:
    pk = transfer if isinstance(transfer, int) else (transfer["id"] if isinstance(transfer, dict) else transfer.pk)
    return reverse(f"api:transfer-{action}", args=[pk])


def _post(client: APIClient, action: str, transfer: Any, body: Any = None, **headers: Any) -> Any:
    return client.post(url(action, transfer), body if body is not None else {}, format="json", **headers)


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.json()
    return dict(response.json())


def _assert_error(response: Any, status_code: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status_code, body
    assert set(body) == {"code", "message", "detail"} and body["code"] == code, body
    return dict(body)


def _ledger() -> tuple[int, int]:
    return StockMove.objects.count(), Transfer.objects.count()


# --- the round trip -----------------------------------------------------------------------------------------------


def test_a_transfer_is_requested_submitted_dispatched_and_received_through_the_api(product, integrator):
    stock_at(product, "SE-ATL", 100, unit_cost="2.50")

    created = _created(integrator, _body(quantity="10", note="for the Boston backorders"))

    assert set(created) >= TRANSFER_FIELDS
    assert created["number"] == f"TR-{created['id']:06d}"
    assert (created["from_warehouse"], created["to_warehouse"], created["status"], created["intercompany"],
            created["recommendation"]) == ("SE-ATL", "NE-BOS", "draft", True, None)
    assert created["requested_date"] is not None and created["expected_arrival"] >= created["requested_date"]
    (line,) = created["lines"]
    assert set(line) >= LINE_FIELDS
    assert (line["line_no"], line["sku"], line["quantity"], line["uom"], line["lot"], line["dispatched_quantity"],
            line["received_quantity"]) == (1, "T-CLN-0004", "10.0000", "EA", None, "0.0000", "0.0000")
    assert _ok(integrator.get(url("detail", created))) == created

    submitted = _ok(_post(integrator, "submit", created))
    assert submitted["status"] == "approved"  # 10 x 2.50 is below the approval threshold

    dispatched = _ok(_post(integrator, "dispatch", created))
    assert dispatched["status"] == "dispatched"
    assert dispatched["lines"][0]["dispatched_quantity"] == "10.0000"
    assert on_hand(product, "SE-ATL") == D(90) and on_hand(product, "NE-BOS", "in_transit") == D(10)

    received = _ok(_post(integrator, "receive", created, {"lines": [{"line_no": 1, "quantity": "10"}]}))
    assert received["status"] == "received"
    assert (received["lines"][0]["dispatched_quantity"], received["lines"][0]["received_quantity"]) == (
        "10.0000", "10.0000")
    assert on_hand(product, "NE-BOS") == D(10) and on_hand(product, "NE-BOS", "in_transit") == D(0)
    assert set(received) >= TRANSFER_FIELDS and received["recommendation"] is None


def test_a_partial_dispatch_names_its_lines_and_a_damaged_receipt_is_kept_apart(product, integrator):
    stock_at(product, "SE-ATL", 100)
    transfer = approved(product, 10)

    dispatched = _ok(_post(integrator, "dispatch", transfer, {"lines": [{"line_no": 1, "quantity": "6"}]}))
    received = _ok(_post(integrator, "receive", transfer, {"lines": [
        {"line_no": 1, "quantity": "5"}, {"line_no": 1, "quantity": "1", "status": "damaged"}]}))

    assert dispatched["lines"][0]["dispatched_quantity"] == "6.0000"
    assert received["status"] == "received"
    assert on_hand(product, "NE-BOS") == D(5) and on_hand(product, "NE-BOS", "damaged") == D(1)


# --- idempotency ----------------------------------------------------------------------------------------------------


def test_an_idempotency_key_replays_the_request_and_refuses_another_body(product, integrator):
    stock_at(product, "SE-ATL", 100)
    before = Transfer.objects.count()
    body = _body(quantity="3")

    first = _create(integrator, body, HTTP_IDEMPOTENCY_KEY="tr-1")
    again = _create(integrator, body, HTTP_IDEMPOTENCY_KEY="tr-1")

    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Transfer.objects.count() == before + 1
    _assert_error(_create(integrator, _body(quantity="4"), HTTP_IDEMPOTENCY_KEY="tr-1"), 409,
                  "idempotency_key_reused")
    assert Transfer.objects.count() == before + 1

    transfer = first.json()
    _ok(_post(integrator, "submit", transfer))
    sent = _post(integrator, "dispatch", transfer, HTTP_IDEMPOTENCY_KEY="dsp-1")
    replayed = _post(integrator, "dispatch", transfer, HTTP_IDEMPOTENCY_KEY="dsp-1")
    assert sent.status_code == replayed.status_code == 200 and replayed.json() == sent.json()
    assert StockMove.objects.filter(reference_type="transfer", reference_id=str(transfer["id"])).count() == 2


# --- scope and roles ------------------------------------------------------------------------------------------------


def test_boston_asks_atlanta_for_stock_atlanta_sends_it_and_boston_receives_it(product, operator, integrator,
                                                                               api_as):
    stock_at(product, "SE-ATL", 100)

    created = _created(operator, _body(quantity="4"))
    _ok(_post(operator, "submit", created))
    before = _ledger()

    refused = _assert_error(_post(operator, "dispatch", created), 404, "not_found")

    assert "warehouse" in refused["detail"]
    assert _ledger() == before and Transfer.objects.get(pk=created["id"]).status == TransferStatus.APPROVED
    _ok(_post(integrator, "dispatch", created))
    received = _ok(_post(operator, "receive", created, {"lines": [{"line_no": 1, "quantity": "4"}]}))
    assert received["status"] == "received"

    eu = api_as("eu.operator")
    _assert_error(eu.get(url("detail", created)), 404, "not_found")
    assert created["number"] not in {row["number"] for row in eu.get(reverse(LIST), {"page_size": 500})
                                     .json()["results"]}
    assert created["number"] in {row["number"] for row in operator.get(reverse(LIST), {"page_size": 500})
                                 .json()["results"]}


def test_boston_sees_what_it_sent_but_only_the_target_receives_it(product, operator):
    stock_at(product, "NE-BOS", 100)
    transfer = services.transfer_dispatch(transfer=approved(product, 4, source="NE-BOS", target="SE-ATL"),
                                          actor=None)
    before = _ledger()

    refused = _assert_error(_post(operator, "receive", transfer, {"lines": [{"line_no": 1, "quantity": "4"}]}),
                            404, "not_found")

    assert "warehouse" in refused["detail"]
    assert _ok(operator.get(url("detail", transfer)))["status"] == "dispatched"
    assert _ledger() == before and Transfer.objects.get(pk=transfer.pk).status == TransferStatus.DISPATCHED


def test_a_request_between_two_warehouses_outside_the_scope_reads_like_a_missing_one(product, operator):
    stock_at(product, "SE-ATL", 100)
    before = _ledger()

    _assert_error(_create(operator, _body(source="SE-ATL", target="SE-MIA")), 404, "not_found")
    _assert_error(_create(operator, _body(source="EU-RTM", target="SE-ATL")), 404, "not_found")

    assert _ledger() == before


def test_a_role_without_transfers_add_transfer_may_read_but_not_request(product, api_as):
    stock_at(product, "SE-ATL", 100)
    transfer = approved(product, 2)
    approver = api_as("approver")
    before = _ledger()

    _assert_error(_create(approver, _body()), 403, "permission_denied")
    _assert_error(_post(approver, "cancel", transfer), 403, "permission_denied")
    _assert_error(_post(approver, "dispatch", transfer), 403, "permission_denied")

    assert _ok(approver.get(url("detail", transfer)))["number"] == transfer.number
    assert _ledger() == before and Transfer.objects.get(pk=transfer.pk).status == TransferStatus.APPROVED


# --- reading --------------------------------------------------------------------------------------------------------


def test_the_list_is_newest_first_and_filters_by_status_and_either_warehouse(product, integrator):
    stock_at(product, "SE-ATL", 100)
    to_boston = approved(product, 1)
    to_newark = request(product, 1, target="NE-NYC")
    from_boston = request(product, 1, source="NE-BOS", target="SE-ATL")
    mine = {to_boston.number, to_newark.number, from_boston.number}

    def numbers(**params: str) -> list[str]:
        response = integrator.get(reverse(LIST), {"page_size": 500, **params})
        assert response.status_code == 200, response.json()
        return [row["number"] for row in response.json()["results"] if row["number"] in mine]

    assert numbers() == [from_boston.number, to_newark.number, to_boston.number]
    assert numbers(status="approved") == [to_boston.number]
    assert numbers(status="draft") == [from_boston.number, to_newark.number]
    assert numbers(from_warehouse="SE-ATL") == [to_newark.number, to_boston.number]
    assert numbers(to_warehouse="NE-NYC") == [to_newark.number]
    assert numbers(warehouse="NE-BOS") == [from_boston.number, to_boston.number]
    assert numbers(warehouse="NE-BOS", status="draft") == [from_boston.number]
    assert numbers(warehouse="EU-RTM") == []
    row = integrator.get(reverse(LIST), {"from_warehouse": "NE-BOS"}).json()["results"][0]
    assert set(row) >= TRANSFER_FIELDS and set(row["lines"][0]) >= LINE_FIELDS
    _assert_error(integrator.get(reverse(LIST), {"status": "lost"}), 400, "validation_error")


def test_a_transfer_that_does_not_exist_is_404_for_every_action(demo, integrator):
    before = _ledger()
    _assert_error(integrator.get(url("detail", 999999999)), 404, "not_found")
    for action in ("submit", "dispatch", "receive", "cancel"):
        _assert_error(_post(integrator, action, 999999999), 404, "not_found")
    assert _ledger() == before


# --- bad input: 400 or 409 in the error shape, nothing written ------------------------------------------------------


@pytest.fixture
def world(product: Any) -> dict[str, Transfer]:
    """Transfers from SE-ATL (8 on hand) to NE-BOS: one dispatched (5, leaving 3 on hand), one approved for 10, a
    draft and a cancelled one."""
    stock_at(product, "SE-ATL", 8)
    dispatched = services.transfer_dispatch(transfer=approved(product, 5), actor=None)
    cancelled = services.transfer_cancel(transfer=approved(product, 1), actor=None)
    return {"dispatched": dispatched, "approved": approved(product, 10), "draft": request(product, 5),
            "cancelled": cancelled}


def _create_line(**overrides: Any) -> dict[str, Any]:
    return {"sku": "T-CLN-0004", "quantity": "1", **overrides}


BAD = [
    # (case, transfer, action, body, status, code)
    ("same warehouse both ends", None, "create", _body(source="NE-BOS", target="NE-BOS"), 400, "same_warehouse"),
    ("unknown source warehouse", None, "create", _body(source="NE-XXX"), 400, "validation_error"),
    ("unknown target warehouse", None, "create", _body(target="NE-XXX"), 400, "validation_error"),
    ("unknown sku", None, "create", _body(sku="T-NOPE-0001"), 400, "validation_error"),
    ("unknown unit", None, "create", _body(lines=[_create_line(uom="DRUM")]), 400, "unknown_uom"),
    ("unknown lot", None, "create", _body(lines=[_create_line(sku="T-BEV-0004", lot="NO-SUCH-LOT")]), 400,
     "unknown_lot"),
    ("lot of an item without lots", None, "create", _body(lines=[_create_line(lot="L-1")]), 400,
     "lot_not_allowed"),
    ("quantity zero", None, "create", _body(quantity="0"), 400, "validation_error"),
    ("quantity negative", None, "create", _body(quantity="-3"), 400, "validation_error"),
    ("quantity not a number", None, "create", _body(quantity="abc"), 400, "validation_error"),
    ("quantity NaN", None, "create", _body(quantity="NaN"), 400, "validation_error"),
    ("too many decimals", None, "create", _body(quantity="1.00001"), 400, "validation_error"),
    ("no lines", None, "create", _body(lines=[]), 400, "validation_error"),
    ("unknown field", None, "create", _body(status="approved"), 400, "validation_error"),
    ("unknown line field", None, "create", _body(lines=[_create_line(price="1")]), 400, "validation_error"),
    ("dispatch before approval", "draft", "dispatch", {}, 409, "invalid_transition"),
    ("dispatch a cancelled transfer", "cancelled", "dispatch", {}, 409, "invalid_transition"),
    ("dispatch twice", "dispatched", "dispatch", {}, 409, "invalid_transition"),
    ("dispatch more than approved", "approved", "dispatch", {"lines": [{"line_no": 1, "quantity": "11"}]}, 409,
     "exceeds_approved"),
    ("dispatch more than on hand", "approved", "dispatch", {}, 409, "insufficient_stock"),
    ("dispatch a line the transfer lacks", "approved", "dispatch", {"lines": [{"line_no": 2, "quantity": "1"}]},
     400, "validation_error"),
    ("dispatch zero", "approved", "dispatch", {"lines": [{"line_no": 1, "quantity": "0"}]}, 400,
     "validation_error"),
    ("dispatch unknown field", "approved", "dispatch", {"carrier": "UPS"}, 400, "validation_error"),
    ("receive a cancelled transfer", "cancelled", "receive", {"lines": [{"line_no": 1, "quantity": "1"}]}, 409,
     "invalid_transition"),
    ("receive before dispatch", "approved", "receive", {"lines": [{"line_no": 1, "quantity": "1"}]}, 409,
     "invalid_transition"),
    ("receive as lost", "dispatched", "receive", {"lines": [{"line_no": 1, "quantity": "1", "status": "lost"}]},
     400, "validation_error"),
    ("receive negative", "dispatched", "receive", {"lines": [{"line_no": 1, "quantity": "-1"}]}, 400,
     "validation_error"),
    ("receive no lines", "dispatched", "receive", {}, 400, "validation_error"),
    ("receive a line the transfer lacks", "dispatched", "receive", {"lines": [{"line_no": 9, "quantity": "1"}]},
     400, "validation_error"),
    ("cancel after dispatch", "dispatched", "cancel", {}, 409, "invalid_transition"),
    ("cancel twice", "cancelled", "cancel", {}, 409, "invalid_transition"),
    ("cancel reason too long", "draft", "cancel", {"reason": "x" * 501}, 400, "validation_error"),
    ("submit an approved transfer", "approved", "submit", {}, 409, "invalid_transition"),
    ("submit with a body", "draft", "submit", {"value": "1"}, 400, "validation_error"),
]


@pytest.mark.parametrize(("case", "which", "action", "body", "status_code", "code"), BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_refused_in_the_error_shape_and_writes_nothing(world, integrator, case, which, action, body,
                                                                    status_code, code):
    twin("BEV-0004")  # a lot-tracked item without the lot asked for
    states = {name: Transfer.objects.get(pk=transfer.pk).status for name, transfer in world.items()}
    before = _ledger()

    response = _create(integrator, body) if action == "create" else _post(integrator, action, world[which], body)

    _assert_error(response, status_code, code)
    assert _ledger() == before
    assert {name: Transfer.objects.get(pk=transfer.pk).status for name, transfer in world.items()} == states
    if which is not None:
        line = world[which].lines.get()
        assert (line.dispatched_quantity, line.received_quantity) == (
            D(5) if which == "dispatched" else D(0), D(0))


def test_a_body_that_is_not_an_object_is_refused(world, integrator):
    before = _ledger()
    for body in ('["x"]', '"transfer"', "5"):
        _assert_error(integrator.post(reverse(LIST), body, content_type="application/json"), 400,
                      "validation_error")
        _assert_error(integrator.post(url("receive", world["dispatched"]), body, content_type="application/json"),
                      400, "validation_error")
    _assert_error(integrator.post(reverse(LIST), "{not json", content_type="application/json"), 400,
                  "malformed_request")
    assert _ledger() == before
