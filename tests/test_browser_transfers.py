"""A transfer in a real browser (issue 13): ``ne.operator`` requests CLN-0008 from NE-NYC to NE-BOS (both theirs),
submits it (approved at once, far below the threshold), dispatches it on a handheld by scanning the suggested
location and the item, and receives it at NE-BOS on the handheld; the stock is then on NE-BOS's books."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Sum

from inventory.models import StockBalance
from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures used by name)
from tests.test_browser_counts import fits, off_the_browser_thread
from warehouses.transfers.models import Transfer

pytestmark = [pytest.mark.browser]

SKU = "CLN-0008"
QUANTITY = 2
SHOT = "/tmp/concord-transfers-{}.png"
HANDHELD = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(Path(SHOT.format(name))), full_page=True)


def boston_available() -> Decimal:
    total = StockBalance.objects.filter(item__sku=SKU, warehouse__code="NE-BOS", status__code="available"
                                        ).aggregate(total=Sum("on_hand"))["total"]
    return total or Decimal(0)


@pytest.fixture
def boston_before(demo: Any) -> Decimal:
    """NE-BOS's available CLN-0008, read before the browser starts (and NE-NYC has some to send)."""
    assert StockBalance.objects.filter(item__sku=SKU, warehouse__code="NE-NYC", status__code="available",
                                       on_hand__gte=QUANTITY).exists()
    return boston_available()


