"""Role dashboards on the home page: real figures from the selectors, each a link to the list it counts, the
same numbers the API gives, and no placeholder anywhere."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from erp.demo import USERS
from erp.roles import ROLES

pytestmark = pytest.mark.django_db

FIGURE = re.compile(r'<a class="figure[^"]*" href="([^"]+)" data-figure="([^"]+)"[^>]*>\s*'
                    r'<span class="figure__value">([^<]*)</span>')


def _figures(page: str) -> dict[str, tuple[str, str]]:
    """``data-figure`` -> (href, value) of every figure on a page."""
    return {key: (href.replace("&amp;", "&"), value.strip()) for href, key, value in FIGURE.findall(page)}


def _home(client: Any, user: Any, username: str) -> str:
    client.force_login(user(username))
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("username", [spec.username for spec in USERS])
def test_no_home_page_shows_a_placeholder_and_every_figure_leads_to_a_list_the_user_may_open(client, user,
                                                                                             username):
    page = _home(client, user, username)

    assert "Planned" not in page and "Not built yet" not in page
    figures = _figures(page)
    assert figures, f"{username}'s home shows no figure"
    for key, (href, _) in figures.items():
        assert client.get(href).status_code == 200, f"{username}: {key} leads to {href}"


def test_every_role_gets_at_least_one_panel():
    from erp.views import PANELS

    covered = {role for spec in PANELS for role in spec.roles}
    assert covered >= {role.key for role in ROLES}


def _api_count(api: Any, url: str, **params: str) -> int:
    response = api.get(url, {**params, "page_size": 1})
    assert response.status_code == 200, response.content[:300]
    count: int = response.json()["count"]
    return count


def test_customer_service_sees_the_open_orders_and_returns_the_api_lists(client, user, api_as, sales_orders):
    figures = _figures(_home(client, user, "ne.service"))
    api = api_as("ne.service")

    for status in ("draft", "allocated", "partially_allocated", "backordered", "picking", "packed"):
        href, value = figures[f"orders-{status}"]
        assert int(value) == _api_count(api, "/api/v1/sales-orders/", status=status), status
        assert href == f"{reverse('orders:order-list')}?status={status}"
    assert int(figures["orders-draft"][1]) >= 1 and int(figures["orders-allocated"][1]) >= 1
    assert int(figures["returns-authorized"][1]) == _api_count(api, "/api/v1/returns/", status="authorized")


def test_a_late_promise_is_counted_and_its_link_lists_exactly_those_orders(client, user, sales_orders):
    late = sales_orders["allocated"]
    late.lines.update(promised_date=timezone.localdate() - dt.timedelta(days=2))

    figures = _figures(_home(client, user, "ne.service"))

    href, value = figures["promise-late"]
    assert int(value) >= 1
    listed = client.get(href).content.decode()
    assert late.number in listed and sales_orders["draft"].number not in listed


def test_the_operator_sees_pick_lists_and_counts_of_their_warehouses_as_the_api_does(client, user, api_as):
    figures = _figures(_home(client, user, "ne.operator"))
    api = api_as("ne.operator")

    assert int(figures["picklists-open"][1]) == _api_count(api, "/api/v1/pick-lists/", status="open")
    assert int(figures["counts-open-total"][1]) == _api_count(api, "/api/v1/cycle-counts/", status="open")
    assert all(not key.startswith(("picklists-EU", "counts-open-EU")) for key in figures)


def test_the_planner_sees_this_weeks_fill_rate_as_the_kpi_api_and_its_trend(client, user, api_as):
    page = _home(client, user, "planner")
    figures = _figures(page)
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())

    kpi = api_as("planner").get("/api/v1/kpis/fill-rate/", {"from": monday.isoformat(), "to": today.isoformat()})
    assert kpi.status_code == 200
    rate = kpi.json()["fill_rate"]
    expected = "none due" if rate is None else f"{Decimal(rate) * 100:.1f}%"
    assert figures["fill-rate-week"][1] == expected
    assert 'id="chart-fill-rate"' in page and "chart.umd.min.js" in page
    assert "exceptions-overdue" in figures


def test_the_process_owner_sees_the_decisions_waiting_for_them_and_deviations_ending(client, user):
    from governance.selectors import local_date
    from governance.services import deviations
    from warehouses.models import Warehouse

    today = local_date(timezone.now(), Warehouse.objects.get(code="NE-BOS"))
    request = deviations.deviation_request(
        policy_key="fulfillment.shipping_cutoff", scope_type="warehouse", scope_code="NE-BOS", value="17:45",
        rationale="Carriers collect later at this site.", effective_from=today,
        effective_to=today + dt.timedelta(days=3), actor=user("planner"))

    page = _home(client, user, "owner")
    figures = _figures(page)
    waiting = client.get(reverse("governance:approval-list")).content.decode()
    assert int(figures["decisions-waiting"][1]) == waiting.count('class="appr-row') >= 1

    deviations.deviation_approve(deviation=request, actor=user("owner"))
    page = _home(client, user, "owner")
    assert int(_figures(page)["deviations-expiring"][1]) >= 1
    assert reverse("governance:policy-deviation-detail", args=[request.pk]) in page


@pytest.fixture
def sales_orders(user: Any) -> dict[str, Any]:
    """A draft and an allocated order of C-NE-001, taken by ne.service."""
    from inventory.models import Item
    from orders.models import Customer
    from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create

    service = user("ne.service")
    customer = Customer.objects.get(code="C-NE-001")
    item = Item.objects.filter(sku__startswith="BEV").order_by("sku").first()
    assert item is not None
    orders = {}
    for name in ("draft", "allocated"):
        order = sales_order_create(customer=customer, ship_to=None, actor=service,
                                   lines=[OrderLineSpec(item=item, quantity=Decimal(1), uom=item.base_uom.code)])
        if name == "allocated":
            order = sales_order_confirm(order=order, actor=service)
        orders[name] = order
    return orders
