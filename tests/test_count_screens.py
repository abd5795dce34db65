"""The cycle count screens (a blind count on a handheld, the approver's decision) and the handheld adjustment."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext

from governance.models import ApprovalRequest, ApprovalStatus
from governance.services.approvals import document_url
from inventory.models import (
    AdjustmentStatus,
    CycleCount,
    CycleCountLine,
    CycleCountLineState,
    CycleCountOrigin,
    CycleCountStatus,
    Item,
    StockAdjustment,
    StockBalance,
    StockMove,
)
from inventory.services.counts import CountEntry, CountPair, cycle_count_create, cycle_count_record, cycle_count_submit
from warehouses.models import Location

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SKU = "CLN-0001"  # not lot-tracked, 2.50 a unit at NE-BOS: the value limit (250) is 100 units


@pytest.fixture
def browser_as(user: Any) -> Any:
    def make(username: str) -> Client:
        client = Client()
        client.force_login(user(username))
        return client

    return make


@pytest.fixture
def roleless_user(demo: Any) -> Any:
    return get_user_model().objects.create_user(username="nobody", password="demo-password-123")


def page(response: Any) -> str:
    return response.content.decode()


def main_of(html: str) -> str:
    """The page below the header, without the CSRF tokens (random text that could hold any digits)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html.split('id="main"')[-1])


def bin_of(sku: str = SKU, warehouse: str = "NE-BOS") -> Location:
    code = (StockBalance.objects.filter(item__sku=sku, warehouse__code=warehouse, status__code="available",
                                        on_hand__gt=0).values_list("location__code", flat=True).get())
    return Location.objects.select_related("warehouse").get(warehouse__code=warehouse, code=code)


def on_hand_at(location: Location, sku: str = SKU) -> Decimal:
    return StockBalance.objects.filter(item__sku=sku, location=location).aggregate(total=Sum("on_hand"))["total"]


def open_count(user: Any, sku: str = SKU, username: str = "ne.operator") -> CycleCount:
    location = bin_of(sku)
    return cycle_count_create(warehouse=location.warehouse, actor=user(username),
                              pairs=[CountPair(location=location, item=Item.objects.get(sku=sku))])


def submitted_count(user: Any, quantity: Decimal) -> CycleCount:
    """A count of CLN-0001 at its NE-BOS bin, counted at ``quantity`` and submitted by ne.operator."""
    count = open_count(user)
    operator = user("ne.operator")
    cycle_count_record(count=count, actor=operator, entries=[CountEntry(
        location=bin_of(), item=Item.objects.get(sku=SKU), quantity=quantity, uom="EA")])
    return cycle_count_submit(count=count, actor=operator)


def far_off() -> Decimal:
    """Half of what the bin holds: beyond the 2 % tolerance whatever the demo put there."""
    return (on_hand_at(bin_of()) / 2).to_integral_value()


def entry(location: str, quantity: str, sku: str = SKU, **overrides: str) -> dict[str, str]:
    form = {"location": location, "sku": sku, "lot": "", "uom": "", "quantity": quantity}
    form.update(overrides)
    return form


def url(count: CycleCount, action: str = "") -> str:
    return f"/stock/counts/{count.pk}/{action + '/' if action else ''}"


# --- Access ----------------------------------------------------------------------------------------------


def test_a_count_outside_the_users_scope_is_not_found(user: Any, browser_as: Any) -> None:
    count = open_count(user)
    client = browser_as("eu.operator")
    assert client.get(url(count)).status_code == 404
    assert client.post(url(count, "record"), entry(bin_of().code, "1")).status_code == 404
    assert client.post(url(count, "submit")).status_code == 404
    assert client.post(url(count, "decide"), {"decision": "approve"}).status_code == 404
    assert not CycleCountLine.objects.filter(count=count).exclude(state=CycleCountLineState.PENDING).exists()
    assert browser_as("ne.operator").get(url(count)).status_code == 200


