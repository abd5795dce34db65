"""Scope administration in a real browser (issue 12, items 9 and 10): an administrator creates a user with the
scope NE-BOS on the Users screen, and that user, signed in, sees exactly NE-BOS."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_browser import WAREHOUSE_CODE, browser, open_page, sign_in  # noqa: F401  (fixtures and helper)

pytestmark = [pytest.mark.browser]

PASSWORD = "boston-picks-2026"


def test_a_user_granted_ne_bos_on_the_screen_signs_in_and_sees_exactly_ne_bos(request: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    new_page = request.getfixturevalue("open_page")

    admin, admin_watch = new_page(1280, 900)
    sign_in(admin, live_server, "admin", "/users/")
    admin.get_by_role("link", name="New user").click()
    admin.wait_for_url(live_server.url + "/users/new/")
    admin.fill("#id_username", "bos.picker")
    admin.fill("#id_email", "bos.picker@concord.example.com")
    admin.fill("#id_password", PASSWORD)
    admin.check("input[name=roles][value=warehouse_operator]")
    admin.check("input[name=scope_type][value=warehouses]")
    admin.check("input[name=warehouses][value=NE-BOS]")
    admin.get_by_role("button", name="Create user").click()
    admin.wait_for_url(live_server.url + "/users/bos.picker/")
    expect(admin.locator("[data-current-scope]")).to_have_text("NE-BOS")
    expect(admin.locator("#access-history").locator("..")).to_contain_text("Granted warehouse NE-BOS")
    admin.goto(live_server.url + "/users/?q=bos.picker")
    expect(admin.locator("#rows")).to_contain_text("Warehouse operator")
    admin_watch.assert_clean(live_server.url)

    picker, picker_watch = new_page(1280, 900)
    picker.goto(live_server.url + "/warehouses/")
    picker.fill("#id_username", "bos.picker")
    picker.fill("#id_password", PASSWORD)
    picker.click("button[type=submit]")
    picker.wait_for_url(live_server.url + "/warehouses/")
    expect(picker.locator(".who__name")).to_have_text("bos.picker")
    assert set(WAREHOUSE_CODE.findall(picker.locator("#rows").inner_text())) == {"NE-BOS"}
    expect(picker.locator("#site-nav").get_by_role("link", name="Users")).to_have_count(0)
    picker_watch.assert_clean(live_server.url)
    # Outside the scope is as absent as what does not exist, and the Users screen refuses a non-administrator.
    assert picker.goto(live_server.url + "/warehouses/NE-NYC/").status == 404
    assert picker.goto(live_server.url + "/users/").status == 403
