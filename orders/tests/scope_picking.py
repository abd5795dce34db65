"""Scope-matrix coverage of the pick list routes (collected by tests/test_scope_matrix.py).

Each check makes its own pick lists through the services: one per region, over an order of C-NE-001 (picked at
NE-BOS, ne.operator's), C-EU-001 (EU-RTM, eu.operator's) and C-SE-001 (SE-ATL, neither's). Operators pick:
they see, confirm and cancel the lists of their warehouses, and every other list answers 404 and stays as it
was; a list asked for at a warehouse outside their scope is refused like one at a warehouse that does not
exist.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from inventory.tests.factories import warehouse
from orders.models import PickList, PickListLine
from orders.services.picking import pick_list_create
from orders.tests.scope_orders import HOMES, _order_everywhere

REGION = {"ne.operator": "NE", "eu.operator": "EU"}
OUTSIDE = {"ne.operator": ["EU-RTM", "SE-ATL", "EU-DUS"], "eu.operator": ["NE-BOS", "SE-ATL", "NE-NYC"]}


def _lists_everywhere() -> dict[str, PickList]:
    """One open pick list per region, at its customer's home warehouse."""
    return {region: pick_list_create(warehouse=warehouse(HOMES[region]), order=order, actor=None)
            for region, order in _order_everywhere().items()}


def _assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == code, body
    return body


class PickListListCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        made = _lists_everywhere()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert body["count"] == len(body["results"])
        mine = HOMES[REGION[username]]
        assert {row["warehouse"] for row in body["results"]} == {mine}, (username, body["results"])
        assert {row["number"] for row in body["results"]} & {p.number for p in made.values()} == {
            made[REGION[username]].number}
        for site in OUTSIDE[username]:
            aimed = client.get(reverse(f"api:{name}"), {"warehouse": site}).json()
            assert aimed["count"] == 0 and aimed["results"] == [], (username, site)
        for region, pick_list in made.items():
            if region != REGION[username]:
                aimed = client.get(reverse(f"api:{name}"), {"order": pick_list.order.number}).json()
                assert aimed["count"] == 0, (username, region)
        # Asking for a list at a warehouse outside the scope: refused as if the warehouse did not exist.
        lists = PickList.objects.count()
        for site in OUTSIDE[username]:
            body = {"warehouse": site, "wave_cutoff": "2030-01-01"}
            refused = _assert_error(client.post(reverse(f"api:{name}"), body, format="json"), 400, "validation_error")
            assert set(refused["detail"]) == {"warehouse"}
        assert PickList.objects.count() == lists


class PickListDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        for region, pick_list in _lists_everywhere().items():
            response = client.get(reverse(f"api:{name}", args=[pick_list.pk]))
            if region == REGION[username]:
                assert response.status_code == 200 and response.json()["number"] == pick_list.number
                assert [line["location"] for line in response.json()["lines"]] == ["A-01-04"]
            else:
                _assert_error(response, 404, "not_found")
        _assert_error(client.get(reverse(f"api:{name}", args=[999999999])), 404, "not_found")


class PickListActionCheck:
    """An operator confirms or cancels the lists of their warehouses; any other list is 404 and unchanged."""

    def __init__(self, action: str) -> None:
        self.action = action

    def _body(self, pick_list: PickList) -> dict[str, Any]:
        if self.action == "cancel":
            return {}
        return {"lines": [{"id": pk, "picked_quantity": str(quantity)} for pk, quantity in
                          PickListLine.objects.filter(pick_list=pick_list).values_list("pk", "quantity")]}

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = _lists_everywhere()
        for region, pick_list in made.items():
            response = client.post(reverse(f"api:{name}", args=[pick_list.pk]), self._body(pick_list), format="json")
            if region == REGION[username]:
                assert response.status_code == 200, response.content[:300]
                assert response.json()["status"] == ("cancelled" if self.action == "cancel" else "picked")
            else:
                _assert_error(response, 404, "not_found")
                assert PickList.objects.get(pk=pick_list.pk).status == "open"
                assert set(PickListLine.objects.filter(pick_list=pick_list).values_list("status", flat=True)) == {
                    "open"}
        _assert_error(client.post(reverse(f"api:{name}", args=[999999999]), {}, format="json"), 404, "not_found")


COVERAGE = {
    "pick-list-list": PickListListCheck(),
    "pick-list-detail": PickListDetailCheck(),
    "pick-list-confirm": PickListActionCheck("confirm"),
    "pick-list-cancel": PickListActionCheck("cancel"),
}

WRITES_TESTED_ELSEWHERE = {
    "pick-list-list": "operators list stock at their warehouses (orders.add_picklist); PickListListCheck refuses a "
                      "warehouse outside the scope; orders/tests/test_picking_api.py covers the rest",
    "pick-list-confirm": "operators confirm the lists of their warehouses; PickListActionCheck gives 404 outside",
    "pick-list-cancel": "as pick-list-confirm",
}
