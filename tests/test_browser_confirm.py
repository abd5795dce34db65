"""Nothing destructive happens in one click (issue 12, items 7 and 10), in a real browser on a phone's width:
Cancel on a confirmed order opens the confirm step, which names what will be undone and leaves the order as it
was; going back keeps it; confirming with a reason cancels it, and the order's page shows the reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import F

from inventory.models import ItemWarehouseSummary
from orders.models import Customer, OrderStatus, SalesOrder
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures used by name)
from tests.test_browser_counts import fits, off_the_browser_thread

pytestmark = [pytest.mark.browser]

HANDHELD = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}
REASON = "Customer called: the store is closing"
SHOT = "/tmp/concord-confirm-step.png"


@pytest.fixture
def confirmed_order(demo: Any) -> SalesOrder:
    """A confirmed NE order allocated at NE-BOS, taken before the browser starts (see test_browser.browser)."""
    actor = get_user_model().objects.get(username="ne.service")
    customer = Customer.objects.get(code="C-NE-001")
    summary = (ItemWarehouseSummary.objects.select_related("item")
               .filter(warehouse__code="NE-BOS", item__active=True, item__lot_tracked=False,
                       on_hand__gte=F("allocated") + 2)
               .order_by("item__sku").first())
    assert summary is not None
    taken = sales_order_create(customer=customer, ship_to=customer.ship_tos.get(code="MAIN"), actor=actor,
                               lines=[OrderLineSpec(item=summary.item, quantity=Decimal(2), uom="")])
    order = sales_order_confirm(order=taken, actor=actor)
    assert order.status == OrderStatus.ALLOCATED
    return order


def _status(pk: int) -> tuple[str, str]:
    def read() -> tuple[str, str]:
        order = SalesOrder.objects.only("status", "cancel_reason").get(pk=pk)
        return order.status, order.cancel_reason

    return off_the_browser_thread(read)


def test_cancelling_an_order_asks_first_names_what_is_undone_and_keeps_the_reason(
        confirmed_order: SalesOrder, request: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    new_page = request.getfixturevalue("open_page")  # after the order is taken: see test_browser.browser
    order_url = f"/orders/{confirmed_order.pk}/"
    page, watch = new_page(390, 844, **HANDHELD)
    sign_in(page, live_server, "ne.service", order_url)

    page.get_by_role("link", name="Cancel order").click()
    page.wait_for_url(f"{live_server.url}{order_url}cancel/")
    expect(page.locator("h1")).to_have_text(f"Cancel order {confirmed_order.number}?")
    expect(page.locator(".confirm-step__undoes")).to_contain_text("Releases 1 allocation: 2 EA of")
    expect(page.locator(".confirm-step__undoes")).to_contain_text("at NE-BOS")
    assert _status(confirmed_order.pk) == (OrderStatus.ALLOCATED, "")  # the click changed nothing
    assert fits(page), "the confirm step scrolls sideways on a phone"
    page.screenshot(path=SHOT, full_page=True)
    button = page.get_by_role("button", name="Cancel the order")
    box = button.bounding_box()
    assert box is not None and box["height"] >= 44, "the button is too small to tap"

    page.get_by_role("link", name="Keep the order").click()
    page.wait_for_url(f"{live_server.url}{order_url}")
    expect(page.locator('[data-field="status"]')).to_have_attribute("data-status", OrderStatus.ALLOCATED)

    page.get_by_role("link", name="Cancel order").click()
    page.get_by_label("Reason").fill(REASON)
    page.get_by_role("button", name="Cancel the order").click()

    page.wait_for_url(f"{live_server.url}{order_url}")
    expect(page.locator('[data-field="status"]')).to_have_attribute("data-status", OrderStatus.CANCELLED)
    expect(page.locator('[data-field="cancel_reason"]')).to_have_text(REASON)
    expect(page.locator(".messages")).to_contain_text(f"{confirmed_order.number} is cancelled")
    assert _status(confirmed_order.pk) == (OrderStatus.CANCELLED, REASON)
    watch.assert_clean(live_server.url)
