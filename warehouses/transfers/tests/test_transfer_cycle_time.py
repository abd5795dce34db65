"""Transfer cycle time (issue 13): median and p90 of dispatch-to-receipt and request-to-receipt, in hours, over the
transfers received in the period, per receiving region and warehouse and overall (``selectors.transfer_cycle_time``
and ``kpis/transfer-cycle-time/``).

Each transfer of the network is requested, dispatched and received through the services, then given known
timestamps in March 2001 (where the demo has no transfers): received at ``received_at``, dispatched
``dispatch`` hours and requested ``request`` hours before. Boston, Newark and Atlanta keep Eastern time, which in
March 2001 is UTC-5.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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
from warehouses.models import Region, Warehouse
from warehouses.transfers import selectors, services
from warehouses.transfers.models import Transfer
from warehouses.transfers.tests.helpers import D, approved, stock_at, twin

pytestmark = pytest.mark.django_db

URL = "api:kpi-transfer-cycle-time"
MARCH = {"date_from": dt.date(2001, 3, 1), "date_to": dt.date(2001, 3, 31)}
MARCH_QUERY = {"from": "2001-03-01", "to": "2001-03-31"}
FIGURES = {"transfers", "dispatch_to_receipt_median", "dispatch_to_receipt_p90", "request_to_receipt_median",
           "request_to_receipt_p90"}
RESULT_FIELDS = {"from", "to", "region", "warehouse", "regions", "warehouses", *FIGURES}


def _at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2001, month, day, hour, minute, tzinfo=dt.UTC)


def _received(product: Any, source: str, target: str, *, received_at: dt.datetime, dispatch: float,
              request: float) -> Transfer:
    transfer = services.transfer_dispatch(transfer=approved(product, 1, source=source, target=target), actor=None)
    services.transfer_receive(transfer=transfer, actor=None, lines=[services.ReceiveSpec(line_no=1, quantity=D(1))])
    Transfer.objects.filter(pk=transfer.pk).update(received_at=received_at,
                                                   dispatched_at=received_at - dt.timedelta(hours=dispatch),
                                                   created_at=received_at - dt.timedelta(hours=request))
    return transfer


@dataclass
class Network:
    late_april: Transfer
    in_transit: Transfer


@pytest.fixture
def network(demo: Any) -> Network:
    """Received in March: four at NE-BOS from SE-ATL (10, 20, 30, 40 hours from dispatch; 50 to 80 from request),
    one at NE-NYC (100 and 110 hours) at 22:30 on 31 March in Newark (03:30 on 1 April UTC), one at SE-ATL from
    NE-BOS (1.5 and 6.25 hours). Not counted: one received at NE-BOS at 01:00 on 1 April in Boston, and one
    dispatched and received only in part."""
    product = twin("CLN-0004")
    stock_at(product, "SE-ATL", 100)
    stock_at(product, "NE-BOS", 100)
    for day, hours in zip((10, 12, 14, 16), (10, 20, 30, 40), strict=True):
        _received(product, "SE-ATL", "NE-BOS", received_at=_at(day, 15), dispatch=hours, request=hours + 40)
    _received(product, "SE-ATL", "NE-NYC", received_at=_at(1, 3, 30, month=4), dispatch=100, request=110)
    _received(product, "NE-BOS", "SE-ATL", received_at=_at(20, 18), dispatch=1.5, request=6.25)
    late_april = _received(product, "SE-ATL", "NE-BOS", received_at=_at(1, 6, month=4), dispatch=1000,
                           request=1000)
    in_transit = services.transfer_dispatch(transfer=approved(product, 2), actor=None)
    services.transfer_receive(transfer=in_transit, actor=None,
                              lines=[services.ReceiveSpec(line_no=1, quantity=D(1))])
    Transfer.objects.filter(pk=in_transit.pk).update(dispatched_at=_at(5, 12))
    return Network(late_april=late_april, in_transit=in_transit)


def _figures(times: selectors.CycleTimes) -> tuple[Any, ...]:
    return (times.transfers, times.dispatch_to_receipt_median, times.dispatch_to_receipt_p90,
            times.request_to_receipt_median, times.request_to_receipt_p90)


def _scoped_user(username: str, *, warehouses: tuple[str, ...] = (), regions: tuple[str, ...] = (),
                 group: str | None = "Warehouse operator") -> Any:
    account = get_user_model().objects.create_user(username, password="x-unused-x")
    if group:
        account.groups.add(Group.objects.get(name=group))
    platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code=r) for r in regions],
                         warehouses=[Warehouse.objects.get(code=w) for w in warehouses])
    return get_user_model().objects.get(pk=account.pk)


def _client(account: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(account)
    return client


# --- the figures ----------------------------------------------------------------------------------------------------


def test_cycle_times_are_the_median_and_p90_per_warehouse_region_and_overall(network, user):
    result = selectors.transfer_cycle_time(user=user("planner"), **MARCH)

    # dispatch 1.5, 10, 20, 30, 40, 100: median (20 + 30) / 2; p90 at rank 4.5 of 0..5: 40 + 0.5 x 60
    # request 6.25, 50, 60, 70, 80, 110: median (60 + 70) / 2; p90 80 + 0.5 x 30
    assert _figures(result.overall) == (6, D("25.00"), D("70.00"), D("65.00"), D("95.00"))
    assert {row.region: _figures(row.times) for row in result.regions} == {
        # 10, 20, 30, 40, 100: p90 at rank 3.6 of 0..4: 40 + 0.6 x 60; 50 ... 110: 80 + 0.6 x 30
        "NE": (5, D("30.00"), D("76.00"), D("70.00"), D("98.00")),
        "SE": (1, D("1.50"), D("1.50"), D("6.25"), D("6.25")),
    }
    assert {(row.region, row.warehouse): _figures(row.times) for row in result.warehouses} == {
        # 10, 20, 30, 40: p90 at rank 2.7 of 0..3: 30 + 0.7 x 10
        ("NE", "NE-BOS"): (4, D("25.00"), D("37.00"), D("65.00"), D("77.00")),
        ("NE", "NE-NYC"): (1, D("100.00"), D("100.00"), D("110.00"), D("110.00")),
        ("SE", "SE-ATL"): (1, D("1.50"), D("1.50"), D("6.25"), D("6.25")),
    }


def test_a_transfer_is_in_the_period_of_the_day_it_was_received_at_the_receiving_warehouse(network, user):
    planner = user("planner")

    march_30 = selectors.transfer_cycle_time(user=planner, date_from=dt.date(2001, 3, 1),
                                             date_to=dt.date(2001, 3, 30))
    april = selectors.transfer_cycle_time(user=planner, date_from=dt.date(2001, 4, 1), date_to=dt.date(2001, 4, 30))
    one_day = selectors.transfer_cycle_time(user=planner, date_from=dt.date(2001, 3, 10),
                                            date_to=dt.date(2001, 3, 10))

    # Newark's 22:30 on 31 March is 1 April in UTC: still March for the warehouse
    assert [row.warehouse for row in march_30.warehouses] == ["NE-BOS", "SE-ATL"]
    assert _figures(april.overall) == (1, D("1000.00"), D("1000.00"), D("1000.00"), D("1000.00"))
    assert [row.warehouse for row in april.warehouses] == ["NE-BOS"]
    assert _figures(one_day.overall) == (1, D("10.00"), D("10.00"), D("50.00"), D("50.00"))  # both ends inclusive


def test_only_fully_received_transfers_count(network, user):
    result = selectors.transfer_cycle_time(user=user("planner"), date_from=dt.date(2001, 1, 1),
                                           date_to=dt.date(2001, 12, 31))

    assert result.overall.transfers == 7  # six in March and the late one; not the one still partly in transit
    assert Transfer.objects.get(pk=network.in_transit.pk).status == "partially_received"


def test_nothing_received_gives_null_figures(network, user):
    result = selectors.transfer_cycle_time(user=user("planner"), date_from=dt.date(2001, 2, 1),
                                           date_to=dt.date(2001, 2, 28))

    assert _figures(result.overall) == (0, None, None, None, None)
    assert result.regions == [] and result.warehouses == []


# --- scope ----------------------------------------------------------------------------------------------------------


def test_a_user_counts_the_transfers_received_in_their_scope_only(network, user):
    northeast = selectors.transfer_cycle_time(user=user("ne.operator"), **MARCH)
    europe = selectors.transfer_cycle_time(user=user("eu.operator"), **MARCH)

    # NE-BOS sent one to SE-ATL: it sees that transfer, but its cycle time is Atlanta's
    assert _figures(northeast.overall) == (5, D("30.00"), D("76.00"), D("70.00"), D("98.00"))
    assert [row.region for row in northeast.regions] == ["NE"]
    assert [row.warehouse for row in northeast.warehouses] == ["NE-BOS", "NE-NYC"]
    assert _figures(europe.overall) == (0, None, None, None, None)


def test_a_user_of_one_warehouse_counts_that_warehouse(network):
    newark = selectors.transfer_cycle_time(user=_scoped_user("nyc.operator", warehouses=("NE-NYC",)), **MARCH)

    assert _figures(newark.overall) == (1, D("100.00"), D("100.00"), D("110.00"), D("110.00"))


def test_a_region_or_warehouse_narrows_to_the_receiving_end(network, user):
    planner = user("planner")

    southeast = selectors.transfer_cycle_time(user=planner, region="SE", **MARCH)
    boston = selectors.transfer_cycle_time(user=planner, warehouse="NE-BOS", **MARCH)

    assert _figures(southeast.overall) == (1, D("1.50"), D("1.50"), D("6.25"), D("6.25"))
    assert (southeast.region, [row.warehouse for row in southeast.warehouses]) == ("SE", ["SE-ATL"])
    assert _figures(boston.overall) == (4, D("25.00"), D("37.00"), D("65.00"), D("77.00"))


@pytest.mark.parametrize(("narrowing", "value"), [("region", "SE"), ("region", "EU"), ("warehouse", "SE-ATL"),
                                                  ("warehouse", "EU-RTM"), ("warehouse", "NOPE"), ("region", "XX")])
def test_a_region_or_warehouse_outside_the_scope_is_not_found(demo, user, narrowing, value):
    with pytest.raises(NotFound):
        selectors.transfer_cycle_time(user=user("ne.operator"), **{narrowing: value}, **MARCH)


def test_a_period_that_ends_before_it_starts_or_runs_over_a_year_is_refused(demo, user):
    planner = user("planner")
    with pytest.raises(ValidationFailed):
        selectors.transfer_cycle_time(user=planner, date_from=dt.date(2001, 3, 2), date_to=dt.date(2001, 3, 1))
    with pytest.raises(ValidationFailed):
        selectors.transfer_cycle_time(user=planner, date_from=dt.date(2000, 1, 1), date_to=dt.date(2001, 3, 1))


def test_the_cycle_time_costs_the_same_queries_for_few_and_many_transfers(network, user):
    planner = user("planner")
    selectors.transfer_cycle_time(user=planner, region="NE", **MARCH)  # the scope is computed and cached

    with CaptureQueriesContext(connection) as few:
        selectors.transfer_cycle_time(user=planner, region="NE", date_from=dt.date(2001, 2, 1),
                                      date_to=dt.date(2001, 2, 28))
    with CaptureQueriesContext(connection) as many:
        selectors.transfer_cycle_time(user=planner, region="NE", **MARCH)

    assert len(few) == len(many) == 4  # the region, then overall, by region and by warehouse


# --- the API --------------------------------------------------------------------------------------------------------


def test_the_api_answers_the_cycle_times_with_breakdowns(network, api_as):
    response = api_as("planner").get(reverse(URL), MARCH_QUERY)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == RESULT_FIELDS
    assert (body["from"], body["to"], body["region"], body["warehouse"]) == ("2001-03-01", "2001-03-31", None, None)
    assert {key: body[key] for key in FIGURES} == {
        "transfers": 6, "dispatch_to_receipt_median": "25.00", "dispatch_to_receipt_p90": "70.00",
        "request_to_receipt_median": "65.00", "request_to_receipt_p90": "95.00"}
    assert body["regions"] == [
        {"region": "NE", "transfers": 5, "dispatch_to_receipt_median": "30.00", "dispatch_to_receipt_p90": "76.00",
         "request_to_receipt_median": "70.00", "request_to_receipt_p90": "98.00"},
        {"region": "SE", "transfers": 1, "dispatch_to_receipt_median": "1.50", "dispatch_to_receipt_p90": "1.50",
         "request_to_receipt_median": "6.25", "request_to_receipt_p90": "6.25"},
    ]
    assert [(row["region"], row["warehouse"], row["transfers"], row["dispatch_to_receipt_p90"])
            for row in body["warehouses"]] == [("NE", "NE-BOS", 4, "37.00"), ("NE", "NE-NYC", 1, "100.00"),
                                               ("SE", "SE-ATL", 1, "1.50")]
    assert reverse(URL) == "/api/v1/kpis/transfer-cycle-time/"


def test_the_api_narrows_and_scopes(network, api_as):
    boston = api_as("planner").get(reverse(URL), {**MARCH_QUERY, "warehouse": "NE-BOS"}).json()
    operator = api_as("ne.operator").get(reverse(URL), MARCH_QUERY).json()
    europe = api_as("eu.operator").get(reverse(URL), MARCH_QUERY).json()

    assert (boston["warehouse"], boston["transfers"], boston["dispatch_to_receipt_median"]) == ("NE-BOS", 4, "25.00")
    assert (operator["transfers"], [row["warehouse"] for row in operator["warehouses"]]) == (5, ["NE-BOS", "NE-NYC"])
    assert (europe["transfers"], europe["dispatch_to_receipt_median"], europe["request_to_receipt_p90"],
            europe["regions"], europe["warehouses"]) == (0, None, None, [], [])


def test_the_api_defaults_to_the_30_days_ending_today(demo, api_as):
    client = api_as("planner")
    today = timezone.localdate()

    body = client.get(reverse(URL)).json()

    assert (body["from"], body["to"]) == ((today - dt.timedelta(days=29)).isoformat(), today.isoformat())
    assert client.get(reverse(URL), {"to": "2001-03-31"}).json()["from"] == "2001-03-02"
    assert client.get(reverse(URL), {"from": "", "to": "", "region": ""}).json()["to"] == today.isoformat()


@pytest.mark.parametrize(("username", "params"), [
    ("ne.operator", {"region": "SE"}), ("ne.operator", {"warehouse": "SE-ATL"}),
    ("eu.operator", {"warehouse": "NE-BOS"}), ("eu.operator", {"region": "NE"}),
    ("planner", {"warehouse": "NOPE-1"}), ("planner", {"region": "ZZ"}),
])
def test_the_api_answers_404_for_a_region_or_warehouse_outside_the_scope(demo, api_as, username, params):
    response = api_as(username).get(reverse(URL), {**MARCH_QUERY, **params})

    assert response.status_code == 404, response.json()
    body = response.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == "not_found"


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


def test_reading_the_cycle_time_needs_a_role_and_a_sign_in(demo):
    roleless = _scoped_user("nobody.kpi", regions=("NE",), group=None)

    assert _client(roleless).get(reverse(URL)).status_code == 403
    assert APIClient().get(reverse(URL)).status_code == 401
    assert _client(_scoped_user("bos.operator", warehouses=("NE-BOS",))).get(reverse(URL)).status_code == 200


def test_the_api_only_reads(demo, api_as):
    for method in ("post", "put", "patch", "delete"):
        response = getattr(api_as("admin"), method)(reverse(URL), {}, format="json")
        assert response.status_code == 405, (method, response.content[:200])
