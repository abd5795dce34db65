"""Every user sees only their scope, everywhere: the matrix over every route under /api/v1/.

The routes are read from the URL resolver, not listed by hand, and ``COVERAGE`` must name each of
them: a new route without an entry fails ``test_every_api_route_is_covered_by_the_scope_matrix``.
Two demo users walk the matrix: ``ne.operator`` (warehouses NE-BOS and NE-NYC, so region NE and
legal entity US01) and ``eu.operator`` (region EU: EU-DUS, EU-RTM and legal entity EU01).

Scoped kinds (regions, legal entities, warehouses, locations, customers): a list shows exactly
the objects in scope, a filter aimed outside the scope finds nothing, and every object outside
the scope answers 404 with the error shape, indistinguishable from one that does not exist.
Enterprise master data (items, units of measure, suppliers, carriers) is one standard for the
whole network: every user reads all of it. Operators may not write anything (403, never 500).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from erp import services as platform
from inventory.models import Item, UnitOfMeasure
from orders.models import Customer
from procurement.models import Supplier
from warehouses.models import Carrier, LegalEntity, Location, Region, Warehouse

pytestmark = pytest.mark.django_db

API_PREFIX = "api/v1/"
NE, EU = "ne.operator", "eu.operator"
OPERATORS = (NE, EU)
WRITE_METHODS = ("post", "put", "patch", "delete")

# What each operator's grants amount to, written out rather than derived, so the test states the rule.
SCOPE = {
    NE: {"regions": {"NE"}, "legal_entities": {"US01"}, "warehouses": {"NE-BOS", "NE-NYC"}},
    EU: {"regions": {"EU"}, "legal_entities": {"EU01"}, "warehouses": {"EU-DUS", "EU-RTM"}},
}


# --- the routes, as the resolver knows them ---------------------------------------------------------


@dataclass(frozen=True)
class ApiRoute:
    name: str | None
    route: str
    methods: frozenset[str]
    format_suffix: bool


def _allowed_methods(pattern: URLPattern) -> frozenset[str]:
    callback = pattern.callback
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    allowed = set(getattr(view_class, "http_method_names", ()))
    actions = getattr(callback, "actions", None)
    if actions is not None:  # a viewset route: the router bound these methods to actions
        return frozenset(method for method in actions if method in allowed)
    return frozenset(method for method in allowed if hasattr(view_class, method) and method != "options")


def _walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        else:
            yield route, entry


def api_routes() -> list[ApiRoute]:
    """Every URL pattern under /api/v1/, through every include."""
    routes = []
    for route, pattern in _walk(get_resolver().url_patterns, ""):
        if not route.startswith(API_PREFIX):
            continue
        routes.append(ApiRoute(
            name=pattern.name, route=route, methods=_allowed_methods(pattern),
            format_suffix="format" in pattern.pattern.regex.groupindex,
        ))
    return routes


# --- what each kind of object is, who sees which --------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One resource: its key field, every key in the database and, if scoped, the keys a user sees."""

    label: str
    key: str
    all_keys: Callable[[], set[str]]
    visible_to: Callable[[str], set[str]] | None = None  # None: enterprise-wide, everyone sees all
    outside_filters: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    detail_sample: Callable[[set[str]], set[str]] | None = None  # enterprise kinds too large to walk

    def expected_for(self, username: str) -> set[str]:
        return self.all_keys() if self.visible_to is None else self.visible_to(username)


def _codes(model: Any, attribute: str = "code") -> Callable[[], set[str]]:
    return lambda: set(model.objects.values_list(attribute, flat=True))


def _location_ids(**lookup: Any) -> set[str]:
    return {str(pk) for pk in Location.objects.filter(**lookup).values_list("pk", flat=True)}


def _one_item_per_category(skus: set[str]) -> set[str]:
    firsts: dict[str, str] = {}
    for sku in sorted(skus):
        firsts.setdefault(sku.split("-")[0], sku)
    return set(firsts.values())


