"""The planner's board of transfer recommendations (issue 13, item 7) and the write-off form on a transfer's page,
through the Django test client on real PostgreSQL.

The whitepaper case: NE-BOS has 40 backordered of a twin SKU (``T-CLN-0004``) and EU-RTM 30 (orders do not cross
regions by standard), SE-ATL holds 400 of it: the refresh recommends SE-ATL to NE-BOS and SE-ATL to EU-RTM
(transfers may cross regions). ``planner`` (enterprise) sees both and acts on them; ``eu.planner`` (made here,
region EU) sees only EU-RTM's; ``ne.operator`` reads NE-BOS's but may not decide it. Nothing here depends on the
time of day: dates come from the recommendations themselves.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from erp import services as platform
from governance.models import ApprovalRequest
from orders.models import Customer, SalesOrder
from orders.services.sales import OrderLineSpec, sales_order_cancel, sales_order_confirm, sales_order_create
from warehouses.models import Region
from warehouses.transfers import recommendations, services
from warehouses.transfers.models import RecommendationStatus as Status
from warehouses.transfers.models import (
    Transfer,
    TransferLine,
    TransferRecommendation,
    TransferStatus,
    TransferWriteOff,
    WriteOffStatus,
)
from warehouses.transfers.tests.helpers import D, approved, stock_at, twin

pytestmark = pytest.mark.django_db

BOARD = "/transfers/recommendations/"
REFRESH = "/transfers/recommendations/refresh/"


def _accept(rec: TransferRecommendation) -> str:
    return f"/transfers/recommendations/{rec.pk}/accept/"


def _dismiss(rec: TransferRecommendation) -> str:
    return f"/transfers/recommendations/{rec.pk}/dismiss/"


def _user(username: str, group: str, *, regions: tuple[str, ...] = ()) -> Any:
    account = get_user_model().objects.filter(username=username).first()
    if account is None:
        account = get_user_model().objects.create_user(username, password="x-unused-x")
        account.groups.add(Group.objects.get(name=group))
        platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code=r) for r in regions])
    return get_user_model().objects.get(pk=account.pk)


def _browser(account: Any) -> Client:
    client = Client()
    client.force_login(account)
    return client


def _demo(username: str) -> Client:
    return _browser(get_user_model().objects.get(username=username))


def _page(response: Any) -> str:
    return response.content.decode()


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _backorder(product: Any, quantity: int, customer: str) -> SalesOrder:
    order = sales_order_create(customer=Customer.objects.get(code=customer), actor=None,
                               lines=[OrderLineSpec(item=product, quantity=D(quantity))])
    order = sales_order_confirm(order=order, actor=None)
    assert order.lines.get().backordered_quantity == D(quantity)
    return order


@pytest.fixture
def product(demo: Any) -> Any:
    return twin("CLN-0004")


@pytest.fixture
def network(product: Any) -> dict[str, TransferRecommendation]:
    """NE-BOS short 40 and EU-RTM short 30 of a SKU SE-ATL holds 400 of; refreshed: one open recommendation each."""
    _backorder(product, 40, "C-NE-001")
    _backorder(product, 30, "C-EU-001")
    stock_at(product, "SE-ATL", 400, unit_cost="2.50")
    recommendations.recommendations_refresh(actor=None)
    rows = {rec.to_warehouse.code: rec for rec in TransferRecommendation.objects.filter(
        item=product, status=Status.OPEN).select_related("from_warehouse", "to_warehouse")}
    assert set(rows) == {"NE-BOS", "EU-RTM"}
    assert {rec.from_warehouse.code for rec in rows.values()} == {"SE-ATL"}
    return rows


def _shown(response: Any) -> list[int]:
    """The recommendations on the board's page, in order."""
    assert response.status_code == 200
    return [rec.pk for rec in response.context["object_list"]]


def _state(product: Any) -> list[tuple[Any, ...]]:
    """What a refused request must leave unchanged: the product's recommendations and every transfer."""
    return [*TransferRecommendation.objects.filter(item=product).order_by("id").values_list(
        "id", "status", "quantity", "dismiss_reason", "decided_at"),
        *Transfer.objects.order_by("id").values_list("id", "status")]


# --- the board ------------------------------------------------------------------------------------------------


