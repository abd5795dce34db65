"""The sales order API (issue 5): take, confirm and cancel through ``sales-orders/``, scope, bad input, the admin.

Customer service users: ``ne.service`` (the demo's) works region NE, ``eu.service`` (made per test) region EU.
Stock is received on twins (``T-<sku>``), which hold nothing until a test puts it there.
"""

from __future__ import annotations

import datetime as dt
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
from django.utils import timezone
from rest_framework.test import APIClient

from erp import services as platform
from governance.models import OperationalException
from governance.selectors import policy_value
from inventory import services as stock
from inventory.models import ItemWarehouseSummary, StockMove
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders import rules
from orders.api.sales import SalesOrderDetailOutput, sales_order_answer
from orders.models import Allocation, Customer, SalesOrder, SalesOrderLine, ShipTo
from orders.services import ship_to_make_default
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from warehouses.models import CarrierLane, Region

D = Decimal
LIST = "api:sales-order-list"
ORDER_FIELDS = {"id", "number", "status", "customer", "ship_to", "region", "external_ref", "requested_date",
                "created_by", "created_at", "confirmed_at", "cancelled_at", "cancel_reason", "lines"}
LINE_FIELDS = {"line_no", "sku", "quantity", "base_uom", "uom_quantity", "uom", "requested_date", "status", "warehouse",
               "allocated_quantity", "backordered_quantity", "shipped_quantity", "ship_date", "promised_date"}
ALLOCATION_FIELDS = {"warehouse", "lot", "quantity", "status", "ship_date", "promised_date"}


def _service_user(username: str, region: str) -> Any:
    """The demo's customer service user of that region (``ne.service``), or one made for the test."""
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
    """A stock-free twin of CLN-0003 with 10 EA at NE-NYC and at SE-ATL and none at NE-BOS (the demo's case)."""
    ensure_standard_statuses()
    made = item("CLN-0003")
    for site in ("NE-NYC", "SE-ATL"):
        _receive(made, site, 10)
    return made


@pytest.fixture
def service(demo: Any) -> APIClient:
    return _client(_service_user("ne.service", "NE"))


@pytest.fixture
def eu_service(demo: Any) -> APIClient:
    return _client(_service_user("eu.service", "EU"))


def _receive(twin: Any, site: str, quantity: int) -> None:
    stock.stock_receive(warehouse=warehouse(site), location=location(site, "A-01-01"), item=twin,
                        quantity=D(quantity), uom="EA", unit_cost=D(2), reference="test", actor=None)


def _line(quantity: Any = "4", **overrides: Any) -> dict[str, Any]:
    return {"sku": "T-CLN-0003", "quantity": quantity, "uom": "EA", **overrides}


