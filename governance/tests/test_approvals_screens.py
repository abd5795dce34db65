"""The "My approvals" screen, the step ladder and the delegation form."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from erp.formats import money_text
from governance.models import ApprovalStep, Delegation
from governance.services import approvals as engine
from governance.tests.scope_approvals import open_request, register_test_document

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def recorder(demo):
    return register_test_document()


@pytest.fixture
def browser(client, user):
    def login(username: str):
        client.force_login(user(username))
        return client

    return login


def test_my_approvals_lists_what_waits_for_me_with_requester_and_amount(recorder, user, browser):
    request = open_request(user("buyer"), warehouse="NE-BOS", title="Forklift lease",
                           amount=Decimal("1250.00"), currency="EUR", steps=[engine.StepSpec(role="approver")])

    page = browser("approver").get(reverse("governance:approval-list"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Forklift lease" in html and "buyer" in html and f"approval-{request.pk}" in html
    assert "1,250.00 EUR" in html  # the amount as asked, in its currency (erp.formats.money_text)
    assert money_text(request.base_amount, request.legal_entity.currency) in html  # and in the legal entity's
    assert reverse("governance:approval-list") in html  # the nav entry "Approvals"
    assert "Forklift lease" not in browser("planner").get(reverse("governance:approval-list")).content.decode()


def test_my_approvals_reads_in_the_same_number_of_queries_for_one_row_and_for_several(recorder, user, browser):
    client = browser("approver")
    buyer = user("buyer")

    def open_one(n: int) -> None:
        open_request(buyer, warehouse=("NE-BOS", "EU-RTM", "SE-ATL")[n % 3], title=f"Lease {n}",
                     amount=Decimal("100.00") + n, currency=("EUR", "USD")[n % 2],
                     steps=[engine.StepSpec(role="approver")])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("governance:approval-list"))
        assert response.status_code == 200
        return len(captured)

    open_one(0)
    client.get(reverse("governance:approval-list"))  # warm the session and the caches
    one = queries()
    for n in range(1, 7):
        open_one(n)
    several = queries()

    assert several == one, f"{one} queries for one row, {several} for seven"


def test_approving_from_the_list_with_htmx_swaps_the_row(recorder, user, browser):
    request = open_request(user("buyer"), warehouse="NE-BOS")

    response = browser("approver").post(reverse("governance:approval-decide", args=[request.pk]),
                                        {"decision": "approve", "target": "row"}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<tr") and "Approved." in html
    assert ApprovalStep.objects.get(request=request).status == "approved"


def test_the_requester_is_refused_on_the_screen_with_a_message_not_a_500(recorder, user, browser):
    request = open_request(user("approver"), warehouse="NE-BOS")
    client = browser("approver")

    panel = client.post(reverse("governance:approval-decide", args=[request.pk]),
                        {"decision": "approve", "target": "panel"}, **HTMX)
    assert panel.status_code == 200 and "someone else must decide it" in panel.content.decode()

    plain = client.post(reverse("governance:approval-decide", args=[request.pk]), {"decision": "approve"},
                        follow=True)
    assert plain.status_code == 200 and "someone else must decide it" in plain.content.decode()
    assert ApprovalStep.objects.get(request=request).status == "pending"


@pytest.mark.parametrize(("form", "message"), [
    ({"decision": "reject"}, "Say why you reject it"),
    ({"decision": "maybe"}, "Choose approve or reject"),
])
def test_a_bad_decision_form_shows_what_is_wrong(recorder, user, browser, form, message):
    request = open_request(user("buyer"), warehouse="NE-BOS")
    response = browser("approver").post(reverse("governance:approval-decide", args=[request.pk]),
                                        {**form, "target": "panel"}, **HTMX)
    assert response.status_code == 200 and message in response.content.decode()
    assert ApprovalStep.objects.get(request=request).status == "pending"


def test_the_detail_shows_the_ladder_and_buttons_only_to_who_may_decide(recorder, user, browser):
    request = open_request(user("buyer"), warehouse="NE-BOS",
                           steps=[engine.StepSpec(role="approver"), engine.StepSpec(role="finance")])
    url = reverse("governance:approval-detail", args=[request.pk])

    approver_view = browser("approver").get(url).content.decode()
    assert "approver" in approver_view and "finance" in approver_view and 'value="approve"' in approver_view
    planner_view = browser("planner").get(url).content.decode()
    assert 'value="approve"' not in planner_view and "Waiting for approver" in planner_view


def test_a_request_outside_the_scope_is_404_on_the_screen(recorder, user, browser):
    request = open_request(user("buyer"), warehouse="EU-RTM")
    client = browser("ne.operator")
    assert client.get(reverse("governance:approval-detail", args=[request.pk])).status_code == 404
    assert client.post(reverse("governance:approval-decide", args=[request.pk]),
                       {"decision": "approve"}).status_code == 404


def test_the_delegation_form_creates_one_and_shows_refusals(demo, user, browser):
    client = browser("approver")
    today = dt.date.today()
    url = reverse("governance:approval-delegations")
    form = {"delegate": "finance", "starts_on": today.isoformat(), "ends_on": (today + dt.timedelta(days=3))
            .isoformat(), "note": "leave"}

    created = client.post(url, form, follow=True)
    assert created.status_code == 200 and "finance may now decide" in created.content.decode()
    again = client.post(url, form)
    assert again.status_code == 400 and "already covers" in again.content.decode()
    to_self = client.post(url, {**form, "delegate": "approver"})
    assert to_self.status_code == 400 and "Nobody delegates to themselves" in to_self.content.decode()
    assert Delegation.objects.filter(delegator=user("approver")).count() == 1


def test_revoking_a_delegation_goes_through_a_confirm_step(demo, user, client):
    today = timezone.localdate()
    approver, finance = user("approver"), user("finance")
    delegation = engine.delegation_create(delegator=approver, delegate=finance, starts_on=today,
                                          ends_on=today + dt.timedelta(days=3), note="", actor=approver)
    revoke = reverse("governance:approval-delegation-revoke", args=[delegation.pk])
    client.force_login(approver)

    listed = client.get(reverse("governance:approval-delegations")).content.decode()
    assert f'href="{revoke}"' in listed and f'action="{revoke}"' not in listed
    step = client.get(revoke).content.decode()
    assert "Revoke the delegation from approver to finance?" in step
    assert "finance stops deciding approver&#x27;s approvals now" in step and "button--danger" in step
    skipped = client.post(revoke)
    assert skipped.status_code == 200 and "Nothing has been done yet" in skipped.content.decode()
    assert Delegation.objects.get(pk=delegation.pk).revoked_at is None

    done = client.post(revoke, {"confirm": "yes"}, follow=True)

    assert Delegation.objects.get(pk=delegation.pk).revoked_at is not None
    assert "Delegation revoked." in done.content.decode()
    client.force_login(user("ne.operator"))  # sees no delegation of theirs: no step, nothing changes
    assert client.get(revoke).status_code == 404
    assert client.post(revoke, {"confirm": "yes"}).status_code == 404
