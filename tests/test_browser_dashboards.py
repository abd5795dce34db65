"""Role dashboards in Chromium: the figures link to their lists, the trend chart draws, phones do not scroll
sideways."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures used by name)

pytestmark = [pytest.mark.browser]


def test_the_planner_follows_a_figure_to_its_filtered_list_and_sees_the_trend_chart(request: Any,
                                                                                   live_server: Any) -> None:
    from playwright.sync_api import expect

    page, watch = request.getfixturevalue("open_page")(1366, 800)
    sign_in(page, live_server, "planner", "/")

    expect(page.locator('[data-panel="fill-rate"] canvas')).to_be_visible()
    drawn = page.evaluate("() => { const c = document.querySelector('[data-panel=\"fill-rate\"] canvas');"
                          " return typeof Chart !== 'undefined' && !!Chart.getChart(c); }")
    assert drawn, "the fill-rate trend was not drawn"
    assert page.locator("text=Planned").count() == 0

    draft = page.locator('[data-figure="orders-draft"]')
    shown = int(draft.locator(".figure__value").inner_text())
    draft.click()
    page.wait_for_url(re.compile(r".*/orders/\?status=draft$"))
    expect(page.locator("#order-status")).to_have_value("draft")
    assert page.locator("#rows tr").filter(has_text="Draft").count() == min(shown, 50)
    watch.assert_clean(live_server.url)


@pytest.mark.parametrize("username", ["ne.operator", "ne.service"])
def test_on_a_phone_the_panels_stack_without_sideways_scrolling(request: Any, live_server: Any,
                                                                username: str) -> None:
    from playwright.sync_api import expect

    page, watch = request.getfixturevalue("open_page")(390, 844, is_mobile=True, has_touch=True,
                                                       device_scale_factor=2)
    sign_in(page, live_server, username, "/")

    panels = page.locator("[data-panel]")
    expect(panels.first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    lefts = {round(panels.nth(n).bounding_box()["x"]) for n in range(panels.count())}
    assert len(lefts) == 1, "the panels do not stack in one column"
    figure = page.locator(".figure").first.bounding_box()
    assert figure is not None and figure["height"] >= 44, "a figure is too small to tap"
    watch.assert_clean(live_server.url)


DEMO_USERS = ["admin", "planner", "ne.operator", "ne.supervisor", "eu.operator", "ne.service", "buyer", "approver",
              "owner", "finance", "integrator"]
SCREENSHOTS = Path("/tmp/concord-homes")


@pytest.mark.parametrize("username", DEMO_USERS)
def test_each_roles_home_shows_the_figures_the_api_counts(request: Any, live_server: Any, username: str) -> None:
    """Every figure that names its API list (``data-api``) equals that list's ``count`` for the same user, read
    in the same browser session; nothing reads "planned"; the home fits a laptop and a phone without scrolling
    sideways. Each home is kept as a screenshot at both widths (``/tmp/concord-homes``)."""
    page, watch = request.getfixturevalue("open_page")(1366, 800)
    sign_in(page, live_server, username, "/")

    assert "planned" not in page.inner_text("main").lower()
    figures = page.locator("[data-figure][data-api]")
    compared = 0
    for n in range(figures.count()):
        figure = figures.nth(n)
        shown = int(figure.locator(".figure__value").inner_text().replace(",", ""))
        answer = page.request.get(live_server.url + figure.get_attribute("data-api"))
        assert answer.status == 200, (figure.get_attribute("data-api"), answer.status)
        assert answer.json()["count"] == shown, (username, figure.get_attribute("data-figure"))
        compared += 1
    if username not in ("approver", "owner", "finance", "integrator"):  # decisions and tokens, not API lists
        assert compared, f"{username}'s home has no figure to hold against the API"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{username}-1366.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the laptop page scrolls"

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the phone page scrolls"
    page.screenshot(path=str(SCREENSHOTS / f"{username}-390.png"), full_page=True)
    watch.assert_clean(live_server.url)
