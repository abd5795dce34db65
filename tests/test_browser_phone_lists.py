"""Lists on a phone (390 px): every row a card of "label: value" lines, nothing scrolls sideways."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures used by name)

pytestmark = [pytest.mark.browser]


@pytest.mark.parametrize("path", ["/warehouses/", "/items/", "/stock/moves/", "/stock/counts/",
                                  "/governance/audit/"])
def test_on_a_phone_each_row_is_a_card_with_labelled_lines(request: Any, live_server: Any, path: str) -> None:
    from playwright.sync_api import expect

    page, watch = request.getfixturevalue("open_page")(390, 844, is_mobile=True, has_touch=True,
                                                       device_scale_factor=2)
    sign_in(page, live_server, "admin" if "audit" in path else "ne.operator", path)

    row = page.locator("#rows tr").first
    expect(row).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{path} scrolls sideways"
    cells = row.locator("td[data-label]")
    assert cells.count() >= 2
    first, second = cells.nth(0).bounding_box(), cells.nth(1).bounding_box()
    assert first is not None and second is not None
    assert second["y"] > first["y"] and abs(second["x"] - first["x"]) < 2, "the cells are not stacked"
    label = page.evaluate("(cell) => getComputedStyle(cell, '::before').content", cells.nth(0).element_handle())
    assert label.strip('"') == cells.nth(0).get_attribute("data-label")
    assert page.locator("thead").first.bounding_box()["height"] <= 1, "the header row still takes room"
    watch.assert_clean(live_server.url)


def test_on_a_laptop_a_list_is_still_a_table(request: Any, live_server: Any) -> None:
    page, watch = request.getfixturevalue("open_page")(1366, 800)
    sign_in(page, live_server, "ne.operator", "/warehouses/")

    cells = page.locator("#rows tr").first.locator("td")
    first, second = cells.nth(0).bounding_box(), cells.nth(1).bounding_box()
    assert first is not None and second is not None and second["x"] > first["x"] and second["y"] == first["y"]
    watch.assert_clean(live_server.url)
