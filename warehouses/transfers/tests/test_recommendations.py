"""Network transfer recommendations (issue 13, item 6) through the services, the task and the API: the whitepaper
case (NE-BOS backordered on a SKU SE-ATL holds in surplus), accepting into a transfer through approval, dismissing
with a reason, expiry, no twins, the cross-region policy at the receiving site, scope, and bad input answering
400/409 in the error shape with nothing changed.

SE-ATL and NE-BOS are in different regions (SE and NE): customer orders do not cross regions by standard
(``fulfillment.cross_region_allowed``), so NE-BOS backorders; transfers may (``transfers.cross_region_allowed``), so
the surplus at SE-ATL is recommended to it. The demo's SE-to-NE lane takes 3 days and charges 0.35 USD a
unit and 0.10 USD a kg. Items are stock-free twins of demo items (``helpers.twin``).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from erp import services as platform
from governance.models import ApprovalRequest
from governance.services.deviations import deviation_approve, deviation_request
from inventory.tests.factories import warehouse
from orders.models import Customer, SalesOrder
from orders.services.sales import OrderLineSpec, sales_order_cancel, sales_order_confirm, sales_order_create
from warehouses.models import Region
from warehouses.transfers import recommendations, tasks
from warehouses.transfers.models import RecommendationStatus as Status
from warehouses.transfers.models import Transfer, TransferRecommendation, TransferStatus
from warehouses.transfers.tests.helpers import D, stock_at, twin

pytestmark = pytest.mark.django_db

LIST = "api:transfer-recommendation-list"
REFRESH = "api:transfer-recommendation-refresh"
FIELDS = {"id", "sku", "from_warehouse", "to_warehouse", "quantity", "reason", "score", "expected_arrival",
          "freight_cost", "explanation", "status"}


@pytest.fixture
def product(demo: Any) -> Any:
    return twin("CLN-0004")


def _user(username: str, group: str, *, regions: tuple[str, ...] = (), enterprise: bool = False) -> Any:
    account = get_user_model().objects.filter(username=username).first()
    if account is None:
        account = get_user_model().objects.create_user(username, password="x-unused-x")
        account.groups.add(Group.objects.get(name=group))
        platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code=r) for r in regions],
                             enterprise=enterprise)
    return get_user_model().objects.get(pk=account.pk)


def _client(account: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(account)
    return client


def _forbid_cross_region(site: str) -> None:
    """An approved deviation of ``transfers.cross_region_allowed`` (true by standard) at ``site``: false for the
    next 30 days."""
    requester = _user("rec.requester", "Warehouse supervisor", enterprise=True)
    today = timezone.now().astimezone(ZoneInfo(warehouse(site).timezone)).date()
    deviation = deviation_request(policy_key="transfers.cross_region_allowed", scope_type="warehouse",
                                  scope_code=site, value=False, rationale="Supplied within its region only",
                                  effective_from=today, effective_to=today + dt.timedelta(days=30), actor=requester)
    deviation_approve(deviation=deviation, actor=get_user_model().objects.get(username="owner"))


def _backorder(product: Any, quantity: Any, customer: str = "C-NE-001") -> SalesOrder:
    """An order of ``customer`` (home NE-BOS) confirmed with nothing in its region: backordered at NE-BOS."""
    order = sales_order_create(customer=Customer.objects.get(code=customer), actor=None,
                               lines=[OrderLineSpec(item=product, quantity=D(str(quantity)))])
    order = sales_order_confirm(order=order, actor=None)
    assert order.lines.get().backordered_quantity == D(str(quantity))
    return order


def _refresh(**kwargs: Any) -> dict[str, int]:
    return recommendations.recommendations_refresh(actor=None, **kwargs)


def _mine(product: Any, status: str | None = None) -> list[TransferRecommendation]:
    rows = TransferRecommendation.objects.filter(item=product).select_related("from_warehouse", "to_warehouse")
    return list(rows.filter(status=status) if status else rows.order_by("id"))


def _freight(product: Any, quantity: int) -> Decimal:
    return (D(quantity) * (D("0.35") + product.weight_kg * D("0.10"))).quantize(D("0.01"), rounding=ROUND_HALF_UP)


def _state(product: Any) -> list[tuple[Any, ...]]:
    """What a refused request must leave unchanged: the product's recommendations and every transfer."""
    return [*TransferRecommendation.objects.filter(item=product).order_by("id").values_list(
        "id", "status", "quantity", "dismiss_reason", "decided_at"),
        *Transfer.objects.order_by("id").values_list("id", "status")]


