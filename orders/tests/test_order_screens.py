"""The customer-service screens of sales orders (issue 5, point 7): the order list with its filters and the fill rate
of the scope, the order's page with its Confirm and Cancel buttons, and order entry with its htmx parts (ship-to
choices, a line more, the live availability and promise of each line).

``ne.service`` is the demo's customer service user of region NE (``eu.service`` is made per test). Stock is received on
twins (``T-<sku>``): T-CLN-0003 has 10 EA at NE-NYC and SE-ATL and none at NE-BOS, C-NE-001's home, so its orders
are allocated at NE-NYC; T-PAP-0003 has none anywhere, so its lines are backordered at NE-BOS.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from erp import services as platform
from governance.selectors import policy_value
from inventory import services as stock
from inventory.models import Item, ItemWarehouseSummary
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders import rules
from orders.models import Allocation, Customer, SalesOrder, SalesOrderLine
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from warehouses.models import CarrierLane, Region

pytestmark = pytest.mark.django_db

D = Decimal
HTMX = {"HTTP_HX_REQUEST": "true"}
LIST, NEW, SHIP_TOS, PREVIEW = "/orders/", "/orders/new/", "/orders/new/ship-tos/", "/orders/new/preview/"


def _service_user(username: str, region: str) -> Any:
    """The demo's customer service user of that region (``ne.service``), or one made for the test."""
    account = get_user_model().objects.filter(username=username).first()
    if account is None:
        account = get_user_model().objects.create_user(username, password="x-unused-x")
        account.groups.add(Group.objects.get(name="Customer service"))
        platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code=region)])
    return get_user_model().objects.get(pk=account.pk)


def _browser(account: Any) -> Client:
    client = Client()
    client.force_login(account)
    return client


@pytest.fixture
def twin(demo: Any) -> Any:
    ensure_standard_statuses()
    made = item("CLN-0003")
    for site in ("NE-NYC", "SE-ATL"):
        stock.stock_receive(warehouse=warehouse(site), location=location(site, "A-01-01"), item=made,
                            quantity=D(10), uom="EA", unit_cost=D(2), reference="screen test", actor=None)
    return made


@pytest.fixture
def scarce(demo: Any) -> Any:
    ensure_standard_statuses()
    return item("PAP-0003")


@pytest.fixture
def service(demo: Any) -> Client:
    return _browser(_service_user("ne.service", "NE"))


@pytest.fixture
def browser_as(user: Any) -> Any:
    return lambda username: _browser(user(username))


def page(response: Any) -> str:
    return response.content.decode()


def _order(code: str, sku_item: Any, quantity: int = 2, *, confirm: bool = True, external_ref: str = "",
           requested: dt.date | None = None, now: dt.datetime | None = None) -> SalesOrder:
    customer = Customer.objects.get(code=code)
    order = sales_order_create(customer=customer, ship_to=customer.ship_tos.get(code="MAIN"), actor=None,
                               lines=[OrderLineSpec(item=sku_item, quantity=D(quantity), uom="EA")],
                               external_ref=external_ref, requested_date=requested)
    return sales_order_confirm(order=order, actor=None, now=now) if confirm else order


def _listed(html: str) -> set[str]:
    return set(re.findall(r'data-order="(SO-\d+)"', html))


def _expected_promise(site: str, customer_region: str, now: dt.datetime) -> dt.date:
    hours, minutes = str(policy_value("fulfillment.shipping_cutoff", warehouse=warehouse(site)).value).split(":")
    transit = min(CarrierLane.objects.filter(origin_region=warehouse(site).region,
                                             destination_region__code=customer_region)
                  .values_list("transit_days", flat=True))
    return rules.promise(now=now, calendar=rules.WarehouseCalendar(timezone=warehouse(site).timezone),
                         cutoff=dt.time(int(hours), int(minutes)), transit_days=transit).delivery_date