def test_the_planner_sees_every_open_recommendation_with_its_figures_best_score_first(product, network):
    response = _demo("planner").get(BOARD, {"q": product.sku})
    shown = _shown(response)
    assert set(shown) == {network["NE-BOS"].pk, network["EU-RTM"].pk}
    scores = [TransferRecommendation.objects.get(pk=pk).score for pk in shown]
    assert scores == sorted(scores, reverse=True)
    page = _page(response)
    ne = network["NE-BOS"]
    row = page.split(f'data-recommendation="{ne.pk}"')[1].split("</tr>")[0]
    for text in (product.sku, "SE-ATL", "NE-BOS", "40", "Shortage", str(ne.score), ne.expected_arrival.isoformat(),
                 f"{ne.freight_cost} USD", ne.explanation.replace("'", "&#x27;"), "Open"):
        assert text in row, text
    assert f'href="{_accept(ne)}"' in row and f'href="{_dismiss(ne)}"' in row
    assert 'data-action="refresh"' in page
    assert 'href="/transfers/recommendations/"' in page  # the Plan menu names the board


def test_a_user_sees_only_the_recommendations_touching_their_scope(product, network):
    eu_planner = _browser(_user("eu.planner", "Planner", regions=("EU",)))
    assert _shown(eu_planner.get(BOARD, {"q": product.sku})) == [network["EU-RTM"].pk]
    every = TransferRecommendation.objects.filter(pk__in=_shown(eu_planner.get(BOARD, {"status": "all"})))
    assert all("EU" in (rec.from_warehouse.region.code, rec.to_warehouse.region.code) for rec in every)
    assert eu_planner.get(_accept(network["NE-BOS"])).status_code == 404
    before = _state(product)
    assert eu_planner.post(_dismiss(network["NE-BOS"]), {"confirm": "yes", "reason": "not mine"}).status_code == 404
    assert _state(product) == before
    # NE-BOS's operator reads its own end's recommendation, without the buttons to decide it.
    response = _demo("ne.operator").get(BOARD, {"q": product.sku})
    assert _shown(response) == [network["NE-BOS"].pk]
    assert 'data-action="accept"' not in _page(response) and 'data-action="refresh"' not in _page(response)


def test_the_filters_narrow_the_board_and_the_status_is_open_unless_asked(product, network):
    planner = _demo("planner")
    ne, eu = network["NE-BOS"], network["EU-RTM"]
    assert _shown(planner.get(BOARD, {"q": product.sku, "region": "NE"})) == [ne.pk]
    assert _shown(planner.get(BOARD, {"q": product.sku, "region": "EU"})) == [eu.pk]
    assert set(_shown(planner.get(BOARD, {"q": product.sku, "region": "SE"}))) == {ne.pk, eu.pk}  # either end
    assert _shown(planner.get(BOARD, {"q": product.sku, "warehouse": "EU-RTM"})) == [eu.pk]
    assert set(_shown(planner.get(BOARD, {"q": product.sku, "reason": "shortage"}))) == {ne.pk, eu.pk}
    assert _shown(planner.get(BOARD, {"q": product.sku, "reason": "demand_spike"})) == []
    low, high = sorted([ne, eu], key=lambda rec: rec.score)
    assert _shown(planner.get(BOARD, {"q": product.sku, "min_score": str(high.score)})) == [high.pk]
    assert _shown(planner.get(BOARD, {"q": product.sku, "min_score": "not a number"})) != []  # ignored, no 500

    recommendations.recommendation_dismiss(recommendation=low, actor=None, reason="stock arrives by sea")
    assert _shown(planner.get(BOARD, {"q": product.sku})) == [high.pk]
    assert _shown(planner.get(BOARD, {"q": product.sku, "status": "dismissed"})) == [low.pk]
    assert set(_shown(planner.get(BOARD, {"q": product.sku, "status": "all"}))) == {low.pk, high.pk}
    # An htmx filter answers just the rows.
    partial = planner.get(BOARD, {"q": product.sku, "status": "dismissed"}, HTTP_HX_REQUEST="true")
    assert "<html" not in _page(partial) and f'data-recommendation="{low.pk}"' in _page(partial)