def _assert_error(response: Any, status_code: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status_code, body
    assert set(body) == {"code", "message", "detail"} and body["code"] == code, body
    return dict(body)


def _action(client: APIClient, action: str, pk: int, body: Any = None, **headers: Any) -> Any:
    return client.post(reverse(f"api:transfer-recommendation-{action}", args=[pk]), body if body is not None else {},
                       format="json", **headers)


@pytest.fixture
def whitepaper(product: Any) -> TransferRecommendation:
    """NE-BOS has 40 backordered of a SKU SE-ATL holds 400 of (orders do not cross regions by standard; transfers
    do)."""
    _backorder(product, 40)
    stock_at(product, "SE-ATL", 400, unit_cost="2.50")
    _refresh()
    (recommendation,) = _mine(product, Status.OPEN)
    return recommendation


# --- the whitepaper case --------------------------------------------------------------------------------------


def test_a_backorder_beside_a_surplus_across_regions_is_one_open_recommendation_that_explains_itself(
        product, whitepaper):
    rec = whitepaper
    assert (rec.from_warehouse.code, rec.to_warehouse.code, rec.quantity, rec.reason) == (
        "SE-ATL", "NE-BOS", D(40), "shortage")
    freight = _freight(product, 40)
    assert (rec.freight_cost, rec.freight_currency, rec.transit_days) == (freight, "USD", 3)
    assert rec.explanation == (f"NE-BOS: 40 backordered, no free stock; SE-ATL: 400 surplus beyond 30 days; "
                               f"3 transit days; freight {freight} USD")
    assert D(0) < rec.score <= D(100)
    assert rec.expected_arrival >= timezone.now().date() + dt.timedelta(days=3)

    planner = _client(_user("planner", "Planner", enterprise=True))
    (row,) = planner.get(reverse(LIST), {"sku": product.sku}).json()["results"]
    assert set(row) >= FIELDS
    assert (row["id"], row["sku"], row["from_warehouse"], row["to_warehouse"], row["quantity"], row["reason"],
            row["freight_cost"], row["status"], row["transfer"]) == (
        rec.pk, product.sku, "SE-ATL", "NE-BOS", "40.0000", "shortage", str(freight), "open", None)
    assert planner.get(reverse(LIST), {"sku": product.sku, "status": "dismissed"}).json()["results"] == []
    assert [r["id"] for r in planner.get(reverse(LIST), {"sku": product.sku, "warehouse": "NE-BOS"})
            .json()["results"]] == [rec.pk]


def test_accepting_below_the_threshold_makes_a_linked_transfer_approved_at_once(product, whitepaper):
    planner = _user("planner", "Planner", enterprise=True)
    transfer = recommendations.recommendation_accept(recommendation=whitepaper, actor=planner)
    assert transfer.recommendation_id == whitepaper.pk
    assert (transfer.status, transfer.value, transfer.approval_request_id) == (TransferStatus.APPROVED,
                                                                               D("100.00"), None)
    line = transfer.lines.get()
    assert (line.item_id, line.quantity) == (product.pk, D(40))
    whitepaper.refresh_from_db()
    assert (whitepaper.status, whitepaper.decided_by_id) == (Status.ACCEPTED, planner.pk)
    # The transfer's API names the recommendation; the next refresh counts the transfer as on its way.
    body = _client(planner).get(reverse("api:transfer-detail", args=[transfer.pk])).json()
    assert body["recommendation"] == whitepaper.pk
    _refresh()
    assert _mine(product, Status.OPEN) == []


def test_accepting_above_the_threshold_sends_the_transfer_through_approval(product):
    _backorder(product, 4100)  # 4,100 x 2.50 = 10,250.00 USD, above the 10,000.00 threshold
    stock_at(product, "SE-ATL", 5000, unit_cost="2.50")
    planner = _client(_user("planner", "Planner", enterprise=True))
    assert planner.post(reverse(REFRESH), {}, format="json").status_code == 200
    (rec,) = _mine(product, Status.OPEN)
    assert rec.quantity == D(4100)

    body = _action(planner, "accept", rec.pk, {}).json()
    assert (body["status"], body["transfer"]) == ("accepted", Transfer.objects.get(recommendation=rec).pk)
    transfer = Transfer.objects.get(pk=body["transfer"])
    assert (transfer.status, transfer.value) == (TransferStatus.PENDING_APPROVAL, D("10250.00"))
    approval = ApprovalRequest.objects.get(pk=transfer.approval_request_id)
    assert (approval.document_type, approval.document_id) == ("transfer", transfer.pk)
    assert body["transfer_number"] == transfer.number

    before = _state(product)
    _assert_error(_action(planner, "accept", rec.pk, {}), 409, "recommendation_not_open")
    _assert_error(_action(planner, "dismiss", rec.pk, {"reason": "too late"}), 409, "recommendation_not_open")
    assert _state(product) == before


def test_accepting_as_a_draft_leaves_the_transfer_unsubmitted(product, whitepaper):
    planner = _client(_user("planner", "Planner", enterprise=True))
    body = _action(planner, "accept", whitepaper.pk, {"submit": False}).json()
    assert Transfer.objects.get(pk=body["transfer"]).status == TransferStatus.DRAFT


# --- dismissing, expiring, refreshing ---------------------------------------------------------------------------


def test_dismissing_needs_a_reason_and_keeps_the_pair_quiet(product, whitepaper):
    planner = _client(_user("planner", "Planner", enterprise=True))
    before = _state(product)
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"reason": "ok", "extra": 1}):
        _assert_error(_action(planner, "dismiss", whitepaper.pk, body), 400, "validation_error")
    assert _state(product) == before

    body = _action(planner, "dismiss", whitepaper.pk, {"reason": "Boston's supplier delivers tomorrow"}).json()
    assert (body["status"], body["dismiss_reason"], body["decided_by"]) == (
        "dismissed", "Boston's supplier delivers tomorrow", "planner")
    _refresh()
    assert [r.status for r in _mine(product)] == [Status.DISMISSED]


