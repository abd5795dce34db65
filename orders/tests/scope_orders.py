"""Scope-matrix coverage of the sales order routes (collected by tests/test_scope_matrix.py).

Each check takes and confirms its own orders through the services: for C-NE-001 (region NE, ne.operator's
scope), C-EU-001 (region EU, eu.operator's) and C-SE-001 (neither), each allocated at the customer's home
warehouse. Operators read the orders of their regions (every role does) and may neither confirm nor cancel
one: 403 in and out of scope, and nothing changes. The demo holds draft orders of its own; every row an
operator sees must be in their scope.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from inventory import services as stock
from inventory.models import ItemWarehouseSummary
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders.models import Customer, SalesOrder
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create

CUSTOMERS = {"NE": "C-NE-001", "EU": "C-EU-001", "SE": "C-SE-001"}
HOMES = {"NE": "NE-BOS", "EU": "EU-RTM", "SE": "SE-ATL"}
REGION = {"ne.operator": "NE", "eu.operator": "EU"}
OUTSIDE = {"ne.operator": {"customer": "C-EU-001", "warehouse": "EU-RTM"},
           "eu.operator": {"customer": "C-NE-001", "warehouse": "SE-ATL"}}


def _order_everywhere() -> dict[str, SalesOrder]:
    """One confirmed order per region, allocated at its customer's home warehouse."""
    ensure_standard_statuses()
    twin = item("CLN-0001")
    made = {}
    for region, code in CUSTOMERS.items():
        site = HOMES[region]
        stock.stock_receive(warehouse=warehouse(site), location=location(site, "A-01-04"), item=twin,
                            quantity=Decimal(5), uom="EA", unit_cost=Decimal(1), reference=f"scope {site}", actor=None)
        customer = Customer.objects.get(code=code)
        order = sales_order_create(customer=customer, ship_to=customer.ship_tos.get(code="MAIN"), actor=None,
                                   lines=[OrderLineSpec(item=twin, quantity=Decimal(2), uom="EA")])
        made[region] = sales_order_confirm(order=order, actor=None)
    return made


def _assert_not_found(response: Any) -> None:
    assert response.status_code == 404, response.content[:300]
    assert response.json()["code"] == "not_found"


class SalesOrderListCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        made = _order_everywhere()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert body["count"] == len(body["results"])
        assert {row["region"] for row in body["results"]} == {REGION[username]}, (username, body["results"])
        seen = {row["number"] for row in body["results"]}
        assert seen & {order.number for order in made.values()} == {made[REGION[username]].number}
        for field, value in OUTSIDE[username].items():
            aimed = client.get(reverse(f"api:{name}"), {field: value}).json()
            assert aimed["count"] == 0 and aimed["results"] == [], (username, field, value)


class SalesOrderDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        for region, order in _order_everywhere().items():
            response = client.get(reverse(f"api:{name}", args=[order.pk]))
            if region == REGION[username]:
                assert response.status_code == 200 and response.json()["number"] == order.number
                assert [a["warehouse"] for a in response.json()["lines"][0]["allocations"]] == [HOMES[region]]
            else:
                _assert_not_found(response)
        _assert_not_found(client.get(reverse(f"api:{name}", args=[999999999])))


class SalesOrderActionCheck:
    """Operators read orders but may not work them: 403 in and out of scope, and nothing changes."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = _order_everywhere()
        held = sorted(ItemWarehouseSummary.objects.filter(item=item("CLN-0001")).values_list("allocated", flat=True))
        for order in made.values():
            response = client.post(reverse(f"api:{name}", args=[order.pk]), self.body, format="json")
            assert response.status_code == 403, response.content[:300]
            assert response.json()["code"] == "permission_denied"
        statuses = set(SalesOrder.objects.filter(pk__in=[o.pk for o in made.values()]).values_list("status", flat=True))
        assert statuses == {"allocated"}
        assert sorted(ItemWarehouseSummary.objects.filter(item=item("CLN-0001"))
                      .values_list("allocated", flat=True)) == held


COVERAGE = {
    "sales-order-list": SalesOrderListCheck(),
    "sales-order-detail": SalesOrderDetailCheck(),
    "sales-order-confirm": SalesOrderActionCheck({}),
    "sales-order-cancel": SalesOrderActionCheck({"reason": "scope matrix"}),
}

WRITES_TESTED_ELSEWHERE = {
    "sales-order-confirm": "operators get 403 (SalesOrderActionCheck here); customer service scoped to a region gets "
                           "404 outside it: orders/tests/test_sales_orders_api.py",
    "sales-order-cancel": "as sales-order-confirm",
}
