"""The shipping API (issue 5, item 5): pack, attach documents, ship, deliver and cancel through ``shipments/``;
bad input, idempotency, roles and scope.

``ne.operator`` (warehouses NE-BOS and NE-NYC) packs and ships; stock is received on twins (``T-<sku>``), which
hold nothing until a test puts it there.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from governance.selectors import local_date
from inventory.models import ItemWarehouseSummary, StockMove
from inventory.tests.factories import ensure_standard_statuses, item, warehouse
from orders.models import Allocation, SalesOrder, SalesOrderLine, Shipment, ShipmentDocument, ShipmentLine
from orders.services.shipping import shipment_ship
from orders.tests.scope_shipping import confirmed_order, deviate, packed, pick, picked_order, stock_at

D = Decimal
LIST = "api:shipment-list"
SHIPMENT_FIELDS = {"id", "number", "status", "order", "order_id", "customer", "ship_to", "warehouse", "carrier",
                   "tracking_number", "created_by", "created_at", "shipped_by", "shipped_at", "ship_date",
                   "delivered_at", "delivery_note", "lines", "packages", "documents"}
LINE_FIELDS = {"id", "line_no", "sku", "quantity", "base_uom", "location", "lot", "pick_line", "unit_cost", "value",
               "stock_move"}
PACKAGE_FIELDS = {"number", "weight_kg", "length_cm", "width_cm", "height_cm", "tracking_number"}


@pytest.fixture
def twin(demo: Any) -> Any:
    ensure_standard_statuses()
    return item("CLN-0003")


@pytest.fixture
def operator(api_as: Any) -> APIClient:
    return api_as("ne.operator")


def url(action: str, shipment: Any) -> str:
    pk = shipment if isinstance(shipment, int) else (shipment["id"] if isinstance(shipment, dict) else shipment.pk)
    return reverse(f"api:shipment-{action}", args=[pk])


def _body(order: Any, /, **overrides: Any) -> dict[str, Any]:
    return {"order": order.number, "warehouse": "NE-BOS", "carrier": "UPS", "tracking_number": "1Z-100",
            "packages": [{"weight_kg": "4.25", "length_cm": "40", "width_cm": "30", "height_cm": "20"}],
            **overrides}


def _create(client: APIClient, order: Any, /, **overrides: Any) -> Any:
    headers = {key: overrides.pop(key) for key in list(overrides) if key.startswith("HTTP_")}
    return client.post(reverse(LIST), _body(order, **overrides), format="json", **headers)


def _created(client: APIClient, order: Any, /, **overrides: Any) -> dict[str, Any]:
    response = _create(client, order, **overrides)
    assert response.status_code == 201, response.json()
    return response.json()


def _post(client: APIClient, action: str, shipment: Any, body: Any = None, **headers: Any) -> Any:
    return client.post(url(action, shipment), body if body is not None else {}, format="json", **headers)


def _assert_error(response: Any, status_code: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status_code, body
    assert set(body) == {"code", "message", "detail"} and body["code"] == code, body
    return body


def _snapshot() -> tuple[Any, ...]:
    """What a refused request must leave alone: the ledger, shipments, orders, allocations and summaries."""
    return (StockMove.objects.count(), Shipment.objects.count(), ShipmentLine.objects.count(),
            list(Shipment.objects.order_by("id").values_list("id", "status", "carrier_id", "tracking_number")),
            list(ShipmentDocument.objects.order_by("id").values_list("id", "kind", "reference")),
            list(SalesOrder.objects.order_by("id").values_list("id", "status")),
            list(SalesOrderLine.objects.order_by("id").values_list("id", "status", "allocated_quantity",
                                                                   "shipped_quantity")),
            list(Allocation.objects.order_by("id").values_list("id", "status")),
            ItemWarehouseSummary.objects.aggregate(on_hand=Sum("on_hand"), allocated=Sum("allocated")))


# --- the flow -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_operator_packs_ships_and_confirms_delivery_through_the_api(twin, operator):
    stock_at(twin, "NE-BOS", 10, unit_cost="2.5")
    order = confirmed_order(twin, 4)
    pick(order)

    created = _created(operator, order)

    assert set(created) == SHIPMENT_FIELDS | {"documents_missing"}
    assert created["number"] == f"SH-{created['id']:06d}" and created["status"] == "packed"
    assert (created["order"], created["order_id"], created["customer"], created["ship_to"], created["warehouse"]) == (
        order.number, order.pk, "C-NE-001", "MAIN", "NE-BOS")
    assert (created["carrier"], created["tracking_number"], created["created_by"]) == ("UPS", "1Z-100", "ne.operator")
    (line,) = created["lines"]
    assert set(line) == LINE_FIELDS
    assert (line["line_no"], line["sku"], line["quantity"], line["base_uom"], line["location"], line["lot"]) == (
        1, "T-CLN-0003", "4.0000", "EA", "P-01", None)
    assert line["unit_cost"] is None and line["value"] is None and line["stock_move"] is None
    (box,) = created["packages"]
    assert set(box) == PACKAGE_FIELDS
    assert (box["number"], box["weight_kg"], box["length_cm"]) == (1, "4.250", "40.0")
    assert [(d["kind"], d["reference"]) for d in created["documents"]] == [("packing_slip", created["number"])]
    assert created["documents_missing"] == []
    assert operator.get(reverse("api:sales-order-detail", args=[order.pk])).json()["status"] == "packed"

    shipped = _post(operator, "ship", created, {"tracking_number": "1Z-101"})

    assert shipped.status_code == 200, shipped.json()
    body = shipped.json()
    assert (body["status"], body["tracking_number"], body["shipped_by"]) == ("shipped", "1Z-101", "ne.operator")
    assert body["ship_date"] == local_date(dt.datetime.fromisoformat(body["shipped_at"]),
                                           warehouse("NE-BOS")).isoformat()
    (line,) = body["lines"]
    assert (line["unit_cost"], line["value"]) == ("2.500000", "10.0000")
    moves = operator.get(reverse("api:stock-move-list"), {"sku": "T-CLN-0003", "warehouse": "NE-BOS"}).json()
    out = [m for m in moves["results"] if m["reference"] == created["number"]]
    assert [(m["quantity"], m["unit_cost"]) for m in out] == [("-4.0000", "2.500000")]
    order_body = operator.get(reverse("api:sales-order-detail", args=[order.pk])).json()
    assert order_body["status"] == "shipped" and order_body["lines"][0]["shipped_quantity"] == "4.0000"

    delivered = _post(operator, "deliver", created, {"note": "Left at dock 3"})

    assert delivered.status_code == 200, delivered.json()
    assert (delivered.json()["status"], delivered.json()["delivery_note"]) == ("delivered", "Left at dock 3")
    assert operator.get(reverse("api:sales-order-detail", args=[order.pk])).json()["status"] == "delivered"
    assert operator.get(url("detail", created)).json() == delivered.json()


@pytest.mark.django_db
def test_the_order_may_be_named_by_id_and_documents_attached_on_packing_or_later(twin, operator, user):
    deviate("documents.required_for_shipment", "NE-BOS", ["packing_slip", "commercial_invoice", "bill_of_lading"],
            user)
    order = picked_order(twin, 2)

    created = _created(operator, order, order=order.pk,
                       documents=[{"kind": "commercial_invoice", "reference": "INV-9"}])

    assert created["documents_missing"] == ["bill_of_lading"]
    refused = _assert_error(_post(operator, "ship", created), 409, "documents_missing")
    assert refused["detail"] == {"number": created["number"], "missing": ["bill_of_lading"]}
    attached = _post(operator, "documents", created, {"kind": "bill_of_lading", "reference": "BOL-1"})
    assert attached.status_code == 200 and attached.json()["documents_missing"] == []
    assert _post(operator, "ship", created).json()["status"] == "shipped"


@pytest.mark.django_db
def test_a_cancelled_shipment_frees_its_lines_to_be_packed_again(twin, operator):
    order = picked_order(twin, 2)
    first = _created(operator, order)

    cancelled = _post(operator, "cancel", first)

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["lines"] == []
    assert operator.get(reverse("api:sales-order-detail", args=[order.pk])).json()["status"] == "picking"
    again = _created(operator, order)
    assert again["number"] != first["number"] and len(again["lines"]) == 1


# --- reading: list, filters, query counts ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_is_newest_first_and_filters_by_warehouse_order_and_status(twin, operator):
    boston = packed(picked_order(twin, 1))
    newark = packed(picked_order(twin, 1, site="NE-NYC", customer="C-NE-002"), "NE-NYC")
    shipment_ship(shipment=newark, actor=None)
    mine = {boston.number, newark.number}

    def numbers(**params: Any) -> list[str]:
        response = operator.get(reverse(LIST), {"page_size": 500, **params})
        assert response.status_code == 200, response.json()
        return [row["number"] for row in response.json()["results"] if row["number"] in mine]

    assert numbers() == [newark.number, boston.number]
    assert numbers(warehouse="NE-NYC") == [newark.number]
    assert numbers(status="packed") == [boston.number] and numbers(status="shipped") == [newark.number]
    assert numbers(order=boston.order.number) == [boston.number] and numbers(order=newark.order_id) == [newark.number]
    row = operator.get(reverse(LIST), {"order": boston.order.number}).json()["results"][0]
    assert set(row) == SHIPMENT_FIELDS
    _assert_error(operator.get(reverse(LIST), {"status": "lost"}), 400, "validation_error")


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_for_1_and_20_shipments(twin, operator):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = operator.get(reverse(LIST), {"page_size": 500, "warehouse": "NE-NYC"})
        assert response.status_code == 200, response.content[:300]
        return len(captured)

    packed(picked_order(twin, 1, 2, site="NE-NYC", customer="C-NE-002"), "NE-NYC")
    operator.get(reverse(LIST))  # the first request of a client warms the user's permission cache
    one = queries()
    for n in range(19):
        shipment = packed(picked_order(twin, 1, 1, site="NE-NYC", customer="C-NE-002"), "NE-NYC")
        if n % 2:
            shipment_ship(shipment=shipment, actor=None)
    assert operator.get(reverse(LIST), {"warehouse": "NE-NYC"}).json()["count"] == 20
    assert queries() == one


@pytest.mark.django_db
def test_the_detail_costs_the_same_queries_for_1_and_30_lines(twin, operator):
    small, large = packed(picked_order(twin, 1)), packed(picked_order(twin, *([1] * 30)))
    operator.get(url("detail", small))
    counts = []
    for shipment in (small, large):
        with CaptureQueriesContext(connection) as captured:
            response = operator.get(url("detail", shipment))
        assert response.status_code == 200 and len(response.json()["lines"]) == shipment.lines.count()
        counts.append(len(captured))
    assert counts[0] == counts[1]


# --- idempotency ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_packing_without_a_second_shipment(twin, operator):
    order = picked_order(twin, 2)
    shipments = Shipment.objects.count()

    first = _create(operator, order, HTTP_IDEMPOTENCY_KEY="pack-1")
    again = _create(operator, order, HTTP_IDEMPOTENCY_KEY="pack-1")

    assert first.status_code == again.status_code == 201, again.json()
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Shipment.objects.count() == shipments + 1
    _assert_error(_create(operator, order, tracking_number="other", HTTP_IDEMPOTENCY_KEY="pack-1"), 409,
                  "idempotency_key_reused")
    assert Shipment.objects.count() == shipments + 1


@pytest.mark.django_db
def test_an_idempotency_key_replays_shipping_and_delivery_without_posting_twice(twin, operator):
    created = _created(operator, picked_order(twin, 2))

    first = _post(operator, "ship", created, HTTP_IDEMPOTENCY_KEY="ship-1")
    again = _post(operator, "ship", created, HTTP_IDEMPOTENCY_KEY="ship-1")

    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert StockMove.objects.filter(reference_type="shipment", reference_id=str(created["id"])).count() == 1
    delivered = _post(operator, "deliver", created, HTTP_IDEMPOTENCY_KEY="deliver-1")
    replayed = _post(operator, "deliver", created, HTTP_IDEMPOTENCY_KEY="deliver-1")
    assert delivered.status_code == replayed.status_code == 200 and replayed.json() == delivered.json()


# --- roles and scope ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_roles_without_fulfillment_work_read_shipments_but_may_not_pack_or_ship_them(twin, api_as):
    order = picked_order(twin, 2)
    shipment = packed(order)
    planner = api_as("planner")
    before = _snapshot()

    assert planner.get(url("detail", shipment)).json()["number"] == shipment.number
    _assert_error(_create(planner, order), 403, "permission_denied")
    for action in ("ship", "deliver", "documents", "cancel"):
        _assert_error(_post(planner, action, shipment), 403, "permission_denied")
    assert _snapshot() == before


@pytest.mark.django_db
def test_an_operator_sees_and_works_only_the_shipments_of_their_warehouses(twin, operator, api_as):
    theirs = packed(picked_order(twin, 2, customer="C-EU-001", site="EU-RTM"), "EU-RTM")
    mine = packed(picked_order(twin, 2))
    before = _snapshot()

    for action, body in (("ship", {}), ("documents", {"kind": "bill_of_lading", "reference": "B"}), ("cancel", {}),
                         ("deliver", {})):
        _assert_error(_post(operator, action, theirs, body), 404, "not_found")
    _assert_error(operator.get(url("detail", theirs)), 404, "not_found")
    _assert_error(api_as("eu.operator").get(url("detail", mine)), 404, "not_found")
    assert _snapshot() == before
    numbers = {row["number"] for row in operator.get(reverse(LIST), {"page_size": 500}).json()["results"]}
    assert mine.number in numbers and theirs.number not in numbers


@pytest.mark.django_db
def test_a_site_packs_an_order_of_another_region_that_it_serves(twin, user):
    """An order of region NE allocated at SE-ATL (cross-region allowed at NE-BOS) is packed by SE-ATL's operator,
    who cannot read NE's orders; a site that does not serve it cannot even name it."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from erp import services as platform

    deviate("fulfillment.cross_region_allowed", "NE-BOS", True, user)
    order = picked_order(twin, 2, site="SE-ATL")
    assert set(Allocation.objects.filter(line__order=order).values_list("warehouse__code", flat=True)) == {"SE-ATL"}
    atlanta = get_user_model().objects.create_user("atl.operator", password="x-unused-x")
    atlanta.groups.add(Group.objects.get(name="Warehouse operator"))
    platform.scope_grant(user=atlanta, actor=None, warehouses=[warehouse("SE-ATL")])
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=atlanta.pk))

    _assert_error(client.get(reverse("api:sales-order-detail", args=[order.pk])), 404, "not_found")
    created = _created(client, order, warehouse="SE-ATL")
    assert created["order"] == order.number and created["warehouse"] == "SE-ATL"
    miami = get_user_model().objects.create_user("mia.operator", password="x-unused-x")
    miami.groups.add(Group.objects.get(name="Warehouse operator"))
    platform.scope_grant(user=miami, actor=None, warehouses=[warehouse("SE-MIA")])
    other = APIClient()
    other.force_authenticate(get_user_model().objects.get(pk=miami.pk))
    refused = _assert_error(_create(other, order, warehouse="SE-MIA"), 400, "validation_error")
    assert set(refused["detail"]) == {"order"}