REGIONS = Kind("region", "code", _codes(Region), lambda u: SCOPE[u]["regions"])
LEGAL_ENTITIES = Kind("legal entity", "code", _codes(LegalEntity), lambda u: SCOPE[u]["legal_entities"])
WAREHOUSES = Kind(
    "warehouse", "code", _codes(Warehouse), lambda u: SCOPE[u]["warehouses"],
    outside_filters={
        NE: [{"region": "EU"}, {"region": "SE"}, {"legal_entity": "EU01"}, {"legal_entity": "US02"}],
        EU: [{"region": "NE"}, {"legal_entity": "US01"}],
    },
)
LOCATIONS = Kind(
    "location", "id", lambda: _location_ids(),
    lambda u: _location_ids(warehouse__code__in=SCOPE[u]["warehouses"]),
    outside_filters={
        NE: [{"warehouse": "EU-RTM"}, {"warehouse": "SE-ATL"}, {"warehouse": "EU-RTM", "kind": "storage"}],
        EU: [{"warehouse": "NE-BOS"}, {"warehouse": "SE-MIA"}],
    },
)
CUSTOMERS = Kind(
    "customer", "code", _codes(Customer),
    lambda u: set(Customer.objects.filter(region__code__in=SCOPE[u]["regions"]).values_list("code", flat=True)),
    outside_filters={
        NE: [{"region": "EU"}, {"home_warehouse": "EU-RTM"}, {"search": "C-EU"}],
        EU: [{"region": "NE"}, {"home_warehouse": "NE-BOS"}, {"search": "C-NE"}],
    },
)
ITEMS = Kind("item", "sku", _codes(Item, "sku"), detail_sample=_one_item_per_category)
UOMS = Kind("unit of measure", "code", _codes(UnitOfMeasure))
SUPPLIERS = Kind("supplier", "code", _codes(Supplier))
CARRIERS = Kind("carrier", "code", _codes(Carrier))


# --- the checks ---------------------------------------------------------------------------------------


def _assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert body["code"] == code, body


@dataclass(frozen=True)
class ListRoute:
    kind: Kind

    def check(self, name: str, client: APIClient, username: str) -> None:
        url = reverse(f"api:{name}")
        response = client.get(url, {"page_size": 500})
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        keys = [str(row[self.kind.key]) for row in body["results"]]
        assert body["count"] == len(keys), "the whole scope should fit one page of 500"
        assert len(keys) == len(set(keys))
        expected = self.kind.expected_for(username)
        assert set(keys) == expected, f"{username} on {url}: sees {sorted(set(keys) ^ expected)} wrongly"
        if self.kind.visible_to is not None:
            assert expected < self.kind.all_keys(), f"the demo has no {self.kind.label} outside {username}'s scope"
        for params in self.kind.outside_filters.get(username, []):
            aimed = client.get(url, params)
            assert aimed.status_code == 200, (params, aimed.content[:300])
            assert aimed.json()["count"] == 0 and aimed.json()["results"] == [], (username, params)


@dataclass(frozen=True)
class DetailRoute:
    kind: Kind

    def check(self, name: str, client: APIClient, username: str) -> None:
        everything = self.kind.all_keys()
        visible = self.kind.expected_for(username)
        walked = self.kind.detail_sample(everything) if self.kind.detail_sample else everything
        for key in sorted(walked):
            response = client.get(reverse(f"api:{name}", args=[key]))
            if key in visible:
                assert response.status_code == 200, (username, key, response.content[:300])
                assert str(response.json()[self.kind.key]) == key
            else:
                _assert_error(response, 404, "not_found")
        missing = "999999999" if self.kind.key == "id" else "NO-SUCH-KEY"
        _assert_error(client.get(reverse(f"api:{name}", args=[missing])), 404, "not_found")

    def keys_for_writes(self, username: str) -> list[str]:
        inside = sorted(self.kind.expected_for(username))[:1]
        outside = sorted(self.kind.all_keys() - self.kind.expected_for(username))[:1]
        return inside + outside


def _issue_token(username: str) -> str:
    response = APIClient().post(reverse("api:auth-token"), {"username": username, "password": "demo"},
                                format="json")
    assert response.status_code == 201, response.content[:300]
    return response.json()["token"]


