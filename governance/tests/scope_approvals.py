"""Scope of the approval engine's routes, and the helpers the approval tests share.

Approval requests belong to a warehouse or (with none) a region: ``ne.operator`` sees those of
NE-BOS and NE-NYC, ``eu.operator`` those of region EU; a request elsewhere is 404 (unless it waits
for the caller's own decision, which an operator's never does here). Delegations are the caller's
own; exchange rates are enterprise data read by finance and administrators only.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from erp import services as platform
from erp.roles import ROLE_BY_KEY
from erp.transactions import run_command
from governance.models import ApprovalRequest, Delegation
from governance.services import approvals as engine
from warehouses.models import Region, Warehouse

TEST_TYPE = "test_document"
_document_ids = itertools.count(900_000_001)


class CallRecorder:
    """The test document type's callbacks: every approval and rejection, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []

    def approved(self, document_id: int, actor: Any) -> None:
        self.calls.append(("approved", document_id, actor.username))

    def rejected(self, document_id: int, actor: Any) -> None:
        self.calls.append(("rejected", document_id, actor.username))


def register_test_document() -> CallRecorder:
    recorder = CallRecorder()
    engine.register_approvable(engine.Approvable(
        document_type=TEST_TYPE, label="Test document", on_approved=recorder.approved,
        on_rejected=recorder.rejected, url=lambda document_id: f"/test-documents/{document_id}/",
    ))
    return recorder


def make_user(username: str, role: str | None = None, *, warehouses: tuple[str, ...] = (),
              regions: tuple[str, ...] = (), enterprise: bool = False) -> Any:
    user = get_user_model().objects.create_user(username, password="x-unused-x")
    if role:
        user.groups.add(Group.objects.get(name=ROLE_BY_KEY[role].group))
    platform.scope_grant(user=user, actor=None, enterprise=enterprise,
                         regions=list(Region.objects.filter(code__in=regions)),
                         warehouses=list(Warehouse.objects.filter(code__in=warehouses)))
    return user


def open_request(requester: Any, *, warehouse: str | None = None, region: str | None = None,
                 steps: list[engine.StepSpec] | None = None, amount: Decimal | None = None, currency: str = "",
                 category: str = "", legal_entity: Any = None, document_type: str = TEST_TYPE,
                 title: str = "A test document") -> ApprovalRequest:
    """Open a request the way a document's service would: inside its own command."""
    wh = Warehouse.objects.select_related("region", "legal_entity").get(code=warehouse) if warehouse else None
    rg = Region.objects.get(code=region) if region else None
    if steps is None and amount is None and category == "":
        steps = [engine.StepSpec(role="approver")]
    return run_command(lambda: engine.approval_request_open(
        document_type=document_type, document_id=next(_document_ids), title=title, actor=requester,
        amount=amount, currency=currency, legal_entity=legal_entity, region=rg, warehouse=wh, category=category,
        steps=steps,
    ), actor=requester)


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.content[:400])
    body = response.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert body["code"] == code, body


# --- the scope checks -------------------------------------------------------------------------------

IN_SCOPE = {"ne.operator": ("NE-BOS", "NE"), "eu.operator": ("EU-RTM", "EU")}


def _requests_around(username: str) -> tuple[set[int], set[int]]:
    """Requests inside and outside the operator's scope: (visible ids, hidden ids)."""
    register_test_document()
    buyer = get_user_model().objects.get(username="buyer")
    inside = {
        open_request(buyer, warehouse="NE-BOS").pk if username == "ne.operator" else
        open_request(buyer, warehouse="EU-RTM").pk,
        open_request(buyer, warehouse="NE-NYC").pk if username == "ne.operator" else
        open_request(buyer, region="EU").pk,
        open_request(buyer).pk,  # enterprise-level: visible to everyone who reads approvals
    }
    outside = {
        open_request(buyer, warehouse="SE-ATL").pk,
        open_request(buyer, region="SE").pk,
        open_request(buyer, warehouse="EU-DUS").pk if username == "ne.operator" else
        open_request(buyer, warehouse="NE-BOS").pk,
    }
    if username == "ne.operator":
        # NE-BOS and NE-NYC are all of region NE, and the scope rule keeps a region-only row visible there.
        inside.add(open_request(buyer, region="NE").pk)
    return inside, outside