# --- bad input: 400 or 409, the error shape, nothing written -----------------------------------------------------


def _box(**overrides: Any) -> list[dict[str, Any]]:
    return [{"weight_kg": "1.5", **overrides}]


CREATE_BAD = [
    ("unknown order", {"order": "SO-999999"}, 400, "validation_error"),
    ("order id unknown", {"order": 999999999}, 400, "validation_error"),
    ("order id huge", {"order": "99999999999999999999"}, 400, "validation_error"),
    ("order not text", {"order": {"id": 1}}, 400, "validation_error"),
    ("order missing", {"order": None}, 400, "validation_error"),
    ("unknown warehouse", {"warehouse": "NE-XXX"}, 400, "validation_error"),
    ("warehouse outside the scope", {"warehouse": "EU-RTM"}, 400, "validation_error"),
    ("unknown carrier", {"carrier": "PIGEON"}, 400, "validation_error"),
    ("carrier not text", {"carrier": ["UPS"]}, 400, "validation_error"),
    ("no packages", {"packages": []}, 400, "validation_error"),
    ("packages missing", {"packages": None}, 400, "validation_error"),
    ("packages not a list", {"packages": {"weight_kg": "1"}}, 400, "validation_error"),
    ("zero weight", {"packages": _box(weight_kg="0")}, 400, "validation_error"),
    ("negative weight", {"packages": _box(weight_kg="-2")}, 400, "validation_error"),
    ("one bad weight of two", {"packages": [*_box(), *_box(weight_kg="0")]}, 400, "validation_error"),
    ("weight missing", {"packages": [{"length_cm": "10"}]}, 400, "validation_error"),
    ("weight NaN", {"packages": _box(weight_kg="NaN")}, 400, "validation_error"),
    ("weight Infinity", {"packages": _box(weight_kg="Infinity")}, 400, "validation_error"),
    ("weight huge", {"packages": _box(weight_kg="1e12")}, 400, "validation_error"),
    ("weight below a gram", {"packages": _box(weight_kg="0.0001")}, 400, "validation_error"),
    ("weight not a number", {"packages": _box(weight_kg="heavy")}, 400, "validation_error"),
    ("zero length", {"packages": _box(length_cm="0")}, 400, "validation_error"),
    ("negative height", {"packages": _box(height_cm="-1")}, 400, "validation_error"),
    ("unknown package field", {"packages": _box(colour="brown")}, 400, "validation_error"),
    ("too many packages", {"packages": _box() * 101}, 400, "validation_error"),
    ("tracking number too long", {"tracking_number": "1" * 65}, 400, "validation_error"),
    ("package tracking too long", {"packages": _box(tracking_number="1" * 65)}, 400, "validation_error"),
    ("unknown document kind", {"documents": [{"kind": "passport", "reference": "X"}]}, 400, "validation_error"),
    ("packing slip given", {"documents": [{"kind": "packing_slip", "reference": "X"}]}, 400, "validation_error"),
    ("document without reference", {"documents": [{"kind": "bill_of_lading"}]}, 400, "validation_error"),
    ("blank document reference", {"documents": [{"kind": "bill_of_lading", "reference": ""}]}, 400,
     "validation_error"),
    ("a document kind twice", {"documents": [{"kind": "bill_of_lading", "reference": "A"},
                                             {"kind": "bill_of_lading", "reference": "B"}]}, 400, "validation_error"),
    ("pick lines empty", {"pick_lines": []}, 400, "validation_error"),
    ("pick line not a number", {"pick_lines": ["first"]}, 400, "validation_error"),
    ("pick line zero", {"pick_lines": [0]}, 400, "validation_error"),
    ("unknown field", {"status": "shipped"}, 400, "validation_error"),
    ("NUL in the tracking number", {"tracking_number": "1Z\x00"}, 400, "validation_error"),
    ("a pick line of another order", {"pick_lines": "OTHER"}, 409, "nothing_picked"),
    ("shipping before picking", {"order": "UNPICKED"}, 409, "nothing_picked"),
    ("nothing picked at that warehouse", {"warehouse": "NE-NYC"}, 409, "nothing_picked"),
]