def test_the_count_and_adjust_screens_are_forbidden_without_their_permissions(
        user: Any, browser_as: Any, roleless_user: Any) -> None:
    count = open_count(user)
    nobody = Client()
    nobody.force_login(roleless_user)
    for path in ("/stock/counts/", url(count), "/stock/adjust/", "/stock/counts/new/"):
        assert nobody.get(path).status_code == 403
    planner = browser_as("planner")  # reads counts, neither counts nor adjusts
    assert planner.get(url(count)).status_code == 200
    assert planner.post(url(count, "record"), entry(bin_of().code, "1")).status_code == 403
    assert planner.post(url(count, "submit")).status_code == 403
    assert planner.get("/stock/adjust/").status_code == 403
    assert planner.post("/stock/counts/new/", {"warehouse": "NE-BOS", "location": "A-01-01", "skus": SKU}
                        ).status_code == 403
    assert 'id="count-entry"' not in page(planner.get(url(count)))
    assert CycleCount.objects.filter(created_by__username="planner").count() == 0


def test_the_stock_inquiry_links_an_operator_to_counts_and_adjustments(browser_as: Any) -> None:
    html = page(browser_as("ne.operator").get("/stock/"))
    assert 'href="/stock/counts/"' in html and 'href="/stock/adjust/"' in html
    planner = page(browser_as("planner").get("/stock/"))
    assert 'href="/stock/counts/"' in planner and 'href="/stock/adjust/"' not in planner


def test_the_approval_engine_links_a_count_to_its_screen(user: Any) -> None:
    count = submitted_count(user, far_off())
    assert document_url(ApprovalRequest.objects.get(pk=count.approval_request_id)) == url(count)


# --- The list, the accuracy panel and the new count form -----------------------------------------------


def test_the_list_shows_open_and_waiting_counts_before_closed_ones_and_filters_them(
        user: Any, browser_as: Any) -> None:
    posted = submitted_count(user, on_hand_at(bin_of()))
    waiting = submitted_count(user, far_off())
    opened = open_count(user)
    client = browser_as("ne.operator")
    html = page(client.get("/stock/counts/", {"warehouse": "NE-BOS"}))
    numbers = re.findall(r'data-count="(CC-\d+)"', html)
    assert {posted.number, waiting.number, opened.number} <= set(numbers)
    assert numbers.index(opened.number) < numbers.index(waiting.number) < numbers.index(posted.number)
    assert f'href="/stock/counts/{waiting.pk}/"' in html

    only_posted = page(client.get("/stock/counts/", {"warehouse": "NE-BOS", "status": "posted"}, **HTMX))
    assert re.findall(r'data-count="(CC-\d+)"', only_posted) == [posted.number]
    assert "<html" not in only_posted and 'hx-swap-oob="true"' in only_posted
    outside = page(client.get("/stock/counts/", {"warehouse": "EU-RTM"}))
    assert not re.findall(r'data-count="(CC-\d+)"', outside)


def test_the_accuracy_panel_counts_pairs_within_tolerance_per_warehouse(user: Any, browser_as: Any) -> None:
    def accuracy(warehouse: str) -> dict[str, str]:
        html = page(browser_as("ne.operator").get("/stock/counts/"))
        panel = html.split('id="accuracy"')[1]
        row = re.search(rf'<tr data-warehouse="{warehouse}">(.*?)</tr>', panel, re.S)
        assert row, f"no accuracy row for {warehouse}"
        return {field: re.sub(r"<[^>]+>", "", value).strip()
                for field, value in re.findall(r'data-field="(\w+)">(.*?)</td>', row.group(1), re.S)}

    assert accuracy("NE-BOS") == {"counted": "0", "within": "0", "percent": "no counts"}
    submitted_count(user, on_hand_at(bin_of()))
    submitted_count(user, far_off())
    assert accuracy("NE-BOS") == {"counted": "2", "within": "1", "percent": "50.00 %"}
    assert accuracy("NE-NYC")["percent"] == "no counts"
    assert "EU-RTM" not in page(browser_as("ne.operator").get("/stock/counts/")).split('id="accuracy"')[1]


def test_the_new_count_form_opens_a_count_and_goes_to_it(browser_as: Any) -> None:
    location = bin_of()
    response = browser_as("ne.operator").post("/stock/counts/new/", {
        "warehouse": "NE-BOS", "location": location.code.lower(), "skus": f"{SKU}, PAP-0001"}, follow=True)
    count = CycleCount.objects.get(created_by__username="ne.operator", origin=CycleCountOrigin.MANUAL)
    assert response.redirect_chain == [(url(count), 302)]
    assert f"{count.number} is open: 2 lines to count at NE-BOS {location.code}." in page(response)
    assert list(count.lines.order_by("line_no").values_list("item__sku", "location__code")) == [
        (SKU, location.code), ("PAP-0001", location.code)]
    assert page(response).count("to count</span>") == 2


