"""Review fixes in the policy area: whole-region scope, deviation approval scope, expiry on the last
calendar, policy ownership assignment, and the deviation page's audit history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from erp import services as platform
from erp.exceptions import DomainError, ValidationFailed
from erp.scoping import forget_scope, scope_of
from governance.models import ApprovalStep, Policy, PolicyDeviation
from governance.selectors import policy_value
from governance.services import deviations as services
from governance.services.policies import policies_sync, policy_owner_set
from governance.views.policies import DeviationForm
from warehouses.models import Region, Warehouse

pytestmark = pytest.mark.django_db

CUTOFF = "fulfillment.shipping_cutoff"


def _someone(username, *, role="Planner", regions=(), warehouses=()):
    person = get_user_model().objects.create_user(username, password="x-unused-x")
    person.groups.add(Group.objects.get(name=role))
    platform.scope_grant(user=person, actor=None, regions=[Region.objects.get(code=c) for c in regions],
                         warehouses=[Warehouse.objects.get(code=c) for c in warehouses])
    return person


def _client(person):
    client = APIClient()
    client.force_authenticate(person)
    return client


def _request(actor, *, scope_type="warehouse", scope="EU-RTM", start=0, end=10, value="17:30"):
    today = timezone.now().date()
    return services.deviation_request(
        policy_key=CUTOFF, scope_type=scope_type, scope_code=scope, value=value,
        rationale="Carriers collect later at this site.", effective_from=today + timedelta(days=start),
        effective_to=today + timedelta(days=end), actor=actor)


# --- 1. a region is covered wholly, or not -------------------------------------------------------------


def test_one_warehouse_of_a_region_reads_the_region_but_does_not_cover_it_wholly(demo):
    eu = Region.objects.get(code="EU")
    rtm_only = _someone("rtm.only", warehouses=["EU-RTM"])
    both = _someone("eu.both", warehouses=["EU-RTM", "EU-DUS"])
    granted = _someone("eu.granted", regions=["EU"])

    assert scope_of(rtm_only).covers_region(eu.pk) and not scope_of(rtm_only).covers_whole_region(eu.pk)
    assert scope_of(rtm_only).full_region_ids == frozenset()
    assert scope_of(both).covers_whole_region(eu.pk)
    assert scope_of(granted).covers_whole_region(eu.pk)
    assert not scope_of(granted).covers_whole_region(Region.objects.get(code="NE").pk)
    assert scope_of(get_user_model().objects.get(username="owner")).covers_whole_region(eu.pk)  # enterprise


def test_the_scope_costs_the_same_few_queries_however_many_warehouses_are_granted(demo):
    few = _someone("few.grants", warehouses=["EU-RTM"])
    many = _someone("many.grants", warehouses=list(Warehouse.objects.values_list("code", flat=True)))
    forget_scope(few)
    forget_scope(many)
    with CaptureQueriesContext(connection) as one:
        scope_of(few)
    with CaptureQueriesContext(connection) as other:
        scope = scope_of(many)
    assert len(one.captured_queries) == len(other.captured_queries) <= 6
    assert len(scope.full_region_ids) == Region.objects.filter(warehouses__isnull=False).distinct().count()


def test_a_user_with_one_warehouse_of_a_region_cannot_request_a_deviation_for_the_region(demo):
    rtm_only = _someone("rtm.only", warehouses=["EU-RTM"])
    before = PolicyDeviation.objects.count()

    with pytest.raises(ValidationFailed) as refused:
        _request(rtm_only, scope_type="region", scope="EU")
    assert refused.value.detail == {"scope": ["Region 'EU' does not exist."]}
    response = _client(rtm_only).post(reverse("api:policy-deviation-list"), {
        "policy": CUTOFF, "scope_type": "region", "scope": "EU", "value": "17:30",
        "rationale": "Carriers collect later in the region.", "effective_from": str(timezone.now().date()),
        "effective_to": str(timezone.now().date() + timedelta(days=3))}, format="json")
    assert response.status_code == 400 and response.json()["detail"] == {"scope": ["Region 'EU' does not exist."]}
    assert PolicyDeviation.objects.count() == before
    # The warehouse itself is in scope, and a user with the whole region may ask for the region.
    assert _request(rtm_only).warehouse.code == "EU-RTM"
    assert _request(_someone("eu.both", warehouses=["EU-RTM", "EU-DUS"]), scope_type="region", scope="EU").region.code \
        == "EU"


def test_the_request_form_offers_only_regions_the_user_covers_wholly(demo):
    policy = Policy.objects.get(key=CUTOFF)
    rtm_only = _someone("rtm.only", warehouses=["EU-RTM"])
    offered = {value for value, _ in DeviationForm(policy=policy, user=rtm_only).fields["site"].choices}
    assert offered == {"warehouse:EU-RTM"}
    eu_operator = get_user_model().objects.get(username="eu.operator")
    offered = {value for value, _ in DeviationForm(policy=policy, user=eu_operator).fields["site"].choices}
    assert offered == {"warehouse:EU-RTM", "warehouse:EU-DUS", "region:EU"}


# --- 2. the deviation's approval step is scoped to the site ------------------------------------------------


def test_a_process_owner_scoped_to_ne_cannot_approve_an_eu_deviation_by_either_route(demo, user):
    ne_owner = _someone("ne.owner", role="Process owner", regions=["NE"])
    client = _client(ne_owner)
    for scope_type, code in (("warehouse", "EU-RTM"), ("region", "EU")):
        deviation = _request(user("eu.operator"), scope_type=scope_type, scope=code)
        on_deviation = client.post(reverse("api:policy-deviation-approve", args=[deviation.pk]), {}, format="json")
        on_request = client.post(reverse("api:approval-approve", args=[deviation.approval_request_id]), {},
                                 format="json")
        assert on_deviation.status_code == 404, on_deviation.content
        assert on_request.status_code == 404 and on_request.json()["code"] == "not_found", on_request.content
        assert PolicyDeviation.objects.get(pk=deviation.pk).status == "requested"
        step = ApprovalStep.objects.get(request_id=deviation.approval_request_id)
        assert step.scope_level == scope_type and step.approver_user is None

        approved = _client(user("owner")).post(reverse("api:approval-approve", args=[deviation.approval_request_id]),
                                               {}, format="json")
        assert approved.status_code == 200, approved.content
        assert PolicyDeviation.objects.get(pk=deviation.pk).status == "approved"


def test_the_ne_scoped_process_owner_still_approves_a_deviation_in_ne(demo, user):
    ne_owner = _someone("ne.owner", role="Process owner", regions=["NE"])
    deviation = _request(user("ne.operator"), scope="NE-BOS")
    response = _client(ne_owner).post(reverse("api:policy-deviation-approve", args=[deviation.pk]), {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"


# --- 3. expiry waits until the last day is over everywhere ---------------------------------------------------


def test_a_boston_deviation_is_not_expired_at_22_00_new_york_time_on_its_last_day(demo, user):
    deviation = _request(user("ne.operator"), scope="NE-BOS", start=0, end=2)
    services.deviation_approve(deviation=deviation, actor=user("owner"))
    last_day = deviation.effective_to
    late_evening = datetime(last_day.year, last_day.month, last_day.day, 22, 0,
                            tzinfo=ZoneInfo("America/New_York"))
    assert late_evening.astimezone(UTC).date() > last_day  # the UTC date has moved on already
    boston = Warehouse.objects.get(code="NE-BOS")

    assert services.deviations_expire(actor=None, at=late_evening) == 0
    assert PolicyDeviation.objects.get(pk=deviation.pk).status == "approved"
    assert policy_value(CUTOFF, warehouse=boston, at=late_evening).value == "17:30"

    # Once the last day is over on every calendar, it expires (and the resolver had stopped already).
    over_everywhere = datetime(last_day.year, last_day.month, last_day.day, tzinfo=ZoneInfo("Etc/GMT+12")) \
        + timedelta(days=1, minutes=1)
    assert policy_value(CUTOFF, warehouse=boston, at=over_everywhere).source == "enterprise"
    assert services.deviations_expire(actor=None, at=over_everywhere) == 1
    assert PolicyDeviation.objects.get(pk=deviation.pk).status == "expired"


def test_the_review_notice_still_reaches_a_deviation_on_its_last_evening_in_new_york(demo, user):
    deviation = _request(user("ne.operator"), scope="NE-BOS", start=0, end=1)
    services.deviation_approve(deviation=deviation, actor=user("owner"))
    last_day = deviation.effective_to
    late_evening = datetime(last_day.year, last_day.month, last_day.day, 22, 0,
                            tzinfo=ZoneInfo("America/New_York"))
    assert services.deviations_review_notify(actor=None, at=late_evening) == 1


def test_the_earliest_date_anywhere_is_the_date_at_utc_minus_12(demo):
    at = datetime(2026, 3, 8, 11, 59, tzinfo=UTC)
    assert services.earliest_date_anywhere(at) == date(2026, 3, 7)
    assert services.earliest_date_anywhere(at + timedelta(minutes=1)) == date(2026, 3, 8)


# --- 5. policy ownership ------------------------------------------------------------------------------------


@pytest.fixture
def second_owner(demo):
    return _someone("second.owner", role="Process owner", regions=["EU"])


def test_an_administrator_assigns_a_user_owner_and_new_deviations_go_to_that_user(demo, user, second_owner):
    response = _client(user("admin")).patch(reverse("api:policy-detail", args=[CUTOFF]),
                                            {"owner_user": "second.owner"}, format="json")
    assert response.status_code == 200 and response.json()["owner"] == "second.owner"
    policy = Policy.objects.get(key=CUTOFF)
    assert policy.owner_user == second_owner and policy.owner_group is None

    deviation = _request(user("eu.operator"))
    step = ApprovalStep.objects.get(request_id=deviation.approval_request_id)
    assert step.approver_user == second_owner and step.approver_group is None and step.scope_level == "enterprise"
    refused = _client(user("owner")).post(reverse("api:policy-deviation-approve", args=[deviation.pk]), {},
                                          format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "not_an_approver"
    approved = _client(second_owner).post(reverse("api:policy-deviation-approve", args=[deviation.pk]), {},
                                          format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"

    # Syncing the catalog keeps the assigned owner.
    policies_sync(actor=None)
    policy.refresh_from_db()
    assert policy.owner_user == second_owner and policy.owner_group is None


def test_an_administrator_role_user_assigns_a_group_owner(demo, user):
    administrator = _someone("an.administrator", role="Administrator", regions=["NE"])
    Group.objects.create(name="Fulfillment owners")
    response = _client(administrator).patch(reverse("api:policy-detail", args=[CUTOFF]),
                                            {"owner_group": "Fulfillment owners"}, format="json")
    assert response.status_code == 200 and response.json()["owner"] == "Fulfillment owners"


@pytest.mark.parametrize("username", ["owner", "planner", "eu.operator", "finance"])
def test_roles_without_change_policy_may_not_assign_an_owner(username, api_as):
    response = api_as(username).patch(reverse("api:policy-detail", args=[CUTOFF]), {"owner_user": "owner"},
                                      format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert Policy.objects.get(key=CUTOFF).owner_user is None


BAD_OWNERS = [
    ({}, "owner"),
    ({"owner_user": "owner", "owner_group": "Process owner"}, "owner"),
    ({"owner_user": "nobody.here"}, "owner_user"),
    ({"owner_user": "planner"}, "owner_user"),  # not in the "Process owner" group
    ({"owner_group": "No such group"}, "owner_group"),
    ({"owner_user": ""}, "owner_user"),
    ({"owner_user": 5}, "owner_user"),
    ({"owner_user": None}, "owner_user"),
    ({"owner": "owner"}, "owner"),
    (["owner"], "non_field_errors"),
]


@pytest.mark.parametrize(("body", "field"), BAD_OWNERS)
def test_bad_owner_assignments_answer_400_and_change_nothing(body, field, user):
    before = list(Policy.objects.order_by("pk").values_list("pk", "owner_user_id", "owner_group_id", "updated_at"))
    response = _client(user("admin")).patch(reverse("api:policy-detail", args=[CUTOFF]), body, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"code", "message", "detail"}
    assert field in response.json()["detail"], response.json()
    assert list(Policy.objects.order_by("pk").values_list("pk", "owner_user_id", "owner_group_id",
                                                          "updated_at")) == before


def test_patching_an_unknown_policy_answers_404(user):
    response = _client(user("admin")).patch(reverse("api:policy-detail", args=["no.such_policy"]),
                                            {"owner_user": "owner"}, format="json")
    assert response.status_code == 404 and response.json()["code"] in {"not_found", "unknown_policy"}


def test_the_service_refuses_non_administrators_and_inactive_or_outside_owners(demo, user, second_owner):
    policy = Policy.objects.get(key=CUTOFF)
    with pytest.raises(DomainError) as refused:
        policy_owner_set(policy=policy, actor=user("owner"), owner_user=second_owner)
    assert refused.value.code == "permission_denied"
    second_owner.is_active = False
    second_owner.save()
    with pytest.raises(ValidationFailed):
        policy_owner_set(policy=policy, actor=user("admin"), owner_user=second_owner)
    with pytest.raises(ValidationFailed):
        policy_owner_set(policy=policy, actor=user("admin"))
    policy.refresh_from_db()
    assert policy.owner_user is None and policy.owner_group.name == "Process owner"


def test_the_admin_edits_only_the_owner_and_saves_it_through_the_service(demo, user, second_owner, client):
    client.force_login(user("admin"))
    policy = Policy.objects.get(key=CUTOFF)
    url = reverse("admin:governance_policy_change", args=[policy.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert set(form.fields) == {"owner_user", "owner_group"}

    refused = client.post(url, {"owner_user": second_owner.pk, "owner_group": policy.owner_group_id})
    assert refused.status_code == 200 and b"exactly one" in refused.content
    policy.refresh_from_db()
    assert policy.owner_user is None

    saved = client.post(url, {"owner_user": second_owner.pk, "owner_group": ""})
    assert saved.status_code == 302, saved.content[:500]
    policy.refresh_from_db()
    assert policy.owner_user == second_owner and policy.owner_group is None


# --- 6. the deviation page shows its history -------------------------------------------------------------


def test_the_deviation_page_shows_its_audit_history(demo, user, client):
    deviation = _request(user("eu.operator"))
    client.force_login(user("owner"))
    page = client.get(reverse("governance:policy-deviation-detail", args=[deviation.pk]))
    assert page.status_code == 200
    assert f'id="audit-history-governance_policydeviation-{deviation.pk}"'.encode() in page.content
