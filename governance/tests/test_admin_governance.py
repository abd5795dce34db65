"""The governance admin: every page renders, every read is scoped, decisions go through the engine."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from erp import services as platform
from governance.models import AuditEvent, DeviationStatus, PolicyDeviation
from governance.services.deviations import deviation_request
from warehouses import services as warehouse_services
from warehouses.models import Region, Warehouse

pytestmark = pytest.mark.django_db

GOVERNANCE_MODELS = [model for model in admin.site._registry if model._meta.app_label == "governance"]


def _request_cutoff(requester, code: str) -> PolicyDeviation:
    start = timezone.localdate() + dt.timedelta(days=2)
    return deviation_request(policy_key="fulfillment.shipping_cutoff", scope_type="warehouse", scope_code=code,
                             value="17:30", rationale="Late carrier pickup at this site on weekdays.",
                             effective_from=start, effective_to=start + dt.timedelta(days=30), actor=requester)


@pytest.fixture
def ne_staff(user, django_user_model):
    """A staff warehouse operator of region NE: admin access, operator permissions, NE scope."""
    staff = django_user_model.objects.create_user("ne.staff", password="x", is_staff=True)
    staff.groups.add(Group.objects.get(name="Warehouse operator"))
    platform.scope_grant(user=staff, actor=user("admin"), regions=[Region.objects.get(code="NE")])
    return staff


def test_every_governance_model_has_an_admin():
    from django.apps import apps

    registered = {model._meta.model_name for model in GOVERNANCE_MODELS}
    assert registered == {model._meta.model_name for model in apps.get_app_config("governance").get_models()}


@pytest.mark.parametrize("model", GOVERNANCE_MODELS, ids=lambda m: m._meta.model_name)
def test_every_governance_changelist_renders_for_the_administrator(client, user, model):
    _request_cutoff(user("eu.operator"), "EU-RTM")
    client.force_login(user("admin"))

    response = client.get(reverse(f"admin:governance_{model._meta.model_name}_changelist"))

    assert response.status_code == 200


def test_a_deviation_and_an_audit_event_open_in_the_admin(client, user):
    deviation = _request_cutoff(user("eu.operator"), "EU-RTM")
    event = AuditEvent.objects.filter(table_name="governance_policydeviation", row_id=str(deviation.pk)).first()
    client.force_login(user("admin"))

    for name, pk in (("policydeviation", deviation.pk), ("auditevent", event.pk)):
        assert client.get(reverse(f"admin:governance_{name}_change", args=[pk])).status_code == 200


def test_the_audit_admin_offers_no_add_change_or_delete(client, user):
    event = AuditEvent.objects.latest("id")
    model_admin = admin.site._registry[AuditEvent]
    request = type("R", (), {"user": user("admin")})()
    client.force_login(user("admin"))

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    assert not model_admin.get_actions(request)
    assert client.get(reverse("admin:governance_auditevent_add")).status_code == 403
    assert client.get(reverse("admin:governance_auditevent_delete", args=[event.pk])).status_code == 403
    posted = client.post(reverse("admin:governance_auditevent_change", args=[event.pk]), {"request_id": "forged"})
    assert posted.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).request_id == event.request_id


def test_the_audit_admin_searches_by_row_id_and_request_id_and_filters_by_table(client, user):
    boston = warehouse_services.warehouse_update(warehouse=Warehouse.objects.get(code="NE-BOS"), name="Boston X",
                                                 actor=user("admin"))
    client.force_login(user("admin"))
    url = reverse("admin:governance_auditevent_changelist")

    by_row = client.get(url, {"q": str(boston.pk), "table_name": "warehouses_warehouse", "operation": "UPDATE"})

    assert by_row.status_code == 200
    assert list(by_row.context["cl"].result_list) == [
        AuditEvent.objects.filter(table_name="warehouses_warehouse", row_id=str(boston.pk), operation="UPDATE").get()]


def test_the_audit_admin_names_the_model_of_each_event(client, user):
    boston = warehouse_services.warehouse_update(warehouse=Warehouse.objects.get(code="NE-BOS"), name="Boston X",
                                                 actor=user("admin"))
    client.force_login(user("admin"))

    page = client.get(reverse("admin:governance_auditevent_changelist"),
                      {"q": str(boston.pk), "table_name": "warehouses_warehouse", "operation": "UPDATE"})

    assert '<td class="field-model_label">warehouses.warehouse</td>' in page.content.decode()


def test_a_scoped_staff_user_sees_only_their_scopes_audit_events_and_deviations(client, user, ne_staff):
    admin_user = user("admin")
    ne_deviation = _request_cutoff(user("ne.operator"), "NE-BOS")
    eu_deviation = _request_cutoff(user("eu.operator"), "EU-RTM")
    rotterdam = warehouse_services.warehouse_update(warehouse=Warehouse.objects.get(code="EU-RTM"), name="R2",
                                                    actor=admin_user)
    eu_event = AuditEvent.objects.filter(table_name="warehouses_warehouse", row_id=str(rotterdam.pk)).latest("id")
    client.force_login(ne_staff)

    deviations = client.get(reverse("admin:governance_policydeviation_changelist"))
    events = client.get(reverse("admin:governance_auditevent_changelist"),
                        {"table_name": "warehouses_warehouse", "operation": "UPDATE"})

    assert list(deviations.context["cl"].result_list) == [ne_deviation]
    assert eu_event not in events.context["cl"].result_list
    seen_rows = {e.row_id for e in events.context["cl"].queryset}
    assert seen_rows <= {str(w.pk) for w in Warehouse.objects.filter(region__code="NE")}
    # Outside the scope, a change page is like a deleted row: the admin redirects away.
    for name, pk in (("policydeviation", eu_deviation.pk), ("auditevent", eu_event.pk)):
        response = client.get(reverse(f"admin:governance_{name}_change", args=[pk]))
        assert response.status_code == 302, name


def test_approving_ones_own_deviation_in_the_admin_shows_an_error_and_changes_nothing(client, user):
    requester = user("eu.operator")
    requester.is_staff = True
    requester.save()
    deviation = _request_cutoff(requester, "EU-RTM")
    client.force_login(requester)  # (signing in records last_login: counted before the attempt, not after)
    events_before = AuditEvent.objects.count()

    response = client.post(reverse("admin:governance_policydeviation_changelist"),
                           {"action": "approve", "_selected_action": [deviation.pk]}, follow=True)

    assert response.status_code == 200
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("You cannot approve your own request" in m for m in shown), shown
    deviation.refresh_from_db()
    assert deviation.status == DeviationStatus.REQUESTED and deviation.decided_by is None
    assert deviation.approval_request.status == "pending"
    assert AuditEvent.objects.count() == events_before


def test_the_process_owner_approves_a_deviation_through_the_admin_action(client, user):
    deviation = _request_cutoff(user("eu.operator"), "EU-RTM")
    client.force_login(user("owner"))

    client.post(reverse("admin:governance_policydeviation_changelist"),
                {"action": "approve", "_selected_action": [deviation.pk]})

    deviation.refresh_from_db()
    assert deviation.status == DeviationStatus.APPROVED and deviation.decided_by == user("owner")
    decided = AuditEvent.objects.filter(table_name="governance_policydeviation", row_id=str(deviation.pk),
                                        operation="UPDATE").latest("id")
    assert decided.actor == user("owner") and decided.changes["status"] == ["requested", "approved"]
