"""The approval engine: rules as data, ordered steps, scope, segregation of duties, the database's guarantees."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, InternalError, transaction
from django.utils import timezone

from erp.exceptions import ValidationFailed
from erp.transactions import run_command
from governance.exceptions import (
    ApprovalAlreadyDecided,
    ApprovalAlreadyOpen,
    MissingExchangeRate,
    NoApprovalRule,
    NotAnApprover,
    SelfApprovalForbidden,
    StepNotCurrent,
    UnknownDocumentType,
)
from governance.models import ApprovalRequest, ApprovalRule, ApprovalRuleStep, ApprovalStep, ExchangeRate
from governance.services import approvals as engine
from governance.tests.scope_approvals import TEST_TYPE, make_user, open_request, register_test_document
from warehouses.models import LegalEntity, Region, Warehouse

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorder(demo):
    return register_test_document()


def _rule(name: str, steps: list[tuple[str, str]], *, low: str | None = None, high: str | None = None,
          category: str = "", region: str | None = None, priority: int = 100) -> ApprovalRule:
    rule = ApprovalRule.objects.create(
        document_type=TEST_TYPE, name=name, min_amount=Decimal(low) if low else None,
        max_amount=Decimal(high) if high else None, category=category,
        region=Region.objects.get(code=region) if region else None, priority=priority,
    )
    for sequence, (role, level) in enumerate(steps, start=1):
        ApprovalRuleStep.objects.create(rule=rule, sequence=sequence, role=role, scope_level=level)
    return rule


@pytest.fixture
def usd_bands(recorder):
    """Three bands in the legal entity's currency, like the purchase order matrix."""
    return {
        "small": _rule("small", [("buyer", "region")], high="5000"),
        "medium": _rule("medium", [("buyer", "region"), ("approver", "region")], low="5000", high="50000"),
        "large": _rule("large", [("buyer", "region"), ("approver", "region"), ("finance", "enterprise")],
                       low="50000"),
    }


def _match(amount: str, **kw) -> str | None:
    rule = engine.rule_match(document_type=TEST_TYPE, amount=Decimal(amount), **kw)
    return rule.name if rule else None


# --- rules ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "band"), [
    ("0.00", "small"), ("4999.99", "small"), ("5000.00", "medium"), ("49999.99", "medium"),
    ("50000.00", "large"), ("999999999.00", "large"),
])
def test_a_band_includes_its_minimum_and_excludes_its_maximum(usd_bands, amount, band):
    assert _match(amount) == band


def test_a_category_rule_beats_the_general_one_and_only_for_its_category(usd_bands):
    _rule("hazmat", [("finance", "enterprise")], category="hazmat")

    assert _match("100", category="hazmat") == "hazmat"
    assert _match("100", category="food") == "small"
    assert _match("100") == "small"


def test_a_region_rule_applies_only_in_its_region_and_priority_decides_first(usd_bands):
    _rule("europe", [("finance", "enterprise")], region="EU")
    _rule("urgent", [("approver", "enterprise")], priority=10)
    eu, ne = Region.objects.get(code="EU"), Region.objects.get(code="NE")

    assert _match("100", region=ne) == "urgent"
    ApprovalRule.objects.filter(name="urgent").update(active=False)
    assert _match("100", region=eu) == "europe"
    assert _match("100", region=ne) == "small"


def test_no_matching_rule_is_a_conflict_with_its_code(recorder):
    buyer = make_user("no.rule.buyer", "buyer", enterprise=True)
    with pytest.raises(NoApprovalRule) as refused:
        open_request(buyer, warehouse="NE-BOS", amount=Decimal("10"))
    assert refused.value.code == "no_approval_rule" and refused.value.status == 409
    assert not ApprovalRequest.objects.filter(requested_by=buyer).exists()


