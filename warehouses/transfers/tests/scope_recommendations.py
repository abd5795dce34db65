"""Scope-matrix coverage of the transfer recommendation routes (collected by tests/test_scope_matrix.py).

Each check makes four recommendations through the services, one SKU each (a backorder at the target, then stock at
the source, then a refresh): SE-ATL -> NE-BOS (ne.operator sees it at its target; NE-BOS takes supply across regions
by a deviation), NE-NYC -> NE-BOS (both ends are ne.operator's), EU-RTM -> EU-DUS (eu.operator's) and SE-MIA ->
SE-ATL (nobody's of the two). A recommendation is seen at either of its warehouses. Operators may read but not
refresh, accept or dismiss (403, nothing changes); a planner outside the scope gets 404 (test_recommendations.py).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from orders.models import Customer
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from warehouses.transfers import recommendations
from warehouses.transfers.models import RecommendationStatus, TransferRecommendation
from warehouses.transfers.tests.helpers import D, stock_at, twin

# pair: (source, target, customer at the target, SKU twinned)
PAIRS = {"inbound": ("SE-ATL", "NE-BOS", "C-NE-001", "CLN-0011"), "local": ("NE-NYC", "NE-BOS", "C-NE-004", "CLN-0012"),
         "eu": ("EU-RTM", "EU-DUS", "C-EU-002", "CLN-0013"), "elsewhere": ("SE-MIA", "SE-ATL", "C-SE-001", "CLN-0014")}
SEEN = {"ne.operator": {"inbound", "local"}, "eu.operator": {"eu"}}


def recommendations_everywhere() -> dict[str, TransferRecommendation]:
    for _source, _target, customer, sku in PAIRS.values():
        order = sales_order_create(customer=Customer.objects.get(code=customer), actor=None,
                                   lines=[OrderLineSpec(item=twin(sku), quantity=D(5))])
        sales_order_confirm(order=order, actor=None)
    for source, _target, _customer, sku in PAIRS.values():
        stock_at(twin(sku), source, 50)
    recommendations.recommendations_refresh(actor=None)
    made = {}
    for key, (source, target, _customer, sku) in PAIRS.items():
        made[key] = TransferRecommendation.objects.get(item__sku=f"T-{sku}", from_warehouse__code=source,
                                                       to_warehouse__code=target, status=RecommendationStatus.OPEN)
    return made


def _assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response.json()["code"] == code


def _state() -> list[tuple[Any, ...]]:
    return list(TransferRecommendation.objects.order_by("id").values_list("id", "status", "quantity"))


class RecommendationListCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        made = recommendations_everywhere()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert body["count"] == len(body["results"])
        seen = {row["id"] for row in body["results"]}
        assert seen & {r.pk for r in made.values()} == {made[key].pk for key in SEEN[username]}
        for params in ({"warehouse": "SE-MIA"}, {"sku": "T-CLN-0014"}, {"region": "SE", "warehouse": "SE-MIA"}):
            aimed = client.get(reverse(f"api:{name}"), params).json()
            assert aimed["count"] == 0 and aimed["results"] == [], (username, params)


class RecommendationDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        for key, recommendation in recommendations_everywhere().items():
            response = client.get(reverse(f"api:{name}", args=[recommendation.pk]))
            if key in SEEN[username]:
                assert response.status_code == 200 and response.json()["id"] == recommendation.pk
            else:
                _assert_error(response, 404, "not_found")
        _assert_error(client.get(reverse(f"api:{name}", args=[999999999])), 404, "not_found")


class RecommendationDecisionCheck:
    """Operators read recommendations but never decide them: 403 in or out of their scope, nothing changes."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = recommendations_everywhere()
        before = _state()
        for recommendation in made.values():
            _assert_error(client.post(reverse(f"api:{name}", args=[recommendation.pk]), self.body, format="json"),
                          403, "permission_denied")
        assert _state() == before


class RecommendationRefreshCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        recommendations_everywhere()
        before = _state()
        _assert_error(client.post(reverse(f"api:{name}"), {}, format="json"), 403, "permission_denied")
        assert _state() == before


COVERAGE = {
    "transfer-recommendation-list": RecommendationListCheck(),
    "transfer-recommendation-detail": RecommendationDetailCheck(),
    "transfer-recommendation-refresh": RecommendationRefreshCheck(),
    "transfer-recommendation-accept": RecommendationDecisionCheck({}),
    "transfer-recommendation-dismiss": RecommendationDecisionCheck({"reason": "not now"}),
}

WRITES_TESTED_ELSEWHERE = {
    "transfer-recommendation-accept": "planners only (operators 403 here); a planner outside both warehouses gets "
                                      "404 and nothing changes: test_recommendations.py",
    "transfer-recommendation-dismiss": "as accept: RecommendationDecisionCheck here and test_recommendations.py",
}