@pytest.fixture
def bad_input_world(twin: Any) -> dict[str, Any]:
    """A picked order to pack, another picked order (its pick line is not ours) and one confirmed but not picked."""
    order = picked_order(twin, 2)
    other = picked_order(twin, 1, customer="C-NE-004")
    stock_at(twin, "NE-BOS", 1)
    unpicked = confirmed_order(twin, 1)
    return {"order": order, "OTHER": [other.lines.get().pick_lines.get().pk], "UNPICKED": unpicked.number}


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "overrides", "status_code", "code"), CREATE_BAD, ids=[c[0] for c in CREATE_BAD])
def test_bad_input_to_pack_is_refused_and_writes_nothing(bad_input_world, operator, case, overrides, status_code,
                                                         code):
    overrides = {key: bad_input_world.get(value, value) if isinstance(value, str) else value
                 for key, value in overrides.items()}
    before = _snapshot()
    _assert_error(_create(operator, bad_input_world["order"], **overrides), status_code, code)
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_is_refused(bad_input_world, operator):
    before = _snapshot()
    for body in ([_body(bad_input_world["order"])], "shipment", 5):
        response = operator.post(reverse(LIST), json.dumps(body), content_type="application/json")
        _assert_error(response, 400, "validation_error")
    _assert_error(operator.post(reverse(LIST), "{not json", content_type="application/json"), 400,
                  "malformed_request")
    assert _snapshot() == before


