"""Scope-matrix coverage of the put-away rule routes (collected by tests/test_scope_matrix.py).

Each check makes one rule per warehouse of NE-BOS, NE-NYC (both ne.operator's), EU-RTM (eu.operator's) and SE-MIA
(nobody's of the two), through the service. Operators read the rules in their scope and write none anywhere: a
PATCH in or out of scope is 403 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from inventory.tests.factories import location, warehouse
from procurement import putaway
from procurement.models import PutawayRule
from procurement.tests.helpers import twin

SITES = ("NE-BOS", "NE-NYC", "EU-RTM", "SE-MIA")
SEEN = {"ne.operator": {"NE-BOS", "NE-NYC"}, "eu.operator": {"EU-RTM"}}
SCOPE = {"ne.operator": {"NE-BOS", "NE-NYC"}, "eu.operator": {"EU-RTM", "EU-DUS"}}


def rules_everywhere() -> dict[str, PutawayRule]:
    product = twin("HDW-0004")
    return {site: putaway.putaway_rule_save(actor=None, warehouse=warehouse(site), location=location(site, "A-02-03"),
                                            priority=9, max_quantity=None, item=product)
            for site in SITES}


def _assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response.json()["code"] == code


class PutawayRuleListCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        made = rules_everywhere()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert body["count"] == len(body["results"])
        seen = {row["id"] for row in body["results"]}
        assert seen & {rule.pk for rule in made.values()} == {made[site].pk for site in SEEN[username]}
        assert SEEN[username] <= {row["warehouse"] for row in body["results"]} <= SCOPE[username]
        aimed = client.get(reverse(f"api:{name}"), {"warehouse": "SE-MIA"}).json()
        assert aimed["count"] == 0 and aimed["results"] == [], username


class PutawayRuleDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        made = rules_everywhere()
        for site, rule in made.items():
            url = reverse(f"api:{name}", args=[rule.pk])
            response = client.get(url)
            if site in SEEN[username]:
                assert response.status_code == 200 and response.json()["id"] == rule.pk
            else:
                _assert_error(response, 404, "not_found")
            _assert_error(client.patch(url, {"priority": 1}, format="json"), 403, "permission_denied")
        assert set(PutawayRule.objects.filter(pk__in=[r.pk for r in made.values()])
                   .values_list("priority", flat=True)) == {9}
        _assert_error(client.get(reverse(f"api:{name}", args=[999999999])), 404, "not_found")


COVERAGE = {
    "putaway-rule-list": PutawayRuleListCheck(),
    "putaway-rule-detail": PutawayRuleDetailCheck(),
}

WRITES_TESTED_ELSEWHERE = {
    "putaway-rule-detail": "operators get 403 in and out of scope (PutawayRuleDetailCheck here); a supervisor outside "
                           "the warehouse's scope gets 404: procurement/tests/test_putaway.py",
}