def _entry(*lines: tuple[str, str, str], **header: Any) -> dict[str, Any]:
    """An order entry post: the header (C-NE-001 to MAIN by default) and ``lines`` as (sku, quantity, unit)."""
    data = {"customer": "C-NE-001", "ship_to": "MAIN", "requested_date": "", "external_ref": "",
            "action": "create_confirm", "lines-TOTAL_FORMS": str(len(lines)), "lines-INITIAL_FORMS": "0", **header}
    for index, (sku, quantity, uom) in enumerate(lines):
        data.update({f"lines-{index}-sku": sku, f"lines-{index}-quantity": quantity, f"lines-{index}-uom": uom})
    return data


# --- the order list ----------------------------------------------------------------------------------------


def test_the_order_list_shows_the_orders_of_the_users_regions_only(twin, browser_as):
    northeast, southeast = _order("C-NE-001", twin), _order("C-SE-001", twin)

    operator = page(browser_as("ne.operator").get(LIST))
    planner = page(browser_as("planner").get(LIST))

    assert northeast.number in _listed(operator) and southeast.number not in _listed(operator)
    assert {northeast.number, southeast.number} <= _listed(planner)
    assert f'href="/orders/{northeast.pk}/"' in operator
    assert 'href="/orders/"' in operator  # the Orders section of the navigation


def test_the_order_list_filters_by_status_warehouse_and_dates(twin, scarce, service):
    draft = _order("C-NE-001", twin, confirm=False, requested=dt.date(2030, 1, 10), external_ref="PO-DRAFT-1")
    allocated = _order("C-NE-001", twin, requested=dt.date(2030, 2, 1))
    backordered = _order("C-NE-001", scarce, requested=dt.date(2030, 2, 2))
    ours = {draft.number, allocated.number, backordered.number}

    def shown(**params: str) -> set[str]:
        response = service.get(LIST, params)
        assert response.status_code == 200
        return _listed(page(response)) & ours

    assert shown() == ours
    assert shown(status="draft") == {draft.number}
    assert shown(status="backordered") == {backordered.number}
    assert shown(warehouse="NE-NYC") == {allocated.number}
    assert shown(warehouse="NE-BOS") == {backordered.number}
    assert shown(dates="requested", **{"from": "2030-01-01", "to": "2030-01-31"}) == {draft.number}
    assert shown(dates="requested", **{"from": "2030-02-02"}) == {backordered.number}
    # "Taken" is a day on the reader's clock: the NE warehouses' time zone for ne.service.
    yesterday_there = timezone.localdate(timezone=ZoneInfo("America/New_York")) - dt.timedelta(days=1)
    assert shown(dates="created", to=yesterday_there.isoformat()) == set()
    assert shown(dates="created", **{"from": (yesterday_there + dt.timedelta(days=1)).isoformat()}) == ours
    assert shown(q="PO-DRAFT-1") == {draft.number}
    assert shown(q=allocated.number) == {allocated.number}
    assert shown(status="no-such-status") == ours  # an unknown status is no filter, not an error


def test_filtering_with_htmx_answers_the_rows_and_the_pager_only(twin, service):
    order = _order("C-NE-001", twin)

    response = service.get(LIST, {"status": "allocated"}, **HTMX)

    html = page(response)
    assert response.status_code == 200 and "<html" not in html
    assert order.number in _listed(html)
    assert 'id="pager"' in html and 'hx-swap-oob="true"' in html
    assert "HX-Request" in response["Vary"]


def test_the_list_wires_its_filters_to_the_table_body(service):
    html = page(service.get(LIST))

    assert re.search(r'<form[^>]*hx-get="/orders/"[^>]*hx-target="#rows"', html, re.S)
    for name in ("status", "warehouse", "dates", "from", "to", "q"):
        assert f'name="{name}"' in html, name
    assert 'href="/orders/new/"' in html  # customer service may take orders


def test_a_malformed_date_filter_is_a_message_not_an_error(twin, service):
    order = _order("C-NE-001", twin)

    response = service.get(LIST, {"from": "2030-13-45", "to": "soon"})

    assert response.status_code == 200
    assert "Dates are typed as YYYY-MM-DD" in page(response)
    assert order.number in _listed(page(response))


