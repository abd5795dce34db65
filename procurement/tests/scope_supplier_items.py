"""Scope-matrix coverage of the supplier-item routes (collected by tests/test_scope_matrix.py).

What a supplier sells is enterprise master data, one standard for the network: every operator reads all of a
supplier's items, whatever their scope, and writes none (403 on a POST of a new item and on a PATCH, nothing
changed). An unknown supplier or SKU is 404.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from procurement.models import SupplierItem
from procurement.tests.helpers import offer, twin

SUPPLIER = "NORD"


def _offers() -> set[str]:
    offer(twin("PAP-0013"), SUPPLIER, price="3.00")
    return set(SupplierItem.objects.filter(supplier__code=SUPPLIER).values_list("item__sku", flat=True))


def _assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response.json()["code"] == code


class SupplierItemListCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        skus = _offers()
        body = client.get(reverse(f"api:{name}", args=[SUPPLIER]), {"page_size": 500}).json()
        assert {row["sku"] for row in body["results"]} == skus, username
        _assert_error(client.get(reverse(f"api:{name}", args=["NO-SUCH-SUPPLIER"])), 404, "not_found")
        before = SupplierItem.objects.count()
        refused = client.post(reverse(f"api:{name}", args=[SUPPLIER]),
                              {"sku": twin("PAP-0014").sku, "unit_price": "1.00"}, format="json")
        _assert_error(refused, 403, "permission_denied")
        assert SupplierItem.objects.count() == before


class SupplierItemDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        sku = sorted(_offers())[0]
        url = reverse(f"api:{name}", args=[SUPPLIER, sku])
        price = SupplierItem.objects.get(supplier__code=SUPPLIER, item__sku=sku).unit_price
        assert client.get(url).json()["sku"] == sku, username
        _assert_error(client.patch(url, {"unit_price": "0.01"}, format="json"), 403, "permission_denied")
        assert SupplierItem.objects.get(supplier__code=SUPPLIER, item__sku=sku).unit_price == price
        _assert_error(client.get(reverse(f"api:{name}", args=[SUPPLIER, "NO-SUCH-SKU"])), 404, "not_found")


COVERAGE = {
    "supplier-item-list": SupplierItemListCheck(),
    "supplier-item-detail": SupplierItemDetailCheck(),
}

WRITES_TESTED_ELSEWHERE = {
    "supplier-item-list": "nested under a supplier's code: operators' POST is 403 in SupplierItemListCheck here",
    "supplier-item-detail": "nested under a supplier's code: operators' PATCH is 403 in SupplierItemDetailCheck here",
}
