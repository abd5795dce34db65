"""The whitepaper's scenario in a real browser (issue 5, "Done when").

Customer service takes Harbor Grocers' order for CLN-0008, which NE-BOS lacks: the live preview shows NE-NYC and
the promised date, and the confirmed order is allocated there. An operator picks it on a handheld at NE-NYC, packs
it and ships it; the packing slip prints. The planner sees the shortage an earlier order left when NE-NYC ran
short (cross-region allocation off, the standard), and the fill rate counts the shipped line.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Min
from django.utils import timezone

from governance.models import OperationalException
from governance.selectors import policy_value
from inventory.models import ItemWarehouseSummary, StockMove
from orders import rules
from orders.models import Customer, OrderStatus, SalesOrder, SalesOrderLine, Shipment
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures used by name)
from tests.test_browser_counts import fits, off_the_browser_thread
from warehouses.models import CarrierLane, Warehouse

pytestmark = [pytest.mark.browser]

SKU = "CLN-0008"
D = Decimal
SHOT = "/tmp/concord-orders-{}.png"
HANDHELD = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(Path(SHOT.format(name))), full_page=True)


@pytest.fixture
def newark_available(demo: Any) -> Decimal:
    """The demo's case, read before the browser starts: NE-BOS holds no CLN-0008; what NE-NYC has to allocate."""
    assert not ItemWarehouseSummary.objects.filter(item__sku=SKU, warehouse__code="NE-BOS", on_hand__gt=0).exists()
    summary = ItemWarehouseSummary.objects.get(item__sku=SKU, warehouse__code="NE-NYC")
    assert ItemWarehouseSummary.objects.get(item__sku=SKU, warehouse__code="SE-ATL").on_hand > 0
    return summary.on_hand - summary.allocated


@dataclass(frozen=True)
class Backorder:
    number: str  # the backordered order
    shortage: str  # the exception's number


def run_newark_out() -> Backorder:
    """Through the services, as ``ne.service``: one order takes everything NE-NYC has left of CLN-0008; the next,
    with cross-region allocation off (the standard), is backordered and raises a shortage for the planner."""
    actor = get_user_model().objects.get(username="ne.service")
    customer = Customer.objects.get(code="C-NE-001")
    ship_to = customer.ship_tos.get(code="MAIN")
    summary = ItemWarehouseSummary.objects.select_related("item").get(item__sku=SKU, warehouse__code="NE-NYC")

    def order(quantity: Decimal, uom: str) -> SalesOrder:
        taken = sales_order_create(customer=customer, ship_to=ship_to, actor=actor,
                                   lines=[OrderLineSpec(item=summary.item, quantity=quantity, uom=uom)])
        return sales_order_confirm(order=taken, actor=actor)

    assert order(summary.on_hand - summary.allocated, "EA").status == OrderStatus.ALLOCATED
    short = order(D(1), "CS")
    assert short.status == OrderStatus.BACKORDERED
    exception = OperationalException.objects.get(type="shortage", business_key=f"shortage:NE-BOS:{SKU}",
                                                 status="open")
    assert exception.reference == short.number and exception.owner_role == "planner"
    return Backorder(number=short.number, shortage=exception.number)


def expected_promises(site: str, moments: list[dt.datetime]) -> set[str]:
    """The delivery dates ``site`` may promise C-NE-001 (region NE) at any of ``moments``: its shipping cutoff, its
    calendar and the fastest active lane to region NE, through ``orders.rules``."""

    def read() -> tuple[Warehouse, str, int]:
        warehouse = Warehouse.objects.select_related("region").get(code=site)
        cutoff = str(policy_value("fulfillment.shipping_cutoff", warehouse=warehouse).value)
        transit = (CarrierLane.objects.filter(origin_region=warehouse.region, destination_region__code="NE",
                                              carrier__active=True).aggregate(days=Min("transit_days"))["days"])
        return warehouse, cutoff, transit

    warehouse, cutoff, transit = off_the_browser_thread(read)
    hours, minutes = cutoff.split(":")
    return {rules.promise(now=moment, calendar=rules.WarehouseCalendar(timezone=warehouse.timezone),
                          cutoff=dt.time(int(hours), int(minutes)), transit_days=transit).delivery_date.isoformat()
            for moment in moments}


def enter_the_order(page: Any) -> None:
    """Order entry as customer service types it: Harbor Grocers, its main address, two cases of CLN-0008."""
    from playwright.sync_api import expect

    expect(page.locator("h1")).to_have_text("New order")
    page.get_by_label("Customer", exact=True).select_option("C-NE-001")
    expect(page.locator("#id_ship_to option[value='MAIN']")).to_have_count(1)  # htmx brought the addresses
    page.get_by_label("Ship to", exact=True).select_option("MAIN")
    page.get_by_label("SKU of line 1").fill(SKU)
    page.get_by_label("Quantity of line 1").fill("2")
    page.get_by_label("Unit of line 1").fill("CS")


