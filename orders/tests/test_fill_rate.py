"""Fill rate (issue 5, point 8): order lines shipped complete on or before their promised date over the lines due in
the period, computed from the lines (``orders.selectors.fill_rate`` and ``kpis/fill-rate/``).

The network of each test is confirmed on Monday 5 March 2001 at 09:00 in Boston, so every promise falls in March
2001, where the demo has no orders: C-NE-001's lines come from NE-NYC (NE-BOS, its home, holds none of the twin),
C-SE-001's from SE-ATL, and a SKU nobody holds is backordered at NE-BOS. Lines are shipped through the real
picking and shipping services, which record ``shipped_complete_on``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from erp import services as platform
from erp.exceptions import NotFound, ValidationFailed
from inventory import services as stock
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders import selectors
from orders.models import Customer, SalesOrder, SalesOrderLine
from orders.services.picking import PickAnswer, pick_list_confirm, pick_list_create
from orders.services.sales import OrderLineSpec, sales_order_cancel, sales_order_confirm, sales_order_create
from orders.services.shipping import shipment_create, shipment_ship
from warehouses.models import Carrier, Region

D = Decimal
URL = "api:kpi-fill-rate"
# Monday 5 March 2001, 09:00 in Boston and Atlanta: before the 15:00 cutoff, so lines ship that day and arrive
# the next working day (one transit day inside a region).
CONFIRMED = dt.datetime(2001, 3, 5, 14, 0, tzinfo=dt.UTC)
MARCH = {"date_from": dt.date(2001, 3, 1), "date_to": dt.date(2001, 3, 31)}
MARCH_QUERY = {"from": "2001-03-01", "to": "2001-03-31"}
RESULT_FIELDS = {"from", "to", "region", "warehouse", "lines_due", "lines_filled", "fill_rate", "warehouses"}


def _receive(twin: Any, site: str, quantity: int) -> None:
    stock.stock_receive(warehouse=warehouse(site), location=location(site, "A-01-01"), item=twin,
                        quantity=D(quantity), uom="EA", unit_cost=D(2), reference="fill rate test", actor=None)


def _confirmed(customer_code: str, twin: Any, quantity: int, now: dt.datetime = CONFIRMED) -> SalesOrder:
    customer = Customer.objects.get(code=customer_code)
    order = sales_order_create(customer=customer, ship_to=customer.ship_tos.get(code="MAIN"), actor=None,
                               lines=[OrderLineSpec(item=twin, quantity=D(quantity), uom="EA")])
    return sales_order_confirm(order=order, actor=None, now=now)


def _line(order: SalesOrder) -> SalesOrderLine:
    return SalesOrderLine.objects.select_related("warehouse").get(order=order)


def _ship(order: SalesOrder, on: dt.date) -> None:
    """Pick, pack and ship the whole order from its line's warehouse on ``on`` (10:00 in Boston or Atlanta)."""
    site = _line(order).warehouse
    moment = dt.datetime.combine(on, dt.time(15, 0), tzinfo=dt.UTC)
    pick_list = pick_list_create(warehouse=site, order=order, actor=None)
    pick_list_confirm(pick_list=pick_list, actor=None, now=moment, answers=[
        PickAnswer(picked_quantity=line.quantity, line_id=line.pk) for line in pick_list.lines.all()])
    shipment = shipment_create(order=order, warehouse=site, actor=None, packages=[{"weight_kg": "2.5"}],
                               carrier=Carrier.objects.get(code="UPS"))
    shipment_ship(shipment=shipment, actor=None, now=moment)


@dataclass
class Network:
    on_time: SalesOrder
    late: SalesOrder
    unshipped: SalesOrder
    cancelled: SalesOrder
    backordered: SalesOrder
    southeast: SalesOrder
    april: SalesOrder


@pytest.fixture
def network(demo: Any) -> Network:
    ensure_standard_statuses()
    twin, nobody_has = item("CLN-0005"), item("PAP-0003")
    _receive(twin, "NE-NYC", 20)
    _receive(twin, "SE-ATL", 20)
    made = Network(
        on_time=_confirmed("C-NE-001", twin, 2), late=_confirmed("C-NE-001", twin, 2),
        unshipped=_confirmed("C-NE-001", twin, 2), cancelled=_confirmed("C-NE-001", twin, 2),
        backordered=_confirmed("C-NE-001", nobody_has, 3), southeast=_confirmed("C-SE-001", twin, 2),
        april=_confirmed("C-NE-001", twin, 2, now=CONFIRMED + dt.timedelta(days=35)),
    )
    _ship(made.on_time, _line(made.on_time).promised_date)
    _ship(made.late, _line(made.late).promised_date + dt.timedelta(days=2))
    _ship(made.southeast, _line(made.southeast).promised_date - dt.timedelta(days=1))
    sales_order_cancel(order=made.cancelled, actor=None, reason="fill rate test")
    return made


