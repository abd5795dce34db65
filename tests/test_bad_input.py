"""Every master-data write refuses bad input with a 400 in the one error shape, and writes nothing.

One table covers every write endpoint: malformed JSON, the wrong JSON shape, missing, unknown and
mistyped fields, duplicate natural keys, unknown references, out-of-range numbers, bad time zones
and currencies. A reference outside the caller's scope is refused exactly like an unknown one.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from erp import services as platform
from inventory.models import Item, ItemUom
from orders.models import Customer, ShipTo
from procurement.models import Supplier
from warehouses.models import Location, Region, Warehouse

pytestmark = pytest.mark.django_db

MALFORMED = object()  # the body '{"code": ', sent as application/json
ERROR_KEYS = {"code", "message", "detail"}
COUNTED = (Warehouse, Location, Item, ItemUom, Customer, ShipTo, Supplier)

WAREHOUSE = {"code": "NE-TST", "name": "Test DC", "region": "NE", "legal_entity": "US01",
             "timezone": "America/New_York"}
LOCATION = {"code": "A-09-01", "warehouse": "NE-BOS", "kind": "storage", "parent": "STOR"}
ITEM = {"sku": "TST-0001", "name": "Test item", "base_uom": "EA", "shelf_life_days": 30,
        "uoms": [{"uom": "CS", "factor": "12"}]}
SHIP_TO = {"code": "MAIN", "name": "Main dock", "address_line1": "1 Dock St", "city": "Boston", "country": "US",
           "region": "NE"}
CUSTOMER = {"code": "C-NE-900", "name": "Test Provisions", "region": "NE", "home_warehouse": "NE-BOS",
            "ship_tos": [SHIP_TO]}
SUPPLIER = {"code": "TSTSUP", "name": "Test Supply", "currency": "USD", "lead_time_days": 5}


def but(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``base`` with fields replaced (or removed, when the value is ``...``)."""
    body = {**base, **changes}
    return {key: value for key, value in body.items() if value is not ...}


def with_uoms(*rows: dict[str, Any]) -> dict[str, Any]:
    return but(ITEM, uoms=list(rows))


class Case(NamedTuple):
    name: str
    method: str
    path: str
    body: Any
    field: str | None  # the key expected in ``detail``; None when detail is empty
    code: str = "validation_error"


def cases_for_every_endpoint(method: str, path: str, valid: dict[str, Any], *, name_required: bool = True
                             ) -> list[Case]:
    label = f"{method} {path}"
    blank_name = [Case(f"{label} blank name", method, path, but(valid, name=""), "name")] if name_required else []
    return [
        *blank_name,
        Case(f"{label} malformed JSON", method, path, MALFORMED, None, "malformed_request"),
        Case(f"{label} JSON array", method, path, [valid], "non_field_errors"),
        Case(f"{label} JSON string", method, path, "hello", "non_field_errors"),
        Case(f"{label} unknown field", method, path, but(valid, colour="blue"), "colour"),
        Case(f"{label} object for the name", method, path, but(valid, name={"en": "x"}), "name"),
    ]


WAREHOUSE_POST = "/api/v1/warehouses/"
WAREHOUSE_PATCH = "/api/v1/warehouses/NE-BOS/"
LOCATION_POST = "/api/v1/locations/"
ITEM_POST = "/api/v1/items/"
ITEM_PATCH = "/api/v1/items/BEV-0001/"
CUSTOMER_POST = "/api/v1/customers/"
CUSTOMER_PATCH = "/api/v1/customers/C-NE-001/"
SUPPLIER_POST = "/api/v1/suppliers/"
SUPPLIER_PATCH = "/api/v1/suppliers/ACME/"

