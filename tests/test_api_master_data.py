"""Master data through the API: items, customers, suppliers, units and carriers, by natural key."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from erp.exceptions import ValidationFailed
from inventory import services
from inventory.models import Item, ItemUom, UnitOfMeasure
from orders.models import Customer, ShipTo
from procurement.models import Supplier

pytestmark = pytest.mark.django_db

NEW_ITEM = {
    "sku": "TST-0001",
    "name": "Test sparkling water",
    "category": "Beverages",
    "base_uom": "EA",
    "lot_tracked": True,
    "shelf_life_days": 365,
    "weight_kg": "0.3500",
    "uoms": [{"uom": "CS", "factor": "12"}, {"uom": "PL", "factor": "720.5"}],
}

NEW_CUSTOMER = {
    "code": "C-NE-900",
    "name": "Test Provisions",
    "region": "NE",
    "home_warehouse": "NE-BOS",
    "allow_partial_shipment": False,
    "email": "orders@test.example.com",
    "ship_tos": [
        {"code": "MAIN", "name": "Main dock", "address_line1": "1 Dock St", "city": "Boston", "postal_code": "02110",
         "country": "US", "region": "NE"},
    ],
}


# --- items ----------------------------------------------------------------------------------------


def test_creating_an_item_stores_its_conversions_and_lists_the_base_unit_with_factor_one(api_as):
    response = api_as("admin").post("/api/v1/items/", NEW_ITEM, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sku"] == "TST-0001"
    assert body["base_uom"] == "EA"
    assert body["weight_kg"] == "0.3500"
    assert body["uoms"] == [
        {"uom": "EA", "factor": "1.000000"},
        {"uom": "CS", "factor": "12.000000"},
        {"uom": "PL", "factor": "720.500000"},
    ]
    item = Item.objects.get(sku="TST-0001")
    assert {(row.uom.code, str(row.factor)) for row in item.uoms.select_related("uom")} == {
        ("EA", "1.000000"), ("CS", "12.000000"), ("PL", "720.500000")
    }


def test_an_item_is_retrieved_by_its_sku_with_decimals_as_strings(api_as):
    response = api_as("planner").get("/api/v1/items/BEV-0001/")

    assert response.status_code == 200
    body = response.json()
    assert body["sku"] == "BEV-0001"
    assert body["category"] == "Beverages"
    assert body["weight_kg"] == "0.3500"
    assert body["uoms"] == [
        {"uom": "EA", "factor": "1.000000"},
        {"uom": "CS", "factor": "24.000000"},
        {"uom": "PL", "factor": "1440.000000"},
    ]


def test_a_sku_with_a_dot_is_addressable(api_as):
    client = api_as("admin")
    assert client.post("/api/v1/items/", {**NEW_ITEM, "sku": "TST.7", "uoms": []}, format="json").status_code == 201

    response = client.get("/api/v1/items/TST.7/")

    assert response.status_code == 200
    assert response.json()["uoms"] == [{"uom": "EA", "factor": "1.000000"}]


def test_patching_an_item_changes_only_the_fields_sent(api_as):
    response = api_as("admin").patch("/api/v1/items/BEV-0002/", {"name": "Renamed", "active": False}, format="json")

    assert response.status_code == 200, response.json()
    item = Item.objects.get(sku="BEV-0002")
    assert (item.name, item.active, item.category, item.shelf_life_days) == ("Renamed", False, "Beverages", 365)
    assert item.uoms.count() == 3


def test_patching_an_items_uoms_replaces_its_conversions(api_as):
    response = api_as("admin").patch(
        "/api/v1/items/BEV-0003/", {"uoms": [{"uom": "CS", "factor": "6"}, {"uom": "KG", "factor": "0.5"}]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["uoms"] == [
        {"uom": "KG", "factor": "0.500000"},
        {"uom": "EA", "factor": "1.000000"},
        {"uom": "CS", "factor": "6.000000"},
    ]
    assert sorted(ItemUom.objects.filter(item__sku="BEV-0003").values_list("uom__code", flat=True)) == [
        "CS", "EA", "KG"
    ]


def test_changing_the_base_unit_takes_conversions_relative_to_the_new_one(api_as):
    response = api_as("admin").patch(
        "/api/v1/items/BEV-0004/", {"base_uom": "CS", "uoms": [{"uom": "PL", "factor": "60"}]}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["base_uom"] == "CS"
    assert response.json()["uoms"] == [{"uom": "CS", "factor": "1.000000"}, {"uom": "PL", "factor": "60.000000"}]


def test_a_patched_conversion_must_still_name_both_its_unit_and_its_factor(api_as):
    response = api_as("admin").patch("/api/v1/items/BEV-0003/", {"uoms": [{"uom": "CS"}]}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"]["uoms"]["0"]["factor"] == ["This field is required."]
    assert ItemUom.objects.get(item__sku="BEV-0003", uom__code="CS").factor == 24


def test_items_filter_by_category_lot_tracking_and_activity(api_as):
    client = api_as("planner")

    dairy = client.get("/api/v1/items/", {"category": "Dairy", "page_size": 500}).json()
    untracked = client.get("/api/v1/items/", {"lot_tracked": "false", "page_size": 500}).json()

    assert dairy["count"] == 25
    assert {row["sku"][:3] for row in dairy["results"]} == {"DRY"}
    assert untracked["count"] == 75
    assert {row["sku"][:3] for row in untracked["results"]} == {"CLN", "PAP", "HDW"}
    assert client.get("/api/v1/items/", {"active": "false"}).json()["count"] == 0


def test_items_search_matches_part_of_the_sku_or_the_name(api_as):
    client = api_as("planner")

    by_sku = client.get("/api/v1/items/", {"search": "frz-001"}).json()
    by_name = client.get("/api/v1/items/", {"search": "PERSONAL CARE ITEM 25"}).json()

    assert [row["sku"] for row in by_sku["results"]] == [f"FRZ-{n:04d}" for n in range(10, 20)]
    assert [row["sku"] for row in by_name["results"]] == ["PRC-0025"]


def test_units_of_measure_are_listed_by_code(api_as):
    body = api_as("ne.operator").get("/api/v1/uoms/").json()

    assert [row["code"] for row in body["results"]] == ["CS", "EA", "KG", "PL"]


# --- customers ------------------------------------------------------------------------------------


def test_creating_a_customer_stores_its_ship_tos(api_as):
    response = api_as("admin").post("/api/v1/customers/", NEW_CUSTOMER, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["code"], body["region"], body["home_warehouse"], body["allow_partial_shipment"]) == (
        "C-NE-900", "NE", "NE-BOS", False
    )
    assert body["ship_tos"] == [{**NEW_CUSTOMER["ship_tos"][0], "default": False}]
    assert ShipTo.objects.filter(customer__code="C-NE-900").count() == 1


def test_patching_ship_tos_replaces_them_matched_by_code(api_as):
    client = api_as("admin")
    before = client.get("/api/v1/customers/C-NE-001/").json()
    assert [row["code"] for row in before["ship_tos"]] == ["DC2", "MAIN"]
    main = next(row for row in before["ship_tos"] if row["code"] == "MAIN")
    main_id = ShipTo.objects.get(customer__code="C-NE-001", code="MAIN").pk

    response = client.patch("/api/v1/customers/C-NE-001/", {"ship_tos": [
        {**main, "city": "Cambridge"},
        {"code": "DC3", "name": "Third DC", "address_line1": "3 Depot Rd", "city": "Worcester", "country": "US",
         "region": "NE"},
    ]}, format="json")

    assert response.status_code == 200, response.json()
    after = response.json()["ship_tos"]
    assert [(row["code"], row["city"]) for row in after] == [("DC3", "Worcester"), ("MAIN", "Cambridge")]
    assert ShipTo.objects.get(customer__code="C-NE-001", code="MAIN").pk == main_id
    assert response.json()["name"] == before["name"]


def test_a_home_warehouse_outside_the_customers_region_is_refused(api_as):
    response = api_as("admin").patch("/api/v1/customers/C-NE-001/", {"home_warehouse": "SE-ATL"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "home_warehouse_outside_region"
    assert "home_warehouse" in response.json()["detail"]
    assert Customer.objects.get(code="C-NE-001").home_warehouse.code == "NE-BOS"


def test_customers_filter_by_region_home_warehouse_and_search(api_as):
    client = api_as("admin")

    def codes(**params: str) -> list[str]:
        return [row["code"] for row in client.get("/api/v1/customers/", params).json()["results"]]

    assert codes(region="SE") == ["C-SE-001", "C-SE-002", "C-SE-003"]
    assert codes(home_warehouse="NE-NYC") == ["C-NE-002", "C-NE-003"]
    assert codes(search="rhein") == ["C-EU-002"]


def test_a_region_scoped_user_sees_only_the_customers_of_their_region(api_as):
    client = api_as("eu.operator")

    codes = [row["code"] for row in client.get("/api/v1/customers/").json()["results"]]

    assert codes == ["C-EU-001", "C-EU-002", "C-EU-003"]
    assert client.get("/api/v1/customers/C-NE-001/").status_code == 404


# --- suppliers and carriers -----------------------------------------------------------------------


def test_suppliers_are_created_patched_and_filtered(api_as):
    client = api_as("buyer")

    created = client.post("/api/v1/suppliers/", {"code": "TSTSUP", "name": "Test Supply", "currency": "EUR",
                                                  "lead_time_days": 12}, format="json")
    patched = client.patch("/api/v1/suppliers/TSTSUP/", {"payment_terms_days": 90}, format="json")

    assert created.status_code == 201, created.json()
    assert created.json() == {"code": "TSTSUP", "name": "Test Supply", "currency": "EUR", "lead_time_days": 12,
                              "payment_terms_days": 30, "email": "", "active": True}
    assert patched.status_code == 200, patched.json()
    assert Supplier.objects.get(code="TSTSUP").payment_terms_days == 90
    eur = [row["code"] for row in client.get("/api/v1/suppliers/", {"currency": "EUR"}).json()["results"]]
    assert eur == ["NORD", "RHEIN", "TSTSUP"]


def test_carriers_list_their_lanes_with_transit_days(api_as):
    body = api_as("ne.operator").get("/api/v1/carriers/UPS/").json()

    assert body["code"] == "UPS"
    lanes = {(lane["origin"], lane["destination"]): lane["transit_days"] for lane in body["lanes"]}
    assert lanes[("NE", "NE")] == 1
    assert lanes[("NE", "EU")] == 7
    assert len(lanes) == 9


def test_carrier_lanes_show_their_freight(api_as):
    body = api_as("ne.operator").get("/api/v1/carriers/UPS/").json()
    lane = next(lane for lane in body["lanes"] if (lane["origin"], lane["destination"]) == ("SE", "NE"))
    assert (lane["freight_per_unit"], lane["freight_per_kg"], lane["freight_currency"]) == ("0.3500", "0.1000", "USD")


# --- who may do what ------------------------------------------------------------------------------


def test_a_warehouse_operator_may_read_items_but_not_create_them(api_as):
    client = api_as("ne.operator")

    assert client.get("/api/v1/items/BEV-0001/").status_code == 200
    response = client.post("/api/v1/items/", NEW_ITEM, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Item.objects.filter(sku="TST-0001").exists()


def test_a_buyer_may_not_patch_a_customer(api_as):
    response = api_as("buyer").patch("/api/v1/customers/C-NE-001/", {"name": "Nope"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("path", ["/api/v1/items/", "/api/v1/customers/", "/api/v1/suppliers/",
                                  "/api/v1/carriers/", "/api/v1/uoms/"])
def test_master_data_needs_authentication(demo, path):
    response = APIClient().get(path)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- query counts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "expected_queries"), [
    ("/api/v1/items/", 3),  # count, items with their base unit, conversions with their unit
    ("/api/v1/customers/", 3),  # count, customers with region and home warehouse, ship-tos with region
    ("/api/v1/suppliers/", 2),
    ("/api/v1/carriers/", 3),  # count, carriers, lanes with their regions
])
def test_master_data_lists_cost_the_same_queries_for_one_row_or_fifty(api_as, django_assert_num_queries, path,
                                                                       expected_queries):
    client = api_as("admin")

    with django_assert_num_queries(expected_queries):
        one = client.get(path, {"page_size": 1})
    with django_assert_num_queries(expected_queries):
        fifty = client.get(path, {"page_size": 50})

    assert len(one.json()["results"]) == 1
    assert len(fifty.json()["results"]) > 1


def test_the_item_service_refuses_a_new_base_unit_without_conversions_for_it(demo):
    """The service guards this too: old factors counted the old base unit and would change meaning."""
    item = Item.objects.get(sku="BEV-0005")

    with pytest.raises(ValidationFailed) as refused:
        services.item_update(item=item, actor=None, base_uom=UnitOfMeasure.objects.get(code="KG"))

    assert "uoms" in refused.value.detail
    assert Item.objects.get(sku="BEV-0005").base_uom.code == "EA"
