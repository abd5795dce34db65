"""The stock screens: inquiry across the scope, drill-down by location, move history and handheld status change."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from inventory.models import StockBalance, StockMove

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
WAREHOUSE_CODE = re.compile(r"\b(?:NE|SE|EU)-[A-Z]{3}\b")
SKU = "CLN-0001"


@pytest.fixture
def browser_as(user: Any) -> Any:
    def make(username: str) -> Client:
        client = Client()
        client.force_login(user(username))
        return client

    return make


def page(response: Any) -> str:
    return response.content.decode()


def figures(html: str, warehouse: str) -> dict[str, Decimal]:
    """The inquiry's numbers for one warehouse row, read from the rendered table."""
    row = re.search(rf'<tr data-warehouse="{warehouse}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {warehouse}"
    return {field: Decimal(value) for field, value in re.findall(r'data-field="(\w+)">([-\d.]+)<', row.group(1))}


def bin_of(sku: str, warehouse: str) -> str:
    return (StockBalance.objects.filter(item__sku=sku, warehouse__code=warehouse, status__code="available",
                                        on_hand__gt=0).values_list("location__code", flat=True).get())


# --- Stock inquiry ---------------------------------------------------------------------------------


def test_the_inquiry_shows_the_sku_in_the_ne_operators_two_warehouses_only(demo: Any, browser_as: Any) -> None:
    response = browser_as("ne.operator").get("/stock/", {"sku": SKU}, **HTMX)
    assert response.status_code == 200
    assert set(WAREHOUSE_CODE.findall(page(response))) == {"NE-BOS", "NE-NYC"}
    assert figures(page(response), "NE-BOS")["on_hand"] > 0
    assert "<html" not in page(response)  # htmx gets the result panel only


def test_the_inquiry_shows_an_enterprise_planner_every_warehouse(demo: Any, browser_as: Any) -> None:
    response = browser_as("planner").get("/stock/", {"sku": SKU}, **HTMX)
    assert set(WAREHOUSE_CODE.findall(page(response))) == {"NE-BOS", "NE-NYC", "SE-ATL", "SE-MIA", "EU-RTM",
                                                          "EU-DUS"}


def test_the_inquiry_without_javascript_is_a_full_page_with_a_focused_scan_field(demo: Any, browser_as: Any) -> None:
    response = browser_as("ne.operator").get("/stock/", {"sku": SKU})
    html = page(response)
    assert response.status_code == 200
    assert "<html" in html and 'id="stock-result"' in html
    assert re.search(r'<input id="stock-sku"[^>]*\bautofocus\b', html)
    assert f'value="{SKU}"' in html
    assert 'href="/stock/CLN-0001/NE-BOS/"' in html
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_an_unknown_sku_is_a_clear_message_not_an_error(demo: Any, browser_as: Any) -> None:
    client = browser_as("ne.operator")
    for headers in ({}, HTMX):
        response = client.get("/stock/", {"sku": "NOPE-9999"}, **headers)
        assert response.status_code == 200
        assert "Unknown SKU: NOPE-9999." in page(response)
        assert not WAREHOUSE_CODE.findall(page(response).split('id="stock-result"')[-1])


def test_the_inquiry_needs_a_signed_in_user(demo: Any) -> None:
    response = Client().get("/stock/", {"sku": SKU})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_navigation_offers_stock_to_an_operator(demo: Any, browser_as: Any) -> None:
    assert '<a href="/stock/"' in page(browser_as("ne.operator").get("/"))


# --- Drill-down --------------------------------------------------------------------------------------


def test_the_drill_down_shows_balances_by_location_lot_and_status(demo: Any, browser_as: Any) -> None:
    location = bin_of(SKU, "NE-BOS")
    response = browser_as("ne.operator").get(f"/stock/{SKU}/NE-BOS/")
    assert response.status_code == 200
    html = page(response)
    assert location in html
    assert "Available" in html
    assert not {"NE-NYC", "EU-RTM"} & set(WAREHOUSE_CODE.findall(html.split('id="main"')[-1]))


def test_the_drill_down_outside_the_scope_or_of_an_unknown_sku_is_a_404(demo: Any, browser_as: Any) -> None:
    client = browser_as("ne.operator")
    assert client.get(f"/stock/{SKU}/EU-RTM/").status_code == 404
    assert client.get(f"/stock/{SKU}/XX-NOPE/").status_code == 404
    assert client.get("/stock/NOPE-9999/NE-BOS/").status_code == 404
    assert browser_as("eu.operator").get(f"/stock/{SKU}/EU-RTM/").status_code == 200


# --- Move history ------------------------------------------------------------------------------------


def test_the_move_history_lists_only_moves_in_the_scope(demo: Any, browser_as: Any) -> None:
    client = browser_as("ne.operator")
    response = client.get("/stock/moves/", {"sku": SKU})
    assert response.status_code == 200
    assert set(WAREHOUSE_CODE.findall(page(response).split('id="rows"')[1])) <= {"NE-BOS", "NE-NYC"}
    expected = StockMove.objects.filter(item__sku=SKU, warehouse__code__in=["NE-BOS", "NE-NYC"]).count()
    assert expected > 0
    assert f"of {expected}" in page(response)

    outside = client.get("/stock/moves/", {"warehouse": "EU-RTM"})
    assert "No results" in page(outside)


def test_the_move_history_filters_by_warehouse_and_answers_htmx_with_rows(demo: Any, browser_as: Any) -> None:
    response = browser_as("ne.operator").get("/stock/moves/", {"sku": SKU, "warehouse": "NE-NYC"}, **HTMX)
    rows = page(response).split('id="pager"')[0]
    assert set(WAREHOUSE_CODE.findall(rows)) == {"NE-NYC"}
    assert 'hx-swap-oob="true"' in page(response)


def test_the_move_history_takes_the_same_number_of_queries_for_one_row_and_a_full_page(demo: Any,
                                                                                       browser_as: Any) -> None:
    client = browser_as("ne.operator")
    client.get("/stock/moves/")  # warm the session and scope caches

    def queries(params: dict[str, str]) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/stock/moves/", params)
        return len(captured), page(response).count('data-label="When"')

    small, small_rows = queries({"sku": SKU, "warehouse": "NE-BOS"})
    large, large_rows = queries({})
    assert small_rows == 1 and large_rows == 25
    assert small == large


def test_the_move_history_pager_keeps_the_filters(demo: Any, browser_as: Any) -> None:
    response = browser_as("ne.operator").get("/stock/moves/", {"warehouse": "NE-BOS"})
    assert 'href="/stock/moves/?warehouse=NE-BOS&amp;page=2"' in page(response)


# --- Handheld status change ----------------------------------------------------------------------------


def status_change(location: str, quantity: str, **overrides: str) -> dict[str, str]:
    form = {"warehouse": "NE-BOS", "location": location, "sku": SKU, "lot": "", "quantity": quantity,
            "from_status": "available", "to_status": "quality_hold", "reason": "QC-HOLD"}
    form.update(overrides)
    return form


def test_a_status_change_on_the_screen_moves_five_from_available_to_blocked(demo: Any, browser_as: Any) -> None:
    client = browser_as("ne.operator")
    location = bin_of(SKU, "NE-BOS")
    before = figures(page(client.get("/stock/", {"sku": SKU}, **HTMX)), "NE-BOS")

    response = client.post("/stock/status-change/", status_change(location, "5"), follow=True)

    assert response.redirect_chain == [("/stock/status-change/?warehouse=NE-BOS", 302)]
    html = page(response)
    assert f"Moved 5 EA of {SKU} at NE-BOS {location} from Available to Quality hold." in html
    assert f"Now available {before['available'] - 5}, blocked {before['blocked'] + 5}." in html
    after = figures(page(client.get("/stock/", {"sku": SKU}, **HTMX)), "NE-BOS")
    assert after["available"] == before["available"] - 5
    assert after["blocked"] == before["blocked"] + 5
    assert after["on_hand"] == before["on_hand"]
    held = StockBalance.objects.get(item__sku=SKU, warehouse__code="NE-BOS", location__code=location,
                                    status__code="quality_hold")
    assert held.on_hand == 5


def test_the_location_may_be_left_out_when_the_stock_sits_in_one_bin(demo: Any, browser_as: Any) -> None:
    client = browser_as("ne.operator")
    response = client.post("/stock/status-change/", status_change("", "2"))
    assert response.status_code == 302
    assert StockBalance.objects.get(item__sku=SKU, warehouse__code="NE-BOS", status__code="quality_hold").on_hand == 2


def test_a_domain_error_comes_back_on_the_form_and_moves_nothing(demo: Any, browser_as: Any) -> None:
    client = browser_as("ne.operator")
    location = bin_of(SKU, "NE-BOS")
    moves = StockMove.objects.count()

    too_much = client.post("/stock/status-change/", status_change(location, "999999"))
    assert too_much.status_code == 200
    assert "Only" in page(too_much) and 'role="alert"' in page(too_much)

    wrong_reason = client.post("/stock/status-change/", status_change(location, "1", reason="DAMAGE"))
    assert wrong_reason.status_code == 200
    assert "may not move from available to quality_hold for reason DAMAGE" in page(wrong_reason)
    assert StockMove.objects.count() == moves


def test_the_form_rejects_an_unknown_sku_a_foreign_location_and_a_warehouse_outside_the_scope(
        demo: Any, browser_as: Any) -> None:
    client = browser_as("ne.operator")
    moves = StockMove.objects.count()
    html = page(client.post("/stock/status-change/", status_change("NOPE", "1", sku="NOPE-9999")))
    assert "Unknown SKU: NOPE-9999." in html
    assert "No location NOPE in NE-BOS." in html
    outside = page(client.post("/stock/status-change/", status_change("A-01-01", "1", warehouse="EU-RTM")))
    assert "Select a valid choice" in outside
    assert StockMove.objects.count() == moves


def test_the_status_change_screen_offers_only_scoped_warehouses_and_status_change_reasons(demo: Any,
                                                                                         browser_as: Any) -> None:
    html = page(browser_as("ne.operator").get("/stock/status-change/"))
    form = html.split('id="main"')[-1]
    assert set(WAREHOUSE_CODE.findall(form)) == {"NE-BOS", "NE-NYC"}
    assert 'value="QC-HOLD"' in form and 'value="SCRAP"' not in form
    assert 'name="quantity"' in form and 'inputmode="decimal"' in form


def test_the_status_change_screen_needs_the_change_stock_status_permission(demo: Any, browser_as: Any) -> None:
    assert browser_as("planner").get("/stock/status-change/").status_code == 403
    assert browser_as("planner").post("/stock/status-change/", status_change("A-01-01", "1")).status_code == 403


# --- Lookups in any case ---------------------------------------------------------------------------------


def test_a_sku_and_a_location_typed_in_lower_case_are_found(demo: Any, browser_as: Any) -> None:
    client = browser_as("ne.operator")
    location = bin_of(SKU, "NE-BOS")

    inquiry = page(client.get("/stock/", {"sku": SKU.lower()}, **HTMX))
    assert "Unknown SKU" not in inquiry and "NE-BOS" in inquiry
    response = client.post("/stock/status-change/", status_change(location.lower(), "1", sku=SKU.lower()))
    assert response.status_code == 302
    held = StockBalance.objects.get(item__sku=SKU, warehouse__code="NE-BOS", location__code=location,
                                    status__code="quality_hold")
    assert held.on_hand == 1


def test_items_by_sku_prefers_the_exact_sku_and_refuses_to_guess_between_case_twins(demo: Any) -> None:
    from inventory.models import Item, UnitOfMeasure
    from inventory.selectors import item_by_sku, items_by_sku

    each = UnitOfMeasure.objects.get(code="EA")
    lower, upper = (Item.objects.create(sku=sku, name=sku, base_uom=each) for sku in ("twin-1", "TWIN-1"))
    items = Item.objects.all()

    assert item_by_sku(items, "twin-1") == lower and item_by_sku(items, "TWIN-1") == upper
    assert item_by_sku(items, "Twin-1") is None  # two items differ from it by case alone: no guess
    assert item_by_sku(items, f" {SKU.lower()} ").sku == SKU
    assert items_by_sku(items, [SKU.lower(), "NOPE-1", ""]) == {SKU.lower(): Item.objects.get(sku=SKU)}
    assert item_by_sku(items.filter(active=False), SKU) is None  # only within the queryset given


def test_the_status_change_form_puts_what_is_chosen_once_first_and_the_quantity_last(demo: Any,
                                                                                     browser_as: Any) -> None:
    html = page(browser_as("ne.operator").get("/stock/status-change/"))

    assert "data-scanner-form" in html
    order = [html.index(f'name="{name}"') for name in ("warehouse", "from_status", "to_status", "reason", "location",
                                                       "sku", "lot", "quantity")]
    assert order == sorted(order)