CASES: list[Case] = [
    # warehouses
    *cases_for_every_endpoint("POST", WAREHOUSE_POST, WAREHOUSE),
    Case("warehouse without a region", "POST", WAREHOUSE_POST, but(WAREHOUSE, region=...), "region"),
    Case("warehouse without a code", "POST", WAREHOUSE_POST, but(WAREHOUSE, code=...), "code"),
    Case("warehouse with an existing code", "POST", WAREHOUSE_POST, but(WAREHOUSE, code="NE-BOS"), "code"),
    Case("warehouse with a lower-case code", "POST", WAREHOUSE_POST, but(WAREHOUSE, code="ne tst"), "code"),
    Case("warehouse in an unknown region", "POST", WAREHOUSE_POST, but(WAREHOUSE, region="XX"), "region"),
    Case("warehouse of an unknown legal entity", "POST", WAREHOUSE_POST, but(WAREHOUSE, legal_entity="ZZ99"),
         "legal_entity"),
    Case("warehouse in an invalid time zone", "POST", WAREHOUSE_POST, but(WAREHOUSE, timezone="Mars/Olympus"),
         "timezone"),
    Case("warehouse with a list for active", "POST", WAREHOUSE_POST, but(WAREHOUSE, active=[True]), "active"),
    Case("warehouse with a three-letter country", "POST", WAREHOUSE_POST, but(WAREHOUSE, country="USA"),
         "country"),
    *cases_for_every_endpoint("PATCH", WAREHOUSE_PATCH, {"name": "Boston"}),
    Case("warehouse patch of its code", "PATCH", WAREHOUSE_PATCH, {"code": "NE-BOS2"}, "code"),
    Case("warehouse patch into an unknown region", "PATCH", WAREHOUSE_PATCH, {"region": "XX"}, "region"),
    Case("warehouse patch to an invalid time zone", "PATCH", WAREHOUSE_PATCH, {"timezone": "EST5EDT-ish"},
         "timezone"),
    Case("warehouse patch with a list for active", "PATCH", WAREHOUSE_PATCH, {"active": []}, "active"),
    Case("warehouse patch with an object for the region", "PATCH", WAREHOUSE_PATCH, {"region": {"code": "NE"}},
         "region"),
    # locations
    *cases_for_every_endpoint("POST", LOCATION_POST, but(LOCATION, name="Bin"), name_required=False),
    Case("location without a kind", "POST", LOCATION_POST, but(LOCATION, kind=...), "kind"),
    Case("location of an unknown kind", "POST", LOCATION_POST, but(LOCATION, kind="attic"), "kind"),
    Case("location in an unknown warehouse", "POST", LOCATION_POST, but(LOCATION, warehouse="XX-NOPE"),
         "warehouse"),
    Case("location under an unknown parent", "POST", LOCATION_POST, but(LOCATION, parent="NOPE"), "parent"),
    Case("location under a parent given as an object", "POST", LOCATION_POST, but(LOCATION, parent={"code": "STOR"}),
         "parent"),
    Case("location with an existing code", "POST", LOCATION_POST, but(LOCATION, code="RCV"), "code"),
    # items
    *cases_for_every_endpoint("POST", ITEM_POST, ITEM),
    Case("item without a sku", "POST", ITEM_POST, but(ITEM, sku=...), "sku"),
    Case("item without a base unit", "POST", ITEM_POST, but(ITEM, base_uom=...), "base_uom"),
    Case("item with an existing sku", "POST", ITEM_POST, but(ITEM, sku="BEV-0001"), "sku"),
    Case("item with a sku containing a slash", "POST", ITEM_POST, but(ITEM, sku="TST/1"), "sku"),
    Case("item with an unknown base unit", "POST", ITEM_POST, but(ITEM, base_uom="XX"), "base_uom"),
    Case("item with a word for the shelf life", "POST", ITEM_POST, but(ITEM, shelf_life_days="seven"),
         "shelf_life_days"),
    Case("item with a huge shelf life", "POST", ITEM_POST, but(ITEM, shelf_life_days=10**12), "shelf_life_days"),
    Case("item with a zero shelf life", "POST", ITEM_POST, but(ITEM, shelf_life_days=0), "shelf_life_days"),
    Case("item with a negative weight", "POST", ITEM_POST, but(ITEM, weight_kg="-1"), "weight_kg"),
    Case("item with a list for lot tracking", "POST", ITEM_POST, but(ITEM, lot_tracked=["yes"]), "lot_tracked"),
    Case("item with an object for uoms", "POST", ITEM_POST, but(ITEM, uoms={"uom": "CS", "factor": "12"}), "uoms"),
    Case("item with an unknown unit", "POST", ITEM_POST, with_uoms({"uom": "XX", "factor": "2"}), "uoms"),
    Case("item with a unit listed twice", "POST", ITEM_POST,
         with_uoms({"uom": "CS", "factor": "12"}, {"uom": "CS", "factor": "24"}), "uoms"),
    Case("item with a conversion without factor", "POST", ITEM_POST, with_uoms({"uom": "CS"}), "uoms"),
    Case("item with an unknown field in a conversion", "POST", ITEM_POST,
         with_uoms({"uom": "CS", "factor": "12", "note": "x"}), "uoms"),
    Case("item with factor 0", "POST", ITEM_POST, with_uoms({"uom": "CS", "factor": "0"}), "uoms"),
    Case("item with a negative factor", "POST", ITEM_POST, with_uoms({"uom": "CS", "factor": "-12"}), "uoms"),
    Case("item with factor NaN", "POST", ITEM_POST, with_uoms({"uom": "CS", "factor": "NaN"}), "uoms"),
    Case("item with factor Infinity", "POST", ITEM_POST, with_uoms({"uom": "CS", "factor": "Infinity"}), "uoms"),
    Case("item with factor abc", "POST", ITEM_POST, with_uoms({"uom": "CS", "factor": "abc"}), "uoms"),
    Case("item with factor 1e30", "POST", ITEM_POST, with_uoms({"uom": "CS", "factor": 1e30}), "uoms"),
    Case("item with a factor above the bound", "POST", ITEM_POST, with_uoms({"uom": "CS", "factor": "1000001"}),
         "uoms"),
    Case("item with a factor of seven decimals", "POST", ITEM_POST,
         with_uoms({"uom": "CS", "factor": "1.0000001"}), "uoms"),
    Case("item whose base unit has a factor other than one", "POST", ITEM_POST,
         with_uoms({"uom": "EA", "factor": "2"}), "uoms"),
    *cases_for_every_endpoint("PATCH", ITEM_PATCH, {"name": "Renamed"}),
    Case("item patch of its sku", "PATCH", ITEM_PATCH, {"sku": "BEV-9999"}, "sku"),
    Case("item patch to a negative shelf life", "PATCH", ITEM_PATCH, {"shelf_life_days": -5}, "shelf_life_days"),
    Case("item patch to an unknown base unit", "PATCH", ITEM_PATCH, {"base_uom": "XX"}, "base_uom"),
    Case("item patch with factor 0", "PATCH", ITEM_PATCH, {"uoms": [{"uom": "CS", "factor": 0}]}, "uoms"),
    Case("item patch with a conversion without factor", "PATCH", ITEM_PATCH, {"uoms": [{"uom": "CS"}]}, "uoms"),
    Case("item patch with a unit listed twice", "PATCH", ITEM_PATCH,
         {"uoms": [{"uom": "PL", "factor": 1}, {"uom": "PL", "factor": 2}]}, "uoms"),
    Case("item patch of the base unit without conversions for it", "PATCH", ITEM_PATCH, {"base_uom": "KG"},
         "uoms"),
    Case("item patch giving the base unit a factor", "PATCH", ITEM_PATCH, {"uoms": [{"uom": "EA", "factor": 6}]},
         "uoms"),
    # customers
    *cases_for_every_endpoint("POST", CUSTOMER_POST, CUSTOMER),
    Case("customer without a region", "POST", CUSTOMER_POST, but(CUSTOMER, region=...), "region"),
    Case("customer with an existing code", "POST", CUSTOMER_POST, but(CUSTOMER, code="C-NE-001"), "code"),
    Case("customer in an unknown region", "POST", CUSTOMER_POST, but(CUSTOMER, region="XX"), "region"),
    Case("customer with an unknown home warehouse", "POST", CUSTOMER_POST, but(CUSTOMER, home_warehouse="XX-1"),
         "home_warehouse"),
    Case("customer homed outside its region", "POST", CUSTOMER_POST, but(CUSTOMER, home_warehouse="SE-ATL"),
         "home_warehouse", "home_warehouse_outside_region"),
    Case("customer with an invalid email", "POST", CUSTOMER_POST, but(CUSTOMER, email="not-an-email"), "email"),
    Case("customer with a list for partial shipment", "POST", CUSTOMER_POST,
         but(CUSTOMER, allow_partial_shipment=[False]), "allow_partial_shipment"),
    Case("customer with a ship-to in an unknown region", "POST", CUSTOMER_POST,
         but(CUSTOMER, ship_tos=[but(SHIP_TO, region="XX")]), "ship_tos"),
    Case("customer with a ship-to code listed twice", "POST", CUSTOMER_POST,
         but(CUSTOMER, ship_tos=[SHIP_TO, but(SHIP_TO, city="Salem")]), "ship_tos"),
    Case("customer with a ship-to without a city", "POST", CUSTOMER_POST,
         but(CUSTOMER, ship_tos=[but(SHIP_TO, city=...)]), "ship_tos"),
    Case("customer with a ship-to in a three-letter country", "POST", CUSTOMER_POST,
         but(CUSTOMER, ship_tos=[but(SHIP_TO, country="USA")]), "ship_tos"),
    *cases_for_every_endpoint("PATCH", CUSTOMER_PATCH, {"name": "Harbor"}),
    Case("customer patch of its code", "PATCH", CUSTOMER_PATCH, {"code": "C-NE-999"}, "code"),
    Case("customer patch into an unknown region", "PATCH", CUSTOMER_PATCH, {"region": "XX"}, "region"),
    Case("customer patch homed outside its region", "PATCH", CUSTOMER_PATCH, {"home_warehouse": "EU-RTM"},
         "home_warehouse", "home_warehouse_outside_region"),
    Case("customer patch with a ship-to without a name", "PATCH", CUSTOMER_PATCH,
         {"ship_tos": [but(SHIP_TO, name=...)]}, "ship_tos"),
    # suppliers
    *cases_for_every_endpoint("POST", SUPPLIER_POST, SUPPLIER),
    Case("supplier without a currency", "POST", SUPPLIER_POST, but(SUPPLIER, currency=...), "currency"),
    Case("supplier with an existing code", "POST", SUPPLIER_POST, but(SUPPLIER, code="ACME"), "code"),
    Case("supplier in lower-case currency", "POST", SUPPLIER_POST, but(SUPPLIER, currency="usd"), "currency"),
    Case("supplier in a two-letter currency", "POST", SUPPLIER_POST, but(SUPPLIER, currency="US"), "currency"),
    Case("supplier with a negative lead time", "POST", SUPPLIER_POST, but(SUPPLIER, lead_time_days=-1),
         "lead_time_days"),
    Case("supplier with a word for the lead time", "POST", SUPPLIER_POST, but(SUPPLIER, lead_time_days="seven"),
         "lead_time_days"),
    Case("supplier with a fractional lead time", "POST", SUPPLIER_POST, but(SUPPLIER, lead_time_days=2.5),
         "lead_time_days"),
    Case("supplier with a huge lead time", "POST", SUPPLIER_POST, but(SUPPLIER, lead_time_days=10**9),
         "lead_time_days"),
    Case("supplier with payment terms over a year", "POST", SUPPLIER_POST, but(SUPPLIER, payment_terms_days=366),
         "payment_terms_days"),
    Case("supplier with an invalid email", "POST", SUPPLIER_POST, but(SUPPLIER, email="acme@"), "email"),
    Case("supplier with a list for active", "POST", SUPPLIER_POST, but(SUPPLIER, active=[]), "active"),
    *cases_for_every_endpoint("PATCH", SUPPLIER_PATCH, {"name": "Acme"}),
    Case("supplier patch of its code", "PATCH", SUPPLIER_PATCH, {"code": "ACME2"}, "code"),
    Case("supplier patch to lower-case currency", "PATCH", SUPPLIER_PATCH, {"currency": "usd"}, "currency"),
    Case("supplier patch to a negative lead time", "PATCH", SUPPLIER_PATCH, {"lead_time_days": -1},
         "lead_time_days"),
    Case("supplier patch to a null lead time", "PATCH", SUPPLIER_PATCH, {"lead_time_days": None},
         "lead_time_days"),
]