def test_the_board_sorts_by_a_column_heading_either_way(product, network):
    planner = _demo("planner")
    by_score = _shown(planner.get(BOARD, {"q": product.sku}))
    assert _shown(planner.get(BOARD, {"q": product.sku, "sort": "score"})) == list(reversed(by_score))
    assert [TransferRecommendation.objects.get(pk=pk).to_warehouse.code
            for pk in _shown(planner.get(BOARD, {"q": product.sku, "sort": "to"}))] == ["EU-RTM", "NE-BOS"]
    assert [TransferRecommendation.objects.get(pk=pk).to_warehouse.code
            for pk in _shown(planner.get(BOARD, {"q": product.sku, "sort": "-to"}))] == ["NE-BOS", "EU-RTM"]


def test_the_board_exports_its_filtered_rows_as_csv(product, network):
    response = _demo("planner").get(BOARD, {"q": product.sku, "region": "NE", "export": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["SKU", "From", "To", "Quantity", "Reason", "Score", "Expected arrival", "Freight",
                       "Explanation", "Status", "Transfer"]
    ne = network["NE-BOS"]
    assert rows[1:] == [[product.sku, "SE-ATL", "NE-BOS", "40", "Shortage", str(ne.score),
                         ne.expected_arrival.isoformat(), f"{ne.freight_cost} USD", ne.explanation, "Open", ""]]


# --- accepting and dismissing ------------------------------------------------------------------------------------


def test_accepting_through_the_confirm_step_makes_the_transfer_and_leads_to_it(product, network):
    planner = _demo("planner")
    ne = network["NE-BOS"]
    page = _page(planner.get(_accept(ne)))
    assert "40 EA" in page and "SE-ATL" in page and "NE-BOS" in page
    assert "100.00 USD" in page and "approved at once" in page  # 40 x 2.50, at or below the threshold

    before = _state(product)
    unconfirmed = planner.post(_accept(ne), {})
    assert unconfirmed.status_code == 200 and "Nothing has been done yet" in _page(unconfirmed)
    assert _state(product) == before

    response = planner.post(_accept(ne), {"confirm": "yes"})
    transfer = Transfer.objects.get(recommendation=ne)
    assert response.status_code == 302 and response["Location"] == f"/transfers/{transfer.pk}/"
    assert (transfer.status, transfer.value) == (TransferStatus.APPROVED, D("100.00"))
    assert list(transfer.lines.values_list("item_id", "quantity")) == [(product.pk, D(40))]
    ne.refresh_from_db()
    assert (ne.status, ne.decided_by.username) == (Status.ACCEPTED, "planner")
    followed = planner.get(response["Location"])
    assert any(transfer.number in text and "approved" in text for text in _messages(followed))
    # The board links the accepted recommendation to its transfer.
    board = _page(planner.get(BOARD, {"q": product.sku, "status": "accepted"}))
    assert f'href="/transfers/{transfer.pk}/">{transfer.number}</a>' in board

    # Accepting it again is refused on the board, never a server error, and changes nothing.
    before = _state(product)
    again = planner.post(_accept(ne), {"confirm": "yes"}, follow=True)
    assert again.status_code == 200 and any("only an open one" in text for text in _messages(again))
    assert _state(product) == before


def test_the_accept_step_says_a_transfer_above_the_threshold_goes_to_approval(product):
    _backorder(product, 4100, "C-NE-001")  # 4,100 x 2.50 = 10,250.00 USD, above the 10,000.00 threshold
    stock_at(product, "SE-ATL", 5000, unit_cost="2.50")
    planner = _demo("planner")
    assert planner.post(REFRESH).status_code == 302
    rec = TransferRecommendation.objects.get(item=product, status=Status.OPEN)
    page = _page(planner.get(_accept(rec)))
    assert "10,250.00 USD" in page and "goes to approval" in page
    response = planner.post(_accept(rec), {"confirm": "yes"}, follow=True)
    transfer = Transfer.objects.get(recommendation=rec)
    assert transfer.status == TransferStatus.PENDING_APPROVAL
    assert ApprovalRequest.objects.filter(pk=transfer.approval_request_id).exists()
    assert any("waits for approval" in text for text in _messages(response))


def test_dismissing_needs_a_reason_and_without_one_nothing_changes(product, network):
    planner = _demo("planner")
    ne = network["NE-BOS"]
    assert "Reason" in _page(planner.get(_dismiss(ne)))
    before = _state(product)
    for reason in ("", "   ", "x" * 501):
        refused = planner.post(_dismiss(ne), {"confirm": "yes", "reason": reason})
        assert refused.status_code == 400 and refused.context["form"].errors["reason"]
    assert planner.post(_dismiss(ne), {"reason": "not confirmed"}).status_code == 200  # asks again
    assert _state(product) == before

    response = planner.post(_dismiss(ne), {"confirm": "yes", "reason": "Boston's supplier delivers tomorrow"})
    assert response.status_code == 302 and response["Location"] == BOARD
    ne.refresh_from_db()
    assert (ne.status, ne.dismiss_reason) == (Status.DISMISSED, "Boston's supplier delivers tomorrow")
    assert not Transfer.objects.filter(recommendation=ne).exists()


def test_a_role_that_may_not_decide_gets_403_and_nothing_changes(product, network):
    operator = _demo("ne.operator")
    ne = network["NE-BOS"]
    before = _state(product)
    assert operator.get(_accept(ne)).status_code == 403
    assert operator.post(_accept(ne), {"confirm": "yes"}).status_code == 403
    assert operator.post(_dismiss(ne), {"confirm": "yes", "reason": "no"}).status_code == 403
    assert operator.post(REFRESH).status_code == 403
    assert _state(product) == before


def test_refresh_now_recomputes_the_scope_and_says_what_changed(product, network):
    sales_order_cancel(order=SalesOrder.objects.get(lines__item=product, customer__code="C-NE-001"), actor=None)
    eu_planner = _browser(_user("eu.planner", "Planner", regions=("EU",)))
    eu_planner.post(REFRESH)  # EU's scope: NE-BOS's recommendation stays open, though no longer true
    assert TransferRecommendation.objects.get(pk=network["NE-BOS"].pk).status == Status.OPEN

    response = _demo("planner").post(REFRESH, follow=True)
    assert response.redirect_chain[-1][0] == BOARD
    assert any(text.startswith("Recommendations refreshed") and "1 expired" in text
               for text in _messages(response))
    assert TransferRecommendation.objects.get(pk=network["NE-BOS"].pk).status == Status.EXPIRED
    assert TransferRecommendation.objects.get(pk=network["EU-RTM"].pk).status == Status.OPEN
    assert _demo("planner").get(REFRESH).status_code == 405


# --- writing off what a transfer lost in transit ----------------------------------------------------------------


@pytest.fixture
def short(product: Any) -> Transfer:
    """10 dispatched from SE-ATL to NE-BOS, 8 received: 2 in transit."""
    stock_at(product, "SE-ATL", 50, unit_cost="2.50")
    transfer = services.transfer_dispatch(transfer=approved(product, 10), actor=None)
    return services.transfer_receive(transfer=transfer, actor=None,
                                     lines=[services.ReceiveSpec(line_no=1, quantity=D(8))])


def _write_off_state(transfer: Transfer) -> list[tuple[Any, ...]]:
    return [*TransferWriteOff.objects.filter(transfer=transfer).values_list("id", "status"),
            *TransferLine.objects.filter(transfer=transfer).values_list("id", "written_off_quantity"),
            (Transfer.objects.get(pk=transfer.pk).status,), (ApprovalRequest.objects.count(),)]


def test_writing_off_what_is_lost_in_transit_asks_for_approval_and_shows_on_the_transfer(short):
    operator = _demo("ne.operator")
    detail = f"/transfers/{short.pk}/"
    assert 'data-action="write-off"' in _page(operator.get(detail))
    assert "Line 1" in _page(operator.get(f"{detail}write-off/"))

    response = operator.post(f"{detail}write-off/", {"line": "1", "quantity": "2", "reason": "lost by the carrier"})
    assert response.status_code == 302 and response["Location"] == detail
    write_off = TransferWriteOff.objects.get(transfer=short)
    assert (write_off.status, write_off.value, write_off.reason) == (WriteOffStatus.PENDING_APPROVAL, D("5.00"),
                                                                     "lost by the carrier")
    assert list(write_off.lines.values_list("line__line_no", "quantity")) == [(1, D(2))]
    page = _page(operator.get(detail))
    row = page.split(f'data-write-off="{write_off.number}"')[1].split("</tr>")[0]
    assert "Pending approval" in row and "Line 1: 2" in row and "lost by the carrier" in row
    assert f'href="{reverse("governance:approval-detail", args=[write_off.approval_request_id])}"' in row
    # Everything in transit is now being written off: the form says so and takes no more.
    before = _write_off_state(short)
    again = operator.post(f"{detail}write-off/", {"line": "1", "quantity": "1", "reason": "more lost"})
    assert again.status_code == 400 and again.context["form"].errors["quantity"]
    assert _write_off_state(short) == before


@pytest.mark.parametrize(("body", "field"), [
    ({"line": "1", "quantity": "3", "reason": "lost"}, "quantity"),  # more than the 2 in transit
    ({"line": "1", "quantity": "0", "reason": "lost"}, "quantity"),
    ({"line": "1", "quantity": "-1", "reason": "lost"}, "quantity"),
    ({"line": "1", "quantity": "two", "reason": "lost"}, "quantity"),
    ({"line": "1", "quantity": "2", "reason": ""}, "reason"),
    ({"line": "1", "quantity": "2", "reason": "   "}, "reason"),
    ({"line": "9", "quantity": "1", "reason": "lost"}, "line"),
])
def test_a_bad_write_off_is_an_error_beside_its_field_and_writes_nothing(short, body, field):
    operator = _demo("ne.operator")
    before = _write_off_state(short)
    response = operator.post(f"/transfers/{short.pk}/write-off/", body)
    assert response.status_code == 400 and field in response.context["form"].errors
    assert _write_off_state(short) == before


def test_a_write_off_needs_the_role_the_scope_and_something_in_transit(product, short):
    before = _write_off_state(short)
    url = f"/transfers/{short.pk}/write-off/"
    body = {"line": "1", "quantity": "1", "reason": "lost"}
    assert _demo("planner").post(url, body).status_code == 403  # plans transfers, works none
    assert 'data-action="write-off"' not in _page(_demo("planner").get(f"/transfers/{short.pk}/"))
    assert _demo("eu.operator").post(url, body).status_code == 404  # neither end in scope
    assert _write_off_state(short) == before
    waiting = approved(product, 1)  # nothing dispatched: nothing to write off
    response = _demo("ne.operator").post(f"/transfers/{waiting.pk}/write-off/", body, follow=True)
    assert response.redirect_chain[-1][0] == f"/transfers/{waiting.pk}/"
    assert not TransferWriteOff.objects.filter(transfer=waiting).exists()


# --- the planner's home page and the board's queries ------------------------------------------------------------


FIGURE = re.compile(r'<a class="figure[^"]*" href="([^"]+)" data-figure="([^"]+)"[^>]*>\s*'
                    r'<span class="figure__value">([^<]*)</span>')


def test_the_planners_home_counts_open_recommendations_as_the_api_does_and_transfers_coming_in(
        product, network, api_as):
    stock_at(product, "NE-NYC", 20, unit_cost="2.50")
    services.transfer_dispatch(transfer=approved(product, 5, source="NE-NYC", target="NE-BOS"), actor=None)
    page = _page(_demo("planner").get("/"))
    figures = {key: (href.replace("&amp;", "&"), value.strip()) for href, key, value in FIGURE.findall(page)}
    href, value = figures["transfer-recommendations-open"]
    answer = api_as("planner").get("/api/v1/transfer-recommendations/", {"status": "open"})
    assert answer.status_code == 200 and int(value) == answer.json()["count"] >= 2
    assert href == f"{BOARD}?status=open"
    assert 'data-api="/api/v1/transfer-recommendations/?status=open"' in page
    dispatched = Transfer.objects.filter(status=TransferStatus.DISPATCHED).count()
    assert figures["transfers-in-transit-dispatched"] == ("/transfers/?status=dispatched", str(dispatched))
    assert dispatched >= 1
    assert "transfer-recommendations-open" not in _page(_demo("ne.operator").get("/"))  # a planner's panel


def test_the_board_reads_in_the_same_number_of_queries_for_one_row_or_many(product, network):
    planner = _demo("planner")
    planner.get(BOARD)  # the session and the permission caches warm up
    counts = []
    for query in ({"q": product.sku, "region": "NE"}, {"q": product.sku}):
        with CaptureQueriesContext(connection) as captured:
            shown = _shown(planner.get(BOARD, query))
        assert len(shown) == (1 if "region" in query else 2)
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