def test_the_list_shows_the_fill_rate_of_the_users_scope_over_the_last_30_days(twin, user, browser_as):
    ten_days_ago = timezone.now() - dt.timedelta(days=10)
    _order("C-NE-001", twin, now=ten_days_ago)  # due about nine days ago, never shipped
    _order("C-SE-001", twin, now=ten_days_ago)

    html = page(browser_as("ne.operator").get(LIST))

    panel = re.search(r'id="fill-rate"(.*?)</section>', html, re.S).group(1)
    assert re.search(r'data-field="due">1<', panel) and re.search(r'data-field="filled">0<', panel)
    assert "0.0 %" in panel and 'data-warehouse="NE-NYC"' in panel and "SE-ATL" not in panel
    europe = re.search(r'id="fill-rate"(.*?)</section>', page(browser_as("eu.operator").get(LIST)), re.S).group(1)
    assert "no lines due" in europe


@pytest.mark.parametrize("username", ["planner", "ne.operator"])
def test_the_list_runs_the_same_number_of_queries_for_one_row_and_a_full_page(twin, browser_as, username):
    orders = [_order("C-NE-001", twin, 1) for _ in range(4)]
    client = browser_as(username)
    client.get(LIST)  # warm per-process caches

    def queries(**params: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST, params).status_code == 200
        return len(captured)

    assert queries(q=orders[0].number) == queries()
    with CaptureQueriesContext(connection) as one:
        client.get(LIST, {"q": orders[0].number}, **HTMX)
    with CaptureQueriesContext(connection) as full:
        client.get(LIST, **HTMX)
    assert len(one) == len(full)


def test_users_without_the_view_permission_are_forbidden_and_visitors_sent_to_sign_in(demo):
    roleless = get_user_model().objects.create_user("nobody.orders", password="x-unused-x")
    for url in (LIST, "/orders/1/", NEW):
        assert _browser(roleless).get(url).status_code == 403, url
        assert Client().get(url)["Location"].startswith("/accounts/login/"), url


# --- the order's page --------------------------------------------------------------------------------------


