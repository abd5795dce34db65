"""The pick list API (issue 5, item 4): ``pick-lists/``, ``confirm/`` and ``cancel/``; idempotency, bad input, scope,
roles, query counts and the admin.

ne.operator works NE-BOS and NE-NYC; eu.operator region EU. Stock is received on twins (``T-<sku>``), which hold
nothing until a test puts it somewhere. C-NE-001's home warehouse is NE-BOS.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from governance.models import OperationalException
from inventory import services as stock
from inventory.models import ItemWarehouseSummary, StockMove
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders.models import Allocation, Customer, PickList, PickListLine, SalesOrder, SalesOrderLine
from orders.services.picking import pick_list_create
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from tests.clock import WEDNESDAY_10AM, WEDNESDAY_DATE
from tests.races import race

D = Decimal
WAVE_CUTOFF = WEDNESDAY_DATE.isoformat()  # the wave of the day the tests confirm on
LIST = "api:pick-list-list"
LIST_FIELDS = {"id", "number", "warehouse", "kind", "order", "wave_cutoff", "status", "line_count", "created_by",
               "created_at", "picked_by", "picked_at"}
LINE_FIELDS = {"id", "sequence", "location", "location_path", "sku", "base_uom", "lot", "quantity", "picked_quantity",
               "picked_lot", "status", "order", "line_no"}


def _receive(twin: Any, site: str, code: str, quantity: int, lot: str | None = None) -> None:
    stock.stock_receive(warehouse=warehouse(site), location=location(site, code), item=twin, quantity=D(quantity),
                        uom="EA", unit_cost=D(2), reference="test", actor=None, lot_number=lot)


def _order(lines: list[tuple[Any, int]], customer: str = "C-NE-001") -> SalesOrder:
    buyer = Customer.objects.get(code=customer)
    order = sales_order_create(customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
                               lines=[OrderLineSpec(item=twin, quantity=D(q), uom="EA") for twin, q in lines])
    return sales_order_confirm(order=order, actor=None, now=WEDNESDAY_10AM)


@pytest.fixture
def stocked(demo: Any) -> dict[str, Any]:
    """Towels (not lot-tracked) at NE-BOS A-02-01 and juice (lot L-1) at P-03; one order of 4 towels and 3 juice."""
    ensure_standard_statuses()
    towels, juice = item("CLN-0001"), item("BEV-0001")
    _receive(towels, "NE-BOS", "A-02-01", 10)
    _receive(juice, "NE-BOS", "P-03", 10, lot="L-1")
    return {"towels": towels, "juice": juice, "order": _order([(towels, 4), (juice, 3)])}


@pytest.fixture
def operator(api_as: Any) -> APIClient:
    return api_as("ne.operator")


def _url(action: str, pick_list: Any) -> str:
    pk = pick_list if isinstance(pick_list, int) else (
        pick_list["id"] if isinstance(pick_list, dict) else pick_list.pk)
    return reverse(f"api:pick-list-{action}", args=[pk])


def _assert_error(response: Any, status_code: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status_code, body
    assert set(body) == {"code", "message", "detail"} and body["code"] == code, body
    return body


def _created(client: APIClient, body: dict[str, Any], **headers: Any) -> dict[str, Any]:
    response = client.post(reverse(LIST), body, format="json", **headers)
    assert response.status_code == 201, response.json()
    return response.json()


def _all(pick_list: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {"lines": [{"id": line["id"], "picked_quantity": line["quantity"], **overrides}
                      for line in pick_list["lines"]]}


def _snapshot() -> tuple[Any, ...]:
    """What a refused request must leave alone."""
    return (StockMove.objects.count(), PickList.objects.count(),
            list(PickList.objects.order_by("id").values_list("id", "status")),
            list(PickListLine.objects.order_by("id").values_list("id", "status", "picked_quantity", "picked_lot")),
            list(Allocation.objects.order_by("id").values_list("id", "status", "quantity", "lot", "pick_list")),
            list(SalesOrderLine.objects.order_by("id").values_list("id", "status", "allocated_quantity",
                                                                   "backordered_quantity")),
            ItemWarehouseSummary.objects.aggregate(total=Sum("allocated"))["total"],
            OperationalException.objects.aggregate(total=Sum("raised_count"))["total"])


# --- the whole flow --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_operator_lists_an_order_picks_it_and_reads_it_back(stocked, operator):
    order = stocked["order"]

    created = _created(operator, {"warehouse": "NE-BOS", "order": order.number})

    assert set(created) == LIST_FIELDS | {"lines"}
    assert (created["number"], created["warehouse"], created["kind"], created["order"], created["status"],
            created["line_count"], created["created_by"]) == (
        f"PL-{created['id']:06d}", "NE-BOS", "order", order.number, "open", 2, "ne.operator")
    first, second = created["lines"]
    assert set(first) == LINE_FIELDS
    assert (first["sequence"], first["location"], first["location_path"], first["sku"], first["lot"],
            first["quantity"], first["picked_quantity"], first["status"], first["order"], first["line_no"]) == (
        1, "P-03", "PICK/P-03", "T-BEV-0001", "L-1", "3.0000", None, "open", order.number, 2)
    assert (second["sequence"], second["location"], second["sku"], second["lot"], second["base_uom"]) == (
        2, "A-02-01", "T-CLN-0001", None, "EA")
    assert operator.get(reverse("api:sales-order-detail", args=[order.pk])).json()["status"] == "picking"

    response = operator.post(_url("confirm", created), _all(created), format="json")

    assert response.status_code == 200, response.json()
    picked = response.json()
    assert picked["status"] == "picked" and picked["picked_by"] == "ne.operator" and picked["picked_at"]
    assert [(line["status"], line["picked_quantity"], line["picked_lot"]) for line in picked["lines"]] == [
        ("picked", "3.0000", "L-1"), ("picked", "4.0000", None)]
    assert operator.get(_url("detail", created)).json() == picked
    listed = operator.get(reverse(LIST), {"warehouse": "NE-BOS", "status": "picked"}).json()["results"]
    assert [row["number"] for row in listed] == [created["number"]] and set(listed[0]) == LIST_FIELDS
    assert operator.get(reverse(LIST), {"status": "open", "warehouse": "NE-BOS"}).json()["count"] == 0
    assert operator.get(reverse(LIST), {"order": order.number}).json()["count"] == 1


@pytest.mark.django_db
def test_a_wave_by_cutoff_and_lines_answered_by_sequence(stocked, operator):
    created = _created(operator, {"warehouse": "NE-BOS", "wave_cutoff": WAVE_CUTOFF})
    assert (created["kind"], created["order"], created["wave_cutoff"], created["line_count"]) == (
        "wave", None, WAVE_CUTOFF, 2)

    response = operator.post(_url("confirm", created), {"lines": [
        {"sequence": 2, "picked_quantity": "4"}, {"sequence": 1, "picked_quantity": "3", "lot": "L-1"}]},
        format="json")

    assert response.status_code == 200 and response.json()["status"] == "picked", response.json()
    _assert_error(operator.post(reverse(LIST), {"warehouse": "NE-BOS", "wave_cutoff": WAVE_CUTOFF},
                                format="json"), 409, "nothing_to_pick")


@pytest.mark.django_db
def test_a_short_pick_through_the_api_backorders_and_raises_a_shortage_here(stocked, operator):
    created = _created(operator, {"warehouse": "NE-BOS", "order": str(stocked["order"].pk)})
    towels = next(line for line in created["lines"] if line["sku"] == "T-CLN-0001")
    juice = next(line for line in created["lines"] if line["sku"] == "T-BEV-0001")

    response = operator.post(_url("confirm", created), {"lines": [
        {"id": towels["id"], "picked_quantity": "1.5"}, {"id": juice["id"], "picked_quantity": "3"}]}, format="json")

    assert response.status_code == 200, response.json()
    lines = {line["sku"]: line for line in response.json()["lines"]}
    assert (lines["T-CLN-0001"]["status"], lines["T-CLN-0001"]["picked_quantity"]) == ("short", "1.5000")
    order = operator.get(reverse("api:sales-order-detail", args=[stocked["order"].pk])).json()
    towel_line = next(line for line in order["lines"] if line["sku"] == "T-CLN-0001")
    assert (towel_line["allocated_quantity"], towel_line["backordered_quantity"]) == ("1.5000", "2.5000")
    shortages = operator.get(reverse("api:exception-list"), {"type": "shortage", "page_size": 500}).json()["results"]
    (ours,) = [row for row in shortages if row["business_key"] == "shortage:NE-BOS:T-CLN-0001"]
    assert (ours["warehouse"], ours["reference"]) == ("NE-BOS", created["number"])
    assert ours["detail"]["backordered"] == "2.5000" and ours["detail"]["locations"] == ["A-02-01"]


@pytest.mark.django_db
def test_cancelling_through_the_api_frees_the_allocations_for_another_list(stocked, operator):
    created = _created(operator, {"warehouse": "NE-BOS", "order": stocked["order"].number})

    response = operator.post(_url("cancel", created))

    assert response.status_code == 200 and response.json()["status"] == "cancelled", response.json()
    assert {line["status"] for line in response.json()["lines"]} == {"cancelled"}
    again = _created(operator, {"warehouse": "NE-BOS", "order": stocked["order"].number})
    assert again["line_count"] == 2


# --- idempotency -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_list_and_the_confirmation(stocked, operator):
    body = {"warehouse": "NE-BOS", "order": stocked["order"].number}
    first = operator.post(reverse(LIST), body, format="json", HTTP_IDEMPOTENCY_KEY="pl-1")
    again = operator.post(reverse(LIST), body, format="json", HTTP_IDEMPOTENCY_KEY="pl-1")

    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and PickList.objects.count() == 1
    _assert_error(operator.post(reverse(LIST), {"warehouse": "NE-BOS", "wave_cutoff": WAVE_CUTOFF}, format="json",
                                HTTP_IDEMPOTENCY_KEY="pl-1"), 409, "idempotency_key_reused")

    answers = _all(first.json())
    confirmed = operator.post(_url("confirm", first.json()), answers, format="json", HTTP_IDEMPOTENCY_KEY="pl-c")
    replayed = operator.post(_url("confirm", first.json()), answers, format="json", HTTP_IDEMPOTENCY_KEY="pl-c")
    assert confirmed.status_code == replayed.status_code == 200 and replayed.json() == confirmed.json()
    # Without the key the second confirmation is refused: the list is picked already.
    _assert_error(operator.post(_url("confirm", first.json()), answers, format="json"), 409, "invalid_transition")


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_make_one_list_and_one_confirmation(demo, user):
    ensure_standard_statuses()
    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 10)
    _order([(towels, 4)])
    _order([(towels, 2)])
    account = user("ne.operator")

    def post(url: str, body: dict[str, Any], key: str | None = None) -> Any:
        client = APIClient()
        client.force_authenticate(account)
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        return client.post(url, body, format="json", **headers)

    wave = {"warehouse": "NE-BOS", "wave_cutoff": WAVE_CUTOFF}
    same_key = race(*[lambda: post(reverse(LIST), wave, "one-wave") for _ in range(4)])
    assert {response.status_code for response in same_key} == {201}
    assert len({json.dumps(response.json(), sort_keys=True) for response in same_key}) == 1
    assert PickList.objects.count() == 1

    created = same_key[0].json()
    confirms = race(*[lambda: post(_url("confirm", created), _all(created)) for _ in range(3)])
    assert sorted(response.status_code for response in confirms) == [200, 409, 409]
    assert {r.json()["code"] for r in confirms if r.status_code == 409} == {"invalid_transition"}
    assert ItemWarehouseSummary.objects.get(item=towels, warehouse__code="NE-BOS").allocated == D(6)
    assert set(PickListLine.objects.values_list("status", flat=True)) == {"picked"}

    # Two waves asked at once with different keys: the second finds every allocation listed by the first.
    _order([(towels, 3)])
    waves = race(*[lambda n=n: post(reverse(LIST), wave, f"wave-{n}") for n in range(2)])
    assert sorted(response.status_code for response in waves) == [201, 409]
    assert {r.json()["code"] for r in waves if r.status_code == 409} == {"nothing_to_pick"}
    assert PickList.objects.count() == 2 and not Allocation.objects.filter(status="open", pick_list=None).exists()
    for name in ("check_inventory_invariants", "check_order_invariants"):
        out = StringIO()
        call_command(name, stdout=out, stderr=out)
        assert "hold" in out.getvalue(), out.getvalue()


# --- bad input: 400 or 409 in the error shape, nothing written ----------------------------------------------------


CREATE_BAD = [
    ("unknown warehouse", {"warehouse": "XX-NOPE", "wave_cutoff": WAVE_CUTOFF}, 400, "validation_error"),
    ("warehouse outside the scope", {"warehouse": "EU-RTM", "wave_cutoff": WAVE_CUTOFF}, 400, "validation_error"),
    ("warehouse missing", {"wave_cutoff": WAVE_CUTOFF}, 400, "validation_error"),
    ("warehouse not text", {"warehouse": ["NE-BOS"], "wave_cutoff": WAVE_CUTOFF}, 400, "validation_error"),
    ("neither order nor cutoff", {"warehouse": "NE-BOS"}, 400, "validation_error"),
    ("both order and cutoff", {"warehouse": "NE-BOS", "order": "{order}", "wave_cutoff": WAVE_CUTOFF}, 400,
     "validation_error"),
    ("null order and null cutoff", {"warehouse": "NE-BOS", "order": None, "wave_cutoff": None}, 400,
     "validation_error"),
    ("unknown order", {"warehouse": "NE-BOS", "order": "SO-999999"}, 400, "validation_error"),
    ("unknown order id", {"warehouse": "NE-BOS", "order": 999999999}, 400, "validation_error"),
    ("order id beyond bigint", {"warehouse": "NE-BOS", "order": "99999999999999999999"}, 400, "validation_error"),
    ("order too long", {"warehouse": "NE-BOS", "order": "SO-" + "9" * 30}, 400, "validation_error"),
    ("order not text", {"warehouse": "NE-BOS", "order": True}, 400, "validation_error"),
    ("order of another region", {"warehouse": "NE-BOS", "order": "{eu_order}"}, 400, "validation_error"),
    ("NUL in the order", {"warehouse": "NE-BOS", "order": "SO-\x00"}, 400, "validation_error"),
    ("bad cutoff", {"warehouse": "NE-BOS", "wave_cutoff": "2026-02-30"}, 400, "validation_error"),
    ("cutoff not a date", {"warehouse": "NE-BOS", "wave_cutoff": "next friday"}, 400, "validation_error"),
    ("unknown field", {"warehouse": "NE-BOS", "wave_cutoff": WAVE_CUTOFF, "status": "picked"}, 400,
     "validation_error"),
    ("order with nothing here", {"warehouse": "NE-NYC", "order": "{order}"}, 409, "nothing_to_pick"),
    ("wave with nothing due", {"warehouse": "NE-BOS", "wave_cutoff": "2000-01-01"}, 409, "nothing_to_pick"),
]


@pytest.fixture
def bad_input_world(stocked: dict[str, Any]) -> dict[str, str]:
    ensure_standard_statuses()
    towels = stocked["towels"]
    _receive(towels, "EU-RTM", "A-01-01", 5)
    return {"order": stocked["order"].number, "eu_order": _order([(towels, 1)], customer="C-EU-001").number}


def _fill(body: Any, world: dict[str, str]) -> Any:
    return {key: value.format(**world) if isinstance(value, str) and "{" in value else value
            for key, value in body.items()}


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "body", "status_code", "code"), CREATE_BAD, ids=[c[0] for c in CREATE_BAD])
def test_bad_input_to_list_stock_is_refused_and_writes_nothing(bad_input_world, operator, case, body, status_code,
                                                               code):
    before = _snapshot()
    _assert_error(operator.post(reverse(LIST), _fill(body, bad_input_world), format="json"), status_code, code)
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_is_refused(bad_input_world, operator):
    before = _snapshot()
    for body in ([{"warehouse": "NE-BOS"}], "wave", 5, None):
        _assert_error(operator.post(reverse(LIST), json.dumps(body), content_type="application/json"), 400,
                      "validation_error")
    _assert_error(operator.post(reverse(LIST), "{not json", content_type="application/json"), 400,
                  "malformed_request")
    assert _snapshot() == before


def _answers(pick_list: dict[str, Any], **per_sku: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": line["id"], "picked_quantity": line["quantity"], **per_sku.get(line["sku"].replace("-", "_"), {})}
            for line in pick_list["lines"]]


CONFIRM_BAD = [
    ("more than asked", {"T_CLN_0001": {"picked_quantity": "4.0001"}}, 400, "over_pick"),
    ("negative", {"T_CLN_0001": {"picked_quantity": "-1"}}, 400, "validation_error"),
    ("NaN", {"T_CLN_0001": {"picked_quantity": "NaN"}}, 400, "validation_error"),
    ("Infinity", {"T_CLN_0001": {"picked_quantity": "Infinity"}}, 400, "validation_error"),
    ("huge", {"T_CLN_0001": {"picked_quantity": "1e20"}}, 400, "validation_error"),
    ("too many decimals", {"T_CLN_0001": {"picked_quantity": "1.00001"}}, 400, "validation_error"),
    ("not a number", {"T_CLN_0001": {"picked_quantity": "four"}}, 400, "validation_error"),
    ("null quantity", {"T_CLN_0001": {"picked_quantity": None}}, 400, "validation_error"),
    ("unknown lot", {"T_BEV_0001": {"lot": "L-404"}}, 400, "unknown_lot"),
    ("a lot for an item without lots", {"T_CLN_0001": {"lot": "L-1"}}, 400, "lot_not_allowed"),
    ("a lot that is not at the location", {"T_BEV_0001": {"lot": "L-2"}}, 409, "insufficient_stock"),
    ("lot too long", {"T_BEV_0001": {"lot": "L" * 65}}, 400, "validation_error"),
    ("id and sequence", {"T_CLN_0001": {"sequence": 2}}, 400, "validation_error"),
    ("id not a number", {"T_CLN_0001": {"id": "first"}}, 400, "validation_error"),
    ("unknown line id", {"T_CLN_0001": {"id": 999999999}}, 400, "validation_error"),
    ("id beyond bigint", {"T_CLN_0001": {"id": 2**64}}, 400, "validation_error"),
    ("unknown field", {"T_CLN_0001": {"location": "A-01-01"}}, 400, "validation_error"),
]


@pytest.fixture
def listed(bad_input_world: dict[str, str], stocked: dict[str, Any], operator: APIClient) -> dict[str, Any]:
    _receive(stocked["juice"], "NE-BOS", "A-03-03", 5, lot="L-2")  # another lot, elsewhere
    return _created(operator, {"warehouse": "NE-BOS", "order": stocked["order"].number})


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "per_sku", "status_code", "code"), CONFIRM_BAD, ids=[c[0] for c in CONFIRM_BAD])
def test_bad_answers_to_confirm_are_refused_and_change_nothing(listed, operator, case, per_sku, status_code, code):
    before = _snapshot()
    response = operator.post(_url("confirm", listed), {"lines": _answers(listed, **per_sku)}, format="json")
    _assert_error(response, status_code, code)
    assert _snapshot() == before


@pytest.mark.django_db
def test_confirm_bodies_of_the_wrong_shape_are_refused_and_change_nothing(listed, operator):
    whole = _answers(listed)
    before = _snapshot()
    for body in ({"lines": whole[:1]}, {"lines": whole + whole[:1]}, {"lines": []}, {}, {"lines": whole[0]},
                 {"lines": ["P-03"]}, {"lines": whole, "picked_by": "someone"}, [whole],
                 {"lines": [{"picked_quantity": "1"}, *whole[1:]]}):
        response = operator.post(_url("confirm", listed), json.dumps(body), content_type="application/json")
        _assert_error(response, 400, "validation_error")
    assert _snapshot() == before


@pytest.mark.django_db
def test_moves_outside_the_pick_list_lifecycle_are_409_and_change_nothing(listed, operator):
    assert operator.post(_url("confirm", listed), {"lines": _answers(listed)}, format="json").status_code == 200
    before = _snapshot()
    _assert_error(operator.post(_url("confirm", listed), {"lines": _answers(listed)}, format="json"), 409,
                  "invalid_transition")
    _assert_error(operator.post(_url("cancel", listed)), 409, "invalid_transition")
    _assert_error(operator.post(_url("cancel", listed), {"reason": "x"}, format="json"), 400, "validation_error")
    assert _snapshot() == before
    other = _created(operator, {"warehouse": "NE-BOS", "order": _order([(item("CLN-0001"), 1)]).number})
    assert operator.post(_url("cancel", other)).status_code == 200
    before = _snapshot()
    _assert_error(operator.post(_url("confirm", other), {"lines": _answers(other)}, format="json"), 409,
                  "invalid_transition")
    _assert_error(operator.post(_url("cancel", other)), 409, "invalid_transition")
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_list_that_does_not_exist_is_404_for_every_action(stocked, operator):
    before = _snapshot()
    for action in ("confirm", "cancel"):
        _assert_error(operator.post(_url(action, 999999999), {}, format="json"), 404, "not_found")
    _assert_error(operator.get(_url("detail", 999999999)), 404, "not_found")
    assert _snapshot() == before


# --- scope and roles ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_regions_operator_neither_sees_nor_works_the_list(stocked, operator, api_as):
    created = _created(operator, {"warehouse": "NE-BOS", "order": stocked["order"].number})
    eu = api_as("eu.operator")
    before = _snapshot()

    _assert_error(eu.get(_url("detail", created)), 404, "not_found")
    _assert_error(eu.post(_url("confirm", created), _all(created), format="json"), 404, "not_found")
    _assert_error(eu.post(_url("cancel", created)), 404, "not_found")
    assert created["number"] not in {row["number"] for row in eu.get(reverse(LIST), {"page_size": 500}).json()[
        "results"]}
    _assert_error(eu.post(reverse(LIST), {"warehouse": "NE-BOS", "order": stocked["order"].number}, format="json"),
                  400, "validation_error")
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_warehouse_picks_an_order_of_another_region_it_ships(demo, api_as, user):
    ensure_standard_statuses()
    from governance.services.deviations import deviation_approve, deviation_request

    towels = item("CLN-0001")
    _receive(towels, "NE-BOS", "A-01-01", 5)
    start = WEDNESDAY_DATE  # the day the tests confirm on, never the real today
    deviation = deviation_request(policy_key="fulfillment.cross_region_allowed", scope_type="warehouse",
                                  scope_code="EU-RTM", value=True, rationale="Ship from Boston",
                                  effective_from=start, effective_to=start + dt.timedelta(days=30),
                                  actor=user("eu.operator"))
    deviation_approve(deviation=deviation, actor=user("owner"))
    theirs = _order([(towels, 2)], customer="C-EU-001")
    assert Allocation.objects.get(line__order=theirs).warehouse.code == "NE-BOS"
    operator = api_as("ne.operator")

    created = _created(operator, {"warehouse": "NE-BOS", "order": theirs.number})

    assert created["order"] == theirs.number and created["lines"][0]["order"] == theirs.number
    # The order itself stays outside the NE operator's scope.
    _assert_error(operator.get(reverse("api:sales-order-detail", args=[theirs.pk])), 404, "not_found")


@pytest.mark.django_db
def test_roles_without_picking_may_read_but_not_pick(stocked, operator, api_as):
    created = _created(operator, {"warehouse": "NE-BOS", "order": stocked["order"].number})
    planner = api_as("planner")
    before = _snapshot()

    assert planner.get(_url("detail", created)).json()["number"] == created["number"]
    _assert_error(planner.post(reverse(LIST), {"warehouse": "NE-BOS", "wave_cutoff": WAVE_CUTOFF},
                               format="json"), 403, "permission_denied")
    _assert_error(planner.post(_url("confirm", created), _all(created), format="json"), 403, "permission_denied")
    _assert_error(planner.post(_url("cancel", created)), 403, "permission_denied")
    assert _snapshot() == before
    integrator = api_as("integrator")
    assert integrator.post(_url("confirm", created), _all(created), format="json").status_code == 200


# --- query counts -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_for_1_and_20_lists(stocked, operator):
    towels = stocked["towels"]
    _receive(towels, "NE-BOS", "A-01-01", 100)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = operator.get(reverse(LIST), {"page_size": 500})
        assert response.status_code == 200
        return len(captured)

    pick_list_create(warehouse=warehouse("NE-BOS"), order=stocked["order"], actor=None)
    operator.get(reverse(LIST))  # warms the user's permission cache
    one = queries()
    for _ in range(19):
        pick_list_create(warehouse=warehouse("NE-BOS"), order=_order([(towels, 1), (towels, 2)]), actor=None)
    assert operator.get(reverse(LIST)).json()["count"] == 20
    assert queries() == one


@pytest.mark.django_db
def test_the_detail_costs_the_same_queries_for_2_and_24_lines(stocked, operator):
    towels = stocked["towels"]
    _receive(towels, "NE-BOS", "A-01-01", 100)
    small = pick_list_create(warehouse=warehouse("NE-BOS"), order=stocked["order"], actor=None)
    large = pick_list_create(warehouse=warehouse("NE-BOS"), order=_order([(towels, 1)] * 24), actor=None)
    operator.get(_url("detail", small))

    counts = []
    for pick_list in (small, large):
        with CaptureQueriesContext(connection) as captured:
            response = operator.get(_url("detail", pick_list))
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1] and len(operator.get(_url("detail", large)).json()["lines"]) == 24


# --- the admin ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_shows_a_pick_list_with_its_lines_read_only(stocked, user):
    pick_list = pick_list_create(warehouse=warehouse("NE-BOS"), order=stocked["order"], actor=None)
    client = Client()
    client.force_login(user("admin"))

    changelist = client.get(reverse("admin:orders_picklist_changelist"))
    change = client.get(reverse("admin:orders_picklist_change", args=[pick_list.pk]))

    assert changelist.status_code == 200 and pick_list.number.encode() in changelist.content
    assert change.status_code == 200 and b"A-02-01" in change.content and b"P-03" in change.content
    assert client.get(reverse("admin:orders_picklist_add")).status_code == 403
    assert client.post(reverse("admin:orders_picklist_delete", args=[pick_list.pk]), {"post": "yes"}).status_code == 403
    assert client.post(reverse("admin:orders_picklist_change", args=[pick_list.pk]),
                       {"status": "cancelled"}).status_code == 403
    assert PickList.objects.get(pk=pick_list.pk).status == "open"