def send(client: APIClient, method: str, path: str, body: Any) -> Any:
    raw = '{"code": ' if body is MALFORMED else json.dumps(body)
    return client.generic(method, path, raw, content_type="application/json")


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def assert_refused(response: Any, field: str | None, code: str = "validation_error") -> dict[str, Any]:
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    if field is None:
        assert body["detail"] == {}
    else:
        assert field in body["detail"], body["detail"]
    return body


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_master_data_input_is_refused_with_400_and_writes_nothing(api_as, case):
    client = api_as("admin")
    counts = row_counts()
    before = client.get(case.path).json() if case.method == "PATCH" else None

    response = send(client, case.method, case.path, case.body)

    assert_refused(response, case.field, case.code)
    assert row_counts() == counts
    if case.method == "PATCH":
        assert client.get(case.path).json() == before


def test_the_table_covers_every_master_data_write_endpoint():
    covered = {(case.method, case.path) for case in CASES}

    assert covered == {
        ("POST", WAREHOUSE_POST), ("PATCH", WAREHOUSE_PATCH), ("POST", LOCATION_POST),
        ("POST", ITEM_POST), ("PATCH", ITEM_PATCH), ("POST", CUSTOMER_POST), ("PATCH", CUSTOMER_PATCH),
        ("POST", SUPPLIER_POST), ("PATCH", SUPPLIER_PATCH),
    }


