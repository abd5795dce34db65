"""Scope-matrix coverage of the inventory core routes (collected by tests/test_scope_matrix.py).

Each check receives stock through the service at NE-BOS (ne.operator's scope), EU-RTM (eu.operator's)
and SE-ATL (neither), then asserts what the operator sees: the ledger only within scope, 404 for a
move outside it; the stock statuses are one standard for the enterprise, so everyone sees all of them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from inventory import services
from inventory.models import StockMove, StockStatus
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse

SITES = ("NE-BOS", "EU-RTM", "SE-ATL")
VISIBLE = {"ne.operator": {"NE-BOS"}, "eu.operator": {"EU-RTM"}}
SCOPE = {"ne.operator": {"NE-BOS", "NE-NYC"}, "eu.operator": {"EU-DUS", "EU-RTM"}}
VIEW_PERMISSIONS = ("view_stockmove", "view_stockstatus")


def _can_view(username: str) -> None:
    """Operators read the ledger; until ``erp/roles.py`` grants the inventory views to their role, grant them here.

    The grant is a no-op once the role carries the permissions (and it rolls back with the test).
    """
    user = get_user_model().objects.get(username=username)
    missing = [code for code in VIEW_PERMISSIONS if not user.has_perm(f"inventory.{code}")]
    if missing:
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label="inventory",
                                                             codename__in=missing))


def _receive_everywhere() -> dict[str, StockMove]:
    ensure_standard_statuses()
    moved = {}
    for site in SITES:
        (moved[site],) = services.stock_receive(
            warehouse=warehouse(site), location=location(site, "A-01-04"), item=item("PAP-0001"),
            quantity=Decimal(3), uom="EA", unit_cost=Decimal(1), reference=f"scope {site}", actor=None)
    return moved


def _assert_not_found(response: Any) -> None:
    assert response.status_code == 404, response.content[:300]
    assert response.json()["code"] == "not_found"


class StockMoveListCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        _can_view(username)
        moved = _receive_everywhere()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert body["count"] == len(body["results"])
        assert all(row["warehouse"] in SCOPE[username] for row in body["results"]), (username, body["results"])
        seen = {row["id"] for row in body["results"]}
        assert seen & {move.pk for move in moved.values()} == {moved[site].pk for site in VISIBLE[username]}
        for outside in sorted(set(SITES) - VISIBLE[username]):
            aimed = client.get(reverse(f"api:{name}"), {"warehouse": outside}).json()
            assert aimed["count"] == 0 and aimed["results"] == [], (username, outside)


class StockMoveDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        _can_view(username)
        for site, move in _receive_everywhere().items():
            response = client.get(reverse(f"api:{name}", args=[move.pk]))
            if site in VISIBLE[username]:
                assert response.status_code == 200 and response.json()["id"] == move.pk
            else:
                _assert_not_found(response)
        _assert_not_found(client.get(reverse(f"api:{name}", args=[999999999])))


class StockStatusListCheck:
    """Enterprise-wide: every operator sees every status."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        _can_view(username)
        ensure_standard_statuses()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert {row["code"] for row in body["results"]} == set(StockStatus.objects.values_list("code", flat=True))
        assert body["count"] >= 5


COVERAGE = {
    "stock-move-list": StockMoveListCheck(),
    "stock-move-detail": StockMoveDetailCheck(),
    "stock-status-list": StockStatusListCheck(),
}