def test_a_eur_amount_is_judged_against_usd_bands_at_the_rate_effective_today(usd_bands):
    buyer = make_user("eur.buyer", "buyer", enterprise=True)
    today = timezone.localdate()
    ExchangeRate.objects.filter(from_currency__in=["EUR", "USD"]).delete()
    ExchangeRate.objects.create(from_currency="EUR", to_currency="USD", rate=Decimal("1.10"),
                                effective_from=today - dt.timedelta(days=30))
    ExchangeRate.objects.create(from_currency="EUR", to_currency="USD", rate=Decimal("0.90"),
                                effective_from=today + dt.timedelta(days=1))  # not yet effective

    # 4,600 EUR is 5,060 USD at 1.10 (medium); at the future 0.90 it would have been small.
    request = open_request(buyer, warehouse="NE-BOS", amount=Decimal("4600"), currency="EUR")

    assert request.base_amount == Decimal("5060.00") and request.rule.name == "medium"
    assert [s.role for s in request.steps.order_by("sequence")] == ["buyer", "approver"]


def test_a_usd_amount_against_eur_bands_uses_the_inverse_rate_when_only_that_exists(recorder):
    eu_bands = {
        "eu small": _rule("eu small", [("buyer", "region")], high="1000", region="EU"),
        "eu large": _rule("eu large", [("buyer", "region"), ("finance", "enterprise")], low="1000", region="EU"),
    }
    buyer = make_user("usd.buyer", "buyer", enterprise=True)
    ExchangeRate.objects.filter(from_currency__in=["EUR", "USD"]).delete()
    ExchangeRate.objects.create(from_currency="EUR", to_currency="USD", rate=Decimal("1.25"),
                                effective_from=dt.date(2020, 1, 1))

    below = open_request(buyer, warehouse="EU-RTM", amount=Decimal("1249.99"), currency="USD")
    at_edge = open_request(buyer, warehouse="EU-RTM", amount=Decimal("1250.00"), currency="USD")

    assert below.base_amount == Decimal("999.99") and below.rule == eu_bands["eu small"]
    assert at_edge.base_amount == Decimal("1000.00") and at_edge.rule == eu_bands["eu large"]


def test_no_rate_for_the_pair_is_a_conflict_and_opens_nothing(usd_bands):
    buyer = make_user("gbp.buyer", "buyer", enterprise=True)
    with pytest.raises(MissingExchangeRate) as refused:
        open_request(buyer, warehouse="NE-BOS", amount=Decimal("10"), currency="GBP")
    assert refused.value.code == "missing_exchange_rate" and refused.value.status == 409
    assert not ApprovalRequest.objects.filter(requested_by=buyer).exists()


def test_a_rate_effective_only_from_tomorrow_is_no_rate_today(usd_bands):
    buyer = make_user("early.buyer", "buyer", enterprise=True)
    ExchangeRate.objects.filter(from_currency__in=["EUR", "USD"]).delete()
    ExchangeRate.objects.create(from_currency="EUR", to_currency="USD", rate=Decimal("1.1"),
                                effective_from=timezone.localdate() + dt.timedelta(days=1))
    with pytest.raises(MissingExchangeRate):
        open_request(buyer, warehouse="NE-BOS", amount=Decimal("10"), currency="EUR")


def test_steps_get_their_role_group_and_the_requester_and_only_the_first_is_pending(usd_bands):
    buyer = make_user("steps.buyer", "buyer", enterprise=True)
    request = open_request(buyer, warehouse="NE-BOS", amount=Decimal("60000"))

    steps = list(request.steps.order_by("sequence"))
    assert [(s.role, s.scope_level, s.approver_group.name, s.status) for s in steps] == [
        ("buyer", "region", "Buyer", "pending"), ("approver", "region", "Approver", "waiting"),
        ("finance", "enterprise", "Finance", "waiting"),
    ]
    assert {s.requested_by_id for s in steps} == {buyer.pk}
    assert request.legal_entity == LegalEntity.objects.get(code="US01") and request.region.code == "NE"


def test_a_document_has_at_most_one_pending_request(recorder):
    buyer = make_user("twice.buyer", "buyer", enterprise=True)
    first = open_request(buyer, warehouse="NE-BOS")
    with pytest.raises(ApprovalAlreadyOpen):
        run_command(lambda: engine.approval_request_open(
            document_type=TEST_TYPE, document_id=first.document_id, title="again", actor=buyer,
            steps=[engine.StepSpec(role="approver")]), actor=buyer)