def forgive_superseded_previews(watch: Any) -> None:
    """Drop what htmx logs when ``hx-sync="this:replace"`` aborts a preview that a newer one superseded (an
    ``htmx:sendAbort`` and its ``htmx:afterRequest``, both as console errors); any other error stays."""
    aborted = sum(1 for error in watch.errors if error.startswith("htmx:sendAbort,"))
    kept = []
    for error in watch.errors:
        if error.startswith("htmx:sendAbort,"):
            continue
        if error.startswith("htmx:afterRequest,") and aborted:
            aborted -= 1
            continue
        kept.append(error)
    watch.errors[:] = kept


def test_order_entry_previews_where_the_line_ships_from_and_its_promised_date(
        newark_available: Decimal, request: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    new_page = request.getfixturevalue("open_page")
    page, watch = new_page(1280, 900)
    sign_in(page, live_server, "ne.service", "/orders/new/")
    previewed = [timezone.now()]
    enter_the_order(page)

    preview = page.locator("#line-0-preview")
    expect(preview.locator("[data-field='promise']")).to_contain_text("Ships from NE-NYC")
    expect(preview.locator("[data-field='promise']")).not_to_contain_text("(for 1 EA)")  # the 2 CS were read
    previewed.append(timezone.now())
    shot(page, "entry-preview")
    expect(preview.locator("tr[data-warehouse='NE-NYC'] [data-field='available']")).to_have_text(
        f"{newark_available.normalize():f} EA")
    expect(preview.locator("tr[data-warehouse='NE-BOS'] [data-field='available']")).to_have_text("0 EA")
    expect(preview.locator("tr[data-warehouse='SE-ATL']")).to_have_count(0)  # cross-region allocation is off
    expect(preview.locator("[data-field='backorder']")).to_have_count(0)
    promised = preview.locator("[data-field='promised_date']").inner_text()
    assert promised in expected_promises("NE-NYC", previewed), promised
    forgive_superseded_previews(watch)
    watch.assert_clean(live_server.url)


def test_an_order_for_a_sku_missing_at_home_is_promised_picked_packed_shipped_and_counted(
        newark_available: Decimal, request: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    new_page = request.getfixturevalue("open_page")  # after the demo is read: see test_browser.browser

    # --- customer service takes the order ---------------------------------------------------------------------------
    page, watch = new_page(1280, 900)
    sign_in(page, live_server, "ne.service", "/orders/new/")
    enter_the_order(page)
    shot(page, "entry")

    confirmed = [timezone.now()]
    page.get_by_role("button", name="Create and confirm").click()
    page.wait_for_url(re.compile(r".*/orders/\d+/$"))
    confirmed.append(timezone.now())
    order_path = page.url.removeprefix(live_server.url)
    number = page.locator("h1").inner_text().split()[0]
    assert re.fullmatch(r"SO-\d{6}", number), number
    expect(page.locator(".messages")).to_contain_text(f"{number} is confirmed and allocated.")
    expect(page.locator("h1 [data-field='status']")).to_have_text("Allocated")
    line = page.locator("tr[data-line='1']")
    expect(line.locator("[data-field='warehouse']")).to_have_text("NE-NYC")
    expect(line.locator("[data-field='quantity']")).to_contain_text("12 EA")
    expect(line.locator("[data-field='quantity']")).to_contain_text("(2 CS)")
    expect(line.locator("[data-field='allocated']")).to_have_text("12")
    expect(line.locator("[data-field='backordered']")).to_have_text("0")
    promised = line.locator("[data-field='promised_date']").inner_text()
    assert promised in expected_promises("NE-NYC", confirmed), promised
    expect(page.locator("tr[data-allocation] [data-field='warehouse']")).to_have_text(["NE-NYC"])
    shot(page, "detail")
    forgive_superseded_previews(watch)
    watch.assert_clean(live_server.url)

    # NE-NYC runs out: the next orders take the rest and backorder (see run_newark_out).
    backorder = off_the_browser_thread(run_newark_out)

    # --- the operator picks it at NE-NYC on a handheld ------------------------------------------------------------
    hand, hand_watch = new_page(390, 844, **HANDHELD)
    sign_in(hand, live_server, "ne.operator", "/picking/")
    expect(hand.locator("h1")).to_have_text("Picking")
    one_order = hand.locator("section", has=hand.get_by_role("heading", name="Pick one order"))
    one_order.get_by_label("Warehouse", exact=True).select_option("NE-NYC")
    one_order.get_by_label("Order", exact=True).fill(number)
    assert fits(hand), "the picking list scrolls sideways"
    one_order.get_by_role("button", name="Pick order").click()
    hand.wait_for_url(re.compile(r".*/picking/\d+/$"))
    pick_path = hand.url.removeprefix(live_server.url)
    pick_number = hand.locator("h1").inner_text().split()[0]
    expect(hand.locator(".messages")).to_contain_text(f"{pick_number} is open:")
    expect(hand.locator(".messages")).to_contain_text("to pick at NE-NYC.")
    expect(hand.locator("h1 .badge")).to_have_text("Open")
    expect(hand.locator(".lede")).to_contain_text(f"NE-NYC · order {number}")

    picked_total = D(0)
    for _ in range(10):  # one step per line, in walking order
        step = hand.locator(".pick-step")
        if not step.count():
            break
        where = hand.locator(".pick-step__where").inner_text()
        location = where.removeprefix("Go to ").strip()
        expect(hand.locator(".pick-step__what")).to_contain_text(SKU)
        asked = hand.locator(".pick-step__what strong").first.inner_text().split()[0]
        expect(hand.locator("#pick-location")).to_be_focused()
        if picked_total == 0:
            assert fits(hand), "the pick step scrolls sideways"
            shot(hand, "pick-handheld")
        hand.locator("#pick-location").fill(location)
        hand.locator("#pick-location").press("Enter")  # a scan's Enter moves on
        expect(hand.locator("#pick-sku")).to_be_focused()
        hand.locator("#pick-sku").fill(SKU)
        hand.locator("#pick-sku").press("Enter")
        expect(hand.locator("#pick-quantity")).to_be_focused()  # CLN-0008 has no lots
        expect(hand.locator("#pick-quantity")).to_have_value(asked)
        hand.locator("#pick-quantity").press("Enter")  # the asked quantity, all of it
        expect(hand.locator(".messages")).to_contain_text(f"{asked} {SKU} at {location}.")
        picked_total += D(asked)
    assert picked_total == 12
    expect(hand.locator("[data-field='progress']")).to_contain_text("picked")
    hand.get_by_role("button", name=f"Confirm {pick_number}").click()
    hand.wait_for_url(live_server.url + pick_path)
    expect(hand.locator(".messages")).to_contain_text(f"{pick_number} is picked.")
    expect(hand.locator("h1 .badge")).to_have_text("Picked")
    expect(hand.locator("tr[data-line]")).not_to_have_count(0)
    for row in hand.locator("tr[data-line]").all():
        expect(row).to_have_attribute("data-status", "picked")
    assert fits(hand), "the picked list scrolls sideways"
    shot(hand, "picked-handheld")

    # --- packs and ships it -------------------------------------------------------------------------------------
    hand.goto(live_server.url + "/shipping/")
    expect(hand.locator("h1")).to_have_text("Shipping")
    waiting = hand.locator(f"tr[data-ready='{number}']")
    expect(waiting).to_have_attribute("data-warehouse", "NE-NYC")
    assert fits(hand), "the shipping list scrolls sideways"
    waiting.get_by_role("link", name="Pack").click()
    hand.wait_for_url(re.compile(r".*/shipping/pack/\d+/NE-NYC/$"))
    expect(hand.locator("h1")).to_have_text(f"Pack {number}")
    expect(hand.locator("tr[data-pick-line]")).to_contain_text([SKU])
    package = hand.locator("fieldset[data-package='1']")
    package.get_by_label("Weight (kg)").fill("14.2")
    package.get_by_label("Length").fill("40")
    package.get_by_label("Width").fill("30")
    package.get_by_label("Height").fill("30")
    hand.get_by_role("combobox", name="Carrier").select_option("UPS")
    hand.get_by_label("Tracking number", exact=True).fill("1ZWP0001")
    assert fits(hand), "the packing form scrolls sideways"
    shot(hand, "pack-handheld")
    hand.get_by_role("button", name="Pack", exact=True).click()
    hand.wait_for_url(re.compile(r".*/shipping/\d+/$"))
    shipment_number = hand.locator("h1").inner_text().split()[0]
    assert re.fullmatch(r"SH-\d{6}", shipment_number), shipment_number
    expect(hand.locator(".messages")).to_contain_text(f"{shipment_number} is packed: 1 line in 1 package.")
    expect(hand.locator("h1 .badge")).to_have_text("Packed")
    expect(hand.locator(".ship-blocked")).to_have_count(0)  # the packing slip is all NE-NYC requires
    expect(hand.locator("[data-field='carrier']")).to_contain_text("UPS")
    expect(hand.locator("[data-field='tracking']")).to_have_text("1ZWP0001")
    expect(hand.locator("#ship-carrier")).to_have_value("UPS")
    hand.get_by_role("button", name="Ship", exact=True).click()
    expect(hand.locator("h1 .badge")).to_have_text("Shipped")
    expect(hand.locator(".messages")).to_contain_text(
        f"{shipment_number} has shipped with UPS (1ZWP0001): the stock left NE-NYC.")
    expect(hand.get_by_role("button", name="Confirm delivery")).to_be_visible()
    assert fits(hand), "the shipped shipment scrolls sideways"
    shot(hand, "shipped-handheld")

    slip = hand.get_by_role("link", name="Packing slip").first.get_attribute("href")
    assert slip
    hand.goto(live_server.url + slip)
    expect(hand.locator("h1")).to_have_text("Packing slip")
    body = hand.locator("body")
    expect(body).to_contain_text(shipment_number)
    expect(body).to_contain_text(number)
    expect(hand.locator("[data-field='ship-to']")).to_contain_text("Harbor Grocers")
    expect(hand.locator("tr[data-line]")).to_contain_text([re.compile(rf"{SKU}.*12 EA", re.S)])
    expect(hand.locator("tr[data-package='1']")).to_contain_text("14.2")
    shot(hand, "packing-slip")
    hand_watch.assert_clean(live_server.url)

    def shipped() -> tuple[str, Any, list[tuple[Decimal, str]], str]:
        order = SalesOrder.objects.get(number=number)
        line = SalesOrderLine.objects.get(order=order)
        shipment = Shipment.objects.get(number=shipment_number)
        moves = list(StockMove.objects.filter(item__sku=SKU, warehouse__code="NE-NYC",
                                              pk__in=shipment.lines.values("stock_move_id"))
                     .values_list("quantity", "actor__username"))
        return order.status, line.shipped_complete_on, moves, shipment.status

    status, shipped_on, moves, shipment_status = off_the_browser_thread(shipped)
    assert (status, shipment_status) == (OrderStatus.SHIPPED, "shipped")
    assert shipped_on is not None and shipped_on.isoformat() <= promised
    assert sum(quantity for quantity, _ in moves) == -12 and {who for _, who in moves} == {"ne.operator"}

    # --- the planner sees the shortage the earlier backorder raised -------------------------------------------------
    planner, planner_watch = new_page(1280, 900)
    sign_in(planner, live_server, "planner", "/governance/exceptions/?type=shortage")
    shortage = planner.locator("tr", has_text=backorder.shortage)
    expect(shortage).to_contain_text(SKU)
    expect(shortage).to_contain_text(backorder.number)
    expect(shortage).to_contain_text("NE-BOS")
    expect(shortage).to_contain_text("Planner")  # the owner role by its name
    expect(shortage).to_contain_text("Open")
    expect(shortage.get_by_role("button", name="Acknowledge")).to_be_visible()
    shot(planner, "exceptions")
    planner_watch.assert_clean(live_server.url)

    # --- and the order list and the fill rate reflect the shipped line ---------------------------------------------
    page.goto(live_server.url + "/orders/")
    expect(page.locator(f"tr[data-order='{number}']")).to_have_attribute("data-status", "shipped")
    expect(page.locator(f"tr[data-order='{number}']")).to_contain_text("Shipped")
    expect(page.locator(f"tr[data-order='{backorder.number}']")).to_contain_text("Backordered")
    expect(page.locator("#fill-rate")).to_be_visible()
    shot(page, "list")
    # The list's card covers the 30 days to today; the line is promised later (it shipped early), so its period is
    # asked of the API, with the same session.
    period = {"warehouse": "NE-NYC", "from": (dt.date.fromisoformat(promised) - dt.timedelta(days=29)).isoformat(),
              "to": promised}
    answer = page.request.get(live_server.url + "/api/v1/kpis/fill-rate/", params=period)
    assert answer.ok, answer.text()
    figures = answer.json()
    assert (figures["lines_due"], figures["lines_filled"], figures["fill_rate"]) == (1, 1, "1.0000"), figures
    page.goto(live_server.url + order_path)
    expect(page.locator("h1 [data-field='status']")).to_have_text("Shipped")
    expect(line.locator("[data-field='shipped']")).to_have_text("12")
    expect(line.locator("[data-field='shipped_complete_on']")).to_have_text(shipped_on.isoformat())
    expect(page.locator(f"tr[data-document='{pick_number}']")).to_contain_text("Picked")
    expect(page.locator(f"tr[data-document='{shipment_number}']")).to_contain_text("Shipped")
    forgive_superseded_previews(watch)
    watch.assert_clean(live_server.url)
