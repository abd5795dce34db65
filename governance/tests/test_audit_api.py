"""``audit-events/`` and the audit screens: read-only, within the reader's scope, in constant queries."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.models import AuditEvent
from inventory import services as inventory_services
from inventory.models import Item
from warehouses import services as warehouse_services
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db

LIST = "api:audit-event-list"


def _rename(code: str, name: str, actor) -> Warehouse:
    return warehouse_services.warehouse_update(warehouse=Warehouse.objects.get(code=code), name=name, actor=actor)


def _latest(table: str, row_id: object) -> AuditEvent:
    return AuditEvent.objects.filter(table_name=table, row_id=str(row_id)).latest("id")


def _assert_not_found(response) -> None:
    assert response.status_code == 404, response.content[:300]
    assert response.json()["code"] == "not_found"


def test_an_event_reads_with_its_table_model_actor_request_and_changes(api_as, user):
    boston = _rename("NE-BOS", "Boston Harbour", user("owner"))
    event = _latest("warehouses_warehouse", boston.pk)

    body = api_as("admin").get(reverse("api:audit-event-detail", args=[event.pk])).json()

    assert body["table"] == "warehouses_warehouse" and body["model"] == "warehouses.warehouse"
    assert body["row_id"] == str(boston.pk) and body["operation"] == "UPDATE"
    assert body["actor"] == "owner" and body["changes"] == {"name": ["Boston", "Boston Harbour"]}
    assert set(body) == {"id", "occurred_at", "table", "model", "row_id", "operation", "actor", "request_id",
                         "changes"}


def test_an_event_of_a_warehouse_outside_the_scope_does_not_exist_for_the_reader(api_as, user):
    rotterdam = _rename("EU-RTM", "Rotterdam Port", user("admin"))
    boston = _rename("NE-BOS", "Boston Harbour", user("admin"))
    eu_event, ne_event = _latest("warehouses_warehouse", rotterdam.pk), _latest("warehouses_warehouse", boston.pk)
    ne = api_as("ne.operator")

    _assert_not_found(ne.get(reverse("api:audit-event-detail", args=[eu_event.pk])))
    assert ne.get(reverse("api:audit-event-detail", args=[ne_event.pk])).status_code == 200
    assert api_as("eu.operator").get(reverse("api:audit-event-detail", args=[eu_event.pk])).status_code == 200
    assert ne.get(reverse(LIST), {"warehouse": "EU-RTM"}).json()["count"] == 0


def test_enterprise_master_data_history_is_visible_to_every_scope(api_as, user):
    item = Item.objects.get(sku="BEV-0001")
    inventory_services.item_update(item=item, name="Sparkling water 1L", actor=user("admin"))

    for reader in ("ne.operator", "eu.operator"):
        rows = api_as(reader).get(reverse(LIST), {"model": "inventory.item", "row_id": item.pk}).json()["results"]
        assert rows[0]["changes"]["name"][1] == "Sparkling water 1L", reader


def test_user_and_grant_changes_are_shown_to_enterprise_readers_only(api_as, user):
    operator = user("eu.operator")
    operator.first_name = "Eva"
    operator.save()
    event = _latest("auth_user", operator.pk)

    _assert_not_found(api_as("ne.operator").get(reverse("api:audit-event-detail", args=[event.pk])))
    assert api_as("eu.operator").get(reverse(LIST), {"table": "auth_user"}).json()["count"] == 0
    assert api_as("admin").get(reverse("api:audit-event-detail", args=[event.pk])).status_code == 200


def test_the_history_of_one_object_filters_by_model_or_table_and_row(api_as, user):
    boston = _rename("NE-BOS", "Boston One", user("admin"))
    _rename("NE-BOS", "Boston Two", user("owner"))
    _rename("NE-NYC", "New York Two", user("owner"))
    client = api_as("ne.operator")

    by_model = client.get(reverse(LIST), {"model": "warehouses.warehouse", "row_id": boston.pk}).json()
    by_table = client.get(reverse(LIST), {"table": "warehouses_warehouse", "row_id": boston.pk}).json()
    by_actor = client.get(reverse(LIST), {"model": "warehouses.warehouse", "actor": "owner"}).json()
    unknown = client.get(reverse(LIST), {"model": "nothing.here"}).json()

    assert by_model == by_table
    assert [r["operation"] for r in by_model["results"]] == ["UPDATE", "UPDATE", "INSERT"]  # newest first
    assert by_model["results"][0]["changes"]["name"] == ["Boston One", "Boston Two"]
    assert {r["row_id"] for r in by_actor["results"]} == {str(boston.pk), str(Warehouse.objects.get(code="NE-NYC").pk)}
    assert unknown["count"] == 0


def test_since_and_request_id_narrow_the_list(api_as, user):
    start = timezone.now()
    api_as("admin").patch(reverse("api:warehouse-detail", args=["NE-BOS"]), {"name": "Boston Later"},
                          format="json", headers={"X-Request-ID": "req-since-1"})

    recent = api_as("admin").get(reverse(LIST), {"since": start.isoformat()}).json()
    by_request = api_as("admin").get(reverse(LIST), {"request_id": "req-since-1"}).json()

    assert recent["count"] == 1 and by_request["count"] == 1
    assert recent["results"][0]["request_id"] == "req-since-1"
    bad = api_as("admin").get(reverse(LIST), {"since": "not a time"})
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_offers_no_way_to_write_an_audit_event(api_as, method):
    event = AuditEvent.objects.latest("id")
    before = AuditEvent.objects.count()
    client = api_as("admin")

    on_list = getattr(client, method)(reverse(LIST), {"request_id": "forged"}, format="json")
    on_detail = getattr(client, method)(reverse("api:audit-event-detail", args=[event.pk]), {"request_id": "x"},
                                        format="json")

    assert on_list.status_code == 405 and on_detail.status_code == 405
    assert AuditEvent.objects.count() == before
    assert AuditEvent.objects.get(pk=event.pk).request_id == event.request_id


def test_listing_events_costs_the_same_queries_for_one_row_or_many(api_as, user, django_assert_num_queries):
    admin = user("admin")
    client = api_as("ne.operator")
    _rename("NE-BOS", "Boston 0", admin)
    url = reverse(LIST)
    params = {"table": "warehouses_warehouse", "operation": "UPDATE", "page_size": 500}
    client.get(url, params)  # warm the scope and permission caches of the client's user

    with django_assert_num_queries(2) as one:  # the count and the page, actors joined in
        assert client.get(url, params).json()["count"] == 1
    for n in range(1, 15):
        _rename("NE-BOS" if n % 2 else "NE-NYC", f"Boston {n}", admin if n % 3 else user("owner"))
    with django_assert_num_queries(len(one.captured_queries)):
        assert client.get(url, params).json()["count"] == 15


# --- screens ------------------------------------------------------------------------------------------


def test_the_audit_screen_lists_only_the_readers_scope(client, user):
    _rename("EU-RTM", "Rotterdam Secret", user("admin"))
    _rename("NE-BOS", "Boston Visible", user("admin"))
    client.force_login(user("ne.operator"))

    page = client.get(reverse("governance:audit-list"), {"q": "warehouses_warehouse"})

    assert page.status_code == 200
    assert "Boston Visible" in page.content.decode()
    assert "Rotterdam Secret" not in page.content.decode()


def test_the_audit_screen_finds_one_objects_history_by_table_and_id(client, user):
    boston = _rename("NE-BOS", "Boston Visible", user("admin"))
    _rename("NE-NYC", "New York Visible", user("admin"))
    client.force_login(user("ne.operator"))

    page = client.get(reverse("governance:audit-list"), {"q": f"warehouses_warehouse#{boston.pk}"},
                      headers={"HX-Request": "true"})

    assert "Boston Visible" in page.content.decode() and "New York Visible" not in page.content.decode()


def test_the_audit_screen_and_nav_entry_need_the_audit_view_permission(client, user, django_user_model):
    outsider = django_user_model.objects.create_user("no.roles", password="x")
    client.force_login(outsider)
    assert client.get(reverse("governance:audit-list")).status_code == 403

    client.force_login(user("planner"))
    home = client.get(reverse("home")).content.decode()
    assert reverse("governance:audit-list") in home


def test_the_warehouse_screen_shows_its_history_to_readers_in_scope(client, user):
    _rename("NE-BOS", "Boston Harbour", user("owner"))
    client.force_login(user("ne.operator"))

    page = client.get(reverse("warehouses:warehouse-detail", args=["NE-BOS"])).content.decode()

    assert "History" in page and "Boston Harbour" in page and "by owner" in page


@pytest.mark.parametrize(("url_name", "key"), [("inventory:item-detail", "BEV-0001"),
                                               ("orders:customer-detail", "C-NE-001"),
                                               ("procurement:supplier-detail", "ACME")])
def test_master_data_screens_carry_the_history_panel(client, user, url_name, key):
    client.force_login(user("ne.operator"))

    page = client.get(reverse(url_name, args=[key]))

    assert page.status_code == 200
    assert 'class="card audit-history"' in page.content.decode()


def test_the_history_names_related_objects_by_code_and_fields_by_name(client, user):
    from orders.models import Customer
    from orders.services import customer_update

    customer = Customer.objects.get(code="C-NE-001")
    before = customer.home_warehouse.code
    after = "NE-NYC" if before != "NE-NYC" else "NE-BOS"
    customer_update(customer=customer, actor=user("owner"), home_warehouse=Warehouse.objects.get(code=after))
    client.force_login(user("ne.service"))

    page = client.get(reverse("orders:customer-detail", args=["C-NE-001"])).content.decode()

    assert f"Home warehouse</span>: <del>{before}</del> → <ins>{after}</ins>" in page
    assert "home_warehouse_id" not in page.replace('title="home_warehouse_id"', "")


def test_a_related_object_outside_the_scope_is_not_named_in_the_history(user, django_user_model):
    from erp import services as platform
    from governance.audit import describe_changes
    from orders.models import Customer
    from orders.services import customer_update

    customer = Customer.objects.get(code="C-NE-001")
    before = customer.home_warehouse.code
    after = "NE-NYC" if before != "NE-NYC" else "NE-BOS"
    customer_update(customer=customer, actor=user("owner"), home_warehouse=Warehouse.objects.get(code=after))
    boston_only = django_user_model.objects.create_user("bos.only", password="x-unused-x")
    platform.scope_grant(user=boston_only, actor=None, warehouses=[Warehouse.objects.get(code=before)])
    event = _latest("orders_customer", customer.pk)

    shown = {change.field: change for change in describe_changes([event], boston_only)[event.pk]}

    assert (shown["home warehouse"].old, shown["home warehouse"].new) == (before, "(outside your scope)")


def test_the_audit_screen_filters_by_record_type_user_and_date(client, user):
    import datetime as dt

    from django.utils import timezone

    _rename("NE-BOS", "Boston Filtered", user("owner"))
    client.force_login(user("planner"))
    url = reverse("governance:audit-list")
    today = timezone.now().date()

    by_model = client.get(url, {"model": "warehouses_warehouse"}).content.decode()
    rows = by_model[by_model.index('id="rows"'):by_model.index("</tbody>")]
    assert "Boston Filtered" in rows and "orders.customer" not in rows
    assert 'value="warehouses_warehouse" selected' in by_model
    def shows(**params: str) -> bool:
        return "Boston Filtered" in client.get(url, {"model": "warehouses_warehouse", **params}).content.decode()

    assert shows(actor="OWNER") and not shows(actor="planner")
    assert not shows(**{"from": (today + dt.timedelta(days=1)).isoformat()})
    assert shows(**{"from": today.isoformat(), "to": today.isoformat()})
    bad = client.get(url, {"from": "yesterday", "model": "no_such_table"})
    assert bad.status_code == 200 and "Dates are typed as YYYY-MM-DD" in bad.content.decode()


def test_the_audit_screen_filters_by_document_number_or_code_in_any_case_within_scope(client, user):
    _rename("NE-BOS", "Boston By Document", user("owner"))
    _rename("EU-RTM", "Rotterdam By Document", user("owner"))
    url = reverse("governance:audit-list")

    client.force_login(user("planner"))
    page = client.get(url, {"document": "ne-bos"}).content.decode()
    rows = page[page.index('id="rows"'):page.index("</tbody>")]
    assert "Boston By Document" in rows and "Rotterdam By Document" not in rows
    assert 'value="ne-bos"' in page
    nothing = client.get(url, {"document": "NO-SUCH-DOC"}).content.decode()
    assert "Boston By Document" not in nothing and "No results" in nothing

    client.force_login(user("ne.operator"))  # Rotterdam is outside the NE operator's scope
    outside = client.get(url, {"document": "EU-RTM"}).content.decode()
    assert "Rotterdam By Document" not in outside and "No results" in outside
