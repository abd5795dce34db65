"""The planner's exception dashboard: tiles, chart data, the filterable queue, htmx acknowledge and resolve."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from governance.demo import DEMO_EXCEPTIONS, raise_demo_exceptions
from governance.models import OperationalException
from governance.services.exceptions import exception_raise_command, exceptions_escalate
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _without_demo_exceptions(demo):
    """The demo network raises a few exceptions; these tests count only their own."""
    OperationalException.objects.all().delete()


@pytest.fixture
def browser(client, user):
    def login(username: str):
        client.force_login(user(username))
        return client

    return login


def _raise(key: str, *, type: str = "shortage", site: str = "NE-BOS", **kwargs) -> OperationalException:
    return exception_raise_command(type=type, business_key=key, title=f"Exception {key}",
                                   warehouse=Warehouse.objects.get(code=site), **kwargs)


def test_the_dashboard_shows_tiles_chart_data_and_the_queue_refreshing_every_30_seconds(browser):
    bos = _raise("dash:bos")
    rtm = _raise("dash:rtm", type="damaged_goods", site="EU-RTM")
    OperationalException.objects.filter(pk=rtm.pk).update(due_at=timezone.now() - timedelta(hours=2))
    response = browser("planner").get(reverse("governance:exception-dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert bos.number in html and rtm.number in html
    assert 'hx-trigger="every 30s' in html
    assert "vendor/chart.umd.min.js" in html
    assert response.context["summary"]["by_sla"]["overdue"] == 1
    chart = response.context["chart"]
    assert chart["counts"][chart["labels"].index("Damaged goods")] == 1
    assert 'id="exception-chart-data"' in html
    assert 'href="/governance/exceptions/"' in html  # the nav entry


def test_the_panel_fragment_filters_by_type_severity_status_and_warehouse(browser, user):
    from governance.services.exceptions import exception_resolve

    bos = _raise("f:bos")
    rtm = _raise("f:rtm", type="damaged_goods", site="EU-RTM")
    done = _raise("f:done", type="anomaly")
    exception_resolve(exception=done, actor=user("planner"), root_cause="data_error", note="")
    client = browser("planner")
    url = reverse("governance:exception-panel")

    def numbers(**params):
        response = client.get(url, params, **HTMX)
        assert response.status_code == 200
        assert "<html" not in response.content.decode()
        return {row["exception"].number for row in response.context["rows"]}

    assert numbers() == {bos.number, rtm.number}
    assert numbers(type="damaged_goods") == {rtm.number}
    assert numbers(severity="high") == {bos.number}
    assert numbers(warehouse="NE-BOS") == {bos.number}
    assert numbers(status="resolved") == {done.number}
    assert numbers(status="") == {bos.number, rtm.number, done.number}
    assert numbers(type="bogus", severity="bogus", status="bogus") == {bos.number, rtm.number}
    # the dashboard URL answers htmx with the same fragment
    fragment = client.get(reverse("governance:exception-dashboard"), {"type": "damaged_goods"}, **HTMX)
    assert rtm.number in fragment.content.decode() and bos.number not in fragment.content.decode()


def test_an_operator_sees_only_their_scope_and_no_work_buttons(browser):
    bos = _raise("op:bos")
    rtm = _raise("op:rtm", site="EU-RTM")
    response = browser("ne.operator").get(reverse("governance:exception-dashboard"))
    html = response.content.decode()
    assert bos.number in html and rtm.number not in html
    assert ">Acknowledge</button>" not in html
    assert response.context["summary"]["open"] == 1


def test_acknowledge_with_htmx_answers_the_refreshed_row_and_asks_the_panel_to_refresh(browser):
    exc = _raise("ack:1")
    response = browser("planner").post(reverse("governance:exception-acknowledge", args=[exc.pk]), **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "exceptionsChanged"
    html = response.content.decode()
    assert f'id="exception-{exc.pk}"' in html and "Acknowledged" in html
    assert OperationalException.objects.get(pk=exc.pk).status == "acknowledged"


def test_resolve_with_htmx_takes_root_cause_and_note_inline(browser):
    exc = _raise("res:1")
    client = browser("planner")
    refused = client.post(reverse("governance:exception-resolve", args=[exc.pk]), {"root_cause": "other", "note": ""},
                          **HTMX)
    assert refused.status_code == 200 and "HX-Trigger" not in refused
    assert "Explain the root cause" in refused.content.decode()
    assert OperationalException.objects.get(pk=exc.pk).status == "open"
    done = client.post(reverse("governance:exception-resolve", args=[exc.pk]),
                       {"root_cause": "supplier_delay", "note": "ACME"}, **HTMX)
    assert done.status_code == 200
    exc.refresh_from_db()
    assert (exc.status, exc.root_cause, exc.resolution_note) == ("resolved", "supplier_delay", "ACME")
    again = client.post(reverse("governance:exception-acknowledge", args=[exc.pk]), **HTMX)
    assert "cannot become acknowledged" in again.content.decode()


def test_without_htmx_the_actions_redirect_to_the_dashboard_with_a_message(browser):
    exc = _raise("plain:1")
    response = browser("planner").post(reverse("governance:exception-acknowledge", args=[exc.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("governance:exception-dashboard")
    assert OperationalException.objects.get(pk=exc.pk).status == "acknowledged"


def test_operators_get_403_and_out_of_scope_workers_404_on_the_screen_actions(browser, user):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from erp import services as platform
    from warehouses.models import Region

    exc = _raise("screen:scope", site="EU-RTM")
    assert browser("eu.operator").post(reverse("governance:exception-acknowledge", args=[exc.pk]),
                                       **HTMX).status_code == 403
    ne_planner = get_user_model().objects.create_user("ne.planner2")
    ne_planner.groups.add(Group.objects.get(name="Planner"))
    platform.scope_grant(user=ne_planner, actor=None, regions=[Region.objects.get(code="NE")])
    client = browser("planner")
    client.force_login(ne_planner)
    assert client.post(reverse("governance:exception-resolve", args=[exc.pk]),
                       {"root_cause": "data_error"}, **HTMX).status_code == 404
    assert client.get(reverse("governance:exception-dashboard")).context["summary"]["total"] == 0
    assert OperationalException.objects.get(pk=exc.pk).status == "open"


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("governance:exception-dashboard"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_dashboard_costs_the_same_queries_for_few_or_many_exceptions(browser, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = browser("planner")
    _raise("q:0")
    client.get(reverse("governance:exception-panel"), **HTMX)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("governance:exception-panel"), **HTMX)
    for n in range(1, 20):
        _raise(f"q:{n}", site=("NE-BOS", "EU-RTM", "SE-ATL")[n % 3])
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("governance:exception-panel"), **HTMX)
    assert len(few) == len(many)


# --- the demo command -----------------------------------------------------------------------------


def test_the_demo_command_raises_a_realistic_handful_once_with_one_already_past_its_sla():
    assert raise_demo_exceptions() == len(DEMO_EXCEPTIONS)
    call_command("raise_demo_exceptions", stdout=open("/dev/null", "w"))  # noqa: SIM115 - discarded output
    assert raise_demo_exceptions() == 0
    rows = OperationalException.objects.all()
    assert rows.count() == len(DEMO_EXCEPTIONS)
    assert set(rows.values_list("raised_count", flat=True)) == {1}
    sites = set(rows.values_list("warehouse__code", flat=True))
    assert {"NE-BOS", "SE-ATL", "EU-RTM"} <= sites
    assert {"shortage", "damaged_goods", "late_receipt"} <= set(rows.values_list("type", flat=True))
    assert rows.filter(due_at__lt=timezone.now()).count() >= 1
    assert exceptions_escalate() >= 1
    assert json.dumps(list(rows.values_list("detail", flat=True)))  # details are plain JSON
