"""The browser screens: sign-in, the home page per role, and the scoped master-data lists and details."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.template.loader import get_template
from django.test import Client
from django.test.utils import CaptureQueriesContext

from erp import demo as demo_network
from erp.roles import ROLE_BY_KEY

pytestmark = pytest.mark.django_db

WAREHOUSE_CODES = {"NE-BOS", "NE-NYC", "SE-ATL", "SE-MIA", "EU-RTM", "EU-DUS"}
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def browser_as(user: Any) -> Any:
    """``browser_as("ne.operator")`` returns a test client signed in as that demo user."""

    def make(username: str) -> Client:
        client = Client()
        client.force_login(user(username))
        return client

    return make


@pytest.fixture
def roleless_user(demo: Any) -> Any:
    return get_user_model().objects.create_user(username="nobody", password="demo-password-123")


def page(response: Any) -> str:
    return response.content.decode()


# --- Signing in and out ----------------------------------------------------------------------


def test_signing_in_with_the_demo_password_lands_on_the_home_page(demo: Any) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": "ne.operator", "password": "demo"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Warehouse operator" in page(home)


def test_a_wrong_password_shows_the_login_form_again_with_an_error(demo: Any) -> None:
    response = Client().post("/accounts/login/", {"username": "ne.operator", "password": "wrong"})
    assert response.status_code == 200
    assert 'role="alert"' in page(response)
    assert "Sign in to Concord" in page(response)


def test_anonymous_visitors_are_sent_to_the_login_page(demo: Any) -> None:
    for url in ["/", "/warehouses/", "/items/", "/customers/", "/suppliers/", "/warehouses/NE-BOS/"]:
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


def test_logging_out_is_a_post_form_that_ends_the_session(browser_as: Any) -> None:
    client = browser_as("ne.operator")
    home = page(client.get("/"))
    assert '<form method="post" action="/accounts/logout/"' in home
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/")["Location"].startswith("/accounts/login/")


# --- Home per role ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", demo_network.USERS, ids=[spec.username for spec in demo_network.USERS])
def test_home_renders_for_every_demo_user_with_their_roles_and_warehouses(browser_as: Any, spec: Any) -> None:
    response = browser_as(spec.username).get("/")
    assert response.status_code == 200
    html = page(response)
    if spec.role:
        assert ROLE_BY_KEY[spec.role].group in html
    else:
        assert "Superuser" in html
    if spec.enterprise or spec.superuser:
        assert "Scope: the whole enterprise" in html
        assert all(code in html for code in WAREHOUSE_CODES)
    assert "Not built yet" not in html and "data-panel=" in html  # real panels only, never a placeholder
    assert '<form method="post" action="/accounts/logout/"' in html


def test_the_ne_operators_home_shows_only_the_two_northeast_warehouses_with_time_zones(browser_as: Any) -> None:
    html = page(browser_as("ne.operator").get("/"))
    assert "NE-BOS" in html and "NE-NYC" in html
    assert not {"SE-ATL", "SE-MIA", "EU-RTM", "EU-DUS"} & {code for code in WAREHOUSE_CODES if code in html}
    assert "America/New_York" in html
    assert "Northeast" in html
    assert "Warehouses in your scope <span class=\"muted\">(2)</span>" in html


def test_navigation_shows_the_sections_the_role_may_see(browser_as: Any, roleless_user: Any) -> None:
    html = page(browser_as("ne.operator").get("/"))
    for href in ["/warehouses/", "/locations/", "/items/", "/customers/", "/suppliers/"]:
        assert f'href="{href}"' in html
    client = Client()
    client.force_login(roleless_user)
    bare = page(client.get("/"))
    assert 'href="/warehouses/"' not in bare
    assert "no role yet" in bare


def test_pages_load_htmx_and_alpine_from_the_projects_own_static_files(browser_as: Any) -> None:
    html = page(browser_as("planner").get("/warehouses/"))
    assert '<script src="/static/vendor/htmx.min.js' in html
    assert '<script src="/static/vendor/alpine.min.js' in html
    assert "https://" not in html.split("<body")[0]


# --- Lists: scope, search, htmx partials, pagination -----------------------------------------


def test_the_ne_operators_warehouse_list_shows_boston_and_newark_only(browser_as: Any) -> None:
    html = page(browser_as("ne.operator").get("/warehouses/"))
    assert "NE-BOS" in html and "NE-NYC" in html
    for other in ["SE-ATL", "SE-MIA", "EU-RTM", "EU-DUS"]:
        assert other not in html


def test_an_enterprise_user_sees_every_warehouse(browser_as: Any) -> None:
    html = page(browser_as("planner").get("/warehouses/"))
    assert all(code in html for code in WAREHOUSE_CODES)


def test_location_and_customer_lists_are_narrowed_to_the_users_scope(browser_as: Any) -> None:
    client = browser_as("eu.operator")
    locations = page(client.get("/locations/?q=RCV"))
    assert "EU-RTM" in locations and "EU-DUS" in locations
    assert "NE-BOS" not in locations
    customers = page(client.get("/customers/"))
    assert "C-EU-001" in customers
    assert "C-NE-001" not in customers and "C-SE-001" not in customers


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/warehouses/EU-RTM/", "EU-RTM"),
        ("/warehouses/SE-ATL/", "SE-ATL"),
        ("/warehouses/EU-RTM/locations/RCV/", "EU-RTM"),
        ("/customers/C-EU-001/", "C-EU-001"),
    ],
)
def test_a_detail_outside_the_users_scope_is_not_found(browser_as: Any, url: str, code: str) -> None:
    response = browser_as("ne.operator").get(url)
    assert response.status_code == 404
    assert "Page not found" in page(response)
    assert code not in page(response)


def test_the_warehouse_detail_shows_its_location_tree(browser_as: Any) -> None:
    response = browser_as("ne.operator").get("/warehouses/NE-BOS/")
    assert response.status_code == 200
    html = page(response)
    assert "America/New_York" in html and "Concord Distribution Inc." in html
    assert "28 locations" in html
    tree = html.split('class="tree"')[1]
    # A-01-01 sits under STOR: it appears inside STOR's branch, after it.
    assert tree.index(">STOR<") < tree.index(">A-01-01<")
    assert 'href="/warehouses/NE-BOS/locations/A-01-01/"' in tree


def test_the_location_detail_shows_its_parent_and_children(browser_as: Any) -> None:
    html = page(browser_as("ne.operator").get("/warehouses/NE-BOS/locations/STOR/"))
    assert 'href="/warehouses/NE-BOS/locations/A-03-04/"' in html
    leaf = page(browser_as("ne.operator").get("/warehouses/NE-BOS/locations/A-03-04/"))
    assert 'href="/warehouses/NE-BOS/locations/STOR/"' in leaf
    assert "STOR/A-03-04" in leaf


def test_the_item_detail_lists_its_unit_conversions(browser_as: Any) -> None:
    html = page(browser_as("buyer").get("/items/BEV-0001/"))
    assert "1 CS" in html and ">24<" in html
    assert "1 PL" in html and ">1440<" in html
    listing = page(browser_as("buyer").get("/items/?q=BEV-0001"))
    assert "1 CS = 24 EA" in listing and "1 PL = 1440 EA" in listing


def test_the_customer_detail_lists_its_ship_to_addresses(browser_as: Any) -> None:
    html = page(browser_as("ne.operator").get("/customers/C-NE-001/"))
    assert "Harbor Grocers main dock" in html and "Harbor Grocers second DC" in html
    assert "NE-BOS" in html


def test_the_supplier_list_and_detail_show_terms(browser_as: Any) -> None:
    listing = page(browser_as("buyer").get("/suppliers/"))
    assert all(code in listing for code in ["ACME", "GULF", "NORD", "RHEIN", "PACIF", "DAIRY"])
    detail = page(browser_as("buyer").get("/suppliers/NORD/"))
    assert "EUR" in detail and "14 days" in detail and "60 days" in detail


def test_searching_with_htmx_returns_only_the_table_rows_and_the_pager(browser_as: Any) -> None:
    response = browser_as("planner").get("/items/", {"q": "BEV-0001"}, **HTMX)
    assert response.status_code == 200
    html = page(response)
    assert "<html" not in html
    assert html.lstrip().startswith("<tr>")
    # The headings come again only out of band, so their sort links keep the search just typed.
    assert html.count("<thead") == 1 and '<thead id="list-head" hx-swap-oob="true">' in html
    assert "q=BEV-0001" in html.split('<thead id="list-head"', 1)[1]
    assert "BEV-0001" in html and "BEV-0002" not in html
    assert 'id="pager" class="pager" aria-label="Pages" hx-swap-oob="true"' in html
    assert "HX-Request" in response["Vary"]


def test_the_list_page_wires_its_search_box_to_the_table_body(browser_as: Any) -> None:
    html = page(browser_as("planner").get("/items/"))
    assert 'hx-get="/items/"' in html
    assert 'hx-trigger="keyup changed delay:300ms, search"' in html
    assert 'hx-target="#rows"' in html
    assert '<tbody id="rows"' in html


def test_a_history_restore_request_gets_the_whole_page(browser_as: Any) -> None:
    response = browser_as("planner").get(
        "/items/?q=SNK", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in page(response)


def test_searching_without_javascript_filters_the_full_page(browser_as: Any) -> None:
    html = page(browser_as("planner").get("/customers/", {"q": "harbor"}))
    assert "<html" in html
    assert "C-NE-001" in html and "C-NE-002" not in html


def test_a_search_with_no_match_says_so(browser_as: Any) -> None:
    html = page(browser_as("planner").get("/suppliers/", {"q": "no-such-supplier"}, **HTMX))
    assert "Nothing matches" in html


def test_lists_are_paginated_and_keep_the_search_term(browser_as: Any) -> None:
    client = browser_as("planner")
    first = page(client.get("/items/"))
    assert "1\u201325 of 200" in first and "BEV-0025" in first and "CLN-0001" not in first
    second = page(client.get("/items/?page=2"))
    assert "CLN-0001" in second and "BEV-0001" not in second  # by SKU: beverages, then cleaning
    searched = page(client.get("/items/", {"q": "beverages"}))
    assert "1\u201325 of 25" in searched
    storage = page(client.get("/locations/", {"q": "A-0"}))
    assert 'href="?q=A-0&amp;page=2"' in storage


def test_a_page_number_past_the_end_is_not_found(browser_as: Any) -> None:
    assert browser_as("planner").get("/items/?page=99").status_code == 404


# --- Permissions -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/warehouses/", "/locations/", "/items/", "/customers/", "/suppliers/",
                                 "/warehouses/NE-BOS/", "/items/BEV-0001/", "/suppliers/ACME/"])
def test_a_user_without_the_view_permission_is_forbidden(roleless_user: Any, url: str) -> None:
    client = Client()
    client.force_login(roleless_user)
    response = client.get(url)
    assert response.status_code == 403
    assert "Not allowed" in page(response)


def test_the_roleless_user_still_gets_a_home_page_explaining_why_it_is_empty(roleless_user: Any) -> None:
    client = Client()
    client.force_login(roleless_user)
    response = client.get("/")
    assert response.status_code == 200
    assert "No warehouses are in your scope." in page(response)


# --- Error pages -----------------------------------------------------------------------------


def test_an_unknown_page_renders_the_styled_not_found_page(browser_as: Any) -> None:
    response = browser_as("planner").get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in page(response)
    assert "concord.css" in page(response)


def test_the_server_error_page_renders_without_a_request() -> None:
    html = get_template("errors/500.html").render({})
    assert "Something went wrong" in html
    assert "{%" not in html


# --- Query counts ----------------------------------------------------------------------------


def _queries(client: Client, url: str, params: dict[str, str], **headers: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params, **headers)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("username", ["planner", "ne.operator"])
@pytest.mark.parametrize(
    ("url", "one_row"),
    [
        ("/warehouses/", "NE-BOS"),
        ("/locations/", "A-01-01"),
        ("/items/", "BEV-0001"),
        ("/customers/", "C-NE-001"),
        ("/suppliers/", "ACME"),
    ],
)
def test_list_pages_run_the_same_number_of_queries_for_one_row_and_a_full_page(
    browser_as: Any, username: str, url: str, one_row: str
) -> None:
    client = browser_as(username)
    client.get(url)  # warm per-process caches (content types) so both measurements see the same state
    one = _queries(client, url, {"q": one_row})
    full = _queries(client, url, {})
    assert one == full
    assert _queries(client, url, {"q": one_row}, **HTMX) == _queries(client, url, {}, **HTMX)


@pytest.mark.parametrize(
    ("username", "url", "export", "import_"),
    [
        ("admin", "/items/", "/data/items/export.csv", "/data/items/import/"),
        ("integrator", "/customers/", "/data/customers/export.csv", "/data/customers/import/"),
        ("ne.operator", "/items/", "/data/items/export.csv", None),
        ("buyer", "/suppliers/", "/data/suppliers/export.csv", "/data/suppliers/import/"),
    ],
)
def test_list_screens_offer_csv_export_and_import_only_to_roles_that_may_use_them(
    client, user, username, url, export, import_
):
    client.force_login(user(username))
    html = client.get(url).content.decode()
    assert f'href="{export}"' in html
    if import_:
        assert f'href="{import_}"' in html
    else:
        assert "/import/" not in html


def test_home_shows_each_warehouses_local_time_in_its_own_time_zone(client, user):
    import re

    client.force_login(user("admin"))
    html = client.get("/").content.decode()
    offsets = dict(re.findall(r'href="/warehouses/([A-Z-]+)/".*?<time datetime="[^"]+([+-]\d\d:\d\d)"', html, re.S))
    assert offsets["NE-BOS"] in {"-05:00", "-04:00"}
    assert offsets["EU-RTM"] in {"+01:00", "+02:00"}
    assert offsets["EU-DUS"] in {"+01:00", "+02:00"}


def test_only_the_most_specific_navigation_section_is_current(browser_as: Any) -> None:
    html = page(browser_as("ne.operator").get("/stock/counts/"))
    current = re.findall(r'<a[^>]*href="(/[^"]*)"[^>]*aria-current="page"', html)
    assert current == ["/stock/counts/"], current


def test_policies_roles_and_processes_read_as_names_with_the_key_in_a_tooltip(browser_as: Any) -> None:
    from governance.templatetags.policy_tags import policy_name, process_name, role_name

    assert policy_name("fulfillment.shipping_cutoff") == "Fulfillment: shipping cutoff"
    assert policy_name("exceptions.sla") == "Exceptions: SLA"
    assert process_name("order_to_cash") == "Order to cash"
    assert role_name("warehouse_supervisor") == "Warehouse supervisor"
    html = page(browser_as("owner").get("/governance/policies/"))
    assert 'title="fulfillment.shipping_cutoff">Fulfillment: shipping cutoff</a>' in html
    assert ">fulfillment.shipping_cutoff<" not in html and ">order_to_cash<" not in html
