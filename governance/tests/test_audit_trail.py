"""The audit trail records every row change in the database itself: saves, bulk updates, raw SQL, deletes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from erp import services as platform
from governance import audit
from governance.models import AuditEvent
from governance.services.approvals import exchange_rate_set
from inventory.models import Item
from warehouses import services as warehouse_services
from warehouses.models import Location, Region, Warehouse

pytestmark = pytest.mark.django_db


def _events(table: str, row_id: object) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(table_name=table, row_id=str(row_id)).order_by("id"))


def _triggered_tables() -> set[str]:
    """Tables on the trail: with all the statement-level audit triggers enabled, or the row-level one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, array_agg(t.tgname::text) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = ANY(%s) AND NOT t.tgisinternal AND t.tgenabled <> 'D' GROUP BY c.relname",
            [list(audit.TRIGGER_NAMES)],
        )
        return {table for table, names in cursor.fetchall()
                if set(audit.STATEMENT_TRIGGER_NAMES) <= set(names) or audit.ROW_TRIGGER in names}


# --- every table is on the trail --------------------------------------------------------------------


def test_every_table_of_the_domain_apps_carries_the_audit_trigger(demo):
    # Derived from the app registry, not from governance.audit's list: a new model cannot slip past.
    expected = set()
    for app_label in audit.AUDITED_APPS:
        for model in apps.get_app_config(app_label).get_models(include_auto_created=True):
            if model._meta.managed and not model._meta.proxy and model._meta.label_lower not in audit.EXCLUDED_MODELS:
                expected.add(model._meta.db_table)

    missing = expected - _triggered_tables()

    assert not missing, f"tables without the audit triggers: {sorted(missing)} (audit or exclude them)"
    assert {"governance_policy", "governance_policydeviation", "inventory_item", "warehouses_warehouse"} <= expected


def test_users_role_memberships_and_scope_grants_are_audited(demo):
    assert {"auth_user", "auth_user_groups", "auth_user_user_permissions",
            "guardian_userobjectpermission"} <= _triggered_tables()


def test_the_audit_table_itself_and_the_outbox_are_left_out_for_stated_reasons(demo):
    assert "governance_auditevent" not in _triggered_tables()
    assert all(reason for reason in audit.EXCLUDED_MODELS.values())


def test_installing_the_triggers_again_is_harmless_and_the_command_reports_the_count(demo, capsys):
    before = _triggered_tables()

    call_command("audit_install_triggers")

    assert _triggered_tables() == before
    assert f"installed on {len(audit.audited_tables())} tables" in capsys.readouterr().out


def test_scope_columns_follow_each_models_scope_rule():
    columns = {t.label: (t.warehouse_column, t.region_column, t.enterprise, t.restricted)
               for t in audit.audited_tables()}

    assert columns["warehouses.warehouse"] == ("id", "region_id", False, False)
    assert columns["warehouses.region"] == ("", "id", False, False)
    assert columns["warehouses.location"] == ("warehouse_id", "", False, False)
    assert columns["orders.customer"] == ("", "region_id", False, False)
    assert columns["orders.shipto"] == ("", "region_id", False, False)  # its own column, not customer__region
    assert columns["governance.policydeviation"] == ("warehouse_id", "region_id", False, False)
    assert columns["inventory.item"] == ("", "", True, False)
    assert columns["governance.policy"] == ("", "", True, False)
    # Reached through a parent or not a site at all: shown to enterprise readers only.
    for label in ("governance.approvalstep", "warehouses.legalentity", "auth.user", "guardian.userobjectpermission"):
        assert columns[label][3], label


# --- what is recorded ---------------------------------------------------------------------------------


def test_an_api_write_records_its_actor_request_id_and_changed_fields(api_as, user):
    boston = Warehouse.objects.get(code="NE-BOS")

    response = api_as("admin").patch(reverse("api:warehouse-detail", args=["NE-BOS"]), {"name": "Boston North"},
                                     format="json", headers={"X-Request-ID": "abc123"})

    assert response.status_code == 200, response.content
    [event] = [e for e in _events("warehouses_warehouse", boston.pk) if e.operation == "UPDATE"]
    assert event.actor == user("admin")
    assert event.request_id == "abc123"
    assert event.changes == {"name": [boston.name, "Boston North"]}  # updated_at is not a change of substance
    assert event.warehouse_id == boston.pk and event.region_id == boston.region_id