def test_the_new_count_form_refuses_unknown_skus_and_locations_and_opens_nothing(browser_as: Any) -> None:
    client = browser_as("ne.operator")
    before = CycleCount.objects.count()
    html = page(client.post("/stock/counts/new/", {"warehouse": "NE-BOS", "location": "NOPE", "skus": "NOPE-1 NOPE-2"}))
    assert "No location NOPE in NE-BOS." in html and "Unknown SKUs: NOPE-1, NOPE-2." in html
    twice = page(client.post("/stock/counts/new/", {"warehouse": "NE-BOS", "location": "A-01-01",
                                                    "skus": f"{SKU} {SKU}"}))
    assert "is listed twice" in twice and 'role="alert"' in twice
    outside = page(client.post("/stock/counts/new/", {"warehouse": "EU-RTM", "location": "A-01-01", "skus": SKU}))
    assert "Select a valid choice" in outside
    assert CycleCount.objects.count() == before


def test_the_list_takes_the_same_number_of_queries_for_one_count_and_a_full_page(user: Any, browser_as: Any) -> None:
    for _ in range(3):
        open_count(user)
    client = browser_as("ne.operator")
    client.get("/stock/counts/")  # warm the session and scope caches

    def queries(params: dict[str, str]) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            html = page(client.get("/stock/counts/", params, **HTMX))
        return len(captured), html.count("data-count=")

    one, one_rows = queries({"q": CycleCount.objects.filter(origin="manual").first().number})
    many, many_rows = queries({})
    assert one_rows == 1 and many_rows >= 4
    assert one == many


# --- Counting, blind ---------------------------------------------------------------------------------


def test_an_open_count_never_shows_the_expected_quantity(user: Any, browser_as: Any) -> None:
    count = open_count(user)
    location = bin_of()
    expected = on_hand_at(location)
    client = browser_as("ne.operator")
    recorded = page(client.post(url(count, "record"), entry(location.code, "7"), **HTMX))
    line = CycleCountLine.objects.get(count=count)
    assert line.state == CycleCountLineState.COUNTED and line.expected_quantity == expected  # the system knows
    for html in (recorded, page(client.get(url(count))), page(browser_as("approver").get(url(count)))):
        body = main_of(html)
        assert not re.search(rf"(?<![\w.-]){expected.normalize():f}(?![\w.])", body), "the expected quantity leaks"
        assert "Expected" not in body and "Variance" not in body
        assert re.search(r'data-field="counted">7 EA<', body)


def test_recording_with_htmx_keeps_the_location_focuses_the_item_and_shows_the_line_counted(
        user: Any, browser_as: Any) -> None:
    count = open_count(user)
    location = bin_of()
    client = browser_as("ne.operator")
    response = client.post(url(count, "record"), entry(location.code.lower(), "12"), **HTMX)
    html = page(response)
    assert response.status_code == 200 and "<html" not in html
    assert f"Counted 12 EA of {SKU} at {location.code}." in html
    assert re.search(rf'id="count-location" name="location" value="{location.code}"', html)
    assert re.search(r'<input[^>]*id="count-sku"[^>]*\bautofocus\b', html, re.S)
    assert re.search(r'id="count-sku" name="sku" value=""', html)
    assert re.search(r'<section id="count-lines"[^>]*hx-swap-oob="true"', html)
    assert "1 of 1 counted" in html
    line = CycleCountLine.objects.get(count=count)
    assert (line.counted_quantity, line.counted_by.username) == (Decimal(12), "ne.operator")

    # Counting the same line again corrects it; a case counts as 6 each.
    html = page(client.post(url(count, "record"), entry(location.code, "2", uom="cs"), **HTMX))
    assert re.search(r'data-field="counted">12 EA <span class="muted">\(2 CS\)</span><', html)
    assert CycleCountLine.objects.get(count=count).counted_quantity == Decimal(12)


def test_without_javascript_recording_redirects_back_to_the_count_with_the_location(user: Any,
                                                                                  browser_as: Any) -> None:
    count = open_count(user)
    location = bin_of()
    response = browser_as("ne.operator").post(url(count, "record"), entry(location.code, "3"), follow=True)
    assert response.redirect_chain == [(f"{url(count)}?location={location.code}", 302)]
    assert f"Counted 3 EA of {SKU} at {location.code}." in page(response)
    assert re.search(rf'id="count-location" name="location" value="{location.code}"', page(response))
    refused = browser_as("ne.operator").post(url(count, "record"), entry(location.code, "1", sku="NOPE-9999"))
    assert refused.status_code == 200 and "<html" in page(refused) and "Unknown SKU: NOPE-9999." in page(refused)
    assert CycleCountLine.objects.get(count=count).counted_quantity == Decimal(3)


