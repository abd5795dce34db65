"""The stock screens in a real browser, on a handheld: look a SKU up, put some on hold, see availability drop."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures used by name)

pytestmark = [pytest.mark.browser]

SKU = "CLN-0001"
FORM_SCREENSHOT = Path("/tmp/concord-stock-status-change-handheld.png")
INQUIRY_SCREENSHOT = Path("/tmp/concord-stock-inquiry-handheld.png")


def inquiry_figures(page: Any) -> dict[str, Decimal]:
    """Available and blocked at NE-BOS, as the inquiry's result panel shows them."""
    row = page.locator('#stock-result tr[data-warehouse="NE-BOS"]')
    return {field: Decimal(row.locator(f'[data-field="{field}"]').inner_text().strip())
            for field in ("available", "blocked")}


def look_up(page: Any, sku: str) -> None:
    from playwright.sync_api import expect

    scan = page.locator("#stock-sku")
    expect(scan).to_be_focused()
    scan.fill(sku)
    scan.press("Enter")
    expect(page.locator('#stock-result tr[data-warehouse="NE-BOS"]')).to_be_visible()
    expect(page.locator("#stock-result h2")).to_contain_text(sku)


def test_on_a_handheld_an_operator_puts_five_on_quality_hold_and_sees_availability_drop(
        open_page: Any, live_server: Any) -> None:  # noqa: F811  (the imported fixture)
    from playwright.sync_api import expect

    page, watch = open_page(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    sign_in(page, live_server, "ne.operator", "/stock/")

    look_up(page, SKU)
    assert page.url.endswith(f"/stock/?sku={SKU}")  # htmx pushed the lookup into the address bar
    rows = page.locator("#stock-result tbody tr")
    assert sorted(rows.nth(i).get_attribute("data-warehouse") for i in range(rows.count())) == ["NE-BOS", "NE-NYC"]
    before = inquiry_figures(page)
    blocked_cell = page.locator('#stock-result tr[data-warehouse="NE-BOS"] [data-field="blocked"]').bounding_box()
    assert blocked_cell is not None and blocked_cell["x"] + blocked_cell["width"] <= 390, "blocked is off screen"
    assert before["available"] >= 5

    page.locator('#stock-result a[href$="/NE-BOS/"]').click()
    page.wait_for_url(live_server.url + f"/stock/{SKU}/NE-BOS/")
    location = page.locator("td.stock-location").first.inner_text().strip()

    page.goto(live_server.url + "/stock/status-change/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the form scrolls sideways"
    page.select_option("#id_warehouse", "NE-BOS")
    page.fill("#id_location", location)
    page.fill("#id_sku", SKU)
    page.fill("#id_quantity", "5")
    expect(page.locator("#id_from_status")).to_have_value("available")
    page.select_option("#id_to_status", "quality_hold")
    page.select_option("#id_reason", "QC-HOLD")
    page.screenshot(path=str(FORM_SCREENSHOT), full_page=True)
    page.locator("#id_quantity").press("Enter")

    page.wait_for_url(live_server.url + "/stock/status-change/?warehouse=NE-BOS")
    expect(page.locator(".message--success")).to_contain_text(
        f"Now available {before['available'] - 5}, blocked {before['blocked'] + 5}.")

    page.goto(live_server.url + "/stock/")
    look_up(page, SKU)
    after = inquiry_figures(page)
    assert after["available"] == before["available"] - 5
    assert after["blocked"] == before["blocked"] + 5
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the inquiry scrolls sideways"
    page.screenshot(path=str(INQUIRY_SCREENSHOT), full_page=True)
    watch.assert_clean(live_server.url)