def test_the_order_page_shows_lines_allocations_and_the_history_of_the_order_and_its_lines(twin, service):
    order = _order("C-NE-001", twin, 4, external_ref="PO-77")
    line = SalesOrderLine.objects.get(order=order)

    response = service.get(f"/orders/{order.pk}/")

    html = page(response)
    assert response.status_code == 200
    assert order.number in html and "PO-77" in html and "C-NE-001" in html
    row = re.search(r'<tr data-line="1"[^>]*>(.*?)</tr>', html, re.S).group(1)
    assert 'data-field="warehouse">NE-NYC<' in row
    assert f'data-field="promised_date">{line.promised_date:%Y-%m-%d}<' in row
    assert re.search(r'data-field="allocated">4<', row) and re.search(r'data-field="backordered">0<', row)
    allocation = Allocation.objects.get(line=line)
    allocated = re.search(rf'<tr data-allocation="{allocation.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "NE-NYC" in allocated and "not released" in allocated
    history = re.search(r'id="audit-history-orders_salesorder-\d+"(.*?)</section>', html, re.S).group(1)
    assert "Line 1" in history and "Order" in history and "promised_date" in history
    assert f'href="/orders/{order.pk}/cancel/"' in html  # to the confirm step, never a one-click POST
    assert f'action="/orders/{order.pk}/confirm/"' not in html  # only a draft can be confirmed


def test_an_order_outside_the_scope_is_not_found_like_one_that_does_not_exist(twin, browser_as):
    southeast = _order("C-SE-001", twin)

    assert browser_as("ne.operator").get(f"/orders/{southeast.pk}/").status_code == 404
    assert browser_as("ne.operator").get("/orders/999999999/").status_code == 404
    assert browser_as("planner").get(f"/orders/{southeast.pk}/").status_code == 200


def test_confirming_from_the_order_page_promises_and_allocates(twin, service):
    order = _order("C-NE-001", twin, 3, confirm=False)
    html = page(service.get(f"/orders/{order.pk}/"))
    assert f'action="/orders/{order.pk}/confirm/"' in html and "Nothing is allocated to a draft" in html

    response = service.post(f"/orders/{order.pk}/confirm/", follow=True)

    assert response.redirect_chain[-1][0] == f"/orders/{order.pk}/"
    order.refresh_from_db()
    assert order.status == "allocated"
    assert f"{order.number} is confirmed and allocated." in page(response)


def test_a_refused_confirmation_is_a_message_and_changes_nothing(twin, service):
    order = _order("C-NE-001", twin)
    held = ItemWarehouseSummary.objects.aggregate(total=Sum("allocated"))["total"]

    response = service.post(f"/orders/{order.pk}/confirm/", follow=True)

    assert response.status_code == 200
    assert "only a draft can be confirmed" in page(response)
    assert 'class="message message--error"' in page(response)
    assert ItemWarehouseSummary.objects.aggregate(total=Sum("allocated"))["total"] == held


def test_cancelling_from_the_order_page_releases_the_stock(twin, service):
    order = _order("C-NE-001", twin, 5)
    summary = ItemWarehouseSummary.objects.get(item=twin, warehouse=warehouse("NE-NYC"))
    assert summary.allocated == 5

    response = service.post(f"/orders/{order.pk}/cancel/", {"confirm": "yes", "reason": "Customer called"},
                            follow=True)

    order.refresh_from_db()
    summary.refresh_from_db()
    assert order.status == "cancelled" and summary.allocated == 0
    assert order.cancel_reason == "Customer called"
    html = page(response)
    assert "is cancelled: every allocation is released" in html
    assert re.search(r'data-field="cancel_reason">Customer called<', html)
    history = re.search(r'id="audit-history-orders_salesorder-\d+"(.*?)</section>', html, re.S).group(1)
    assert "cancel_reason" in history and "Customer called" in history  # the reason is on the audit trail
    again = service.post(f"/orders/{order.pk}/cancel/", {"confirm": "yes"}, follow=True)
    assert again.status_code == 200 and "it cannot be cancelled" in page(again)


def test_the_cancel_step_names_what_will_be_undone_and_changes_nothing(twin, service):
    order = _order("C-NE-001", twin, 5)

    html = page(service.get(f"/orders/{order.pk}/cancel/"))

    assert f"Cancel order {order.number}?" in html
    assert f"Releases 1 allocation: 5 EA of {twin.sku} at NE-NYC." in html
    assert "Cancels line 1: nothing of it will ship." in html
    assert '<input type="hidden" name="confirm" value="yes">' in html
    assert re.search(r'<label[^>]*for="id_reason"[^>]*>\s*Reason', html) and 'name="reason"' in html
    assert "button--danger" in html and "Cancel the order" in html
    assert f'href="/orders/{order.pk}/"' in html and "Keep the order" in html
    order.refresh_from_db()
    assert order.status == "allocated"


def test_a_cancel_post_that_skipped_the_confirm_step_changes_nothing(twin, service):
    order = _order("C-NE-001", twin, 5)

    response = service.post(f"/orders/{order.pk}/cancel/", {"reason": "one click"})

    html = page(response)
    assert response.status_code == 200 and "Nothing has been done yet" in html
    assert f"Cancel order {order.number}?" in html
    order.refresh_from_db()
    assert order.status == "allocated" and order.cancel_reason == ""
    assert ItemWarehouseSummary.objects.get(item=twin, warehouse=warehouse("NE-NYC")).allocated == 5


def test_a_reason_too_long_is_an_error_beside_the_field_and_changes_nothing(twin, service):
    order = _order("C-NE-001", twin, 5)

    response = service.post(f"/orders/{order.pk}/cancel/", {"confirm": "yes", "reason": "x" * 501})

    html = page(response)
    assert response.status_code == 400
    assert re.search(r'class="field__error"[^>]*>[^<]*At most 500 characters \(this is 501\)', html), html
    order.refresh_from_db()
    assert order.status == "allocated" and order.cancel_reason == ""


def test_operators_see_no_buttons_and_may_not_confirm_or_cancel(twin, browser_as):
    order = _order("C-NE-001", twin, confirm=False)
    client = browser_as("ne.operator")

    html = page(client.get(f"/orders/{order.pk}/"))

    assert "/confirm/" not in html and "/cancel/" not in html
    assert client.post(f"/orders/{order.pk}/confirm/").status_code == 403
    assert client.post(f"/orders/{order.pk}/cancel/").status_code == 403
    assert client.post(f"/orders/{order.pk}/cancel/", {"confirm": "yes"}).status_code == 403
    assert client.get(f"/orders/{order.pk}/cancel/").status_code == 403
    order.refresh_from_db()
    assert order.status == "draft"


def test_customer_service_of_another_region_finds_no_order_to_confirm(twin, demo):
    order = _order("C-NE-001", twin, confirm=False)
    europe = _browser(_service_user("eu.service", "EU"))

    assert europe.post(f"/orders/{order.pk}/confirm/").status_code == 404
    assert europe.post(f"/orders/{order.pk}/cancel/").status_code == 404
    assert europe.post(f"/orders/{order.pk}/cancel/", {"confirm": "yes", "reason": "x"}).status_code == 404
    assert europe.get(f"/orders/{order.pk}/cancel/").status_code == 404
    assert europe.get(f"/orders/{order.pk}/confirm/").status_code == 405
    order.refresh_from_db()
    assert order.status == "draft"


# --- order entry -------------------------------------------------------------------------------------------


def test_the_entry_form_offers_the_customers_of_the_scope_and_reloads_ship_tos_with_htmx(service, browser_as):
    html = page(service.get(NEW))

    assert 'value="C-NE-001"' in html and 'value="C-SE-001"' not in html
    assert re.search(r'<select name="customer"[^>]*hx-get="/orders/new/ship-tos/"', html)
    assert "Choose a customer first" in html
    assert 'name="lines-TOTAL_FORMS" value="1"' in html and 'name="lines-0-sku"' in html
    assert 'value="create_confirm"' in html
    assert browser_as("ne.operator").get(NEW).status_code == 403  # operators do not take orders


def test_choosing_a_customer_answers_its_ship_to_addresses(service):
    response = service.get(SHIP_TOS, {"customer": "C-NE-001"}, **HTMX)

    html = page(response)
    assert response.status_code == 200 and "<html" not in html
    assert '<option value="MAIN"' in html and 'id="id_ship_to"' in html
    assert response["HX-Trigger-After-Settle"] == "order-header-changed"
    outside = page(service.get(SHIP_TOS, {"customer": "C-SE-001"}, **HTMX))
    assert "Choose a customer first" in outside and "MAIN" not in outside


def test_entering_an_order_and_confirming_it_allocates_and_shows_the_order(twin, service):
    before = timezone.now()
    response = service.post(NEW, _entry(("T-CLN-0003", "4", ""), ("T-CLN-0003", "1", "CS"),
                                        external_ref="PO-SCREEN-1"))
    after = timezone.now()

    order = SalesOrder.objects.get(customer__code="C-NE-001", external_ref="PO-SCREEN-1")
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    assert order.status == "allocated" and order.created_by.username == "ne.service"
    lines = list(SalesOrderLine.objects.filter(order=order).order_by("line_no"))
    assert [(line.quantity, line.uom_code, line.warehouse.code) for line in lines] == [
        (D("4.0000"), "EA", "NE-NYC"), (D("6.0000"), "CS", "NE-NYC")]
    assert lines[0].promised_date in {_expected_promise("NE-NYC", "NE", moment) for moment in (before, after)}
    shown = page(service.get(response["Location"]))
    assert f"{order.number} is confirmed and allocated." in shown


def test_entering_a_draft_takes_it_without_allocating(twin, service):
    response = service.post(NEW, _entry(("T-CLN-0003", "2", "EA"), action="create", requested_date="2030-05-04"))

    order = SalesOrder.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))
    assert order.status == "draft" and order.requested_date == dt.date(2030, 5, 4)
    assert not Allocation.objects.filter(line__order=order).exists()