ACTION_BAD = [
    ("ship", "unknown carrier", {"carrier": "PIGEON"}, 400, "validation_error"),
    ("ship", "carrier not text", {"carrier": 5}, 400, "validation_error"),
    ("ship", "no carrier on the shipment or given", "NO-CARRIER", 400, "carrier_required"),
    ("ship", "carrier removed", {"carrier": None, "_shipment": "NO-CARRIER"}, 400, "carrier_required"),
    ("ship", "tracking number too long", {"tracking_number": "9" * 65}, 400, "validation_error"),
    ("ship", "unknown field", {"shipped_at": "2026-01-01T00:00:00Z"}, 400, "validation_error"),
    ("ship", "a list body", [{}], 400, "validation_error"),
    ("ship", "documents missing", "NEEDS-DOCUMENTS", 409, "documents_missing"),
    ("ship", "shipping twice", "SHIPPED", 409, "invalid_transition"),
    ("ship", "a cancelled shipment", "CANCELLED", 409, "invalid_transition"),
    ("deliver", "a packed shipment", {}, 409, "invalid_transition"),
    ("deliver", "in the future", {"delivered_at": "2999-01-01T00:00:00Z", "_shipment": "SHIPPED"}, 400,
     "validation_error"),
    ("deliver", "before it shipped", {"delivered_at": "2001-01-01T00:00:00Z", "_shipment": "SHIPPED"}, 400,
     "validation_error"),
    ("deliver", "not a time", {"delivered_at": "tomorrow", "_shipment": "SHIPPED"}, 400, "validation_error"),
    ("deliver", "note too long", {"note": "n" * 501, "_shipment": "SHIPPED"}, 400, "validation_error"),
    ("deliver", "unknown field", {"signed_by": "x", "_shipment": "SHIPPED"}, 400, "validation_error"),
    ("documents", "packing slip", {"kind": "packing_slip", "reference": "X"}, 400, "validation_error"),
    ("documents", "unknown kind", {"kind": "passport", "reference": "X"}, 400, "validation_error"),
    ("documents", "no reference", {"kind": "bill_of_lading"}, 400, "validation_error"),
    ("documents", "reference too long", {"kind": "bill_of_lading", "reference": "R" * 201}, 400,
     "validation_error"),
    ("documents", "to a shipped shipment", {"kind": "bill_of_lading", "reference": "B", "_shipment": "SHIPPED"},
     409, "invalid_transition"),
    ("cancel", "unknown field", {"reason": "x"}, 400, "validation_error"),
    ("cancel", "a shipped shipment", "SHIPPED", 409, "invalid_transition"),
    ("cancel", "twice", "CANCELLED", 409, "invalid_transition"),
]


