"""A customer's default ship-to address (issue 10, point 3): where an order goes when it names none.

At most one default per customer (a partial unique index); the demo marks each customer's ``MAIN``; the customers
API, the CSV layout and the admin carry the flag; setting one default takes it off the other in one service; the
order entry screen pre-selects the default. The order API's use of it is in ``test_sales_orders_api``.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import Client

from erp.csv_exchange import export_csv, import_csv
from erp.exceptions import ValidationFailed
from orders import rules
from orders import services as order_services
from orders.models import Customer, ShipTo
from tests.test_csv_exchange import rows_of, to_csv

pytestmark = pytest.mark.django_db

CUSTOMER = "/api/v1/customers/{}/"
NEW, SHIP_TOS = "/orders/new/", "/orders/new/ship-tos/"


def _defaults(code: str) -> list[str]:
    return list(ShipTo.objects.filter(customer__code=code, default=True).values_list("code", flat=True))


def _as_input(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**row, **changes}


def _service_browser() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username="ne.service"))
    return client


# --- the model and the service -------------------------------------------------------------------------------


def test_the_demo_marks_each_customers_main_address_as_its_default(demo):
    customers = Customer.objects.filter(ship_tos__code="MAIN").distinct()

    assert customers.exists()
    assert set(ShipTo.objects.filter(default=True).values_list("customer_id", "code")) == {
        (customer.pk, "MAIN") for customer in customers}


def test_the_database_refuses_a_second_default_for_the_same_customer(demo):
    dc2 = ShipTo.objects.get(customer__code="C-NE-001", code="DC2")
    dc2.default = True

    with pytest.raises(IntegrityError, match="shipto_one_default_per_customer"), transaction.atomic():
        dc2.save()


def test_another_customer_may_have_its_own_default(demo):
    assert _defaults("C-NE-001") == ["MAIN"] and _defaults("C-NE-002") == ["MAIN"]


def test_making_an_address_the_default_takes_the_flag_off_the_other(demo):
    dc2 = ShipTo.objects.get(customer__code="C-NE-001", code="DC2")

    order_services.ship_to_make_default(ship_to=dc2, actor=None)

    assert _defaults("C-NE-001") == ["DC2"]
    order_services.ship_to_make_default(ship_to=dc2, actor=None)  # again: nothing changes
    assert _defaults("C-NE-001") == ["DC2"]


@pytest.mark.parametrize(("rows", "current", "expected"), [
    ([{"code": "A"}, {"code": "B", "default": True}], "A", "B"),
    ([{"code": "A"}, {"code": "B"}], "A", "A"),  # rows without the flag keep the default
    ([{"code": "A", "default": False}, {"code": "B"}], "A", None),
    ([{"code": "B"}], "A", None),  # the default address is removed
    ([{"code": "A"}], None, None),  # a new address is not the default by itself
])
def test_the_default_after_a_replacement_of_the_addresses(rows, current, expected):
    assert rules.default_ship_to_after(rows, current) == expected


def test_the_data_migration_marks_main_or_else_the_first_address_by_code_and_reverses(demo):
    migration = importlib.import_module("orders.migrations.0005_shipto_default_data")
    other = Customer.objects.get(code="C-NE-002")
    ne = other.region
    order_services.customer_update(customer=other, actor=None, ship_tos=[
        {"code": code, "name": code, "address_line1": "1 St", "city": "Boston", "postal_code": "", "country": "US",
         "region": ne} for code in ("ZZ", "DC9", "DC2")])
    migration.clear_defaults(apps, None)
    assert not ShipTo.objects.filter(default=True).exists()

    migration.mark_defaults(apps, None)

    assert _defaults("C-NE-001") == ["MAIN"] and _defaults("C-NE-002") == ["DC2"]
    migration.mark_defaults(apps, None)  # a second run changes nothing
    assert _defaults("C-NE-001") == ["MAIN"] and _defaults("C-NE-002") == ["DC2"]


# --- the customers API ---------------------------------------------------------------------------------------


def test_the_customers_api_shows_which_address_is_the_default(api_as):
    body = api_as("admin").get(CUSTOMER.format("C-NE-001")).json()

    assert [(row["code"], row["default"]) for row in body["ship_tos"]] == [("DC2", False), ("MAIN", True)]


def test_setting_a_default_through_the_api_takes_the_flag_off_the_other(api_as):
    client = api_as("admin")
    rows = client.get(CUSTOMER.format("C-NE-001")).json()["ship_tos"]

    response = client.patch(CUSTOMER.format("C-NE-001"), {"ship_tos": [
        _as_input(row, default=True) if row["code"] == "DC2" else {k: v for k, v in row.items() if k != "default"}
        for row in rows]}, format="json")

    assert response.status_code == 200, response.json()
    assert [(row["code"], row["default"]) for row in response.json()["ship_tos"]] == [("DC2", True), ("MAIN", False)]
    assert _defaults("C-NE-001") == ["DC2"]


def test_ship_tos_sent_without_the_flag_keep_the_default(api_as):
    client = api_as("admin")
    rows = client.get(CUSTOMER.format("C-NE-001")).json()["ship_tos"]

    response = client.patch(CUSTOMER.format("C-NE-001"), {"ship_tos": [
        {k: v for k, v in row.items() if k != "default"} for row in rows]}, format="json")

    assert response.status_code == 200, response.json()
    assert _defaults("C-NE-001") == ["MAIN"]


def test_two_defaults_in_one_list_are_refused_and_change_nothing(api_as):
    client = api_as("admin")
    rows = client.get(CUSTOMER.format("C-NE-001")).json()["ship_tos"]

    response = client.patch(CUSTOMER.format("C-NE-001"), {"ship_tos": [_as_input(row, default=True) for row in rows]},
                            format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and "ship_tos" in response.json()["detail"]
    assert _defaults("C-NE-001") == ["MAIN"]


def test_the_service_refuses_two_defaults_too(demo):
    customer = Customer.objects.get(code="C-NE-001")
    rows = [{"code": s.code, "name": s.name, "address_line1": s.address_line1, "city": s.city,
             "postal_code": s.postal_code, "country": s.country, "region": s.region, "default": True}
            for s in customer.ship_tos.all()]

    with pytest.raises(ValidationFailed):
        order_services.customer_update(customer=customer, actor=None, ship_tos=rows)
    assert _defaults("C-NE-001") == ["MAIN"]


# --- CSV -----------------------------------------------------------------------------------------------------


def test_csv_export_writes_the_flag_and_an_import_moves_the_default(user):
    admin = user("admin")
    text = export_csv("customers", admin)
    row = next(r for r in rows_of(text) if r["code"] == "C-NE-001")
    assert row["ship_tos"].startswith("DC2|") and "|NE|false;MAIN|" in row["ship_tos"]
    assert row["ship_tos"].endswith("|NE|true")
    assert {r.action for r in import_csv("customers", text, admin).rows} == {"unchanged"}

    row["ship_tos"] = row["ship_tos"].replace("|NE|false", "|NE|yes").replace("|NE|true", "|NE|no")
    report = import_csv("customers", to_csv([row]), admin)

    assert report.ok and [r.action for r in report.rows] == ["update"]
    assert _defaults("C-NE-001") == ["DC2"]


def test_a_csv_address_without_the_flag_keeps_the_default_and_two_defaults_are_refused(user):
    admin = user("admin")
    row = next(r for r in rows_of(export_csv("customers", admin)) if r["code"] == "C-NE-001")
    seven_parts = ";".join(entry.rsplit("|", 1)[0] for entry in row["ship_tos"].split(";"))

    assert {r.action for r in import_csv("customers", to_csv([{**row, "ship_tos": seven_parts}]), admin).rows} == {
        "unchanged"}
    report = import_csv("customers", to_csv([{**row, "ship_tos": row["ship_tos"].replace("|false", "|true")}]), admin)
    assert not report.ok and "Only one ship-to address can be the default" in str(report.rows[0].errors)
    assert _defaults("C-NE-001") == ["MAIN"]


# --- the admin and the order entry screen --------------------------------------------------------------------


def test_the_admin_shows_the_default_flag_of_each_address(user):
    client = Client()
    client.force_login(user("admin"))
    customer = Customer.objects.get(code="C-NE-001")

    html = client.get(f"/admin/orders/customer/{customer.pk}/change/").content.decode()

    assert "field-default" in html


def test_the_entry_screen_preselects_the_customers_default_address(demo):
    dc2 = ShipTo.objects.get(customer__code="C-NE-001", code="DC2")
    order_services.ship_to_make_default(ship_to=dc2, actor=None)
    client = _service_browser()

    html = client.get(NEW, {"customer": "C-NE-001"}).content.decode()

    assert re.search(r'<option value="DC2" selected>DC2 · [^<]*\(default\)</option>', html), html
    assert not re.search(r'<option value="MAIN" selected', html)


def test_switching_customer_with_htmx_preselects_its_default_address(demo):
    client = _service_browser()

    html = client.get(SHIP_TOS, {"customer": "C-NE-002"}, HTTP_HX_REQUEST="true").content.decode()

    assert re.search(r'<option value="MAIN" selected>', html), html
    assert not re.search(r'<option value="DC2" selected', html)


def test_a_customer_switched_without_javascript_shows_its_own_default(demo):
    client = _service_browser()
    post = {"customer": "C-NE-002", "ship_to": "NOT-THEIRS", "requested_date": "", "external_ref": "",
            "action": "add_line", "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0"}

    html = client.post(NEW, post).content.decode()

    assert re.search(r'<option value="MAIN" selected>', html), html