def test_a_draft_whose_confirmation_is_refused_is_kept_and_says_why(twin, demo, user):
    # A customer service user without the right to confirm: the button is not offered, and a forged post of it
    # takes the draft and says confirming is not theirs.
    account = _service_user("ne.entry", "NE")
    group = Group.objects.create(name="Order entry only")
    group.permissions.set(Group.objects.get(name="Customer service").permissions.exclude(
        codename="change_salesorder"))
    account.groups.set([group])
    client = _browser(get_user_model().objects.get(pk=account.pk))
    assert 'value="create_confirm"' not in page(client.get(NEW))

    response = client.post(NEW, _entry(("T-CLN-0003", "2", "EA")), follow=True)

    assert response.status_code == 200
    order = SalesOrder.objects.get(created_by=account)
    assert order.status == "draft" and "your role may not confirm orders" in page(response)


@pytest.mark.parametrize(("post", "problem"), [
    (_entry(("T-NOPE-1", "1", "EA")), "Unknown SKU: T-NOPE-1."),
    (_entry(("T-CLN-0003", "1", "ZZ")), "T-CLN-0003 has no unit ZZ"),
    (_entry(("T-CLN-0003", "0", "EA")), "Must be more than 0."),
    (_entry(("T-CLN-0003", "-2", "EA")), "Must be more than 0."),
    (_entry(("T-CLN-0003", "lots", "EA")), "Enter a number."),
    (_entry(("T-CLN-0003", "1.23456", "EA")), "decimal places"),
    (_entry(("T-CLN-0003", "", "EA")), "Type a quantity."),
    (_entry(("", "3", "EA")), "Type or scan a SKU."),
    (_entry(("", "", ""), ("", "", "")), "An order needs at least one line."),
    (_entry(("T-CLN-0003", "1", "EA"), customer=""), "This field is required."),
    (_entry(("T-CLN-0003", "1", "EA"), customer="C-SE-001"), "Select a valid choice."),
    (_entry(("T-CLN-0003", "1", "EA"), ship_to="NOWHERE"), "NOWHERE is not an address of C-NE-001."),
    (_entry(("T-CLN-0003", "1", "EA"), requested_date="2030-02-30"), "Enter a valid date."),
    (_entry(("T-CLN-0003", "1", "EA"), external_ref="R" * 65), "at most 64 characters"),
    (_entry(("T-CLN-0003", "1", "EA"), **{"lines-TOTAL_FORMS": "x"}), "ManagementForm data is missing"),
    (_entry(("T-CLN-0003", "1", "CS0", )), "has no unit CS0"),
    (_entry(("T-CLN-0003", "0.00001", "EA")), "decimal places"),
])
def test_entry_mistakes_are_shown_on_the_form_and_nothing_is_taken(twin, service, post, problem):
    taken = SalesOrder.objects.count()

    response = service.post(NEW, post)

    assert response.status_code == 200
    html = page(response)
    assert problem in html, html[html.find("<main"):][:3000]
    assert 'class="field__error"' in html or 'class="message message--error"' in html
    assert SalesOrder.objects.count() == taken
    assert 'value="C-NE-001" selected' in html or post["customer"] != "C-NE-001"  # what was typed is kept