@pytest.fixture
def shipments_world(twin: Any, user: Any) -> dict[str, Shipment]:
    """Shipments in every state at NE-BOS (UPS), one with no carrier, and one at NE-NYC, where a bill of lading
    is required."""
    from orders.services.shipping import shipment_cancel

    deviate("documents.required_for_shipment", "NE-NYC", ["packing_slip", "bill_of_lading"], user)
    shipped = packed(picked_order(twin, 1))
    shipment_ship(shipment=shipped, actor=None)
    cancelled = packed(picked_order(twin, 1))
    shipment_cancel(shipment=cancelled, actor=None)
    return {"PACKED": packed(picked_order(twin, 1)), "SHIPPED": shipped, "CANCELLED": cancelled,
            "NO-CARRIER": packed(picked_order(twin, 1), carrier=None),
            "NEEDS-DOCUMENTS": packed(picked_order(twin, 1, site="NE-NYC", customer="C-NE-002"), "NE-NYC")}


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "case", "body", "status_code", "code"), ACTION_BAD,
                         ids=[f"{c[0]}: {c[1]}" for c in ACTION_BAD])
def test_bad_input_to_a_shipment_action_is_refused_and_changes_nothing(shipments_world, operator, action, case, body,
                                                                       status_code, code):
    if isinstance(body, str):
        shipment, body = shipments_world[body], {}
    elif isinstance(body, dict):
        body = dict(body)
        shipment = shipments_world[body.pop("_shipment", "PACKED")]
    else:
        shipment = shipments_world["PACKED"]
    before = _snapshot()
    response = operator.post(url(action, shipment), json.dumps(body), content_type="application/json")
    _assert_error(response, status_code, code)
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_documents_missing_refusal_names_the_missing_kinds(shipments_world, operator):
    body = _assert_error(_post(operator, "ship", shipments_world["NEEDS-DOCUMENTS"]), 409, "documents_missing")
    assert body["detail"]["missing"] == ["bill_of_lading"] and "bill_of_lading" in body["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["PACKED", "SHIPPED"])
def test_cancelling_an_order_with_goods_packed_or_shipped_is_409_and_changes_nothing(shipments_world, api_as, state):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from erp import services as platform
    from warehouses.models import Region

    desk = get_user_model().objects.filter(username="ne.service").first()  # the demo's customer service desk
    if desk is None:
        desk = get_user_model().objects.create_user("ne.service", password="x-unused-x")
        desk.groups.add(Group.objects.get(name="Customer service"))
        platform.scope_grant(user=desk, actor=None, regions=[Region.objects.get(code="NE")])
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=desk.pk))
    order = shipments_world[state].order
    before = _snapshot()

    response = client.post(reverse("api:sales-order-cancel", args=[order.pk]), {}, format="json")

    _assert_error(response, 409, "invalid_transition")
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_shipment_that_does_not_exist_is_404_for_every_action(twin, operator):
    before = _snapshot()
    for action in ("ship", "deliver", "documents", "cancel"):
        _assert_error(_post(operator, action, 999999999), 404, "not_found")
    _assert_error(operator.get(url("detail", 999999999)), 404, "not_found")
    assert _snapshot() == before
