"""The transfer screens (issue 13): the list (filters, search by number, CSV), a transfer's page with its buttons by
state, permission and scope, the request form, the confirm step of Cancel, dispatch and receipt on the handhelds,
and the exception's cause link back to its transfer.

SE-ATL (region SE) sends to NE-BOS (region NE). ``ne.operator`` works at NE-BOS and NE-NYC: it sees the transfer
and receives it, but does not dispatch it; ``se.operator`` (made here, SE-ATL only) dispatches it; ``eu.operator``
sees nothing of it; ``planner`` (enterprise) requests, submits and cancels, and works no handheld. Items are
stock-free twins of demo items (``T-CLN-0004``), stocked at SE-ATL's A-01-01.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from erp import services as platform
from erp.formats import datetime_text
from governance.causes import exception_causes
from governance.models import ApprovalRequest, OperationalException
from governance.services.approvals import approval_can_decide, approval_request_decide, current_step
from inventory.models import StockBalance
from inventory.tests.factories import warehouse
from warehouses.transfers import services
from warehouses.transfers.models import Transfer, TransferLine, TransferStatus
from warehouses.transfers.tests.helpers import D, approved, on_hand, request, stock_at, twin

pytestmark = pytest.mark.django_db

LIST, NEW = "/transfers/", "/transfers/new/"


def _detail(transfer: Transfer) -> str:
    return f"/transfers/{transfer.pk}/"


def _browser(account: Any) -> Client:
    client = Client()
    client.force_login(account)
    return client


def _demo_user(username: str) -> Any:
    return get_user_model().objects.get(username=username)


def _se_operator() -> Any:
    account = get_user_model().objects.filter(username="se.operator").first()
    if account is None:
        account = get_user_model().objects.create_user("se.operator", password="x-unused-x")
        account.groups.add(Group.objects.get(name="Warehouse operator"))
        platform.scope_grant(user=account, actor=None, warehouses=[warehouse("SE-ATL")])
    return get_user_model().objects.get(pk=account.pk)


@pytest.fixture
def product(demo: Any) -> Any:
    made = twin("CLN-0004")
    stock_at(made, "SE-ATL", 100, unit_cost="2.50")
    return made


@pytest.fixture
def ne_operator(demo: Any) -> Client:
    return _browser(_demo_user("ne.operator"))


@pytest.fixture
def se_operator(demo: Any) -> Client:
    return _browser(_se_operator())


@pytest.fixture
def planner(demo: Any) -> Client:
    return _browser(_demo_user("planner"))


def _page(response: Any) -> str:
    return response.content.decode()


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _available(product: Any, site: str, code: str = "A-01-01") -> Decimal:
    return sum((b.on_hand for b in StockBalance.objects.filter(item=product, warehouse__code=site,
                                                                location__code=code, status__code="available")),
               D(0))


# --- the list -------------------------------------------------------------------------------------------------


def test_the_list_shows_a_transfer_at_both_ends_and_not_elsewhere(product, ne_operator, se_operator, planner):
    transfer = approved(product, 10)
    for client in (ne_operator, se_operator, planner):
        response = client.get(LIST)
        assert response.status_code == 200
        assert f'data-transfer="{transfer.number}"' in _page(response)
        assert '<option value="SE-ATL">from SE-ATL</option>' in _page(response)  # the other end is a filter too
    eu = _browser(_demo_user("eu.operator"))
    response = eu.get(LIST)
    assert response.status_code == 200 and transfer.number not in _page(response)
    assert eu.get(_detail(transfer)).status_code == 404


def test_the_list_search_finds_exactly_the_number_and_filters_narrow_it(product, planner):
    first = request(product, 1)
    second = request(product, 2, source="NE-NYC")
    response = planner.get(LIST, {"q": first.number})
    rows = re.findall(r'data-transfer="(TR-\d+)"', _page(response))
    assert rows == [first.number]
    lower = _page(planner.get(LIST, {"q": second.number.lower()}))  # typed or scanned in any case
    assert re.findall(r'data-transfer="(TR-\d+)"', lower) == [second.number]
    assert re.findall(r'data-transfer="(TR-\d+)"', _page(planner.get(LIST, {"from": "NE-NYC"}))) == [second.number]
    by_status = _page(planner.get(LIST, {"status": "draft", "to": "NE-BOS"}))
    assert first.number in by_status and second.number in by_status
    assert first.number not in _page(planner.get(LIST, {"status": "approved"}))
    htmx = planner.get(LIST, {"q": second.number}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and "<html" not in _page(htmx) and second.number in _page(htmx)


def test_the_list_exports_its_rows_as_csv(product, planner):
    transfer = approved(product, 10)
    response = planner.get(LIST, {"q": transfer.number, "export": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    head, row = text.strip().splitlines()
    assert head == "Transfer,From,To,Status,Requested,Expected arrival,Lines,Value"
    assert row.startswith(f"{transfer.number},SE-ATL,NE-BOS,Approved,{transfer.requested_date.isoformat()},")
    assert row.endswith(",1,25.00 USD")


# --- a transfer's page --------------------------------------------------------------------------------------


def test_the_page_shows_facts_lines_timeline_and_buttons_by_scope(product, ne_operator, se_operator, planner):
    transfer = approved(product, 10, actor=_demo_user("planner"))
    at_source = _page(se_operator.get(_detail(transfer)))
    assert 'data-field="intercompany">Yes' in at_source
    assert "25.00 USD" in at_source and 'data-step="approved"' in at_source
    assert f'href="/transfers/{transfer.pk}/dispatch/"' in at_source
    assert f'/transfers/{transfer.pk}/receive/' not in at_source
    at_target = _page(ne_operator.get(_detail(transfer)))
    assert f'/transfers/{transfer.pk}/dispatch/' not in at_target  # SE-ATL is not ne.operator's
    assert f'/transfers/{transfer.pk}/cancel/' in at_target
    planned = _page(planner.get(_detail(transfer)))
    assert f'/transfers/{transfer.pk}/dispatch/' not in planned  # the planner works no handheld
    assert "History" in planned and "by planner" in planned


def test_submitting_a_draft_from_its_page_approves_it(product, planner):
    transfer = request(product, 10)
    assert f'/transfers/{transfer.pk}/submit/' in _page(planner.get(_detail(transfer)))
    response = planner.post(f"/transfers/{transfer.pk}/submit/", follow=True)
    assert response.status_code == 200
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.APPROVED
    assert any("is approved" in text for text in _messages(response))
    again = planner.post(f"/transfers/{transfer.pk}/submit/", follow=True)  # no longer a draft: a message
    assert again.status_code == 200 and any("only a draft" in text for text in _messages(again))


def test_the_page_times_are_on_the_readers_clock(product, se_operator):
    transfer = approved(product, 10)
    with timezone.override(ZoneInfo(warehouse("SE-ATL").timezone)):  # se.operator reads SE-ATL's clock
        shown = datetime_text(transfer.approved_at)
    page = _page(se_operator.get(_detail(transfer)))
    assert re.search(rf'data-step="approved"><time datetime="[^"]+">{re.escape(shown)}</time>', page), shown


# --- cancelling through the confirm step --------------------------------------------------------------------


def test_cancel_needs_the_confirmation_and_keeps_the_reason(product, planner):
    transfer = approved(product, 10)
    url = f"/transfers/{transfer.pk}/cancel/"
    asked = planner.get(url)
    assert asked.status_code == 200
    assert f"Cancel transfer {transfer.number}?" in _page(asked) and "T-CLN-0004 is no longer requested" in \
        _page(asked)
    unconfirmed = planner.post(url, {"reason": "not needed"})
    assert unconfirmed.status_code == 200
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.APPROVED
    done = planner.post(url, {"confirm": "yes", "reason": "Boston found stock"}, follow=True)
    assert done.status_code == 200
    transfer.refresh_from_db()
    assert (transfer.status, transfer.cancel_reason) == (TransferStatus.CANCELLED, "Boston found stock")
    assert 'data-field="cancel_reason">Boston found stock' in _page(done)
    again = planner.post(url, {"confirm": "yes"}, follow=True)  # refused by the service: a message, not a 500
    assert again.status_code == 200 and any("cancelled" in text for text in _messages(again))


def test_an_operator_outside_both_ends_cannot_cancel(product):
    transfer = approved(product, 10)
    eu = _browser(_demo_user("eu.operator"))
    assert eu.post(f"/transfers/{transfer.pk}/cancel/", {"confirm": "yes"}).status_code == 404
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.APPROVED


# --- the request form ---------------------------------------------------------------------------------------


def _request_form(**lines: Any) -> dict[str, str]:
    data = {"from_warehouse": "SE-ATL", "to_warehouse": "NE-BOS", "requested_date": "", "note": "for Boston",
            "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "1",
            "lines-MAX_NUM_FORMS": "500", "action": "create"}
    data.update({f"lines-0-{key}": str(value) for key, value in lines.items()})
    return data


def test_the_request_form_creates_a_draft(product, ne_operator):
    assert ne_operator.get(NEW).status_code == 200
    response = ne_operator.post(NEW, _request_form(sku="t-cln-0004", quantity="12"))
    assert response.status_code == 302
    transfer = Transfer.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    assert (transfer.status, transfer.from_warehouse.code, transfer.to_warehouse.code, transfer.note) == \
        (TransferStatus.DRAFT, "SE-ATL", "NE-BOS", "for Boston")
    line = transfer.lines.get()
    assert (line.item_id, line.quantity, line.uom_code) == (product.pk, D(12), "EA")


def test_a_bad_line_shows_its_error_beside_it_and_writes_nothing(product, ne_operator):
    before = Transfer.objects.count()
    unknown = ne_operator.post(NEW, _request_form(sku="NO-SUCH-SKU", quantity="12"))
    assert unknown.status_code == 400 and "Unknown SKU: NO-SUCH-SKU." in _page(unknown)
    zero = ne_operator.post(NEW, _request_form(sku="T-CLN-0004", quantity="0"))
    assert zero.status_code == 400 and "Must be more than 0." in _page(zero)
    lot = ne_operator.post(NEW, _request_form(sku="T-CLN-0004", quantity="1", lot="L-1"))
    assert lot.status_code == 400 and "is not lot-tracked" in _page(lot)
    past = _request_form(sku="T-CLN-0004", quantity="1")
    past["requested_date"] = (timezone.localdate() - dt.timedelta(days=3)).isoformat()
    refused = ne_operator.post(NEW, past)  # the service's refusal, beside its field
    assert refused.status_code == 400 and "May not be before today" in _page(refused)
    same = _request_form(sku="T-CLN-0004", quantity="1")
    same["to_warehouse"] = "SE-ATL"
    assert ne_operator.post(NEW, same).status_code == 400
    assert Transfer.objects.count() == before


def test_one_end_of_a_request_must_be_in_scope(product):
    eu = _browser(_demo_user("eu.operator"))
    before = Transfer.objects.count()
    response = eu.post(NEW, _request_form(sku="T-CLN-0004", quantity="1"))
    assert response.status_code == 400 and "is in your scope" in _page(response)
    assert Transfer.objects.count() == before


def test_add_line_gives_one_more_row_without_writing(product, ne_operator):
    data = _request_form(sku="T-CLN-0004", quantity="1")
    data["action"] = "add_line"
    response = ne_operator.post(NEW, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'name="lines-1-sku"' in _page(response)
    assert not Transfer.objects.filter(note="for Boston").exists()


def test_the_request_form_is_for_requesters_only(demo):
    service = _browser(_demo_user("ne.service"))
    assert service.get(NEW).status_code == 403


# --- dispatch on the handheld -------------------------------------------------------------------------------


def _scan(client: Client, transfer: Transfer, **fields: Any) -> Any:
    return client.post(f"/transfers/{transfer.pk}/dispatch/", {"action": "line", "line": "1", **fields})


def test_dispatch_on_the_handheld_posts_the_stock_into_transit(product, se_operator):
    transfer = approved(product, 10)
    page = se_operator.get(f"/transfers/{transfer.pk}/dispatch/")
    assert page.status_code == 200 and "Go to A-01-01" in _page(page)
    scanned = _scan(se_operator, transfer, location="a-01-01", sku="t-cln-0004", quantity="10")
    assert scanned.status_code == 302
    assert transfer.lines.get().dispatched_quantity == 0  # kept in the session until confirmed
    ready = se_operator.get(f"/transfers/{transfer.pk}/dispatch/")
    assert f"Confirm dispatch of {transfer.number}" in _page(ready)
    done = se_operator.post(f"/transfers/{transfer.pk}/dispatch/", {"action": "confirm"}, follow=True)
    assert done.status_code == 200
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.DISPATCHED
    assert _available(product, "SE-ATL") == D(90)
    assert on_hand(product, "NE-BOS", "in_transit") == D(10)
    assert 'data-field="in_transit">10' in _page(done) and 'data-field="unit_cost">2.5 USD' in _page(done)


def test_a_wrong_scan_is_refused_and_changes_nothing(product, se_operator):
    transfer = approved(product, 10)
    other = twin("CLN-0005")
    wrong_location = _scan(se_operator, transfer, location="A-02-01", sku="T-CLN-0004", quantity="10")
    assert wrong_location.status_code == 200 and "No available T-CLN-0004 at A-02-01." in _page(wrong_location)
    unknown = _scan(se_operator, transfer, location="NOWHERE", sku="T-CLN-0004", quantity="10")
    assert unknown.status_code == 200 and "No location NOWHERE in SE-ATL." in _page(unknown)
    transit = _scan(se_operator, transfer, location="TRANSIT", sku="T-CLN-0004", quantity="10")
    assert transit.status_code == 200 and "transit location" in _page(transit)
    wrong_item = _scan(se_operator, transfer, location="A-01-01", sku=other.sku, quantity="10")
    assert wrong_item.status_code == 200 and "Wrong item: this line is T-CLN-0004." in _page(wrong_item)
    too_much = _scan(se_operator, transfer, location="A-01-01", sku="T-CLN-0004", quantity="11")
    assert too_much.status_code == 200 and "send no more" in _page(too_much)
    confirm = se_operator.post(f"/transfers/{transfer.pk}/dispatch/", {"action": "confirm"}, follow=True)
    assert any("Scan every line first" in text for text in _messages(confirm))
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.APPROVED and _available(product, "SE-ATL") == D(100)


def test_a_refusal_at_confirm_is_a_message_and_moves_nothing(product, se_operator):
    transfer = approved(product, 10)
    _scan(se_operator, transfer, location="A-01-01", sku="T-CLN-0004", quantity="10")
    services.transfer_cancel(transfer=transfer, actor=None, reason="changed plans")
    done = se_operator.post(f"/transfers/{transfer.pk}/dispatch/", {"action": "confirm"}, follow=True)
    assert done.status_code == 200 and any("cannot be dispatched" in text for text in _messages(done))
    assert _available(product, "SE-ATL") == D(100)


def test_the_target_may_not_dispatch(product, ne_operator):
    transfer = approved(product, 10)
    assert ne_operator.get(f"/transfers/{transfer.pk}/dispatch/").status_code == 403
    assert _scan(ne_operator, transfer, location="A-01-01", sku="T-CLN-0004", quantity="10").status_code == 403
    assert ne_operator.post(f"/transfers/{transfer.pk}/dispatch/", {"action": "confirm"}).status_code == 403
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.APPROVED and _available(product, "SE-ATL") == D(100)


# --- receipt on the handheld --------------------------------------------------------------------------------


def _receive(client: Client, transfer: Transfer, **fields: Any) -> Any:
    return client.post(f"/transfers/{transfer.pk}/receive/", {"action": "line", "line": "1", **fields})


def test_receipt_in_two_statuses_posts_the_stock_and_raises_the_discrepancy(product, ne_operator, se_operator):
    transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
    assert se_operator.get(f"/transfers/{transfer.pk}/receive/").status_code == 403  # the source does not receive
    assert ne_operator.get(f"/transfers/{transfer.pk}/receive/").status_code == 200
    assert _receive(ne_operator, transfer, sku="t-cln-0004", quantity="8", status="available").status_code == 302
    assert _receive(ne_operator, transfer, sku="T-CLN-0004", quantity="2", status="damaged").status_code == 302
    assert on_hand(product, "NE-BOS", "in_transit") == D(10)  # nothing moves before Confirm
    done = ne_operator.post(f"/transfers/{transfer.pk}/receive/", {"action": "confirm"}, follow=True)
    assert done.status_code == 200
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.RECEIVED
    assert (on_hand(product, "NE-BOS"), on_hand(product, "NE-BOS", "damaged"),
            on_hand(product, "NE-BOS", "in_transit")) == (D(8), D(2), D(0))
    line = TransferLine.objects.get(transfer=transfer)
    assert (line.received_quantity, line.damaged_quantity) == (D(10), D(2))
    assert OperationalException.objects.filter(type="transfer_discrepancy", reference=transfer.number).exists()


def test_a_wrong_item_at_receipt_changes_nothing(product, ne_operator):
    transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
    other = twin("CLN-0005")
    wrong = _receive(ne_operator, transfer, sku=other.sku, quantity="10", status="available")
    assert wrong.status_code == 200 and "Wrong item: this line is T-CLN-0004." in _page(wrong)
    bad_status = _receive(ne_operator, transfer, sku="T-CLN-0004", quantity="10", status="lost")
    assert bad_status.status_code == 200
    nothing = ne_operator.post(f"/transfers/{transfer.pk}/receive/", {"action": "confirm"}, follow=True)
    assert any("Scan what arrived first" in text for text in _messages(nothing))
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.DISPATCHED and on_hand(product, "NE-BOS", "in_transit") == D(10)


def test_an_operator_outside_both_ends_gets_404_on_the_handhelds(product):
    transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
    eu = _browser(_demo_user("eu.operator"))
    assert eu.get(f"/transfers/{transfer.pk}/receive/").status_code == 404
    assert eu.get(f"/transfers/{transfer.pk}/dispatch/").status_code == 404


# --- the exception and its cause link -----------------------------------------------------------------------


def test_a_short_receipt_links_its_exception_to_the_transfer_both_ways(product, ne_operator, planner):
    transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
    _receive(ne_operator, transfer, sku="T-CLN-0004", quantity="7", status="available")
    ne_operator.post(f"/transfers/{transfer.pk}/receive/", {"action": "confirm"})
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PARTIALLY_RECEIVED
    exc = OperationalException.objects.get(type="transfer_discrepancy", reference=transfer.number)
    cause = next(c for c in exception_causes(exc) if c.label == f"Transfer {transfer.number}")
    found = planner.get(cause.url)
    assert re.findall(r'data-transfer="(TR-\d+)"', _page(found)) == [transfer.number]
    page = _page(planner.get(_detail(transfer)))
    assert f'data-exception="{exc.number}"' in page
    assert 'data-field="in_transit">3' in page
    queue = _page(planner.get(reverse("governance:exception-dashboard"), {"type": "transfer_discrepancy"}))
    assert cause.url.replace("&", "&amp;") in queue or cause.url in queue


# --- approval, lots and the walk order ----------------------------------------------------------------------


def test_above_the_threshold_the_page_shows_the_approval_and_cancel_withdraws_it(demo, planner):
    product = twin("CLN-0004")
    stock_at(product, "SE-ATL", 5000, unit_cost="2.50")  # 4,100 x 2.50 = 10,250.00 above the threshold
    transfer = request(product, 4100, actor=_demo_user("planner"))
    submitted = planner.post(f"/transfers/{transfer.pk}/submit/", follow=True)
    assert any("waits for approval" in text for text in _messages(submitted))
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PENDING_APPROVAL
    page = _page(planner.get(_detail(transfer)))
    assert 'id="transfer-approval"' in page and 'data-field="approval-status">Pending' in page
    assert 'data-field="approval-trail"' in page and "Waiting for" in page
    asked = _page(planner.get(f"/transfers/{transfer.pk}/cancel/"))
    assert "Its approval request is cancelled with it" in asked
    planner.post(f"/transfers/{transfer.pk}/cancel/", {"confirm": "yes", "reason": "too big"})
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.CANCELLED
    assert transfer.approval_request is not None and transfer.approval_request.status == "cancelled"


def test_the_walk_goes_in_location_order_and_a_lot_is_scanned(demo, se_operator):
    today = timezone.localdate()
    plain, lotted = twin("CLN-0004"), twin("BEV-0001")
    stock_at(plain, "SE-ATL", 20, code="A-03-01")
    stock_at(lotted, "SE-ATL", 5, lot="LATE", expiry=today + dt.timedelta(days=200), code="A-01-01")
    stock_at(lotted, "SE-ATL", 5, lot="EARLY", expiry=today + dt.timedelta(days=100), code="A-02-01")
    transfer = services.transfer_submit(transfer=services.transfer_create(
        from_warehouse=warehouse("SE-ATL"), to_warehouse=warehouse("NE-BOS"), actor=None,
        lines=[services.TransferLineSpec(item=plain, quantity=D(4)),
               services.TransferLineSpec(item=lotted, quantity=D(3))]), actor=None)
    page = _page(se_operator.get(f"/transfers/{transfer.pk}/dispatch/"))
    # line 2 first: the earliest lot sits at A-02-01, before line 1's A-03-01
    assert re.findall(r'<tr data-line="(\d)"', page) == ["2", "1"]
    assert "Go to A-02-01" in page and "lot EARLY" in page
    wrong_lot = _scan(se_operator, transfer, line="2", location="A-02-01", sku="T-BEV-0001", lot="LATE", quantity="3")
    assert wrong_lot.status_code == 200 and "No available T-BEV-0001 lot LATE at A-02-01." in _page(wrong_lot)
    assert _scan(se_operator, transfer, line="2", location="A-01-01", sku="t-bev-0001", lot="LATE",
                 quantity="3").status_code == 302
    assert _scan(se_operator, transfer, line="1", location="A-03-01", sku="T-CLN-0004", quantity="4").status_code == 302
    se_operator.post(f"/transfers/{transfer.pk}/dispatch/", {"action": "confirm"})
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.DISPATCHED
    assert _available(lotted, "SE-ATL", "A-01-01") == D(2) and _available(lotted, "SE-ATL", "A-02-01") == D(5)
    assert _available(plain, "SE-ATL", "A-03-01") == D(16)
    assert [(part.lot.lot_number if part.lot else None, part.dispatched_quantity)
            for part in transfer.lines.get(line_no=2).parts.all()] == [("LATE", D(3))]


# --- queries ------------------------------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_list_and_the_page_read_in_a_constant_number_of_queries(demo, planner):
    products = [twin(f"CLN-{n:04d}") for n in range(1, 7)]
    for made in products:
        stock_at(made, "SE-ATL", 50)
    one = approved(products[0], 1)
    many = services.transfer_submit(transfer=services.transfer_create(
        from_warehouse=warehouse("SE-ATL"), to_warehouse=warehouse("NE-BOS"), actor=None,
        lines=[services.TransferLineSpec(item=made, quantity=D(2)) for made in products]), actor=None)
    for transfer in (one, many):
        services.transfer_dispatch(transfer=transfer, actor=None)
    assert _queries(planner, _detail(one)) == _queries(planner, _detail(many))
    small = _queries(planner, f"{LIST}?to=NE-BOS&q={one.number}")
    for _ in range(4):
        approved(products[1], 1)
    assert _queries(planner, f"{LIST}?to=NE-BOS") == small


def test_the_approval_trail_names_who_decided(demo, planner):
    product = twin("CLN-0004")
    stock_at(product, "SE-ATL", 5000, unit_cost="2.50")
    transfer = services.transfer_submit(transfer=request(product, 4100, actor=_demo_user("planner")),
                                        actor=_demo_user("planner"))
    request_ = ApprovalRequest.objects.get(pk=transfer.approval_request_id)
    step = current_step(request_)
    assert step is not None
    decider = next(account for account in get_user_model().objects.filter(groups=step.approver_group)
                   .order_by("username") if approval_can_decide(step=step, user=account))
    approval_request_decide(request=request_, actor=decider, approve=True, comment="go ahead")
    page = _page(planner.get(_detail(transfer)))
    trail = page[page.index('data-field="approval-trail"'):]
    decided = trail[:trail.index("</ol>")]
    assert f"by {decider.username}" in decided and "go ahead" in decided
