"""The policy screens: the issue's "done when" path in the browser (Django test client)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from governance.models import PolicyDeviation
from governance.selectors import local_date
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db

CUTOFF = "fulfillment.shipping_cutoff"


def browser(user, username):
    client = Client()
    client.force_login(user(username))
    return client


def rotterdam_today():
    """Today on EU-RTM's clock, which the request is validated against (a day ahead of UTC late at night)."""
    return local_date(timezone.now(), Warehouse.objects.get(code="EU-RTM"))


def test_the_done_when_path_through_the_screens(user):
    operator, owner = browser(user, "eu.operator"), browser(user, "owner")
    catalog = operator.get(reverse("governance:policy-list"), {"q": "cutoff"})
    assert catalog.status_code == 200 and CUTOFF.encode() in catalog.content
    assert b"Policies" in catalog.content  # the navigation entry

    form = operator.get(reverse("governance:policy-deviation-request", args=[CUTOFF]))
    assert b"warehouse:EU-RTM" in form.content and b"warehouse:NE-BOS" not in form.content
    today = rotterdam_today()  # a deviation starts no earlier than the site's own today
    posted = operator.post(reverse("governance:policy-deviation-request", args=[CUTOFF]), {
        "site": "warehouse:EU-RTM", "value": "17:30", "rationale": "Carriers collect at 18:00 now.",
        "effective_from": str(today), "effective_to": str(today + timedelta(days=30))})
    assert posted.status_code == 302, posted.content
    deviation = PolicyDeviation.objects.get()
    page = operator.get(reverse("governance:policy-deviation-detail", args=[deviation.pk]))
    assert b'value="approve"' not in page.content and b"You requested this deviation" in page.content

    refused = operator.post(reverse("governance:policy-deviation-act", args=[deviation.pk]), {"action": "approve"},
                            follow=True)
    assert refused.status_code == 200 and b"someone else must decide it" in refused.content
    assert PolicyDeviation.objects.get().status == "requested"

    owner_page = owner.get(reverse("governance:policy-deviation-detail", args=[deviation.pk]))
    assert b'value="approve"' in owner_page.content
    owner.post(reverse("governance:policy-deviation-act", args=[deviation.pk]), {"action": "approve", "note": "ok"})
    assert PolicyDeviation.objects.get().status == "approved"

    report = operator.get(reverse("governance:policy-difference"), {"warehouse": "EU-RTM"})
    assert deviation.number.encode() in report.content and b"17:30" in report.content
    csv = operator.get(reverse("governance:policy-difference"), {"warehouse": "EU-RTM", "format": "csv"})
    assert csv["Content-Type"].startswith("text/csv") and deviation.number.encode() in csv.content
    network = operator.get(reverse("governance:policy-difference"))
    assert b"EU-RTM" in network.content and b"NE-BOS" not in network.content


def test_bad_input_on_the_request_form_is_shown_and_writes_nothing(user):
    operator = browser(user, "eu.operator")
    response = operator.post(reverse("governance:policy-deviation-request", args=[CUTOFF]), {
        "site": "warehouse:EU-RTM", "value": "25:99", "rationale": "short",
        "effective_from": "2000-01-01", "effective_to": "2000-01-02"})
    assert response.status_code == 400 and b"HH:MM" in response.content
    # The project's form rendering: each field in its own block, label above it, its error beside it.
    page = response.content.decode()
    value_field = re.search(r'<div class="field field--invalid[^"]*">(.*?)</div>\s*</div>', page, re.S)
    assert value_field is not None and '<label for="id_value"' in value_field.group(1)
    value_input = re.search(r'<input[^>]*id="id_value"[^>]*>', page)
    assert value_input is not None and 'aria-invalid="true"' in value_input.group(0)
    assert re.search(r'<span class="field__error" id="id_value_error" role="alert">[^<]*HH:MM', page)
    outside = operator.post(reverse("governance:policy-deviation-request", args=[CUTOFF]), {
        "site": "warehouse:NE-BOS", "value": "17:30", "rationale": "A long enough rationale.",
        "effective_from": str(rotterdam_today()), "effective_to": str(rotterdam_today())})
    assert outside.status_code == 400
    assert PolicyDeviation.objects.count() == 0


