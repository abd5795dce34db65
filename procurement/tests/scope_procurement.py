"""Scope-matrix coverage of the requisition, purchase order and receipt routes (collected by
tests/test_scope_matrix.py).

Each check makes one document per warehouse of NE-BOS, NE-NYC (both ne.operator's), EU-RTM (eu.operator's) and
SE-MIA (nobody's of the two), through the services: a document is seen at its (receiving) warehouse. Operators
buy nothing: every purchase order and requisition write, in or out of scope, is 403 and changes nothing. They do
receive, within their scope: ``test_procurement_api.py`` holds that (404 for an order outside it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from inventory.tests.factories import warehouse
from procurement import purchasing, receiving
from procurement.models import LandedCost, PurchaseOrder, PurchaseRequisition, Receipt, Supplier
from procurement.tests.helpers import D, approved, offer, person, twin

SITES = ("NE-BOS", "NE-NYC", "EU-RTM", "SE-MIA")
SEEN = {"ne.operator": {"NE-BOS", "NE-NYC"}, "eu.operator": {"EU-RTM"}}
SCOPE = {"ne.operator": {"NE-BOS", "NE-NYC"}, "eu.operator": {"EU-RTM", "EU-DUS"}}
OUTSIDE = {"ne.operator": [{"warehouse": "SE-MIA"}, {"warehouse": "EU-RTM"}],
           "eu.operator": [{"warehouse": "SE-MIA"}, {"warehouse": "NE-BOS"}]}


def _product() -> Any:
    product = twin("PAP-0005")
    offer(product, "NORD", price="3.00")
    return product


def orders_everywhere() -> dict[str, PurchaseOrder]:
    """An approved order of 20 EA of T-PAP-0005 from NORD per site."""
    product = _product()
    return {site: approved(product, 20, warehouse=site) for site in SITES}


def requisitions_everywhere() -> dict[str, PurchaseRequisition]:
    """A draft requisition of 5 EA of T-PAP-0005 from NORD per site, raised by a planner."""
    product, planner, nord = _product(), person("scope.planner", "planner", enterprise=True), \
        Supplier.objects.get(code="NORD")
    made = {}
    for site in SITES:
        place = warehouse(site)
        made[site] = purchasing.requisition_create(warehouse=place, actor=planner, lines=[
            purchasing.RequisitionLineSpec(item=product, quantity=D(5), supplier=nord,
                                           needed_by=purchasing.local_date(place) + dt.timedelta(days=20))])
    return made


def receipts_everywhere() -> dict[str, Receipt]:
    """A receipt of 10 EA against each site's order, where the put-away rules put it."""
    return {site: receiving.receipt_post(purchase_order=order, actor=None,
                                         lines=[receiving.ReceiptLineSpec(line_no=1, quantity=D(10))])
            for site, order in orders_everywhere().items()}


def _assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response.json()["code"] == code


class ListCheck:
    """A list shows exactly the caller's warehouses' documents; a filter aimed outside the scope finds nothing."""

    def __init__(self, make: Any) -> None:
        self.make = make

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = self.make()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert body["count"] == len(body["results"])
        seen = {row["number"] for row in body["results"]}
        assert seen & {doc.number for doc in made.values()} == {made[site].number for site in SEEN[username]}
        assert {row["warehouse"] for row in body["results"]} <= SCOPE[username]
        for params in OUTSIDE[username]:
            aimed = client.get(reverse(f"api:{name}"), params).json()
            assert aimed["count"] == 0 and aimed["results"] == [], (username, params)


class DetailCheck:
    """A document in scope answers 200, outside it 404; a PATCH (purchase orders) is 403 for an operator either
    way and changes nothing."""

    def __init__(self, make: Any, patch: bool = False) -> None:
        self.make, self.patch = make, patch

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = self.make()
        for site, doc in made.items():
            url = reverse(f"api:{name}", args=[doc.pk])
            response = client.get(url)
            if site in SEEN[username]:
                assert response.status_code == 200 and response.json()["number"] == doc.number
            else:
                _assert_error(response, 404, "not_found")
            if self.patch:
                _assert_error(client.patch(url, {"note": "changed by an operator"}, format="json"), 403,
                              "permission_denied")
        if self.patch:
            assert not PurchaseOrder.objects.filter(note="changed by an operator").exists()
        _assert_error(client.get(reverse(f"api:{name}", args=[999999999])), 404, "not_found")


class ForbiddenActionCheck:
    """An operator's action on a purchase order or requisition, in or out of scope, is 403 and changes nothing."""

    def __init__(self, make: Any, model: Any) -> None:
        self.make, self.model = make, model

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = self.make()
        ids = [doc.pk for doc in made.values()]
        before = sorted(self.model.objects.filter(pk__in=ids).values_list("number", "status", "updated_at"))
        count = self.model.objects.count()
        for doc in made.values():
            _assert_error(client.post(reverse(f"api:{name}", args=[doc.pk]), {}, format="json"), 403,
                          "permission_denied")
        assert sorted(self.model.objects.filter(pk__in=ids).values_list("number", "status", "updated_at")) == before
        assert self.model.objects.count() == count


class LandedCostForbiddenCheck:
    """An operator posting a later freight bill on a receipt, in or out of scope, gets 403; nothing is written."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = receipts_everywhere()
        count = LandedCost.objects.count()
        for receipt in made.values():
            response = client.post(reverse(f"api:{name}", args=[receipt.pk]),
                                   {"freight": {"amount": "5.00", "currency": "USD", "method": "quantity"}},
                                   format="json")
            _assert_error(response, 403, "permission_denied")
        assert LandedCost.objects.count() == count


COVERAGE = {
    "purchase-order-list": ListCheck(orders_everywhere),
    "purchase-order-detail": DetailCheck(orders_everywhere, patch=True),
    **{f"purchase-order-{action}": ForbiddenActionCheck(orders_everywhere, PurchaseOrder)
       for action in ("submit", "revise", "send", "cancel", "close", "duplicate", "reschedule")},
    "purchase-requisition-list": ListCheck(requisitions_everywhere),
    "purchase-requisition-detail": DetailCheck(requisitions_everywhere),
    **{f"purchase-requisition-{action}": ForbiddenActionCheck(requisitions_everywhere, PurchaseRequisition)
       for action in ("submit", "cancel", "order")},
    "receipt-list": ListCheck(receipts_everywhere),
    "receipt-detail": DetailCheck(receipts_everywhere),
    "receipt-landed-cost": LandedCostForbiddenCheck(),
}

_ACTIONS = "operators get 403 in and out of scope (ForbiddenActionCheck here); a buyer outside the warehouse's " \
           "scope gets 404: procurement/tests/test_procurement_api.py"
WRITES_TESTED_ELSEWHERE = {
    "purchase-order-detail": "operators' PATCH is 403 in and out of scope (DetailCheck here); a draft only is "
                             "edited, else 409: procurement/tests/test_procurement_api.py",
    **{f"purchase-order-{action}": _ACTIONS for action in ("submit", "revise", "send", "cancel", "close",
                                                           "duplicate", "reschedule")},
    "receipt-landed-cost": "operators get 403 in and out of scope (LandedCostForbiddenCheck here); buyers and "
                           "finance post: procurement/tests/test_landed_cost.py",
    **{f"purchase-requisition-{action}": _ACTIONS for action in ("submit", "cancel", "order")},
    "receipt-list": "operators receive (procurement.add_receipt), only against orders in their scope (404 "
                    "otherwise, nothing written): procurement/tests/test_procurement_api.py",
}