def test_an_external_reference_used_before_is_refused_naming_the_order(twin, service):
    first = _order("C-NE-001", twin, confirm=False, external_ref="PO-TWICE")
    taken = SalesOrder.objects.count()

    response = service.post(NEW, _entry(("T-CLN-0003", "1", "EA"), external_ref="PO-TWICE"))

    assert response.status_code == 200
    assert f"{first.number} already has the reference PO-TWICE." in page(response)
    assert SalesOrder.objects.count() == taken


def test_a_quantity_the_unit_cannot_convert_exactly_is_refused_by_the_service(twin, service):
    taken = SalesOrder.objects.count()

    response = service.post(NEW, _entry(("T-CLN-0003", "0.00005", "CS")))

    assert response.status_code == 200 and SalesOrder.objects.count() == taken
    assert "message--error" in page(response) or "field__error" in page(response)


def test_add_line_with_htmx_answers_the_lines_with_one_more_and_keeps_what_was_typed(twin, service):
    post = {**_entry(("T-CLN-0003", "4", "EA"), external_ref="PO-KEEP"), "action": "add_line"}

    response = service.post(NEW, post, **HTMX)

    html = page(response)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="order-lines"' in html
    assert 'name="lines-TOTAL_FORMS" value="2"' in html
    assert 'name="lines-0-sku" id="id_lines-0-sku" value="T-CLN-0003"' in html
    assert re.search(r'name="lines-1-sku" id="id_lines-1-sku" value=""[^>]*autofocus', html)
    assert "field__error" not in html  # nothing is being submitted yet
    assert SalesOrder.objects.filter(external_ref="PO-KEEP").count() == 0