def test_the_service_refuses_a_dismissal_without_a_reason(whitepaper):
    from erp.exceptions import DomainError

    with pytest.raises(DomainError) as refused:
        recommendations.recommendation_dismiss(recommendation=whitepaper, actor=None, reason=" ")
    assert (refused.value.status, refused.value.code) == (400, "validation_error")
    whitepaper.refresh_from_db()
    assert whitepaper.status == Status.OPEN


def test_a_recommendation_no_longer_true_expires_on_the_next_refresh(product, whitepaper):
    sales_order_cancel(order=SalesOrder.objects.get(lines__item=product), actor=None, reason="customer gave up")
    counts = _refresh()
    assert counts["expired"] >= 1
    (rec,) = _mine(product)
    assert (rec.pk, rec.status) == (whitepaper.pk, Status.EXPIRED) and rec.expired_at is not None
    planner = _client(_user("planner", "Planner", enterprise=True))
    before = _state(product)
    _assert_error(_action(planner, "accept", rec.pk, {}), 409, "recommendation_not_open")
    assert _state(product) == before


def test_refreshing_twice_updates_in_place_and_the_database_refuses_twins(product, whitepaper):
    # An Atlanta customer's order takes 380 of SE-ATL's 400: 20 are left to send.
    order = sales_order_create(customer=Customer.objects.get(code="C-SE-001"), actor=None,
                               lines=[OrderLineSpec(item=product, quantity=D(380))])
    assert sales_order_confirm(order=order, actor=None).lines.get().allocated_quantity == D(380)
    counts = _refresh()
    assert counts["created"] == 0 and counts["updated"] >= 1
    (rec,) = _mine(product)
    assert (rec.pk, rec.status, rec.quantity) == (whitepaper.pk, Status.OPEN, D(20))
    assert "SE-ATL: 20 surplus beyond 30 days" in rec.explanation
    with pytest.raises(IntegrityError), transaction.atomic():
        TransferRecommendation.objects.create(
            item=product, from_warehouse=rec.from_warehouse, to_warehouse=rec.to_warehouse, quantity=D(1),
            reason="shortage", score=D(1), expected_arrival=rec.expected_arrival, explanation="twin",
            refreshed_at=timezone.now())


def test_the_refresh_reads_and_writes_in_a_constant_number_of_queries(product, whitepaper):
    def more(skus: tuple[str, ...]) -> list[dict[str, str]]:
        for sku in skus:
            other = twin(sku)
            _backorder(other, 20)
            stock_at(other, "SE-ATL", 300)
        with CaptureQueriesContext(connection) as queries:
            _refresh()
        return queries.captured_queries

    few = more(("CLN-0005", "CLN-0006"))  # 2 created, 1 updated
    many = more(("CLN-0007", "CLN-0008", "PAP-0001", "PAP-0002", "HDW-0001", "HDW-0002"))  # 6 created, 3 updated
    assert TransferRecommendation.objects.filter(item__sku__startswith="T-", status=Status.OPEN).count() == 9
    assert len(many) == len(few), [q["sql"][:120] for q in many]


