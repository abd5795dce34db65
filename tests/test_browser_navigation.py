"""Navigation in Chromium: one row of process groups on a laptop, every group listed open on a phone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures used by name)

pytestmark = [pytest.mark.browser]


@pytest.mark.parametrize("username", ["admin", "ne.service", "ne.operator", "planner"])
def test_on_a_laptop_the_groups_fit_one_row_and_a_group_opens_its_screens(request: Any, live_server: Any,
                                                                          username: str) -> None:
    from playwright.sync_api import expect

    page, watch = request.getfixturevalue("open_page")(1366, 800)
    sign_in(page, live_server, username, "/")

    buttons = page.locator(".nav-group__button")
    assert buttons.count() >= 2
    tops = {round(buttons.nth(n).bounding_box()["y"]) for n in range(buttons.count())}
    assert len(tops) == 1, f"the groups wrap to {len(tops)} rows"
    header = page.locator(".site-header").bounding_box()
    assert header is not None and header["height"] <= 64, "the header is taller than one row"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"

    stock = page.locator('[data-group="stock"]')
    counts = stock.get_by_role("link", name="Counts")
    expect(counts).to_be_hidden()
    stock.get_by_role("button", name="Stock").click()
    expect(stock.get_by_role("button", name="Stock")).to_have_attribute("aria-expanded", "true")
    expect(counts).to_be_visible()
    page.keyboard.press("Escape")
    expect(counts).to_be_hidden()
    stock.get_by_role("button", name="Stock").click()
    page.locator("h1").click()  # a click elsewhere closes it too
    expect(counts).to_be_hidden()

    stock.get_by_role("button", name="Stock").click()
    counts.click()
    page.wait_for_url(live_server.url + "/stock/counts/")
    expect(page.locator('[data-group="stock"]')).to_have_class("nav-group is-current")
    expect(page.locator('[data-group="stock"] a[aria-current="page"]')).to_have_text("Counts")
    watch.assert_clean(live_server.url)


def test_on_a_phone_the_menu_lists_each_group_with_its_screens(request: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    page, watch = request.getfixturevalue("open_page")(390, 844, is_mobile=True, has_touch=True,
                                                       device_scale_factor=2)
    sign_in(page, live_server, "ne.service", "/")

    page.locator(".nav-toggle").click()
    nav = page.locator("#site-nav")
    expect(nav).to_be_visible()
    titles = nav.locator(".nav-group__title")
    expect(titles.first).to_have_text("Sell")  # customer service's own group first
    expect(nav.locator(".nav-group__button").first).to_be_hidden()
    for name in ("Customers", "Orders", "Returns", "Picking", "Stock inquiry", "Approvals"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the menu scrolls sideways"
    for n in range(min(nav.get_by_role("link").count(), 6)):
        box = nav.get_by_role("link").nth(n).bounding_box()
        assert box is not None and box["height"] >= 44, "a menu link is too small to tap"

    nav.get_by_role("link", name="Returns", exact=True).click()
    page.wait_for_url(live_server.url + "/returns/")
    watch.assert_clean(live_server.url)
