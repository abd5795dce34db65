"""Scope-matrix coverage of the return routes (collected by tests/test_scope_matrix.py).

Each check ships one order per region through the services and authorizes a return of it, received where it
shipped from: C-NE-001 at NE-BOS (ne.operator's scope), C-EU-001 at EU-RTM (eu.operator's) and C-SE-001 at SE-ATL
(neither). Every role reads the returns of its warehouses. Operators receive returns (``orders.change_
returnauthorization``), so their receipts are checked here: inside their scope they post, outside it a return
answers 404 and nothing moves. Authorizing and cancelling are customer service's (403 for operators, in and out
of scope).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from inventory.models import StockMove
from inventory.tests.factories import ensure_standard_statuses, item
from orders.models import ReturnAuthorization
from orders.services.returns import ReturnLineSpec, return_authorize
from orders.tests.test_returns import shipped_order, stock_at

CUSTOMERS = {"NE-BOS": "C-NE-001", "EU-RTM": "C-EU-001", "SE-ATL": "C-SE-001"}
VISIBLE = {"ne.operator": "NE-BOS", "eu.operator": "EU-RTM"}
SCOPE = {"ne.operator": {"NE-BOS", "NE-NYC"}, "eu.operator": {"EU-DUS", "EU-RTM"}}
OUTSIDE = {"ne.operator": "EU-RTM", "eu.operator": "SE-ATL"}


def returns_everywhere() -> dict[str, ReturnAuthorization]:
    """An authorized return of 1 of 2 EA of T-CLN-0008 shipped from each site to its home customer."""
    ensure_standard_statuses()
    twin = item("CLN-0008")
    made = {}
    for site, customer in CUSTOMERS.items():
        stock_at(twin, site, 2)
        order = shipped_order((twin, 2), customer=customer, site=site)
        made[site] = return_authorize(order=order, lines=[ReturnLineSpec(1, Decimal(1))], actor=None)
    return made


def _assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response.json()["code"] == code


def _state(made: dict[str, ReturnAuthorization]) -> tuple[Any, ...]:
    return (sorted(ReturnAuthorization.objects.filter(pk__in=[r.pk for r in made.values()])
                   .values_list("number", "status")),
            StockMove.objects.filter(reference_type="return").count())


class ReturnListCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        made = returns_everywhere()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert body["count"] == len(body["results"])
        assert {row["warehouse"] for row in body["results"]} <= SCOPE[username], (username, body["results"])
        seen = {row["number"] for row in body["results"]}
        assert seen & {rma.number for rma in made.values()} == {made[VISIBLE[username]].number}
        outside = made[OUTSIDE[username]]
        for params in ({"warehouse": OUTSIDE[username]}, {"order": outside.order.number},
                       {"order": str(outside.order_id)}, {"customer": CUSTOMERS[OUTSIDE[username]]}):
            aimed = client.get(reverse(f"api:{name}"), params).json()
            assert aimed["count"] == 0 and aimed["results"] == [], (username, params)


class ReturnDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        for site, rma in returns_everywhere().items():
            response = client.get(reverse(f"api:{name}", args=[rma.pk]))
            if site == VISIBLE[username]:
                assert response.status_code == 200 and response.json()["number"] == rma.number
                assert response.json()["warehouse"] == site
            else:
                _assert_error(response, 404, "not_found")
        _assert_error(client.get(reverse(f"api:{name}", args=[999999999])), 404, "not_found")


class ReturnReceiveCheck:
    """Operators receive the returns of their warehouses; any other is 404 and nothing moves."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = returns_everywhere()
        body = {"lines": [{"line_no": 1, "quantity": "1", "disposition": "restock"}]}
        for site, rma in made.items():
            if site == VISIBLE[username]:
                continue
            before = _state(made)
            _assert_error(client.post(reverse(f"api:{name}", args=[rma.pk]), body, format="json"), 404, "not_found")
            assert _state(made) == before
        mine = made[VISIBLE[username]]
        response = client.post(reverse(f"api:{name}", args=[mine.pk]), body, format="json")
        assert response.status_code == 200, response.content[:300]
        assert response.json()["status"] == "received" and response.json()["lines"][0]["disposition"] == "restock"
        assert StockMove.objects.filter(reference_type="return", reference_id=str(mine.pk)).count() == 3
        assert StockMove.objects.filter(reference_type="return").count() == 3


class ReturnCancelCheck:
    """Operators may not cancel a return: 403 in and out of scope, and nothing changes."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = returns_everywhere()
        before = _state(made)
        for rma in made.values():
            _assert_error(client.post(reverse(f"api:{name}", args=[rma.pk]), {}, format="json"), 403,
                          "permission_denied")
        assert _state(made) == before
        assert {status for _, status in before[0]} == {"authorized"}


COVERAGE = {
    "return-list": ReturnListCheck(),
    "return-detail": ReturnDetailCheck(),
    "return-receive": ReturnReceiveCheck(),
    "return-cancel": ReturnCancelCheck(),
}

WRITES_TESTED_ELSEWHERE = {
    "return-receive": "operators receive in their scope and get 404 outside it (ReturnReceiveCheck here)",
    "return-cancel": "operators get 403 (ReturnCancelCheck here); customer service scoped to a region gets 404 "
                     "outside it: orders/tests/test_returns_api.py",
}