def test_a_refused_entry_shows_its_error_inline_and_records_nothing(user: Any, browser_as: Any) -> None:
    count = open_count(user)
    location = bin_of()
    client = browser_as("ne.operator")
    cases = [
        (entry("NOPE", "1"), "No location NOPE in NE-BOS.", "location"),
        (entry(location.code, "1", sku="NOPE-9999"), "Unknown SKU: NOPE-9999.", "sku"),
        (entry(location.code, "1", uom="XX"), f"{SKU} has no unit XX.", "uom"),
        (entry(location.code, "-1"), "Ensure this value is greater than or equal to 0.", "quantity"),
        (entry(location.code, "1", lot="L1"), f"{SKU} is not lot-tracked.", "lot"),
        (entry(location.code, "many"), "Enter a number.", "quantity"),
    ]
    for form, message, field in cases:
        html = page(client.post(url(count, "record"), form, **HTMX))
        assert message in html, message
        assert re.search(rf'<input[^>]*id="count-{field}"[^>]*\bautofocus\b', html, re.S), field
        assert "hx-swap-oob" in html  # the lines come back unchanged
    # Submitted meanwhile from another handheld: htmx is sent to the count as it is now, with the reason.
    closed = submitted_count(user, on_hand_at(location))
    response = client.post(url(closed, "record"), entry(location.code, "1"), **HTMX)
    assert response.status_code == 204 and response["HX-Redirect"] == url(closed)
    assert "is posted; it cannot be counted." in page(client.get(url(closed)))
    assert CycleCountLine.objects.get(count=count).state == CycleCountLineState.PENDING
    assert CycleCountLine.objects.get(count=closed).counted_quantity == on_hand_at(location)


def test_a_lot_tracked_item_is_counted_by_lot_and_the_form_knows_to_ask_for_it(user: Any, browser_as: Any) -> None:
    lot_sku = "BEV-0001"
    count = open_count(user, sku=lot_sku)
    location = bin_of(lot_sku)
    (lot,) = count.lines.values_list("lot__lot_number", flat=True)
    client = browser_as("ne.operator")
    assert f'data-lot-skus="{lot_sku}"' in page(client.get(url(count)))
    html = page(client.post(url(count, "record"), entry(location.code, "4", sku=lot_sku), **HTMX))
    assert f"{lot_sku} is lot-tracked: scan or type the lot." in html
    assert re.search(r'<input[^>]*id="count-lot"[^>]*\bautofocus\b', html, re.S)
    html = page(client.post(url(count, "record"), entry(location.code, "4", sku=lot_sku, lot=lot), **HTMX))
    assert f"Counted 4 EA of {lot_sku} lot {lot} at {location.code}." in html
    assert CycleCountLine.objects.get(count=count).counted_quantity == Decimal(4)


# --- Submitting, approving, recounting -------------------------------------------------------------------


def test_submitting_an_incomplete_count_says_which_lines_are_left(user: Any, browser_as: Any) -> None:
    count = open_count(user)
    response = browser_as("ne.operator").post(url(count, "submit"), follow=True)
    assert f"1 of 1 lines of {count.number} are not counted yet. Still to count: {bin_of().code} {SKU}." in page(
        response)
    count.refresh_from_db()
    assert count.status == CycleCountStatus.OPEN


def test_a_count_within_tolerance_posts_on_submit_and_shows_every_figure(user: Any, browser_as: Any) -> None:
    location = bin_of()
    before = on_hand_at(location)
    count = open_count(user)
    client = browser_as("ne.operator")
    client.post(url(count, "record"), entry(location.code, str(before - 1)), **HTMX)
    response = client.post(url(count, "submit"), follow=True)
    html = page(response)
    assert f"{count.number} is posted: 1 line counted, every variance within tolerance." in html
    assert on_hand_at(location) == before - 1
    assert StockMove.objects.get(reference_type="cycle_count", reference_id=str(count.pk)).quantity == -1
    assert 'data-status="posted"' in html
    row = re.search(r'<tr data-line="1"[^>]*>(.*?)</tr>', html, re.S).group(1)
    assert f'data-field="expected">{before.normalize():f}<' in row
    assert f'data-field="counted">{(before - 1).normalize():f} EA<' in row
    assert 'data-field="variance">-1<' in row and 'data-field="value">-2.5<' in row
    assert 'data-field="within">Yes<' in row and 'data-field="state">Posted<' in row
    assert 'id="count-entry"' not in html and 'value="approve"' not in html