def test_a_service_insert_records_the_whole_new_row_with_its_actor(user):
    rate = exchange_rate_set(from_currency="CHF", to_currency="USD", rate=Decimal("1.12"),
                             effective_from=timezone.localdate(), actor=user("finance"))

    [event] = _events("governance_exchangerate", rate.pk)
    assert event.operation == "INSERT"
    assert event.actor == user("finance")
    assert event.changes["from_currency"] == "CHF" and event.changes["rate"] == 1.12


def test_a_bulk_queryset_update_is_captured_without_an_actor(demo):
    boston = Warehouse.objects.get(code="NE-BOS")

    Warehouse.objects.filter(code__in=["NE-BOS", "EU-RTM"]).update(city="Nowhere")

    [event] = [e for e in _events("warehouses_warehouse", boston.pk) if e.operation == "UPDATE"]
    assert event.changes == {"city": [boston.city, "Nowhere"]}
    assert event.actor is None and event.request_id == ""
    assert AuditEvent.objects.filter(table_name="warehouses_warehouse", operation="UPDATE").count() == 2


def test_raw_sql_is_captured(demo):
    rotterdam = Warehouse.objects.get(code="EU-RTM")

    with connection.cursor() as cursor:
        cursor.execute("UPDATE warehouses_warehouse SET postal_code = %s WHERE code = %s", ["3011AA", "EU-RTM"])

    [event] = [e for e in _events("warehouses_warehouse", rotterdam.pk) if e.operation == "UPDATE"]
    assert event.changes == {"postal_code": [rotterdam.postal_code, "3011AA"]}


def test_an_update_that_changes_nothing_but_updated_at_writes_no_event(demo):
    boston = Warehouse.objects.get(code="NE-BOS")
    before = AuditEvent.objects.count()

    Warehouse.objects.filter(pk=boston.pk).update(updated_at=timezone.now())
    Warehouse.objects.filter(pk=boston.pk).update(name=boston.name)

    assert AuditEvent.objects.count() == before


def test_a_delete_is_captured_with_the_old_row(user):
    boston = Warehouse.objects.get(code="NE-BOS")
    location = warehouse_services.location_create(warehouse=boston, code="TMP-01", kind="storage",
                                                  actor=user("admin"))

    Location.objects.filter(pk=location.pk).delete()

    events = _events("warehouses_location", location.pk)
    assert [e.operation for e in events] == ["INSERT", "DELETE"]
    assert events[1].changes["code"] == "TMP-01"
    assert events[1].warehouse_id == boston.pk


def test_secrets_never_reach_the_trail_but_role_and_scope_changes_do(user):
    operator = user("ne.operator")
    operator.set_password("another secret")
    operator.save()
    operator.groups.add(Group.objects.get(name="Planner"))
    platform.scope_grant(user=operator, actor=user("admin"), regions=[Region.objects.get(code="SE")])

    user_events = _events("auth_user", operator.pk)
    assert user_events and all("password" not in e.changes for e in user_events)
    membership = AuditEvent.objects.filter(table_name="auth_user_groups", operation="INSERT").latest("id")
    assert membership.changes["user_id"] == operator.pk
    grant = AuditEvent.objects.filter(table_name="guardian_userobjectpermission", operation="INSERT").latest("id")
    assert grant.changes["user_id"] == operator.pk and grant.actor == user("admin")


def test_token_digests_never_reach_the_trail(api_as):
    # Tokens are not audited at all; the function drops "digest" keys for any table that has one.
    response = api_as("admin").post(reverse("api:auth-token"), {"username": "admin", "password": "demo"},
                                    format="json")
    assert response.status_code == 201
    assert not AuditEvent.objects.filter(changes__has_key="digest").exists()


# --- nobody alters the trail -------------------------------------------------------------------------


def test_audit_rows_cannot_be_updated_or_deleted_through_the_application(demo):
    Item.objects.filter(sku="BEV-0001").update(name="Renamed")
    event = AuditEvent.objects.latest("id")

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(request_id="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        event.actor_id = 1
        event.save()

    assert AuditEvent.objects.get(pk=event.pk).request_id == event.request_id
