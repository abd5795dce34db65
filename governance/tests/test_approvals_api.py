"""``approvals/``, ``delegations/`` and ``exchange-rates/`` through the API, including concurrency and bad input."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from governance.models import ApprovalRequest, ApprovalStep, Delegation, ExchangeRate
from governance.services import approvals as engine
from governance.tests.scope_approvals import assert_error, make_user, open_request, register_test_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorder(demo):
    return register_test_document()


def _two_steps() -> list[engine.StepSpec]:
    return [engine.StepSpec(role="approver"), engine.StepSpec(role="finance")]


def test_the_default_list_is_what_waits_for_the_caller(recorder, user, api_as):
    waiting = open_request(user("buyer"), warehouse="NE-BOS", steps=_two_steps())
    open_request(user("buyer"), warehouse="NE-BOS", steps=[engine.StepSpec(role="finance")])

    for params in ({}, {"status": "pending"}):
        body = api_as("approver").get(reverse("api:approval-list"), params).json()
        assert [row["id"] for row in body["results"]] == [waiting.pk]
        assert body["results"][0]["waiting_for_me"] is True
        assert body["results"][0]["document_label"] == "Test document"
        assert [s["status"] for s in body["results"][0]["steps"]] == ["pending", "waiting"]
    # finance's step 2 is not yet pending: the request does not wait for finance.
    finance_ids = {r["id"] for r in api_as("finance").get(reverse("api:approval-list")).json()["results"]}
    assert waiting.pk not in finance_ids


def test_approving_through_the_api_moves_to_the_next_step_and_then_approves(recorder, user, api_as):
    request = open_request(user("buyer"), warehouse="EU-RTM", steps=_two_steps())

    first = api_as("approver").post(reverse("api:approval-approve", args=[request.pk]), {"comment": "ok"},
                                    format="json")
    assert first.status_code == 200, first.content
    assert [s["status"] for s in first.json()["steps"]] == ["approved", "pending"]
    assert first.json()["steps"][0]["decided_by"] == "approver"
    second = api_as("finance").post(reverse("api:approval-approve", args=[request.pk]), {}, format="json")

    assert second.status_code == 200 and second.json()["status"] == "approved"
    assert recorder.calls == [("approved", request.document_id, "finance")]


def test_rejecting_needs_a_comment_and_ends_the_request(recorder, user, api_as):
    request = open_request(user("buyer"), warehouse="EU-RTM", steps=_two_steps())
    url = reverse("api:approval-reject", args=[request.pk])

    assert_error(api_as("approver").post(url, {}, format="json"), 400, "validation_error")
    response = api_as("approver").post(url, {"comment": "not this quarter"}, format="json")

    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert [s["status"] for s in response.json()["steps"]] == ["rejected", "skipped"]
    assert recorder.calls == [("rejected", request.document_id, "approver")]


def test_the_requester_approving_their_own_request_gets_409_and_nothing_changes(recorder, user, api_as):
    request = open_request(user("approver"), warehouse="NE-BOS")

    response = api_as("approver").post(reverse("api:approval-approve", args=[request.pk]), {}, format="json")

    assert_error(response, 409, "self_approval_forbidden")
    assert ApprovalStep.objects.get(request=request).status == "pending" and recorder.calls == []


def test_someone_who_is_no_approver_gets_403_and_a_decided_request_409(recorder, user, api_as):
    request = open_request(user("buyer"), warehouse="NE-BOS")
    assert_error(api_as("planner").post(reverse("api:approval-approve", args=[request.pk]), {}, format="json"),
                 403, "not_an_approver")
    assert api_as("approver").post(reverse("api:approval-approve", args=[request.pk]), {},
                                   format="json").status_code == 200
    assert_error(api_as("approver").post(reverse("api:approval-reject", args=[request.pk]), {"comment": "x"},
                                         format="json"), 409, "approval_already_decided")


def test_the_status_filter_lists_requests_in_scope(recorder, user, api_as):
    pending = open_request(user("buyer"), warehouse="NE-BOS")
    decided = open_request(user("buyer"), warehouse="NE-BOS")
    engine.approval_step_decide(step=decided.steps.get(), actor=user("approver"), approve=True)

    approved = api_as("planner").get(reverse("api:approval-list"), {"status": "approved"}).json()
    everything = api_as("planner").get(reverse("api:approval-list"),
                                       {"status": "pending", "waiting_for_me": "false"}).json()

    assert [r["id"] for r in approved["results"]] == [decided.pk]
    assert pending.pk in {r["id"] for r in everything["results"]}


def test_listing_approvals_takes_the_same_number_of_queries_for_more_rows(recorder, user, api_as):
    client = api_as("approver")
    url = reverse("api:approval-list")
    open_request(user("buyer"), warehouse="NE-BOS", steps=_two_steps())
    client.get(url)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get(url).json()["count"] == 1
    for _ in range(6):
        open_request(user("buyer"), warehouse="EU-RTM", steps=_two_steps())
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).json()["count"] == 7
    assert len(many) == len(few)


# --- concurrency ------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_approvers_deciding_one_step_at_once_give_exactly_one_decision(demo):
    recorder = register_test_document()
    buyer = make_user("race.buyer", "buyer", enterprise=True)
    first = make_user("race.one", "approver", enterprise=True)
    second = make_user("race.two", "approver", enterprise=True)
    request = open_request(buyer, warehouse="NE-BOS")
    barrier = threading.Barrier(2)
    statuses: list[tuple[str, int, str]] = []

    def decide(who, approve: bool) -> None:
        try:
            client = APIClient()
            client.force_authenticate(who)
            barrier.wait()
            action = "api:approval-approve" if approve else "api:approval-reject"
            response = client.post(reverse(action, args=[request.pk]), {"comment": "race"}, format="json")
            statuses.append((who.username, response.status_code, response.json().get("code", "")))
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(first, True)),
               threading.Thread(target=decide, args=(second, False))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(code for _, code, _ in statuses) == [200, 409], statuses
    assert [c for _, status, c in statuses if status == 409] == ["approval_already_decided"]
    step = ApprovalStep.objects.get(request=request)
    winner = next(name for name, status, _ in statuses if status == 200)
    assert step.decided_by.username == winner
    assert len(recorder.calls) == 1 and recorder.calls[0][2] == winner
    assert ApprovalRequest.objects.get(pk=request.pk).status in ("approved", "rejected")


# --- bad input ----------------------------------------------------------------------------------------------


def _counts() -> tuple[int, ...]:
    return (ApprovalStep.objects.exclude(status__in=["pending", "waiting"]).count(),
            ApprovalRequest.objects.exclude(status="pending").count(), Delegation.objects.count(),
            ExchangeRate.objects.count(), Delegation.objects.filter(revoked_at__isnull=False).count())


TODAY = dt.date.today().isoformat()
LATER = (dt.date.today() + dt.timedelta(days=7)).isoformat()


@pytest.mark.parametrize(("who", "route", "body", "status", "code"), [
    ("approver", "approval-approve", {"comment": 5 * "x" * 500}, 400, "validation_error"),
    ("approver", "approval-approve", {"decision": "yes"}, 400, "validation_error"),
    ("approver", "approval-approve", ["not", "an", "object"], 400, "validation_error"),
    ("approver", "approval-reject", {}, 400, "validation_error"),
    ("approver", "approval-reject", {"comment": ""}, 400, "validation_error"),
    ("approver", "approval-reject", {"comment": None}, 400, "validation_error"),
    ("buyer", "approval-approve", {}, 409, "self_approval_forbidden"),
    ("buyer", "approval-reject", {"comment": "mine"}, 409, "self_approval_forbidden"),
    ("planner", "approval-approve", {}, 403, "not_an_approver"),
    ("approver", "delegation-list", {}, 400, "validation_error"),
    ("approver", "delegation-list", {"delegate": "nobody", "starts_on": TODAY, "ends_on": LATER}, 400,
     "validation_error"),
    ("approver", "delegation-list", {"delegate": "approver", "starts_on": TODAY, "ends_on": LATER}, 400,
     "validation_error"),
    ("approver", "delegation-list", {"delegate": "finance", "starts_on": LATER, "ends_on": TODAY}, 400,
     "validation_error"),
    ("approver", "delegation-list", {"delegate": "finance", "starts_on": "2020-01-01", "ends_on": "2020-01-02"},
     400, "validation_error"),
    ("approver", "delegation-list", {"delegate": "finance", "starts_on": "tomorrow", "ends_on": LATER}, 400,
     "validation_error"),
    ("approver", "delegation-list", {"delegate": "finance", "starts_on": TODAY, "ends_on": LATER,
                                     "note": "n" * 301}, 400, "validation_error"),
    ("approver", "delegation-list", {"delegate": "finance", "starts_on": TODAY, "ends_on": LATER,
                                     "extra": 1}, 400, "validation_error"),
    ("approver", "delegation-list", {"delegate": "finance", "delegator": "owner", "starts_on": TODAY,
                                     "ends_on": LATER}, 403, "permission_denied"),
    ("buyer", "delegation-list", {"delegate": "finance", "starts_on": TODAY, "ends_on": LATER}, 403,
     "permission_denied"),
    ("finance", "exchange-rate-list", {}, 400, "validation_error"),
    ("finance", "exchange-rate-list", {"from_currency": "eur", "to_currency": "USD", "rate": "1.1",
                                       "effective_from": TODAY}, 400, "validation_error"),
    ("finance", "exchange-rate-list", {"from_currency": "EUR", "to_currency": "EUR", "rate": "1.1",
                                       "effective_from": TODAY}, 400, "validation_error"),
    ("finance", "exchange-rate-list", {"from_currency": "EUR", "to_currency": "USD", "rate": "0",
                                       "effective_from": TODAY}, 400, "validation_error"),
    ("finance", "exchange-rate-list", {"from_currency": "EUR", "to_currency": "USD", "rate": "-2",
                                       "effective_from": TODAY}, 400, "validation_error"),
    ("finance", "exchange-rate-list", {"from_currency": "EUR", "to_currency": "USD", "rate": "abc",
                                       "effective_from": TODAY}, 400, "validation_error"),
    ("finance", "exchange-rate-list", {"from_currency": "EUR", "to_currency": "USD", "rate": "1.1",
                                       "effective_from": "2026-02-30"}, 400, "validation_error"),
    ("approver", "exchange-rate-list", {"from_currency": "EUR", "to_currency": "USD", "rate": "1.1",
                                        "effective_from": TODAY}, 403, "permission_denied"),
])
def test_bad_input_is_refused_with_the_error_shape_and_writes_nothing(recorder, user, api_as, who, route, body,
                                                                      status, code):
    request = open_request(user("buyer"), warehouse="NE-BOS")
    url = reverse(f"api:{route}", args=[request.pk]) if route.startswith("approval-") else reverse(f"api:{route}")
    before = _counts()

    response = api_as(who).post(url, body, format="json")

    assert_error(response, status, code)
    assert _counts() == before


def test_an_overlapping_delegation_is_409_and_a_revoked_one_cannot_be_revoked_again(demo, api_as):
    client = api_as("approver")
    body = {"delegate": "finance", "starts_on": TODAY, "ends_on": LATER, "note": "holiday"}
    created = client.post(reverse("api:delegation-list"), body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["active"] is True and created.json()["delegate"] == "finance"
    before = Delegation.objects.count()

    assert_error(client.post(reverse("api:delegation-list"), {**body, "starts_on": LATER}, format="json"),
                 409, "delegation_overlaps")
    assert Delegation.objects.count() == before
    revoke = reverse("api:delegation-revoke", args=[created.json()["id"]])
    assert client.post(revoke).status_code == 200
    assert_error(client.post(revoke), 409, "delegation_revoked")
    # Revoked, it no longer blocks a new one for the same dates.
    assert client.post(reverse("api:delegation-list"), body, format="json").status_code == 201


def test_finance_records_an_exchange_rate_and_everyone_with_the_role_reads_it(demo, api_as):
    response = api_as("finance").post(reverse("api:exchange-rate-list"), {
        "from_currency": "GBP", "to_currency": "EUR", "rate": "1.17500000", "effective_from": "2026-06-01"},
        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["rate"] == "1.17500000"
    listed = api_as("admin").get(reverse("api:exchange-rate-list"), {"from_currency": "GBP"}).json()
    assert [(r["to_currency"], r["rate"]) for r in listed["results"]] == [("EUR", "1.17500000")]


def test_the_api_amounts_are_strings_with_their_currencies(recorder, user, api_as):
    ExchangeRate.objects.filter(from_currency__in=["EUR", "USD"]).delete()
    ExchangeRate.objects.create(from_currency="EUR", to_currency="USD", rate=Decimal("1.2"),
                                effective_from=timezone.localdate())
    request = open_request(user("buyer"), warehouse="NE-BOS", amount=Decimal("100"), currency="EUR",
                           steps=[engine.StepSpec(role="approver")])
    body = api_as("approver").get(reverse("api:approval-detail", args=[request.pk])).json()
    assert (body["amount"], body["currency"], body["base_amount"], body["base_currency"]) == (
        "100.00", "EUR", "120.00", "USD")