def test_the_valid_bodies_of_the_table_are_accepted(api_as):
    """The cases above fail because of their one defect, not because the base bodies are wrong."""
    client = api_as("admin")

    for path, body in [(WAREHOUSE_POST, WAREHOUSE), (LOCATION_POST, LOCATION), (ITEM_POST, ITEM),
                       (CUSTOMER_POST, CUSTOMER), (SUPPLIER_POST, SUPPLIER)]:
        response = send(client, "POST", path, body)
        assert response.status_code == 201, (path, response.json())


# --- references outside the caller's scope ----------------------------------------------------------


@pytest.fixture
def ne_integrator(demo: Any) -> APIClient:
    """An integrator whose scope is region NE only (the demo integrator is enterprise-wide)."""
    user = get_user_model().objects.create_user(username="ne.integrator", password="unused-password-1")
    user.groups.add(Group.objects.get(name="Integrator"))
    platform.scope_grant(user=user, actor=None, regions=[Region.objects.get(code="NE")])
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=user.pk))
    return client


def test_a_region_outside_the_scope_is_refused_exactly_like_an_unknown_one(ne_integrator):
    counts = row_counts()

    outside = send(ne_integrator, "POST", CUSTOMER_POST, but(CUSTOMER, region="EU", home_warehouse="EU-RTM"))
    unknown = send(ne_integrator, "POST", CUSTOMER_POST, but(CUSTOMER, region="ZZ", home_warehouse="ZZ-RTM"))

    detail = assert_refused(outside, "region")["detail"]
    assert detail == {"region": ["Object with code=EU does not exist."],
                      "home_warehouse": ["Object with code=EU-RTM does not exist."]}
    assert assert_refused(unknown, "region")["detail"] == {
        "region": ["Object with code=ZZ does not exist."],
        "home_warehouse": ["Object with code=ZZ-RTM does not exist."],
    }
    assert row_counts() == counts


