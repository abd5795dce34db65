"""Scope-matrix coverage of the order KPIs (collected by tests/test_scope_matrix.py).

Fill rate counts only the lines of the caller's scope: one order is confirmed in each region in March 2001 (where
the demo has none) and each operator's figure counts exactly their region's line; a region or warehouse outside
the scope answers 404 with the error shape, like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from inventory import services as stock
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders.models import Customer
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create

CUSTOMERS = {"NE": "C-NE-001", "EU": "C-EU-001", "SE": "C-SE-001"}
HOMES = {"NE": "NE-BOS", "EU": "EU-RTM", "SE": "SE-ATL"}
REGION = {"ne.operator": "NE", "eu.operator": "EU"}
OUTSIDE = {"ne.operator": [{"region": "EU"}, {"region": "SE"}, {"warehouse": "EU-RTM"}, {"warehouse": "SE-ATL"}],
           "eu.operator": [{"region": "NE"}, {"warehouse": "NE-BOS"}, {"warehouse": "SE-MIA"}]}
MARCH = {"from": "2001-03-01", "to": "2001-03-31"}


def _one_due_line_per_region() -> None:
    ensure_standard_statuses()
    twin = item("CLN-0002")
    for region, code in CUSTOMERS.items():
        site = HOMES[region]
        stock.stock_receive(warehouse=warehouse(site), location=location(site, "A-01-04"), item=twin,
                            quantity=Decimal(5), uom="EA", unit_cost=Decimal(1), reference=f"kpi {site}", actor=None)
        customer = Customer.objects.get(code=code)
        order = sales_order_create(customer=customer, ship_to=customer.ship_tos.get(code="MAIN"), actor=None,
                                   lines=[OrderLineSpec(item=twin, quantity=Decimal(1), uom="EA")])
        sales_order_confirm(order=order, actor=None, now=dt.datetime(2001, 3, 5, 12, 0, tzinfo=dt.UTC))


class FillRateCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        _one_due_line_per_region()
        response = client.get(reverse(f"api:{name}"), MARCH)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        home = HOMES[REGION[username]]
        assert (body["lines_due"], body["lines_filled"], body["fill_rate"]) == (1, 0, "0.0000"), body
        assert [row["warehouse"] for row in body["warehouses"]] == [home]
        inside = client.get(reverse(f"api:{name}"), {**MARCH, "warehouse": home}).json()
        assert inside["lines_due"] == 1
        for params in OUTSIDE[username]:
            aimed = client.get(reverse(f"api:{name}"), {**MARCH, **params})
            assert aimed.status_code == 404, (username, params, aimed.content[:300])
            assert aimed.json()["code"] == "not_found"


COVERAGE: dict[str, Any] = {"kpi-fill-rate": FillRateCheck()}
