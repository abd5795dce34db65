"""Exchange rates and approval requests under concurrent writes; approval rules edited through a service."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from erp.exceptions import PermissionDenied, ValidationFailed
from erp.transactions import run_command
from governance.exceptions import ApprovalAlreadyOpen
from governance.models import ApprovalRequest, ApprovalRule, ApprovalRuleStep, ApprovalStep, ExchangeRate
from governance.services import approvals as engine
from governance.tests.scope_approvals import TEST_TYPE, open_request, register_test_document
from warehouses.models import Region, Warehouse

# --- 5. concurrent writes ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_of_one_rate_both_succeed_and_leave_one_row(demo):
    from django.contrib.auth import get_user_model

    finance = get_user_model().objects.get(username="finance")
    outcomes: list[tuple[int, object]] = []

    def post(day: str, rate: str, barrier: threading.Barrier) -> None:
        try:
            client = APIClient()
            client.force_authenticate(finance)
            barrier.wait()
            response = client.post(reverse("api:exchange-rate-list"), {
                "from_currency": "CHF", "to_currency": "EUR", "rate": rate, "effective_from": day}, format="json")
            outcomes.append((response.status_code, response.json()))
        except BaseException as exc:  # an IntegrityError escaping the view is the bug this test is about
            outcomes.append((500, repr(exc)))
        finally:
            connection.close()

    days = [f"2026-07-{d:02d}" for d in range(1, 6)]
    for day in days:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=post, args=(day, rate, barrier)) for rate in ("1.01000000", "1.02000000")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert all(200 <= status < 300 for status, _ in outcomes), outcomes
    assert len(outcomes) == 2 * len(days)
    rows = ExchangeRate.objects.filter(from_currency="CHF", to_currency="EUR")
    assert rows.count() == len(days)  # one row per pair and date
    assert set(rows.values_list("rate", flat=True)) <= {Decimal("1.01"), Decimal("1.02")}


@pytest.mark.django_db(transaction=True)
def test_a_second_open_racing_past_the_check_is_refused_as_already_open_not_a_500(demo):
    from django.contrib.auth import get_user_model

    register_test_document()
    buyer = get_user_model().objects.get(username="buyer")
    boston = Warehouse.objects.select_related("region", "legal_entity").get(code="NE-BOS")
    document_id = 910_000_001
    first_inserted = threading.Event()
    errors: list[BaseException] = []

    def open_it(hold: bool) -> None:
        def body() -> ApprovalRequest:
            request = engine.approval_request_open(
                document_type=TEST_TYPE, document_id=document_id, title="Raced", actor=buyer, warehouse=boston,
                steps=[engine.StepSpec(role="approver")])
            if hold:  # keep the first insert uncommitted while the second passes the exists() check
                first_inserted.set()
                time.sleep(1.0)
            return request

        try:
            if not hold:
                first_inserted.wait(10)
            run_command(body, actor=buyer)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_it, args=(True,)), threading.Thread(target=open_it, args=(False,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [type(e) for e in errors] == [ApprovalAlreadyOpen], errors
    assert ApprovalRequest.objects.filter(document_type=TEST_TYPE, document_id=document_id).count() == 1


# --- 6. approval rules through a service -----------------------------------------------------------------


def _rule_fields(**overrides):
    fields = {"document_type": TEST_TYPE, "name": "Test documents from 500", "min_amount": Decimal("500.00"),
              "max_amount": None, "category": "", "region": None, "priority": 10, "active": True,
              "steps": [("approver", "enterprise")]}
    return {**fields, **overrides}


@pytest.mark.django_db
def test_a_rule_is_created_and_its_steps_replaced_in_order(demo, user):
    admin = user("admin")
    rule = engine.approval_rule_save(actor=admin, **_rule_fields(
        steps=[("warehouse_supervisor", "warehouse"), ("approver", "region")]))
    assert list(rule.steps.values_list("sequence", "role", "scope_level")) == [
        (1, "warehouse_supervisor", "warehouse"), (2, "approver", "region")]

    changed = engine.approval_rule_save(actor=admin, rule=rule, **_rule_fields(
        name="Renamed", region=Region.objects.get(code="EU"), steps=[("finance", "enterprise")], active=False))

    assert (changed.pk, changed.name, changed.region.code, changed.active) == (rule.pk, "Renamed", "EU", False)
    assert list(changed.steps.values_list("sequence", "role", "scope_level")) == [(1, "finance", "enterprise")]


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "field"), [
    ({"steps": [("wizard", "enterprise")]}, "steps"),
    ({"steps": [("approver", "galaxy")]}, "steps"),
    ({"steps": []}, "steps"),
    ({"min_amount": Decimal("500"), "max_amount": Decimal("500")}, "max_amount"),
    ({"min_amount": Decimal("-1")}, "min_amount"),
    ({"name": " "}, "name"),
    ({"name": "Transfers below 10,000.00", "document_type": "transfer"}, "name"),  # a seeded rule's name
    ({"document_type": "Not A Type"}, "document_type"),
    ({"priority": -1}, "priority"),
])
def test_an_invalid_rule_is_refused_field_by_field_and_nothing_is_written(demo, user, overrides, field):
    rules, steps = ApprovalRule.objects.count(), ApprovalRuleStep.objects.count()
    with pytest.raises(ValidationFailed) as refused:
        engine.approval_rule_save(actor=user("admin"), **_rule_fields(**overrides))
    assert field in refused.value.detail
    assert (ApprovalRule.objects.count(), ApprovalRuleStep.objects.count()) == (rules, steps)


@pytest.mark.django_db
def test_only_a_role_that_may_edit_rules_saves_one(demo, user):
    with pytest.raises(PermissionDenied):
        engine.approval_rule_save(actor=user("buyer"), **_rule_fields())
    assert not ApprovalRule.objects.filter(document_type=TEST_TYPE).exists()


@pytest.mark.django_db
def test_a_pending_request_keeps_the_steps_it_opened_with_when_its_rule_changes(demo, user):
    register_test_document()
    admin = user("admin")
    rule = engine.approval_rule_save(actor=admin, **_rule_fields(steps=[("approver", "enterprise")]))
    before = open_request(user("buyer"), warehouse="NE-BOS", amount=Decimal("900.00"), currency="USD")
    assert before.rule_id == rule.pk

    engine.approval_rule_save(actor=admin, rule=rule, **_rule_fields(
        steps=[("finance", "enterprise"), ("planner", "region")]))
    after = open_request(user("buyer"), warehouse="NE-BOS", amount=Decimal("900.00"), currency="USD")

    assert list(ApprovalStep.objects.filter(request=before).values_list("role", flat=True)) == ["approver"]
    assert list(ApprovalStep.objects.filter(request=after).order_by("sequence").values_list(
        "role", flat=True)) == ["finance", "planner"]
    decided = engine.approval_request_decide(request=before, actor=user("approver"), approve=True)
    assert decided.status == "approved"


# --- the admin -------------------------------------------------------------------------------------------


def _form(**overrides):
    data = {"document_type": TEST_TYPE, "name": "Admin rule", "min_amount": "", "max_amount": "1000.00",
            "category": "", "region": "", "priority": "20", "active": "on",
            "steps": "warehouse_supervisor@warehouse, approver@enterprise", "_save": "Save"}
    return {**data, **overrides}


@pytest.mark.django_db
def test_the_administrator_adds_and_changes_a_rule_with_its_steps_in_the_admin(client, user):
    client.force_login(user("admin"))

    added = client.post(reverse("admin:governance_approvalrule_add"), _form())
    assert added.status_code == 302, added.content.decode()[:2000]
    rule = ApprovalRule.objects.get(document_type=TEST_TYPE, name="Admin rule")
    assert (rule.max_amount, rule.priority, rule.active) == (Decimal("1000.00"), 20, True)
    assert list(rule.steps.values_list("role", "scope_level")) == [("warehouse_supervisor", "warehouse"),
                                                                   ("approver", "enterprise")]

    page = client.get(reverse("admin:governance_approvalrule_change", args=[rule.pk])).content.decode()
    assert "warehouse_supervisor@warehouse, approver@enterprise" in page
    assert "Requests already open keep" in page  # the help text says what a change does

    changed = client.post(reverse("admin:governance_approvalrule_change", args=[rule.pk]),
                          _form(steps="finance@enterprise", active=""))
    assert changed.status_code == 302, changed.content.decode()[:2000]
    rule.refresh_from_db()
    assert rule.active is False
    assert list(rule.steps.values_list("role", "scope_level")) == [("finance", "enterprise")]
    assert "finance@enterprise" in client.get(reverse("admin:governance_approvalrule_changelist")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(("steps", "message"), [
    ("wizard@enterprise", "unknown role &#x27;wizard&#x27;"),
    ("approver", "write it as role@scope_level"),
    ("approver@everywhere", "unknown scope level"),
])
def test_a_bad_step_in_the_admin_shows_a_form_error_and_writes_nothing(client, user, steps, message):
    client.force_login(user("admin"))
    rules, rule_steps = ApprovalRule.objects.count(), ApprovalRuleStep.objects.count()

    response = client.post(reverse("admin:governance_approvalrule_add"), _form(steps=steps))

    assert response.status_code == 200
    html = response.content.decode()
    assert message in html and "errorlist" in html
    assert (ApprovalRule.objects.count(), ApprovalRuleStep.objects.count()) == (rules, rule_steps)
    assert not [m for m in get_messages(response.wsgi_request) if "successfully" in str(m)]


def test_a_rule_step_may_not_name_the_policy_owner_which_only_explicit_steps_can_resolve(demo, user):
    from erp.exceptions import ValidationFailed
    from governance.models import ApprovalRule
    from governance.services.approvals import approval_rule_save

    before = ApprovalRule.objects.count()
    with pytest.raises(ValidationFailed):
        approval_rule_save(actor=user("admin"), document_type="transfer", name="Owner decides", min_amount=None,
                           max_amount=None, category="", region=None, priority=5, active=True,
                           steps=[("policy_owner", "enterprise")])
    assert ApprovalRule.objects.count() == before