def test_an_unregistered_document_type_cannot_open_a_request(demo):
    buyer = make_user("unknown.buyer", "buyer", enterprise=True)
    with pytest.raises(UnknownDocumentType):
        open_request(buyer, document_type="nobody_registered_this")


# --- deciding ------------------------------------------------------------------------------------------


def test_steps_are_decided_in_order_and_the_last_approval_calls_the_document_back(usd_bands, recorder, user):
    requester = make_user("flow.requester", "buyer", enterprise=True)
    buyer2 = make_user("flow.buyer", "buyer", regions=("NE",))
    request = open_request(requester, warehouse="NE-BOS", amount=Decimal("60000"))
    first, second, third = request.steps.order_by("sequence")

    with pytest.raises(StepNotCurrent):
        engine.approval_step_decide(step=second, actor=user("approver"), approve=True)
    engine.approval_step_decide(step=first, actor=buyer2, approve=True, comment="ok")
    assert recorder.calls == []
    engine.approval_step_decide(step=second, actor=user("approver"), approve=True)
    with pytest.raises(ApprovalAlreadyDecided):
        engine.approval_step_decide(step=first, actor=buyer2, approve=True)
    result = engine.approval_step_decide(step=third, actor=user("finance"), approve=True)

    assert result.status == "approved" and result.decided_at is not None
    assert recorder.calls == [("approved", request.document_id, "finance")]
    decided = engine.approval_history(request)
    assert [(s.status, s.decided_by.username) for s in decided] == [
        ("approved", "flow.buyer"), ("approved", "approver"), ("approved", "finance")]
    assert decided[0].comment == "ok" and all(s.decided_at for s in decided)


def test_a_rejection_ends_the_request_skips_the_rest_and_calls_back(usd_bands, recorder, user):
    requester = make_user("reject.requester", "buyer", enterprise=True)
    request = open_request(requester, warehouse="NE-BOS", amount=Decimal("60000"))
    first = request.steps.get(sequence=1)

    result = engine.approval_step_decide(step=first, actor=user("buyer"), approve=False, comment="too dear")

    assert result.status == "rejected"
    assert list(request.steps.order_by("sequence").values_list("status", flat=True)) == [
        "rejected", "skipped", "skipped"]
    assert recorder.calls == [("rejected", request.document_id, "buyer")]


def test_the_requester_may_not_decide_even_holding_the_role(recorder, user):
    request = open_request(user("approver"), warehouse="NE-BOS")
    with pytest.raises(SelfApprovalForbidden) as refused:
        engine.approval_step_decide(step=request.steps.get(), actor=user("approver"), approve=True)
    assert refused.value.code == "self_approval_forbidden" and refused.value.status == 409
    assert request.steps.get().status == "pending"


def test_a_superuser_is_not_an_approver_by_being_superuser(recorder, user):
    request = open_request(user("buyer"), warehouse="NE-BOS")
    with pytest.raises(NotAnApprover) as refused:
        engine.approval_step_decide(step=request.steps.get(), actor=user("admin"), approve=True)
    assert refused.value.code == "not_an_approver" and refused.value.status == 403


@pytest.mark.parametrize(("level", "grants", "eligible"), [
    ("warehouse", {"warehouses": ("NE-BOS",)}, True),
    ("warehouse", {"warehouses": ("NE-NYC",)}, False),
    ("warehouse", {"regions": ("NE",)}, True),
    ("region", {"regions": ("NE",)}, True),
    ("region", {"warehouses": ("NE-BOS",)}, False),  # one warehouse of the region is not the region
    ("region", {"warehouses": ("NE-BOS", "NE-NYC")}, True),  # every warehouse of it is
    ("region", {"regions": ("EU",)}, False),
    ("enterprise", {"warehouses": ("EU-RTM",)}, True),
    ("enterprise", {}, True),
])
def test_a_group_member_decides_only_within_the_scope_level_of_the_step(recorder, user, level, grants, eligible):
    supervisor = make_user(f"sup.{level}", "warehouse_supervisor", **grants)
    request = open_request(user("buyer"), warehouse="NE-BOS",
                           steps=[engine.StepSpec(role="warehouse_supervisor", scope_level=level)])
    step = request.steps.get()

    assert engine.approval_can_decide(step=step, user=supervisor) is eligible
    assert (step in engine.approvals_waiting_for(supervisor)) is eligible
    if eligible:
        assert engine.approval_step_decide(step=step, actor=supervisor, approve=True).status == "approved"
    else:
        with pytest.raises(NotAnApprover):
            engine.approval_step_decide(step=step, actor=supervisor, approve=True)