def _token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@dataclass(frozen=True)
class TokenIssueRoute:
    """Logging in gives a token that carries the user's scope, no more."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        by_token = _token_client(_issue_token(username))
        listed = by_token.get(reverse("api:warehouse-list")).json()
        assert {w["code"] for w in listed["results"]} == SCOPE[username]["warehouses"]
        outside = sorted({"NE-BOS", "EU-RTM"} - SCOPE[username]["warehouses"])[0]
        _assert_error(by_token.get(reverse("api:warehouse-detail", args=[outside])), 404, "not_found")
        wrong = APIClient().post(reverse(f"api:{name}"), {"username": username, "password": "wrong"}, format="json")
        _assert_error(wrong, 400, "invalid_credentials")


@dataclass(frozen=True)
class TokenRevokeRoute:
    """A user revokes the token in use; afterwards it opens nothing, in scope or out."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        by_token = _token_client(_issue_token(username))
        assert by_token.delete(reverse(f"api:{name}")).status_code == 204
        _assert_error(by_token.get(reverse("api:region-list")), 401, "authentication_failed")


@dataclass(frozen=True)
class UserAdministrationRoute:
    """``users/``: an operator administers nobody (403, even about themselves); an administrator of region NE
    sees exactly the users inside NE, and a user elsewhere is 404 to them."""

    def check(self, name: str, client: APIClient, username: str) -> None:
        args = [[]] if name == "user-list" else [[NE], [EU]]
        for arg in args:
            _assert_error(client.get(reverse(f"api:{name}", args=arg)), 403, "permission_denied")
        from erp.selectors import ScopeSpec

        if not get_user_model().objects.filter(username="ne.users.admin").exists():
            platform.user_access_set(username="ne.users.admin", actor=None, create=True, roles=["administrator"],
                                     scope=ScopeSpec("regions", ("NE",)))
        admin = APIClient()
        admin.force_authenticate(get_user_model().objects.get(username="ne.users.admin"))
        if name == "user-list":
            body = admin.get(reverse(f"api:{name}"), {"page_size": 500}).json()
            listed = {row["username"] for row in body["results"]}
            assert {NE, "ne.service", "ne.supervisor", "ne.users.admin"} <= listed and EU not in listed, listed
            assert not listed & {"admin", "planner", "buyer"}, listed
        else:
            assert admin.get(reverse(f"api:{name}", args=[NE])).json()["username"] == NE
            _assert_error(admin.get(reverse(f"api:{name}", args=[EU])), 404, "not_found")


Check = ListRoute | DetailRoute | TokenIssueRoute | TokenRevokeRoute | UserAdministrationRoute

COVERAGE: dict[str, Check] = {
    "auth-token": TokenIssueRoute(),
    "auth-token-revoke": TokenRevokeRoute(),
    "user-list": UserAdministrationRoute(),
    "user-detail": UserAdministrationRoute(),
    "region-list": ListRoute(REGIONS),
    "region-detail": DetailRoute(REGIONS),
    "legal-entity-list": ListRoute(LEGAL_ENTITIES),
    "legal-entity-detail": DetailRoute(LEGAL_ENTITIES),
    "warehouse-list": ListRoute(WAREHOUSES),
    "warehouse-detail": DetailRoute(WAREHOUSES),
    "location-list": ListRoute(LOCATIONS),
    "location-detail": DetailRoute(LOCATIONS),
    "customer-list": ListRoute(CUSTOMERS),
    "customer-detail": DetailRoute(CUSTOMERS),
    "item-list": ListRoute(ITEMS),
    "item-detail": DetailRoute(ITEMS),
    "uom-list": ListRoute(UOMS),
    "uom-detail": DetailRoute(UOMS),
    "supplier-list": ListRoute(SUPPLIERS),
    "supplier-detail": DetailRoute(SUPPLIERS),
    "carrier-list": ListRoute(CARRIERS),
    "carrier-detail": DetailRoute(CARRIERS),
}



def _contributed_coverage() -> tuple[dict[str, Any], dict[str, str]]:
    """Coverage from the apps: each ``<app>/tests/scope_<area>.py`` (or a nested layer's,
    ``warehouses/transfers/tests/``) exports ``COVERAGE``.

    A contributed check is any object with ``check(name, client, username)``; it builds the data it
    needs (inside and outside each operator's scope) and asserts lists, details and 404s itself. A
    module whose routes let operators write (request a deviation, acknowledge an exception) lists
    them in ``WRITES_TESTED_ELSEWHERE`` with where their scope rule is tested.
    """
    import importlib
    from pathlib import Path

    base = Path(__file__).resolve().parent.parent
    found: dict[str, Any] = {}
    writes: dict[str, str] = {}
    for path in sorted([*base.glob("*/tests/scope_*.py"), *base.glob("*/*/tests/scope_*.py")]):
        module = importlib.import_module(".".join(path.relative_to(base).with_suffix("").parts))
        overlap = set(found) & set(module.COVERAGE)
        assert not overlap, f"{path} covers routes already covered: {sorted(overlap)}"
        found.update(module.COVERAGE)
        writes.update(getattr(module, "WRITES_TESTED_ELSEWHERE", {}))
    return found, writes