def test_a_count_beyond_tolerance_waits_and_only_the_supervisor_gets_the_buttons(user: Any, browser_as: Any) -> None:
    location = bin_of()
    before = on_hand_at(location)
    count = open_count(user)
    operator = browser_as("ne.operator")
    operator.post(url(count, "record"), entry(location.code, str(far_off())), **HTMX)
    html = page(operator.post(url(count, "submit"), follow=True))
    assert f"{count.number} is pending approval: 1 of 1 line beyond tolerance" in html
    assert 'data-status="pending_approval"' in html and 'data-field="within">No<' in html
    assert on_hand_at(location) == before
    assert 'value="approve"' not in html and 'value="recount"' not in html  # the submitting operator

    approver = page(browser_as("ne.supervisor").get(url(count)))
    assert 'value="approve"' in approver and 'value="reject"' in approver and 'value="recount"' in approver
    assert count.number in approver and "Waiting for" in approver
    assert 'value="approve"' not in page(browser_as("planner").get(url(count)))
    # NE's variances below 1,000 are the supervisor's (the demo's approval rule), not an approver's.
    assert 'value="approve"' not in page(browser_as("approver").get(url(count)))


def test_the_supervisor_approves_from_the_screen_and_the_variance_posts(user: Any, browser_as: Any) -> None:
    location = bin_of()
    before, counted = on_hand_at(location), far_off()
    count = submitted_count(user, counted)
    response = browser_as("ne.supervisor").post(url(count, "decide"), {"decision": "approve", "comment": ""},
                                                follow=True)
    assert response.redirect_chain == [(url(count), 302)]
    assert f"Approved: {count.number} is posted." in page(response)
    count.refresh_from_db()
    assert count.status == CycleCountStatus.POSTED
    assert on_hand_at(location) == counted
    move = StockMove.objects.get(reference_type="cycle_count", reference_id=str(count.pk))
    assert (move.quantity, move.actor.username) == (counted - before, "ne.supervisor")


def test_the_submitting_operator_cannot_approve_by_forging_the_post(user: Any, browser_as: Any) -> None:
    location = bin_of()
    before = on_hand_at(location)
    count = submitted_count(user, far_off())
    response = browser_as("ne.operator").post(url(count, "decide"), {"decision": "approve"}, follow=True)
    assert 'class="message message--error"' in page(response)
    count.refresh_from_db()
    assert count.status == CycleCountStatus.PENDING_APPROVAL and on_hand_at(location) == before


def test_rejecting_from_the_screen_needs_a_comment_and_then_posts_nothing(user: Any, browser_as: Any) -> None:
    location = bin_of()
    before = on_hand_at(location)
    count = submitted_count(user, far_off())
    client = browser_as("ne.supervisor")
    bare = page(client.post(url(count, "decide"), {"decision": "reject"}, follow=True))
    assert "Say why you reject it" in bare
    assert CycleCount.objects.get(pk=count.pk).status == CycleCountStatus.PENDING_APPROVAL
    html = page(client.post(url(count, "decide"), {"decision": "reject", "comment": "Counted the wrong bin"},
                            follow=True))
    assert f"Rejected: {count.number} is rejected." in html
    assert 'data-field="state">Rejected<' in html
    assert on_hand_at(location) == before


