"""The admin follows the house rules: every page is scoped, every save goes through a service."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from erp import services as platform
from inventory.models import Item
from orders.models import Customer
from warehouses import services as network
from warehouses.models import Location, Region, Warehouse

pytestmark = pytest.mark.django_db

MASTER_DATA_APPS = {"warehouses", "inventory", "orders", "procurement"}
MASTER_DATA_MODELS = {
    "warehouses.legalentity", "warehouses.region", "warehouses.warehouse", "warehouses.location",
    "warehouses.carrier", "inventory.unitofmeasure", "inventory.item", "orders.customer", "procurement.supplier",
}


def _url(model_label: str, view: str, *args: Any) -> str:
    app_label, model_name = model_label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


@pytest.fixture
def ne_admin(demo: Any) -> Any:
    """A staff Administrator whose scope is region NE."""
    user = get_user_model().objects.create_user("ne.admin", password="x-unused-x", is_staff=True)
    user.groups.add(Group.objects.get(name="Administrator"))
    platform.scope_grant(user=user, actor=None, regions=[Region.objects.get(code="NE")])
    return user


@pytest.fixture
def ne_admin_client(ne_admin: Any) -> Client:
    client = Client()
    client.force_login(ne_admin)
    return client


@pytest.fixture
def superuser_client(user: Any) -> Client:
    client = Client()
    client.force_login(user("admin"))
    return client


def _warehouse_form(**overrides: str) -> dict[str, str]:
    form = {
        "code": "NE-PVD", "name": "Providence", "region": str(Region.objects.get(code="NE").pk),
        "legal_entity": str(Warehouse.objects.get(code="NE-BOS").legal_entity_id),
        "timezone": "America/New_York", "address_line1": "", "city": "Providence", "postal_code": "",
        "country": "US", "active": "on",
    }
    form.update(overrides)
    return form


def test_every_master_data_model_is_registered_in_the_admin():
    registered = {f"{model._meta.app_label}.{model._meta.model_name}" for model in admin.site._registry}
    assert registered >= MASTER_DATA_MODELS


def test_a_region_scoped_administrator_sees_only_the_northeast_warehouses_on_the_changelist(ne_admin_client):
    response = ne_admin_client.get(_url("warehouses.warehouse", "changelist"))

    assert response.status_code == 200
    assert [w.code for w in response.context["cl"].result_list] == ["NE-BOS", "NE-NYC"]
    # Not even the sidebar filters may name what lies outside the scope.
    assert b"EU-RTM" not in response.content
    assert b"Europe" not in response.content


def test_a_region_scoped_administrator_sees_only_northeast_customers_on_the_changelist(ne_admin_client):
    response = ne_admin_client.get(_url("orders.customer", "changelist"))

    assert response.status_code == 200
    codes = [c.code for c in response.context["cl"].result_list]
    assert codes == ["C-NE-001", "C-NE-002", "C-NE-003", "C-NE-004"]
    assert b"C-EU-001" not in response.content
    assert b"SE-ATL" not in response.content


def test_no_master_data_changelist_shows_a_northeast_administrator_anything_of_another_region(ne_admin_client):
    for model in admin.site._registry:
        if model._meta.app_label not in MASTER_DATA_APPS:
            continue
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        response = ne_admin_client.get(_url(label, "changelist"))
        assert response.status_code == 200, label
        for foreign in (b"EU-RTM", b"EU-DUS", b"SE-ATL", b"SE-MIA", b"C-EU-0", b"C-SE-0", b"EU01", b"US02"):
            assert foreign not in response.content, (label, foreign)


def test_the_change_page_of_a_warehouse_outside_the_scope_is_not_shown(ne_admin_client):
    rotterdam = Warehouse.objects.get(code="EU-RTM")

    response = ne_admin_client.get(_url("warehouses.warehouse", "change", rotterdam.pk))

    assert response.status_code in (302, 404)
    assert b"Rotterdam" not in response.content


def test_posting_to_the_change_page_of_a_warehouse_outside_the_scope_changes_nothing(ne_admin_client):
    rotterdam = Warehouse.objects.get(code="EU-RTM")
    form = _warehouse_form(name="Hijacked", region=str(rotterdam.region_id),
                           legal_entity=str(rotterdam.legal_entity_id), timezone="Europe/Amsterdam")

    response = ne_admin_client.post(_url("warehouses.warehouse", "change", rotterdam.pk), form)

    assert response.status_code in (302, 404)
    assert Warehouse.objects.get(code="EU-RTM").name == "Rotterdam"


def test_the_location_add_form_offers_only_warehouses_and_parents_in_scope(ne_admin_client):
    response = ne_admin_client.get(_url("warehouses.location", "add"))

    assert response.status_code == 200
    fields = response.context["adminform"].form.fields
    assert sorted(w.code for w in fields["warehouse"].queryset) == ["NE-BOS", "NE-NYC"]
    parent_warehouses = {loc.warehouse.code for loc in fields["parent"].queryset}
    assert parent_warehouses == {"NE-BOS", "NE-NYC"}
    assert b"EU-RTM" not in response.content


def test_the_warehouse_add_form_offers_only_the_region_and_legal_entity_in_scope(ne_admin_client):
    response = ne_admin_client.get(_url("warehouses.warehouse", "add"))

    fields = response.context["adminform"].form.fields
    assert [r.code for r in fields["region"].queryset] == ["NE"]
    assert [e.code for e in fields["legal_entity"].queryset] == ["US01"]


def test_a_region_scoped_administrator_cannot_add_a_warehouse_to_another_region(ne_admin_client):
    europe = Region.objects.get(code="EU")

    response = ne_admin_client.post(_url("warehouses.warehouse", "add"), _warehouse_form(region=str(europe.pk)))

    assert response.status_code == 200
    assert "region" in response.context["adminform"].form.errors
    assert not Warehouse.objects.filter(code="NE-PVD").exists()


def test_the_superuser_sees_all_six_warehouses(superuser_client):
    response = superuser_client.get(_url("warehouses.warehouse", "changelist"))

    assert [w.code for w in response.context["cl"].result_list] == [
        "EU-DUS", "EU-RTM", "NE-BOS", "NE-NYC", "SE-ATL", "SE-MIA"]


def test_every_master_data_changelist_and_change_page_renders_for_the_superuser(superuser_client):
    from erp.demo import fulfil_demo_order, procurement_demo_case

    fulfil_demo_order()  # the demo's fulfilled order: a pick list, a shipment and a return to show
    procurement_demo_case()  # requisitions, purchase orders, receipts and a landed cost to show
    rendered = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in MASTER_DATA_APPS:
            continue
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        changelist = superuser_client.get(_url(label, "changelist"))
        assert changelist.status_code == 200, label
        first = model_admin.get_queryset(changelist.wsgi_request).order_by("pk").first()
        assert first is not None, f"the demo network has no {label}"
        change = superuser_client.get(_url(label, "change", first.pk))
        assert change.status_code == 200, label
        rendered.append(label)
    assert set(rendered) >= MASTER_DATA_MODELS


def test_the_item_changelist_runs_a_constant_number_of_queries_whatever_the_page_size(superuser_client):
    url = _url("inventory.item", "changelist")
    counts = {}
    for search, rows in (("BEV-000", 9), ("-00", 100)):
        with CaptureQueriesContext(connection) as queries:
            response = superuser_client.get(url, {"q": search})
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) == rows
        counts[rows] = len(queries)

    assert counts[9] == counts[100], counts


def test_the_item_change_page_shows_its_unit_conversions_in_a_constant_number_of_queries(superuser_client):
    counts = []
    for sku in ("BEV-0001", "CLN-0001"):
        item = Item.objects.get(sku=sku)
        with CaptureQueriesContext(connection) as queries:
            response = superuser_client.get(_url("inventory.item", "change", item.pk))
        assert response.status_code == 200
        assert b"Unit conversions (read-only here" in response.content
        assert str(item.uoms.get(uom__code="CS").factor).encode() in response.content
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_adding_a_warehouse_through_the_admin_creates_it_through_the_service(ne_admin_client, ne_admin,
                                                                            monkeypatch):
    calls = []
    real_create = network.warehouse_create

    def recording_create(**kwargs: Any) -> Warehouse:
        calls.append(kwargs)
        return real_create(**kwargs)

    monkeypatch.setattr(network, "warehouse_create", recording_create)

    response = ne_admin_client.post(_url("warehouses.warehouse", "add"), _warehouse_form())

    assert response.status_code == 302
    created = Warehouse.objects.get(code="NE-PVD")
    assert (created.name, created.region.code, created.timezone) == ("Providence", "NE", "America/New_York")
    assert len(calls) == 1 and calls[0]["actor"] == ne_admin
    assert response["Location"] == _url("warehouses.warehouse", "changelist")


def test_an_invalid_time_zone_is_a_form_error_and_creates_nothing(ne_admin_client):
    response = ne_admin_client.post(_url("warehouses.warehouse", "add"), _warehouse_form(timezone="Mars/Olympus"))

    assert response.status_code == 200
    assert "timezone" in response.context["adminform"].form.errors
    assert not Warehouse.objects.filter(code="NE-PVD").exists()


def test_changing_a_warehouse_through_the_admin_goes_through_the_service(ne_admin_client, monkeypatch):
    boston = Warehouse.objects.get(code="NE-BOS")
    calls = []
    real_update = network.warehouse_update

    def recording_update(**kwargs: Any) -> Warehouse:
        calls.append(kwargs)
        return real_update(**kwargs)

    monkeypatch.setattr(network, "warehouse_update", recording_update)
    form = _warehouse_form(name="Boston Seaport", legal_entity=str(boston.legal_entity_id))
    del form["code"]

    response = ne_admin_client.post(_url("warehouses.warehouse", "change", boston.pk), form)

    assert response.status_code == 302
    assert Warehouse.objects.get(pk=boston.pk).name == "Boston Seaport"
    assert Warehouse.objects.get(pk=boston.pk).code == "NE-BOS"
    assert len(calls) == 1


def test_a_service_refusal_is_shown_on_the_form_field_and_saves_nothing(superuser_client):
    northeast = Region.objects.get(code="NE")
    rotterdam = Warehouse.objects.get(code="EU-RTM")
    form = {"code": "C-NE-099", "name": "Misrouted Foods", "region": str(northeast.pk),
            "home_warehouse": str(rotterdam.pk), "allow_partial_shipment": "on", "email": "", "active": "on",
            "ship_tos-TOTAL_FORMS": "0", "ship_tos-INITIAL_FORMS": "0"}

    response = superuser_client.post(_url("orders.customer", "add"), form)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "EU-RTM is not in region NE" in " ".join(errors["home_warehouse"])
    assert not Customer.objects.filter(code="C-NE-099").exists()


def test_a_location_under_a_parent_of_another_warehouse_is_refused_on_the_form(superuser_client):
    boston = Warehouse.objects.get(code="NE-BOS")
    rotterdam_storage = Location.objects.get(warehouse__code="EU-RTM", code="STOR")
    form = {"warehouse": str(boston.pk), "code": "A-09-01", "parent": str(rotterdam_storage.pk),
            "kind": "storage", "name": "", "active": "on"}

    response = superuser_client.post(_url("warehouses.location", "add"), form)

    assert response.status_code == 200
    assert "parent" in response.context["adminform"].form.errors
    assert not Location.objects.filter(warehouse=boston, code="A-09-01").exists()


def test_adding_a_location_through_the_admin_sets_its_path_in_the_tree(ne_admin_client):
    boston = Warehouse.objects.get(code="NE-BOS")
    storage = Location.objects.get(warehouse=boston, code="STOR")
    form = {"warehouse": str(boston.pk), "code": "A-09-01", "parent": str(storage.pk),
            "kind": "storage", "name": "Aisle 9", "active": "on"}

    response = ne_admin_client.post(_url("warehouses.location", "add"), form)

    assert response.status_code == 302
    assert Location.objects.get(warehouse=boston, code="A-09-01").path == "STOR/A-09-01"


def test_nothing_can_be_deleted_from_the_master_data_admin(superuser_client):
    boston = Warehouse.objects.get(code="NE-BOS")

    response = superuser_client.post(_url("warehouses.warehouse", "delete", boston.pk), {"post": "yes"})

    assert response.status_code == 403
    assert Warehouse.objects.filter(pk=boston.pk).exists()