def test_screens_outside_the_scope_are_404(user):
    deviation_owner = browser(user, "eu.operator")
    today = rotterdam_today()  # a deviation starts no earlier than the site's own today
    deviation_owner.post(reverse("governance:policy-deviation-request", args=[CUTOFF]), {
        "site": "warehouse:EU-RTM", "value": "17:30", "rationale": "Carriers collect at 18:00 now.",
        "effective_from": str(today), "effective_to": str(today)})
    ne = browser(user, "ne.operator")
    pk = PolicyDeviation.objects.get().pk
    assert ne.get(reverse("governance:policy-deviation-detail", args=[pk])).status_code == 404
    assert ne.post(reverse("governance:policy-deviation-act", args=[pk]), {"action": "withdraw"}).status_code == 404
    assert ne.get(reverse("governance:policy-deviation-withdraw", args=[pk])).status_code == 404
    assert ne.post(reverse("governance:policy-deviation-withdraw", args=[pk]), {"confirm": "yes"}).status_code == 404
    assert PolicyDeviation.objects.get().status == "requested"
    assert ne.get(reverse("governance:policy-difference"), {"warehouse": "EU-RTM"}).status_code == 404
    assert ne.get(reverse("governance:policy-detail", args=["no.such"])).status_code == 404
    assert b"EU-RTM" not in ne.get(reverse("governance:policy-detail", args=[CUTOFF])).content


def _requested(operator):
    today = rotterdam_today()
    operator.post(reverse("governance:policy-deviation-request", args=[CUTOFF]), {
        "site": "warehouse:EU-RTM", "value": "17:30", "rationale": "Carriers collect at 18:00 now.",
        "effective_from": str(today), "effective_to": str(today + timedelta(days=7))})
    return PolicyDeviation.objects.get()


def test_withdrawing_a_deviation_goes_through_a_confirm_step(user):
    operator = browser(user, "eu.operator")
    deviation = _requested(operator)
    withdraw = reverse("governance:policy-deviation-withdraw", args=[deviation.pk])
    detail = operator.get(reverse("governance:policy-deviation-detail", args=[deviation.pk])).content.decode()
    assert f'href="{withdraw}"' in detail and 'value="withdraw"' not in detail

    step = operator.get(withdraw).content.decode()
    assert f"Withdraw deviation {deviation.number}?" in step
    assert "17:30 at warehouse EU-RTM" in step and "its approval request is cancelled" in step
    assert "Withdraw the request" in step and "button--danger" in step
    # The old one-click form and a POST that skipped the step change nothing.
    old = operator.post(reverse("governance:policy-deviation-act", args=[deviation.pk]), {"action": "withdraw"})
    assert old.status_code == 302 and old["Location"] == withdraw
    skipped = operator.post(withdraw)
    assert skipped.status_code == 200 and "Nothing has been done yet" in skipped.content.decode()
    assert PolicyDeviation.objects.get().status == "requested"

    done = operator.post(withdraw, {"confirm": "yes"}, follow=True)

    assert PolicyDeviation.objects.get().status == "withdrawn"
    assert f"{deviation.number} is withdrawn." in done.content.decode()


def test_stopping_an_approved_deviation_names_the_standard_it_returns_to(user):
    operator, owner = browser(user, "eu.operator"), browser(user, "owner")
    deviation = _requested(operator)
    owner.post(reverse("governance:policy-deviation-act", args=[deviation.pk]), {"action": "approve", "note": "ok"})
    withdraw = reverse("governance:policy-deviation-withdraw", args=[deviation.pk])

    step = operator.get(withdraw).content.decode()

    assert f"Stop deviation {deviation.number}?" in step and "Stop the deviation now" in step
    assert "goes back from 17:30 to the standard" in step
    assert PolicyDeviation.objects.get().status == "approved"
    someone_else = browser(user, "ne.operator")  # not in scope: no step at all
    assert someone_else.get(withdraw).status_code == 404
