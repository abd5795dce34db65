"""Counting and adjusting in a real browser. An operator counts blind on a handheld, far from what the system
holds, and submits; NE's supervisor approves the variance from the count's page and the ledger moves. An
operator adjusts stock scan by scan."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import connections
from django.db.models import Sum

from inventory.models import CycleCount, StockBalance, StockMove
from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures used by name)

pytestmark = [pytest.mark.browser]

SKU = "CLN-0001"
COUNT_SCREENSHOT = Path("/tmp/concord-cycle-count-handheld.png")
APPROVER_SCREENSHOT = Path("/tmp/concord-cycle-count-approved.png")
LIST_SCREENSHOT = Path("/tmp/concord-cycle-count-list-handheld.png")
PENDING_SCREENSHOT = Path("/tmp/concord-cycle-count-pending-handheld.png")
ADJUST_SCREENSHOT = Path("/tmp/concord-stock-adjust-handheld.png")
T = TypeVar("T")


def off_the_browser_thread(read: Callable[[], T]) -> T:
    """Run a database read on another thread: Django refuses database work on a thread where Playwright's
    event loop runs. The thread's connection is closed before it ends, so the flush after the test is free."""

    def run() -> T:
        try:
            return read()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def bin_on_hand(location: str) -> Decimal:
    total = StockBalance.objects.filter(item__sku=SKU, warehouse__code="NE-BOS", location__code=location
                                        ).aggregate(total=Sum("on_hand"))["total"]
    return total or Decimal(0)


@pytest.fixture
def boston_bin(demo: Any) -> tuple[str, Decimal]:
    """The NE-BOS bin holding CLN-0001 and what it holds, read before the browser starts."""
    location = (StockBalance.objects.filter(item__sku=SKU, warehouse__code="NE-BOS", status__code="available",
                                            on_hand__gt=0).values_list("location__code", flat=True).get())
    return location, bin_on_hand(location)


