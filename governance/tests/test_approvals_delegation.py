"""Delegation: a delegate decides for an eligible delegator only while the delegation is active."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from erp.exceptions import PermissionDenied, ValidationFailed
from governance.exceptions import DelegationOverlaps, NotAnApprover, SelfApprovalForbidden
from governance.models import Delegation
from governance.services import approvals as engine
from governance.tests.scope_approvals import make_user, open_request, register_test_document

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def recorder(demo):
    return register_test_document()


def _delegate(delegator, delegate, *, starts: int = 0, ends: int = 7) -> Delegation:
    today = timezone.localdate()
    return engine.delegation_create(delegator=delegator, delegate=delegate, starts_on=today + starts * DAY,
                                    ends_on=today + ends * DAY, note="away", actor=delegator)


def test_an_active_delegate_decides_and_the_step_records_on_whose_behalf(recorder, user):
    stand_in = make_user("stand.in")  # no role of their own
    _delegate(user("approver"), stand_in)
    request = open_request(user("buyer"), warehouse="EU-RTM")
    step = request.steps.get()

    assert list(engine.approvals_waiting_for(stand_in)) == [step]
    engine.approval_step_decide(step=step, actor=stand_in, approve=True, comment="for approver")

    step.refresh_from_db()
    assert (step.decided_by, step.on_behalf_of, step.status) == (stand_in, user("approver"), "approved")
    assert recorder.calls == [("approved", request.document_id, "stand.in")]


@pytest.mark.parametrize(("starts", "ends"), [(-10, -1), (1, 5)])
def test_a_delegation_outside_its_dates_gives_nothing(recorder, user, starts, ends):
    stand_in = make_user("dated.stand.in")
    today = timezone.localdate()
    # Created through the service for today's window, then moved in time as the calendar would.
    delegation = _delegate(user("approver"), stand_in)
    Delegation.objects.filter(pk=delegation.pk).update(starts_on=today + starts * DAY, ends_on=today + ends * DAY)
    request = open_request(user("buyer"), warehouse="EU-RTM")

    assert list(engine.approvals_waiting_for(stand_in)) == []
    with pytest.raises(NotAnApprover):
        engine.approval_step_decide(step=request.steps.get(), actor=stand_in, approve=True)


def test_a_revoked_delegation_gives_nothing(recorder, user):
    stand_in = make_user("revoked.stand.in")
    delegation = _delegate(user("approver"), stand_in)
    engine.delegation_revoke(delegation=delegation, actor=user("approver"))
    request = open_request(user("buyer"), warehouse="EU-RTM")

    with pytest.raises(NotAnApprover):
        engine.approval_step_decide(step=request.steps.get(), actor=stand_in, approve=True)


def test_a_delegate_may_not_decide_on_behalf_of_the_requester(recorder, user):
    stand_in = make_user("requester.stand.in")
    _delegate(user("approver"), stand_in)
    request = open_request(user("approver"), warehouse="EU-RTM")  # the delegator requested it

    assert list(engine.approvals_waiting_for(stand_in)) == []
    with pytest.raises(SelfApprovalForbidden):
        engine.approval_step_decide(step=request.steps.get(), actor=stand_in, approve=True)
    assert request.steps.get().status == "pending"


def test_a_delegate_may_not_decide_their_own_request_through_a_delegation(recorder, user):
    _delegate(user("approver"), user("buyer"))
    request = open_request(user("buyer"), warehouse="EU-RTM")
    with pytest.raises(SelfApprovalForbidden):
        engine.approval_step_decide(step=request.steps.get(), actor=user("buyer"), approve=True)


def test_a_delegation_carries_only_what_the_delegator_may_decide(recorder, user):
    supervisor = make_user("bos.supervisor", "warehouse_supervisor", warehouses=("NE-BOS",))
    stand_in = make_user("sup.stand.in")
    _delegate(supervisor, stand_in)
    at_rtm = open_request(user("buyer"), warehouse="EU-RTM",
                          steps=[engine.StepSpec(role="warehouse_supervisor", scope_level="warehouse")])
    at_bos = open_request(user("buyer"), warehouse="NE-BOS",
                          steps=[engine.StepSpec(role="warehouse_supervisor", scope_level="warehouse")])

    assert list(engine.approvals_waiting_for(stand_in)) == [at_bos.steps.get()]
    with pytest.raises(NotAnApprover):
        engine.approval_step_decide(step=at_rtm.steps.get(), actor=stand_in, approve=True)


def test_only_the_delegator_or_an_administrator_delegates(demo, user):
    today = timezone.localdate()
    with pytest.raises(PermissionDenied):
        engine.delegation_create(delegator=user("approver"), delegate=user("finance"), starts_on=today,
                                 ends_on=today, note="", actor=user("buyer"))
    made = engine.delegation_create(delegator=user("approver"), delegate=user("finance"), starts_on=today,
                                    ends_on=today, note="", actor=user("admin"))
    assert made.delegator == user("approver")


def test_no_self_delegation_and_no_overlap_between_the_same_two_users(demo, user):
    today = timezone.localdate()
    with pytest.raises(ValidationFailed):
        _delegate(user("approver"), user("approver"))
    _delegate(user("approver"), user("finance"), starts=0, ends=5)
    with pytest.raises(DelegationOverlaps):
        _delegate(user("approver"), user("finance"), starts=5, ends=9)
    _delegate(user("approver"), user("finance"), starts=6, ends=9)  # adjacent, not overlapping
    _delegate(user("approver"), user("owner"), starts=0, ends=5)  # another delegate
    assert Delegation.objects.filter(delegator=user("approver"), starts_on__gte=today).count() == 3
