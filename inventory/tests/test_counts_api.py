"""The cycle count API (issue 4, point 7): blind counting, submit, approval or recount, scope and bad input."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from governance.models import ApprovalRequest, ApprovalStatus
from inventory import services
from inventory.models import CycleCount, CycleCountLine, Lot, StockBalance, StockMove
from inventory.services.counts import CountEntry, CountPair, cycle_count_create, cycle_count_record, cycle_count_submit
from inventory.tests.factories import item, location, plain_items, storage_locations, warehouse
from warehouses import services as network

D = Decimal
LIST = "api:cycle-count-list"
BLIND = ("expected_quantity", "variance", "unit_cost", "variance_value", "within_tolerance")
LINE_FIELDS = {"line_no", "location", "sku", "lot", "abc_class", "state", "counted_quantity", "uom_quantity", "uom",
               "counted_by", "counted_at", "expected_quantity", "variance", "unit_cost", "variance_value",
               "within_tolerance", "move"}
COUNT_FIELDS = {"id", "number", "warehouse", "status", "origin", "planned_for", "recount_of", "recounts", "line_count",
                "counted_count", "created_by", "submitted_by", "submitted_at", "closed_at", "approval_request",
                "approval_status", "created_at"}


def url(action: str, count: Any) -> str:
    pk = count if isinstance(count, int) else (count["id"] if isinstance(count, dict) else count.pk)
    return reverse(f"api:cycle-count-{action}", args=[pk])


@pytest.fixture
def hundred(stock: Any) -> Any:
    """100 EA of a stock-free twin at NE-BOS A-01-01 at 1.00: 2 % is 2 units, the value limit 250."""
    twin = item("CLN-0001")
    services.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                           quantity=D(100), uom="EA", unit_cost=D(1), reference="test", actor=None)
    return twin


@pytest.fixture
def operator(api_as: Any) -> Any:
    return api_as("ne.operator")


def _open(client: Any, *lines: dict[str, Any], warehouse_code: str = "NE-BOS", **headers: Any) -> Any:
    body = {"warehouse": warehouse_code, "lines": list(lines) or [{"location": "A-01-01", "sku": "T-CLN-0001"}]}
    return client.post(reverse(LIST), body, format="json", **headers)


def _opened(client: Any, *lines: dict[str, Any]) -> dict[str, Any]:
    response = _open(client, *lines)
    assert response.status_code == 201, response.json()
    return response.json()


def _entry(quantity: str, **overrides: Any) -> dict[str, Any]:
    return {"location": "A-01-01", "sku": "T-CLN-0001", "quantity": quantity, "uom": "EA", **overrides}


def _post(client: Any, action: str, count: Any, body: Any = None, **headers: Any) -> Any:
    return client.post(url(action, count), body if body is not None else {}, format="json", **headers)


def _on_hand(twin: Any, code: str = "A-01-01") -> Decimal:
    return sum(StockBalance.objects.filter(item=twin, location=location("NE-BOS", code)).values_list(
        "on_hand", flat=True), D(0))


def _assert_error(response: Any, status_code: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status_code, body
    assert set(body) == {"code", "message", "detail"} and body["code"] == code, body
    return body


def _assert_blind(body: dict[str, Any]) -> None:
    assert body["status"] == "open"
    for line in body["lines"]:
        assert {name: line[name] for name in BLIND} == dict.fromkeys(BLIND), line


# --- opening, counting, reading -------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_operator_opens_a_count_by_hand_and_gets_it_back_blind(hundred, operator):
    body = _opened(operator)

    assert set(body) == COUNT_FIELDS | {"lines"}
    assert body["number"] == f"CC-{body['id']:06d}" and body["warehouse"] == "NE-BOS"
    assert (body["status"], body["origin"], body["created_by"]) == ("open", "manual", "ne.operator")
    assert (body["line_count"], body["counted_count"]) == (1, 0)
    assert body["recount_of"] is None and body["recounts"] == [] and body["approval_request"] is None
    assert body["approval_status"] is None and body["submitted_at"] is None
    (line,) = body["lines"]
    assert set(line) == LINE_FIELDS
    assert (line["line_no"], line["location"], line["sku"], line["lot"]) == (1, "A-01-01", "T-CLN-0001", None)
    assert line["state"] == "pending" and line["counted_quantity"] is None and line["uom"] is None
    _assert_blind(body)
    assert operator.get(url("detail", body)).json() == body


@pytest.mark.django_db
def test_a_lot_tracked_item_named_without_a_lot_is_counted_in_each_lot_on_hand(stock, operator):
    twin = item("BEV-0001")
    for lot in ("L2", "L1"):
        services.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-02"), item=twin,
                               quantity=D(24), uom="EA", unit_cost=D("0.50"), reference="test", lot_number=lot,
                               actor=None)

    body = _opened(operator, {"location": "A-01-02", "sku": "T-BEV-0001"})

    assert [(line["line_no"], line["lot"]) for line in body["lines"]] == [(1, "L1"), (2, "L2")]
    named = _opened(operator, {"location": "A-01-02", "sku": "T-BEV-0001", "lot": "L2"})
    assert [line["lot"] for line in named["lines"]] == ["L2"]


@pytest.mark.django_db
def test_the_system_quantity_never_leaves_the_server_while_the_count_is_open(hundred, operator, api_as):
    count = _opened(operator)

    counted = _post(operator, "count", count, {"lines": [_entry("97")]})

    assert counted.status_code == 200, counted.json()
    body = counted.json()
    (line,) = body["lines"]
    assert (line["state"], line["counted_quantity"], line["uom_quantity"], line["uom"]) == (
        "counted", "97.0000", "97.0000", "EA")
    assert line["counted_by"] == "ne.operator" and line["counted_at"] is not None
    assert body["counted_count"] == 1
    _assert_blind(body)
    # The server knows the figure; no answer carries it, in any field.
    assert CycleCountLine.objects.get(count_id=count["id"]).expected_quantity == D(100)
    # Not even to an enterprise-wide approver reading the open count.
    answers = [counted, operator.get(url("detail", count)), operator.get(reverse(LIST), {"page_size": 500}),
               api_as("approver").get(url("detail", count))]
    for response in answers:
        assert response.status_code == 200
        assert "100.0000" not in response.content.decode(), response.content[:500]
    _assert_blind(answers[1].json())
    _assert_blind(answers[3].json())


@pytest.mark.django_db
def test_counting_in_cases_records_base_units_and_a_correction_replaces_the_first_count(hundred, operator):
    count = _opened(operator)
    _post(operator, "count", count, {"lines": [_entry("2", uom="CS")]})

    (line,) = CycleCountLine.objects.filter(count_id=count["id"])
    assert (line.counted_quantity, line.uom_quantity, line.uom_code) == (D(12), D(2), "CS")
    again = _post(operator, "count", count, {"lines": [_entry("15")]}).json()
    assert [(row["counted_quantity"], row["uom"]) for row in again["lines"]] == [("15.0000", "EA")]
    assert again["line_count"] == 1


@pytest.mark.django_db
def test_a_count_entry_without_a_unit_is_in_the_items_base_unit(hundred, operator):
    count = _opened(operator)
    entry = _entry("7")
    del entry["uom"]

    response = _post(operator, "count", count, {"lines": [entry]})

    assert response.status_code == 200, response.json()
    (line,) = CycleCountLine.objects.filter(count_id=count["id"])
    assert (line.counted_quantity, line.uom_code) == (D(7), hundred.base_uom.code)


@pytest.mark.django_db
def test_counting_zero_is_an_empty_location_and_stock_found_elsewhere_is_a_new_line(hundred, operator):
    count = _opened(operator)

    body = _post(operator, "count", count, {"lines": [_entry("0"), _entry("4", location="A-01-02")]}).json()

    assert [(row["line_no"], row["location"], row["counted_quantity"]) for row in body["lines"]] == [
        (1, "A-01-01", "0.0000"), (2, "A-01-02", "4.0000")]
    _assert_blind(body)
    done = _post(operator, "submit", count).json()
    assert [(row["expected_quantity"], row["variance"]) for row in done["lines"]] == [
        ("100.0000", "-100.0000"), ("0.0000", "4.0000")]


# --- submitting, approving, rejecting, recounting -------------------------------------------------------


@pytest.mark.django_db
def test_a_count_within_tolerance_posts_on_submit_and_shows_its_variances(hundred, operator):
    count = _opened(operator)
    moves = StockMove.objects.count()

    response = _post(operator, "submit", count, {"lines": [_entry("99")]})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "posted" and body["submitted_by"] == "ne.operator"
    assert body["submitted_at"] is not None and body["closed_at"] is not None and body["approval_request"] is None
    (line,) = body["lines"]
    assert (line["expected_quantity"], line["variance"], line["unit_cost"], line["variance_value"]) == (
        "100.0000", "-1.0000", "1.000000", "-1.0000")
    assert line["within_tolerance"] is True and line["state"] == "posted"
    move = StockMove.objects.get(pk=line["move"])
    assert (move.quantity, move.reference, move.reason.code) == (D(-1), body["number"], "COUNT")
    assert StockMove.objects.count() == moves + 1 and _on_hand(hundred) == D(99)


@pytest.mark.django_db
def test_a_count_beyond_tolerance_waits_for_the_supervisor_and_posts_when_approved(hundred, operator, api_as):
    count = _opened(operator)
    moves = StockMove.objects.count()

    body = _post(operator, "submit", count, {"lines": [_entry("90")]}).json()

    assert body["status"] == "pending_approval" and body["approval_status"] == "pending"
    (line,) = body["lines"]
    assert (line["variance"], line["within_tolerance"], line["state"], line["move"]) == (
        "-10.0000", False, "pending_approval", None)
    assert StockMove.objects.count() == moves and _on_hand(hundred) == D(100)
    request = ApprovalRequest.objects.get(pk=body["approval_request"])
    assert request.document_type == "cycle_count" and request.document_id == body["id"]

    own = operator.post(reverse("api:approval-approve", args=[request.pk]), {}, format="json")
    _assert_error(own, 409, "self_approval_forbidden")
    assert StockMove.objects.count() == moves

    approved = api_as("ne.supervisor").post(reverse("api:approval-approve", args=[request.pk]), {}, format="json")
    assert approved.status_code == 200, approved.json()
    after = operator.get(url("detail", count)).json()
    assert after["status"] == "posted" and after["approval_status"] == "approved" and after["closed_at"]
    (line,) = after["lines"]
    assert line["state"] == "posted" and line["move"] is not None
    assert StockMove.objects.get(pk=line["move"]).actor.username == "ne.supervisor"
    assert StockMove.objects.count() == moves + 1 and _on_hand(hundred) == D(90)


@pytest.mark.django_db
def test_a_rejected_count_posts_nothing_beyond_tolerance(hundred, operator, api_as):
    count = _opened(operator)
    body = _post(operator, "submit", count, {"lines": [_entry("150")]}).json()
    moves = StockMove.objects.count()

    rejected = api_as("ne.supervisor").post(reverse("api:approval-reject", args=[body["approval_request"]]),
                                       {"comment": "Count it again next week"}, format="json")

    assert rejected.status_code == 200, rejected.json()
    after = operator.get(url("detail", count)).json()
    assert after["status"] == "rejected" and after["approval_status"] == "rejected"
    assert [line["state"] for line in after["lines"]] == ["rejected"]
    assert StockMove.objects.count() == moves and _on_hand(hundred) == D(100)


@pytest.mark.django_db
def test_the_supervisor_sends_the_variances_to_a_blind_recount(hundred, operator, api_as):
    count = _opened(operator)
    submitted = _post(operator, "submit", count, {"lines": [_entry("80")]}).json()

    refused = _post(operator, "recount", count, {"comment": "mine"})
    _assert_error(refused, 403, "not_an_approver")
    assert CycleCount.objects.get(pk=count["id"]).status == "pending_approval"

    response = _post(api_as("ne.supervisor"), "recount", count, {"comment": "Check behind the pallet"})

    assert response.status_code == 201, response.json()
    recount = response.json()
    assert recount["id"] != count["id"] and recount["origin"] == "recount"
    assert recount["recount_of"] == count["number"] and recount["created_by"] == "ne.supervisor"
    assert [(line["location"], line["sku"], line["state"]) for line in recount["lines"]] == [
        ("A-01-01", "T-CLN-0001", "pending")]
    _assert_blind(recount)
    original = operator.get(url("detail", count)).json()
    assert original["status"] == "recounted" and original["recounts"] == [recount["number"]]
    assert ApprovalRequest.objects.get(pk=submitted["approval_request"]).status == ApprovalStatus.CANCELLED
    assert original["approval_status"] == "cancelled"

    done = _post(operator, "submit", recount, {"lines": [_entry("100")]}).json()
    assert done["status"] == "posted" and done["lines"][0]["variance"] == "0.0000"
    assert done["lines"][0]["move"] is None and _on_hand(hundred) == D(100)


@pytest.mark.django_db
def test_an_open_count_is_cancelled_and_then_takes_nothing_more(hundred, operator):
    count = _opened(operator)

    response = _post(operator, "cancel", count)

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled" and response.json()["closed_at"] is not None
    assert [line["state"] for line in response.json()["lines"]] == ["cancelled"]
    _assert_error(_post(operator, "cancel", count), 409, "invalid_transition")
    _assert_error(_post(operator, "count", count, {"lines": [_entry("1")]}), 409, "invalid_transition")
    _assert_error(_post(operator, "cancel", count, {"reason": "x"}), 400, "validation_error")


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_submit_without_posting_twice(hundred, operator):
    count = _opened(operator)
    moves = StockMove.objects.count()
    body = {"lines": [_entry("99")]}

    first = _post(operator, "submit", count, body, HTTP_IDEMPOTENCY_KEY="cc-submit-1")
    again = _post(operator, "submit", count, body, HTTP_IDEMPOTENCY_KEY="cc-submit-1")

    assert first.status_code == again.status_code == 200, again.json()
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert StockMove.objects.count() == moves + 1 and _on_hand(hundred) == D(99)
    other = _post(operator, "submit", count, {"lines": [_entry("98")]}, HTTP_IDEMPOTENCY_KEY="cc-submit-1")
    _assert_error(other, 409, "idempotency_key_reused")
    # Without the key, a second submit is what it is: the count is no longer open.
    _assert_error(_post(operator, "submit", count, body), 409, "invalid_transition")
    assert StockMove.objects.count() == moves + 1


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_opening_of_a_count(hundred, operator):
    counts = CycleCount.objects.count()

    first = _open(operator, HTTP_IDEMPOTENCY_KEY="cc-open-1")
    again = _open(operator, HTTP_IDEMPOTENCY_KEY="cc-open-1")

    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    assert CycleCount.objects.count() == counts + 1


@pytest.mark.django_db
def test_counting_needs_the_count_permission_but_reading_does_not(hundred, api_as, operator):
    count = _opened(operator)
    planner = api_as("planner")  # reads stock everywhere, counts nothing

    _assert_error(_open(planner), 403, "permission_denied")
    for action in ("count", "submit", "cancel"):
        _assert_error(_post(planner, action, count, {"lines": [_entry("1")]} if action != "cancel" else {}),
                      403, "permission_denied")
    assert planner.get(url("detail", count)).status_code == 200
    assert CycleCountLine.objects.get(count_id=count["id"]).state == "pending"


# --- lists, filters and accuracy -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_is_newest_first_and_filters_by_warehouse_status_and_origin(hundred, operator):
    older = _opened(operator)
    newer = _opened(operator)
    _post(operator, "cancel", older)

    def numbers(**params: str) -> list[str]:
        response = operator.get(reverse(LIST), {"page_size": 500, **params})
        assert response.status_code == 200, response.json()
        return [row["number"] for row in response.json()["results"]]

    listed = numbers(origin="manual")
    assert listed.index(newer["number"]) < listed.index(older["number"])
    assert numbers(status="cancelled", warehouse="NE-BOS") == [older["number"]]
    assert newer["number"] in numbers(status="open", warehouse="NE-BOS")
    assert numbers(warehouse="NE-NYC", origin="manual") == []
    row = operator.get(reverse(LIST), {"page_size": 500}).json()["results"][0]
    assert set(row) == COUNT_FIELDS and row["number"] == newer["number"]
    for bad in ({"status": "nope"}, {"origin": "robot"}):
        _assert_error(operator.get(reverse(LIST), bad), 400, "validation_error")


@pytest.mark.django_db
def test_accuracy_is_pairs_within_tolerance_over_pairs_counted_per_warehouse_in_scope(hundred, user, operator):
    ne = user("ne.operator")
    for counted in ("100", "99", "50", "120"):
        count = cycle_count_create(warehouse=warehouse("NE-BOS"), pairs=[
            CountPair(location=location("NE-BOS", "A-01-01"), item=hundred)], actor=ne)
        cycle_count_submit(count=count, actor=ne, entries=[CountEntry(
            location=location("NE-BOS", "A-01-01"), item=hundred, quantity=D(counted), uom="EA")])
    today = timezone.localdate()

    response = operator.get(reverse("api:cycle-count-accuracy"), {"warehouse": "NE-BOS"})

    assert response.status_code == 200, response.json()
    (row,) = response.json()["results"]
    assert row["warehouse"] == "NE-BOS" and row["until"] == today.isoformat()
    assert row["since"] == (today - dt.timedelta(days=89)).isoformat()
    # 100 and 99 of 100 are within 2 %; 50 and 120 (of the 99 left) are not.
    assert (row["pairs_counted"], row["pairs_within_tolerance"], row["accuracy_percent"]) == (4, 2, "50.00")
    everywhere = operator.get(reverse("api:cycle-count-accuracy")).json()["results"]
    assert {r["warehouse"] for r in everywhere} == {"NE-BOS", "NE-NYC"}
    before = operator.get(reverse("api:cycle-count-accuracy"), {
        "since": "2020-01-01", "until": "2020-12-31", "warehouse": "NE-BOS"}).json()["results"]
    assert before == [{"warehouse": "NE-BOS", "pairs_counted": 0, "pairs_within_tolerance": 0,
                       "accuracy_percent": None, "since": "2020-01-01", "until": "2020-12-31"}]


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "status_code", "code"), [
    ({"since": "2026-02-30"}, 400, "validation_error"),
    ({"until": "yesterday"}, 400, "validation_error"),
    ({"since": "2026-03-02", "until": "2026-03-01"}, 400, "validation_error"),
    ({"since": "2025-01-01", "until": "2026-01-02"}, 400, "validation_error"),  # 367 days
    ({"warehouse": "EU-RTM"}, 404, "not_found"),  # outside the caller's scope
    ({"warehouse": "XX-NOPE"}, 404, "not_found"),
])
def test_bad_accuracy_periods_and_warehouses_are_refused_in_the_error_shape(operator, params, status_code, code):
    _assert_error(operator.get(reverse("api:cycle-count-accuracy"), params), status_code, code)


@pytest.mark.django_db
def test_a_leap_year_is_the_longest_accuracy_period(operator):
    response = operator.get(reverse("api:cycle-count-accuracy"), {"since": "2024-01-01", "until": "2024-12-31"})
    assert response.status_code == 200, response.json()


# --- scope ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_count_outside_the_callers_scope_is_not_found_and_untouched(hundred, operator, user):
    services.stock_receive(warehouse=warehouse("EU-RTM"), location=location("EU-RTM", "A-01-01"), item=hundred,
                           quantity=D(10), uom="EA", unit_cost=D(1), reference="test", actor=None)
    theirs = cycle_count_create(warehouse=warehouse("EU-RTM"), pairs=[
        CountPair(location=location("EU-RTM", "A-01-01"), item=hundred)], actor=user("eu.operator"))
    mine = _opened(operator)

    _assert_error(operator.get(url("detail", theirs)), 404, "not_found")
    for action, body in (("count", {"lines": [_entry("1")]}), ("submit", {"lines": [_entry("1")]}),
                         ("cancel", {}), ("recount", {})):
        _assert_error(_post(operator, action, theirs, body), 404, "not_found")
    assert CycleCount.objects.get(pk=theirs.pk).status == "open"
    assert CycleCountLine.objects.get(count=theirs).state == "pending"
    numbers = {row["number"] for row in operator.get(reverse(LIST), {"page_size": 500}).json()["results"]}
    assert mine["number"] in numbers and theirs.number not in numbers
    assert operator.get(reverse(LIST), {"warehouse": "EU-RTM"}).json()["count"] == 0
    counts = CycleCount.objects.count()
    refused = _open(operator, warehouse_code="EU-RTM")
    assert "warehouse" in _assert_error(refused, 400, "validation_error")["detail"]
    assert CycleCount.objects.count() == counts


# --- bad input: 400 or 409, the error shape, nothing written -------------------------------------------


@pytest.fixture
def bad_input_world(hundred: Any) -> dict[str, Any]:
    """A location only NE-NYC has, and a lot-tracked twin with no stock (so no lot on hand anywhere)."""
    network.location_create(warehouse=warehouse("NE-NYC"), code="NYC-ONLY", kind="storage", actor=None)
    item("BEV-0001")
    return {"twin": hundred}


def _snapshot(count_id: int | None = None) -> tuple[Any, ...]:
    lines = list(CycleCountLine.objects.filter(count_id=count_id).order_by("line_no").values()) if count_id else None
    status = CycleCount.objects.get(pk=count_id).status if count_id else None
    return (StockMove.objects.count(), CycleCount.objects.count(), CycleCountLine.objects.count(), Lot.objects.count(),
            status, lines)


PAIR = {"location": "A-01-01", "sku": "T-CLN-0001"}
CREATE_BAD = [
    ("unknown sku", {"lines": [{**PAIR, "sku": "NO-SUCH-SKU"}]}, 400, "validation_error"),
    ("unknown location", {"lines": [{**PAIR, "location": "Z-99-99"}]}, 400, "validation_error"),
    ("location of another warehouse", {"lines": [{**PAIR, "location": "NYC-ONLY"}]}, 400, "validation_error"),
    ("unknown lot", {"lines": [{**PAIR, "sku": "T-BEV-0001", "lot": "NO-LOT"}]}, 400, "unknown_lot"),
    ("lot missing, none on hand", {"lines": [{**PAIR, "sku": "T-BEV-0001"}]}, 400, "lot_required"),
    ("lot for a non-lot item", {"lines": [{**PAIR, "lot": "L1"}]}, 400, "lot_not_allowed"),
    ("duplicate lines", {"lines": [PAIR, PAIR]}, 400, "duplicate_line"),
    ("empty lines", {"lines": []}, 400, "validation_error"),
    ("no lines", {"lines": None}, 400, "validation_error"),
    ("lines not a list", {"lines": PAIR}, 400, "validation_error"),
    ("a line not an object", {"lines": ["A-01-01"]}, 400, "validation_error"),
    ("unknown field", {"status": "posted"}, 400, "validation_error"),
    ("unknown line field", {"lines": [{**PAIR, "expected_quantity": "5"}]}, 400, "validation_error"),
    ("a quantity is not opened with", {"lines": [{**PAIR, "quantity": "-1"}]}, 400, "validation_error"),
    ("warehouse outside the scope", {"warehouse": "EU-RTM"}, 400, "validation_error"),
    ("unknown warehouse", {"warehouse": "XX-NOPE"}, 400, "validation_error"),
    ("NUL in a code", {"lines": [{**PAIR, "sku": "T-CLN\x00"}]}, 400, "validation_error"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "overrides", "status_code", "code"), CREATE_BAD, ids=[c[0] for c in CREATE_BAD])
def test_bad_input_to_open_a_count_is_refused_and_writes_nothing(bad_input_world, operator, case, overrides,
                                                                 status_code, code):
    before = _snapshot()
    body = {"warehouse": "NE-BOS", "lines": [PAIR], **overrides}
    response = operator.post(reverse(LIST), body, format="json")
    _assert_error(response, status_code, code)
    assert _snapshot() == before


ENTRY_BAD = [
    ("negative", [_entry("-1")], 400, "validation_error"),
    ("huge", [_entry("1e20")], 400, "validation_error"),
    ("huge number", [_entry(1e20)], 400, "validation_error"),
    ("huge once converted", [_entry("99999999999999", uom="PL")], 400, "invalid_quantity"),
    ("NaN", [_entry("NaN")], 400, "validation_error"),
    ("Infinity", [_entry("Infinity")], 400, "validation_error"),
    ("-Infinity", [_entry("-Infinity")], 400, "validation_error"),
    ("non-numeric", [_entry("ten")], 400, "validation_error"),
    ("blank", [_entry("")], 400, "validation_error"),
    ("null", [_entry(None)], 400, "validation_error"),
    ("too many decimals", [_entry("1.00001")], 400, "validation_error"),
    ("quantity missing", [{"location": "A-01-01", "sku": "T-CLN-0001", "uom": "EA"}], 400, "validation_error"),
    ("uom null", [_entry("1", uom=None)], 400, "validation_error"),  # left out is the base unit; null is not
    ("unknown uom", [_entry("1", uom="PALLET9")], 400, "unknown_uom"),
    ("a unit the item lacks", [_entry("1", uom="KG")], 400, "unknown_uom"),
    ("unknown sku", [_entry("1", sku="NO-SUCH-SKU")], 400, "validation_error"),
    ("unknown location", [_entry("1", location="Z-99-99")], 400, "validation_error"),
    ("location of another warehouse", [_entry("1", location="NYC-ONLY")], 400, "validation_error"),
    ("lot missing for a lot-tracked item", [_entry("1", sku="T-BEV-0001")], 400, "lot_required"),
    ("lot for a non-lot item", [_entry("1", lot="L1")], 400, "lot_not_allowed"),
    # A lot not known yet is created when something was found; naming one to report nothing is a mistake.
    ("unknown lot counted empty", [_entry("0", sku="T-BEV-0001", lot="NO-LOT")], 400, "unknown_lot"),
    ("duplicate lines", [_entry("1"), _entry("2")], 400, "duplicate_line"),
    ("empty lines", [], 400, "validation_error"),
    ("unknown line field", [{**_entry("1"), "expected_quantity": "1"}], 400, "validation_error"),
    ("one bad line of two", [_entry("1", location="A-01-02"), _entry("ten")], 400, "validation_error"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["count", "submit"])
@pytest.mark.parametrize(("case", "lines", "status_code", "code"), ENTRY_BAD, ids=[c[0] for c in ENTRY_BAD])
def test_bad_counted_quantities_are_refused_and_change_nothing(bad_input_world, operator, action, case, lines,
                                                               status_code, code):
    count = _opened(operator)
    before = _snapshot(count["id"])
    _assert_error(_post(operator, action, count, {"lines": lines}), status_code, code)
    assert _snapshot(count["id"]) == before


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["count", "submit"])
def test_unknown_fields_and_non_object_bodies_are_refused(hundred, operator, action):
    count = _opened(operator)
    before = _snapshot(count["id"])
    for body in ({"lines": [_entry("1")], "status": "posted"}, {"expected_quantity": "1"}):
        _assert_error(_post(operator, action, count, body), 400, "validation_error")
    response = operator.post(url(action, count), json.dumps([_entry("1")]), content_type="application/json")
    _assert_error(response, 400, "validation_error")
    assert _snapshot(count["id"]) == before


@pytest.mark.django_db
def test_a_count_with_uncounted_lines_cannot_be_submitted(hundred, operator):
    count = _opened(operator, PAIR, {"location": "A-01-02", "sku": "T-CLN-0001"})
    _post(operator, "count", count, {"lines": [_entry("100")]})
    before = _snapshot(count["id"])

    body = _assert_error(_post(operator, "submit", count), 409, "count_incomplete")

    assert body["detail"]["lines"] == [{"line_no": 2, "location": "A-01-02", "sku": "T-CLN-0001", "lot": None}]
    assert _snapshot(count["id"]) == before
    # Counting the last line in the submit itself completes it.
    assert _post(operator, "submit", count, {"lines": [_entry("0", location="A-01-02")]}).json()["status"] == "posted"


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["count", "submit", "cancel"])
def test_a_posted_count_can_be_neither_counted_nor_submitted_nor_cancelled(hundred, operator, action):
    count = _opened(operator)
    assert _post(operator, "submit", count, {"lines": [_entry("100")]}).json()["status"] == "posted"
    before = _snapshot(count["id"])

    body = {} if action == "cancel" else {"lines": [_entry("99")]}
    _assert_error(_post(operator, action, count, body), 409, "invalid_transition")

    assert _snapshot(count["id"]) == before


@pytest.mark.django_db
def test_only_a_count_waiting_for_approval_can_be_sent_to_recount(hundred, operator, api_as):
    count = _opened(operator)
    before = _snapshot(count["id"])
    _assert_error(_post(api_as("approver"), "recount", count), 409, "invalid_transition")
    _assert_error(_post(api_as("approver"), "recount", count, {"comment": 5, "x": 1}), 400, "validation_error")
    assert _snapshot(count["id"]) == before


# --- query counts -----------------------------------------------------------------------------------------


def _queries(call: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code in (200, 201), response.content[:500]
    return len(captured)


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_for_1_and_20_counts(hundred, user, operator, api_as):
    ne = user("ne.operator")
    pair = [CountPair(location=location("NE-BOS", "A-01-01"), item=hundred)]
    entry = [CountEntry(location=location("NE-BOS", "A-01-01"), item=hundred, quantity=D(50), uom="EA")]

    def make(n: int) -> None:
        for _ in range(n):
            count = cycle_count_create(warehouse=warehouse("NE-BOS"), pairs=pair, actor=ne)
            cycle_count_record(count=count, entries=entry, actor=ne)

    def listed() -> Any:
        return operator.get(reverse(LIST), {"page_size": 500, "origin": "manual"})

    make(1)
    listed()  # the first request of a client warms the user's permission cache
    one = _queries(listed)
    make(18)
    pending = cycle_count_submit(count=cycle_count_create(warehouse=warehouse("NE-BOS"), pairs=pair, actor=ne),
                                 actor=ne, entries=entry)
    _post(api_as("approver"), "recount", pending.pk)  # a recounted count and its recount, with their approval
    assert listed().json()["count"] == 20
    assert _queries(listed) == one


def _stocked_pairs(n: int) -> list[tuple[Any, Any]]:
    """``n`` location-item pairs at NE-BOS, each with 100 EA at 1.00, posted as one opening document."""
    items, bins = plain_items(n // 4 + 1), storage_locations()[:4]
    pairs = [(bins[i % 4], items[i // 4]) for i in range(n)]
    services.stock_opening_post(warehouse=warehouse("NE-BOS"), reference="count test", actor=None, lines=[
        services.OpeningLine(item=it, location=loc, quantity=D(100), unit_cost=D(1)) for loc, it in pairs])
    return pairs


@pytest.mark.django_db
def test_submitting_costs_the_same_queries_for_5_and_100_lines(stock, user, api_as):
    pairs = _stocked_pairs(106)
    ne = user("ne.operator")

    def open_count(chosen: list[tuple[Any, Any]]) -> tuple[CycleCount, list[dict[str, Any]]]:
        count = cycle_count_create(warehouse=warehouse("NE-BOS"), actor=ne,
                                   pairs=[CountPair(location=loc, item=it) for loc, it in chosen])
        # Alternately within tolerance (posts at once) and beyond it (waits for approval), the variances of both
        # sizes within one approval band (NE's supervisor's, below 1,000), so both route alike.
        lines = [{"location": loc.code, "sku": it.sku, "quantity": "99" if n % 2 else "97", "uom": "EA"}
                 for n, (loc, it) in enumerate(chosen)]
        return count, lines

    warm, five, hundred_lines = open_count(pairs[:1]), open_count(pairs[1:6]), open_count(pairs[6:106])

    def submit(opened: tuple[CycleCount, list[dict[str, Any]]]) -> Any:
        return lambda: api_as("ne.operator").post(url("submit", opened[0]), {"lines": opened[1]}, format="json")

    _queries(submit(warm))  # caches that outlive a request (content types, statuses) are warm after this
    small = _queries(submit(five))
    large = _queries(submit(hundred_lines))
    assert small == large
    done = CycleCount.objects.get(pk=hundred_lines[0].pk)
    assert done.status == "pending_approval"
    assert StockMove.objects.filter(reference_type="cycle_count", reference_id=str(done.pk)).count() == 50
    detail = api_as("ne.operator").get(url("detail", done))
    assert len(detail.json()["lines"]) == 100
    assert _queries(lambda: api_as("ne.operator").get(url("detail", five[0]))) == _queries(
        lambda: api_as("ne.operator").get(url("detail", done)))