def test_add_line_without_javascript_answers_the_whole_form(twin, service):
    post = {**_entry(("T-CLN-0003", "4", "EA"), external_ref="PO-KEEP"), "action": "add_line"}

    html = page(service.post(NEW, post))

    assert "<html" in html and 'value="PO-KEEP"' in html and 'name="lines-1-sku"' in html
    assert 'value="C-NE-001" selected' in html and '<option value="MAIN" selected' in html


def test_each_line_row_previews_itself_with_htmx(service):
    html = page(service.get(NEW))

    row = re.search(r'<tr id="line-0"[^>]*>', html, re.S).group(0)
    assert 'hx-get="/orders/new/preview/"' in row and 'hx-target="#line-0-preview"' in row
    assert "#id_customer" in row and "#id_ship_to" in row and '"prefix": "lines-0"' in row
    assert "order-header-changed from:body" in row


# --- the live preview --------------------------------------------------------------------------------------


def _preview(client: Client, sku: str, quantity: str = "4", uom: str = "", **params: str) -> str:
    query = {"customer": "C-NE-001", "ship_to": "MAIN", "requested_date": "", "prefix": "lines-0",
             "lines-0-sku": sku, "lines-0-quantity": quantity, "lines-0-uom": uom, **params}
    response = client.get(PREVIEW, query, **HTMX)
    assert response.status_code == 200
    return page(response)


