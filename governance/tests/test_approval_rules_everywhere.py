"""One approval engine, driven by its rules for every document type (issue 14, point 3).

Stock adjustments and cycle counts beyond tolerance take their steps from the engine's rules (seeded to
reproduce the steps they had), so an administrator's edit of a rule changes whom the next one waits for, and
with no active rule they are refused and nothing is written. A region deviation of
``procurement.approval_matrix`` becomes region rules for purchase orders while it is in effect. Limits are
compared in the legal entity's currency, at the rate of the day.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from erp.exceptions import DomainError
from erp.transactions import run_command
from governance.exceptions import MissingExchangeRate, NoApprovalRule
from governance.models import ApprovalRequest, ApprovalRule, PolicyDeviation
from governance.services import approvals as engine
from governance.services.deviations import deviation_approve, deviation_request, deviation_withdraw
from inventory import services as inventory
from inventory.models import CycleCount, CycleCountStatus, StockAdjustment, StockBalance, StockMove
from inventory.services.counts import (
    CYCLE_COUNT_DOCUMENT_TYPE,
    CountEntry,
    CountPair,
    cycle_count_create,
    cycle_count_submit,
)
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from warehouses.models import Warehouse

D = Decimal
_order_ids = itertools.count(950_000_001)


@pytest.fixture
def stock(demo: Any) -> None:
    ensure_standard_statuses()


@pytest.fixture
def purchase_orders(monkeypatch: Any) -> None:
    """The ``purchase_order`` document type, whatever procurement registers: these tests open requests only."""
    monkeypatch.setitem(engine._REGISTRY, "purchase_order", engine.Approvable(
        "purchase_order", "Purchase order", lambda i, u: None, lambda i, u: None))


def _steps(request: ApprovalRequest) -> list[tuple[str, str]]:
    return list(request.steps.order_by("sequence").values_list("role", "scope_level"))


def _rule_steps_set(rule: ApprovalRule, steps: list[tuple[str, str]]) -> ApprovalRule:
    return engine.approval_rule_save(
        actor=None, rule=rule, document_type=rule.document_type, name=rule.name, min_amount=rule.min_amount,
        max_amount=rule.max_amount, category=rule.category, region=rule.region, priority=rule.priority,
        active=True, steps=steps)


def _deactivate_all(document_type: str) -> None:
    for rule in ApprovalRule.objects.filter(document_type=document_type, active=True):
        engine.approval_rule_save(
            actor=None, rule=rule, document_type=rule.document_type, name=rule.name, min_amount=rule.min_amount,
            max_amount=rule.max_amount, category=rule.category, region=rule.region, priority=rule.priority,
            active=False, steps=[(s.role, s.scope_level) for s in rule.steps.order_by("sequence")])


def test_the_engine_seeds_rules_under_the_document_type_codes_inventory_uses():
    assert engine.STOCK_ADJUSTMENT == inventory.ADJUSTMENT_DOCUMENT_TYPE
    assert engine.CYCLE_COUNT == CYCLE_COUNT_DOCUMENT_TYPE


# --- stock adjustments ------------------------------------------------------------------------------------


@pytest.fixture
def thousand(stock: Any) -> Any:
    """1000 EA of a stock-free twin at NE-BOS A-01-01, at 1.00 each: 2 % is 20 units, the value limit 250."""
    twin = item("CLN-0001")
    inventory.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                            quantity=D(1000), uom="EA", unit_cost=D(1), reference="test", actor=None)
    return twin


def _adjust(twin: Any, actor: Any, quantity: str = "-100") -> StockAdjustment:
    return inventory.stock_adjustment_create(
        warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin, quantity=D(quantity),
        uom="EA", reason="LOST", actor=actor)


@pytest.mark.django_db
def test_an_adjustment_beyond_tolerance_follows_the_seeded_rule_and_then_its_edited_steps(thousand, user):
    seeded = ApprovalRule.objects.get(document_type="stock_adjustment", name="Stock adjustments beyond tolerance")
    first = _adjust(thousand, user("ne.operator"))
    request = ApprovalRequest.objects.get(pk=first.approval_request_id)
    # The steps it had before rules drove it: an approver of the warehouse's region.
    assert request.rule_id == seeded.pk and _steps(request) == [("approver", "region")]

    _rule_steps_set(seeded, [("warehouse_supervisor", "warehouse"), ("finance", "enterprise")])
    second = _adjust(thousand, user("ne.operator"))
    request = ApprovalRequest.objects.get(pk=second.approval_request_id)
    assert request.rule_id == seeded.pk
    assert _steps(request) == [("warehouse_supervisor", "warehouse"), ("finance", "enterprise")]
    # The request opened before the edit keeps the steps it copied.
    assert _steps(ApprovalRequest.objects.get(pk=first.approval_request_id)) == [("approver", "region")]


@pytest.mark.django_db
def test_an_adjustment_with_no_active_rule_is_refused_over_the_api_and_nothing_is_written(thousand, user, api_as):
    from django.contrib.auth.models import Permission

    operator = user("ne.operator")
    operator.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="inventory", codename__in=["add_stockadjustment", "view_stockadjustment"]))
    _deactivate_all("stock_adjustment")
    before = (StockAdjustment.objects.count(), ApprovalRequest.objects.count(), StockMove.objects.count())

    with pytest.raises(NoApprovalRule) as raised:
        _adjust(thousand, operator)
    assert raised.value.status == 409 and raised.value.detail["document_type"] == "stock_adjustment"

    response = api_as("ne.operator").post(reverse("api:stock-adjustment-list"), {
        "warehouse": "NE-BOS", "location": "A-01-01", "sku": thousand.sku, "quantity": "-100", "uom": "EA",
        "reason": "LOST"}, format="json")
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "no_approval_rule" and response.json()["message"]
    assert (StockAdjustment.objects.count(), ApprovalRequest.objects.count(), StockMove.objects.count()) == before
    # Within tolerance nothing needs a rule: it still posts.
    assert _adjust(thousand, operator, "-5").status == "posted"


# --- cycle counts -----------------------------------------------------------------------------------------


@pytest.fixture
def hundred_in_atlanta(stock: Any) -> Any:
    """100 EA of a stock-free twin at SE-ATL A-01-01 at 1.00 (SE has no region rule for counts)."""
    twin = item("CLN-0001")
    inventory.stock_receive(warehouse=warehouse("SE-ATL"), location=location("SE-ATL", "A-01-01"), item=twin,
                            quantity=D(100), uom="EA", unit_cost=D(1), reference="test", actor=None)
    return twin


def _count(twin: Any, actor: Any, counted: int) -> CycleCount:
    here = location("SE-ATL", "A-01-01")
    count = cycle_count_create(warehouse=warehouse("SE-ATL"), pairs=[CountPair(location=here, item=twin)],
                               actor=actor)
    return cycle_count_submit(count=count, actor=actor,
                              entries=[CountEntry(location=here, item=twin, quantity=D(counted), uom="EA")])


@pytest.mark.django_db
def test_a_count_beyond_tolerance_follows_the_seeded_rule_and_then_its_edited_steps(hundred_in_atlanta, user):
    operator = user("se.operator")
    seeded = ApprovalRule.objects.get(document_type="cycle_count", name="Cycle counts beyond tolerance")
    first = _count(hundred_in_atlanta, operator, 90)
    request = ApprovalRequest.objects.get(pk=first.approval_request_id)
    assert first.status == CycleCountStatus.PENDING_APPROVAL
    assert request.rule_id == seeded.pk and _steps(request) == [("approver", "region")]

    _rule_steps_set(seeded, [("warehouse_supervisor", "warehouse"), ("planner", "enterprise")])
    approved_first = engine.approval_request_decide(request=request, actor=user("approver"), approve=True)
    assert approved_first.status == "approved"
    second = _count(hundred_in_atlanta, operator, 80)  # 90 on hand now: 10 short is beyond 2 %
    request = ApprovalRequest.objects.get(pk=second.approval_request_id)
    assert request.rule_id == seeded.pk
    assert _steps(request) == [("warehouse_supervisor", "warehouse"), ("planner", "enterprise")]


@pytest.mark.django_db
def test_a_count_with_no_active_rule_is_refused_and_stays_open_with_nothing_posted(hundred_in_atlanta, user):
    operator = user("se.operator")
    _deactivate_all("cycle_count")
    here = location("SE-ATL", "A-01-01")
    count = cycle_count_create(warehouse=warehouse("SE-ATL"), pairs=[CountPair(location=here, item=hundred_in_atlanta)],
                               actor=operator)
    requests_before = ApprovalRequest.objects.count()
    with pytest.raises(NoApprovalRule) as raised:
        cycle_count_submit(count=count, actor=operator,
                           entries=[CountEntry(location=here, item=hundred_in_atlanta, quantity=D(90), uom="EA")])
    assert raised.value.code == "no_approval_rule" and raised.value.detail["document_type"] == "cycle_count"
    count.refresh_from_db()
    assert count.status == CycleCountStatus.OPEN and count.approval_request_id is None
    assert count.lines.get().counted_quantity is None  # the entries given with the submission are undone too
    assert ApprovalRequest.objects.count() == requests_before
    assert StockBalance.objects.get(item=hundred_in_atlanta, location=here, status__code="available").on_hand == D(100)


# --- purchase orders: the matrix by region ----------------------------------------------------------------


NE_MATRIX = [{"up_to": "1000.00", "steps": ["buyer"]}, {"up_to": None, "steps": ["buyer", "finance"]}]


def _ne_matrix_deviation(user: Any, *, start: int = 0, end: int = 30) -> PolicyDeviation:
    today = timezone.now().astimezone(dt.UTC).date()  # a region deviation's calendar
    deviation = deviation_request(
        policy_key=engine.PURCHASE_ORDER_MATRIX, scope_type="region", scope_code="NE", value=NE_MATRIX,
        rationale="NE buys small lots often; finance watches everything above 1,000.",
        effective_from=today + dt.timedelta(days=start), effective_to=today + dt.timedelta(days=end),
        actor=user("planner"))
    return deviation_approve(deviation=deviation, actor=user("owner"))


def _open_order(user: Any, warehouse_code: str, amount: str) -> ApprovalRequest:
    site = Warehouse.objects.select_related("legal_entity", "region").get(code=warehouse_code)
    return run_command(lambda: engine.approval_request_open(
        document_type="purchase_order", document_id=next(_order_ids), title="PO", actor=user("buyer"),
        amount=D(amount), currency=site.legal_entity.currency, warehouse=site, category="Cleaning"),
        actor=user("buyer"))


def _region_rules(code: str) -> dict[str, list[tuple[str, str]]]:
    return {rule.name: [(s.role, s.scope_level) for s in rule.steps.order_by("sequence")]
            for rule in ApprovalRule.objects.filter(document_type="purchase_order", region__code=code, active=True)}


@pytest.mark.django_db
def test_an_approved_region_deviation_of_the_matrix_routes_that_regions_orders_by_its_own_bands(
        purchase_orders, user):
    assert _region_rules("NE") == {}
    deviation = _ne_matrix_deviation(user)
    assert deviation.status == "approved"
    assert _region_rules("NE") == {
        "Purchase orders (NE) below 1,000.00": [("buyer", "region")],
        "Purchase orders (NE) from 1,000.00": [("buyer", "region"), ("finance", "enterprise")],
    }
    ne_order, se_order = _open_order(user, "NE-BOS", "3000"), _open_order(user, "SE-ATL", "3000")
    assert ne_order.rule.region.code == "NE" and _steps(ne_order) == [("buyer", "region"), ("finance", "enterprise")]
    assert se_order.rule.region is None and _steps(se_order) == [("buyer", "region")]  # the standard: below 5,000
    assert run_command(engine.purchase_order_rules_sync) == 0  # already in line: nothing changes

    deviation_withdraw(deviation=deviation, actor=user("planner"))
    assert _region_rules("NE") == {}
    retired = ApprovalRule.objects.filter(document_type="purchase_order", region__code="NE")
    assert retired.count() == 2 and not retired.filter(active=True).exists()  # kept: requests refer to them
    assert _steps(_open_order(user, "NE-BOS", "3000")) == [("buyer", "region")]


@pytest.mark.django_db
def test_a_region_matrix_takes_effect_on_its_first_day_and_ends_after_its_last(purchase_orders, user):
    today = timezone.now().astimezone(dt.UTC).date()
    deviation = _ne_matrix_deviation(user, start=1, end=3)
    assert deviation.status == "approved" and _region_rules("NE") == {}  # not yet in effect
    assert run_command(lambda: engine.purchase_order_rules_sync(today=today + dt.timedelta(days=1))) == 2
    assert set(_region_rules("NE")) == {"Purchase orders (NE) below 1,000.00", "Purchase orders (NE) from 1,000.00"}
    assert run_command(lambda: engine.purchase_order_rules_sync(today=today + dt.timedelta(days=3))) == 0
    assert run_command(lambda: engine.purchase_order_rules_sync(today=today + dt.timedelta(days=4))) == 2
    assert _region_rules("NE") == {}


@pytest.mark.django_db
def test_an_edited_region_rule_is_put_back_in_line_with_the_deviation(purchase_orders, user):
    _ne_matrix_deviation(user)
    rule = ApprovalRule.objects.get(document_type="purchase_order", name="Purchase orders (NE) from 1,000.00")
    _rule_steps_set(rule, [("approver", "region")])
    assert run_command(engine.purchase_order_rules_sync) == 1
    assert _region_rules("NE")["Purchase orders (NE) from 1,000.00"] == [("buyer", "region"), ("finance", "enterprise")]


# --- currencies -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_usd_amount_for_a_eur_entity_is_routed_by_its_euros_at_the_rate_of_the_day(purchase_orders, user):
    site = Warehouse.objects.select_related("legal_entity").get(code="EU-RTM")
    assert site.legal_entity.currency == "EUR"
    today = timezone.localdate()

    def order(amount: str) -> ApprovalRequest:
        return run_command(lambda: engine.approval_request_open(
            document_type="purchase_order", document_id=next(_order_ids), title="PO", actor=user("buyer"),
            amount=D(amount), currency="USD", warehouse=site), actor=user("buyer"))

    usd_eur = engine.exchange_rate_on("USD", "EUR", today)
    before = order("45000")
    assert before.base_amount == (D(45000) * usd_eur).quantize(D("0.01")) < D(50000)
    assert _steps(before) == [("buyer", "region"), ("approver", "region")]

    # From today 1 USD buys 1.20 EUR (45,000 USD is 54,000 EUR, above the 50,000 EUR band); tomorrow's rate is
    # not today's.
    engine.exchange_rate_set(from_currency="USD", to_currency="EUR", rate=D("1.2"), effective_from=today, actor=None)
    engine.exchange_rate_set(from_currency="USD", to_currency="EUR", rate=D("0.5"),
                             effective_from=today + dt.timedelta(days=1), actor=None)
    after = order("45000")
    assert (after.amount, after.currency, after.base_amount) == (D("45000.00"), "USD", D("54000.00"))
    assert _steps(after) == [("buyer", "region"), ("approver", "region"), ("finance", "enterprise")]


@pytest.mark.django_db
def test_an_amount_in_a_currency_without_a_rate_is_a_clear_conflict_and_opens_nothing(purchase_orders, user):
    site = Warehouse.objects.select_related("legal_entity").get(code="EU-RTM")
    document_id = next(_order_ids)
    with pytest.raises(MissingExchangeRate) as raised:
        run_command(lambda: engine.approval_request_open(
            document_type="purchase_order", document_id=document_id, title="PO", actor=user("buyer"),
            amount=D("100"), currency="GBP", warehouse=site), actor=user("buyer"))
    assert isinstance(raised.value, DomainError) and raised.value.status == 409
    assert raised.value.code == "missing_exchange_rate"
    assert raised.value.detail == {"from_currency": "GBP", "to_currency": "EUR",
                                   "on": timezone.localdate().isoformat()}
    assert not ApprovalRequest.objects.filter(document_type="purchase_order", document_id=document_id).exists()
