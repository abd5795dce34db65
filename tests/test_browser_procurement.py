"""Procure to pay in a real browser (issue 14, point 8): ``buyer`` raises a purchase order to NORD for NE-BOS on the
entry form (the supplier's terms shown beside the line as the SKU is typed), submits it; a second buyer approves it
in "My approvals", where the amount shows in EUR and in USD; ``ne.operator`` receives it on a handheld by scanning
the order's number, the item and the location; the stock is then on NE-BOS's books at the order's price in USD."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Sum

from erp import services as platform
from erp.roles import ROLE_BY_KEY
from inventory.models import StockBalance
from procurement.models import PurchaseOrder
from procurement.tests.helpers import offer, twin
from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures used by name)
from tests.test_browser_counts import fits, off_the_browser_thread

pytestmark = [pytest.mark.browser]

QUANTITY = 20
SHOT = "/tmp/concord-procurement-{}.png"
HANDHELD = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(Path(SHOT.format(name))), full_page=True)


@pytest.fixture
def paper_sku(demo: Any) -> str:
    """A stock-free twin NORD sells at 4.00 EUR, and a second buyer (who may approve what ``buyer`` asks),
    made before the browser starts."""
    product = twin("PAP-0003")
    offer(product, "NORD", price="4.00", uom="EA", moq=10, pack=5, lead=12)
    if not get_user_model().objects.filter(username="second.buyer").exists():
        account = get_user_model().objects.create_user("second.buyer", password="demo")
        account.groups.add(Group.objects.get(name=ROLE_BY_KEY["buyer"].group))
        platform.scope_grant(user=account, actor=None, enterprise=True)
    return product.sku


def boston_available(sku: str) -> Decimal:
    total = StockBalance.objects.filter(item__sku=sku, warehouse__code="NE-BOS", status__code="available"
                                        ).aggregate(total=Sum("on_hand"))["total"]
    return total or Decimal(0)


def test_a_buyer_orders_a_second_buyer_approves_and_an_operator_receives_on_a_handheld(
        paper_sku: str, request: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    new_page = request.getfixturevalue("open_page")  # after the demo is read: see test_browser.browser
    desk, desk_watch = new_page(1366, 900)
    sign_in(desk, live_server, "buyer", "/purchase-orders/new/")
    desk.select_option("#id_supplier", "NORD")
    desk.select_option("#id_warehouse", "NE-BOS")
    desk.fill("#id_lines-0-quantity", str(QUANTITY))
    desk.fill("#id_lines-0-sku", paper_sku.lower())
    desk.locator("#id_lines-0-sku").dispatch_event("change")
    expect(desk.locator("#lookup-0")).to_contain_text("4 EUR/EA")
    expect(desk.locator("#lookup-0")).to_contain_text("packs of 5")
    expect(desk.locator("[data-field='estimated-total']")).to_have_text("80.00")
    shot(desk, "entry")
    desk.click("button[name=action][value=save]")
    expect(desk.locator("h1")).to_contain_text("PO-")
    number = re.search(r"PO-\d{6}", desk.inner_text("h1")).group(0)  # type: ignore[union-attr]
    expect(desk.locator("h1 [data-status]")).to_have_attribute("data-status", "draft")
    desk.get_by_role("button", name="Submit").click()
    expect(desk.locator("h1 [data-status]")).to_have_attribute("data-status", "pending_approval")
    expect(desk.locator("[data-field='base_total']")).to_contain_text("86.40")
    shot(desk, "submitted")
    desk_watch.assert_clean(live_server.url)

    approver, approver_watch = new_page(1366, 900)
    sign_in(approver, live_server, "second.buyer", "/governance/approvals/")
    row = approver.locator("tr.appr-row", has_text=number)
    expect(row).to_contain_text("80.00")
    expect(row.locator("[data-field='base-amount']")).to_contain_text("86.40")
    expect(row.locator("[data-field='rule']")).to_contain_text("Rule:")
    shot(approver, "approvals")
    row.get_by_role("button", name="Approve").click()
    expect(approver.locator("tr.appr-row", has_text=number)).to_contain_text("Approved.")
    approver_watch.assert_clean(live_server.url)

    hand, hand_watch = new_page(390, 844, **HANDHELD)
    sign_in(hand, live_server, "ne.operator", "/receiving/")
    assert fits(hand), "the receiving screen scrolls sideways"
    hand.fill("#receiving-scan", number.lower())
    hand.get_by_role("button", name="Open").click()
    expect(hand.locator("h1")).to_have_text(f"Receive {number}")
    hand.fill("#receive-sku", "NOTHING-LIKE-IT")
    hand.fill("#receive-quantity", str(QUANTITY))
    hand.fill("#receive-location", "A-01-01")
    hand.click("button:has-text('Scanned')")
    expect(hand.locator(".field__error")).to_contain_text("Unknown SKU")
    hand.fill("#receive-sku", paper_sku.lower())
    hand.fill("#receive-quantity", str(QUANTITY))
    hand.fill("#receive-location", "a-01-01")
    hand.click("button:has-text('Scanned')")
    assert fits(hand), "the receiving screen scrolls sideways"
    shot(hand, "receive")
    hand.get_by_role("button", name=f"Confirm receipt of {number}").click()
    expect(hand.locator("h1 [data-status]")).to_have_attribute("data-status", "received")
    expect(hand.locator("tr[data-line='1'] [data-field='received']")).to_have_text(str(QUANTITY))
    expect(hand.locator("[data-receipt] [data-field='unit_cost']")).to_contain_text("4.32")
    assert fits(hand), "the order's page scrolls sideways"
    shot(hand, "received")
    hand_watch.assert_clean(live_server.url)

    desk.goto(f"{live_server.url}/purchase-orders/?q={number}")
    expect(desk.locator(f"#rows tr[data-order='{number}'] td[data-label='Status']")).to_contain_text("Received")
    shot(desk, "list")
    desk.goto(f"{live_server.url}/purchase-orders/workbench/")
    expect(desk.locator("#orders-by-status li[data-status='received'] [data-field='count']")).not_to_have_text("0")
    shot(desk, "workbench")
    desk.locator("#orders-by-status li[data-status='received'] a").click()
    expect(desk.locator(f"#rows tr[data-order='{number}']")).to_be_visible()
    desk_watch.assert_clean(live_server.url)

    status, on_hand = off_the_browser_thread(
        lambda: (PurchaseOrder.objects.get(number=number).status, boston_available(paper_sku)))
    assert status == "received" and on_hand == QUANTITY