def test_an_operator_requests_dispatches_and_receives_a_transfer_on_a_handheld(
        boston_before: Decimal, request: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    new_page = request.getfixturevalue("open_page")  # after the demo is read: see test_browser.browser
    desk, desk_watch = new_page(1280, 900)
    sign_in(desk, live_server, "ne.operator", "/transfers/new/")
    desk.select_option("#id_from_warehouse", "NE-NYC")
    desk.select_option("#id_to_warehouse", "NE-BOS")
    desk.fill("#id_note", "browser test")
    desk.fill("#id_lines-0-sku", SKU.lower())
    desk.fill("#id_lines-0-quantity", str(QUANTITY))
    desk.click("button[name=action][value=create]")
    expect(desk.locator("h1")).to_contain_text("TR-")
    number = re.search(r"TR-\d{6}", desk.inner_text("h1")).group(0)  # type: ignore[union-attr]
    expect(desk.locator("h1 [data-status]")).to_have_attribute("data-status", "draft")
    desk.get_by_role("button", name="Submit").click()
    expect(desk.locator("h1 [data-status]")).to_have_attribute("data-status", "approved")
    shot(desk, "detail")
    dispatch_url = desk.get_by_role("link", name="Dispatch").get_attribute("href")
    desk_watch.assert_clean(live_server.url)

    hand, hand_watch = new_page(390, 844, **HANDHELD)
    sign_in(hand, live_server, "ne.operator", dispatch_url)
    where = re.search(r"Go to (\S+)", hand.inner_text(".pick-step__where"))
    assert where is not None, hand.inner_text(".pick-step__where")
    assert fits(hand), "the dispatch screen scrolls sideways"
    hand.fill("#dispatch-location", "NOWHERE")
    hand.fill("#dispatch-sku", SKU)
    hand.click("button:has-text('Scanned')")
    expect(hand.locator(".field__error")).to_contain_text("No location NOWHERE in NE-NYC.")
    hand.fill("#dispatch-location", where.group(1).lower())
    hand.fill("#dispatch-sku", SKU.lower())
    expect(hand.locator("#dispatch-quantity")).to_have_value(str(QUANTITY))
    hand.click("button:has-text('Scanned')")
    shot(hand, "dispatch")
    hand.get_by_role("button", name=f"Confirm dispatch of {number}").click()
    expect(hand.locator("h1 [data-status]")).to_have_attribute("data-status", "dispatched")
    assert fits(hand), "the transfer's page scrolls sideways"

    hand.get_by_role("link", name="Receive").click()
    assert fits(hand), "the receive screen scrolls sideways"
    hand.fill("#receive-sku", SKU.lower())
    hand.fill("#receive-quantity", str(QUANTITY))
    hand.click("button:has-text('Scanned')")
    shot(hand, "receive")
    hand.get_by_role("button", name=f"Confirm receipt of {number}").click()
    expect(hand.locator("h1 [data-status]")).to_have_attribute("data-status", "received")
    expect(hand.locator("tr[data-line='1'] [data-field='received']")).to_have_text(str(QUANTITY))
    hand.goto(f"{live_server.url}/transfers/?q={number}")  # the list on a phone: one card per transfer
    expect(hand.locator(f"#rows tr[data-transfer='{number}'] td[data-label='Status']")).to_contain_text("Received")
    assert fits(hand), "the transfer list scrolls sideways"
    hand_watch.assert_clean(live_server.url)

    status, after = off_the_browser_thread(
        lambda: (Transfer.objects.get(number=number).status, boston_available()))
    assert status == "received"
    assert after == boston_before + QUANTITY


@pytest.fixture
def transfer_case(demo: Any) -> int:
    """The demo's whitepaper case (NE-BOS backordered on HDW-0013, SE-ATL holding it beyond its cover, SE's
    transfers above 250 USD through approval), set up before the browser starts: the open recommendation's id."""
    from erp.demo import TRANSFER_CASE_SKU, transfer_demo_case
    from warehouses.transfers.models import RecommendationStatus, TransferRecommendation

    transfer_demo_case()
    return TransferRecommendation.objects.get(item__sku=TRANSFER_CASE_SKU, to_warehouse__code="NE-BOS",
                                              status=RecommendationStatus.OPEN).pk


def test_the_planner_accepts_a_recommendation_on_the_board_and_it_goes_to_approval(
        transfer_case: int, request: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    from warehouses.transfers.models import TransferRecommendation

    page, watch = request.getfixturevalue("open_page")(1366, 900)
    board = "/transfers/recommendations/?q=HDW-0013"
    sign_in(page, live_server, "planner", board)
    row = page.locator(f"#rows tr[data-recommendation='{transfer_case}']")
    expect(row).to_contain_text("SE-ATL")
    expect(row).to_contain_text("NE-BOS")
    expect(row.locator("[data-field='explanation']")).to_contain_text("NE-BOS")
    shot(page, "recommendations")
    row.get_by_role("link", name="Accept").click()
    expect(page.locator("[data-confirm-step]")).to_contain_text("goes to approval")
    page.get_by_role("button", name="Accept: make the transfer").click()
    page.wait_for_url(re.compile(r".*/transfers/\d+/$"))
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "pending_approval")
    expect(page.locator(".messages")).to_contain_text("waits for approval")
    number = re.search(r"TR-\d{6}", page.inner_text("h1")).group(0)  # type: ignore[union-attr]

    page.goto(f"{live_server.url}{board}&status=accepted")
    expect(page.locator(f"#rows tr[data-recommendation='{transfer_case}']")).to_contain_text(number)
    watch.assert_clean(live_server.url)

    status, made = off_the_browser_thread(lambda: (
        TransferRecommendation.objects.get(pk=transfer_case).status,
        Transfer.objects.get(number=number).recommendation_id))
    assert (status, made) == ("accepted", transfer_case)


def test_the_whitepaper_transfer_case_end_to_end_in_the_browser(
        transfer_case: int, request: Any, live_server: Any) -> None:
    """Planner accepts, approver approves, se.operator dispatches, ne.operator receives one unit damaged: the
    discrepancy is raised at SE-ATL, and the backorder allocates once the receipt's stock is announced."""
    from playwright.sync_api import expect

    from governance.models import OperationalException
    from orders.models import SalesOrderLine
    from orders.services.backorders import backorders_allocate

    new_page = request.getfixturevalue("open_page")
    planner, planner_watch = new_page(1366, 900)
    sign_in(planner, live_server, "planner", "/transfers/recommendations/?q=HDW-0013")
    planner.locator(f"#rows tr[data-recommendation='{transfer_case}']").get_by_role("link", name="Accept").click()
    planner.get_by_role("button", name="Accept: make the transfer").click()
    planner.wait_for_url(re.compile(r".*/transfers/\d+/$"))
    transfer_url = planner.url.removeprefix(live_server.url)
    number = re.search(r"TR-\d{6}", planner.inner_text("h1")).group(0)  # type: ignore[union-attr]
    approval_url = planner.locator("#transfer-approval a").first.get_attribute("href")
    planner_watch.assert_clean(live_server.url)

    approver, approver_watch = new_page(1366, 900)
    sign_in(approver, live_server, "approver", approval_url)
    approver.get_by_role("button", name="Approve").click()
    expect(approver.locator("#approval-panel")).to_contain_text("Approved")
    approver.goto(live_server.url + transfer_url)
    expect(approver.locator("h1 [data-status]")).to_have_attribute("data-status", "approved")
    approver_watch.assert_clean(live_server.url)

    sender, sender_watch = new_page(390, 844, **HANDHELD)
    sign_in(sender, live_server, "se.operator", transfer_url)
    sender.get_by_role("link", name="Dispatch").click()
    where = re.search(r"Go to (\S+)", sender.inner_text(".pick-step__where"))
    assert where is not None, sender.inner_text(".pick-step__where")
    sender.fill("#dispatch-location", where.group(1))
    sender.fill("#dispatch-sku", "hdw-0013")
    expect(sender.locator("#dispatch-quantity")).to_have_value("120")
    sender.click("button:has-text('Scanned')")
    sender.get_by_role("button", name=f"Confirm dispatch of {number}").click()
    expect(sender.locator("h1 [data-status]")).to_have_attribute("data-status", "dispatched")
    sender_watch.assert_clean(live_server.url)

    receiver, receiver_watch = new_page(390, 844, **HANDHELD)
    sign_in(receiver, live_server, "ne.operator", transfer_url)
    receiver.get_by_role("link", name="Receive").click()
    receiver.fill("#receive-sku", "HDW-0013")
    receiver.fill("#receive-quantity", "119")
    receiver.click("button:has-text('Scanned')")
    receiver.locator("tr[data-line='1']").get_by_role("link", name="Add a row").click()
    receiver.fill("#receive-sku", "HDW-0013")
    receiver.fill("#receive-quantity", "1")
    receiver.get_by_label("Damaged").check()
    receiver.click("button:has-text('Scanned')")
    receiver.get_by_role("button", name=f"Confirm receipt of {number}").click()
    expect(receiver.locator("h1 [data-status]")).to_have_attribute("data-status", "received")
    expect(receiver.locator("tr[data-line='1'] [data-field='received']")).to_have_text("120")
    shot(receiver, "whitepaper-received")
    receiver_watch.assert_clean(live_server.url)

    def after() -> tuple[str, tuple[Decimal, Decimal]]:
        raised = OperationalException.objects.get(type="transfer_discrepancy", business_key=f"transfer:{number}")
        line = SalesOrderLine.objects.get(order__customer__code="C-NE-004", order__external_ref="DEMO-0004")
        backorders_allocate(item_ids=[line.item_id])  # the receipt's after-commit task, run here without a worker
        line.refresh_from_db()
        return raised.warehouse.code, (line.allocated_quantity, line.backordered_quantity)

    assert off_the_browser_thread(after) == ("SE-ATL", (Decimal(119), Decimal(1)))
