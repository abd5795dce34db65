"""Scope-matrix coverage of the exception routes (collected by tests/test_scope_matrix.py).

Each check raises its own exceptions through the service, at NE-BOS (ne.operator's scope), EU-RTM
(eu.operator's), SE-ATL (neither) and for region NE alone, then asserts what the operator sees.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from governance.models import OperationalException
from governance.services.exceptions import exception_raise_command
from warehouses.models import Region, Warehouse

VISIBLE = {
    "ne.operator": {"NE-BOS", "region:NE"},
    "eu.operator": {"EU-RTM"},
}
# The operators' grants written out (the demo may hold exceptions of its own; each row seen must be in scope).
SCOPE = {
    "ne.operator": {"warehouses": {"NE-BOS", "NE-NYC"}, "regions": {"NE"}},
    "eu.operator": {"warehouses": {"EU-DUS", "EU-RTM"}, "regions": {"EU"}},
}


def _in_scope(row: dict[str, Any], username: str) -> bool:
    scope = SCOPE[username]
    if row["warehouse"] is not None:
        return row["warehouse"] in scope["warehouses"]
    return row["region"] in scope["regions"] if row["region"] is not None else True


def _raise_everywhere() -> dict[str, OperationalException]:
    raised = {}
    for site in ("NE-BOS", "EU-RTM", "SE-ATL"):
        raised[site] = exception_raise_command(type="shortage", business_key=f"scope:{site}", title=f"Short at {site}",
                                               warehouse=Warehouse.objects.get(code=site))
    raised["region:NE"] = exception_raise_command(type="anomaly", business_key="scope:region:NE", title="NE anomaly",
                                                  region=Region.objects.get(code="NE"))
    return raised


def _assert_not_found(response: Any) -> None:
    assert response.status_code == 404, response.content[:300]
    assert response.json()["code"] == "not_found"


class ExceptionListCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        raised = _raise_everywhere()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert body["count"] == len(body["results"])
        assert all(_in_scope(row, username) for row in body["results"]), (username, body["results"])
        seen = {row["id"] for row in body["results"]}
        mine = {exc.pk for exc in raised.values()}
        assert seen & mine == {raised[site].pk for site in VISIBLE[username]}, (username, seen)
        outside = "SE-ATL"
        aimed = client.get(reverse(f"api:{name}"), {"warehouse": outside}).json()
        assert aimed["count"] == 0


class ExceptionDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        raised = _raise_everywhere()
        for site, exc in raised.items():
            response = client.get(reverse(f"api:{name}", args=[exc.pk]))
            if site in VISIBLE[username]:
                assert response.status_code == 200 and response.json()["id"] == exc.pk
            else:
                _assert_not_found(response)
        _assert_not_found(client.get(reverse(f"api:{name}", args=[999999999])))


class ExceptionSummaryCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        before = client.get(reverse(f"api:{name}")).json()
        _raise_everywhere()
        after = client.get(reverse(f"api:{name}")).json()
        assert after["total"] - before["total"] == len(VISIBLE[username])
        assert after["by_type"]["shortage"] - before["by_type"]["shortage"] == len(VISIBLE[username] - {"region:NE"})


class ExceptionActionCheck:
    """Operators see exceptions but may not work them: 403 in and out of scope, nothing changes."""

    body: dict[str, Any] = {}

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def check(self, name: str, client: APIClient, username: str) -> None:
        raised = _raise_everywhere()
        for exc in raised.values():
            response = client.post(reverse(f"api:{name}", args=[exc.pk]), self.body, format="json")
            assert response.status_code == 403, response.content[:300]
            assert response.json()["code"] == "permission_denied"
        ids = [exc.pk for exc in raised.values()]
        assert set(OperationalException.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"open"}


COVERAGE = {
    "exception-list": ExceptionListCheck(),
    "exception-detail": ExceptionDetailCheck(),
    "exception-summary": ExceptionSummaryCheck(),
    "exception-acknowledge": ExceptionActionCheck({}),
    "exception-resolve": ExceptionActionCheck({"root_cause": "data_error", "note": ""}),
    "exception-cancel": ExceptionActionCheck({"note": ""}),
}

WRITES_TESTED_ELSEWHERE = {
    "exception-acknowledge": "operators get 403 (ExceptionActionCheck here); scoped workers get 404 outside their "
                             "scope: governance/tests/test_exceptions_api.py",
    "exception-resolve": "as exception-acknowledge",
    "exception-cancel": "as exception-acknowledge",
}