def _warehouse_user(*codes: str) -> Any:
    account = get_user_model().objects.create_user("bos.operator", password="x-unused-x")
    account.groups.add(Group.objects.get(name="Warehouse operator"))
    platform.scope_grant(user=account, actor=None, warehouses=[warehouse(code) for code in codes])
    return get_user_model().objects.get(pk=account.pk)


def _client(account: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(account)
    return client


def _by_warehouse(result: selectors.FillRate) -> dict[str, tuple[int, int, str | None]]:
    return {row.warehouse: (row.lines_due, row.lines_filled, None if row.fill_rate is None else str(row.fill_rate))
            for row in result.warehouses}


# --- what the lines record ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_line_keeps_its_promised_date_and_the_date_it_shipped_complete(network):
    on_time, late, unshipped = _line(network.on_time), _line(network.late), _line(network.unshipped)

    assert on_time.promised_date == dt.date(2001, 3, 6) and on_time.warehouse.code == "NE-NYC"
    assert on_time.shipped_complete_on == on_time.promised_date and on_time.status == "shipped"
    assert late.shipped_complete_on == dt.date(2001, 3, 8)
    assert unshipped.shipped_complete_on is None
    backordered = _line(network.backordered)
    # Nothing allocated, yet due when the home warehouse would have delivered: it counts against fill rate.
    assert (backordered.status, backordered.warehouse.code, backordered.promised_date) == (
        "backordered", "NE-BOS", dt.date(2001, 3, 6))
    assert _line(network.cancelled).status == "cancelled"


# --- the selector ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_fill_rate_counts_lines_shipped_complete_by_their_promised_date_over_the_lines_due(network, user):
    result = selectors.fill_rate(user=user("planner"), **MARCH)

    # Due in March: on time, late, unshipped and backordered (NE), shipped early (SE). The cancelled line is not
    # due; the April one falls outside the period.
    assert (result.lines_due, result.lines_filled, result.fill_rate) == (5, 2, D("0.4000"))
    assert _by_warehouse(result) == {"NE-BOS": (1, 0, "0.0000"), "NE-NYC": (3, 1, "0.3333"),
                                     "SE-ATL": (1, 1, "1.0000")}
    assert (result.date_from, result.date_to, result.region, result.warehouse) == (
        dt.date(2001, 3, 1), dt.date(2001, 3, 31), None, None)


@pytest.mark.django_db
def test_a_late_shipment_becomes_filled_only_when_the_promise_is_kept(network, user):
    line = _line(network.unshipped)
    before = selectors.fill_rate(user=user("planner"), **MARCH)

    _ship(network.unshipped, line.promised_date)

    after = selectors.fill_rate(user=user("planner"), **MARCH)
    assert (before.lines_due, before.lines_filled) == (5, 2)
    assert (after.lines_due, after.lines_filled, after.fill_rate) == (5, 3, D("0.6000"))


@pytest.mark.django_db
def test_the_period_is_inclusive_and_a_line_is_due_on_its_promised_date(network, user):
    planner = user("planner")
    promised = _line(network.on_time).promised_date

    only_that_day = selectors.fill_rate(user=planner, date_from=promised, date_to=promised)
    before_it = selectors.fill_rate(user=planner, date_from=dt.date(2001, 3, 1), date_to=promised
                                    - dt.timedelta(days=1))
    april = selectors.fill_rate(user=planner, date_from=dt.date(2001, 4, 1), date_to=dt.date(2001, 4, 30))

    assert (only_that_day.lines_due, only_that_day.lines_filled) == (5, 2)
    assert (before_it.lines_due, before_it.lines_filled, before_it.fill_rate) == (0, 0, None)
    assert (april.lines_due, april.lines_filled, april.fill_rate) == (1, 0, D("0.0000"))


@pytest.mark.django_db
def test_lines_promised_after_today_are_due_once_shipped_complete_and_not_before(demo, user):
    ensure_standard_statuses()
    twin = item("CLN-0005")
    _receive(twin, "NE-NYC", 5)
    order = _confirmed("C-NE-001", twin, 1, now=timezone.now())
    promised = _line(order).promised_date
    assert promised > timezone.localdate()
    planner = user("planner")

    today = selectors.fill_rate(user=planner, date_from=timezone.localdate(), date_to=promised)
    on_the_day = selectors.fill_rate(user=planner, date_from=timezone.localdate(), date_to=promised, today=promised)

    assert (today.lines_due, today.fill_rate) == (0, None)
    assert (on_the_day.lines_due, on_the_day.lines_filled, on_the_day.fill_rate) == (1, 0, D("0.0000"))

    # Shipped complete today, before its promised date: the promise is kept already, so it counts now.
    _ship(order, timezone.localdate())
    shipped = selectors.fill_rate(user=planner, date_from=timezone.localdate(), date_to=promised)
    assert (shipped.lines_due, shipped.lines_filled, shipped.fill_rate) == (1, 1, D("1.0000"))


@pytest.mark.django_db
def test_a_region_user_counts_the_lines_of_their_regions_only(network, user):
    northeast = selectors.fill_rate(user=user("ne.operator"), **MARCH)
    europe = selectors.fill_rate(user=user("eu.operator"), **MARCH)

    assert (northeast.lines_due, northeast.lines_filled, northeast.fill_rate) == (4, 1, D("0.2500"))
    assert set(_by_warehouse(northeast)) == {"NE-BOS", "NE-NYC"}
    assert (europe.lines_due, europe.lines_filled, europe.fill_rate, europe.warehouses) == (0, 0, None, [])


@pytest.mark.django_db
def test_a_user_of_one_warehouse_counts_the_lines_of_that_warehouse(network):
    boston = _warehouse_user("NE-BOS")

    result = selectors.fill_rate(user=boston, **MARCH)

    assert (result.lines_due, result.lines_filled, result.fill_rate) == (1, 0, D("0.0000"))
    assert _by_warehouse(result) == {"NE-BOS": (1, 0, "0.0000")}
    with pytest.raises(NotFound):
        selectors.fill_rate(user=boston, warehouse="NE-NYC", **MARCH)


@pytest.mark.django_db
def test_a_region_or_warehouse_narrows_the_lines(network, user):
    planner = user("planner")

    northeast = selectors.fill_rate(user=planner, region="NE", **MARCH)
    atlanta = selectors.fill_rate(user=planner, warehouse="SE-ATL", **MARCH)
    both = selectors.fill_rate(user=planner, region="NE", warehouse="SE-ATL", **MARCH)

    assert (northeast.lines_due, northeast.lines_filled, northeast.region) == (4, 1, "NE")
    assert (atlanta.lines_due, atlanta.lines_filled, atlanta.fill_rate, atlanta.warehouse) == (
        1, 1, D("1.0000"), "SE-ATL")
    assert (both.lines_due, both.fill_rate) == (0, None)


@pytest.mark.django_db
@pytest.mark.parametrize(("narrowing", "value"), [("region", "SE"), ("region", "EU"), ("warehouse", "SE-ATL"),
                                                  ("warehouse", "EU-RTM"), ("warehouse", "NOPE"), ("region", "XX")])
def test_a_region_or_warehouse_outside_the_scope_is_not_found(network, user, narrowing, value):
    with pytest.raises(NotFound):
        selectors.fill_rate(user=user("ne.operator"), **{narrowing: value}, **MARCH)


@pytest.mark.django_db
def test_a_period_that_ends_before_it_starts_or_runs_over_a_year_is_refused(demo, user):
    planner = user("planner")
    with pytest.raises(ValidationFailed):
        selectors.fill_rate(user=planner, date_from=dt.date(2001, 3, 2), date_to=dt.date(2001, 3, 1))
    with pytest.raises(ValidationFailed):
        selectors.fill_rate(user=planner, date_from=dt.date(2000, 1, 1), date_to=dt.date(2001, 3, 1))


@pytest.mark.django_db
def test_the_fill_rate_costs_the_same_queries_for_few_and_many_lines(network, user):
    planner = user("planner")
    selectors.fill_rate(user=planner, region="NE", **MARCH)  # the scope is computed and cached on the user

    with CaptureQueriesContext(connection) as few:
        selectors.fill_rate(user=planner, region="NE", date_from=dt.date(2001, 4, 1), date_to=dt.date(2001, 4, 30))
    with CaptureQueriesContext(connection) as many:
        selectors.fill_rate(user=planner, region="NE", **MARCH)

    assert len(few) == len(many) == 2  # the region, then one grouped count


# --- the API -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_answers_the_fill_rate_with_a_breakdown_by_warehouse(network, api_as):
    response = api_as("planner").get(reverse(URL), MARCH_QUERY)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == RESULT_FIELDS
    assert (body["from"], body["to"], body["region"], body["warehouse"]) == ("2001-03-01", "2001-03-31", None, None)
    assert (body["lines_due"], body["lines_filled"], body["fill_rate"]) == (5, 2, "0.4000")
    assert body["warehouses"] == [
        {"warehouse": "NE-BOS", "lines_due": 1, "lines_filled": 0, "fill_rate": "0.0000"},
        {"warehouse": "NE-NYC", "lines_due": 3, "lines_filled": 1, "fill_rate": "0.3333"},
        {"warehouse": "SE-ATL", "lines_due": 1, "lines_filled": 1, "fill_rate": "1.0000"},
    ]
    assert reverse(URL) == "/api/v1/kpis/fill-rate/"


@pytest.mark.django_db
def test_the_api_narrows_to_a_region_or_a_warehouse(network, api_as):
    client = api_as("planner")

    northeast = client.get(reverse(URL), {**MARCH_QUERY, "region": "NE"}).json()
    atlanta = client.get(reverse(URL), {**MARCH_QUERY, "warehouse": "SE-ATL"}).json()

    assert (northeast["region"], northeast["lines_due"], northeast["lines_filled"], northeast["fill_rate"]) == (
        "NE", 4, 1, "0.2500")
    assert (atlanta["warehouse"], atlanta["lines_due"], atlanta["fill_rate"]) == ("SE-ATL", 1, "1.0000")


@pytest.mark.django_db
def test_the_api_says_null_when_nothing_was_due(network, api_as):
    body = api_as("eu.operator").get(reverse(URL), MARCH_QUERY).json()

    assert (body["lines_due"], body["lines_filled"], body["fill_rate"], body["warehouses"]) == (0, 0, None, [])


@pytest.mark.django_db
def test_the_api_defaults_to_the_30_days_ending_today(demo, api_as):
    body = api_as("planner").get(reverse(URL)).json()

    today = timezone.localdate()
    assert (body["from"], body["to"]) == ((today - dt.timedelta(days=29)).isoformat(), today.isoformat())
    assert api_as("planner").get(reverse(URL), {"to": "2001-03-31"}).json()["from"] == "2001-03-02"
    # A parameter sent blank (a form's empty field) is the default, not an error.
    assert api_as("planner").get(reverse(URL), {"from": "", "to": "", "region": ""}).json()["to"] == today.isoformat()


@pytest.mark.django_db
@pytest.mark.parametrize(("username", "params"), [
    ("ne.operator", {"region": "SE"}), ("ne.operator", {"region": "EU"}), ("ne.operator", {"warehouse": "SE-ATL"}),
    ("ne.operator", {"warehouse": "EU-DUS"}), ("eu.operator", {"warehouse": "NE-BOS"}),
    ("eu.operator", {"region": "NE"}), ("planner", {"warehouse": "NOPE-1"}), ("planner", {"region": "ZZ"}),
])
def test_the_api_answers_404_for_a_region_or_warehouse_outside_the_scope(network, api_as, username, params):
    response = api_as(username).get(reverse(URL), {**MARCH_QUERY, **params})

    assert response.status_code == 404, response.json()
    body = response.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "field"), [
    ({"from": "2001-03-31", "to": "2001-03-01"}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"to": "2001-02-30"}, "to"),
    ({"from": "2001-03-01T00:00"}, "from"),
    ({"from": "2000-01-01", "to": "2001-03-01"}, "from"),
    ({"from": "2001-13-01"}, "from"),
    ({"warehouse": "NE-\x00BOS"}, "warehouse"),
    ({"region": "N" * 40}, "region"),
])
def test_bad_input_is_a_400_with_the_error_shape(demo, api_as, params, field):
    response = api_as("planner").get(reverse(URL), params)

    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == "validation_error"
    assert field in body["detail"], body


@pytest.mark.django_db
def test_reading_the_fill_rate_needs_a_role_and_a_sign_in(demo):
    roleless = get_user_model().objects.create_user("nobody.kpi", password="x-unused-x")
    platform.scope_grant(user=roleless, actor=None, regions=[Region.objects.get(code="NE")])

    assert _client(roleless).get(reverse(URL)).status_code == 403
    assert APIClient().get(reverse(URL)).status_code == 401
    assert _client(_warehouse_user("NE-BOS")).get(reverse(URL)).status_code == 200


@pytest.mark.django_db
def test_the_api_only_reads(demo, api_as):
    for method in ("post", "put", "patch", "delete"):
        response = getattr(api_as("admin"), method)(reverse(URL), {}, format="json")
        assert response.status_code == 405, (method, response.content[:200])
