"""Cycle counts: blind counting, variance per line, tolerance, approval, recount, the plan and accuracy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from governance.exceptions import NotAnApprover
from governance.models import ApprovalRequest, ApprovalStatus
from governance.services.approvals import approval_request_decide
from inventory import rules, selectors, services
from inventory.exceptions import CountIncomplete, InvalidCountTransition, LotRequired
from inventory.models import (
    CycleCount,
    CycleCountLine,
    CycleCountLineState,
    CycleCountOrigin,
    CycleCountStatus,
    ItemAbcClass,
    StockBalance,
    StockMove,
)
from inventory.services.counts import (
    CountEntry,
    CountPair,
    cycle_count_create,
    cycle_count_plan,
    cycle_count_record,
    cycle_count_recount,
    cycle_count_submit,
)
from inventory.tests.factories import item, location, warehouse

D = Decimal


# --- pure rules -------------------------------------------------------------------------------------------


def test_abc_classes_cut_the_ranked_value_at_80_and_95_percent():
    values = {1: D(700), 2: D(150), 3: D(100), 4: D(30), 5: D(20), 6: D(0)}
    assert rules.abc_classes(values) == {1: "A", 2: "A", 3: "B", 4: "C", 5: "C", 6: "C"}


def test_one_dominant_item_is_a_and_no_value_at_all_is_c():
    assert rules.abc_classes({1: D(990), 2: D(10)}) == {1: "A", 2: "C"}
    assert rules.abc_classes({1: D(0), 2: D(-5)}) == {1: "C", 2: "C"}


def test_the_daily_quota_spreads_a_class_over_its_frequency():
    assert rules.daily_quota(100, 30) == 4
    assert rules.daily_quota(30, 30) == 1
    assert rules.daily_quota(0, 30) == 0
    assert rules.daily_quota(5, 1) == 5


def test_the_plan_takes_the_longest_uncounted_due_pairs_first_and_skips_busy_ones():
    on = dt.date(2026, 11, 25)
    pairs = [
        rules.PlanPair(1, 10, ("A-02", "X"), on - dt.timedelta(days=40), False),  # due, counted 40 days ago
        rules.PlanPair(2, 10, ("A-01", "X"), None, False),  # never counted: first
        rules.PlanPair(3, 10, ("A-03", "X"), on - dt.timedelta(days=5), False),  # not due
        rules.PlanPair(4, 10, ("A-00", "X"), None, True),  # held by an open count
    ]
    chosen = rules.plan_pairs(pairs, classes={10: "A"}, frequency_days={"A": 2, "B": 90, "C": 180}, on=on)
    assert [p.location_id for p in chosen] == [2, 1]


def test_accuracy_is_a_percentage_of_pairs_or_none_without_counts():
    assert rules.accuracy_percent(9, 12) == D("75.00")
    assert rules.accuracy_percent(0, 0) is None


def test_the_count_lifecycle_is_data():
    assert rules.cycle_count_may_move("open", "pending_approval")
    assert rules.cycle_count_may_move("pending_approval", "recounted")
    assert not rules.cycle_count_may_move("posted", "open")
    assert not rules.cycle_count_may_move("cancelled", "posted")


# --- the services on the demo network ---------------------------------------------------------------------


@pytest.fixture
def hundred(stock: Any) -> Any:
    """100 EA of a stock-free twin at NE-BOS A-01-01 at 1.00: 2 % is 2 units, the value limit 250."""
    twin = item("CLN-0001")
    services.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                           quantity=D(100), uom="EA", unit_cost=D(1), reference="test", actor=None)
    return twin


def _count(twin: Any, actor: Any = None) -> CycleCount:
    return cycle_count_create(warehouse=warehouse("NE-BOS"),
                              pairs=[CountPair(location=location("NE-BOS", "A-01-01"), item=twin)], actor=actor)


def _entry(twin: Any, quantity: str) -> CountEntry:
    return CountEntry(location=location("NE-BOS", "A-01-01"), item=twin, quantity=D(quantity), uom="EA")


def _on_hand(twin: Any) -> Decimal:
    return sum(StockBalance.objects.filter(item=twin, warehouse__code="NE-BOS").values_list("on_hand", flat=True),
               D(0))


@pytest.mark.django_db
def test_a_count_within_tolerance_posts_its_variance_at_once(hundred, user):
    operator = user("ne.operator")
    count = _count(hundred, operator)
    (line,) = cycle_count_record(count=count, entries=[_entry(hundred, "99")], actor=operator)
    assert line.expected_quantity == D(100) and line.state == CycleCountLineState.COUNTED
    done = cycle_count_submit(count=count, actor=operator)
    assert done.status == CycleCountStatus.POSTED and done.closed_at is not None
    line = CycleCountLine.objects.get(count=count)
    assert line.variance == D(-1) and line.within_tolerance is True and line.state == CycleCountLineState.POSTED
    assert line.move.reference == count.number and line.move.reason.code == "COUNT"
    assert _on_hand(hundred) == D(99)


@pytest.mark.django_db
def test_a_count_beyond_tolerance_waits_for_the_ne_supervisor_and_then_posts(hundred, user):
    operator = user("ne.operator")
    count = _count(hundred, operator)
    done = cycle_count_submit(count=count, actor=operator, entries=[_entry(hundred, "90")])
    assert done.status == CycleCountStatus.PENDING_APPROVAL and _on_hand(hundred) == D(100)
    request = ApprovalRequest.objects.get(pk=done.approval_request_id)
    assert request.document_type == "cycle_count" and request.amount == D("10.00")
    # Within the NE supervisor's authority (below 1,000): the demo's approval rule routes it to them, not an approver.
    assert request.rule is not None and list(request.steps.values_list("role", flat=True)) == ["warehouse_supervisor"]
    with pytest.raises(NotAnApprover):
        approval_request_decide(request=request, actor=user("approver"), approve=True)
    approval_request_decide(request=request, actor=user("ne.supervisor"), approve=True)
    count.refresh_from_db()
    assert count.status == CycleCountStatus.POSTED and _on_hand(hundred) == D(90)
    line = CycleCountLine.objects.get(count=count)
    assert line.state == CycleCountLineState.POSTED and line.move.actor.username == "ne.supervisor"


@pytest.mark.django_db
def test_a_rejected_count_moves_nothing_beyond_tolerance(hundred, user):
    operator = user("ne.operator")
    count = cycle_count_submit(count=_count(hundred, operator), actor=operator, entries=[_entry(hundred, "150")])
    approval_request_decide(request=count.approval_request, actor=user("ne.supervisor"), approve=False)
    count.refresh_from_db()
    assert count.status == CycleCountStatus.REJECTED and _on_hand(hundred) == D(100)
    assert CycleCountLine.objects.get(count=count).state == CycleCountLineState.REJECTED


@pytest.mark.django_db
def test_a_recount_cancels_the_approval_and_opens_a_blind_count_of_the_lines_beyond_tolerance(hundred, user):
    operator = user("ne.operator")
    count = cycle_count_submit(count=_count(hundred, operator), actor=operator, entries=[_entry(hundred, "80")])
    with pytest.raises(NotAnApprover):
        cycle_count_recount(count=count, actor=operator)
    recount = cycle_count_recount(count=count, actor=user("ne.supervisor"), comment="Check behind the pallet")
    count.refresh_from_db()
    assert count.status == CycleCountStatus.RECOUNTED
    assert ApprovalRequest.objects.get(pk=count.approval_request_id).status == ApprovalStatus.CANCELLED
    assert recount.origin == CycleCountOrigin.RECOUNT and recount.recount_of_id == count.pk
    (line,) = CycleCountLine.objects.filter(count=recount)
    assert line.state == CycleCountLineState.PENDING and line.expected_quantity is None
    done = cycle_count_submit(count=recount, actor=operator, entries=[_entry(hundred, "100")])
    assert done.status == CycleCountStatus.POSTED and _on_hand(hundred) == D(100)


@pytest.mark.django_db
def test_a_count_with_uncounted_lines_cannot_be_submitted_and_a_closed_one_cannot_be_counted(hundred, user):
    count = _count(hundred)
    with pytest.raises(CountIncomplete) as error:
        cycle_count_submit(count=count, actor=None)
    assert error.value.detail["lines"][0]["sku"] == hundred.sku
    cycle_count_submit(count=count, actor=None, entries=[_entry(hundred, "100")])
    with pytest.raises(InvalidCountTransition):
        cycle_count_record(count=count, entries=[_entry(hundred, "1")], actor=None)


@pytest.mark.django_db
def test_stock_found_where_none_was_expected_is_a_new_line(hundred, user):
    count = _count(hundred)
    other = location("NE-BOS", "A-01-02")
    lines = cycle_count_record(count=count, actor=None, entries=[
        _entry(hundred, "100"), CountEntry(location=other, item=hundred, quantity=D(1), uom="EA")])
    assert sorted(line.line_no for line in lines) == [1, 2]
    found = CycleCountLine.objects.get(count=count, location=other)
    assert found.expected_quantity == D(0)


@pytest.mark.django_db
def test_a_lot_tracked_item_needs_its_lot_on_the_count(stock):
    twin = item("BEV-0001")
    with pytest.raises(LotRequired):
        _count(twin)


@pytest.mark.django_db
def test_the_plan_classifies_items_and_makes_one_count_per_warehouse_and_day(stock):
    bos = warehouse("NE-BOS")
    on = timezone.localdate()
    count = cycle_count_plan(warehouse=bos, on=on)
    assert count is not None and count.origin == CycleCountOrigin.PLAN and count.planned_for == on
    assert cycle_count_plan(warehouse=bos, on=on).pk == count.pk
    classes = set(ItemAbcClass.objects.filter(warehouse=bos).values_list("abc_class", flat=True))
    assert classes == {"A", "B", "C"}
    lines = list(CycleCountLine.objects.filter(count=count))
    assert lines and all(line.abc_class in "ABC" and line.abc_class for line in lines)
    # A second day does not take the pairs held by the first day's open count.
    tomorrow = cycle_count_plan(warehouse=bos, on=on + dt.timedelta(days=1))
    if tomorrow is not None:
        first = {(line.location_id, line.item_id) for line in lines}
        second = {(line.location_id, line.item_id) for line in CycleCountLine.objects.filter(count=tomorrow)}
        assert not first & second


@pytest.mark.django_db
def test_accuracy_counts_pairs_within_tolerance_over_pairs_counted(hundred, user):
    operator = user("ne.operator")
    cycle_count_submit(count=_count(hundred, operator), actor=operator, entries=[_entry(hundred, "100")])
    cycle_count_submit(count=_count(hundred, operator), actor=operator, entries=[_entry(hundred, "50")])
    today = timezone.localdate()
    (row,) = selectors.inventory_accuracy(user=operator, since=today - dt.timedelta(days=1), until=today,
                                          warehouse="NE-BOS")
    assert (row.pairs_counted, row.pairs_within_tolerance, row.accuracy_percent) == (2, 1, D("50.00"))


@pytest.mark.django_db
def test_the_ledger_rows_of_a_count_match_its_posted_lines(hundred):
    count = cycle_count_submit(count=_count(hundred), actor=None, entries=[_entry(hundred, "101")])
    moves = StockMove.objects.filter(reference_type="cycle_count", reference_id=str(count.pk))
    assert list(moves.values_list("quantity", flat=True)) == [D(1)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM inventory_cyclecountline WHERE variance <> counted_quantity - "
                       "expected_quantity")
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_beat_plans_every_active_warehouse_once_per_local_day(stock):
    from django.conf import settings

    from erp.celery import app
    from inventory.tasks import cycle_counts_plan
    from warehouses.models import Warehouse

    app.loader.import_default_modules()
    assert "inventory.cycle_counts_plan" in app.tasks
    assert any(entry["task"] == "inventory.cycle_counts_plan" for entry in settings.CELERY_BEAT_SCHEDULE.values())
    planned = cycle_counts_plan()
    counts = CycleCount.objects.filter(origin=CycleCountOrigin.PLAN).count()
    assert planned == Warehouse.objects.filter(active=True).count()  # the demo holds stock everywhere
    assert cycle_counts_plan() == planned
    assert CycleCount.objects.filter(origin=CycleCountOrigin.PLAN).count() == counts


@pytest.mark.django_db
def test_the_plan_command_prints_each_warehouses_count(stock):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("plan_cycle_counts", "--warehouse", "NE-BOS", stdout=out)
    number = CycleCount.objects.get(warehouse__code="NE-BOS", origin=CycleCountOrigin.PLAN,
                                    planned_for=timezone.localdate(timezone=ZoneInfo("America/New_York"))).number
    assert "NE-BOS" in out.getvalue() and number in out.getvalue()


@pytest.mark.django_db
def test_a_count_beyond_tolerance_needs_a_person_to_submit_it_and_nothing_moves_without_one(hundred):
    from erp.exceptions import ValidationFailed

    count = _count(hundred)
    moves = StockMove.objects.count()
    with pytest.raises(ValidationFailed):
        cycle_count_submit(count=count, actor=None, entries=[_entry(hundred, "50")])
    count.refresh_from_db()
    assert count.status == CycleCountStatus.OPEN and StockMove.objects.count() == moves
    assert CycleCountLine.objects.get(count=count).state == CycleCountLineState.PENDING


@pytest.mark.django_db
def test_the_original_count_stays_blind_while_its_recount_is_open(hundred, user, api_as):
    from django.urls import reverse

    operator = user("ne.operator")
    count = cycle_count_submit(count=_count(hundred, operator), actor=operator, entries=[_entry(hundred, "80")])
    assert not selectors.count_is_blind(count)
    recount = cycle_count_recount(count=count, actor=user("ne.supervisor"))
    count.refresh_from_db()
    assert selectors.count_is_blind(count) and selectors.count_is_blind(recount)
    lines = api_as("ne.operator").get(reverse("api:cycle-count-detail", args=[count.pk])).json()["lines"]
    assert lines[0]["counted_quantity"] == "80.0000" and lines[0]["expected_quantity"] is None
    import re

    from django.test import Client

    screen = Client()
    screen.force_login(operator)
    html = screen.get(reverse("inventory:cycle-count-detail", args=[count.pk])).content.decode()
    expected_cells = re.findall(r'data-field="expected">(.*?)</td>', html)
    assert expected_cells and all("100" not in cell for cell in expected_cells)
    cycle_count_submit(count=recount, actor=operator, entries=[_entry(hundred, "100")])
    assert not selectors.count_is_blind(count)
    lines = api_as("ne.operator").get(reverse("api:cycle-count-detail", args=[count.pk])).json()["lines"]
    assert lines[0]["expected_quantity"] == "100.0000" and lines[0]["variance"] == "-20.0000"