def test_the_supervisor_asks_for_a_recount_from_the_screen_and_lands_on_a_new_blind_count(
        user: Any, browser_as: Any) -> None:
    location = bin_of()
    count = submitted_count(user, far_off())
    response = browser_as("ne.supervisor").post(url(count, "decide"), {"decision": "recount",
                                                                  "comment": "Check behind the pallet"}, follow=True)
    recount = CycleCount.objects.get(recount_of=count)
    assert response.redirect_chain == [(url(recount), 302)]
    html = page(response)
    assert f"{count.number} goes back to the floor: {recount.number} recounts" in html
    assert 'data-status="open"' in html and "to count</span>" in html and "Expected" not in main_of(html)
    count.refresh_from_db()
    assert count.status == CycleCountStatus.RECOUNTED
    assert ApprovalRequest.objects.get(pk=count.approval_request_id).status == ApprovalStatus.CANCELLED
    original = page(browser_as("ne.operator").get(url(count)))
    assert f'href="{url(recount)}"' in original and 'data-field="state">Sent to recount<' in original

    # The operator counts the recount right and it posts.
    operator = browser_as("ne.operator")
    right = on_hand_at(location)
    operator.post(url(recount, "record"), entry(location.code, str(right)), **HTMX)
    assert "is posted" in page(operator.post(url(recount, "submit"), follow=True))


# --- Adjusting stock on a handheld -------------------------------------------------------------------------


def adjustment(location: str, quantity: str, **overrides: str) -> dict[str, str]:
    form = {"warehouse": "NE-BOS", "reason": "FOUND", "location": location, "sku": SKU, "lot": "", "uom": "",
            "quantity": quantity}
    form.update(overrides)
    return form


def test_an_adjustment_within_tolerance_posts_and_gives_the_new_on_hand(browser_as: Any) -> None:
    location = bin_of()
    before = on_hand_at(location)
    response = browser_as("ne.operator").post("/stock/adjust/", adjustment(location.code, "2"), follow=True)
    assert response.redirect_chain == [("/stock/adjust/?warehouse=NE-BOS&reason=FOUND", 302)]
    posted = StockAdjustment.objects.get(requested_by__username="ne.operator")
    assert posted.status == AdjustmentStatus.POSTED
    assert (f"{posted.number} posted: +2 EA of {SKU} at NE-BOS {location.code} (FOUND). "
            f"On hand there now {(before + 2).normalize():f} EA.") in page(response)
    assert on_hand_at(location) == before + 2
    # The next adjustment starts from the same warehouse and reason, the focus on the location.
    assert re.search(r'<option value="FOUND" selected>', page(response))
    assert re.search(r'<input[^>]*id="id_location"[^>]*\bautofocus\b', page(response), re.S)


def test_an_adjustment_beyond_tolerance_waits_for_approval_and_moves_nothing(browser_as: Any) -> None:
    location = bin_of()
    before = on_hand_at(location)
    moves = StockMove.objects.count()
    response = browser_as("ne.operator").post("/stock/adjust/", adjustment(location.code, f"-{far_off()}",
                                                                           reason="LOST"), follow=True)
    waiting = StockAdjustment.objects.get(requested_by__username="ne.operator")
    assert waiting.status == AdjustmentStatus.PENDING_APPROVAL and waiting.approval_request_id is not None
    assert f"{waiting.number} is waiting for approval: -{far_off()} EA of {SKU}" in page(response)
    assert on_hand_at(location) == before and StockMove.objects.count() == moves


def test_a_refused_adjustment_shows_the_error_and_writes_nothing(browser_as: Any) -> None:
    location = bin_of()
    client = browser_as("ne.operator")
    moves, adjustments = StockMove.objects.count(), StockAdjustment.objects.count()
    cases = [
        (adjustment(location.code, "-999999"), "Only"),
        (adjustment(location.code, "0"), "Must not be zero."),
        (adjustment(location.code, "1", uom="XX"), f"{SKU} has no unit XX."),
        (adjustment(location.code, "1", reason="QC-HOLD"), "Select a valid choice"),
        (adjustment("NOPE", "1", sku="NOPE-9999"), "Unknown SKU: NOPE-9999."),
        (adjustment(location.code, "1", warehouse="EU-RTM"), "Select a valid choice"),
    ]
    for form, message in cases:
        response = client.post("/stock/adjust/", form)
        assert response.status_code == 200 and message in page(response), message
    assert (StockMove.objects.count(), StockAdjustment.objects.count()) == (moves, adjustments)


def test_the_adjust_screen_offers_scoped_warehouses_and_adjustment_reasons(browser_as: Any) -> None:
    html = main_of(page(browser_as("ne.operator").get("/stock/adjust/")))
    assert set(re.findall(r'<option value="((?:NE|SE|EU)-[A-Z]{3})"', html)) == {"NE-BOS", "NE-NYC"}
    assert 'value="LOST"' in html and 'value="QC-HOLD"' not in html
    assert 'inputmode="decimal"' in html