def fits(page: Any) -> bool:
    """Nothing sticks out of the handheld's layout viewport (a mobile browser would zoom the page out)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth "
                              "&& document.documentElement.clientWidth <= 390"))


def plain(quantity: Decimal) -> str:
    return f"{quantity.normalize():f}"


def test_an_operator_counts_blind_on_a_handheld_and_the_approver_posts_the_variance(
        boston_bin: tuple[str, Decimal], request: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    new_page = request.getfixturevalue("open_page")  # after the bin is read: see test_browser.browser
    location, expected = boston_bin
    counted = (expected / 2).to_integral_value()  # far beyond the 2 % tolerance

    page, watch = new_page(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    sign_in(page, live_server, "ne.operator", "/stock/counts/")
    expect(page.locator("#accuracy tr[data-warehouse='NE-BOS'] [data-field='percent']")).to_have_text("no counts")
    assert fits(page), "the list scrolls sideways"
    page.screenshot(path=str(LIST_SCREENSHOT), full_page=True)
    page.select_option("#id_warehouse", "NE-BOS")
    page.fill("#id_location", location)
    page.fill("#id_skus", SKU)
    page.get_by_role("button", name="Open count").click()
    page.wait_for_url(re.compile(r".*/stock/counts/\d+/$"))
    count_path = page.url.removeprefix(live_server.url)
    expect(page.locator(".count-status")).to_have_text("Open")
    expect(page.locator(f'#count-lines tr[data-sku="{SKU}"] [data-field="counted"]')).to_have_text("to count")

    # A scanner types the code and presses Enter: each scan moves on to the next field.
    page.evaluate("window.stillTheSamePage = true")
    scan_location, scan_item, quantity = page.locator("#count-location"), page.locator("#count-sku"), \
        page.locator("#count-quantity")
    expect(scan_location).to_be_focused()
    scan_location.fill(location)
    scan_location.press("Enter")
    expect(scan_item).to_be_focused()
    scan_item.fill(SKU)
    scan_item.press("Enter")
    expect(quantity).to_be_focused()  # CLN-0001 has no lots: the lot field is skipped
    assert page.evaluate("document.getElementById('count-quantity').inputMode") == "decimal"
    quantity.fill(plain(counted))
    quantity.press("Enter")

    line = page.locator(f'#count-lines tr[data-sku="{SKU}"]')
    expect(line.locator('[data-field="counted"]')).to_have_text(f"{plain(counted)} EA")
    expect(page.locator("#count-entry [role=status]")).to_have_text(
        f"Counted {plain(counted)} EA of {SKU} at {location}.")
    expect(page.locator("[data-field='progress']")).to_have_text("1 of 1 counted")
    # Ready for the next item of the same bin.
    expect(scan_item).to_be_focused()
    expect(scan_location).to_have_value(location)
    expect(scan_item).to_have_value("")
    assert page.evaluate("window.stillTheSamePage === true"), "recording reloaded the page"
    main = page.inner_text("main")
    assert not re.search(rf"(?<![\w.-]){plain(expected)}(?![\w.])", main), "the system quantity is shown"
    assert "Expected" not in main and "Variance" not in main
    assert fits(page), "the count scrolls sideways"
    page.screenshot(path=str(COUNT_SCREENSHOT), full_page=True)

    page.get_by_role("button", name="Submit count").click()
    expect(page.locator(".count-status")).to_have_text("Pending approval")
    expect(page.locator(".messages")).to_contain_text("is pending approval: 1 of 1 line beyond tolerance")
    expect(line.locator('[data-field="within"]')).to_have_text("No")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)  # nobody approves their own count
    assert fits(page), "the submitted count scrolls sideways"
    page.screenshot(path=str(PENDING_SCREENSHOT), full_page=True)
    watch.assert_clean(live_server.url)

    approver, approver_watch = new_page(1280, 900)
    sign_in(approver, live_server, "ne.supervisor", count_path)  # NE variances below 1,000 are theirs
    row = approver.locator(f'#count-lines tr[data-sku="{SKU}"]')
    expect(row.locator('[data-field="expected"]')).to_have_text(plain(expected))
    expect(row.locator('[data-field="variance"]')).to_have_text(plain(counted - expected))
    approver.get_by_role("button", name="Approve").click()
    expect(approver.locator(".count-status")).to_have_text("Posted")
    expect(row.locator('[data-field="state"]')).to_have_text("Posted")
    expect(approver.locator(".messages")).to_contain_text("is posted.")
    approver.screenshot(path=str(APPROVER_SCREENSHOT), full_page=True)

    count_id = count_path.strip("/").split("/")[-1]
    approver.get_by_role("link", name=re.compile(r"^Moves of CC-")).click()
    moves = approver.locator("#rows tr")
    expect(moves).to_have_count(1)
    expect(moves.first).to_contain_text(f"cycle_count {count_id}")
    expect(moves.first).to_contain_text(plain(counted - expected))
    approver_watch.assert_clean(live_server.url)

    def ledger() -> tuple[Decimal, list[tuple[Decimal, str]], str]:
        moves = StockMove.objects.filter(reference_type="cycle_count", reference_id=count_id)
        return (bin_on_hand(location), list(moves.values_list("quantity", "actor__username")),
                CycleCount.objects.get(pk=count_id).status)

    on_hand, moves, status = off_the_browser_thread(ledger)
    assert on_hand == counted
    assert moves == [(counted - expected, "ne.supervisor")]
    assert status == "posted"


def test_on_a_handheld_an_operator_adjusts_stock_scan_by_scan(
        boston_bin: tuple[str, Decimal], request: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    new_page = request.getfixturevalue("open_page")
    location, before = boston_bin
    page, watch = new_page(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    sign_in(page, live_server, "ne.operator", "/stock/adjust/")
    expect(page.locator("#id_reason")).to_be_focused()  # no reason chosen yet: that comes first
    page.select_option("#id_warehouse", "NE-BOS")
    page.select_option("#id_reason", "LOST")
    for field, value, following in (("location", location, "sku"), ("sku", SKU, "lot"), ("lot", "", "uom"),
                                    ("uom", "", "quantity")):
        page.fill(f"#id_{field}", value)
        page.locator(f"#id_{field}").press("Enter")  # a scan's Enter moves on, it does not post
        expect(page.locator(f"#id_{following}")).to_be_focused()
    page.fill("#id_quantity", "3")
    page.get_by_role("button", name="± Change sign").click()  # decimal keypads often have no minus
    expect(page.locator("#id_quantity")).to_have_value("-3")
    assert fits(page), "the adjustment form scrolls sideways"
    page.screenshot(path=str(ADJUST_SCREENSHOT), full_page=True)
    page.locator("#id_quantity").press("Enter")

    page.wait_for_url(live_server.url + "/stock/adjust/?warehouse=NE-BOS&reason=LOST")
    expect(page.locator(".message--success")).to_contain_text(
        f"posted: -3 EA of {SKU} at NE-BOS {location} (LOST). On hand there now {plain(before - 3)} EA.")
    expect(page.locator("#id_location")).to_be_focused()  # the same reason again: straight to the next scan
    expect(page.locator("#id_reason")).to_have_value("LOST")
    watch.assert_clean(live_server.url)
    assert off_the_browser_thread(lambda: bin_on_hand(location)) == before - 3
