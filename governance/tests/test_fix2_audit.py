"""The audit trail does not show delegations (nor users and grants) to readers who could not see them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from governance import audit
from governance.models import AuditEvent
from governance.services.approvals import delegation_create

pytestmark = pytest.mark.django_db

LIST = "api:audit-event-list"


def test_a_delegations_history_is_shown_to_enterprise_readers_only(api_as, user):
    today = timezone.localdate()
    delegation = delegation_create(delegator=user("approver"), delegate=user("buyer"), starts_on=today,
                                   ends_on=today + dt.timedelta(days=5), note="Away: medical leave",
                                   actor=user("approver"))
    event = AuditEvent.objects.filter(table_name="governance_delegation", row_id=str(delegation.pk)).latest("id")

    for reader in ("ne.operator", "eu.operator"):
        client = api_as(reader)
        listed = client.get(reverse(LIST), {"table": "governance_delegation"}).json()
        assert listed["count"] == 0, reader
        assert "medical leave" not in client.get(reverse(LIST)).content.decode(), reader
        detail = client.get(reverse("api:audit-event-detail", args=[event.pk]))
        assert (detail.status_code, detail.json()["code"]) == (404, "not_found"), reader

    body = api_as("admin").get(reverse("api:audit-event-detail", args=[event.pk])).json()
    assert body["changes"]["note"] == "Away: medical leave"


def test_delegations_users_and_grants_are_restricted_tables():
    restricted = set(audit.restricted_tables())
    for table in ("governance_delegation", "auth_user", "auth_user_groups", "auth_user_user_permissions",
                  "guardian_userobjectpermission"):
        assert table in restricted, table
    assert "inventory_item" not in restricted and "governance_policy" not in restricted