def test_a_named_approver_user_decides_wherever_the_document_is(recorder, user):
    named = make_user("named.approver")  # no role, no scope
    request = open_request(user("buyer"), warehouse="EU-RTM",
                           steps=[engine.StepSpec(role="policy_owner", approver_user=named)])
    assert list(engine.approvals_waiting_for(named)) == [request.steps.get()]
    engine.approval_step_decide(step=request.steps.get(), actor=named, approve=True)
    assert ApprovalRequest.objects.get(pk=request.pk).status == "approved"


def test_an_approver_group_other_than_a_role_is_honoured(recorder, user):
    committee = Group.objects.create(name="Capex committee")
    member = make_user("committee.member")
    member.groups.add(committee)
    request = open_request(user("buyer"), region="SE",
                           steps=[engine.StepSpec(role="committee", approver_group=committee)])
    engine.approval_step_decide(step=request.steps.get(), actor=member, approve=True)
    assert ApprovalRequest.objects.get(pk=request.pk).status == "approved"


def test_cancelling_skips_the_open_steps_and_a_cancelled_request_cannot_be_decided(usd_bands, recorder, user):
    request = open_request(user("buyer"), warehouse="NE-BOS", amount=Decimal("60000"))
    run_command(lambda: engine.approval_request_cancel(request=request, actor=user("buyer"), reason="withdrawn"),
                actor=user("buyer"))

    assert ApprovalRequest.objects.get(pk=request.pk).status == "cancelled"
    assert set(request.steps.values_list("status", flat=True)) == {"skipped"}
    with pytest.raises(ApprovalAlreadyDecided):
        engine.approval_step_decide(step=request.steps.get(sequence=1), actor=user("approver"), approve=True)
    assert recorder.calls == []


def test_every_decision_is_in_the_audit_trail_with_its_actor(recorder, user):
    from governance.models import AuditEvent

    request = open_request(user("buyer"), warehouse="NE-BOS")
    step = request.steps.get()
    engine.approval_step_decide(step=step, actor=user("approver"), approve=True, comment="fine")

    event = AuditEvent.objects.filter(table_name="governance_approvalstep", row_id=str(step.pk),
                                      operation="UPDATE").latest("id")
    assert event.actor_id == user("approver").pk
    assert event.changes["status"] == ["pending", "approved"]


# --- what the database guarantees ------------------------------------------------------------------------


def test_the_database_refuses_a_step_decided_by_its_requester_even_by_a_bulk_update(recorder, user):
    request = open_request(user("buyer"), warehouse="NE-BOS")
    step = request.steps.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalStep.objects.filter(pk=step.pk).update(decided_by=user("buyer"), status="approved")
    assert ApprovalStep.objects.get(pk=step.pk).status == "pending"


def test_the_database_refuses_a_decision_on_behalf_of_the_requester(recorder, user):
    request = open_request(user("buyer"), warehouse="NE-BOS")
    step = request.steps.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalStep.objects.filter(pk=step.pk).update(decided_by=user("approver"), on_behalf_of=user("buyer"),
                                                       status="approved")


