"""Policies, deviations and the difference report through the API: the issue's "done when" path first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from erp import services as platform
from governance.models import ApprovalRequest, Policy, PolicyDeviation
from governance.services.policies import policy_owner_set

pytestmark = pytest.mark.django_db

CUTOFF = "fulfillment.shipping_cutoff"


def _today():
    return timezone.now().date()


def request_cutoff(client, *, scope_type="warehouse", scope="EU-RTM", value="17:30", days=(1, 30), **extra):
    body = {"policy": CUTOFF, "scope_type": scope_type, "scope": scope, "value": value,
            "rationale": "Rotterdam's carriers collect at 18:00 since the new contract.",
            "effective_from": str(_today() + timedelta(days=days[0])),
            "effective_to": str(_today() + timedelta(days=days[1])), **extra}
    return client.post(reverse("api:policy-deviation-list"), body, format="json")


def resolve(client, **site):
    return client.get(reverse("api:policy-resolve", args=[CUTOFF]), site)


def test_the_done_when_path_a_requested_cutoff_is_approved_by_the_owner_only_and_then_resolves(api_as):
    operator, owner = api_as("eu.operator"), api_as("owner")
    created = request_cutoff(operator, days=(0, 30))
    assert created.status_code == 201, created.content
    deviation = created.json()
    assert deviation["status"] == "requested" and deviation["number"].startswith("DEV-")
    assert deviation["requested_by"] == "eu.operator" and deviation["approval_state"] == "pending"

    refused = operator.post(reverse("api:policy-deviation-approve", args=[deviation["id"]]), {}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "self_approval_forbidden"
    assert resolve(operator, warehouse="EU-RTM").json()["source"] == "enterprise"

    approved = owner.post(reverse("api:policy-deviation-approve", args=[deviation["id"]]),
                          {"note": "Agreed for the season."}, format="json")
    assert approved.status_code == 200, approved.content
    body = approved.json()
    assert body["status"] == "approved" and body["decided_by"] == "owner"
    assert body["decision_note"] == "Agreed for the season." and body["approval_state"] == "approved"

    at_rtm = resolve(operator, warehouse="EU-RTM").json()
    assert at_rtm["value"] == "17:30" and at_rtm["source"] == "warehouse:EU-RTM"
    assert at_rtm["deviation"]["number"] == deviation["number"]
    at_bos = resolve(api_as("ne.operator"), warehouse="NE-BOS").json()
    assert at_bos == {"key": CUTOFF, "value": "15:00", "source": "enterprise", "deviation": None}

    report = operator.get(reverse("api:difference-from-core-list"), {"warehouse": "EU-RTM"}).json()
    assert report["site"] == "EU-RTM"
    [row] = [r for r in report["results"] if r["policy"] == CUTOFF]
    assert row["value"] == "17:30" and row["standard_value"] == "15:00" and row["approved_by"] == "owner"
    assert row["applies"] is True and row["effective_to"] == str(_today() + timedelta(days=30))
    csv_text = operator.get(reverse("api:difference-from-core-csv"), {"warehouse": "EU-RTM"}).content.decode()
    assert deviation["number"] in csv_text and '"""17:30"""' in csv_text
    network = operator.get(reverse("api:difference-from-core-network")).json()["results"]
    assert network[0]["warehouse"] == "EU-RTM" and network[0]["total"] == 1
    assert {row["warehouse"] for row in network} == {"EU-RTM", "EU-DUS"}


def test_a_process_owner_who_is_not_the_policy_owner_and_a_stranger_are_refused(api_as, user):
    named = get_user_model().objects.create_user("cutoff.owner", password="x-unused-x")
    named.groups.add(Group.objects.get(name="Process owner"))
    platform.scope_grant(user=named, actor=None, enterprise=True)
    policy_owner_set(policy=Policy.objects.get(key=CUTOFF), actor=user("admin"), owner_user=named)
    deviation = request_cutoff(api_as("eu.operator")).json()
    url = reverse("api:policy-deviation-approve", args=[deviation["id"]])
    for other in ("owner", "planner"):  # a process owner of other policies, and a stranger
        refused = api_as(other).post(url, {}, format="json")
        assert refused.status_code == 403 and refused.json()["code"] == "not_an_approver", (other, refused.content)
    assert PolicyDeviation.objects.get(pk=deviation["id"]).status == "requested"
    client = APIClient()
    client.force_authenticate(named)
    approved = client.post(url, {}, format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.content


def test_the_owner_rejects_and_the_deviation_never_applies(api_as):
    deviation = request_cutoff(api_as("eu.operator"), days=(0, 5)).json()
    rejected = api_as("owner").post(reverse("api:policy-deviation-reject", args=[deviation["id"]]),
                                    {"note": "Carrier contract not signed."}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert resolve(api_as("eu.operator"), warehouse="EU-RTM").json()["source"] == "enterprise"
    again = api_as("owner").post(reverse("api:policy-deviation-approve", args=[deviation["id"]]), {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


def test_a_region_deviation_applies_to_its_warehouses_until_a_warehouse_deviation_beats_it(api_as):
    operator, owner = api_as("eu.operator"), api_as("owner")
    region_dev = request_cutoff(operator, scope_type="region", scope="EU", value="16:00", days=(0, 30)).json()
    owner.post(reverse("api:policy-deviation-approve", args=[region_dev["id"]]), {}, format="json")
    assert resolve(operator, warehouse="EU-DUS").json()["source"] == "region:EU"
    assert resolve(operator, region="EU").json()["value"] == "16:00"
    wh_dev = request_cutoff(operator, value="17:30", days=(0, 30)).json()
    owner.post(reverse("api:policy-deviation-approve", args=[wh_dev["id"]]), {}, format="json")
    assert resolve(operator, warehouse="EU-RTM").json()["source"] == "warehouse:EU-RTM"
    assert resolve(operator, warehouse="EU-DUS").json()["value"] == "16:00"
    report = operator.get(reverse("api:difference-from-core-list"), {"warehouse": "EU-RTM"}).json()["results"]
    assert {(r["source"], r["applies"]) for r in report} == {("warehouse:EU-RTM", True), ("region:EU", False)}


def test_withdrawing_an_approved_deviation_stops_it_at_once_and_a_requested_one_cancels_its_approval(api_as):
    operator, owner = api_as("eu.operator"), api_as("owner")
    deviation = request_cutoff(operator, days=(0, 30)).json()
    owner.post(reverse("api:policy-deviation-approve", args=[deviation["id"]]), {}, format="json")
    stranger = api_as("planner").post(reverse("api:policy-deviation-withdraw", args=[deviation["id"]]), {},
                                      format="json")
    assert stranger.status_code == 403
    withdrawn = operator.post(reverse("api:policy-deviation-withdraw", args=[deviation["id"]]), {}, format="json")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert resolve(operator, warehouse="EU-RTM").json()["source"] == "enterprise"

    pending = request_cutoff(operator, days=(40, 50)).json()
    operator.post(reverse("api:policy-deviation-withdraw", args=[pending["id"]]), {}, format="json")
    assert ApprovalRequest.objects.get(pk=pending["approval_request"]).status == "cancelled"


def test_requesting_dates_that_overlap_an_approved_deviation_is_a_conflict(api_as):
    operator = api_as("eu.operator")
    first = request_cutoff(operator, days=(1, 10)).json()
    api_as("owner").post(reverse("api:policy-deviation-approve", args=[first["id"]]), {}, format="json")
    overlapping = request_cutoff(operator, days=(10, 20))
    assert overlapping.status_code == 409 and overlapping.json()["code"] == "deviation_overlap"
    assert request_cutoff(operator, days=(11, 20)).status_code == 201  # adjacent is fine


def test_resolving_outside_the_scope_or_an_unknown_policy_answers_404(api_as):
    ne = api_as("ne.operator")
    assert resolve(ne, warehouse="EU-RTM").status_code == 404
    assert resolve(ne, region="EU").status_code == 404
    unknown = ne.get(reverse("api:policy-resolve", args=["no.such_policy"]), {"warehouse": "NE-BOS"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert ne.get(reverse("api:difference-from-core-list"), {"warehouse": "EU-RTM"}).status_code == 404


def test_the_policy_catalog_lists_every_declared_policy_with_its_standard_and_owner(api_as):
    body = api_as("ne.operator").get(reverse("api:policy-list"), {"page_size": 500}).json()
    by_key = {row["key"]: row for row in body["results"]}
    assert by_key[CUTOFF]["value"] == "15:00" and by_key[CUTOFF]["owner"] == "Process owner"
    assert by_key[CUTOFF]["value_type"] == "local_time" and by_key[CUTOFF]["localizable"] is True
    assert {"procurement.approval_matrix", "exceptions.sla", "inventory.count_variance_tolerance"} <= set(by_key)
    detail = api_as("ne.operator").get(reverse("api:policy-detail", args=["exceptions.sla"])).json()
    assert detail["type_spec"]["type"] == "number_by_key"
    assert Policy.objects.count() == body["count"]


def test_an_idempotency_key_replays_the_request_without_a_second_deviation(api_as):
    operator = api_as("eu.operator")
    body = {"policy": CUTOFF, "scope_type": "warehouse", "scope": "EU-RTM", "value": "17:30",
            "rationale": "Rotterdam's carriers collect later.", "effective_from": str(_today()),
            "effective_to": str(_today() + timedelta(days=3))}
    url = reverse("api:policy-deviation-list")
    one = operator.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="dev-key-1")
    two = operator.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="dev-key-1")
    assert one.status_code == two.status_code == 201 and one.json() == two.json()
    assert PolicyDeviation.objects.count() == 1


@pytest.mark.parametrize("rows", [1, 12])
def test_listing_deviations_and_the_difference_report_cost_the_same_queries_whatever_the_row_count(
        rows, api_as, django_assert_num_queries):
    operator = api_as("eu.operator")
    for n in range(rows):
        request_cutoff(operator, days=(n * 2, n * 2 + 1))
    operator.get(reverse("api:policy-deviation-list"))  # warm the scope cache on the user
    with django_assert_num_queries(2):  # count, page
        response = operator.get(reverse("api:policy-deviation-list"))
    assert response.json()["count"] == rows
    owner = api_as("owner")
    for deviation in PolicyDeviation.objects.all():
        owner.post(reverse("api:policy-deviation-approve", args=[deviation.pk]), {}, format="json")
    with django_assert_num_queries(2):  # the warehouse, the deviations
        report = operator.get(reverse("api:difference-from-core-list"), {"warehouse": "EU-RTM"})
    assert report.json()["count"] == rows
    with django_assert_num_queries(2):  # the warehouses, the deviations
        operator.get(reverse("api:difference-from-core-network"))
    with django_assert_num_queries(2):
        operator.get(reverse("api:policy-list"))