class ApprovalListScope:
    def check(self, name: str, client: APIClient, username: str) -> None:
        inside, outside = _requests_around(username)
        url = reverse(f"api:{name}")
        everything = client.get(url, {"status": "pending", "waiting_for_me": "false", "page_size": 500})
        assert everything.status_code == 200, everything.content[:300]
        seen = {row["id"] for row in everything.json()["results"]}
        assert inside <= seen and not (seen & outside), (username, sorted(seen), sorted(inside), sorted(outside))
        mine = client.get(url)
        assert mine.status_code == 200 and mine.json()["count"] == 0, "an operator approves nothing"
        aimed = client.get(url, {"status": "pending", "waiting_for_me": "false",
                                 "warehouse": "SE-ATL", "region": "SE"})
        assert aimed.status_code == 200 and aimed.json()["count"] == 0


class ApprovalDetailScope:
    def check(self, name: str, client: APIClient, username: str) -> None:
        inside, outside = _requests_around(username)
        for pk in inside:
            response = client.get(reverse(f"api:{name}", args=[pk]))
            assert response.status_code == 200 and response.json()["id"] == pk
        for pk in [*outside, 999_999_999]:
            assert_error(client.get(reverse(f"api:{name}", args=[pk])), 404, "not_found")


class ApprovalDecisionScope:
    """Out of scope: 404, as if absent. In scope: the operator is no approver (403), nothing decided."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        inside, outside = _requests_around(username)
        body = {"comment": "operator decides"}
        for pk in outside:
            assert_error(client.post(reverse(f"api:{name}", args=[pk]), body, format="json"), 404, "not_found")
        for pk in inside:
            assert_error(client.post(reverse(f"api:{name}", args=[pk]), body, format="json"), 403, "not_an_approver")
        assert set(ApprovalRequest.objects.filter(pk__in=inside | outside).values_list("status", flat=True)) == {
            "pending"}


def _delegations_around(username: str) -> tuple[set[int], set[int]]:
    users = get_user_model().objects
    today = timezone.localdate()
    operator, approver, finance = (users.get(username=u) for u in (username, "approver", "finance"))
    given_to_operator = engine.delegation_create(delegator=approver, delegate=operator, starts_on=today,
                                                 ends_on=today, note="", actor=approver)
    elsewhere = engine.delegation_create(delegator=approver, delegate=finance, starts_on=today, ends_on=today,
                                         note="", actor=approver)
    return {given_to_operator.pk}, {elsewhere.pk}


class DelegationListScope:
    def check(self, name: str, client: APIClient, username: str) -> None:
        mine, _others = _delegations_around(username)
        response = client.get(reverse(f"api:{name}"), {"page_size": 500})
        assert response.status_code == 200
        assert {row["id"] for row in response.json()["results"]} == mine


class DelegationDetailScope:
    def check(self, name: str, client: APIClient, username: str) -> None:
        mine, others = _delegations_around(username)
        for pk in mine:
            assert client.get(reverse(f"api:{name}", args=[pk])).status_code == 200
        for pk in others:
            assert_error(client.get(reverse(f"api:{name}", args=[pk])), 404, "not_found")


class DelegationRevokeScope:
    """An operator may revoke only delegations they gave: another's is 404 (unseen) or 403 (received)."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        mine, others = _delegations_around(username)
        for pk in others:
            assert_error(client.post(reverse(f"api:{name}", args=[pk])), 404, "not_found")
        for pk in mine:  # received, not given
            assert_error(client.post(reverse(f"api:{name}", args=[pk])), 403, "permission_denied")
        assert not Delegation.objects.filter(revoked_at__isnull=False).exists()


class ExchangeRateListScope:
    """Exchange rates are finance's: an operator's role does not read them."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        assert_error(client.get(reverse(f"api:{name}")), 403, "permission_denied")


COVERAGE = {
    "approval-list": ApprovalListScope(),
    "approval-detail": ApprovalDetailScope(),
    "approval-approve": ApprovalDecisionScope(),
    "approval-reject": ApprovalDecisionScope(),
    "delegation-list": DelegationListScope(),
    "delegation-detail": DelegationDetailScope(),
    "delegation-revoke": DelegationRevokeScope(),
    "exchange-rate-list": ExchangeRateListScope(),
}

WRITES_TESTED_ELSEWHERE = {
    "approval-approve": "eligibility is the engine's rule: ApprovalDecisionScope here and test_approvals_api.py",
    "approval-reject": "eligibility is the engine's rule: ApprovalDecisionScope here and test_approvals_api.py",
    "delegation-revoke": "only the delegator or an administrator: DelegationRevokeScope, test_approvals_delegation",
}
