"""The screens in a real browser: Debian's chromium driven by Playwright against the live server."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WAREHOUSE_CODE = re.compile(r"\b(?:NE|SE|EU)-[A-Z]{3}\b")
SCREENSHOT = Path("/tmp/concord-warehouses.png")
HANDHELD_SCREENSHOT = Path("/tmp/concord-warehouses-handheld.png")
TIMEOUT_MS = 15_000


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must run the browser tests", pytrace=False)
    pytest.skip(message)


def _browser_environment() -> dict[str, str]:
    """The browser is the user's machine, on its own clock: under ``make test-future`` the server's processes
    run 400 days ahead through libfaketime, which Chromium does not tolerate (it starts in tens of seconds and
    pages time out), so the browser is started without it."""
    return {name: value for name, value in os.environ.items() if name not in {"LD_PRELOAD", "FAKETIME"}}


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Chromium for one test, started after the demo network is loaded and stopped before it is flushed.

    Playwright's sync API keeps an event loop running in this thread while it is active, and Django
    refuses database work from a thread with a running loop; so the database fixtures must set up
    before Playwright starts and tear down after it stops. The live server answers from its own thread.
    """
    require_chromium()
    request.getfixturevalue("demo")
    request.getfixturevalue("live_server")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                                              env=_browser_environment())
        try:
            yield chromium
        finally:
            chromium.close()


class PageWatch:
    """What a page asked for and what went wrong on it, for assertions at the end of a test."""

    def __init__(self, page: Any) -> None:
        self.requests: list[str] = []
        self.failures: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("response", self._on_response)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._on_console)

    def _on_response(self, response: Any) -> None:
        if response.status >= 400:
            self.failures.append(f"{response.status} {response.url}")

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def assert_clean(self, origin: str) -> None:
        foreign = [url for url in self.requests if not (url == origin or url.startswith(origin + "/"))]
        assert not foreign, f"requests left the live server: {foreign}"
        assert not self.failures, f"failed responses: {self.failures}"
        assert not self.errors, f"errors in the page: {self.errors}"


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """``open_page(width, height)`` returns (page, watch) in a fresh browser context."""
    contexts = []

    def make(width: int, height: int, **options: Any) -> tuple[Any, PageWatch]:
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        return page, PageWatch(page)

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Any, live_server: Any, username: str, start: str) -> None:
    page.goto(live_server.url + start)
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + start)


def test_the_ne_operator_sees_only_boston_and_newark_and_can_search_them(open_page: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    page, watch = open_page(1280, 860)
    sign_in(page, live_server, "ne.operator", "/warehouses/")

    expect(page.locator("h1")).to_have_text("Warehouses")
    assert set(WAREHOUSE_CODE.findall(page.inner_text("body"))) == {"NE-BOS", "NE-NYC"}
    expect(page.locator("#site-nav")).to_be_visible()
    expect(page.locator(".who__name")).to_have_text("ne.operator")
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.locator("#list-search").press_sequentially("nyc", delay=40)
    expect(page.locator("#rows")).not_to_contain_text("NE-BOS")
    expect(page.locator("#rows")).to_contain_text("NE-NYC")
    expect(page.locator("#pager")).to_contain_text("1\u20131 of 1")
    assert page.url.endswith("/warehouses/?q=nyc")
    expect(page.locator("thead")).to_contain_text("Region")  # only the body was swapped

    page.locator("#rows").get_by_role("link", name="NE-NYC").click()
    page.wait_for_url(live_server.url + "/warehouses/NE-NYC/")
    expect(page.locator(".tree")).to_contain_text("A-01-01")
    watch.assert_clean(live_server.url)


def test_on_a_handheld_the_menu_opens_and_leads_to_the_other_screens(open_page: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    page, watch = open_page(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    sign_in(page, live_server, "ne.operator", "/warehouses/")

    assert set(WAREHOUSE_CODE.findall(page.inner_text("main"))) == {"NE-BOS", "NE-NYC"}
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    nav = page.locator("#site-nav")
    expect(nav).to_be_hidden()
    toggle = page.locator(".nav-toggle")
    box = toggle.bounding_box()
    assert box is not None and box["height"] >= 44, "the menu button is too small to tap"
    page.screenshot(path=str(HANDHELD_SCREENSHOT), full_page=True)

    toggle.click()
    expect(nav).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    nav.get_by_role("link", name="Locations").click()
    page.wait_for_url(live_server.url + "/locations/")
    expect(page.locator("h1")).to_have_text("Locations")
    assert set(WAREHOUSE_CODE.findall(page.inner_text("#rows"))) <= {"NE-BOS", "NE-NYC"}

    page.locator(".nav-toggle").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/accounts/login/$"))
    expect(page.locator("h1")).to_have_text("Sign in to Concord")
    watch.assert_clean(live_server.url)