def _body(*lines: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {"customer": "C-NE-001", "ship_to": "MAIN", "requested_date": None, "external_ref": "",
            "lines": list(lines) or [_line()], **overrides}


def _create(client: APIClient, *lines: dict[str, Any], **overrides: Any) -> Any:
    headers = {key: overrides.pop(key) for key in list(overrides) if key.startswith("HTTP_")}
    return client.post(reverse(LIST), _body(*lines, **overrides), format="json", **headers)


def _created(client: APIClient, *lines: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    response = _create(client, *lines, **overrides)
    assert response.status_code == 201, response.json()
    return response.json()


def url(action: str, order: Any) -> str:
    pk = order if isinstance(order, int) else (order["id"] if isinstance(order, dict) else order.pk)
    return reverse(f"api:sales-order-{action}", args=[pk])


def _post(client: APIClient, action: str, order: Any, body: Any = None, **headers: Any) -> Any:
    return client.post(url(action, order), body if body is not None else {}, format="json", **headers)


def _assert_error(response: Any, status_code: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status_code, body
    assert set(body) == {"code", "message", "detail"} and body["code"] == code, body
    return body


def _allocated_via_api(client: APIClient, sku: str, site: str) -> str:
    rows = client.get(reverse("api:availability-list"), {"sku": sku, "warehouse": site}).json()["results"]
    (row,) = rows
    return row["allocated"]


def _expected_promise(site: str, customer_region: str, now: dt.datetime) -> dt.date:
    cutoff_hours, cutoff_minutes = str(policy_value("fulfillment.shipping_cutoff", warehouse=warehouse(site))
                                       .value).split(":")
    transit = min(CarrierLane.objects.filter(origin_region=warehouse(site).region,
                                             destination_region__code=customer_region)
                  .values_list("transit_days", flat=True))
    return rules.promise(now=now, calendar=rules.WarehouseCalendar(timezone=warehouse(site).timezone),
                         cutoff=dt.time(int(cutoff_hours), int(cutoff_minutes)), transit_days=transit).delivery_date


# --- the whitepaper scenario --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_order_for_a_sku_missing_at_home_is_allocated_from_the_same_region_with_a_promise(twin, service):
    created = _created(service, _line("4"), external_ref="PO-1001")

    assert set(created) == ORDER_FIELDS
    assert created["number"] == f"SO-{created['id']:06d}" and created["status"] == "draft"
    assert (created["customer"], created["ship_to"], created["region"]) == ("C-NE-001", "MAIN", "NE")
    assert created["external_ref"] == "PO-1001" and created["created_by"] == "ne.service"
    (line,) = created["lines"]
    assert set(line) == LINE_FIELDS | {"allocations"}
    assert (line["line_no"], line["sku"], line["quantity"], line["uom"], line["status"]) == (
        1, "T-CLN-0003", "4.0000", "EA", "draft")
    assert line["warehouse"] is None and line["promised_date"] is None and line["allocations"] == []

    before = timezone.now()
    response = _post(service, "confirm", created)
    after = timezone.now()

    assert response.status_code == 200, response.json()
    confirmed = response.json()
    assert confirmed["status"] == "allocated" and confirmed["confirmed_at"] is not None
    (line,) = confirmed["lines"]
    assert (line["warehouse"], line["allocated_quantity"], line["backordered_quantity"], line["shipped_quantity"],
            line["status"]) == ("NE-NYC", "4.0000", "0.0000", "0.0000", "allocated")
    # NE-BOS holds none; the rest of region NE comes next, so NE-NYC ships, promised by its cutoff and lane.
    promises = {_expected_promise("NE-NYC", "NE", moment) for moment in (before, after)}
    assert dt.date.fromisoformat(line["promised_date"]) in promises
    (held,) = line["allocations"]
    assert set(held) == ALLOCATION_FIELDS
    assert (held["warehouse"], held["lot"], held["quantity"], held["status"]) == ("NE-NYC", None, "4.0000", "open")
    assert held["promised_date"] == line["promised_date"]
    assert _allocated_via_api(service, "T-CLN-0003", "NE-NYC") == "4.0000"
    assert _allocated_via_api(service, "T-CLN-0003", "NE-BOS") == "0.0000"
    assert service.get(url("detail", created)).json() == confirmed


@pytest.mark.django_db
def test_when_ne_nyc_has_run_out_the_next_order_is_backordered_with_a_shortage_exception(twin, service):
    first = _post(service, "confirm", _created(service, _line("10"))).json()
    assert first["status"] == "allocated" and first["lines"][0]["warehouse"] == "NE-NYC"

    second = _created(service, _line("2"))
    response = _post(service, "confirm", second)

    assert response.status_code == 200, response.json()
    body = response.json()
    (line,) = body["lines"]
    assert body["status"] == "backordered"
    # Cross-region allocation is off by standard: SE-ATL's 10 stay where they are.
    assert (line["allocated_quantity"], line["backordered_quantity"], line["allocations"]) == (
        "0.0000", "2.0000", [])
    # Nothing allocated, yet the line is due when NE-BOS would have delivered it: the backorder counts
    # against fill rate from that date.
    assert line["warehouse"] == "NE-BOS" and line["promised_date"] == first["lines"][0]["promised_date"]
    assert _allocated_via_api(_client(get_user_model().objects.get(username="admin")), "T-CLN-0003",
                              "SE-ATL") == "0.0000"
    shortages = service.get(reverse("api:exception-list"), {"type": "shortage", "page_size": 500}).json()["results"]
    ours = [row for row in shortages if row["business_key"] == "shortage:NE-BOS:T-CLN-0003"]
    assert len(ours) == 1, shortages
    assert (ours[0]["warehouse"], ours[0]["reference"], ours[0]["owner_role"]) == ("NE-BOS", second["number"],
                                                                                   "planner")
    assert ours[0]["detail"]["backordered"] == "2.0000" and ours[0]["detail"]["customer"] == "C-NE-001"


@pytest.mark.django_db
def test_ordering_in_cases_holds_base_units_and_says_so(twin, service):
    _receive(twin, "NE-BOS", 12)

    body = _post(service, "confirm", _created(service, _line("1", uom="CS"))).json()

    (line,) = body["lines"]
    assert (line["quantity"], line["base_uom"], line["uom_quantity"], line["uom"]) == ("6.0000", "EA", "1.0000", "CS")
    assert (line["warehouse"], line["allocated_quantity"]) == ("NE-BOS", "6.0000")


@pytest.mark.django_db
def test_a_line_without_a_unit_is_taken_in_the_items_base_unit(twin, service):
    body = _created(service, {"sku": "T-CLN-0003", "quantity": "3"}, _line("1", uom="CS"))

    assert [(line["uom"], line["uom_quantity"], line["quantity"]) for line in body["lines"]] == [
        (twin.base_uom.code, "3.0000", "3.0000"), ("CS", "1.0000", "6.0000")]
    first = SalesOrderLine.objects.get(order_id=body["id"], line_no=1)
    assert first.uom_code == twin.base_uom.code == "EA"


@pytest.mark.django_db
def test_an_order_without_a_ship_to_goes_to_the_customers_default_address(twin, service):
    customer = Customer.objects.get(code="C-NE-001")
    dc2 = customer.ship_tos.get(code="DC2")
    ship_to_make_default(ship_to=dc2, actor=None)
    body = _body()
    del body["ship_to"]

    response = service.post(reverse(LIST), body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["ship_to"] == "DC2"
    assert SalesOrder.objects.get(pk=response.json()["id"]).ship_to_id == dc2.pk


@pytest.mark.django_db
def test_an_order_without_a_ship_to_for_a_customer_with_no_default_is_refused_on_ship_to(twin, service):
    ShipTo.objects.filter(customer__code="C-NE-001").update(default=False)
    body = _body()
    del body["ship_to"]
    before = _snapshot()

    error = _assert_error(service.post(reverse(LIST), body, format="json"), 400, "validation_error")

    assert error["detail"] == {"ship_to": [
        "C-NE-001 has no default ship-to address; name one of its addresses in ship_to."]}
    assert _snapshot() == before


@pytest.mark.django_db
def test_the_service_takes_the_default_address_and_base_unit_when_none_are_given(twin):
    customer = Customer.objects.get(code="C-NE-001")

    order = sales_order_create(customer=customer, actor=None, lines=[OrderLineSpec(item=twin, quantity=D(2))])

    assert order.ship_to == customer.ship_tos.get(code="MAIN")
    assert list(order.lines.values_list("uom_code", "quantity")) == [("EA", D(2))]


@pytest.mark.django_db
def test_a_line_requested_later_is_promised_for_that_date(twin, service):
    wanted = (timezone.localdate() + dt.timedelta(days=40)).isoformat()

    body = _post(service, "confirm", _created(service, _line("1", requested_date=wanted))).json()

    assert body["lines"][0]["requested_date"] == wanted and body["lines"][0]["promised_date"] == wanted


# --- confirm and cancel ----------------------------------------------------------------------------------


def _snapshot() -> tuple[Any, ...]:
    """What a refused request must leave alone: the ledger, orders, lines, allocations and what the summaries hold."""
    return (StockMove.objects.count(), SalesOrder.objects.count(), SalesOrderLine.objects.count(),
            list(SalesOrder.objects.order_by("id").values_list("id", "status")),
            list(SalesOrderLine.objects.order_by("id").values_list("id", "status", "allocated_quantity")),
            list(Allocation.objects.order_by("id").values_list("id", "status", "quantity")),
            ItemWarehouseSummary.objects.aggregate(total=Sum("allocated"))["total"],
            OperationalException.objects.aggregate(total=Sum("raised_count"))["total"])


@pytest.mark.django_db
def test_confirming_twice_is_409_invalid_transition_and_changes_nothing(twin, service):
    order = _created(service)
    assert _post(service, "confirm", order).json()["status"] == "allocated"
    before = _snapshot()

    body = _assert_error(_post(service, "confirm", order), 409, "invalid_transition")

    assert body["detail"] == {"number": order["number"], "status": "allocated"}
    assert _snapshot() == before


@pytest.mark.django_db
def test_cancelling_releases_every_allocation_and_a_cancelled_order_stays_cancelled(twin, service):
    order = _post(service, "confirm", _created(service, _line("6"))).json()
    assert _allocated_via_api(service, "T-CLN-0003", "NE-NYC") == "6.0000"

    response = _post(service, "cancel", order, {"reason": "Customer changed their mind"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "cancelled" and body["cancelled_at"] is not None
    assert body["cancel_reason"] == "Customer changed their mind"  # stored, not only validated
    assert SalesOrder.objects.get(pk=order["id"]).cancel_reason == "Customer changed their mind"
    for read in (service.get(reverse("api:sales-order-detail", args=[order["id"]])),
                 service.get(reverse(LIST), {"status": "cancelled"})):
        assert read.status_code == 200
        assert "Customer changed their mind" in json.dumps(read.json())
    (line,) = body["lines"]
    assert (line["status"], line["allocated_quantity"], line["backordered_quantity"]) == (
        "cancelled", "0.0000", "0.0000")
    assert [(a["warehouse"], a["quantity"], a["status"]) for a in line["allocations"]] == [
        ("NE-NYC", "6.0000", "released")]
    assert _allocated_via_api(service, "T-CLN-0003", "NE-NYC") == "0.0000"
    before = _snapshot()
    for action in ("cancel", "confirm"):
        _assert_error(_post(service, action, order), 409, "invalid_transition")
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_draft_can_be_cancelled_without_a_body(twin, service):
    order = _created(service)

    response = service.post(url("cancel", order))

    assert response.status_code == 200 and response.json()["status"] == "cancelled", response.json()
    assert response.json()["cancel_reason"] == ""


# --- idempotency and external references ---------------------------------------------------------------------


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_order_without_taking_a_second_one(twin, service):
    orders = SalesOrder.objects.count()

    first = _create(service, HTTP_IDEMPOTENCY_KEY="so-create-1")
    again = _create(service, HTTP_IDEMPOTENCY_KEY="so-create-1")

    assert first.status_code == again.status_code == 201, again.json()
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert SalesOrder.objects.count() == orders + 1
    other = _create(service, _line("5"), HTTP_IDEMPOTENCY_KEY="so-create-1")
    _assert_error(other, 409, "idempotency_key_reused")
    assert SalesOrder.objects.count() == orders + 1


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_confirmation_and_the_cancellation(twin, service):
    order = _created(service)

    first = _post(service, "confirm", order, HTTP_IDEMPOTENCY_KEY="so-confirm-1")
    again = _post(service, "confirm", order, HTTP_IDEMPOTENCY_KEY="so-confirm-1")

    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Allocation.objects.filter(line__order_id=order["id"]).count() == 1
    assert _allocated_via_api(service, "T-CLN-0003", "NE-NYC") == "4.0000"
    cancelled = _post(service, "cancel", order, HTTP_IDEMPOTENCY_KEY="so-cancel-1")
    replayed = _post(service, "cancel", order, HTTP_IDEMPOTENCY_KEY="so-cancel-1")
    assert cancelled.status_code == replayed.status_code == 200 and replayed.json() == cancelled.json()
    assert replayed.json()["status"] == "cancelled"


@pytest.mark.django_db
def test_a_duplicate_external_reference_of_the_customer_is_409_and_takes_nothing(twin, service):
    taken = _created(service, external_ref="PO-77")
    before = _snapshot()

    body = _assert_error(_create(service, external_ref="PO-77"), 409, "duplicate_external_ref")

    assert body["detail"] == {"external_ref": "PO-77", "order": taken["number"]}
    assert _snapshot() == before
    # The reference is the customer's own: another customer may use it.
    assert _create(service, customer="C-NE-002", external_ref="PO-77").status_code == 201


# --- reading: list, filters, detail -----------------------------------------------------------------------------


def _take(customer: str = "C-NE-001", quantity: str = "1", sku: str = "T-CLN-0003") -> SalesOrder:
    buyer = Customer.objects.get(code=customer)
    return sales_order_create(customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
                              lines=[OrderLineSpec(item=item(sku.removeprefix("T-")), quantity=D(quantity),
                                                   uom="EA")])


@pytest.mark.django_db
def test_the_list_is_newest_first_and_filters_by_status_customer_warehouse_and_dates(twin, service):
    allocated = sales_order_confirm(order=_take(), actor=None)
    draft = _take(customer="C-NE-002")
    today = timezone.now().date().isoformat()
    mine = {allocated.number, draft.number}

    def numbers(**params: str) -> list[str]:
        response = service.get(reverse(LIST), {"page_size": 500, **params})
        assert response.status_code == 200, response.json()
        return [row["number"] for row in response.json()["results"] if row["number"] in mine]

    assert numbers() == [draft.number, allocated.number]
    row = service.get(reverse(LIST), {"customer": "C-NE-002"}).json()["results"][0]
    assert set(row) == ORDER_FIELDS and set(row["lines"][0]) == LINE_FIELDS
    assert numbers(status="allocated") == [allocated.number]
    assert numbers(status="draft") == [draft.number]
    assert numbers(customer="C-NE-002") == [draft.number]
    assert numbers(warehouse="NE-NYC") == [allocated.number]
    assert numbers(warehouse="NE-BOS") == []
    assert numbers(created_from=today, created_to=today) == [draft.number, allocated.number]
    tomorrow = (timezone.now().date() + dt.timedelta(days=1)).isoformat()
    assert numbers(created_from=tomorrow) == [] and numbers(created_to="2000-01-01") == []
    for params in ({"status": "shipping"}, {"created_from": "yesterday"}, {"created_to": "2026-13-01"}):
        assert "detail" in _assert_error(service.get(reverse(LIST), params), 400, "validation_error")


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_for_1_and_20_orders(twin, service):
    def listed() -> Any:
        return service.get(reverse(LIST), {"page_size": 500, "customer": "C-NE-003"})

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = listed()
        assert response.status_code == 200, response.content[:300]
        return len(captured)

    sales_order_confirm(order=_take(customer="C-NE-003"), actor=None)
    listed()  # the first request of a client warms the user's permission cache
    one = queries()
    for n in range(19):
        order = _take(customer="C-NE-003")
        if n % 2:
            sales_order_confirm(order=order, actor=None)
    assert listed().json()["count"] == 20
    assert queries() == one


@pytest.mark.django_db
def test_the_detail_costs_the_same_queries_for_1_and_30_lines(twin, service):
    buyer = Customer.objects.get(code="C-NE-001")
    _receive(twin, "NE-BOS", 100)

    def order_of(lines: int) -> SalesOrder:
        return sales_order_confirm(order=sales_order_create(
            customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
            lines=[OrderLineSpec(item=twin, quantity=D(1), uom="EA") for _ in range(lines)]), actor=None)

    small, large = order_of(1), order_of(30)
    service.get(url("detail", small))

    counts = []
    for order in (small, large):
        with CaptureQueriesContext(connection) as captured:
            response = service.get(url("detail", order))
        assert response.status_code == 200 and response.json()["status"] == "allocated"
        counts.append(len(captured))
    assert counts[0] == counts[1]


# --- scope and roles ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_customer_service_sees_and_works_only_the_orders_of_its_region(twin, service, eu_service):
    _receive(twin, "EU-RTM", 10)
    theirs = _created(eu_service, _line("3"), customer="C-EU-001")
    mine = _created(service)

    for action, body in (("confirm", {}), ("cancel", {"reason": "not mine"})):
        _assert_error(_post(service, action, theirs, body), 404, "not_found")
    _assert_error(service.get(url("detail", theirs)), 404, "not_found")
    _assert_error(eu_service.get(url("detail", mine)), 404, "not_found")
    assert SalesOrder.objects.get(pk=theirs["id"]).status == "draft"
    assert Allocation.objects.filter(line__order_id=theirs["id"]).count() == 0
    ne_numbers = {row["number"] for row in service.get(reverse(LIST), {"page_size": 500}).json()["results"]}
    eu_numbers = {row["number"] for row in eu_service.get(reverse(LIST), {"page_size": 500}).json()["results"]}
    assert mine["number"] in ne_numbers and theirs["number"] not in ne_numbers
    assert theirs["number"] in eu_numbers and mine["number"] not in eu_numbers
    assert service.get(reverse(LIST), {"customer": "C-EU-001"}).json()["count"] == 0
    # In its own region, the EU desk confirms from Rotterdam.
    confirmed = _post(eu_service, "confirm", theirs).json()
    assert confirmed["status"] == "allocated" and confirmed["lines"][0]["warehouse"] == "EU-RTM"


@pytest.mark.django_db
def test_a_customer_outside_the_scope_is_refused_like_one_that_does_not_exist(twin, service):
    before = _snapshot()
    outside = _assert_error(_create(service, customer="C-EU-001"), 400, "validation_error")
    missing = _assert_error(_create(service, customer="C-XX-999"), 400, "validation_error")

    assert set(outside["detail"]) == set(missing["detail"]) == {"customer"}
    assert outside["detail"]["customer"][0].replace("C-EU-001", "?") == missing["detail"]["customer"][0].replace(
        "C-XX-999", "?")
    assert _snapshot() == before


@pytest.mark.django_db
def test_operators_read_the_orders_of_their_region_but_may_not_take_or_work_them(twin, service, api_as):
    order = _created(service)
    operator = api_as("ne.operator")
    before = _snapshot()

    assert operator.get(url("detail", order)).json()["number"] == order["number"]
    _assert_error(_create(operator), 403, "permission_denied")
    for action in ("confirm", "cancel"):
        _assert_error(_post(operator, action, order), 403, "permission_denied")
    _assert_error(api_as("eu.operator").get(url("detail", order)), 404, "not_found")
    assert _snapshot() == before


@pytest.mark.django_db
def test_the_integrator_takes_and_confirms_orders_anywhere(twin, api_as):
    integrator = api_as("integrator")

    created = _created(integrator, customer="C-SE-001", external_ref="EDI-1")
    confirmed = _post(integrator, "confirm", created).json()

    assert confirmed["status"] == "allocated" and confirmed["lines"][0]["warehouse"] == "SE-ATL"
    assert created["created_by"] == "integrator"
    _assert_error(_create(api_as("planner"), customer="C-SE-001"), 403, "permission_denied")


# --- bad input: 400 or 409, the error shape, nothing written ---------------------------------------------------


@pytest.fixture
def bad_input_world(twin: Any) -> dict[str, Any]:
    """A ship-to only C-NE-002 has, and one order already taken as PO-1 (a confirmed one)."""
    other = Customer.objects.get(code="C-NE-002")
    from orders.services import customer_update

    ship_tos = [{"code": s.code, "name": s.name, "address_line1": s.address_line1, "city": s.city,
                 "postal_code": s.postal_code, "country": s.country, "region": s.region}
                for s in other.ship_tos.all()]
    customer_update(customer=other, actor=None, ship_tos=[*ship_tos, {**ship_tos[0], "code": "ONLY-002"}])
    inactive = Customer.objects.get(code="C-NE-004")
    customer_update(customer=inactive, actor=None, active=False)
    buyer = Customer.objects.get(code="C-NE-001")
    sales_order_confirm(order=sales_order_create(customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
                                                 external_ref="PO-1", lines=[OrderLineSpec(item=twin, quantity=D(1),
                                                                                           uom="EA")]), actor=None)
    return {"twin": twin}


CREATE_BAD = [
    ("unknown customer", {"customer": "C-XX-999"}, 400, "validation_error"),
    ("customer outside the scope", {"customer": "C-EU-001"}, 400, "validation_error"),
    ("inactive customer", {"customer": "C-NE-004"}, 400, "validation_error"),
    ("customer missing", {"customer": None}, 400, "validation_error"),
    ("unknown ship-to", {"ship_to": "NOPE"}, 400, "unknown_ship_to"),
    ("another customer's ship-to", {"ship_to": "ONLY-002"}, 400, "unknown_ship_to"),
    ("ship-to blank", {"ship_to": ""}, 400, "validation_error"),
    ("ship-to null", {"ship_to": None}, 400, "validation_error"),
    ("another customer's ship-to code", {"customer": "C-NE-003", "ship_to": "ONLY-002"}, 400, "unknown_ship_to"),
    ("unknown sku", {"lines": [_line(sku="NO-SUCH-SKU")]}, 400, "validation_error"),
    ("one unknown sku of two", {"lines": [_line(), _line(sku="NO-SUCH-SKU")]}, 400, "validation_error"),
    ("unknown unit", {"lines": [_line(uom="PALLET9")]}, 400, "unknown_uom"),
    ("a unit the item lacks", {"lines": [_line(uom="KG")]}, 400, "unknown_uom"),
    ("unit blank", {"lines": [_line(uom="")]}, 400, "validation_error"),  # left out is the base unit
    ("unit null", {"lines": [_line(uom=None)]}, 400, "validation_error"),
    ("zero", {"lines": [_line("0")]}, 400, "validation_error"),
    ("negative", {"lines": [_line("-1")]}, 400, "validation_error"),
    ("NaN", {"lines": [_line("NaN")]}, 400, "validation_error"),
    ("Infinity", {"lines": [_line("Infinity")]}, 400, "validation_error"),
    ("huge", {"lines": [_line("1e20")]}, 400, "validation_error"),
    ("huge number", {"lines": [_line(1e20)]}, 400, "validation_error"),
    ("huge once converted", {"lines": [_line("99999999999999", uom="PL")]}, 400, "invalid_quantity"),
    ("non-numeric", {"lines": [_line("ten")]}, 400, "validation_error"),
    ("blank quantity", {"lines": [_line("")]}, 400, "validation_error"),
    ("null quantity", {"lines": [_line(None)]}, 400, "validation_error"),
    ("too many decimals", {"lines": [_line("1.00001")]}, 400, "validation_error"),
    ("empty lines", {"lines": []}, 400, "validation_error"),
    ("no lines", {"lines": None}, 400, "validation_error"),
    ("lines not a list", {"lines": _line()}, 400, "validation_error"),
    ("a line not an object", {"lines": ["T-CLN-0003"]}, 400, "validation_error"),
    ("too many lines", {"lines": [_line("1")] * 501}, 400, "validation_error"),
    ("unknown field", {"status": "allocated"}, 400, "validation_error"),
    ("unknown line field", {"lines": [{**_line(), "warehouse": "NE-BOS"}]}, 400, "validation_error"),
    ("bad requested date", {"requested_date": "next week"}, 400, "validation_error"),
    ("bad line requested date", {"lines": [_line(requested_date="2026-02-30")]}, 400, "validation_error"),
    ("external reference too long", {"external_ref": "X" * 65}, 400, "validation_error"),
    ("NUL in a code", {"lines": [_line(sku="T-CLN\x00")]}, 400, "validation_error"),
    ("duplicate external reference", {"external_ref": "PO-1"}, 409, "duplicate_external_ref"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "overrides", "status_code", "code"), CREATE_BAD, ids=[c[0] for c in CREATE_BAD])
def test_bad_input_to_take_an_order_is_refused_and_writes_nothing(bad_input_world, service, case, overrides,
                                                                  status_code, code):
    before = _snapshot()
    _assert_error(_create(service, **overrides), status_code, code)
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_is_refused(bad_input_world, service):
    before = _snapshot()
    for body in ([_body()], "order", 5):
        response = service.post(reverse(LIST), json.dumps(body), content_type="application/json")
        _assert_error(response, 400, "validation_error")
    _assert_error(service.post(reverse(LIST), "{not json", content_type="application/json"), 400,
                  "malformed_request")
    assert _snapshot() == before


ACTION_BAD = [
    ("confirm", "unknown field", {"now": "2026-01-01T00:00:00Z"}, 400, "validation_error"),
    ("confirm", "a list body", [{}], 400, "validation_error"),
    ("cancel", "unknown field", {"reason": "x", "release": False}, 400, "validation_error"),
    ("cancel", "reason too long", {"reason": "x" * 501}, 400, "validation_error"),
    ("cancel", "reason not text", {"reason": {"why": "x"}}, 400, "validation_error"),
    ("cancel", "a list body", ["x"], 400, "validation_error"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "case", "body", "status_code", "code"), ACTION_BAD,
                         ids=[f"{c[0]}: {c[1]}" for c in ACTION_BAD])
def test_bad_input_to_confirm_or_cancel_is_refused_and_changes_nothing(bad_input_world, service, action, case, body,
                                                                       status_code, code):
    order = _created(service)
    before = _snapshot()
    response = service.post(url(action, order), json.dumps(body), content_type="application/json")
    _assert_error(response, status_code, code)
    assert _snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("first", "then"), [("confirm", "confirm"), ("cancel", "cancel"), ("cancel", "confirm")])
def test_moves_outside_the_order_lifecycle_are_409_and_change_nothing(bad_input_world, service, first, then):
    order = _created(service)
    assert _post(service, first, order).status_code == 200
    before = _snapshot()
    _assert_error(_post(service, then, order), 409, "invalid_transition")
    assert _snapshot() == before


@pytest.mark.django_db
def test_an_order_that_does_not_exist_is_404_for_every_action(twin, service):
    before = _snapshot()
    for action in ("confirm", "cancel"):
        _assert_error(_post(service, action, 999999999), 404, "not_found")
    _assert_error(service.get(url("detail", 999999999)), 404, "not_found")
    assert _snapshot() == before


# --- what a POST answers, and what it costs beyond the service ---------------------------------------------------


def _token_client(username: str = "integrator") -> APIClient:
    """A client with a token of ``username``, as integrators call (the other clients here skip authentication)."""
    raw = platform.api_token_issue(user=get_user_model().objects.get(username=username), actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def _queries(call: Any) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return len(captured), result


@pytest.mark.django_db
def test_each_post_answers_the_order_exactly_as_its_detail_shows_it(twin, service):
    lotted, unstocked = item("BEV-0001"), item("CLN-0004")
    stock.stock_receive(warehouse=warehouse("NE-NYC"), location=location("NE-NYC", "A-01-01"), item=lotted,
                        quantity=D(5), uom="EA", unit_cost=D(2), reference="test", actor=None, lot_number="L-7",
                        expiry_date=timezone.now().date() + dt.timedelta(days=200))
    lines = (_line("4"), _line("2", sku=lotted.sku), {"sku": unstocked.sku, "quantity": "3"})

    created = _created(service, *lines, external_ref="PO-ANSWER", requested_date="2031-05-06")
    assert created == service.get(url("detail", created)).json()
    confirmed = _post(service, "confirm", created).json()
    assert confirmed == service.get(url("detail", created)).json()
    cancelled = _post(service, "cancel", _post(service, "confirm", _created(service)).json(), {"reason": "r"}).json()
    assert cancelled == service.get(url("detail", cancelled)).json()

    allocations = [allocation for line in confirmed["lines"] for allocation in line["allocations"]]
    assert {allocation["lot"] for allocation in allocations} == {None, "L-7"}
    assert [line["allocations"] for line in confirmed["lines"] if line["sku"] == unstocked.sku] == [[]]
    assert {allocation["status"] for line in cancelled["lines"] for allocation in line["allocations"]} == {"released"}
    taken_by_the_system = sales_order_create(customer=Customer.objects.get(code="C-NE-001"), actor=None,
                                             lines=[OrderLineSpec(item=twin, quantity=D(1))])
    answer = SalesOrderDetailOutput(sales_order_answer(taken_by_the_system.pk)).data
    assert answer["created_by"] is None
    assert answer == service.get(url("detail", taken_by_the_system)).json()


@pytest.mark.django_db
@pytest.mark.parametrize("lines", [1, 30])
def test_the_api_adds_five_queries_to_taking_an_order_and_three_to_confirming_it(twin, lines):
    """Beyond the service: the token with its user and permissions (one query), then for a new order its
    customer, ship-to and items, for a confirm the order in scope, and for both the answer (one query)."""
    _receive(twin, "NE-BOS", 1000)
    integrator = _token_client()
    customer = Customer.objects.get(code="C-NE-001")
    actor = get_user_model().objects.get(username="integrator")
    body = [_line("1") for _ in range(lines)]
    specs = [OrderLineSpec(item=twin, quantity=D(1), uom="EA") for _ in range(lines)]

    ship_to = customer.ship_tos.get(code="MAIN")

    def direct() -> tuple[int, int]:
        # A user object per call, as each request has its own: nothing cached on it from the call before.
        taker = get_user_model().objects.get(pk=actor.pk)
        confirmer = get_user_model().objects.get(pk=actor.pk)
        taken, order = _queries(lambda: sales_order_create(customer=customer, ship_to=ship_to, lines=specs,
                                                           actor=taker))
        confirmed, _ = _queries(lambda: sales_order_confirm(order=order, actor=confirmer))
        return taken, confirmed

    def over_http() -> tuple[int, int]:
        taken, response = _queries(lambda: _create(integrator, *body))
        assert response.status_code == 201, response.json()
        confirmed, response = _queries(lambda: _post(integrator, "confirm", response.json()))
        assert response.status_code == 200, response.json()
        return taken, confirmed

    direct(), over_http()  # warm: the token's first use stamps it, and the allocation plan is kept
    (api_taken, api_confirmed), (taken, confirmed) = over_http(), direct()

    assert (api_taken - taken, api_confirmed - confirmed) == (5, 3)


@pytest.mark.django_db
def test_a_detail_or_an_action_asked_with_list_filters_still_applies_them(twin, service):
    draft = _created(service)

    assert service.get(url("detail", draft), {"status": "draft"}).status_code == 200
    _assert_error(service.get(url("detail", draft), {"status": "allocated"}), 404, "not_found")
    _assert_error(service.get(url("detail", draft), {"created_from": "yesterday"}), 400, "validation_error")
    _assert_error(service.post(f"{url('confirm', draft)}?status=allocated", {}, format="json"), 404, "not_found")
    assert service.post(f"{url('confirm', draft)}?status=draft", {}, format="json").status_code == 200


def test_output_serializers_built_once_per_class_give_each_answer_fields_of_its_own():
    first, second = SalesOrderDetailOutput(), SalesOrderDetailOutput()

    assert list(first.fields) == list(second.fields) == [*SalesOrderDetailOutput.Meta.fields]
    assert first.fields["lines"] is not second.fields["lines"]
    assert first.fields["lines"].child is not second.fields["lines"].child
    assert first.fields["lines"].child.fields["allocations"].parent is first.fields["lines"].child
    assert first.fields["status"].parent is first and second.fields["status"].parent is second


# --- the admin ------------------------------------------------------------------------------------------------


def _admin_url(view: str, *args: Any) -> str:
    return reverse(f"admin:orders_salesorder_{view}", args=args)


@pytest.fixture
def ne_admin_client(demo: Any) -> Client:
    account = get_user_model().objects.create_user("ne.admin", password="x-unused-x", is_staff=True)
    account.groups.add(Group.objects.get(name="Administrator"))
    platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code="NE")])
    client = Client()
    client.force_login(account)
    return client


@pytest.mark.django_db
def test_the_admin_shows_an_order_with_its_lines_and_allocations_read_only(twin, user):
    order = sales_order_confirm(order=_take(quantity="3"), actor=None)
    client = Client()
    client.force_login(user("admin"))

    changelist = client.get(_admin_url("changelist"))
    change = client.get(_admin_url("change", order.pk))

    assert changelist.status_code == 200 and order.number.encode() in changelist.content
    assert change.status_code == 200
    assert b"NE-NYC 3.0000 (open)" in change.content and b"T-CLN-0003" in change.content
    assert client.get(_admin_url("add")).status_code == 403
    assert client.post(_admin_url("delete", order.pk), {"post": "yes"}).status_code == 403
    assert client.post(_admin_url("change", order.pk), {"status": "cancelled"}).status_code == 403
    assert SalesOrder.objects.get(pk=order.pk).status == "allocated"


@pytest.mark.django_db
def test_the_admin_shows_a_northeast_administrator_only_northeast_orders(twin, ne_admin_client):
    ours, theirs = _take(), _take(customer="C-EU-001")

    response = ne_admin_client.get(_admin_url("changelist"))

    assert response.status_code == 200
    numbers = {order.number for order in response.context["cl"].result_list}
    assert ours.number in numbers and theirs.number not in numbers
    assert b"C-EU-0" not in response.content and b"Europe" not in response.content
    assert ne_admin_client.get(_admin_url("change", theirs.pk)).status_code in (302, 404)


@pytest.mark.django_db
def test_the_admin_order_page_costs_the_same_queries_for_1_and_30_lines(twin, user):
    buyer = Customer.objects.get(code="C-NE-001")
    _receive(twin, "NE-BOS", 100)
    client = Client()
    client.force_login(user("admin"))
    counts = []
    for lines in (1, 30):
        order = sales_order_confirm(order=sales_order_create(
            customer=buyer, ship_to=buyer.ship_tos.get(code="MAIN"), actor=None,
            lines=[OrderLineSpec(item=twin, quantity=D(1), uom="EA") for _ in range(lines)]), actor=None)
        client.get(_admin_url("change", order.pk))
        with CaptureQueriesContext(connection) as captured:
            assert client.get(_admin_url("change", order.pk)).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]