def test_a_decided_request_and_its_steps_are_frozen(recorder, user):
    request = open_request(user("buyer"), warehouse="NE-BOS")
    step = request.steps.get()
    engine.approval_step_decide(step=step, actor=user("approver"), approve=True)

    with pytest.raises(InternalError), transaction.atomic():
        ApprovalStep.objects.filter(pk=step.pk).update(comment="rewritten history")
    with pytest.raises(InternalError), transaction.atomic():
        ApprovalRequest.objects.filter(pk=request.pk).update(status="pending")
    with pytest.raises(InternalError), transaction.atomic():
        ApprovalRequest.objects.filter(pk=request.pk).delete()


# --- exchange rates and the default rules -------------------------------------------------------------------


def test_setting_a_rate_for_an_existing_day_corrects_it(demo):
    finance = make_user("rate.setter", "finance", enterprise=True)
    day = dt.date(2030, 1, 1)
    engine.exchange_rate_set(from_currency="GBP", to_currency="EUR", rate=Decimal("1.15"), effective_from=day,
                             actor=finance)
    engine.exchange_rate_set(from_currency="GBP", to_currency="EUR", rate=Decimal("1.16"), effective_from=day,
                             actor=finance)
    assert list(ExchangeRate.objects.filter(from_currency="GBP").values_list("rate", flat=True)) == [
        Decimal("1.16")]
    assert engine.exchange_rate_on("EUR", "GBP", day) == Decimal(1) / Decimal("1.16")


@pytest.mark.parametrize("bad", [
    {"from_currency": "eur"}, {"to_currency": "EURO"}, {"to_currency": "USD", "from_currency": "USD"},
    {"rate": Decimal(0)}, {"rate": Decimal("-1")}, {"rate": Decimal("NaN")}, {"rate": Decimal("0.000000001")},
])
def test_a_bad_rate_is_refused_and_nothing_written(demo, bad):
    before = ExchangeRate.objects.count()
    with pytest.raises(ValidationFailed):
        engine.exchange_rate_set(**{"from_currency": "USD", "to_currency": "EUR", "rate": Decimal("0.9"),
                                    "effective_from": dt.date(2030, 1, 1), "actor": None, **bad})
    assert ExchangeRate.objects.count() == before


def test_the_default_rules_follow_the_purchase_order_matrix_and_seeding_twice_adds_nothing(demo):
    assert engine.approval_rules_seed(actor=None) == 0  # the demo load already seeded them
    po = ApprovalRule.objects.filter(document_type="purchase_order").order_by("min_amount")
    bands = [(r.min_amount, r.max_amount, [(s.role, s.scope_level) for s in r.steps.order_by("sequence")])
             for r in po]
    assert sorted(bands, key=lambda b: b[0] or 0) == [
        (None, Decimal("5000.00"), [("buyer", "region")]),
        (Decimal("5000.00"), Decimal("50000.00"), [("buyer", "region"), ("approver", "region")]),
        (Decimal("50000.00"), None, [("buyer", "region"), ("approver", "region"), ("finance", "enterprise")]),
    ]
    assert {"transfer", "count_variance", "master_data_change"} <= set(
        ApprovalRule.objects.values_list("document_type", flat=True))
    assert ExchangeRate.objects.filter(from_currency="EUR", to_currency="USD",
                                       effective_from=dt.date(2026, 1, 1)).exists()
    assert ExchangeRate.objects.filter(from_currency="USD", to_currency="EUR",
                                       effective_from=dt.date(2026, 1, 1)).exists()


def test_a_seeded_purchase_order_rule_judges_a_usd_order_in_euros(demo, user, monkeypatch):
    monkeypatch.setitem(engine._REGISTRY, "purchase_order", engine.Approvable(
        "purchase_order", "Purchase order", lambda i, u: None, lambda i, u: None))

    request = run_command(lambda: engine.approval_request_open(
        document_type="purchase_order", document_id=1, title="PO 1", actor=user("buyer"),
        amount=Decimal("47000"), currency="USD", warehouse=Warehouse.objects.get(code="EU-RTM"),
    ), actor=user("buyer"))
    # 47,000 USD is about 43,500 EUR: below 50,000 in EU01's currency, so buyer then approver.
    assert request.base_amount < Decimal("50000") and request.currency == "USD"
    assert [s.role for s in request.steps.order_by("sequence")] == ["buyer", "approver"]