def test_the_hourly_task_refreshes_the_whole_network(product, whitepaper):
    schedule = settings.CELERY_BEAT_SCHEDULE["transfers-recommendations-refresh"]
    assert (schedule["task"], schedule["schedule"]) == ("transfers.recommendations_refresh", 3600.0)
    counts = tasks.recommendations_refresh()
    assert counts["created"] == 0 and counts["open"] >= 1
    assert [r.status for r in _mine(product)] == [Status.OPEN]


# --- the policy at the receiving site -----------------------------------------------------------------------


def test_a_cross_region_recommendation_needs_the_receiving_sites_policy(product):
    stock_at(product, "SE-ATL", 400)
    _backorder(product, 40)
    _forbid_cross_region("SE-ATL")  # the source's policy does not decide it
    _refresh()
    assert [(r.from_warehouse.code, r.to_warehouse.code) for r in _mine(product, Status.OPEN)] == [
        ("SE-ATL", "NE-BOS")]
    _forbid_cross_region("NE-BOS")  # the receiving site is supplied within its region only: it expires
    _refresh()
    assert _mine(product, Status.OPEN) == []
    assert [r.status for r in _mine(product)] == [Status.EXPIRED]


# --- scope and roles ----------------------------------------------------------------------------------------


def test_a_user_sees_and_acts_on_recommendations_of_their_scope_only(product, whitepaper):
    eu_planner = _client(_user("eu.planner", "Planner", regions=("EU",)))
    assert eu_planner.get(reverse(LIST), {"sku": product.sku}).json()["results"] == []
    before = _state(product)
    for action, body in (("accept", {}), ("dismiss", {"reason": "not mine"})):
        _assert_error(_action(eu_planner, action, whitepaper.pk, body), 404, "not_found")
    _assert_error(eu_planner.get(reverse("api:transfer-recommendation-detail", args=[whitepaper.pk])), 404,
                  "not_found")
    # A refresh of EU's scope leaves NE's recommendations alone, even one no longer true.
    sales_order_cancel(order=SalesOrder.objects.get(lines__item=product), actor=None)
    assert eu_planner.post(reverse(REFRESH), {}, format="json").json()["expired"] == 0
    assert _state(product) == before

    # NE-BOS's operator reads it (either end in scope) but may not decide it.
    operator = _client(get_user_model().objects.get(username="ne.operator"))
    assert [r["id"] for r in operator.get(reverse(LIST), {"sku": product.sku}).json()["results"]] == [whitepaper.pk]
    _assert_error(_action(operator, "dismiss", whitepaper.pk, {"reason": "no"}), 403, "permission_denied")
    _assert_error(operator.post(reverse(REFRESH), {}, format="json"), 403, "permission_denied")
    assert _state(product) == before

    # A planner of region NE refreshes their scope: the cancelled backorder's recommendation expires.
    ne_planner = _client(_user("ne.planner", "Planner", regions=("NE",)))
    assert ne_planner.post(reverse(REFRESH), {}, format="json").json()["expired"] >= 1
    assert [r.status for r in _mine(product)] == [Status.EXPIRED]


def test_an_accept_with_an_idempotency_key_makes_one_transfer(product, whitepaper):
    planner = _client(_user("planner", "Planner", enterprise=True))
    first = _action(planner, "accept", whitepaper.pk, {}, HTTP_IDEMPOTENCY_KEY="accept-once")
    again = _action(planner, "accept", whitepaper.pk, {}, HTTP_IDEMPOTENCY_KEY="accept-once")
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert Transfer.objects.filter(recommendation=whitepaper).count() == 1


@pytest.mark.parametrize("body, code", [({"submit": "maybe"}, "validation_error"),
                                        ({"quantity": 5}, "validation_error"), ([1], "validation_error")])
def test_bad_accept_input_is_refused_in_the_error_shape_and_changes_nothing(product, whitepaper, body, code):
    planner = _client(_user("planner", "Planner", enterprise=True))
    before = _state(product)
    _assert_error(_action(planner, "accept", whitepaper.pk, body), 400, code)
    _assert_error(_action(planner, "accept", 987654321, {}), 404, "not_found")
    _assert_error(planner.get(reverse(LIST), {"status": "lost"}), 400, "validation_error")
    assert _state(product) == before
