"""Scope administration (issue 12, item 9): an administrator grants and revokes roles and scope, only inside their
own scope, through ``users/`` in the API, the Users screen, the admin and ``manage.py grant_scope``; every grant
is on the audit trail."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from erp import services
from erp.scoping import scope_of
from erp.selectors import ScopeSpec, user_access
from governance.models import AuditEvent
from tests.races import race
from warehouses.models import Warehouse

URL = "/api/v1/users/"


def make_user(username: str, roles: list[str], scope: ScopeSpec | None, password: str | None = None) -> Any:
    return services.user_access_set(username=username, actor=None, create=True, roles=roles, scope=scope,
                                    password=password)


def region_admin(region: str = "NE") -> Any:
    return make_user(f"{region.lower()}.admin", ["administrator"], ScopeSpec("regions", (region,)))


def client_of(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def access_of(username: str) -> tuple[list[str], dict[str, Any]]:
    user = get_user_model().objects.get(username=username)
    access = user_access([user])[user.pk]
    return access.roles, access.scope.as_dict()


def warehouse_codes(user: Any) -> set[str]:
    fresh = get_user_model().objects.get(pk=user.pk)
    return set(Warehouse.objects.filter(pk__in=scope_of(fresh).warehouse_ids).values_list("code", flat=True))


@pytest.mark.django_db
class TestTheApi:
    def test_an_administrator_creates_a_user_with_roles_and_a_warehouse_scope(self, api_as):
        response = api_as("admin").post(URL, {"username": "bos.picker", "email": "p@example.com",
                                              "roles": ["warehouse_operator"],
                                              "scope": {"type": "warehouses", "warehouses": ["NE-BOS"]}},
                                        format="json")
        assert response.status_code == 201, response.json()
        assert response.json() == {"username": "bos.picker", "email": "p@example.com", "active": True,
                                   "roles": ["warehouse_operator"],
                                   "scope": {"type": "warehouses", "warehouses": ["NE-BOS"]}}
        assert warehouse_codes(get_user_model().objects.get(username="bos.picker")) == {"NE-BOS"}

    def test_a_patch_replaces_roles_and_scope_exactly(self, api_as):
        make_user("mover", ["warehouse_operator", "planner"], ScopeSpec("warehouses", warehouses=("NE-BOS", "NE-NYC")))
        response = api_as("admin").patch(f"{URL}mover/", {"roles": ["buyer"],
                                                          "scope": {"type": "regions", "regions": ["EU"]}},
                                         format="json")
        assert response.status_code == 200, response.json()
        assert access_of("mover") == (["buyer"], {"type": "regions", "regions": ["EU"]})
        assert warehouse_codes(get_user_model().objects.get(username="mover")) == {"EU-RTM", "EU-DUS"}

    def test_a_patch_that_leaves_the_scope_out_keeps_it(self, api_as):
        make_user("keeper", ["planner"], ScopeSpec("warehouses", warehouses=("NE-BOS",)))
        response = api_as("admin").patch(f"{URL}keeper/", {"email": "keeper@example.com"}, format="json")
        assert response.status_code == 200, response.json()
        assert access_of("keeper") == (["planner"], {"type": "warehouses", "warehouses": ["NE-BOS"]})
        assert get_user_model().objects.get(username="keeper").email == "keeper@example.com"

    def test_the_same_idempotency_key_creates_one_user(self, api_as):
        client = api_as("admin")
        body = {"username": "once", "roles": [], "scope": {"type": "enterprise"}}
        first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="u-1")
        second = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="u-1")
        assert first.status_code == second.status_code == 201
        assert second["Idempotent-Replayed"] == "true"
        assert get_user_model().objects.filter(username="once").count() == 1

    @pytest.mark.parametrize(("body", "status", "code", "field"), [
        ({"username": "x1", "roles": ["wizard"]}, 400, "validation_error", "roles"),
        ({"username": "x2", "scope": {"type": "regions", "regions": ["ZZ"]}}, 400, "validation_error", "scope"),
        ({"username": "x3", "scope": {"type": "warehouses", "warehouses": ["NE-XXX"]}}, 400, "validation_error",
         "scope"),
        ({"username": "x4", "scope": {"type": "galaxy"}}, 400, "validation_error", "scope"),
        ({"username": "x5", "scope": {"type": "regions"}}, 400, "validation_error", "scope"),
        ({"username": "x6", "scope": {"type": "regions", "regions": ["NE"], "warehouses": ["EU-RTM"]}}, 400,
         "validation_error", "scope"),
        ({"username": "x7", "scope": "enterprise"}, 400, "validation_error", "scope"),
        ({"username": "bad name!"}, 400, "validation_error", "username"),
        ({"username": "x8", "email": "not-an-email"}, 400, "validation_error", "email"),
        ({"username": "x9", "active": "perhaps"}, 400, "validation_error", "active"),
        ({"username": "x10", "superuser": True}, 400, "validation_error", "superuser"),
        ({"roles": ["buyer"]}, 400, "validation_error", "username"),
        ({"username": "ne.operator"}, 409, "user_exists", "username"),
    ])
    def test_bad_input_is_refused_in_the_error_shape_and_changes_nothing(self, api_as, body, status, code, field):
        before = get_user_model().objects.count()
        response = api_as("admin").post(URL, body, format="json")
        assert response.status_code == status, response.json()
        payload = response.json()
        assert payload["code"] == code and payload["message"]
        assert field in str(payload["detail"])
        assert get_user_model().objects.count() == before

    def test_a_bad_patch_changes_nothing(self, api_as):
        before = access_of("ne.operator")
        response = api_as("admin").patch(f"{URL}ne.operator/", {"roles": ["buyer"],
                                                                "scope": {"type": "regions", "regions": ["ZZ"]}},
                                         format="json")
        assert response.status_code == 400
        assert access_of("ne.operator") == before

    @pytest.mark.parametrize("username", ["ne.operator", "planner", "buyer"])
    def test_a_user_without_the_administrator_role_may_not_manage_users(self, api_as, username):
        client = api_as(username)
        assert client.get(URL).status_code == 403
        response = client.patch(f"{URL}{username}/", {"scope": {"type": "enterprise"}}, format="json")
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
        assert client.post(URL, {"username": "sneaky"}, format="json").status_code == 403


@pytest.mark.django_db
class TestARegionAdministrator:
    def test_sees_only_the_users_inside_their_region(self, demo):
        body = client_of(region_admin()).get(URL, {"page_size": 500}).json()
        listed = {row["username"] for row in body["results"]}
        assert {"ne.operator", "ne.service", "ne.supervisor", "ne.admin"} <= listed
        assert not listed & {"admin", "planner", "eu.operator", "buyer", "integrator"}
        assert body["count"] == len(listed)

    def test_cannot_open_or_change_a_user_outside_their_region(self, demo):
        client = client_of(region_admin())
        assert client.get(f"{URL}eu.operator/").status_code == 404
        response = client.patch(f"{URL}eu.operator/", {"roles": []}, format="json")
        assert response.status_code == 404
        assert access_of("eu.operator")[0] == ["warehouse_operator"]

    @pytest.mark.parametrize("scope", [
        {"type": "enterprise"},
        {"type": "regions", "regions": ["EU"]},
        {"type": "warehouses", "warehouses": ["NE-BOS", "EU-RTM"]},
    ])
    def test_cannot_grant_outside_their_region(self, demo, scope):
        client = client_of(region_admin())
        before = access_of("ne.operator")
        response = client.patch(f"{URL}ne.operator/", {"roles": ["buyer"], "scope": scope}, format="json")
        assert response.status_code == 403, response.json()
        assert response.json()["code"] == "outside_scope"
        assert access_of("ne.operator") == before
        created = client.post(URL, {"username": "far.away", "scope": scope}, format="json")
        assert created.status_code == 403
        assert not get_user_model().objects.filter(username="far.away").exists()

    def test_grants_inside_their_region(self, demo):
        client = client_of(region_admin())
        response = client.patch(f"{URL}ne.operator/", {"scope": {"type": "warehouses", "warehouses": ["NE-NYC"]}},
                                format="json")
        assert response.status_code == 200
        assert warehouse_codes(get_user_model().objects.get(username="ne.operator")) == {"NE-NYC"}

    def test_a_warehouse_administrator_cannot_grant_the_whole_region(self, demo):
        bos_admin = make_user("bos.admin", ["administrator"], ScopeSpec("warehouses", warehouses=("NE-BOS",)))
        response = client_of(bos_admin).post(URL, {"username": "n1", "scope": {"type": "regions", "regions": ["NE"]}},
                                             format="json")
        assert response.status_code == 403
        assert "region NE" in response.json()["message"]


@pytest.mark.django_db
def test_every_grant_and_revoke_is_on_the_audit_trail_with_its_actor(api_as, user):
    admin = user("admin")
    api_as("admin").patch(f"{URL}ne.service/", {"roles": ["customer_service"],
                                                "scope": {"type": "warehouses", "warehouses": ["NE-BOS"]}},
                          format="json")
    target = user("ne.service")
    grants = AuditEvent.objects.filter(table_name="guardian_userobjectpermission", actor=admin,
                                       changes__user_id=target.pk)
    assert grants.filter(operation="INSERT").count() == 1  # NE-BOS granted
    assert grants.filter(operation="DELETE").count() == 1  # region NE revoked

    from governance.audit import access_history

    texts = [change.text for change in access_history(target, admin)]
    assert "Granted warehouse NE-BOS" in texts and "Revoked region NE" in texts


@pytest.mark.django_db
class TestTheCommand:
    def test_grant_scope_creates_and_replaces(self, demo):
        out = StringIO()
        call_command("grant_scope", "cmd.user", "--roles", "planner", "--regions", "NE", stdout=out)
        assert "cmd.user: roles planner; scope region NE" in out.getvalue()
        call_command("grant_scope", "cmd.user", "--warehouses", "EU-RTM", stdout=out)
        assert access_of("cmd.user") == (["planner"], {"type": "warehouses", "warehouses": ["EU-RTM"]})

    def test_revoke_takes_away_only_what_is_named(self, demo):
        make_user("cmd.two", ["planner", "buyer"], ScopeSpec("warehouses", warehouses=("NE-BOS", "NE-NYC")))
        call_command("grant_scope", "cmd.two", "--roles", "buyer", "--warehouses", "NE-NYC", "--revoke",
                     stdout=StringIO())
        assert access_of("cmd.two") == (["planner"], {"type": "warehouses", "warehouses": ["NE-BOS"]})

    def test_as_a_region_administrator_it_refuses_outside_the_region(self, demo):
        region_admin()
        with pytest.raises(CommandError, match="EU"):
            call_command("grant_scope", "ne.operator", "--regions", "EU", "--as", "ne.admin", stdout=StringIO())
        assert access_of("ne.operator")[1] == {"type": "warehouses", "warehouses": ["NE-BOS", "NE-NYC"]}

    def test_unknown_input_is_a_clear_error(self, demo):
        with pytest.raises(CommandError, match="Unknown role"):
            call_command("grant_scope", "ne.operator", "--roles", "wizard", stdout=StringIO())
        with pytest.raises(CommandError, match="Unknown warehouse NE-XXX"):
            call_command("grant_scope", "ne.operator", "--warehouses", "NE-XXX", stdout=StringIO())


@pytest.mark.django_db
class TestTheScreen:
    def test_the_list_shows_each_users_roles_and_scope(self, client, user):
        client.force_login(region_admin())
        page = client.get("/users/").content.decode()
        assert "ne.operator" in page and "NE-BOS, NE-NYC" in page
        assert "eu.operator" not in page

    def test_saving_the_form_grants_exactly_the_ticked_scope(self, client, user):
        client.force_login(user("admin"))
        response = client.post("/users/ne.operator/", {"roles": ["warehouse_supervisor"], "scope_type": "warehouses",
                                                       "warehouses": ["NE-NYC"], "active": "on"})
        assert response.status_code == 302
        assert access_of("ne.operator") == (["warehouse_supervisor"], {"type": "warehouses", "warehouses": ["NE-NYC"]})
        history = client.get("/users/ne.operator/").content.decode()
        assert "Granted warehouse" in history or "Revoked warehouse NE-BOS" in history

    def test_a_region_administrator_is_not_offered_and_cannot_post_another_region(self, client, user):
        client.force_login(region_admin())
        form = client.get("/users/ne.operator/").content.decode()
        assert "EU-RTM" not in form and "The whole enterprise" not in form
        response = client.post("/users/ne.operator/", {"scope_type": "warehouses", "warehouses": ["EU-RTM"]})
        assert response.status_code == 400
        assert warehouse_codes(user("ne.operator")) == {"NE-BOS", "NE-NYC"}
        assert client.get("/users/eu.operator/").status_code == 404


@pytest.mark.django_db
def test_the_admin_action_grants_within_the_administrators_scope(client, user):
    client.force_login(user("admin"))
    target = user("ne.service")
    response = client.post("/admin/auth/user/", {"action": "grant_access", "_selected_action": [target.pk],
                                                 "apply": "1", "roles": ["planner"], "scope_type": "regions",
                                                 "regions": ["SE"]})
    assert response.status_code == 302
    assert access_of("ne.service") == (["planner"], {"type": "regions", "regions": ["SE"]})


@pytest.mark.django_db(transaction=True)
def test_two_administrators_changing_one_user_at_once_leave_one_of_their_states(demo):
    first = make_user("race.admin.1", ["administrator"], ScopeSpec("enterprise"))
    second = make_user("race.admin.2", ["administrator"], ScopeSpec("enterprise"))
    make_user("contested", ["warehouse_operator"], ScopeSpec("warehouses", warehouses=("NE-BOS",)))
    states = {
        "a": (["buyer", "planner"], {"type": "regions", "regions": ["EU", "SE"]}),
        "b": (["warehouse_supervisor"], {"type": "warehouses", "warehouses": ["NE-BOS", "NE-NYC"]}),
    }
    for _ in range(3):
        outcomes = race(
            lambda: client_of(first).patch(f"{URL}contested/", {"roles": states["a"][0], "scope": states["a"][1]},
                                           format="json"),
            lambda: client_of(second).patch(f"{URL}contested/", {"roles": states["b"][0], "scope": states["b"][1]},
                                            format="json"),
        )
        assert [getattr(o, "status_code", o) for o in outcomes] == [200, 200]
        assert access_of("contested") in states.values()


@pytest.mark.django_db
def test_a_region_administrator_sees_only_their_users_in_the_admin_and_may_not_edit_them_there(client, user):
    ne_admin = region_admin()
    get_user_model().objects.filter(pk=ne_admin.pk).update(is_staff=True)
    client.force_login(ne_admin)
    listing = client.get("/admin/auth/user/?q=operator").content.decode()
    assert "ne.operator" in listing and "eu.operator" not in listing
    assert client.get(f"/admin/auth/user/{user('eu.operator').pk}/change/").status_code == 302  # not theirs
    page = client.get(f"/admin/auth/user/{user('ne.operator').pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page  # read-only: grants go through the actions
    refused = client.post("/admin/auth/user/", {"action": "grant_access", "_selected_action": [user("ne.operator").pk],
                                                "apply": "1", "roles": ["planner"], "scope_type": "regions",
                                                "regions": ["EU"]}, follow=True)
    assert refused.status_code == 200
    assert access_of("ne.operator")[0] == ["warehouse_operator"]