def _available(html: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-warehouse="([A-Z-]+)"[^>]*>.*?data-field="available">([\d.]+) ', html, re.S))


def test_the_preview_shows_availability_per_candidate_and_the_promise_confirming_would_make(twin, service):
    before = timezone.now()
    html = _preview(service, "T-CLN-0003", "4")
    after = timezone.now()

    assert "<html" not in html
    # NE-BOS (home) first, then the rest of region NE; cross-region allocation is off by standard.
    assert _available(html) == {"NE-BOS": "0", "NE-NYC": "10"}
    promised = re.search(r'data-field="promised_date">(\d{4}-\d\d-\d\d)<', html).group(1)
    assert "Ships from <strong>NE-NYC</strong>" in html
    assert dt.date.fromisoformat(promised) in {_expected_promise("NE-NYC", "NE", m) for m in (before, after)}

    response = service.post(NEW, _entry(("T-CLN-0003", "4", "EA")))
    line = SalesOrderLine.objects.get(order_id=int(response["Location"].strip("/").split("/")[-1]))
    assert (line.warehouse.code, line.promised_date.isoformat()) == ("NE-NYC", promised)
    assert _available(_preview(service, "T-CLN-0003", "4")) == {"NE-BOS": "0", "NE-NYC": "6"}


def test_the_preview_reads_without_holding_anything(twin, service):
    held = list(ItemWarehouseSummary.objects.filter(item=twin).order_by("id").values_list("allocated", flat=True))

    _preview(service, "T-CLN-0003", "4")

    assert list(ItemWarehouseSummary.objects.filter(item=twin).order_by("id")
                .values_list("allocated", flat=True)) == held
    assert not Allocation.objects.filter(item=twin).exists()


def test_the_preview_says_when_a_line_would_be_backordered_and_when_it_is_due(scarce, twin, service):
    html = _preview(service, "T-PAP-0003", "3")

    assert "Backordered 3 EA" in html and "at NE-BOS" in html
    assert re.search(r'data-field="promised_date">\d{4}-\d\d-\d\d<', html)
    more = _preview(service, "T-CLN-0003", "2", "CS")  # 12 EA: more than NE-NYC's 10
    assert "Ships from <strong>NE-NYC</strong> (10 EA)" in more and "Backordered 2 EA" in more


def test_the_preview_honours_the_requested_date(twin, service):
    wanted = timezone.localdate() + dt.timedelta(days=40)

    html = _preview(service, "T-CLN-0003", "1", requested_date=wanted.isoformat())

    assert f'data-field="promised_date">{wanted.isoformat()}<' in html


@pytest.mark.parametrize(("sku", "quantity", "uom", "params", "hint"), [
    ("T-NOPE-9", "1", "", {}, "Unknown SKU: T-NOPE-9."),
    ("T-CLN-0003", "1", "", {"customer": ""}, "Choose the customer and the ship-to address"),
    ("T-CLN-0003", "1", "", {"customer": "C-SE-001"}, "Choose the customer and the ship-to address"),
    ("T-CLN-0003", "1", "", {"ship_to": "NOWHERE"}, "Choose the customer and the ship-to address"),
    ("T-CLN-0003", "lots", "", {}, "The quantity is not a number."),
    ("T-CLN-0003", "NaN", "", {}, "The quantity is not a number."),
    ("T-CLN-0003", "-1", "", {}, "Must be more than 0."),
    ("T-CLN-0003", "1e40", "", {}, "Too large."),
    ("T-CLN-0003", "1", "ZZ", {}, "T-CLN-0003 has no unit ZZ."),
    ("T-CLN-0003", "0.00001", "", {}, "decimal places"),
    ("T-CLN-0003", "1", "", {"requested_date": "someday"}, "Ships from"),
])
def test_the_preview_turns_every_mistake_into_a_hint(twin, service, sku, quantity, uom, params, hint):
    assert hint in _preview(service, sku, quantity, uom, **params)


def test_the_preview_ignores_a_row_it_cannot_name_and_needs_the_entry_permission(twin, service, browser_as):
    response = service.get(PREVIEW, {"prefix": "../x", "../x-sku": "T-CLN-0003"}, **HTMX)
    assert response.status_code == 200 and "Ships from" not in page(response)
    assert "Ships from" not in _preview(service, "")
    assert browser_as("ne.operator").get(PREVIEW, {"prefix": "lines-0"}).status_code == 403


def test_the_preview_names_the_item_finds_a_sku_in_any_case_and_offers_items_for_a_fragment(twin, service):
    found = _preview(service, "t-cln-0003", "4")
    known = Item.objects.get(sku="T-CLN-0003")
    assert f'data-field="item-name"><strong>T-CLN-0003</strong> {known.name}</p>' in found
    assert "Ships from" in found

    fragment = _preview(service, "t-cln-00")
    assert "Unknown SKU: t-cln-00. Did you mean:" in fragment and 'data-sku="T-CLN-0003"' in fragment
    by_name = _preview(service, known.name.split()[0].lower())
    assert 'data-sku="T-CLN-0003"' in by_name
    assert 'data-sku=' not in _preview(service, "ZZZ-NOTHING-LIKE-IT")


def test_an_order_taken_with_a_lower_case_sku_is_taken_for_that_item(twin, service):
    response = service.post(NEW, _entry(("t-cln-0003", "2", "EA")))

    assert response.status_code == 302
    line = SalesOrderLine.objects.get(order_id=int(response["Location"].strip("/").split("/")[-1]))
    assert line.item.sku == "T-CLN-0003"
