"""Scanner-safe handheld forms in Chromium: Enter moves to the next field, only the last one submits, and never
with a required field empty."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures used by name)

pytestmark = [pytest.mark.browser]

SKU = "CLN-0001"


@pytest.mark.parametrize("path", ["/stock/status-change/", "/stock/adjust/"])
def test_a_scanners_enter_moves_on_and_only_a_complete_form_submits(request: Any, live_server: Any,
                                                                    path: str) -> None:
    from playwright.sync_api import expect

    page, watch = request.getfixturevalue("open_page")(390, 844, is_mobile=True, has_touch=True,
                                                       device_scale_factor=2)
    sign_in(page, live_server, "ne.operator", path)
    if path.endswith("adjust/"):
        page.select_option("#id_reason", index=1)

    page.locator("#id_location").fill("a-01-01")
    page.locator("#id_location").press("Enter")  # the scanner's Enter after the location
    expect(page.locator("#id_sku")).to_be_focused()
    assert page.url == live_server.url + path, "Enter after the location submitted the form"

    page.keyboard.press("Enter")  # an empty SKU: move on, submit nothing
    page.locator("#id_quantity").fill("1")
    page.locator("#id_quantity").press("Enter")  # the last field, with the SKU still empty
    expect(page.locator("#id_sku")).to_be_focused()
    assert page.url == live_server.url + path and page.locator(".field__error").count() == 0

    page.locator("#id_sku").fill(SKU.lower())
    page.locator("#id_sku").press("Enter")
    expect(page.locator("#id_lot")).to_be_focused()
    page.locator("#id_quantity").press("Enter")
    page.wait_for_load_state()
    expect(page.locator(".message--success, .field__error, .message--error").first).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Unknown SKU")
    watch.assert_clean(live_server.url)
