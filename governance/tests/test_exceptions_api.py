"""The exceptions API: lists and filters, the summary, acknowledge/resolve/cancel, the lifecycle and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from erp.exceptions import PermissionDenied
from governance.exceptions import InvalidTransition
from governance.models import OperationalException
from governance.services.exceptions import (
    exception_acknowledge,
    exception_cancel,
    exception_raise_command,
    exception_resolve,
)
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _without_demo_exceptions(demo):
    """The demo network raises a few exceptions; these tests count only their own."""
    OperationalException.objects.all().delete()


def _raise(key: str, *, type: str = "shortage", site: str = "NE-BOS", **kwargs) -> OperationalException:
    return exception_raise_command(type=type, business_key=key, title=f"Exception {key}",
                                   warehouse=Warehouse.objects.get(code=site), **kwargs)


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:400]
    body = response.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == code
    return body


# --- the lifecycle through the services ------------------------------------------------------------


def test_an_exception_moves_open_acknowledged_resolved_and_records_who_and_why(demo, user):
    exc = _raise("life:1")
    planner = user("planner")
    acked = exception_acknowledge(exception=exc, actor=planner)
    assert (acked.status, acked.acknowledged_by, acked.acknowledged_at is not None) == ("acknowledged", planner, True)
    done = exception_resolve(exception=acked, actor=planner, root_cause="supplier_delay", note="ACME late")
    assert (done.status, done.root_cause, done.resolution_note, done.resolved_by) == (
        "resolved", "supplier_delay", "ACME late", planner)


@pytest.mark.parametrize("first, then", [
    ("resolve", "acknowledge"), ("resolve", "resolve"), ("resolve", "cancel"),
    ("cancel", "acknowledge"), ("cancel", "resolve"), ("cancel", "cancel"),
    ("acknowledge", "acknowledge"),
])
def test_moves_outside_the_lifecycle_are_refused_as_invalid_transitions(demo, user, first, then):
    planner = user("planner")
    moves = {
        "acknowledge": lambda e: exception_acknowledge(exception=e, actor=planner),
        "resolve": lambda e: exception_resolve(exception=e, actor=planner, root_cause="data_error", note=""),
        "cancel": lambda e: exception_cancel(exception=e, actor=planner, note="raised in error"),
    }
    exc = moves[first](_raise(f"refuse:{first}:{then}"))
    with pytest.raises(InvalidTransition):
        moves[then](exc)
    assert OperationalException.objects.get(pk=exc.pk).status == exc.status


def test_a_warehouse_operator_may_not_work_an_exception_in_their_own_warehouse(demo, user):
    exc = _raise("op:1")
    with pytest.raises(PermissionDenied):
        exception_acknowledge(exception=exc, actor=user("ne.operator"))
    assert OperationalException.objects.get(pk=exc.pk).status == "open"


# --- the API ---------------------------------------------------------------------------------------


def test_the_list_shows_the_documented_fields_and_filters_by_status_type_site_severity_and_overdue(demo, api_as):
    bos = _raise("api:bos")
    rtm = _raise("api:rtm", type="damaged_goods", site="EU-RTM")
    OperationalException.objects.filter(pk=rtm.pk).update(due_at=timezone.now() - timedelta(hours=1))
    client = api_as("planner")
    url = reverse("api:exception-list")
    rows = client.get(url).json()["results"]
    row = next(r for r in rows if r["id"] == bos.pk)
    assert set(row) >= {"id", "number", "type", "severity", "status", "warehouse", "region", "owner_role", "due_at",
                        "escalation_level", "business_key", "reference", "title", "detail", "raised_count",
                        "first_raised_at", "last_raised_at", "acknowledged_by", "acknowledged_at", "resolved_by",
                        "resolved_at", "root_cause", "resolution_note"}
    assert (row["warehouse"], row["region"], row["owner_role"]) == ("NE-BOS", "NE", "planner")

    def ids(**params):
        return {r["id"] for r in client.get(url, params).json()["results"]}

    assert ids(warehouse="EU-RTM") == {rtm.pk}
    assert ids(region="NE") == {bos.pk}
    assert ids(type="damaged_goods") == {rtm.pk}
    assert ids(severity="high") == {bos.pk}
    assert ids(overdue="true") == {rtm.pk}
    assert ids(overdue="false") == {bos.pk}
    assert ids(status="resolved") == set()
    _error(client.get(url, {"status": "nonsense"}), 400, "validation_error")


@pytest.mark.parametrize("rows", [1, 30])
def test_the_list_costs_the_same_queries_for_one_or_many_exceptions(demo, api_as, rows):
    for n in range(rows):
        _raise(f"count:{n}", site=("NE-BOS", "EU-RTM")[n % 2])
    client = api_as("ne.operator")
    client.get(reverse("api:exception-list"))  # warm the caches that are not per-row (content types, ...)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("api:exception-list"))
    assert response.status_code == 200
    assert response.json()["count"] == (rows + 1) // 2
    assert len(queries) <= 6, [q["sql"] for q in queries.captured_queries]
    with CaptureQueriesContext(connection) as summary_queries:
        assert client.get(reverse("api:exception-summary")).status_code == 200
    assert len(summary_queries) <= 4


def test_list_query_count_does_not_grow_with_the_rows(demo, api_as):
    client = api_as("planner")
    _raise("grow:0")
    client.get(reverse("api:exception-list"))  # warm the per-user caches (permissions, scope)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("api:exception-list"))
    for n in range(1, 25):
        _raise(f"grow:{n}", site=("NE-BOS", "EU-RTM", "SE-ATL")[n % 3])
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("api:exception-list"))
    assert len(one) == len(many)


def test_the_summary_counts_by_type_severity_status_and_sla_state(demo, api_as, user):
    _raise("sum:1", type="late_receipt", severity="high")  # SLA 24 hours: on time
    late = _raise("sum:2", type="damaged_goods", site="EU-RTM")
    OperationalException.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(minutes=5))
    soon = _raise("sum:3", type="anomaly")
    OperationalException.objects.filter(pk=soon.pk).update(due_at=timezone.now() + timedelta(hours=1))
    gone = _raise("sum:4")
    exception_cancel(exception=gone, actor=user("planner"), note="duplicate")
    body = api_as("planner").get(reverse("api:exception-summary")).json()
    assert body["total"] == 4 and body["open"] == 3
    assert body["by_status"] == {"open": 3, "acknowledged": 0, "resolved": 0, "cancelled": 1}
    assert body["by_type"]["late_receipt"] == 1 and body["by_type"]["damaged_goods"] == 1
    assert body["by_type"]["shortage"] == 0  # the cancelled one is not in the live queue
    assert body["by_type"]["anomaly"] == 1
    assert body["by_severity"] == {"low": 1, "medium": 1, "high": 1, "critical": 0}
    assert body["by_sla"] == {"on_time": 1, "due_soon": 1, "overdue": 1}
    ne_only = api_as("ne.operator").get(reverse("api:exception-summary")).json()
    assert ne_only["total"] == 3 and ne_only["by_sla"]["overdue"] == 0


def test_acknowledge_then_resolve_through_the_api(demo, api_as):
    exc = _raise("api:work")
    client = api_as("planner")
    acked = client.post(reverse("api:exception-acknowledge", args=[exc.pk]), {}, format="json")
    assert acked.status_code == 200, acked.content
    assert acked.json()["status"] == "acknowledged" and acked.json()["acknowledged_by"] == "planner"
    done = client.post(reverse("api:exception-resolve", args=[exc.pk]),
                       {"root_cause": "other", "note": "Mislabelled pallet"}, format="json")
    assert done.status_code == 200, done.content
    assert (done.json()["status"], done.json()["root_cause"]) == ("resolved", "other")
    again = client.post(reverse("api:exception-acknowledge", args=[exc.pk]), {}, format="json")
    _error(again, 409, "invalid_transition")


def test_cancel_through_the_api(demo, api_as):
    exc = _raise("api:cancel")
    response = api_as("planner").post(reverse("api:exception-cancel", args=[exc.pk]), {"note": "Raised twice"},
                                      format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["resolution_note"]) == ("cancelled", "Raised twice")


BAD_INPUT = [
    ("resolve", {}, 400, "validation_error"),
    ("resolve", {"root_cause": "gremlins", "note": "x"}, 400, "validation_error"),
    ("resolve", {"root_cause": "other"}, 400, "validation_error"),
    ("resolve", {"root_cause": "other", "note": "   "}, 400, "validation_error"),
    ("resolve", {"root_cause": "data_error", "note": "x", "status": "cancelled"}, 400, "validation_error"),
    ("resolve", {"root_cause": ["data_error"]}, 400, "validation_error"),
    ("resolve", {"root_cause": "data_error", "note": "x" * 4001}, 400, "validation_error"),
    ("resolve", ["root_cause"], 400, "validation_error"),
    ("acknowledge", {"status": "resolved"}, 400, "validation_error"),
    ("acknowledge", "nonsense", 400, "validation_error"),
    ("cancel", {"note": 5, "extra": 1}, 400, "validation_error"),
    ("cancel", {"note": {"x": 1}}, 400, "validation_error"),
]


@pytest.mark.parametrize("action, body, status, code", BAD_INPUT)
def test_bad_input_to_the_exception_actions_is_refused_and_changes_nothing(demo, api_as, action, body, status,
                                                                           code):
    exc = _raise(f"bad:{action}")
    before = OperationalException.objects.values().get(pk=exc.pk)
    response = api_as("planner").post(reverse(f"api:exception-{action}", args=[exc.pk]), body, format="json")
    _error(response, status, code)
    assert OperationalException.objects.values().get(pk=exc.pk) == before
    assert OperationalException.objects.count() == 1


@pytest.mark.parametrize("action, body", [("acknowledge", {}), ("resolve", {"root_cause": "data_error"}),
                                          ("cancel", {})])
def test_actions_on_a_closed_exception_answer_409_and_change_nothing(demo, api_as, user, action, body):
    exc = _raise(f"closed:{action}")
    exception_resolve(exception=exc, actor=user("planner"), root_cause="data_error", note="")
    before = OperationalException.objects.values().get(pk=exc.pk)
    response = api_as("planner").post(reverse(f"api:exception-{action}", args=[exc.pk]), body, format="json")
    _error(response, 409, "invalid_transition")
    assert OperationalException.objects.values().get(pk=exc.pk) == before


@pytest.mark.parametrize("action, body", [("acknowledge", {}), ("resolve", {"root_cause": "data_error"}),
                                          ("cancel", {})])
def test_operators_get_403_on_the_actions_in_and_out_of_scope_and_nothing_changes(demo, api_as, action, body):
    inside, outside = _raise(f"scope:in:{action}"), _raise(f"scope:out:{action}", site="EU-RTM")
    client = api_as("ne.operator")
    for exc in (inside, outside):
        response = client.post(reverse(f"api:exception-{action}", args=[exc.pk]), body, format="json")
        _error(response, 403, "permission_denied")
    assert set(OperationalException.objects.values_list("status", flat=True)) == {"open"}


def test_a_scoped_worker_gets_404_for_an_exception_outside_their_scope(demo, api_as, user):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from erp import services as platform
    from warehouses.models import Region

    ne_planner = get_user_model().objects.create_user("ne.planner", password="x-unused-x")
    ne_planner.groups.add(Group.objects.get(name="Planner"))
    platform.scope_grant(user=ne_planner, actor=None, regions=[Region.objects.get(code="NE")])
    outside = _raise("scoped:out", site="EU-RTM")
    inside = _raise("scoped:in")
    client = api_as("ne.planner")
    _error(client.post(reverse("api:exception-acknowledge", args=[outside.pk]), {}, format="json"), 404, "not_found")
    assert OperationalException.objects.get(pk=outside.pk).status == "open"
    assert client.post(reverse("api:exception-acknowledge", args=[inside.pk]), {}, format="json").status_code == 200
    with pytest.raises(Exception) as refused:
        exception_acknowledge(exception=outside, actor=ne_planner)
    assert getattr(refused.value, "code", None) == "not_found"
