"""Deviation services and the database's guarantees: frozen decisions, one approved per site and date,
expiry and review notices that run twice harmlessly, and a bad-input table for every write endpoint."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from erp.exceptions import DomainError
from governance.models import ApprovalRequest, OperationalException, Policy, PolicyDeviation
from governance.services import deviations as services
from governance.services.policies import policies_sync

CUTOFF = "fulfillment.shipping_cutoff"


def _request(actor, *, start=0, end=10, value="17:30", scope="EU-RTM"):
    today = timezone.now().date()
    return services.deviation_request(
        policy_key=CUTOFF, scope_type="warehouse", scope_code=scope, value=value,
        rationale="Carriers collect later at this site.", effective_from=today + timedelta(days=start),
        effective_to=today + timedelta(days=end), actor=actor)


@pytest.mark.django_db
def test_an_approved_deviations_value_cannot_be_changed_even_by_a_raw_update(user):
    deviation = _request(user("eu.operator"))
    services.deviation_approve(deviation=deviation, actor=user("owner"))
    with pytest.raises(DatabaseError, match="frozen"), transaction.atomic():
        PolicyDeviation.objects.filter(pk=deviation.pk).update(value="19:00")
    assert PolicyDeviation.objects.get(pk=deviation.pk).value == "17:30"


@pytest.mark.django_db
def test_the_database_refuses_a_deviation_decided_by_its_requester(user):
    deviation = _request(user("eu.operator"))
    with pytest.raises(DatabaseError), transaction.atomic():
        PolicyDeviation.objects.filter(pk=deviation.pk).update(status="approved", decided_by=user("eu.operator"),
                                                               decided_at=timezone.now())


@pytest.mark.django_db
def test_approving_a_second_overlapping_deviation_is_a_conflict(user):
    first, second = _request(user("eu.operator"), end=10), _request(user("eu.operator"), start=5, end=12)
    services.deviation_approve(deviation=first, actor=user("owner"))
    with pytest.raises(DomainError) as raised:
        services.deviation_approve(deviation=second, actor=user("owner"))
    assert raised.value.code == "deviation_overlap"
    assert PolicyDeviation.objects.get(pk=second.pk).status == "requested"


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_approvals_racing_from_two_threads_approve_exactly_one(demo, user):
    requester, owner = user("eu.operator"), user("owner")
    ids = [_request(requester, end=10).pk, _request(requester, start=3, end=8).pk]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(deviation_id):
        try:
            barrier.wait()
            services.deviation_approve(deviation=PolicyDeviation.objects.get(pk=deviation_id), actor=owner)
            outcomes.append("approved")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(pk,)) for pk in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["approved", "deviation_overlap"]
    assert PolicyDeviation.objects.filter(pk__in=ids, status="approved").count() == 1


@pytest.mark.django_db
def test_expiry_and_the_review_notice_run_twice_with_one_effect(user):
    soon, later = _request(user("eu.operator"), end=3), _request(user("eu.operator"), start=40, end=90)
    for deviation in (soon, later):
        services.deviation_approve(deviation=deviation, actor=user("owner"))
    assert services.deviations_review_notify(actor=None) == 1
    assert services.deviations_review_notify(actor=None) == 0
    [raised] = OperationalException.objects.filter(type="deviation_expiring")
    assert raised.business_key == f"deviation:{soon.pk}" and raised.warehouse.code == "EU-RTM"
    assert raised.reference == soon.number

    after = timezone.now().date() + timedelta(days=4)
    assert services.deviations_expire(actor=None, today=after) == 1
    assert services.deviations_expire(actor=None, today=after) == 0
    assert PolicyDeviation.objects.get(pk=soon.pk).status == "expired"
    assert PolicyDeviation.objects.get(pk=later.pk).status == "approved"


@pytest.mark.django_db
def test_an_expired_deviation_cannot_be_withdrawn(user):
    deviation = _request(user("eu.operator"), end=1)
    services.deviation_approve(deviation=deviation, actor=user("owner"))
    services.deviations_expire(actor=None, today=timezone.now().date() + timedelta(days=5))
    with pytest.raises(DomainError) as raised:
        services.deviation_withdraw(deviation=deviation, actor=user("eu.operator"))
    assert raised.value.code == "invalid_transition"


@pytest.mark.django_db
def test_the_sync_is_idempotent_and_retires_what_no_app_declares(demo):
    Policy.objects.create(key="legacy.setting", description="gone", process="inventory", value_type="integer",
                          standard_value=1, owner_group=Policy.objects.first().owner_group)
    first = policies_sync(actor=None)
    assert first["retired"] == 1 and Policy.objects.get(key="legacy.setting").retired
    assert policies_sync(actor=None) == {"created": 0, "updated": 0, "retired": 0}


# --- bad input: 400 or 409 in the error shape, nothing written -------------------------------------------

TODAY = str(timezone.now().date())
LATER = str(timezone.now().date() + timedelta(days=5))
GOOD = {"policy": CUTOFF, "scope_type": "warehouse", "scope": "EU-RTM", "value": "17:30",
        "rationale": "Carriers collect later here.", "effective_from": TODAY, "effective_to": LATER}
PAST = str(timezone.now().date() - timedelta(days=3))

BAD_CREATES = [
    ({**GOOD, "value": "25:00"}, 400, "validation_error"),
    ({**GOOD, "value": 1730}, 400, "validation_error"),
    ({**GOOD, "value": "15:00"}, 400, "validation_error"),  # the standard itself
    ({**GOOD, "rationale": "short"}, 400, "validation_error"),
    ({**GOOD, "rationale": "   "}, 400, "validation_error"),
    ({**GOOD, "effective_from": PAST}, 400, "validation_error"),
    ({**GOOD, "effective_from": LATER, "effective_to": TODAY}, 400, "validation_error"),
    ({**GOOD, "effective_to": "2300-01-01"}, 400, "validation_error"),
    ({**GOOD, "effective_from": "not a date"}, 400, "validation_error"),
    ({**GOOD, "scope_type": "planet"}, 400, "validation_error"),
    ({**GOOD, "scope": "NE-BOS"}, 400, "validation_error"),  # outside eu.operator's scope: does not exist
    ({**GOOD, "scope": "NOPE"}, 400, "validation_error"),
    ({**GOOD, "policy": "no.such_policy"}, 400, "validation_error"),
    ({**GOOD, "policy": "governance.deviation_review_notice_days", "value": 3}, 409, "policy_not_localizable"),
    ({**GOOD, "colour": "red"}, 400, "validation_error"),
    ({k: v for k, v in GOOD.items() if k != "value"}, 400, "validation_error"),
    (["not", "an", "object"], 400, "validation_error"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "status", "code"), BAD_CREATES)
def test_a_bad_deviation_request_is_refused_and_writes_nothing(body, status, code, api_as):
    before = (PolicyDeviation.objects.count(), ApprovalRequest.objects.count())
    response = api_as("eu.operator").post(reverse("api:policy-deviation-list"), body, format="json")
    assert response.status_code == status, response.content
    assert set(response.json()) == {"code", "message", "detail"} and response.json()["code"] == code
    assert (PolicyDeviation.objects.count(), ApprovalRequest.objects.count()) == before


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "route", "body", "status", "code"), [
    ("eu.operator", "approve", {}, 409, "self_approval_forbidden"),
    ("eu.operator", "reject", {"note": "no"}, 409, "self_approval_forbidden"),
    ("planner", "approve", {}, 403, "not_an_approver"),
    ("owner", "approve", {"note": ["a list"]}, 400, "validation_error"),
    ("owner", "approve", {"comment": "wrong field"}, 400, "validation_error"),
    ("owner", "reject", {"note": "x" * 2001}, 400, "validation_error"),
    ("planner", "withdraw", {}, 403, "permission_denied"),
    ("eu.operator", "withdraw", {"reason": "unknown field"}, 400, "validation_error"),
    ("ne.operator", "approve", {}, 404, "not_found"),
    ("ne.operator", "withdraw", {}, 404, "not_found"),
])
def test_bad_decisions_and_withdrawals_are_refused_and_change_nothing(who, route, body, status, code, api_as):
    created = api_as("eu.operator").post(reverse("api:policy-deviation-list"), GOOD, format="json").json()
    response = api_as(who).post(reverse(f"api:policy-deviation-{route}", args=[created["id"]]), body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    deviation = PolicyDeviation.objects.get(pk=created["id"])
    assert deviation.status == "requested" and deviation.decided_by is None
    assert ApprovalRequest.objects.get(pk=created["approval_request"]).status == "pending"


@pytest.mark.django_db
def test_deciding_a_decided_deviation_again_is_a_conflict(api_as):
    created = api_as("eu.operator").post(reverse("api:policy-deviation-list"), GOOD, format="json").json()
    owner = api_as("owner")
    owner.post(reverse("api:policy-deviation-approve", args=[created["id"]]), {}, format="json")
    for route in ("approve", "reject"):
        again = owner.post(reverse(f"api:policy-deviation-{route}", args=[created["id"]]), {}, format="json")
        assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