def test_a_ship_to_region_outside_the_scope_is_refused(ne_integrator):
    counts = row_counts()

    response = send(ne_integrator, "POST", CUSTOMER_POST, but(CUSTOMER, ship_tos=[but(SHIP_TO, region="SE")]))

    detail = assert_refused(response, "ship_tos")["detail"]
    assert detail["ship_tos"] == {"0": {"region": ["Object with code=SE does not exist."]}}
    assert row_counts() == counts


def test_a_location_cannot_be_created_in_a_warehouse_outside_the_scope(ne_integrator):
    counts = row_counts()

    response = send(ne_integrator, "POST", LOCATION_POST, but(LOCATION, warehouse="EU-RTM"))

    assert assert_refused(response, "warehouse")["detail"] == {
        "warehouse": ["Object with code=EU-RTM does not exist."]
    }
    assert row_counts() == counts


def test_the_region_scoped_integrator_may_write_inside_its_scope(ne_integrator):
    """The control for the refusals above: the same user and bodies succeed with NE references."""
    assert send(ne_integrator, "POST", CUSTOMER_POST, CUSTOMER).status_code == 201
    assert send(ne_integrator, "POST", LOCATION_POST, LOCATION).status_code == 201


def test_a_customer_outside_the_scope_cannot_be_patched(ne_integrator):
    response = send(ne_integrator, "PATCH", "/api/v1/customers/C-EU-001/", {"name": "Taken over"})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Customer.objects.get(code="C-EU-001").name == "Maas Retail B.V."
