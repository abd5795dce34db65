"""Cycle counts under concurrency: real threads, each on its own PostgreSQL connection, committed data.

Every race ends with ``check_inventory_invariants``. A losing thread must get a domain refusal (409);
a deadlock or serialization failure surfacing, or any other exception, fails the test.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from erp import services as platform
from governance.exceptions import ApprovalAlreadyDecided
from governance.models import ApprovalRequest, ApprovalStatus
from governance.services.approvals import approval_request_decide
from inventory import services
from inventory.exceptions import InsufficientStock, InvalidCountTransition
from inventory.models import (
    CycleCount,
    CycleCountLine,
    CycleCountOrigin,
    CycleCountStatus,
    StockBalance,
    StockMove,
)
from inventory.services.counts import (
    CountEntry,
    CountPair,
    cycle_count_cancel,
    cycle_count_create,
    cycle_count_plan,
    cycle_count_recount,
    cycle_count_submit,
)
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from tests.races import race as _race
from warehouses.models import Region

D = Decimal

pytestmark = pytest.mark.django_db(transaction=True)




def _invariants_hold() -> None:
    out = StringIO()
    call_command("check_inventory_invariants", stdout=out, stderr=out)
    assert "hold" in out.getvalue()


def _stocked(sku: str, spots: list[str], quantity: int = 100) -> Any:
    """A stock-free twin of ``sku`` with ``quantity`` EA at 1.00 in each NE-BOS bin of ``spots``."""
    ensure_standard_statuses()
    twin = item(sku)
    for spot in spots:
        services.stock_receive(warehouse=warehouse(), location=location("NE-BOS", spot), item=twin,
                               quantity=D(quantity), uom="EA", unit_cost=D(1), reference="race", actor=None)
    return twin


def _count_moves(count: CycleCount) -> list[tuple[int, Decimal]]:
    return sorted(StockMove.objects.filter(reference_type="cycle_count", reference_id=str(count.pk))
                  .values_list("location_id", "quantity"))


def _approvers(n: int) -> list[Any]:
    """``n`` deciders of NE's count variances below 1,000: the demo's ``ne.supervisor`` and more like them."""
    made = []
    for number in range(1, n):
        approver = platform.user_upsert(username=f"ne.supervisor.{number}", actor=None,
                                        roles=["warehouse_supervisor"])
        platform.scope_grant(user=approver, actor=None, regions=[Region.objects.get(code="NE")])
        made.append(approver)
    return [get_user_model().objects.get(username="ne.supervisor"), *made]


def test_eight_threads_submitting_one_count_post_its_variances_once(user):
    twin = _stocked("CLN-0001", ["A-01-01", "A-01-02", "A-01-03"])
    spots = [location("NE-BOS", code) for code in ("A-01-01", "A-01-02", "A-01-03")]
    operator = user("ne.operator")
    count = cycle_count_create(warehouse=warehouse(), pairs=[CountPair(location=s, item=twin) for s in spots],
                               actor=operator)
    # Within tolerance (-1, +1: 2 % of 100 is 2) and beyond it (-20): two lines post, one waits for approval.
    entries = [CountEntry(location=spot, item=twin, quantity=D(found), uom="EA")
               for spot, found in zip(spots, ("99", "101", "80"), strict=True)]

    outcomes = _race(*[lambda: cycle_count_submit(count=count, entries=entries, actor=operator)] * 8)

    won = [o for o in outcomes if isinstance(o, CycleCount)]
    refused = [o for o in outcomes if isinstance(o, InvalidCountTransition)]
    assert len(won) == 1 and len(refused) == 7, outcomes
    assert all(exc.status == 409 for exc in refused)
    count.refresh_from_db()
    assert count.status == CycleCountStatus.PENDING_APPROVAL
    assert _count_moves(count) == sorted([(spots[0].pk, D(-1)), (spots[1].pk, D(1))])
    assert ApprovalRequest.objects.filter(document_type="cycle_count", document_id=count.pk).count() == 1
    on_hand = dict(StockBalance.objects.filter(item=twin).values_list("location_id", "on_hand"))
    assert on_hand == {spots[0].pk: D(99), spots[1].pk: D(101), spots[2].pk: D(100)}
    _invariants_hold()


def test_approving_rejecting_and_recounting_one_count_at_once_lets_exactly_one_decision_win(user):
    spots = ["A-02-01", "A-02-02", "A-02-03", "A-02-04"]
    twin = _stocked("CLN-0002", spots)
    operator = user("ne.operator")
    approvers = _approvers(3)
    for spot in spots:  # one round per bin: which decision wins is up to the scheduler
        here = location("NE-BOS", spot)
        count = cycle_count_submit(
            count=cycle_count_create(warehouse=warehouse(), pairs=[CountPair(location=here, item=twin)],
                                     actor=operator),
            entries=[CountEntry(location=here, item=twin, quantity=D(90), uom="EA")], actor=operator)
        assert count.status == CycleCountStatus.PENDING_APPROVAL
        request = count.approval_request
        decisions: list[tuple[str, Callable[[], Any]]] = []
        for n, approver in enumerate(approvers):
            decisions += [
                ("approve", partial(approval_request_decide, request=request, actor=approver, approve=True)),
                ("reject", partial(approval_request_decide, request=request, actor=approver, approve=False)),
                ("recount", partial(cycle_count_recount, count=count, actor=approver, comment=f"Recount {n}")),
            ]

        outcomes = _race(*[call for _, call in decisions])

        won = [kind for (kind, _), outcome in zip(decisions, outcomes, strict=True)
               if not isinstance(outcome, BaseException)]
        lost = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        assert len(won) == 1, outcomes
        assert all(isinstance(exc, ApprovalAlreadyDecided | InvalidCountTransition) and exc.status == 409
                   for exc in lost), lost
        count.refresh_from_db()
        request.refresh_from_db()
        expected = {"approve": (CycleCountStatus.POSTED, ApprovalStatus.APPROVED),
                    "reject": (CycleCountStatus.REJECTED, ApprovalStatus.REJECTED),
                    "recount": (CycleCountStatus.RECOUNTED, ApprovalStatus.CANCELLED)}[won[0]]
        assert (count.status, request.status) == expected
        recounts = CycleCount.objects.filter(recount_of=count)
        assert recounts.count() == (1 if won[0] == "recount" else 0)
        assert _count_moves(count) == ([(here.pk, D(-10))] if won[0] == "approve" else [])
        assert StockBalance.objects.get(item=twin, location=here).on_hand == (90 if won[0] == "approve" else 100)
        _invariants_hold()


def test_counting_while_eight_threads_adjust_and_move_the_same_stock_loses_no_update(user):
    spots = [location("NE-BOS", code) for code in ("A-03-01", "A-03-02")]
    twin = _stocked("PAP-0001", [spot.code for spot in spots], quantity=40)
    opening = set(StockMove.objects.filter(item=twin).values_list("pk", flat=True))
    operator, approver = user("ne.operator"), user("ne.supervisor")  # NE's count variances below 1,000 are theirs
    lock = threading.Lock()
    posted: list[int] = []  # ids of every move a thread was told it posted
    refused: list[InsufficientStock] = []
    closed: list[CycleCount] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(10):
            spot = rng.choice(spots)
            quantity = D(rng.choice([1, 3, 5, 8]))
            try:
                action = rng.choice(["lost", "found", "hold", "release"])
                if action in ("lost", "found"):
                    moves = [services.stock_adjust_post(
                        warehouse=warehouse(), location=spot, item=twin, uom="EA", actor=None,
                        quantity=-quantity if action == "lost" else quantity, reason=action.upper())]
                else:
                    source, target = ("available", "quality_hold") if action == "hold" else ("quality_hold",
                                                                                             "available")
                    moves = services.stock_status_change(
                        warehouse=warehouse(), location=spot, item=twin, quantity=quantity, uom="EA", actor=None,
                        from_status=source, to_status=target, reason="QC-HOLD" if action == "hold" else "QC-RELEASE")
            except InsufficientStock as exc:
                with lock:
                    refused.append(exc)
            else:
                with lock:
                    posted.extend(move.pk for move in moves)

    def count(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(4):
            document = cycle_count_create(warehouse=warehouse(), actor=operator,
                                          pairs=[CountPair(location=spot, item=twin) for spot in spots])
            # The counter finds roughly what is there (every status), give or take a unit or two.
            there = {spot.pk: sum(StockBalance.objects.filter(item=twin, location=spot)
                                  .values_list("on_hand", flat=True), D(0)) for spot in spots}
            entries = [CountEntry(location=spot, item=twin, uom="EA",
                                  quantity=max(there[spot.pk] + rng.choice([-2, -1, 1, 2]), D(0))) for spot in spots]
            try:
                document = cycle_count_submit(count=document, entries=entries, actor=operator)
                if document.status == CycleCountStatus.PENDING_APPROVAL:
                    try:
                        approval_request_decide(request=document.approval_request, actor=approver, approve=True)
                    except InsufficientStock:
                        approval_request_decide(request=document.approval_request, actor=approver, approve=False)
            except InsufficientStock as exc:
                with lock:
                    refused.append(exc)
                cycle_count_cancel(count=document, actor=operator)
                continue
            document.refresh_from_db()
            with lock:
                closed.append(document)
                posted.extend(CycleCountLine.objects.filter(count=document, move__isnull=False)
                              .values_list("move_id", flat=True))

    outcomes = _race(*[lambda n=n: work(n) for n in range(8)], *[lambda n=n: count(100 + n) for n in range(2)])

    assert [o for o in outcomes if o is not None] == []  # nothing but 409 refusals, and those were caught
    assert refused and all(exc.status == 409 for exc in refused), "the race should refuse some moves"
    assert closed, "at least one count should have been decided"
    assert {c.status for c in closed} <= {CycleCountStatus.POSTED, CycleCountStatus.REJECTED}
    # No lost update: the ledger holds exactly the opening and what the threads were told they posted,
    # and every balance is the sum of those moves.
    ledger = StockMove.objects.filter(item=twin)
    assert set(ledger.values_list("pk", flat=True)) == opening | set(posted)
    assert len(posted) == len(set(posted))
    sums: dict[tuple[int, int], Decimal] = {}
    for location_id, status_id, quantity in ledger.values_list("location_id", "status_id", "quantity"):
        sums[(location_id, status_id)] = sums.get((location_id, status_id), D(0)) + quantity
    balances = {(b.location_id, b.status_id): b.on_hand for b in StockBalance.objects.filter(item=twin)}
    assert {key: value for key, value in balances.items() if value} == {k: v for k, v in sums.items() if v}
    assert all(value >= 0 for value in balances.values())
    _invariants_hold()


def test_two_plan_runs_of_one_warehouse_and_day_make_one_count(demo):
    ensure_standard_statuses()
    made: dict[str, int] = {}
    for days, code in ((3, "NE-BOS"), (4, "NE-NYC"), (5, "EU-RTM")):
        site = warehouse(code)
        on = timezone.localdate() + dt.timedelta(days=days)

        outcomes = _race(lambda s=site, d=on: cycle_count_plan(warehouse=s, on=d),
                         lambda s=site, d=on: cycle_count_plan(warehouse=s, on=d))

        assert all(isinstance(o, CycleCount) for o in outcomes), outcomes
        assert outcomes[0].pk == outcomes[1].pk
        planned = CycleCount.objects.filter(warehouse=site, origin=CycleCountOrigin.PLAN, planned_for=on)
        assert planned.count() == 1
        made[code] = CycleCountLine.objects.filter(count=planned.get()).count()
    assert all(made.values()), made
    _invariants_hold()
