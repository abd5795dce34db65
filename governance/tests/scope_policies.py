"""Scope-matrix coverage of the policy routes (see tests/test_scope_matrix.py).

The catalog (``policies/``) is enterprise-wide: every operator reads every policy. Deviations, the
resolver and the difference report are site-scoped: each check builds deviations inside and outside
the operator's scope through the services and asserts lists, details, actions and reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from governance.models import Policy, PolicyDeviation
from governance.selectors import local_date
from governance.services import deviations as services

# The matrix collects this module while it is itself being imported; its route classes are defined
# by then. A route with writes must be a ``DetailRoute`` so the write test can address one object.
from tests.test_scope_matrix import DetailRoute, Kind
from warehouses.models import Warehouse

CUTOFF = "fulfillment.shipping_cutoff"
SITES = {"ne.operator": {"NE-BOS", "NE-NYC", "NE"}, "eu.operator": {"EU-RTM", "EU-DUS", "EU"}}
ALL_SITES = [("warehouse", "NE-BOS"), ("warehouse", "EU-RTM"), ("warehouse", "SE-ATL"), ("region", "EU"),
             ("region", "SE"), ("region", "NE")]


def _deviations() -> dict[str, PolicyDeviation]:
    """One approved deviation of the cut-off per site in ALL_SITES (requested by the planner)."""
    users = get_user_model().objects
    planner, owner = users.get(username="planner"), users.get(username="owner")
    now = timezone.now()
    made = {}
    for scope_type, code in ALL_SITES:
        # From the site's own today, as the service counts it: in Boston it is still yesterday (UTC) for the
        # first hours of a UTC day, and a deviation from the UTC date would not be in effect there yet.
        today = local_date(now, Warehouse.objects.get(code=code) if scope_type == "warehouse" else None)
        deviation = services.deviation_request(
            policy_key=CUTOFF, scope_type=scope_type, scope_code=code, value="17:45",
            rationale="Scope matrix deviation.", effective_from=today, effective_to=today + timedelta(days=9),
            actor=planner)
        made[code] = services.deviation_approve(deviation=deviation, actor=owner)
    return made


def _assert_404(response: Any) -> None:
    assert response.status_code == 404, response.content[:300]
    assert response.json()["code"] in {"not_found", "unknown_policy"}


class CatalogList:
    def check(self, name: str, client: Any, username: str) -> None:
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert {row["key"] for row in body["results"]} == set(
            Policy.objects.filter(retired=False).values_list("key", flat=True))


def _policy_keys() -> set[str]:
    return set(Policy.objects.filter(retired=False).values_list("key", flat=True))


@dataclass(frozen=True)
class CatalogDetail(DetailRoute):
    """Every operator reads every policy; PATCH (assigning the owner) is refused to operators with
    403 by the matrix's write test, which writes to ``keys_for_writes`` (a policy key: the catalog
    has no "outside")."""

    kind: Kind = field(default_factory=lambda: Kind("policy", "key", _policy_keys))

    def check(self, name: str, client: Any, username: str) -> None:
        assert client.get(reverse(f"api:{name}", args=[CUTOFF])).json()["key"] == CUTOFF
        _assert_404(client.get(reverse(f"api:{name}", args=["no.such_policy"])))


class Resolve:
    def check(self, name: str, client: Any, username: str) -> None:
        _deviations()
        url = reverse(f"api:{name}", args=[CUTOFF])
        for scope_type, code in ALL_SITES:
            response = client.get(url, {scope_type: code})
            if code in SITES[username]:
                assert response.status_code == 200 and response.json()["value"] == "17:45"
            else:
                _assert_404(response)


class DeviationList:
    def check(self, name: str, client: Any, username: str) -> None:
        made = _deviations()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        seen = {row["scope"] for row in body["results"]}
        assert seen == SITES[username] & set(made)
        outside = "EU-RTM" if username == "ne.operator" else "NE-BOS"
        for params in ({"warehouse": outside}, {"region": "SE"}, {"policy": CUTOFF, "warehouse": "SE-ATL"}):
            assert client.get(reverse(f"api:{name}"), params).json()["count"] == 0


class DeviationDetail:
    """Detail and each action: a deviation outside the scope answers 404 and is left unchanged."""

    def check(self, name: str, client: Any, username: str) -> None:
        made = _deviations()
        for code, deviation in made.items():
            if name == "policy-deviation-detail":
                response = client.get(reverse(f"api:{name}", args=[deviation.pk]))
                if code in SITES[username]:
                    assert response.status_code == 200 and response.json()["number"] == deviation.number
                    continue
            elif code in SITES[username]:
                continue  # in-scope decisions are tested in test_policies_deviations.py
            else:
                response = client.post(reverse(f"api:{name}", args=[deviation.pk]), {}, format="json")
            _assert_404(response)
            assert PolicyDeviation.objects.get(pk=deviation.pk).status == "approved"
        _assert_404(client.get(reverse("api:policy-deviation-detail", args=[999999999])))


class DifferenceReport:
    def check(self, name: str, client: Any, username: str) -> None:
        _deviations()
        for scope_type, code in ALL_SITES:
            response = client.get(reverse(f"api:{name}"), {scope_type: code})
            if code not in SITES[username]:
                _assert_404(response)
            elif name == "difference-from-core-list":
                sources = {row["source"] for row in response.json()["results"]}
                assert all(source.split(":")[1] in SITES[username] for source in sources), sources
            else:
                assert response.status_code == 200 and b"17:45" in response.content


class NetworkRanking:
    def check(self, name: str, client: Any, username: str) -> None:
        _deviations()
        rows = client.get(reverse(f"api:{name}")).json()["results"]
        assert {row["warehouse"] for row in rows} == SITES[username] - {"NE", "EU"}


COVERAGE = {
    "policy-list": CatalogList(),
    "policy-detail": CatalogDetail(),
    "policy-resolve": Resolve(),
    "policy-deviation-list": DeviationList(),
    "policy-deviation-detail": DeviationDetail(),
    "policy-deviation-approve": DeviationDetail(),
    "policy-deviation-reject": DeviationDetail(),
    "policy-deviation-withdraw": DeviationDetail(),
    "difference-from-core-list": DifferenceReport(),
    "difference-from-core-csv": DifferenceReport(),
    "difference-from-core-network": NetworkRanking(),
}

WRITES_TESTED_ELSEWHERE = {
    "policy-deviation-list": "anyone may request a deviation for a site in scope; out-of-scope sites are refused "
                             "in governance/tests/test_policies_deviations.py (BAD_CREATES)",
    "policy-deviation-approve": "the policy's process owner only: test_policies_deviations.py and DeviationDetail",
    "policy-deviation-reject": "the policy's process owner only: test_policies_deviations.py and DeviationDetail",
    "policy-deviation-withdraw": "requester or process owner: test_policies_api.py and DeviationDetail",
}