_CONTRIBUTED, _CONTRIBUTED_WRITES = _contributed_coverage()
COVERAGE.update(_CONTRIBUTED)

# Routes whose writes are not role-gated master data; each says where its rule is tested instead.
WRITES_TESTED_ELSEWHERE = {
    "auth-token": "anyone may log in; TokenIssueRoute checks the token carries only the user's scope",
    "auth-token-revoke": "revokes only the caller's own token; TokenRevokeRoute checks it",
    "user-detail": "tests/test_user_admin.py: a non-administrator's PATCH is 403, an administrator's outside "
                   "their scope 404 (the user) or 403 outside_scope (the grant), and nothing changes",
    **_CONTRIBUTED_WRITES,
}

ROUTES = api_routes()
ROUTE_NAMES = sorted({route.name or f"<unnamed {route.route}>" for route in ROUTES})


# --- the tests ----------------------------------------------------------------------------------------


def test_every_api_route_is_covered_by_the_scope_matrix():
    uncovered = [name for name in ROUTE_NAMES if name not in COVERAGE]
    assert not uncovered, (
        f"routes under /{API_PREFIX} with no entry in COVERAGE of {__name__}: {uncovered}. "
        "Add a ListRoute/DetailRoute (with who may see what) or a dedicated check for each."
    )


def test_the_matrix_names_no_route_that_does_not_exist():
    stale = sorted(set(COVERAGE) - set(ROUTE_NAMES))
    assert not stale, f"COVERAGE names routes the API no longer has: {stale}"


def test_the_api_has_no_format_suffix_or_root_routes_that_would_bypass_the_matrix():
    # The matrix reverses each route by name; a `.json` twin or a DRF api-root would share or
    # escape those names, so they are refused outright rather than silently left untested.
    suffixed = sorted(route.route for route in ROUTES if route.format_suffix)
    assert not suffixed, f"format-suffix routes need their own entries in the matrix: {suffixed}"
    assert "api-root" not in ROUTE_NAMES, "a DRF api-root appeared: use SimpleRouter or cover it in COVERAGE"
    assert all(route.name for route in ROUTES), [route.route for route in ROUTES if not route.name]


def test_the_walk_finds_the_documented_master_data_routes():
    assert {"auth-token", "region-list", "warehouse-detail", "location-list"} <= set(ROUTE_NAMES)


@pytest.mark.parametrize("username", OPERATORS)
@pytest.mark.parametrize("route_name", ROUTE_NAMES)
def test_each_route_shows_an_operator_only_their_scope(route_name, username, api_as):
    check = COVERAGE.get(route_name)
    assert check is not None, f"route {route_name!r} is not covered by the scope matrix"
    check.check(route_name, api_as(username), username)


def _write_targets(route_name: str, username: str) -> list[str]:
    check = COVERAGE[route_name]
    if isinstance(check, DetailRoute):
        return [reverse(f"api:{route_name}", args=[key]) for key in check.keys_for_writes(username)]
    return [reverse(f"api:{route_name}")]


WRITE_ROUTES = sorted(
    (route.name, method) for route in ROUTES for method in route.methods
    if method in WRITE_METHODS and route.name not in WRITES_TESTED_ELSEWHERE
)


def test_operators_have_write_routes_to_be_refused():
    # Guards the parametrisation below against silently testing nothing.
    assert ("warehouse-list", "post") in WRITE_ROUTES and ("warehouse-detail", "patch") in WRITE_ROUTES


