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


class AvailabilityListCheck:
    """One row per SKU and warehouse in scope (zeros where nothing is held); a warehouse outside it is a 404."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        _receive_everywhere()
        body = client.get(reverse(f"api:{name}"), {"sku": "T-PAP-0001", "page_size": 500}).json()
        on_hand = {row["warehouse"]: row["on_hand"] for row in body["results"]}
        assert set(on_hand) == SCOPE[username], (username, body)
        assert {wh for wh, quantity in on_hand.items() if quantity != "0.0000"} == VISIBLE[username]
        for outside in sorted(set(SITES) - VISIBLE[username]):
            _assert_not_found(client.get(reverse(f"api:{name}"), {"sku": "T-PAP-0001", "warehouse": outside}))


COVERAGE = {
    "stock-move-list": StockMoveListCheck(),
    "stock-move-detail": StockMoveDetailCheck(),
    "stock-status-list": StockStatusListCheck(),
    "availability-list": AvailabilityListCheck(),
}


# --- stock adjustments and status changes ---------------------------------------------------------------

OTHER_SITE = {"ne.operator": "EU-RTM", "eu.operator": "NE-BOS"}


def _grant(username: str, *codenames: str) -> None:
    """Until ``erp/roles.py`` grants these to operators, grant them here (rolls back with the test)."""
    user = get_user_model().objects.get(username=username)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="inventory", codename__in=codenames))


def _adjust_everywhere() -> dict[str, Any]:
    """A small posted adjustment at each site (0.05 of 3 on hand: within the 2 % tolerance)."""
    _receive_everywhere()
    return {site: services.stock_adjustment_create(
        warehouse=warehouse(site), location=location(site, "A-01-04"), item=item("PAP-0001"), quantity=Decimal("-0.05"),
        uom="EA", reason="LOST", actor=None) for site in SITES}


def _post_outside_writes_nothing(client: APIClient, name: str, username: str, body: dict[str, Any]) -> None:
    """A reference to a warehouse outside the caller's scope is a 400 as if it did not exist; nothing is written."""
    from inventory.models import StockAdjustment

    moves, adjustments = StockMove.objects.count(), StockAdjustment.objects.count()
    response = client.post(reverse(f"api:{name}"), {**body, "warehouse": OTHER_SITE[username]}, format="json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "validation_error" and "warehouse" in response.json()["detail"]
    assert StockMove.objects.count() == moves and StockAdjustment.objects.count() == adjustments


class StockAdjustmentListCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        _grant(username, "view_stockadjustment", "add_stockadjustment")
        made = _adjust_everywhere()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert {row["number"] for row in body["results"]} == {made[site].number for site in VISIBLE[username]}
        for outside in sorted(set(SITES) - VISIBLE[username]):
            assert client.get(reverse(f"api:{name}"), {"warehouse": outside}).json()["count"] == 0
        _post_outside_writes_nothing(client, name, username, {
            "location": "A-01-04", "sku": "T-PAP-0001", "quantity": "-0.01", "uom": "EA", "reason": "LOST"})
        own = sorted(VISIBLE[username])[0]
        response = client.post(reverse(f"api:{name}"), {"warehouse": own, "location": "A-01-04", "sku": "T-PAP-0001",
                                                        "quantity": "-0.01", "uom": "EA", "reason": "LOST"},
                               format="json")
        assert response.status_code == 201 and response.json()["warehouse"] == own, response.content[:300]


class StockAdjustmentDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        _grant(username, "view_stockadjustment")
        for site, adjustment in _adjust_everywhere().items():
            response = client.get(reverse(f"api:{name}", args=[adjustment.pk]))
            if site in VISIBLE[username]:
                assert response.status_code == 200 and response.json()["number"] == adjustment.number
            else:
                _assert_not_found(response)
        _assert_not_found(client.get(reverse(f"api:{name}", args=[999999999])))


class StockStatusChangeCheck:
    """POST only: a status change at a site in scope posts; one naming a site outside it is a 400 and moves nothing."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        _grant(username, "change_stock_status")
        _receive_everywhere()
        body = {"location": "A-01-04", "sku": "T-PAP-0001", "quantity": "1", "uom": "EA",
                "from_status": "available", "to_status": "quality_hold", "reason": "QC-HOLD"}
        _post_outside_writes_nothing(client, name, username, body)
        own = sorted(VISIBLE[username])[0]
        response = client.post(reverse(f"api:{name}"), {**body, "warehouse": own}, format="json")
        assert response.status_code == 201, response.content[:300]
        assert {move["warehouse"] for move in response.json()["moves"]} == {own}


COVERAGE.update({
    "stock-adjustment-list": StockAdjustmentListCheck(),
    "stock-adjustment-detail": StockAdjustmentDetailCheck(),
    "stock-status-change-list": StockStatusChangeCheck(),
})
WRITES_TESTED_ELSEWHERE = {
    "stock-adjustment-list": "posting is scoped: StockAdjustmentListCheck in inventory/tests/scope_inventory.py",
    "stock-status-change-list": "posting is scoped: StockStatusChangeCheck in inventory/tests/scope_inventory.py",
}


# --- cycle counts ---------------------------------------------------------------------------------------


def _count_everywhere(submit_beyond_tolerance: bool = False) -> dict[str, Any]:
    """An open count of T-PAP-0001 at A-01-04 at each site; submitted as 1 of 3 (beyond tolerance) when asked."""
    from inventory.services.counts import CountEntry, CountPair, cycle_count_create, cycle_count_submit

    _receive_everywhere()
    # The approval request a submit beyond tolerance opens names its requester: someone who may count anywhere.
    counter = get_user_model().objects.get(username="admin")
    made = {}
    for site in SITES:
        count = cycle_count_create(warehouse=warehouse(site), actor=counter, pairs=[
            CountPair(location=location(site, "A-01-04"), item=item("PAP-0001"))])
        if submit_beyond_tolerance:
            count = cycle_count_submit(count=count, actor=counter, entries=[CountEntry(
                location=location(site, "A-01-04"), item=item("PAP-0001"), quantity=Decimal(1), uom="EA")])
        made[site] = count
    return made


def _count_state(count: Any) -> tuple[Any, ...]:
    from inventory.models import CycleCount, CycleCountLine

    return (CycleCount.objects.get(pk=count.pk).status, StockMove.objects.count(),
            list(CycleCountLine.objects.filter(count=count).values()))


COUNT_LINE = {"location": "A-01-04", "sku": "T-PAP-0001", "quantity": "3", "uom": "EA"}


class CycleCountListCheck:
    """Counts of the caller's warehouses only; opening one at a site outside the scope is a 400 that writes nothing."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        from inventory.models import CycleCount

        made = _count_everywhere()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert body["count"] == len(body["results"])
        assert all(row["warehouse"] in SCOPE[username] for row in body["results"]), (username, body["results"])
        numbers = {row["number"] for row in body["results"]}
        assert numbers & {c.number for c in made.values()} == {made[site].number for site in VISIBLE[username]}
        for outside in sorted(set(SITES) - VISIBLE[username]):
            assert client.get(reverse(f"api:{name}"), {"warehouse": outside}).json()["count"] == 0
        counts, moves = CycleCount.objects.count(), StockMove.objects.count()
        lines = [{"location": "A-01-04", "sku": "T-PAP-0001"}]
        refused = client.post(reverse(f"api:{name}"), {"warehouse": OTHER_SITE[username], "lines": lines},
                              format="json")
        assert refused.status_code == 400 and "warehouse" in refused.json()["detail"], refused.content[:300]
        assert CycleCount.objects.count() == counts and StockMove.objects.count() == moves
        own = sorted(VISIBLE[username])[0]
        response = client.post(reverse(f"api:{name}"), {"warehouse": own, "lines": lines}, format="json")
        assert response.status_code == 201 and response.json()["warehouse"] == own, response.content[:300]


class CycleCountDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        for site, count in _count_everywhere().items():
            response = client.get(reverse(f"api:{name}", args=[count.pk]))
            if site in VISIBLE[username]:
                assert response.status_code == 200 and response.json()["number"] == count.number
            else:
                _assert_not_found(response)
        _assert_not_found(client.get(reverse(f"api:{name}", args=[999999999])))


class CycleCountActionCheck:
    """POST on a count: outside the scope a 404 that changes nothing; inside, what the action does for an operator.

    A recount is an approver's call: the operator, in scope, gets 403 ``not_an_approver`` and the count waits on.
    """

    def __init__(self, body: dict[str, Any], inside: int, pending: bool = False) -> None:
        self.body, self.inside, self.pending = body, inside, pending

    def check(self, name: str, client: APIClient, username: str) -> None:
        for site, count in _count_everywhere(submit_beyond_tolerance=self.pending).items():
            before = _count_state(count)
            response = client.post(reverse(f"api:{name}", args=[count.pk]), self.body, format="json")
            if site in VISIBLE[username]:
                assert response.status_code == self.inside, (site, response.content[:300])
            else:
                _assert_not_found(response)
                assert _count_state(count) == before
        _assert_not_found(client.post(reverse(f"api:{name}", args=[999999999]), self.body, format="json"))


class CycleCountAccuracyCheck:
    """One row per warehouse in scope; a warehouse outside it is a 404."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert {row["warehouse"] for row in body["results"]} == SCOPE[username], (username, body)
        for outside in sorted(set(SITES) - VISIBLE[username]):
            _assert_not_found(client.get(reverse(f"api:{name}"), {"warehouse": outside}))


COVERAGE.update({
    "cycle-count-list": CycleCountListCheck(),
    "cycle-count-detail": CycleCountDetailCheck(),
    "cycle-count-count": CycleCountActionCheck({"lines": [COUNT_LINE]}, inside=200),
    "cycle-count-submit": CycleCountActionCheck({"lines": [COUNT_LINE]}, inside=200),
    "cycle-count-cancel": CycleCountActionCheck({}, inside=200),
    "cycle-count-recount": CycleCountActionCheck({}, inside=403, pending=True),
    "cycle-count-accuracy": CycleCountAccuracyCheck(),
})
WRITES_TESTED_ELSEWHERE.update({
    "cycle-count-list": "opening a count is scoped: CycleCountListCheck in inventory/tests/scope_inventory.py",
    "cycle-count-count": "counting is scoped: CycleCountActionCheck in inventory/tests/scope_inventory.py",
    "cycle-count-submit": "submitting is scoped: CycleCountActionCheck in inventory/tests/scope_inventory.py",
    "cycle-count-cancel": "cancelling is scoped: CycleCountActionCheck in inventory/tests/scope_inventory.py",
    "cycle-count-recount": "approvers only, scoped: CycleCountActionCheck in inventory/tests/scope_inventory.py",
})
