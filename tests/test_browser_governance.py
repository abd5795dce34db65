"""Issue 3's acceptance path in a real browser: a local cut-off requested, refused to its requester,
approved by the process owner, resolved per site, shown in the difference report; an exception past
its SLA escalated exactly once and shown on the planner's dashboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from governance.models import EscalationEvent, OperationalException
from governance.services.exceptions import exceptions_escalate
from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures and helper)

pytestmark = [pytest.mark.browser]


@pytest.fixture
def overdue_exception(demo: Any) -> OperationalException:
    """The demo's NE-NYC shortage, raised 30 hours ago, escalated by two beat runs (the second a no-op).

    Set up before the browser starts: Django refuses database work while Playwright's loop runs.
    """
    exception = OperationalException.objects.get(business_key="demo:shortage:NE-NYC:BEV-0002")
    assert exception.due_at < timezone.now()
    exceptions_escalate(actor=None)
    exceptions_escalate(actor=None)
    exception.refresh_from_db()
    assert exception.escalation_level == 1
    assert EscalationEvent.objects.filter(exception=exception).count() == 1
    return exception


def test_a_local_cutoff_is_requested_refused_to_its_requester_approved_by_the_owner_and_reported(
    overdue_exception: OperationalException, request: Any, live_server: Any
) -> None:
    from playwright.sync_api import expect

    new_page = request.getfixturevalue("open_page")
    last_day = (timezone.localdate() + timedelta(days=30)).isoformat()

    page, watch = new_page(1280, 900)
    sign_in(page, live_server, "eu.operator", "/governance/policies/fulfillment.shipping_cutoff/request/")
    page.select_option("#id_site", "warehouse:EU-RTM")
    page.fill("#id_value", "17:30")
    page.fill("#id_rationale", "Rotterdam carriers collect at 18:00 on weekdays")
    page.fill("#id_effective_to", last_day)
    page.get_by_role("button", name="Request", exact=True).click()
    expect(page.get_by_text("You requested this deviation; the policy's process owner decides it.")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    deviation_url = page.url
    # Forcing the decision anyway (the form is not offered, the endpoint still refuses).
    token = page.input_value("input[name=csrfmiddlewaretoken]")
    forced = page.request.post(deviation_url + "act/", form={"action": "approve", "csrfmiddlewaretoken": token})
    assert forced.ok
    page.goto(deviation_url)
    expect(page.locator(".deviation-status")).to_have_text("Requested")
    watch.assert_clean(live_server.url)

    owner, owner_watch = new_page(1280, 900)
    sign_in(owner, live_server, "owner", deviation_url.removeprefix(live_server.url))
    owner.get_by_role("button", name="Approve").click()
    expect(owner.locator(".deviation-status")).to_have_text("Approved")
    owner.goto(live_server.url + "/governance/policies/difference/?warehouse=EU-RTM")
    row = owner.locator("tr", has_text="Fulfillment: shipping cutoff")  # the key only in its tooltip
    expect(row).to_contain_text("17:30")
    expect(row).to_contain_text("15:00")
    owner_watch.assert_clean(live_server.url)

    planner, planner_watch = new_page(1280, 900)
    sign_in(planner, live_server, "planner", "/governance/exceptions/")
    escalated = planner.locator("tr", has_text=overdue_exception.number)
    expect(escalated).to_contain_text("Warehouse supervisor")  # the role's name, not its key
    expect(escalated).to_contain_text("L1")
    planner_watch.assert_clean(live_server.url)