@pytest.mark.parametrize("username", OPERATORS)
@pytest.mark.parametrize(("route_name", "method"), WRITE_ROUTES)
def test_an_operator_may_not_write_through_any_route_in_or_out_of_scope(route_name, method, username, api_as):
    assert route_name in COVERAGE, f"route {route_name!r} is not covered by the scope matrix"
    client = api_as(username)
    for url in _write_targets(route_name, username):
        response = getattr(client, method)(url, {"name": "Changed by an operator"}, format="json")
        _assert_error(response, 403, "permission_denied")
    assert not Warehouse.objects.filter(name="Changed by an operator").exists()
    assert not Customer.objects.filter(name="Changed by an operator").exists()


# --- a user who may write, but only in region NE --------------------------------------------------


@pytest.fixture
def ne_administrator(demo: Any) -> APIClient:
    user = get_user_model().objects.create_user("ne.administrator", password="x-unused-x")
    user.groups.add(Group.objects.get(name="Administrator"))
    platform.scope_grant(user=user, actor=None, regions=[Region.objects.get(code="NE")])
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_patching_a_warehouse_outside_the_scope_answers_404_and_changes_nothing(ne_administrator):
    response = ne_administrator.patch(reverse("api:warehouse-detail", args=["EU-RTM"]), {"name": "Hijacked"},
                                      format="json")

    _assert_error(response, 404, "not_found")
    assert Warehouse.objects.get(code="EU-RTM").name == "Rotterdam"
    # The same user may change a warehouse in the scope: the 404 is the scope, not the role.
    inside = ne_administrator.patch(reverse("api:warehouse-detail", args=["NE-BOS"]), {"name": "Boston 2"},
                                    format="json")
    assert inside.status_code == 200 and Warehouse.objects.get(code="NE-BOS").name == "Boston 2"


def test_patching_a_customer_outside_the_scope_answers_404_and_changes_nothing(ne_administrator):
    response = ne_administrator.patch(reverse("api:customer-detail", args=["C-EU-001"]), {"name": "Hijacked"},
                                      format="json")

    _assert_error(response, 404, "not_found")
    assert Customer.objects.get(code="C-EU-001").name == "Maas Retail B.V."


def test_moving_a_warehouse_into_a_region_outside_the_scope_is_refused(ne_administrator):
    response = ne_administrator.patch(reverse("api:warehouse-detail", args=["NE-BOS"]), {"region": "EU"},
                                      format="json")

    _assert_error(response, 400, "validation_error")
    assert "region" in response.json()["detail"]
    assert Warehouse.objects.get(code="NE-BOS").region.code == "NE"


def test_creating_objects_that_point_outside_the_scope_is_refused_as_if_the_target_did_not_exist(
        ne_administrator):
    warehouse = ne_administrator.post(reverse("api:warehouse-list"), {
        "code": "EU-AMS", "name": "Amsterdam", "region": "EU", "legal_entity": "EU01", "timezone": "Europe/Amsterdam",
    }, format="json")
    location = ne_administrator.post(reverse("api:location-list"), {
        "code": "X-01", "warehouse": "EU-RTM", "kind": "storage"}, format="json")
    customer = ne_administrator.post(reverse("api:customer-list"), {
        "code": "C-EU-099", "name": "Sneaky B.V.", "region": "EU", "home_warehouse": "EU-RTM"}, format="json")

    for response, fields in ((warehouse, {"region", "legal_entity"}), (location, {"warehouse"}),
                             (customer, {"region", "home_warehouse"})):
        _assert_error(response, 400, "validation_error")
        assert fields <= set(response.json()["detail"]), response.json()
    assert not Warehouse.objects.filter(code="EU-AMS").exists()
    assert not Location.objects.filter(code="X-01").exists()
    assert not Customer.objects.filter(code="C-EU-099").exists()


def test_enterprise_master_data_is_the_same_for_every_scope(api_as):
    # Items, units, suppliers and carriers are one standard for the network, not partitioned by region.
    for path in ("item-list", "uom-list", "supplier-list", "carrier-list"):
        seen = [
            [row.get("sku") or row["code"] for row in api_as(u).get(reverse(f"api:{path}"), {"page_size": 500})
             .json()["results"]]
            for u in OPERATORS
        ]
        assert seen[0] == seen[1] and seen[0], path


def test_a_region_scoped_administrator_may_edit_enterprise_items(ne_administrator):
    response = ne_administrator.patch(reverse("api:item-detail", args=["BEV-0001"]), {"name": "Renamed"},
                                      format="json")

    assert response.status_code == 200
    assert Item.objects.get(sku="BEV-0001").name == "Renamed"
